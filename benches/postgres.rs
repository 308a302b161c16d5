//! PostgreSQL mode, in one run:
//!
//! * **our overhead**: users workloads through `UserStore` on PostgreSQL
//!   (the configured path: shared pool, `src/pg/rows.rs`) against the same
//!   work as hand-written SQL on a connection of the same pool (prepared
//!   statements, binary values decoded into the same `User` structs, the
//!   same transaction shape for writes); ratio = ours ÷ hand-written;
//! * **embedded vs PostgreSQL**: the same `UserStore` calls on the
//!   embedded store.
//!
//! `ours_held` runs our store on one connection held for the whole run
//! instead of the pool, which separates the pool's checkout (and its
//! liveness ping, one round trip, for a connection idle a second or more)
//! from the rest; `roundtrip` is one empty query, the unit everything here
//! is counted in.
//!
//! PostgreSQL: 127.0.0.1:5432, user postgres, trust auth (override with
//! `ARAGORA_TEST_PG_HOST` / `_PORT` / `_USER`); the bench works in a
//! database of its own (`aragora_bench_<pid>`), dropped at the end. When
//! the server is unreachable it prints `SKIPPED:` and passes, except under
//! `CI=true`, where it fails.
//!
//! `cargo bench --bench postgres` for figures; under `cargo test` each
//! benchmark runs once on a small dataset as a smoke test.

mod common;

use aragora_db::Database;
use aragora_db::config::{BackendConfig, Config, DbTarget, Store};
use aragora_db::db::OpenOptions;
use aragora_db::db::pg::{Connect, PgClient};
use aragora_db::pg::{Pool, PooledClient};
use aragora_db::schema::users::{Organization, User};
use aragora_db::store::UserStore;
use aragora_db::store::users::new_uuid;
use aragora_db::table::Page;
use common::*;
use criterion::Criterion;
use parking_lot::Mutex;
use postgres::Statement;
use postgres::types::ToSql;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const N_ORGS: usize = 100;
const PAGE: usize = 50;

fn env(k: &str, d: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| d.to_string())
}

/// The server, or `None` (after printing `SKIPPED:`) when it is
/// unreachable outside CI.
fn admin() -> Option<postgres::Client> {
    let (host, port, user) = (
        env("ARAGORA_TEST_PG_HOST", "127.0.0.1"),
        env("ARAGORA_TEST_PG_PORT", "5432"),
        env("ARAGORA_TEST_PG_USER", "postgres"),
    );
    let mut cfg = postgres::Config::new();
    cfg.host(&host)
        .port(port.parse().expect("ARAGORA_TEST_PG_PORT"))
        .user(&user)
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(3));
    match cfg.connect(postgres::NoTls) {
        Ok(c) => Some(c),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is not reachable at {host}:{port} ({e}), and CI=true requires it"
            );
            eprintln!(
                "SKIPPED: PostgreSQL benchmarks: server not reachable at {host}:{port} ({e})"
            );
            None
        }
    }
}

/// The bench's own database, dropped when this is.
struct BenchDb {
    name: String,
    url: String,
}

impl BenchDb {
    fn create(admin: &mut postgres::Client) -> BenchDb {
        let name = format!("aragora_bench_{}", std::process::id());
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("CREATE DATABASE \"{name}\""),
        ] {
            admin.batch_execute(&sql).unwrap();
        }
        let url = format!(
            "postgresql://{}@{}:{}/{name}",
            env("ARAGORA_TEST_PG_USER", "postgres"),
            env("ARAGORA_TEST_PG_HOST", "127.0.0.1"),
            env("ARAGORA_TEST_PG_PORT", "5432"),
        );
        BenchDb { name, url }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        if let Some(mut a) = admin() {
            let _ = a.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn org_id(o: usize) -> String {
    format!("org-{o:04}")
}

fn user_row(i: usize) -> User {
    User {
        org_id: Some(org_id(i % N_ORGS)),
        email_verified: Some(false),
        failed_login_count: Some(0),
        mfa_enabled: Some(false),
        ..sample_user(i)
    }
}

fn orgs() -> Vec<Organization> {
    (0..N_ORGS)
        .map(|o| Organization {
            id: org_id(o),
            name: format!("Org {o}"),
            slug: format!("org-{o}"),
            created_at: "2026-01-01T00:00:00+00:00".into(),
            updated_at: "2026-01-01T00:00:00+00:00".into(),
            ..Default::default()
        })
        .collect()
}

// ---- The hand-written side ----------------------------------------------

/// Every `users` column, as a programmer would select them: native types,
/// except the jsonb column, read as its text.
const COLS: &str = "id, email, password_hash, password_salt, name, org_id, role, \
    created_at, updated_at, last_login_at, is_active, email_verified, avatar_url, \
    preferences::text, lockout_until, failed_login_attempts, lockout_reason, \
    last_activity_at, last_debate_at, api_key, api_key_hash, api_key_prefix, \
    api_key_created_at, api_key_expires_at, mfa_secret, mfa_enabled, mfa_backup_codes, \
    token_version, last_failed_login_at";

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00`, as the store returns timestamps.
fn iso(t: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    let frac = dt.timestamp_micros().rem_euclid(1_000_000);
    let base = dt.format("%Y-%m-%dT%H:%M:%S");
    if frac == 0 {
        format!("{base}+00:00")
    } else {
        format!("{base}.{frac:06}+00:00")
    }
}

fn ts(r: &postgres::Row, i: usize) -> Option<String> {
    r.get::<_, Option<SystemTime>>(i).map(iso)
}

fn decode(r: &postgres::Row) -> User {
    User {
        id: r.get(0),
        email: r.get(1),
        password_hash: r.get(2),
        password_salt: r.get(3),
        name: r.get(4),
        org_id: r.get(5),
        role: r.get(6),
        created_at: iso(r.get(7)),
        updated_at: iso(r.get(8)),
        last_login_at: ts(r, 9),
        is_active: r.get(10),
        email_verified: r.get(11),
        avatar_url: r.get(12),
        preferences: r.get(13),
        locked_until: ts(r, 14),
        failed_login_count: r.get(15),
        lockout_reason: r.get(16),
        last_activity_at: ts(r, 17),
        last_debate_at: ts(r, 18),
        api_key: r.get(19),
        api_key_hash: r.get(20),
        api_key_prefix: r.get(21),
        api_key_created_at: ts(r, 22),
        api_key_expires_at: ts(r, 23),
        mfa_secret: r.get(24),
        mfa_enabled: r.get(25),
        mfa_backup_codes: r.get(26),
        token_version: r.get(27),
        last_failed_login_at: ts(r, 28),
        ..User::default()
    }
}

/// The non-key columns of a user as parameters, in [`COLS`] order from
/// `email` on (timestamps and JSON as text, cast by the statement).
fn params(u: &User) -> Vec<&(dyn ToSql + Sync)> {
    vec![
        &u.email,
        &u.password_hash,
        &u.password_salt,
        &u.name,
        &u.org_id,
        &u.role,
        &u.created_at,
        &u.updated_at,
        &u.last_login_at,
        &u.is_active,
        &u.email_verified,
        &u.avatar_url,
        &u.preferences,
        &u.locked_until,
        &u.failed_login_count,
        &u.lockout_reason,
        &u.last_activity_at,
        &u.last_debate_at,
        &u.api_key,
        &u.api_key_hash,
        &u.api_key_prefix,
        &u.api_key_created_at,
        &u.api_key_expires_at,
        &u.mfa_secret,
        &u.mfa_enabled,
        &u.mfa_backup_codes,
        &u.token_version,
        &u.last_failed_login_at,
    ]
}

/// Casts of the parameters of [`params`], `$2` on.
const CASTS: [&str; 28] = [
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    "text::timestamptz",
    "text::timestamptz",
    "text::timestamptz",
    "boolean",
    "boolean",
    "text",
    "text::jsonb",
    "text::timestamptz",
    "bigint",
    "text",
    "text::timestamptz",
    "text::timestamptz",
    "text",
    "text",
    "text",
    "text::timestamptz",
    "text::timestamptz",
    "text",
    "boolean",
    "text",
    "bigint",
    "text::timestamptz",
];

/// Hand-written SQL on one connection of the same pool, statements
/// prepared once.
struct Hand {
    c: PooledClient,
    by_id: Statement,
    by_email: Statement,
    by_org: Statement,
    lock_by_id: Statement,
    insert: Statement,
    update: Statement,
}

impl Hand {
    fn new(pool: &Pool) -> Hand {
        let mut c = pool.get().unwrap();
        let names: Vec<&str> = COLS
            .split(", ")
            .map(|s| s.trim_end_matches("::text"))
            .collect();
        let values: Vec<String> = std::iter::once("$1::text".to_string())
            .chain(
                CASTS
                    .iter()
                    .enumerate()
                    .map(|(i, t)| format!("${}::{t}", i + 2)),
            )
            .collect();
        let insert = format!(
            "INSERT INTO users ({}) VALUES ({})",
            names.join(", "),
            values.join(", ")
        );
        let sets: Vec<String> = names[1..]
            .iter()
            .zip(&values[1..])
            .map(|(n, v)| format!("{n} = {v}"))
            .collect();
        let update = format!("UPDATE users SET {} WHERE id = $1::text", sets.join(", "));
        let mut p = |sql: &str| c.prepare(sql).unwrap();
        let by_id = p(&format!("SELECT {COLS} FROM users WHERE id = $1"));
        let by_email = p(&format!("SELECT {COLS} FROM users WHERE email = $1"));
        let by_org = p(&format!(
            "SELECT {COLS} FROM users WHERE org_id = $1 ORDER BY id LIMIT {PAGE}"
        ));
        let lock_by_id = p(&format!(
            "SELECT {COLS} FROM users WHERE id = $1 FOR UPDATE"
        ));
        let insert = p(&insert);
        let update = p(&update);
        Hand {
            c,
            by_id,
            by_email,
            by_org,
            lock_by_id,
            insert,
            update,
        }
    }

    fn get_by_id(&mut self, id: &str) -> Option<User> {
        self.c
            .query_opt(&self.by_id, &[&id])
            .unwrap()
            .map(|r| decode(&r))
    }

    fn get_by_email(&mut self, email: &str) -> Option<User> {
        self.c
            .query_opt(&self.by_email, &[&email])
            .unwrap()
            .map(|r| decode(&r))
    }

    fn org_page(&mut self, org: &str) -> Vec<User> {
        let rows = self.c.query(&self.by_org, &[&org]).unwrap();
        rows.iter().map(decode).collect()
    }

    /// What `UserStore::create_user` does: a fresh UUID, now, one
    /// transaction with one INSERT.
    fn create_user(&mut self, email: &str, name: &str, org: &str) -> User {
        let now = aragora_db::time::now_iso();
        let u = User {
            id: new_uuid(),
            email: email.to_string(),
            password_hash: "bcrypt:h".to_string(),
            password_salt: String::new(),
            name: Some(name.to_string()),
            org_id: Some(org.to_string()),
            role: Some("member".to_string()),
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
        let mut ps: Vec<&(dyn ToSql + Sync)> = vec![&u.id];
        ps.extend(params(&u));
        let mut tx = self.c.transaction().unwrap();
        tx.execute(&self.insert, &ps).unwrap();
        tx.commit().unwrap();
        u
    }

    /// What `UserStore::modify_user` does: one transaction that reads the
    /// row `FOR UPDATE`, changes it, sets `updated_at` and writes it back.
    fn modify_user(&mut self, id: &str, f: impl FnOnce(&mut User)) -> User {
        let mut tx = self.c.transaction().unwrap();
        let row = tx.query_one(&self.lock_by_id, &[&id]).unwrap();
        let mut u = decode(&row);
        f(&mut u);
        u.updated_at = aragora_db::time::now_iso();
        let mut ps: Vec<&(dyn ToSql + Sync)> = vec![&u.id];
        ps.extend(params(&u));
        assert_eq!(tx.execute(&self.update, &ps).unwrap(), 1);
        tx.commit().unwrap();
        u
    }
}

// ---- Our side on one held connection ------------------------------------

/// A pooled connection lent to one snapshot or transaction at a time and
/// given back to its slot: our store without the pool's checkout ping.
struct Held(Arc<Mutex<Option<PooledClient>>>, Option<PooledClient>);

impl std::ops::Deref for Held {
    type Target = postgres::Client;
    fn deref(&self) -> &postgres::Client {
        self.1.as_ref().unwrap()
    }
}

impl std::ops::DerefMut for Held {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        self.1.as_mut().unwrap()
    }
}

impl aragora_db::pg::rows::Connection for Held {
    fn split(
        &mut self,
    ) -> (
        &mut postgres::Client,
        Option<&mut aragora_db::pg::cache::StmtCache>,
    ) {
        self.1.as_mut().unwrap().split()
    }

    fn take_rollback(&mut self) -> bool {
        self.1.as_mut().unwrap().take_rollback()
    }

    fn defer_rollback(&mut self) -> bool {
        self.1.as_mut().unwrap().defer_rollback()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        *self.0.lock() = self.1.take();
    }
}

fn held_store(pool: &Pool, url: &str, cfg: &Config) -> UserStore {
    let slot = Arc::new(Mutex::new(Some(pool.get().unwrap())));
    let connect: Connect = Box::new(move || {
        let c = slot.lock().take().expect("one transaction at a time");
        Ok(PgClient(Box::new(Held(slot.clone(), Some(c)))))
    });
    let db = Database::open_postgres(
        url,
        connect,
        aragora_db::schema::ALL_TABLES.to_vec(),
        &OpenOptions::default(),
    )
    .unwrap();
    UserStore::from_db(db, cfg)
}

// ---- The run ------------------------------------------------------------

struct Fixture {
    _dir: tempfile::TempDir,
    pg: UserStore,
    held: UserStore,
    embedded: UserStore,
    hand: Hand,
    n_users: usize,
}

fn fixture(bench: &BenchDb) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config::for_dir(dir.path().join("pg-unused"));
    let url = bench.url.clone();
    cfg.backend = BackendConfig::from_lookup(&|k: &str| match k {
        "ARAGORA_DB_BACKEND" => Some("postgres".into()),
        "DATABASE_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let pg = UserStore::open(&cfg).unwrap();
    let pool = aragora_db::pg::pool_for(&cfg, DbTarget::Store(Store::Users))
        .unwrap()
        .expect("configured for PostgreSQL");

    let emb_cfg = Config::for_dir(dir.path().join("embedded"));
    let embedded = UserStore::open(&emb_cfg).unwrap();

    let n_users = size(20_000, 50);
    let users: Vec<User> = (0..n_users).map(user_row).collect();
    let orgs = orgs();
    for db in [pg.db(), embedded.db()] {
        db.write(|w| {
            w.insert_many(&orgs)?;
            w.insert_many(&users)
        })
        .unwrap();
    }
    {
        let mut c = pool.get().unwrap();
        c.batch_execute("ANALYZE").unwrap();
    }
    let held = held_store(&pool, &bench.url, &cfg);
    let mut hand = Hand::new(&pool);

    // Same data on every side, decoded into the same structs.
    for i in [0, n_users / 2, n_users - 1] {
        let u = &users[i];
        let want = hand.get_by_id(&u.id).unwrap();
        assert_eq!(&want, u);
        assert_eq!(pg.get_user_by_id(&u.id).unwrap().as_ref(), Some(&want));
        assert_eq!(held.get_user_by_id(&u.id).unwrap().as_ref(), Some(&want));
        assert_eq!(
            embedded.get_user_by_id(&u.id).unwrap().as_ref(),
            Some(&want)
        );
        assert_eq!(hand.get_by_email(&u.email).as_ref(), Some(&want));
        assert_eq!(pg.get_user_by_email(&u.email).unwrap(), Some(want));
    }
    let org = org_id(7);
    let page = hand.org_page(&org);
    assert_eq!(page.len(), PAGE.min(n_users / N_ORGS));
    assert_eq!(pg.list_users_by_org(&org, Page::first(PAGE)).unwrap(), page);
    assert_eq!(
        embedded.list_users_by_org(&org, Page::first(PAGE)).unwrap(),
        page
    );
    Fixture {
        _dir: dir,
        pg,
        held,
        embedded,
        hand,
        n_users,
    }
}

fn benches(c: &mut Criterion, f: &mut Fixture) {
    let mut g = c.benchmark_group("pg_users");
    let n = f.n_users;
    let ids: Vec<String> = (0..n).map(|i| user_row(i).id).collect();
    let mut i = 0usize;

    g.bench_function("roundtrip/empty_query", |b| {
        b.iter(|| f.hand.c.simple_query("").unwrap())
    });

    let sides: [(&str, &UserStore); 3] = [
        ("ours", &f.pg),
        ("ours_held", &f.held),
        ("embedded", &f.embedded),
    ];

    for (side, s) in sides {
        g.bench_function(format!("get_by_id/{side}"), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(s.get_user_by_id(&ids[i]).unwrap().unwrap())
            })
        });
    }
    g.bench_function("get_by_id/handwritten", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(f.hand.get_by_id(&ids[i]).unwrap())
        })
    });

    for (side, s) in sides {
        g.bench_function(format!("get_by_email/{side}"), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(
                    s.get_user_by_email(&format!("user{i}@example.com"))
                        .unwrap()
                        .unwrap(),
                )
            })
        });
    }
    g.bench_function("get_by_email/handwritten", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(
                f.hand
                    .get_by_email(&format!("user{i}@example.com"))
                    .unwrap(),
            )
        })
    });

    for (side, s) in sides {
        g.bench_function(format!("org_page_50/{side}"), |b| {
            b.iter(|| {
                i = (i + 31) % N_ORGS;
                black_box(s.list_users_by_org(&org_id(i), Page::first(PAGE)).unwrap())
            })
        });
    }
    g.bench_function("org_page_50/handwritten", |b| {
        b.iter(|| {
            i = (i + 31) % N_ORGS;
            black_box(f.hand.org_page(&org_id(i)))
        })
    });

    // Writes: fewer samples (each commit waits for the WAL flush).
    g.sample_size(30);
    let mut k = 0usize;
    for (side, s) in sides {
        g.bench_function(format!("create_user/{side}"), |b| {
            b.iter(|| {
                k += 1;
                let org = org_id(k % N_ORGS);
                black_box(
                    s.create_user(
                        &format!("new-{side}-{k}@example.com"),
                        "bcrypt:h",
                        "",
                        "New",
                        Some(&org),
                        "member",
                    )
                    .unwrap(),
                )
            })
        });
    }
    g.bench_function("create_user/handwritten", |b| {
        b.iter(|| {
            k += 1;
            let org = org_id(k % N_ORGS);
            black_box(
                f.hand
                    .create_user(&format!("new-hand-{k}@example.com"), "New", &org),
            )
        })
    });

    for (side, s) in sides {
        g.bench_function(format!("modify_user/{side}"), |b| {
            b.iter(|| {
                i = (i + 7919) % n;
                black_box(
                    s.modify_user(&ids[i], |u| {
                        u.failed_login_count = Some(u.failed_login_count.unwrap_or(0) + 1)
                    })
                    .unwrap(),
                )
            })
        });
    }
    g.bench_function("modify_user/handwritten", |b| {
        b.iter(|| {
            i = (i + 7919) % n;
            black_box(f.hand.modify_user(&ids[i], |u| {
                u.failed_login_count = Some(u.failed_login_count.unwrap_or(0) + 1)
            }))
        })
    });
    g.finish();

    // The two sides wrote the same rows.
    let id = &ids[n / 3];
    let a = f.hand.get_by_id(id).unwrap();
    assert_eq!(f.pg.get_user_by_id(id).unwrap(), Some(a));
}

/// The ratios again, measured interleaved: for each workload, rounds of
/// a block of calls on our side then a block of the same calls
/// hand-written (in turn first), each round's ratio the quotient of the
/// two blocks' times; the median over the rounds. A machine whose load
/// drifts (other processes) moves both blocks of a round alike, where
/// criterion's separate runs, seconds apart, see different loads.
/// `ARAGORA_BENCH_INTERLEAVED=<rounds>` runs this instead of criterion.
fn interleaved(f: &mut Fixture, rounds: usize) {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
    let n = f.n_users;
    let ids: Vec<String> = (0..n).map(|i| user_row(i).id).collect();
    let mut k = 0usize;
    type Call<'a> = Box<dyn FnMut(&mut Fixture, usize) + 'a>;
    let workloads: Vec<(&str, usize, Call<'_>, Call<'_>)> = vec![
        (
            "get_by_id",
            200,
            Box::new(|f, i| {
                black_box(f.pg.get_user_by_id(&ids[i % n]).unwrap().unwrap());
            }),
            Box::new(|f, i| {
                black_box(f.hand.get_by_id(&ids[i % n]).unwrap());
            }),
        ),
        (
            "get_by_email",
            200,
            Box::new(|f, i| {
                let e = format!("user{}@example.com", i % n);
                black_box(f.pg.get_user_by_email(&e).unwrap().unwrap());
            }),
            Box::new(|f, i| {
                let e = format!("user{}@example.com", i % n);
                black_box(f.hand.get_by_email(&e).unwrap());
            }),
        ),
        (
            "org_page_50",
            20,
            Box::new(|f, i| {
                let o = org_id(i % N_ORGS);
                black_box(f.pg.list_users_by_org(&o, Page::first(PAGE)).unwrap());
            }),
            Box::new(|f, i| {
                black_box(f.hand.org_page(&org_id(i % N_ORGS)));
            }),
        ),
        (
            "create_user",
            10,
            Box::new(|f, _| {
                k += 1;
                let e = format!("ab-ours-{k}@example.com");
                let org = org_id(k % N_ORGS);
                black_box(
                    f.pg.create_user(&e, "bcrypt:h", "", "New", Some(&org), "member")
                        .unwrap(),
                );
            }),
            Box::new(|f, i| {
                let e = format!("ab-hand-{i}-{}@example.com", new_uuid());
                black_box(f.hand.create_user(&e, "New", &org_id(i % N_ORGS)));
            }),
        ),
        (
            "modify_user",
            10,
            Box::new(|f, i| {
                black_box(
                    f.pg.modify_user(&ids[i % n], |u| {
                        u.failed_login_count = Some(u.failed_login_count.unwrap_or(0) + 1)
                    })
                    .unwrap(),
                );
            }),
            Box::new(|f, i| {
                black_box(f.hand.modify_user(&ids[i % n], |u| {
                    u.failed_login_count = Some(u.failed_login_count.unwrap_or(0) + 1)
                }));
            }),
        ),
    ];
    for (name, calls, mut ours, mut hand) in workloads {
        let mut ratios = Vec::with_capacity(rounds);
        let (mut o_us, mut h_us) = (Vec::new(), Vec::new());
        let mut i = 0usize;
        // Warm up both sides.
        for _ in 0..calls {
            i = i.wrapping_add(7919);
            ours(f, i);
            hand(f, i);
        }
        for round in 0..rounds {
            let time = |side: &mut Call<'_>, f: &mut Fixture, start: usize| {
                let t = std::time::Instant::now();
                for c in 0..calls {
                    side(f, start.wrapping_add(c * 7919));
                }
                t.elapsed().as_secs_f64() * 1e6 / calls as f64
            };
            i = i.wrapping_add(calls * 7919);
            let (o, h) = if round % 2 == 0 {
                let o = time(&mut ours, f, i);
                (o, time(&mut hand, f, i))
            } else {
                let h = time(&mut hand, f, i);
                (time(&mut ours, f, i), h)
            };
            ratios.push(o / h);
            o_us.push(o);
            h_us.push(h);
        }
        println!(
            "interleaved {name}: ours {:.1} us, hand-written {:.1} us, ratio {:.3} (median of {rounds} rounds of {calls} calls)",
            median(o_us),
            median(h_us),
            median(ratios)
        );
    }
}

fn main() {
    let Some(mut admin) = admin() else {
        return;
    };
    let bench = BenchDb::create(&mut admin);
    drop(admin);
    let mut f = fixture(&bench);
    if let Some(rounds) = std::env::var("ARAGORA_BENCH_INTERLEAVED")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        interleaved(&mut f, rounds);
        drop(f);
        drop(bench);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &mut f);
    c.final_summary();
    drop(f);
    drop(bench);
}
