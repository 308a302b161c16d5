use redb::{Database, Durability, TableDefinition};
use std::time::Instant;
const T: TableDefinition<u64, &[u8]> = TableDefinition::new("t");
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("x.redb")).unwrap();
    for tables in [1usize, 2, 6] {
        for two in [false, true] {
            let n = 300;
            let t = Instant::now();
            for i in 0..n {
                let mut w = db.begin_write().unwrap();
                w.set_two_phase_commit(two);
                w.set_durability(Durability::Immediate).unwrap();
                for k in 0..tables {
                    let name = format!("t{k}");
                    let mut tb = w
                        .open_table(TableDefinition::<u64, &[u8]>::new(&name))
                        .unwrap();
                    tb.insert(i as u64, [7u8; 200].as_slice()).unwrap();
                }
                w.commit().unwrap();
            }
            println!(
                "tables={tables} two_phase={two}: {:?}/commit",
                t.elapsed() / n
            );
        }
    }
    let _ = T;
    let conn = rusqlite::Connection::open(dir.path().join("s.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch("create table t(id integer primary key, v blob)")
        .unwrap();
    let t = Instant::now();
    for i in 0..300 {
        conn.execute(
            "insert into t values (?1, ?2)",
            rusqlite::params![i, vec![7u8; 200]],
        )
        .unwrap();
    }
    println!("sqlite full: {:?}", t.elapsed() / 300);
}
