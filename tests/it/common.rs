//! Shared helpers.

use aragora_db::config::Config;
use aragora_db::schema::users::{Organization, User};
use tempfile::TempDir;

/// A fresh data directory and its configuration.
pub fn data_dir() -> (TempDir, Config) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Config::for_dir(dir.path());
    (dir, cfg)
}

pub fn user(id: &str, email: &str, org: Option<&str>) -> User {
    User {
        id: id.into(),
        email: email.into(),
        password_hash: "bcrypt:x".into(),
        password_salt: String::new(),
        org_id: org.map(Into::into),
        created_at: "2026-01-01T00:00:00+00:00".into(),
        updated_at: "2026-01-01T00:00:00+00:00".into(),
        ..User::default()
    }
}

pub fn org(id: &str, slug: &str, owner: Option<&str>) -> Organization {
    Organization {
        id: id.into(),
        name: format!("Org {id}"),
        slug: slug.into(),
        owner_id: owner.map(Into::into),
        created_at: "2026-01-01T00:00:00+00:00".into(),
        updated_at: "2026-01-01T00:00:00+00:00".into(),
        ..Organization::default()
    }
}
