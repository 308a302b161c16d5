//! `OrganizationStore`: tenants and their members (the original's
//! `aragora/storage/organization_store.py`).

use super::users::{new_uuid, random_bytes};
use crate::config::{Config, DbTarget, Store};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::schema::users::{Organization, User};
use crate::store::common::not_found;
use crate::table::Read;
use crate::table::{Page, Writer};

/// Subscription tiers the original knows.
pub const TIERS: [&str; 4] = ["free", "starter", "professional", "enterprise"];

/// Organizations in `users.db`.
#[derive(Debug, Clone)]
pub struct OrganizationStore {
    db: Database,
}

impl OrganizationStore {
    /// Opens the users database of a configuration.
    pub fn open(config: &Config) -> Result<Self> {
        Ok(OrganizationStore {
            db: Database::open(config, DbTarget::Store(Store::Users))?,
        })
    }

    /// Wraps an already open users database.
    pub fn from_db(db: Database) -> Self {
        OrganizationStore { db }
    }

    /// Creates an organization owned by `owner_id`, and makes the owner a
    /// member with role `owner`, in one transaction. The slug defaults to
    /// the name, lower-cased and hyphenated, with a `-<8 hex>` suffix if taken.
    pub fn create_organization(
        &self,
        name: &str,
        owner_id: &str,
        slug: Option<&str>,
        tier: &str,
    ) -> Result<Organization> {
        self.db.op(
            "create_organization",
            || format!("name={name}"),
            || {
                check_tier(tier)?;
                self.db.write_retrying(|w| {
                    let mut owner = w.get::<User>(owner_id)?.ok_or_else(|| Error::ForeignKey {
                        table: "organizations",
                        column: "owner_id".into(),
                        value: format!("{owner_id:?}"),
                        parent: "users",
                    })?;
                    let slug = match slug {
                        Some(s) => s.to_string(),
                        None => free_slug(w, name)?,
                    };
                    let now = self.db.now_iso();
                    let org = Organization {
                        id: new_uuid(),
                        name: name.to_string(),
                        slug,
                        tier: Some(tier.to_string()),
                        owner_id: Some(owner_id.to_string()),
                        debates_used_this_month: Some(0),
                        billing_cycle_start: Some(now.clone()),
                        settings: Some("{}".into()),
                        created_at: now.clone(),
                        updated_at: now.clone(),
                        ..Organization::default()
                    };
                    w.insert(&org)?;
                    owner.org_id = Some(org.id.clone());
                    owner.role = Some("owner".into());
                    owner.updated_at = now;
                    w.update(&owner)?;
                    Ok(org)
                })
            },
        )
    }

    /// An organization by id.
    pub fn get_organization_by_id(&self, id: &str) -> Result<Option<Organization>> {
        self.db.op(
            "OrganizationStore.get_organization_by_id",
            String::new,
            || self.db.read()?.get(id),
        )
    }

    /// An organization by slug.
    pub fn get_organization_by_slug(&self, slug: &str) -> Result<Option<Organization>> {
        self.db.read_op(
            "get_organization_by_slug",
            || format!("slug={slug}"),
            |r| r.get_by(Organization::idx_orgs_slug, slug),
        )
    }

    /// The organization billed to a Stripe customer.
    pub fn get_organization_by_stripe_customer(
        &self,
        customer: &str,
    ) -> Result<Option<Organization>> {
        let rows = self
            .db
            .read()?
            .find(Organization::idx_orgs_stripe, customer, Page::first(1))?;
        Ok(rows.into_iter().next())
    }

    /// The organization of a Stripe subscription.
    pub fn get_organization_by_subscription(&self, sub: &str) -> Result<Option<Organization>> {
        self.db.op(
            "OrganizationStore.get_organization_by_subscription",
            String::new,
            || {
                let rows = self.db.read()?.find(
                    Organization::idx_orgs_subscription,
                    sub,
                    Page::first(1),
                )?;
                Ok(rows.into_iter().next())
            },
        )
    }

    /// Members of an organization.
    pub fn get_org_members(&self, org_id: &str) -> Result<Vec<User>> {
        self.db.op(
            "get_org_members",
            || format!("org={org_id}"),
            || {
                self.db
                    .read()?
                    .find(User::idx_users_org, org_id, Page::default())
            },
        )
    }

    /// Changes the subscription tier.
    pub fn change_tier(&self, org_id: &str, tier: &str) -> Result<Organization> {
        self.db
            .op("OrganizationStore.change_tier", String::new, || {
                check_tier(tier)?;
                self.modify(org_id, |o| o.tier = Some(tier.to_string()))
            })
    }

    /// Links a Stripe customer and subscription.
    pub fn set_stripe(
        &self,
        org_id: &str,
        customer: Option<&str>,
        sub: Option<&str>,
    ) -> Result<Organization> {
        self.db.op("OrganizationStore.set_stripe", String::new, || {
            self.modify(org_id, |o| {
                o.stripe_customer_id = customer.map(str::to_string);
                o.stripe_subscription_id = sub.map(str::to_string);
            })
        })
    }

    /// Adds `debates` to this month's usage counter; returns the new total.
    pub fn increment_usage(&self, org_id: &str, debates: i64) -> Result<i64> {
        self.db
            .op("OrganizationStore.increment_usage", String::new, || {
                let org = self.modify(org_id, |o| {
                    o.debates_used_this_month =
                        Some(o.debates_used_this_month.unwrap_or(0) + debates)
                })?;
                Ok(org.debates_used_this_month.unwrap_or(0))
            })
    }

    /// Adds a user to an organization with a role.
    pub fn add_user_to_org(&self, user_id: &str, org_id: &str, role: &str) -> Result<User> {
        self.db
            .op("OrganizationStore.add_user_to_org", String::new, || {
                self.db.write_retrying(|w| {
                    let mut u = w
                        .get::<User>(user_id)?
                        .ok_or_else(|| not_found("users", user_id))?;
                    u.org_id = Some(org_id.to_string());
                    u.role = Some(role.to_string());
                    u.updated_at = self.db.now_iso();
                    w.update(&u)?;
                    Ok(u)
                })
            })
    }

    /// Removes a user from its organization (role back to `member`).
    pub fn remove_user_from_org(&self, user_id: &str) -> Result<User> {
        self.db.op(
            "OrganizationStore.remove_user_from_org",
            String::new,
            || {
                self.db.write_retrying(|w| {
                    let mut u = w
                        .get::<User>(user_id)?
                        .ok_or_else(|| not_found("users", user_id))?;
                    u.org_id = None;
                    u.role = Some("member".into());
                    u.updated_at = self.db.now_iso();
                    w.update(&u)?;
                    Ok(u)
                })
            },
        )
    }

    /// Deletes an organization: its members stay (without organization);
    /// its usage events, summaries and invitations are deleted.
    pub fn delete_organization(&self, org_id: &str) -> Result<bool> {
        self.db
            .op("OrganizationStore.delete_organization", String::new, || {
                self.db.write_retrying(|w| w.delete::<Organization>(org_id))
            })
    }

    fn modify(&self, org_id: &str, f: impl Fn(&mut Organization)) -> Result<Organization> {
        self.db.write_retrying(|w| {
            let mut org = w
                .get::<Organization>(org_id)?
                .ok_or_else(|| not_found("organizations", org_id))?;
            f(&mut org);
            org.updated_at = self.db.now_iso();
            w.update(&org)?;
            Ok(org)
        })
    }
}

fn check_tier(tier: &str) -> Result<()> {
    if TIERS.contains(&tier) {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "unknown tier {tier:?}; expected one of {}",
        TIERS.join(", ")
    )))
}

/// `name` → `my-org`, with a random suffix while the slug is taken.
fn free_slug(w: &mut Writer<'_>, name: &str) -> Result<String> {
    let mut base: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    base = base
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if base.is_empty() {
        base = "org".into();
    }
    let mut slug = base.clone();
    while w
        .get_by(Organization::idx_orgs_slug, slug.as_str())?
        .is_some()
    {
        let b = random_bytes::<4>();
        slug = format!(
            "{base}-{}",
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        );
    }
    Ok(slug)
}
