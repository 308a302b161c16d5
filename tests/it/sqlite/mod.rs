//! The SQLite reader: differential tests against real SQLite, one fixture
//! per file-format rule a damaged file can break, read-only guarantees and
//! fuzz replays.

mod common;
mod differential;
mod fuzz_replay;
mod malformed;
mod ondemand;
mod readonly;
mod reserved;
mod schema;
