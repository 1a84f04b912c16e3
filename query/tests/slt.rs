//! The sqllogictest runner: every `tests/slt/**/*.slt` (statement tests,
//! one file per topic, plus `regressions/`) and every `tests/explain/*.slt`
//! (plan snapshots) is one test, run on a fresh in-memory database.
//!
//! How fasty's results print as sqllogictest lines (type letters, nulls,
//! bools, json, errors) is described in tests/support/slt_db.rs and in
//! tests/slt/README.md. `FASTY_BLESS=1` rewrites the expected results of
//! the files run with what fasty gives now (for new explain snapshots);
//! read the diff before committing it.

use std::path::{Path, PathBuf};

use sqllogictest::harness::{Arguments, Failed, Trial};

#[path = "support/slt_db.rs"]
mod slt_db;

/// Every `*.slt` file under `dir`, sorted, recursively.
fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            slt_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "slt") {
            out.push(p);
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = Vec::new();
    slt_files(&root.join("slt"), &mut files);
    slt_files(&root.join("explain"), &mut files);
    assert!(!files.is_empty(), "no .slt files under {}", root.display());
    let bless = std::env::var_os("FASTY_BLESS").is_some_and(|v| v == "1");
    let trials = files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .display()
                .to_string();
            Trial::test(name, move || {
                let res = if bless {
                    slt_db::bless_file(&path)
                } else {
                    slt_db::run_file(&path)
                };
                res.map_err(Failed::from)
            })
        })
        .collect();
    sqllogictest::harness::run(&Arguments::from_args(), trials).exit();
}
