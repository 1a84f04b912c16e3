//! Arbitrary bytes as an encoded write batch: decoding must never panic,
//! and what decodes must re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = fasty_storage::WriteBatch::from_bytes(data) {
        assert_eq!(batch.as_bytes(), data);
        assert_eq!(batch.iter().count(), batch.len());
    }
});
