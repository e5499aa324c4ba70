//! `tangle sync` on a tangled chapter whose outputs an edit script changed: refused with a
//! located message, or carried back exactly (checked by `check/sync.rs`).
#![no_main]

#[path = "../check/sync.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check_sync(data));
