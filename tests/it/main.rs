//! The integration tests, in one binary (as ripgrep and redb do).

mod cli;
mod common;
mod concurrency;
mod constraints;
mod corrupt;
mod fuzz_corpus;
mod legacy_fixture;
mod model;
mod modes;
mod process;
mod sqlite;
mod store_calibration;
mod store_consensus;
mod store_continuum;
mod store_critique;
mod store_elo;
mod store_explainability;
mod store_genesis;
mod store_insights;
mod store_nomic;
mod store_personas;
mod store_policy;
mod store_positions;
mod store_webhooks;
mod stores;
mod tables;
