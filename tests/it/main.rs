//! The integration tests, in one binary (as ripgrep and redb do).

mod cli;
mod common;
mod concurrency;
mod constraints;
mod corrupt;
mod fuzz_corpus;
mod model;
mod process;
mod sqlite;
mod stores;
mod tables;
