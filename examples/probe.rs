use aragora_db::Database;
use aragora_db::config::{Config, DbTarget, Store};
use aragora_db::schema::users::User;
use aragora_db::table::raw_def;
use redb::ReadableTable;
use std::time::Instant;
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::for_dir(dir.path());
    let db = Database::open(&cfg, DbTarget::Store(Store::Users)).unwrap();
    let users: Vec<User> = (0..20000)
        .map(|i| User {
            id: format!("id-{i:08}"),
            email: format!("user{i}@example.com"),
            created_at: "x".into(),
            updated_at: "y".into(),
            name: Some("n".into()),
            ..Default::default()
        })
        .collect();
    db.write(|w| w.insert_many(&users)).unwrap();
    let n = 200_000;
    let raw = redb::Database::open(dir.path().join("users.redb"));
    drop(raw);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(db.read().unwrap());
    }
    println!("begin_read          {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        let r = db.read().unwrap();
        std::hint::black_box(r.raw_table("users#idx_users_email").unwrap());
    }
    println!("read + open 1 table {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        let r = db.read().unwrap();
        std::hint::black_box(r.raw_table("users#idx_users_email").unwrap());
        std::hint::black_box(r.raw_table("users").unwrap());
    }
    println!("read + open 2       {:?}", t.elapsed() / n);
    let t = Instant::now();
    for i in 0..n as usize {
        let r = db.read().unwrap();
        std::hint::black_box(r.get::<User>(format!("id-{:08}", i % 20000)).unwrap());
    }
    println!("get by id           {:?}", t.elapsed() / n);
    let t = Instant::now();
    for i in 0..n as usize {
        let r = db.read().unwrap();
        std::hint::black_box(
            r.get_by::<User>("idx_users_email", format!("user{}@example.com", i % 20000))
                .unwrap(),
        );
    }
    println!("get by email        {:?}", t.elapsed() / n);
    let r = db.read().unwrap();
    let t = Instant::now();
    for i in 0..n as usize {
        std::hint::black_box(r.get::<User>(format!("id-{:08}", i % 20000)).unwrap());
    }
    println!("get by id, 1 txn    {:?}", t.elapsed() / n);
    let t = Instant::now();
    let tbl = r.raw_table("users").unwrap();
    for i in 0..n as usize {
        let k = aragora_db::table::IntoKey::to_key(&format!("id-{:08}", i % 20000));
        std::hint::black_box(tbl.get(k.as_slice()).unwrap().unwrap().value().len());
    }
    println!("raw get, 1 txn      {:?}", t.elapsed() / n);
    let k = aragora_db::table::IntoKey::to_key(&"id-00000001");
    let bytes = tbl.get(k.as_slice()).unwrap().unwrap().value().to_vec();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(aragora_db::table::RowView::parse(&bytes).unwrap());
    }
    println!("RowView::parse      {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(<User as aragora_db::table::Row>::decode(&k, &bytes).unwrap());
    }
    println!("User::decode        {:?}", t.elapsed() / n);
    let _ = raw_def("x");
}
#[allow(dead_code)]
fn unused() {}
