//! Shared debate links (`share_links.db`, `ShareLinkStore` in the
//! original's `aragora/storage/share_store.py`).
//!
//! Owner: [`Store::ShareLinks`], its own file in both modes. One shape;
//! times are REAL Unix epoch seconds; `allow_comments`, `allow_forking`
//! are 0/1 flags.
//!
//! The original's `idx_share_links_debate` is our primary key. `idx_share_links_expires` is
//! a partial index (`WHERE expires_at IS NOT NULL`) in the original; here
//! it indexes every row (NULLs sort first, so range scans over non-NULL
//! expiries are unaffected).
//!
//! Key: the original's primary key is `token`, but `revoke_token` sets it to
//! NULL and keeps the row (docs/ORIGINAL.md, "Value encodings"), which SQLite allows and PostgreSQL
//! does not. Every store method is keyed by `debate_id` (NOT NULL UNIQUE), so
//! `debate_id` is our primary key and `token` is a unique index that skips
//! NULLs: revoked links keep their row, as in the original, and export
//! cleanly. No foreign keys in the original.

use crate::config::{DbTarget, Store};
use crate::table;

table! {
    /// A share link for one debate.
    pub struct ShareLink as SHARE_LINKS {
        name: "share_links",
        owner: DbTarget::Store(Store::ShareLinks),
        version: 1,
        columns: {
            token: Option<String> => Text,
            debate_id: String => Text,
            visibility: String => Text = "'private'",
            owner_id: Option<String> => Text,
            org_id: Option<String> => Text,
            created_at: f64 => Epoch,
            expires_at: Option<f64> => Epoch,
            allow_comments: Option<bool> => Bool = "0" [pg as Integer],
            allow_forking: Option<bool> => Bool = "0" [pg as Integer],
            view_count: Option<i64> => Integer = "0",
            last_viewed_at: Option<f64> => Epoch,
        },
        primary_key: (debate_id),
        autoincrement: false,
        indexes: {
            unique share_links_token_key (token),
            index idx_share_links_expires (expires_at),
            index idx_share_links_owner (owner_id),
            index idx_share_links_org (org_id, visibility),
        },
        foreign_keys: {},
    }
}
