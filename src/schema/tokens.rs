//! The JWT revocation list (`token_blacklist.db`, `SQLiteBlacklist` in the
//! original's `aragora/storage/token_blacklist_store.py`).
//!
//! Owner: [`Store::TokenBlacklist`], its own file in both modes. One shape
//! in history; `expires_at` and `revoked_at` are REAL Unix epoch seconds.
//! No foreign keys, no additions.

use crate::config::{DbTarget, Store};
use crate::table;

table! {
    /// A revoked token id, kept until the token would have expired.
    pub struct BlacklistedToken as TOKEN_BLACKLIST {
        name: "token_blacklist",
        owner: DbTarget::Store(Store::TokenBlacklist),
        version: 1,
        columns: {
            jti: String => Text,
            expires_at: f64 => Epoch [pg as Timestamptz],
            revoked_at: f64 => Epoch [pg as Timestamptz],
        },
        primary_key: (jti),
        autoincrement: false,
        indexes: {
            index idx_blacklist_expires (expires_at),
        },
        foreign_keys: {},
    }
}
