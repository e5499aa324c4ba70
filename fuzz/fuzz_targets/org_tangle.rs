//! `tangle_org` on arbitrary text: every output's line map and every diagnostic checked by
//! `check/tangle.rs`.
#![no_main]

#[path = "../check/tangle.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check_org(data));
