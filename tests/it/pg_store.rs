//! The stores on the PostgreSQL backend (smoke test of the table API on PostgreSQL).

use crate::export_pg::{TempDb, available};
use aragora_db::Error;
use aragora_db::db::pg::{Connect, PgClient};
use aragora_db::db::{Database, OpenOptions};
use aragora_db::store::{OrganizationStore, UserStore};
use aragora_db::table::Page;

fn connect(db: &str) -> Connect {
    let dsn = format!("host=127.0.0.1 port=5432 user=postgres dbname={db}");
    Box::new(move || {
        let c = postgres::Client::connect(&dsn, postgres::NoTls)
            .map_err(|e| Error::storage("postgres", e))?;
        Ok(PgClient(Box::new(Box::new(c))))
    })
}

#[test]
fn user_store_runs_on_postgres() {
    if !available() {
        return;
    }
    let tmp = TempDb::new("pgstore");
    let (_d, cfg) = crate::common::data_dir();
    let db = Database::open_postgres(
        &format!("postgresql://postgres@127.0.0.1/{}", tmp.name),
        connect(&tmp.name),
        aragora_db::schema::ALL_TABLES.to_vec(),
        &OpenOptions::default(),
    )
    .unwrap();
    let users = UserStore::from_db(db.clone(), &cfg);
    let orgs = OrganizationStore::from_db(db.clone());
    let ada = users
        .create_user("ada@x.io", "bcrypt:h", "", "Ada", None, "member")
        .unwrap();
    assert_eq!(
        users.get_user_by_id(&ada.id).unwrap().unwrap().email,
        "ada@x.io"
    );
    assert_eq!(
        users.get_user_by_email("ada@x.io").unwrap().unwrap().id,
        ada.id
    );
    assert!(matches!(
        users.create_user("ada@x.io", "h", "", "Dup", None, "member"),
        Err(Error::Unique { .. })
    ));
    let org = orgs
        .create_organization("Analytical Engines", &ada.id, None, "free")
        .unwrap();
    let bob = users
        .create_user("bob@x.io", "h", "", "Bob", Some(&org.id), "member")
        .unwrap();
    let members = users.list_users_by_org(&org.id, Page::default()).unwrap();
    assert_eq!(members.len(), 2, "{members:?}");
    assert!(members.iter().any(|u| u.id == bob.id));
}

#[test]
#[ignore]
fn print_schema() {
    for s in aragora_db::pg::schema::steps().unwrap() {
        println!("{s}");
    }
}
