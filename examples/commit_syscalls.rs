//! Runs one-row durable commits (the users bench's `durable_commit`: one
//! `AuditLog::log_event` each), for counting the system calls a commit
//! makes (BENCHMARKS.md, "Durable commits: system calls"):
//!
//! ```text
//! cargo build --example commit_syscalls
//! strace -f -c -e trace=pwrite64,write,fsync,fdatasync,fallocate,ftruncate \
//!     target/debug/examples/commit_syscalls DIR 1000
//! ```
//!
//! The first argument is an empty directory for the store; the second,
//! the number of commits (0 measures the setup alone, to subtract).

use aragora_db::config::Config;
use aragora_db::store::{AuditEvent, AuditLog};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: commit_syscalls DIR COMMITS");
    let n: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: commit_syscalls DIR COMMITS");
    let cfg = Config::for_dir(std::path::Path::new(&dir));
    let audit = AuditLog::open(&cfg).expect("open the audit log");
    for i in 0..n {
        audit
            .log_event(AuditEvent {
                action: "login".into(),
                user_id: Some(format!("u{}", i % 500)),
                metadata: Some("{\"ip\": \"10.0.0.1\"}".into()),
                ..AuditEvent::default()
            })
            .expect("commit");
    }
}
