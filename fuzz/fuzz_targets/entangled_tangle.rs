//! Entangled books in memory: settings from the first byte, documents from the rest (split at
//! NUL), every output's line map and every diagnostic checked by `check/tangle.rs`.
#![no_main]

#[path = "../check/tangle.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check_entangled(data));
