#![no_main]
//! cargo-fuzz target: `aragora_db::fuzzing::crypto_header` (see fuzz/README.md).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| aragora_db::fuzzing::crypto_header(data));
