//! Arbitrary text as a statement: the parser must return a statement or a
//! syntax error, never panic or overflow its stack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = fasty_query::fuzzing::parse(&text);
});
