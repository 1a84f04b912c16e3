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

/// What the model checks read from: the engine or one of its snapshots.
pub trait Reads {
    fn get(&self, key: &[u8]) -> fasty_storage::Result<Option<bytes::Bytes>>;
    fn scan_in(&self, l: &Bound<Vec<u8>>, u: &Bound<Vec<u8>>, rev: bool) -> fasty_storage::Scan;
}

impl Reads for fasty_storage::Engine {
    fn get(&self, key: &[u8]) -> fasty_storage::Result<Option<bytes::Bytes>> {
        fasty_storage::Engine::get(self, key)
    }
    fn scan_in(&self, l: &Bound<Vec<u8>>, u: &Bound<Vec<u8>>, rev: bool) -> fasty_storage::Scan {
        let range = as_range(l, u);
        if rev {
            self.scan_rev(range)
        } else {
            self.scan(range)
        }
    }
}

impl Reads for fasty_storage::Snapshot {
    fn get(&self, key: &[u8]) -> fasty_storage::Result<Option<bytes::Bytes>> {
        fasty_storage::Snapshot::get(self, key)
    }
    fn scan_in(&self, l: &Bound<Vec<u8>>, u: &Bound<Vec<u8>>, rev: bool) -> fasty_storage::Scan {
        let range = as_range(l, u);
        if rev {
            self.scan_rev(range)
        } else {
            self.scan(range)
        }
    }
}

/// `r.get(key)` must say what the model says.
pub fn check_get(r: &impl Reads, m: &Model, key: &[u8]) {
    let got = r.get(key).expect("get").map(|v| v.to_vec());
    assert_eq!(got.as_ref(), m.get(key), "get {key:?}");
}

/// A scan of `(l, u)` in either direction must return what the model holds,
/// read as an iterator and through `Scan::visit` (stopped after the first
/// pair, then resumed).
pub fn check_scan(r: &impl Reads, m: &Model, l: &Bound<Vec<u8>>, u: &Bound<Vec<u8>>, rev: bool) {
    let want = model_scan(m, l, u, rev);
    let got = collect(r.scan_in(l, u, rev));
    assert_eq!(got, want, "scan {l:?}..{u:?} rev={rev}");
    let mut visited = Vec::new();
    let mut scan = r.scan_in(l, u, rev);
    for _ in 0..2 {
        scan.visit(|k, v| {
            visited.push((k.to_vec(), v.to_vec()));
            visited.len() > 1
        })
        .expect("visit failed");
    }
    assert_eq!(visited, want, "visit {l:?}..{u:?} rev={rev}");
}
