//! Entry points for the fuzz targets in `fuzz/` (outside the workspace and
//! CI). Not part of the supported API.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::io::std_fs::StdIo;
use crate::sst::Table;

/// Opens `bytes`, written to `path`, as an SST and reads all of it: a full
/// scan both ways and a point lookup of every key seen. Any outcome but a
/// panic is fine; errors are expected for most inputs.
pub fn read_table(path: &Path, bytes: &[u8]) {
    if std::fs::write(path, bytes).is_err() {
        return;
    }
    let cache = Arc::new(BlockCache::new(1 << 20));
    let Ok(table) = Table::open(path, 1, cache, Arc::new(StdIo::new())) else {
        return;
    };
    let table = Arc::new(table);
    let mut keys = Vec::new();
    for reverse in [false, true] {
        for entry in table.iter(Bound::Unbounded, Bound::Unbounded, reverse) {
            match entry {
                Ok(e) => keys.push((e.key, e.seqno)),
                Err(_) => break,
            }
        }
    }
    for (key, seqno) in keys {
        let _ = table.get(&key, seqno);
    }
}

/// Decodes `bytes` as a manifest.
pub fn decode_manifest(bytes: &[u8]) {
    let _ = crate::manifest::Manifest::decode(bytes, Path::new("MANIFEST"));
}
