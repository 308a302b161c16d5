//! The SQLite reader: differential tests against real SQLite, one fixture
//! per bad-input catalogue row, read-only guarantees and fuzz replays.

mod common;
mod differential;
mod fuzz_replay;
mod malformed;
mod ondemand;
mod readonly;
mod reserved;
mod schema;
