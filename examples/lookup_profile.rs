//! Loops one `UserStore` lookup, for instruction counts under callgrind
//! (BENCHMARKS.md, "Lookups: where the time goes"):
//!
//! ```text
//! cargo build --release --example lookup_profile
//! valgrind --tool=callgrind target/release/examples/lookup_profile id 100000
//! ```
//!
//! Modes: `id`, `email`, `org`; the second argument is the number of
//! lookups (0 measures the setup alone, to subtract). Same dataset shape as
//! benches/users.rs (20,000 users in 100 organizations).

use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::schema::users::{Organization, User};
use aragora_db::store::UserStore;
use aragora_db::table::Page;
use std::hint::black_box;

fn user(i: usize, orgs: usize) -> User {
    User {
        id: format!(
            "{:08x}-0000-4000-8000-{:012x}",
            i.wrapping_mul(2654435761) as u32,
            i
        ),
        email: format!("user{i}@example.com"),
        password_hash: "bcrypt:$2b$12$abcdefghijklmnopqrstuv".into(),
        name: Some(format!("User {i}")),
        role: Some("member".into()),
        created_at: "2026-01-05T10:00:00.123456+00:00".into(),
        updated_at: "2026-01-05T10:00:00.123456+00:00".into(),
        is_active: Some(true),
        preferences: Some("{}".into()),
        token_version: Some(1),
        org_id: Some(format!("org-{:04}", i % orgs)),
        email_verified: Some(false),
        failed_login_count: Some(0),
        mfa_enabled: Some(false),
        ..User::default()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "id".into());
    let n: usize = args.next().map_or(100_000, |s| s.parse().unwrap());
    let (n_users, n_orgs) = (20_000, 100);
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(dir.path().join("ours"));
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let users: Vec<User> = (0..n_users).map(|i| user(i, n_orgs)).collect();
    let orgs: Vec<Organization> = (0..n_orgs)
        .map(|o| Organization {
            id: format!("org-{o:04}"),
            name: format!("Org {o}"),
            slug: format!("org-{o}"),
            created_at: "2026-01-01".into(),
            updated_at: "2026-01-01".into(),
            ..Default::default()
        })
        .collect();
    db.write(|w| {
        w.insert_many(&orgs)?;
        w.insert_many(&users)
    })
    .unwrap();
    let store = UserStore::from_db(db, &cfg);
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let emails: Vec<String> = users.iter().map(|u| u.email.clone()).collect();
    let org_ids: Vec<String> = orgs.iter().map(|o| o.id.clone()).collect();
    let mut i = 0usize;
    for _ in 0..n {
        i = (i + 7919) % n_users;
        match mode.as_str() {
            "id" => {
                black_box(store.get_user_by_id(&ids[i]).unwrap().unwrap());
            }
            "email" => {
                black_box(store.get_user_by_email(&emails[i]).unwrap().unwrap());
            }
            "org" => {
                let o = &org_ids[i % n_orgs];
                black_box(store.list_users_by_org(o, Page::default()).unwrap());
            }
            other => panic!("unknown mode {other}"),
        }
    }
}
