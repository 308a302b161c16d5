//! `aragora-db demo`: exercises users.db end to end and prints the status.

use crate::output::out;
use aragora_db::Error;
use aragora_db::config::Config;
use aragora_db::store::{
    AuditEvent, AuditLog, AuditQuery, OrganizationStore, UsageStore, UserStore,
};
use aragora_db::table::Page;

pub fn run(config: &Config, force: bool) -> aragora_db::Result<()> {
    let dir = &config.data_dir;
    if !force {
        let first = match std::fs::read_dir(dir) {
            Ok(mut entries) => entries
                .next()
                .transpose()
                .map_err(|e| Error::io("list", dir, e))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io("list", dir, e)),
        };
        if let Some(entry) = first {
            return Err(Error::InvalidArgument(format!(
                "{} is not empty (it holds {} and maybe more): the demo writes sample users, \
                 organizations and audit events that would mix with its data; \
                 use an empty directory, or --force",
                dir.display(),
                entry.file_name().to_string_lossy()
            )));
        }
    }
    // New directories are 0700 whatever the umask (R21).
    aragora_db::ops::fsutil::private_dir(&config.data_dir)?;
    out(format!("demo in {}", config.data_dir.display()))?;
    let users = UserStore::open(config)?;
    let orgs = OrganizationStore::open(config)?;
    let audit = AuditLog::open(config)?;
    let usage = UsageStore::open(config)?;

    let tag = &aragora_db::store::users::new_uuid()[..8];
    let ada = users.create_user(
        &format!("ada+{tag}@example.com"),
        "bcrypt:$2b$12$demo",
        "",
        "Ada",
        None,
        "member",
    )?;
    let org = orgs.create_organization("Analytical Engines", &ada.id, None, "professional")?;
    let bob = users.create_user(
        &format!("bob+{tag}@example.com"),
        "bcrypt:$2b$12$demo",
        "",
        "Bob",
        Some(&org.id),
        "member",
    )?;
    out(format!(
        "created organization {} ({}) owned by {}",
        org.slug, org.id, ada.email
    ))?;
    for u in [&ada, &bob] {
        audit.log_event(AuditEvent {
            action: "user.create".into(),
            resource_type: Some("user".into()),
            resource_id: Some(u.id.clone()),
            user_id: Some(ada.id.clone()),
            org_id: Some(org.id.clone()),
            ..AuditEvent::default()
        })?;
    }
    usage.record_usage_event(&org.id, "debate", 1, Some("{\"demo\": true}"))?;

    let found = users.get_user_by_email(&bob.email)?.expect("just created");
    out(format!(
        "read back {} by email: id {}",
        found.email, found.id
    ))?;
    let members = orgs.get_org_members(&org.id)?;
    out(format!(
        "{} has {} member(s) besides its owner",
        org.name,
        members.iter().filter(|m| m.id != ada.id).count()
    ))?;
    let events = audit.query(&AuditQuery {
        org_id: Some(org.id.clone()),
        page: Page::default(),
        ..AuditQuery::default()
    })?;
    out(format!(
        "audit log for the organization: {} event(s)",
        events.len()
    ))?;
    for e in &events {
        out(format!(
            "  #{} {} {} -> {}",
            e.id,
            e.timestamp,
            e.action,
            e.resource_id.as_deref().unwrap_or("-")
        ))?;
    }
    out("")?;
    crate::cmd_status::run(config, false)
}
