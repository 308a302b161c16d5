//! `UserStore`: user accounts and login lockout (the original's
//! `aragora/storage/user_store/sqlite_store.py`).

use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::schema::users::User;
use crate::store::common::not_found;
use crate::store::query::instant;
use crate::table::Read;
use crate::table::{Page, Reader};
use crate::time;
use chrono::{Duration, Utc};

/// Failed-login thresholds and lockout lengths (the original's
/// `LOCKOUT_*`): at 5, 10 and 20 consecutive failures.
pub const LOCKOUT_TIERS: [(i64, Duration); 3] = [
    (20, Duration::hours(24)),
    (10, Duration::hours(1)),
    (5, Duration::minutes(15)),
];

/// The lockout state of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutInfo {
    /// Whether the account is locked now.
    pub locked: bool,
    /// Until when, as stored.
    pub locked_until: Option<String>,
    /// Consecutive failed logins.
    pub failed_login_count: i64,
}

/// User accounts in `users.db`.
#[derive(Debug, Clone)]
pub struct UserStore {
    db: Database,
    column_key: Option<crate::crypto::Key>,
}

impl UserStore {
    /// Opens the users database of a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(UserStore {
            db: Database::open(config, DbTarget::Store(Store::Users))?,
            column_key: config.column_key.clone(),
        })
    }

    /// Wraps an already open users database, with the configuration's
    /// column key: the MFA secrets this store writes are sealed with it
    /// exactly as through [`UserStore::open`]. (It takes the configuration,
    /// not just the database, so the key cannot be left out by accident.)
    pub fn from_db(db: Database, config: &Config) -> Self {
        UserStore {
            db,
            column_key: config.column_key.clone(),
        }
    }

    /// Refuses a secret column that a write would change to plaintext while
    /// a column key is configured (only [`UserStore::set_mfa`] seals them).
    /// A value left as it was stored is accepted, so rows written before a
    /// key was configured stay updatable.
    fn guard_secrets(&self, old: Option<&User>, new: &User) -> Result<()> {
        if self.column_key.is_none() {
            return Ok(());
        }
        let cells = [
            (
                "mfa_secret",
                &new.mfa_secret,
                old.and_then(|u| u.mfa_secret.as_ref()),
            ),
            (
                "mfa_backup_codes",
                &new.mfa_backup_codes,
                old.and_then(|u| u.mfa_backup_codes.as_ref()),
            ),
        ];
        for (col, now, was) in cells {
            if let Some(v) = now
                && Some(v) != was
                && crate::crypto::column::parse(v).is_none()
            {
                return Err(Error::InvalidArgument(format!(
                    "users.{col} of user {}: refusing to store a secret in plaintext while \
                     ARAGORA_ENCRYPTION_KEY is set (use UserStore::set_mfa, which seals it)",
                    new.id
                )));
            }
        }
        Ok(())
    }

    /// Sets a user's MFA secret and backup codes (`None` clears them).
    /// Like the original, they are stored AES-256-GCM encrypted with the
    /// user id as associated data when `ARAGORA_ENCRYPTION_KEY` is set, and
    /// as given otherwise (see [`crate::crypto::column`]).
    pub fn set_mfa(
        &self,
        id: &str,
        secret: Option<&str>,
        backup_codes: Option<&str>,
    ) -> Result<User> {
        use crate::crypto::column::seal;
        let key = self.column_key.as_ref();
        let secret = secret.map(|s| seal(key, s, Some(id))).transpose()?;
        let codes = backup_codes.map(|s| seal(key, s, Some(id))).transpose()?;
        self.modify_user(id, |u| {
            u.mfa_enabled = Some(secret.is_some());
            u.mfa_secret = secret;
            u.mfa_backup_codes = codes;
        })
    }

    /// A user's MFA secret and backup codes, decrypted.
    pub fn mfa(&self, user: &User) -> Result<(Option<String>, Option<String>)> {
        use crate::crypto::column::open;
        let key = self.column_key.as_ref();
        let cell = |c: &Option<String>, col: &str| {
            c.as_deref()
                .map(|v| {
                    open(
                        key,
                        v,
                        Some(&user.id),
                        &format!("users.{col} of user {}", user.id),
                    )
                })
                .transpose()
        };
        Ok((
            cell(&user.mfa_secret, "mfa_secret")?,
            cell(&user.mfa_backup_codes, "mfa_backup_codes")?,
        ))
    }

    /// The underlying database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// Creates a user with a fresh UUID. Fails if the email is taken or
    /// the organization does not exist.
    pub fn create_user(
        &self,
        email: &str,
        password_hash: &str,
        password_salt: &str,
        name: &str,
        org_id: Option<&str>,
        role: &str,
    ) -> Result<User> {
        self.db.op(
            "create_user",
            || format!("email={email}"),
            || {
                let now = self.db.now_iso();
                let user = User {
                    id: new_uuid(),
                    email: email.to_string(),
                    password_hash: password_hash.to_string(),
                    password_salt: password_salt.to_string(),
                    name: Some(name.to_string()),
                    org_id: org_id.map(str::to_string),
                    role: Some(role.to_string()),
                    created_at: now.clone(),
                    updated_at: now,
                    is_active: Some(true),
                    email_verified: Some(false),
                    preferences: Some("{}".into()),
                    failed_login_count: Some(0),
                    mfa_enabled: Some(false),
                    token_version: Some(1),
                    ..User::default()
                };
                self.db.write_retrying(|w| w.insert(&user))?;
                Ok(user)
            },
        )
    }

    /// A user by id.
    pub fn get_user_by_id(&self, id: &str) -> Result<Option<User>> {
        self.db
            .read_op("get_user_by_id", || format!("id={id}"), |r| r.get(id))
    }

    /// A user by email (exact match, as stored).
    pub fn get_user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.db.read_op(
            "get_user_by_email",
            || format!("email={email}"),
            |r| r.get_by(User::idx_users_email, email),
        )
    }

    /// Users of an organization, in id order.
    pub fn list_users_by_org(&self, org_id: &str, page: Page) -> Result<Vec<User>> {
        self.db.read_op(
            "list_users_by_org",
            || format!("org={org_id}"),
            |r| r.find(User::idx_users_org, org_id, page),
        )
    }

    /// Number of users.
    pub fn count_users(&self) -> Result<u64> {
        self.db
            .read_op("UserStore.count_users", String::new, |r| r.count::<User>())
    }

    /// Replaces a user row; `updated_at` is set to now.
    pub fn update_user(&self, user: &User) -> Result<User> {
        self.db.op(
            "update_user",
            || format!("id={}", user.id),
            || {
                let mut user = user.clone();
                user.updated_at = self.db.now_iso();
                self.db.write_retrying(|w| {
                    let old = w.get::<User>(user.id.as_str())?;
                    self.guard_secrets(old.as_ref(), &user)?;
                    w.update(&user)
                })?;
                Ok(user)
            },
        )
    }

    /// Loads, changes and stores a user in one transaction. Not run again
    /// after a PostgreSQL deadlock (as the other writes are): `f` is the
    /// caller's and may not be safe to run twice.
    pub fn modify_user(&self, id: &str, f: impl FnOnce(&mut User)) -> Result<User> {
        self.db.op("UserStore.modify_user", String::new, || {
            self.db.write(|w| {
                let mut user = w.get::<User>(id)?.ok_or_else(|| not_found("users", id))?;
                let old = user.clone();
                f(&mut user);
                self.guard_secrets(Some(&old), &user)?;
                user.updated_at = self.db.now_iso();
                w.update(&user)?;
                Ok(user)
            })
        })
    }

    /// Records a failed login for `email`; locks the account for 15 minutes,
    /// 1 hour or 24 hours at 5, 10 and 20 consecutive failures. Returns the
    /// new state, or `None` for an unknown email.
    pub fn record_failed_login(&self, email: &str) -> Result<Option<LockoutInfo>> {
        self.db.write_op(
            "record_failed_login",
            || format!("email={email}"),
            |w| {
                let Some(mut user) = w.get_by(User::idx_users_email, email)? else {
                    return Ok(None);
                };
                let now = self.db.now();
                let count = user.failed_login_count.unwrap_or(0) + 1;
                user.failed_login_count = Some(count);
                user.last_failed_login_at = Some(time::format_iso(now));
                user.updated_at = time::format_iso(now);
                if let Some((n, len)) = LOCKOUT_TIERS.iter().find(|(n, _)| count >= *n) {
                    user.locked_until = Some(time::format_iso(now + *len));
                    user.lockout_reason = Some(format!("{n} or more consecutive failed logins"));
                }
                w.update(&user)?;
                Ok(Some(lockout_of(&user, self.db.now())))
            },
        )
    }

    /// Whether the account is locked now, until when, and the failure count.
    pub fn is_account_locked(&self, email: &str) -> Result<Option<LockoutInfo>> {
        Ok(self
            .get_user_by_email(email)?
            .map(|u| lockout_of(&u, self.db.now())))
    }

    /// Clears the failure count and any lock after a successful login, and
    /// sets `last_login_at`.
    pub fn reset_failed_login_attempts(&self, email: &str) -> Result<bool> {
        self.db
            .op("UserStore.reset_failed_login_attempts", String::new, || {
                let Some(user) = self.get_user_by_email(email)? else {
                    return Ok(false);
                };
                self.modify_user(&user.id, |u| {
                    clear_lock(u);
                    u.last_login_at = Some(self.db.now_iso());
                })?;
                Ok(true)
            })
    }

    /// Unlocks an account (an administrator's action).
    pub fn unlock_user(&self, id: &str) -> Result<User> {
        self.modify_user(id, clear_lock)
    }

    /// Deactivates an account; the row stays.
    pub fn deactivate_user(&self, id: &str) -> Result<User> {
        self.modify_user(id, |u| u.is_active = Some(false))
    }

    /// Deletes a user. Organizations it owned lose their owner, its OAuth
    /// links go with it, and invitations it sent keep no inviter.
    pub fn delete_user(&self, id: &str) -> Result<bool> {
        self.db.write_op(
            "delete_user",
            || format!("id={id}"),
            |w| w.delete::<User>(id),
        )
    }

    /// A snapshot for several reads.
    pub fn read(&self) -> Result<Reader> {
        self.db.read()
    }
}

fn lockout_of(u: &User, now: chrono::DateTime<Utc>) -> LockoutInfo {
    let locked = instant(u.locked_until.as_deref()).is_some_and(|until| until > now);
    LockoutInfo {
        locked,
        locked_until: u.locked_until.clone(),
        failed_login_count: u.failed_login_count.unwrap_or(0),
    }
}

fn clear_lock(u: &mut User) {
    u.failed_login_count = Some(0);
    u.locked_until = None;
    u.lockout_reason = None;
}

/// A random version-4 UUID, formatted like Python's `str(uuid4())`.
pub fn new_uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use std::io::Read;
    let mut out = [0u8; N];
    let filled = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut out));
    if filled.is_err() {
        // Fall back to hashing time and a counter: ids stay unique, not secret.
        use std::hash::{BuildHasher, Hasher};
        for chunk in out.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            let v = h.finish().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    out
}
