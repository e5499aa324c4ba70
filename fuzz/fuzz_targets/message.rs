//! A real `libmessage::Message` fed the input as a client's bytes over a socket pair; every
//! reply frame checked by `check/message.rs`.
#![no_main]

#[path = "../check/message.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check_message(data));
