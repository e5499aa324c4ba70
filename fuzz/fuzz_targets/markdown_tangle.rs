//! The Markdown tangle in memory: chapters built from the input (split at NUL), every output's
//! line map and every diagnostic checked by `check/tangle.rs`.
#![no_main]

#[path = "../check/tangle.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check_markdown(data));
