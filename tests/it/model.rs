//! Model-based property test: random inserts, updates and deletes (with
//! duplicate emails and dangling foreign keys) against the store and an
//! in-memory model. After every step the store equals the model and every
//! index agrees with the rows in both directions.

use crate::common::{org, user};
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::schema::users::{OrgInvitation, Organization, User};
use aragora_db::table::Read;
use aragora_db::table::check::check_table;
use aragora_db::table::{KeyRange, Page};
use aragora_db::{Database, Error};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    InsertUser {
        id: u8,
        email: u8,
        org: Option<u8>,
    },
    UpdateUser {
        id: u8,
        email: u8,
        org: Option<u8>,
    },
    DeleteUser {
        id: u8,
    },
    InsertOrg {
        id: u8,
        slug: u8,
        owner: Option<u8>,
    },
    DeleteOrg {
        id: u8,
    },
    Invite {
        id: u8,
        org: u8,
        token: u8,
        by: Option<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    // Small key spaces make collisions and dangling references common.
    let k = 0u8..6;
    prop_oneof![
        4 => (k.clone(), k.clone(), proptest::option::of(k.clone())).prop_map(|(id, email, org)| Op::InsertUser { id, email, org }),
        2 => (k.clone(), k.clone(), proptest::option::of(k.clone())).prop_map(|(id, email, org)| Op::UpdateUser { id, email, org }),
        1 => k.clone().prop_map(|id| Op::DeleteUser { id }),
        3 => (k.clone(), k.clone(), proptest::option::of(k.clone())).prop_map(|(id, slug, owner)| Op::InsertOrg { id, slug, owner }),
        1 => k.clone().prop_map(|id| Op::DeleteOrg { id }),
        2 => (k.clone(), k.clone(), k.clone(), proptest::option::of(k)).prop_map(|(id, org, token, by)| Op::Invite { id, org, token, by }),
    ]
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Outcome {
    Ok,
    Unique,
    ForeignKey,
    NotFound,
}

fn outcome<T>(r: Result<T, Error>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(Error::Unique { .. }) => Outcome::Unique,
        Err(Error::ForeignKey { .. }) => Outcome::ForeignKey,
        Err(Error::NotFound { .. }) => Outcome::NotFound,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[derive(Default, Debug)]
struct Model {
    users: BTreeMap<String, (String, Option<String>)>,
    orgs: BTreeMap<String, (String, Option<String>)>,
    invites: BTreeMap<String, (String, String, Option<String>)>,
}

fn uid(i: u8) -> String {
    format!("u{i}")
}
fn oid(i: u8) -> String {
    format!("o{i}")
}

impl Model {
    fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::InsertUser { id, email, org } => {
                let (id, email, org) = (uid(*id), format!("{email}@x.io"), org.map(oid));
                if self.users.contains_key(&id) || self.users.values().any(|(e, _)| *e == email) {
                    return Outcome::Unique;
                }
                if org.as_ref().is_some_and(|o| !self.orgs.contains_key(o)) {
                    return Outcome::ForeignKey;
                }
                self.users.insert(id, (email, org));
            }
            Op::UpdateUser { id, email, org } => {
                let (id, email, org) = (uid(*id), format!("{email}@x.io"), org.map(oid));
                let Some((old_email, old_org)) = self.users.get(&id).cloned() else {
                    return Outcome::NotFound;
                };
                if email != old_email && self.users.values().any(|(e, _)| *e == email) {
                    return Outcome::Unique;
                }
                if org != old_org && org.as_ref().is_some_and(|o| !self.orgs.contains_key(o)) {
                    return Outcome::ForeignKey;
                }
                self.users.insert(id, (email, org));
            }
            Op::DeleteUser { id } => {
                let id = uid(*id);
                if self.users.remove(&id).is_some() {
                    for o in self.orgs.values_mut() {
                        if o.1.as_ref() == Some(&id) {
                            o.1 = None;
                        }
                    }
                    for i in self.invites.values_mut() {
                        if i.2.as_ref() == Some(&id) {
                            i.2 = None;
                        }
                    }
                }
            }
            Op::InsertOrg { id, slug, owner } => {
                let (id, slug, owner) = (oid(*id), format!("s{slug}"), owner.map(uid));
                if self.orgs.contains_key(&id) || self.orgs.values().any(|(s, _)| *s == slug) {
                    return Outcome::Unique;
                }
                if owner.as_ref().is_some_and(|u| !self.users.contains_key(u)) {
                    return Outcome::ForeignKey;
                }
                self.orgs.insert(id, (slug, owner));
            }
            Op::DeleteOrg { id } => {
                let id = oid(*id);
                if self.orgs.remove(&id).is_some() {
                    for u in self.users.values_mut() {
                        if u.1.as_ref() == Some(&id) {
                            u.1 = None;
                        }
                    }
                    self.invites.retain(|_, i| i.0 != id);
                }
            }
            Op::Invite { id, org, token, by } => {
                let (id, org, token, by) = (
                    format!("i{id}"),
                    oid(*org),
                    format!("t{token}"),
                    by.map(uid),
                );
                if self.invites.contains_key(&id) || self.invites.values().any(|i| i.1 == token) {
                    return Outcome::Unique;
                }
                if !self.orgs.contains_key(&org)
                    || by.as_ref().is_some_and(|u| !self.users.contains_key(u))
                {
                    return Outcome::ForeignKey;
                }
                self.invites.insert(id, (org, token, by));
            }
        }
        Outcome::Ok
    }
}

fn apply(db: &Database, op: &Op) -> Outcome {
    match op {
        Op::InsertUser { id, email, org } => outcome(db.write(|w| {
            w.insert(&user(
                &uid(*id),
                &format!("{email}@x.io"),
                org.map(oid).as_deref(),
            ))
        })),
        Op::UpdateUser { id, email, org } => outcome(db.write(|w| {
            w.update(&user(
                &uid(*id),
                &format!("{email}@x.io"),
                org.map(oid).as_deref(),
            ))
        })),
        Op::DeleteUser { id } => outcome(db.write(|w| w.delete::<User>(uid(*id)))),
        Op::InsertOrg { id, slug, owner } => outcome(db.write(|w| {
            w.insert(&org(
                &oid(*id),
                &format!("s{slug}"),
                owner.map(uid).as_deref(),
            ))
        })),
        Op::DeleteOrg { id } => outcome(db.write(|w| w.delete::<Organization>(oid(*id)))),
        Op::Invite { id, org, token, by } => outcome(db.write(|w| {
            w.insert(&OrgInvitation {
                id: format!("i{id}"),
                org_id: oid(*org),
                email: "x@y.z".into(),
                token: format!("t{token}"),
                invited_by: by.map(uid),
                created_at: "2026-01-01".into(),
                ..Default::default()
            })
        })),
    }
}

fn assert_matches(db: &Database, m: &Model) -> Result<(), TestCaseError> {
    let r = db.read().unwrap();
    let users: BTreeMap<_, _> = r
        .scan::<User>(KeyRange::all(), Page::default())
        .unwrap()
        .into_iter()
        .map(|u| (u.id, (u.email, u.org_id)))
        .collect();
    prop_assert_eq!(&users, &m.users);
    let orgs: BTreeMap<_, _> = r
        .scan::<Organization>(KeyRange::all(), Page::default())
        .unwrap()
        .into_iter()
        .map(|o| (o.id, (o.slug, o.owner_id)))
        .collect();
    prop_assert_eq!(&orgs, &m.orgs);
    let invites: BTreeMap<_, _> = r
        .scan::<OrgInvitation>(KeyRange::all(), Page::default())
        .unwrap()
        .into_iter()
        .map(|i| (i.id, (i.org_id, i.token, i.invited_by)))
        .collect();
    prop_assert_eq!(&invites, &m.invites);
    for (id, (email, _)) in &m.users {
        let found = r.get_by(User::idx_users_email, email.as_str()).unwrap();
        prop_assert_eq!(found.map(|u| u.id), Some(id.clone()));
    }
    for &def in db.tables() {
        let problems = check_table(&r, def).unwrap();
        prop_assert!(problems.is_empty(), "{}: {:?}", def.name, problems);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn store_equals_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config::for_dir(dir.path());
        let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
        let mut model = Model::default();
        for op in &ops {
            let want = model.apply(op);
            let got = apply(&db, op);
            prop_assert_eq!(got, want, "op {:?}", op);
            assert_matches(&db, &model)?;
        }
    }
}
