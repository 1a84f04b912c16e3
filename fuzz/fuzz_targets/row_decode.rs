//! Arbitrary bytes as a stored row (and as an index key's value) for a
//! few schemas: decoding must give values or a corruption error, never
//! panic, and what decodes must re-encode to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fasty_query::fuzzing::decode_row(data);
});
