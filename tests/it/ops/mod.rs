//! The operational tools: verify, backup/restore, cleanup, salvage.

mod backup;
mod cleanup;
mod consolidate;
mod encrypted;
mod migrate;
mod open_migrates;
mod perms;
mod salvage;
mod verify;

use aragora_db::config::Config;
use aragora_db::schema::share_links::ShareLink;
use aragora_db::store::elo::{EloStore, MatchInput};
use aragora_db::store::{
    AuditEvent, AuditLog, OrganizationStore, ShareLinkStore, TokenBlacklist, UsageStore, UserStore,
};
use aragora_db::table::raw_def;
use std::path::Path;
use std::process::Output;

/// Fills a data directory through the stores (users, organizations, audit,
/// usage, share links, revoked tokens, ELO). Every handle is dropped on return.
pub fn populate(cfg: &Config, n: usize) {
    let users = UserStore::open(cfg).unwrap();
    let orgs = OrganizationStore::open(cfg).unwrap();
    let audit = AuditLog::open(cfg).unwrap();
    let usage = UsageStore::open(cfg).unwrap();
    let links = ShareLinkStore::open(cfg).unwrap();
    let tokens = TokenBlacklist::open(cfg).unwrap();
    let elo = EloStore::open(cfg).unwrap();
    let owner = users
        .create_user("owner@x.io", "h", "", "Owner", None, "member")
        .unwrap();
    let org = orgs
        .create_organization("Engines", &owner.id, None, "free")
        .unwrap();
    for i in 0..n {
        users
            .create_user(&format!("u{i}@x.io"), "h", "", "U", Some(&org.id), "member")
            .unwrap();
        audit
            .log_event(AuditEvent {
                action: format!("act.{}", i % 3),
                user_id: Some(owner.id.clone()),
                org_id: Some(org.id.clone()),
                timestamp: Some(format!("2026-01-{:02}T00:00:00+00:00", 1 + i % 28)),
                ..AuditEvent::default()
            })
            .unwrap();
        usage
            .record_usage_event(&org.id, "debate", 1 + i as i64, None)
            .unwrap();
        links
            .save(ShareLink {
                debate_id: format!("d{i}"),
                visibility: "public".into(),
                created_at: 1.0e9,
                expires_at: Some(if i % 2 == 0 { 1.0 } else { 4.0e9 }),
                ..ShareLink::default()
            })
            .unwrap();
        tokens
            .revoke(&format!("jti{i}"), if i % 2 == 0 { 1.0 } else { 4.0e9 })
            .unwrap();
        elo.record_match(&MatchInput::head_to_head(
            &format!("m{i}"),
            "alice",
            "bob",
            i % 2 == 0,
            None,
        ))
        .unwrap();
    }
}

/// Edits one redb table of a closed file directly, behind the stores' back.
pub fn raw_edit(path: &Path, table: &str, f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>)) {
    let raw = redb::Database::open(path).unwrap();
    let txn = raw.begin_write().unwrap();
    {
        let mut t = txn.open_table(raw_def(table)).unwrap();
        f(&mut t);
    }
    txn.commit().unwrap();
}

/// Runs the binary with a clean environment.
pub fn cli(args: &[&str]) -> Output {
    cli_env(args, &[])
}

pub use crate::common::cli_env;
