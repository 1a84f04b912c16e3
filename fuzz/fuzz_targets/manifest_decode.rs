//! Arbitrary bytes as a manifest: decoding must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fasty_storage::fuzzing::decode_manifest(data);
});
