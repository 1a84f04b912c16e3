//! Arbitrary bytes as the body of `POST /query`: parsing must accept it
//! or reject it with a JSON error, never panic or overflow its stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fasty_server::fuzzing::parse_body(data);
});
