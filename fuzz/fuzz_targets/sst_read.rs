//! Arbitrary bytes as an SST file: opening and reading must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    fasty_storage::fuzzing::read_table(&dir.path().join("000000000001.sst"), data);
});
