//! `ShareLinkStore`: shared debate links (the original's
//! `aragora/storage/share_store.py`).
//!
//! One link per debate. Unlike the original, [`ShareLinkStore::get_by_token`]
//! does not return expired links: expiry is enforced here, not left to every
//! caller. `revoke_token` clears the token and keeps the row, as the original
//! does. Times are Unix epoch seconds.

use super::users::random_bytes;
use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::schema::share_links::ShareLink;
use crate::table::KeyRange;
use crate::table::Read;
use std::ops::Bound;

/// Who can open a link.
pub const VISIBILITIES: [&str; 3] = ["private", "team", "public"];

/// Shared debate links.
#[derive(Debug, Clone)]
pub struct ShareLinkStore {
    db: Database,
}

/// A fresh URL-safe token (32 random bytes, base64url without padding,
/// like Python's `secrets.token_urlsafe(32)`).
pub fn new_token() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = random_bytes::<33>();
    bytes
        .chunks(3)
        .flat_map(|c| {
            let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
            (0..4)
                .rev()
                .map(move |i| ALPHABET[((n >> (6 * i)) & 63) as usize] as char)
        })
        .take(43)
        .collect()
}

impl ShareLinkStore {
    /// Opens `share_links.redb`.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(ShareLinkStore {
            db: Database::open(config, DbTarget::Store(Store::ShareLinks))?,
        })
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Creates or replaces the link of `link.debate_id`; a missing token is
    /// generated. Returns the stored link.
    pub fn save(&self, mut link: ShareLink) -> Result<ShareLink> {
        if !VISIBILITIES.contains(&link.visibility.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "visibility {:?} is not one of {}",
                link.visibility,
                VISIBILITIES.join(", ")
            )));
        }
        if link.token.is_none() {
            link.token = Some(new_token());
        }
        let debate = link.debate_id.clone();
        self.db.op(
            "share_save",
            || format!("debate={debate}"),
            || {
                self.db.write_retrying(|w| w.upsert(&link).map(drop))?;
                Ok(link)
            },
        )
    }

    /// The link of a debate (expired or revoked links included).
    pub fn get(&self, debate_id: &str) -> Result<Option<ShareLink>> {
        self.db
            .read_op("ShareLinkStore.get", String::new, |r| r.get(debate_id))
    }

    /// The live link with this token: `None` if unknown or expired.
    pub fn get_by_token(&self, token: &str) -> Result<Option<ShareLink>> {
        let now = self.db.now_epoch();
        let link: Option<ShareLink> = self
            .db
            .read()?
            .get_by(ShareLink::share_links_token_key, token)?;
        Ok(link.filter(|l| l.expires_at.is_none_or(|e| e > now)))
    }

    /// Clears a debate's token (the link stops working, the row stays).
    pub fn revoke_token(&self, debate_id: &str) -> Result<bool> {
        self.db.op("ShareLinkStore.revoke_token", String::new, || {
            self.modify(debate_id, |l| l.token = None)
        })
    }

    /// Counts a view.
    pub fn increment_view_count(&self, debate_id: &str) -> Result<bool> {
        self.db
            .op("ShareLinkStore.increment_view_count", String::new, || {
                let now = self.db.now_epoch();
                self.modify(debate_id, |l| {
                    l.view_count = Some(l.view_count.unwrap_or(0) + 1);
                    l.last_viewed_at = Some(now);
                })
            })
    }

    /// Deletes a debate's link.
    pub fn delete(&self, debate_id: &str) -> Result<bool> {
        self.db.write_op("ShareLinkStore.delete", String::new, |w| {
            w.delete::<ShareLink>(debate_id)
        })
    }

    /// Deletes links that expired before `now`; returns how many.
    pub fn cleanup_expired(&self) -> Result<u64> {
        self.db
            .op("ShareLinkStore.cleanup_expired", String::new, || {
                let now = self.db.now_epoch();
                self.db.write_retrying(|w| {
                    // NULL expiry sorts first; start after it.
                    let range = KeyRange::between(
                        Bound::Excluded(crate::table::Value::Null),
                        Bound::Excluded(crate::table::Value::Real(now)),
                    );
                    w.delete_in(ShareLink::idx_share_links_expires, &range)
                })
            })
    }

    /// Number of links.
    pub fn count(&self) -> Result<u64> {
        self.db.read_op("ShareLinkStore.count", String::new, |r| {
            r.count::<ShareLink>()
        })
    }

    fn modify(&self, debate_id: &str, f: impl Fn(&mut ShareLink)) -> Result<bool> {
        self.db.write_retrying(|w| {
            let Some(mut link) = w.get::<ShareLink>(debate_id)? else {
                return Ok(false);
            };
            f(&mut link);
            w.update(&link)?;
            Ok(true)
        })
    }
}
