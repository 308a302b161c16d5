//! PostgreSQL mode under concurrency: 4 processes × 4 threads through the
//! store API on one database (the embedded counterpart is concurrency.rs).
//!
//! The test re-runs this test binary as the children, selecting the ignored
//! `child_worker` test with `ARAGORA_TEST_PGCONC` set; the children reach
//! the database the way a deployment does (`DATABASE_URL` and
//! `ARAGORA_DB_BACKEND=postgres`). Each child prints one `RESULT` line of
//! what it did; the parent checks the database against the sums:
//!
//! - ratings: games counted == matches recorded × 2, elo sum conserved;
//! - the organization's `debates_used_this_month` == increments made;
//! - a debate's `view_count` == increments made;
//! - racing `create_user` on shared emails: exactly one user per email,
//!   every other attempt `Error::Unique`;
//! - audit ids distinct and counted; the genesis ledger's chain verifies.

use crate::export_pg::{TempDb, available};
use aragora_db::Error;
use aragora_db::config::Config;
use aragora_db::store::elo::{EloStore, MatchInput};
use aragora_db::store::genesis::GenesisLedger;
use aragora_db::store::nomic::{NewDebateArtifact, NomicStore};
use aragora_db::store::{AuditEvent, AuditLog, AuditQuery, OrganizationStore, UserStore};
use std::collections::{BTreeMap, HashSet};
use std::process::{Command, Stdio};
use std::time::Instant;

const PROCS: usize = 4;
const THREADS: usize = 4;
const ROUNDS: usize = 12;
const EMAILS: usize = 6;
const AGENTS: [&str; 4] = ["claude", "gpt", "gemini", "grok"];
const ORG: &str = "conc-org";
const DEBATE: &str = "conc-debate";

fn config(dir: &std::path::Path, url: &str) -> Config {
    let dir = dir.to_path_buf();
    let url = url.to_string();
    Config::from_lookup(move |k| match k {
        "ARAGORA_DATA_DIR" => Some(dir.display().to_string()),
        "ARAGORA_DB_BACKEND" => Some("postgres".into()),
        "DATABASE_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap()
}

/// Whether an error is PostgreSQL's deadlock or serialization failure
/// (the only failures a race may cause; nothing of the call is written).
pub fn is_conflict(e: &Error) -> bool {
    use postgres::error::SqlState;
    match e {
        Error::Postgres { source, .. } => source.code().is_some_and(|c| {
            *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
        }),
        _ => false,
    }
}

#[derive(Default, Debug)]
struct Tally {
    matches: u64,
    usage: i64,
    views: i64,
    users_ok: u64,
    users_dup: u64,
    audits: u64,
    genesis: u64,
    conflicts: u64,
    ops: u64,
}

#[test]
fn four_processes_four_threads_lose_nothing() {
    if !available() {
        return;
    }
    let db = TempDb::new("pgconc");
    let url = format!("postgresql://postgres@127.0.0.1:5432/{}", db.name);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &url);

    // Fixtures every child updates.
    let users = UserStore::open(&cfg).unwrap();
    let owner = users
        .create_user("owner@x.io", "h", "", "Owner", None, "admin")
        .unwrap();
    let orgs = OrganizationStore::open(&cfg).unwrap();
    let org = orgs
        .create_organization("Conc", &owner.id, Some(ORG), "free")
        .unwrap();
    let nomic = NomicStore::open(&cfg).unwrap();
    nomic
        .save_debate(&NewDebateArtifact {
            id: Some(DEBATE.into()),
            loop_id: "l".into(),
            phase: "debate".into(),
            task: "t".into(),
            confidence: 0.5,
            ..NewDebateArtifact::default()
        })
        .unwrap();
    let genesis = GenesisLedger::open(&cfg).unwrap();
    let root = genesis
        .record("debate_start", None, serde_json::json!({"root": true}))
        .unwrap();

    let started = Instant::now();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            Command::new(&exe)
                .args([
                    "pg_concurrency::child_worker",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("ARAGORA_TEST_PGCONC", p.to_string())
                .env("ARAGORA_TEST_PGCONC_ORG", &org.id)
                .env("ARAGORA_TEST_PGCONC_ROOT", &root.event_id)
                .env("ARAGORA_DATA_DIR", dir.path().join(format!("p{p}")))
                .env("ARAGORA_DB_BACKEND", "postgres")
                .env("DATABASE_URL", &url)
                .env_remove("ARAGORA_TEST_BACKEND")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = Tally::default();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        for l in stdout.lines().filter(|l| l.contains("CONFLICT")) {
            eprintln!("{l}");
        }
        assert!(
            out.status.success(),
            "child failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("RESULT ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}"));
        let f: BTreeMap<&str, i64> = line
            .split_whitespace()
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k, v.parse().unwrap())
            })
            .collect();
        total.matches += f["matches"] as u64;
        total.usage += f["usage"];
        total.views += f["views"];
        total.users_ok += f["users_ok"] as u64;
        total.users_dup += f["users_dup"] as u64;
        total.audits += f["audits"] as u64;
        total.genesis += f["genesis"] as u64;
        total.conflicts += f["conflicts"] as u64;
        total.ops += f["ops"] as u64;
    }
    let elapsed = started.elapsed();
    eprintln!(
        "pg_concurrency: {} store calls in {elapsed:.2?} ({:.0} calls/s) across {PROCS} processes × {THREADS} threads; {total:?}",
        total.ops,
        total.ops as f64 / elapsed.as_secs_f64()
    );

    // Every store call here locks its rows in one order (ratings by
    // name, then sequences), so no deadlock is expected at all.
    assert_eq!(total.conflicts, 0, "deadlocks or serialization failures");

    // Ratings: every recorded match counted once for both players, and
    // the two-player elo changes sum to zero.
    let elo = EloStore::open(&cfg).unwrap();
    assert_eq!(elo.count_matches().unwrap(), total.matches);
    let ratings = elo.ratings().unwrap();
    let games: i64 = ratings.iter().map(|r| r.debates_count.unwrap_or(0)).sum();
    assert_eq!(games as u64, total.matches * 2, "{ratings:?}");
    let wins: i64 = ratings.iter().map(|r| r.wins.unwrap_or(0)).sum();
    let losses: i64 = ratings.iter().map(|r| r.losses.unwrap_or(0)).sum();
    assert_eq!(wins as u64, total.matches);
    assert_eq!(losses as u64, total.matches);
    let sum: f64 = ratings.iter().map(|r| r.elo.unwrap_or(1500.0)).sum();
    let want = 1500.0 * ratings.len() as f64;
    assert!((sum - want).abs() < 1e-6, "elo sum {sum} != {want}");

    // Counters.
    let org = orgs.get_organization_by_id(&org.id).unwrap().unwrap();
    assert_eq!(org.debates_used_this_month, Some(total.usage));
    let d = nomic.get_debate(DEBATE).unwrap().unwrap();
    assert_eq!(d.view_count, Some(total.views));

    // One user per raced email; every other attempt was a unique error.
    assert_eq!(total.users_ok, EMAILS as u64);
    assert_eq!(
        total.users_ok + total.users_dup,
        (PROCS * THREADS * EMAILS) as u64
    );
    for k in 0..EMAILS {
        let u = users.get_user_by_email(&format!("race{k}@x.io")).unwrap();
        assert!(u.is_some(), "race{k}");
    }
    assert_eq!(users.count_users().unwrap(), EMAILS as u64 + 1);

    // Audit ids: one per logged event, all distinct.
    let audit = AuditLog::open(&cfg).unwrap();
    let n = audit.count(&AuditQuery::default()).unwrap();
    assert_eq!(n, total.audits);

    // The genesis ledger: every event there, every hash and parent sound.
    assert_eq!(genesis.count().unwrap(), total.genesis + 1);
    let problems = genesis.verify_chain().unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
#[ignore = "run as a child process by four_processes_four_threads_lose_nothing"]
fn child_worker() {
    let Ok(proc) = std::env::var("ARAGORA_TEST_PGCONC") else {
        return;
    };
    let proc: usize = proc.parse().unwrap();
    let org = std::env::var("ARAGORA_TEST_PGCONC_ORG").unwrap();
    let root = std::env::var("ARAGORA_TEST_PGCONC_ROOT").unwrap();
    let cfg = Config::from_env().unwrap();
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|t| {
                let cfg = &cfg;
                let org = org.as_str();
                let root = root.as_str();
                s.spawn(move || worker(cfg, proc, t, org, root))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut t = Tally::default();
    for x in tallies {
        t.matches += x.matches;
        t.usage += x.usage;
        t.views += x.views;
        t.users_ok += x.users_ok;
        t.users_dup += x.users_dup;
        t.audits += x.audits;
        t.genesis += x.genesis;
        t.conflicts += x.conflicts;
        t.ops += x.ops;
    }
    println!(
        "RESULT matches={} usage={} views={} users_ok={} users_dup={} audits={} genesis={} conflicts={} ops={}",
        t.matches,
        t.usage,
        t.views,
        t.users_ok,
        t.users_dup,
        t.audits,
        t.genesis,
        t.conflicts,
        t.ops
    );
}

fn worker(cfg: &Config, proc: usize, thread: usize, org: &str, root: &str) -> Tally {
    let users = UserStore::open(cfg).unwrap();
    let orgs = OrganizationStore::open(cfg).unwrap();
    let nomic = NomicStore::open(cfg).unwrap();
    let elo = EloStore::open(cfg).unwrap();
    let audit = AuditLog::open(cfg).unwrap();
    let genesis = GenesisLedger::open(cfg).unwrap();
    let mut t = Tally::default();
    let mut seen = HashSet::new();
    let mut parent = root.to_string();
    // A conflict (deadlock, serialization failure) fails the call with
    // nothing written; counted, never hidden.
    let check = |r: Result<(), Error>, t: &mut Tally| -> bool {
        t.ops += 1;
        match r {
            Ok(()) => true,
            Err(e) if is_conflict(&e) => {
                println!("CONFLICT proc {proc} thread {thread}: {e:?}");
                t.conflicts += 1;
                false
            }
            Err(e) => panic!("proc {proc} thread {thread}: {e}"),
        }
    };
    for round in 0..ROUNDS {
        // Emails raced by every thread of every process.
        if round < EMAILS {
            t.ops += 1;
            match users.create_user(&format!("race{round}@x.io"), "h", "", "R", None, "member") {
                Ok(_) => t.users_ok += 1,
                Err(Error::Unique { .. }) => t.users_dup += 1,
                Err(e) => panic!("create_user: {e}"),
            }
        }
        // A match between two agents, in both orders across threads.
        let i = (proc + thread + round) % AGENTS.len();
        let j = (i + 1 + round % (AGENTS.len() - 1)) % AGENTS.len();
        let id = format!("m-{proc}-{thread}-{round}");
        let m = MatchInput::head_to_head(&id, AGENTS[i], AGENTS[j], false, None);
        if check(elo.record_match(&m).map(drop), &mut t) {
            t.matches += 1;
        }
        if check(orgs.increment_usage(org, 2).map(drop), &mut t) {
            t.usage += 2;
        }
        let r = nomic.increment_views(DEBATE);
        if check(r.map(|n| assert!(n.is_some())), &mut t) {
            t.views += 1;
        }
        let r = audit.log_event(AuditEvent {
            action: format!("conc.{proc}.{thread}.{round}"),
            ..AuditEvent::default()
        });
        match r {
            Ok(id) => {
                assert!(seen.insert(id), "audit id {id} twice");
                t.audits += 1;
                t.ops += 1;
            }
            Err(e) => {
                let e = Err(e);
                check(e, &mut t);
            }
        }
        let r = genesis.record(
            "debate_spawn",
            Some(&parent),
            serde_json::json!({"p": proc, "t": thread, "r": round}),
        );
        match r {
            Ok(ev) => {
                parent = ev.event_id;
                t.genesis += 1;
                t.ops += 1;
            }
            Err(e) => {
                check(Err(e), &mut t);
            }
        }
    }
    t
}

/// Two transactions that lock two rows in opposite orders deadlock; the
/// server rolls one back with `40P01`. `write` reports it (nothing
/// written); `write_retrying` runs that transaction again and both land.
#[test]
fn a_deadlock_is_reported_by_write_and_retried_by_write_retrying_and_write_op() {
    if !available() {
        return;
    }
    use aragora_db::schema::users::User;
    use aragora_db::table::Read;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Barrier};
    let tmp = TempDb::new("deadlock");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!("postgresql://postgres@127.0.0.1:5432/{}", tmp.name),
    );
    let db = UserStore::open(&cfg).unwrap().db().clone();
    db.write(|w| {
        w.insert(&crate::common::user("u1", "u1@x.io", None))?;
        w.insert(&crate::common::user("u2", "u2@x.io", None))
    })
    .unwrap();
    let rename = |w: &mut aragora_db::table::Writer<'_>, id: &str, name: &str| {
        let mut u = w.get::<User>(id)?.expect("user");
        u.name = Some(name.into());
        w.update(&u)
    };
    // `write`, `write_retrying`, and `write_op` (every store operation
    // written as one transaction goes through it).
    for (retrying, via_op) in [(false, false), (true, false), (true, true)] {
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = [("u1", "u2", "a"), ("u2", "u1", "b")]
            .into_iter()
            .map(|(first, second, tag)| {
                let (db, barrier) = (db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let met = AtomicBool::new(false);
                    let body = |w: &mut aragora_db::table::Writer<'_>| {
                        rename(w, first, &format!("{tag}-{retrying}-{via_op}"))?;
                        // Only the first run waits for the other: a run
                        // again must not wait for a partner that is done.
                        if !met.swap(true, Ordering::SeqCst) {
                            barrier.wait();
                        }
                        rename(w, second, &format!("{tag}-{retrying}-{via_op}"))
                    };
                    if via_op {
                        db.write_op("test.rename", String::new, body)
                    } else if retrying {
                        db.write_retrying(body)
                    } else {
                        db.write(body)
                    }
                })
            })
            .collect();
        let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let failed: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        if retrying {
            assert!(failed.is_empty(), "{failed:?}");
        } else {
            assert_eq!(failed.len(), 1, "{results:?}");
            assert!(failed[0].is_transient_conflict(), "{}", failed[0]);
        }
        // Whichever committed last wrote both rows: never a mix.
        let r = db.read().unwrap();
        let names: Vec<String> = ["u1", "u2"]
            .iter()
            .map(|id| {
                r.get::<User>(*id)
                    .unwrap()
                    .unwrap()
                    .name
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(names[0], names[1], "{names:?}");
        assert!(
            names[0].ends_with(&format!("{retrying}-{via_op}")),
            "{names:?}"
        );
    }
}

/// Every store transaction goes through `write_retrying` or `write_op`
/// (docs/POSTGRES.md, "What is retried"): a plain `write` in a store is
/// one that a PostgreSQL deadlock fails instead of running again. The one
/// exception runs a caller's closure, which may not be safe twice.
#[test]
fn every_store_transaction_is_retried_but_the_one_that_runs_a_callers_closure() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut plain = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let path = e.path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut in_fn = String::new();
        for (n, line) in text.lines().enumerate() {
            if let Some(rest) = line.trim_start().strip_prefix("pub fn ") {
                in_fn = rest.split('(').next().unwrap_or_default().to_string();
            }
            let code = line.split("//").next().unwrap_or_default();
            if code.contains(".write(") || code.contains(".write_with(") {
                plain.push(format!(
                    "{}:{} (in {in_fn})",
                    path.file_name().unwrap().to_string_lossy(),
                    n + 1
                ));
            }
        }
    }
    assert_eq!(plain.len(), 1, "plain writes in src/store: {plain:#?}");
    assert!(plain[0].contains("(in modify_user)"), "{plain:?}");
}
