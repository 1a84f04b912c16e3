//! Helpers shared by the integration tests: the `BTreeMap` model's view of
//! a scan, and the real I/O backends to run crash tests over.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use fasty_storage::io::Io;
use fasty_storage::io::std_fs::StdIo;
use fasty_storage::io::uring::UringIo;

/// The model: what the engine should hold.
pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// What a scan over `(l, u)` should return, keys ascending or (with `rev`)
/// descending; an empty or inverted range gives nothing (where
/// `BTreeMap::range` would panic).
pub fn model_scan(
    m: &Model,
    l: &Bound<Vec<u8>>,
    u: &Bound<Vec<u8>>,
    rev: bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<_> = m
        .iter()
        .filter(|(k, _)| {
            let above = match l {
                Bound::Included(b) => *k >= b,
                Bound::Excluded(b) => *k > b,
                Bound::Unbounded => true,
            };
            let below = match u {
                Bound::Included(b) => *k <= b,
                Bound::Excluded(b) => *k < b,
                Bound::Unbounded => true,
            };
            above && below
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if rev {
        out.reverse();
    }
    out
}

/// Owned bounds as the borrowed pair `Engine::scan` takes.
pub fn as_range<'a>(
    l: &'a Bound<Vec<u8>>,
    u: &'a Bound<Vec<u8>>,
) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (l.as_ref().map(Vec::as_slice), u.as_ref().map(Vec::as_slice))
}

/// Drains a scan into owned pairs, failing the test on an error.
pub fn collect(scan: fasty_storage::Scan) -> Vec<(Vec<u8>, Vec<u8>)> {
    scan.map(|r| {
        let (k, v) = r.expect("scan failed");
        (k.to_vec(), v.to_vec())
    })
    .collect()
}

/// The real backends under a simulated crash: std, and io_uring where the
/// kernel allows a ring.
pub fn backends() -> Vec<Arc<dyn Io>> {
    let mut v: Vec<Arc<dyn Io>> = vec![Arc::new(StdIo::new())];
    match UringIo::new() {
        Ok(io) => v.push(Arc::new(io)),
        Err(e) => eprintln!("io_uring unavailable here, crash tests run on std only: {e}"),
    }
    v
}
