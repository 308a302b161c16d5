//! `TokenBlacklist`: revoked JWT ids (the original's `SQLiteBlacklist`,
//! `aragora/storage/token_blacklist_store.py`).
//!
//! A token id stays revoked until the token itself would have expired; after
//! that `is_revoked` is false and `cleanup_expired` removes it. Times are
//! Unix epoch seconds (REAL), as in the original.

use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::Result;
use crate::schema::tokens::BlacklistedToken;
use crate::table::KeyRange;
use crate::table::Read;
use std::ops::Bound;

/// The revoked-token store.
#[derive(Debug, Clone)]
pub struct TokenBlacklist {
    db: Database,
}

impl TokenBlacklist {
    /// Opens `token_blacklist.redb`.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(TokenBlacklist {
            db: Database::open(config, DbTarget::Store(Store::TokenBlacklist))?,
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Revokes a token id until `expires_at` (replacing an earlier entry).
    pub fn revoke(&self, jti: &str, expires_at: f64) -> Result<()> {
        let now = self.db.now_epoch();
        self.db.op(
            "blacklist_add",
            || format!("jti={jti}"),
            || {
                let row = BlacklistedToken {
                    jti: jti.into(),
                    expires_at,
                    revoked_at: now,
                    extra: Default::default(),
                };
                self.db.write_retrying(|w| w.upsert(&row).map(drop))
            },
        )
    }

    /// Whether a token id is revoked now.
    ///
    /// True only while
    /// the entry has not expired.
    pub fn is_revoked(&self, jti: &str) -> Result<bool> {
        self.db.op("TokenBlacklist.is_revoked", String::new, || {
            let now = self.db.now_epoch();
            let row: Option<BlacklistedToken> = self.db.read()?.get(jti)?;
            Ok(row.is_some_and(|r| r.expires_at > now))
        })
    }

    /// Removes entries that expired before `now`; returns how many.
    pub fn cleanup_expired(&self) -> Result<u64> {
        let now = self.db.now_epoch();
        self.db.write_op("blacklist_cleanup", String::new, |w| {
            let range = KeyRange::between(Bound::Unbounded, Bound::Excluded(now));
            w.delete_in(BlacklistedToken::idx_blacklist_expires, &range)
        })
    }

    /// Number of entries (expired or not).
    pub fn size(&self) -> Result<u64> {
        self.db.read_op("TokenBlacklist.size", String::new, |r| {
            r.count::<BlacklistedToken>()
        })
    }
}
