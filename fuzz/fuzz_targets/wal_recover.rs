//! Arbitrary bytes framed into one or two log segments of a database
//! directory: verifying and opening (recovery and replay) must never
//! panic. Slower than `wal_segment` (files and an open per input).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    // A 0xFF byte splits the input into the two segments' descriptions.
    let segments: Vec<Vec<u8>> = data
        .splitn(2, |&b| b == 0xFF)
        .map(fasty_wal::fuzzing::framed_segment)
        .collect();
    fasty_wal::fuzzing::recover(dir.path(), &segments);
});
