//! One writer and 16 readers (reliability matrix R25). The writer moves
//! amounts between accounts (both balance index keys move) and now and then
//! renames one (its unique index key moves); every reader snapshot must show
//! the constant total, every row reachable through both indexes, and a clean
//! `check_table`. Readers must see no errors. The writer's p99 commit
//! latency with readers is printed beside its latency alone (no timing
//! assertion).
//!
//! `ARAGORA_R25_SECS` (default 30; 3 in a debug build) is the time with readers; the writer-alone
//! phase runs a third of it; `ARAGORA_R25_READER_PAUSE_MS` makes readers
//! pause between snapshots. The documented run:
//! `ARAGORA_R25_SECS=300 cargo test --release --test it readers:: -- --nocapture`.

use crate::crashkit::{ACCOUNTS, Account, opts};
use aragora_db::Database;
use aragora_db::storage::fault::SplitMix;
use aragora_db::table::Read;
use aragora_db::table::check::check_table;
use aragora_db::table::{KeyRange, Page};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const ACCOUNTS_N: i64 = 64;
const READERS: usize = 16;

/// Runs the writer until `stop`; returns each commit's latency.
fn writer(db: &Database, stop: &AtomicBool, seed: u64) -> Vec<Duration> {
    let mut rng = SplitMix(seed);
    let mut lat = Vec::new();
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let a = rng.below(ACCOUNTS_N as u64) as i64;
        let b = (a + 1 + rng.below(ACCOUNTS_N as u64 - 1) as i64) % ACCOUNTS_N;
        let amount = rng.below(100) as i64;
        let rename = round.is_multiple_of(5);
        let t = Instant::now();
        db.write(|w| {
            let mut x: Account = w.get(a)?.expect("account");
            let mut y: Account = w.get(b)?.expect("account");
            x.balance -= amount;
            y.balance += amount;
            if rename {
                x.name = format!("acct-{a}-{round}");
            }
            w.update(&x)?;
            w.update(&y)
        })
        .unwrap();
        lat.push(t.elapsed());
    }
    lat
}

fn percentile(lat: &mut [Duration], p: f64) -> Duration {
    lat.sort();
    lat[((lat.len() as f64 - 1.0) * p).round() as usize]
}

/// One reader snapshot's checks; returns a description of what is wrong.
fn check_snapshot(db: &Database) -> Result<(), String> {
    let r = db.read().map_err(|e| e.to_string())?;
    let rows: Vec<Account> = r
        .scan(KeyRange::all(), Page::default())
        .map_err(|e| e.to_string())?;
    let total: i64 = rows.iter().map(|a| a.balance).sum();
    if rows.len() as i64 != ACCOUNTS_N || total != ACCOUNTS_N * 1000 {
        return Err(format!("{} rows, total {total}", rows.len()));
    }
    let by_balance: Vec<Account> = r
        .scan_index(
            Account::idx_crash_accounts_balance,
            KeyRange::all(),
            Page::default(),
        )
        .map_err(|e| e.to_string())?;
    if by_balance.len() != rows.len() || by_balance.windows(2).any(|w| w[0].balance > w[1].balance)
    {
        return Err("balance index disagrees with the rows".into());
    }
    for a in &rows {
        let got: Option<Account> = r
            .get_by(Account::idx_crash_accounts_name, a.name.as_str())
            .map_err(|e| e.to_string())?;
        if got.as_ref() != Some(a) {
            return Err(format!("name index misses {}", a.name));
        }
    }
    let problems = check_table(&r, &ACCOUNTS).map_err(|e| e.to_string())?;
    match problems.first() {
        Some(p) => Err(p.to_string()),
        None => Ok(()),
    }
}

#[test]
fn readers_check_invariants_beside_one_writer() {
    let secs: u64 = std::env::var("ARAGORA_R25_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) { 3 } else { 30 });
    // Readers may pause between snapshots, to tell CPU starvation of the
    // writer apart from blocking (RELIABILITY.md, R25).
    let pause = Duration::from_millis(
        std::env::var("ARAGORA_R25_READER_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    );
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_path(&dir.path().join("r25.redb"), vec![&ACCOUNTS], &opts()).unwrap();
    db.write(|w| {
        for id in 0..ACCOUNTS_N {
            w.insert(&Account {
                id,
                name: format!("acct-{id}"),
                balance: 1000,
                ..Account::default()
            })?;
        }
        Ok(())
    })
    .unwrap();

    // The writer alone.
    let stop = AtomicBool::new(false);
    let mut alone = std::thread::scope(|s| {
        let w = s.spawn(|| writer(&db, &stop, 1));
        std::thread::sleep(Duration::from_secs(secs.div_ceil(3)));
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap()
    });

    // The writer with 16 readers.
    let stop = Arc::new(AtomicBool::new(false));
    let snapshots = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (db, stop, snapshots) = (db.clone(), stop.clone(), snapshots.clone());
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = check_snapshot(&db) {
                        errors.push(e);
                    }
                    snapshots.fetch_add(1, Ordering::Relaxed);
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                }
                errors
            })
        })
        .collect();
    let start = Instant::now();
    let mut with = std::thread::scope(|s| {
        let w = s.spawn(|| writer(&db, &stop, 2));
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap()
    });
    let errors: Vec<String> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    let reader_secs = start.elapsed().as_secs_f64() * READERS as f64;
    let snapshots = snapshots.load(Ordering::Relaxed);
    println!(
        "R25: {READERS} readers (pause {pause:?}) x {secs} s = {reader_secs:.0} reader-seconds, {snapshots} snapshots \
         checked, {} reader errors; writer commits: {} alone in {} s, {} with readers in {secs} s; \
         commit latency p50/p99: alone {:?}/{:?}, with readers {:?}/{:?}",
        errors.len(),
        alone.len(),
        secs.div_ceil(3),
        with.len(),
        percentile(&mut alone, 0.5),
        percentile(&mut alone, 0.99),
        percentile(&mut with, 0.5),
        percentile(&mut with, 0.99),
    );
    assert!(
        errors.is_empty(),
        "reader errors: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert!(snapshots > 0 && !with.is_empty() && !alone.is_empty());
    crate::common::assert_consistent(&db);
}

/// `Database::read` shares one redb snapshot between reads until the next
/// commit: a read begun after a commit (by this thread or another) sees
/// it, a snapshot taken before keeps its state, and reads with no commit
/// between them agree. Failed and dropped write transactions commit nothing.
#[test]
fn readers_shared_snapshot_sees_every_commit_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        Database::open_path(&dir.path().join("shared.redb"), vec![&ACCOUNTS], &opts()).unwrap();
    let account = |id: i64, balance: i64| Account {
        id,
        name: format!("a{id}"),
        balance,
        ..Account::default()
    };
    let balance =
        |r: &aragora_db::table::Reader, id: i64| r.get::<Account>(id).unwrap().map(|a| a.balance);
    db.write(|w| w.insert(&account(1, 10))).unwrap();
    let before = db.read().unwrap();
    let same = db.read().unwrap();
    assert_eq!(balance(&before, 1), Some(10));
    assert_eq!(balance(&same, 1), Some(10));

    db.write(|w| w.update(&account(1, 20))).unwrap();
    let after = db.read().unwrap();
    assert_eq!(
        balance(&after, 1),
        Some(20),
        "a read after a commit sees it"
    );
    assert_eq!(
        balance(&before, 1),
        Some(10),
        "an older snapshot keeps its state"
    );
    assert_eq!(balance(&same, 1), Some(10));

    // A failed write commits nothing; reads still share the newest state.
    let err = db.write(|w| {
        w.update(&account(1, 30))?;
        Err::<(), _>(aragora_db::Error::InvalidArgument("rolled back".into()))
    });
    assert!(err.is_err());
    assert_eq!(balance(&db.read().unwrap(), 1), Some(20));

    // A read inside a write transaction sees the state before it; the
    // next read after its commit sees the commit.
    db.write(|w| {
        w.insert(&account(2, 5))?;
        assert_eq!(balance(&db.read().unwrap(), 2), None);
        Ok(())
    })
    .unwrap();
    assert_eq!(balance(&db.read().unwrap(), 2), Some(5));
    assert_eq!(
        db.read()
            .unwrap()
            .get_by(Account::idx_crash_accounts_name, "a2")
            .unwrap()
            .map(|a| a.balance),
        Some(5)
    );

    // Commits on other threads: each one is visible to this thread's
    // next read once the other thread's write has returned.
    for i in 0..50 {
        let db2 = db.clone();
        std::thread::spawn(move || db2.write(|w| w.update(&account(2, 100 + i))).unwrap())
            .join()
            .unwrap();
        assert_eq!(balance(&db.read().unwrap(), 2), Some(100 + i));
    }
}
