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
mod store_calibration;
mod store_elo;
mod store_explainability;
mod store_genesis;
mod store_policy;
mod store_webhooks;
mod stores;
mod tables;
