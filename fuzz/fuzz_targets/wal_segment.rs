//! Arbitrary bytes as a log segment, raw and framed into records with
//! good checksums: reading must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fasty_wal::fuzzing::scan(data);
    fasty_wal::fuzzing::scan(&fasty_wal::fuzzing::framed_segment(data));
});
