//! The compare suite end to end on tiny data, for every system that needs
//! no external server: each workload line gets a figure from each system
//! (the harness checks every answer against the generated data, so a
//! figure means the system answered correctly), and the three report files
//! are written and agree with each other.

use std::process::Command;

/// Systems that run inside the harness's process (PostgreSQL needs a
/// server, so it is left to `cargo xtask bench`). DuckDB joins them when
/// built in (`--features duckdb`, a 20-minute build that CI skips).
const LOCAL: &[&str] = &[
    "fasty",
    "fasty-durable",
    "fasty-memory",
    "fasty-embedded",
    "fasty-embedded-durable",
    "sqlite",
    "sqlite-full",
];

fn local_systems() -> Vec<&'static str> {
    let mut systems = LOCAL.to_vec();
    if cfg!(feature = "duckdb") {
        systems.push("duckdb");
    }
    systems
}

#[test]
fn the_suite_measures_every_local_system_on_tiny_data() {
    let local = local_systems();
    let out = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    let run = Command::new(env!("CARGO_BIN_EXE_fasty-bench"))
        .args(["compare", "--quick", "--rows", "1000", "--seconds", "0.05"])
        .args([
            "--wal-mib",
            "1",
            "--repeat",
            "1",
            "--systems",
            &local.join(","),
        ])
        .arg("--out")
        .arg(out.path())
        .arg("--dir")
        .arg(data.path())
        .output()
        .expect("run fasty-bench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "fasty-bench failed:\n{stderr}");

    let json = std::fs::read_to_string(out.path().join("report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let results = report["results"].as_array().expect("results");
    let systems: Vec<&str> = report["systems"]
        .as_array()
        .expect("systems")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(systems, local);
    for entry in results {
        assert_eq!(
            entry["errors"].as_array().map(Vec::len),
            Some(0),
            "a run failed: {entry}"
        );
        let runs = entry["runs"].as_array().expect("runs");
        assert!(!runs.is_empty(), "no figure: {entry}");
        assert!(
            runs.iter()
                .all(|r| r.as_f64().is_some_and(|x| x.is_finite() && x >= 0.0)),
            "bad figure: {entry}"
        );
    }
    // Every timed line on every system, recovery and disk use on every
    // system that keeps data on disk.
    let lines = |system: &str| {
        results
            .iter()
            .filter(|e| e["system"] == system)
            .filter_map(|e| e["workload"].as_str())
            .collect::<Vec<_>>()
    };
    for system in &local {
        let got = lines(system);
        for w in [
            "load",
            "w1-single1",
            "w3-batch32",
            "w8-join-aggregate",
            "sustained-mixed",
            "latency-insert-p99",
        ] {
            assert!(got.contains(&w), "{system} has no {w} line: {got:?}");
        }
        let on_disk = *system != "fasty-memory";
        assert_eq!(got.contains(&"recovery"), on_disk, "{system}: {got:?}");
        // The TPC-B-like transactions: fasty with a log only (SQLite and
        // DuckDB do not implement them).
        let transactions = on_disk && system.starts_with("fasty");
        for w in ["tpcb-1", "tpcb-16"] {
            assert_eq!(got.contains(&w), transactions, "{system}: {got:?}");
        }
        assert_eq!(got.contains(&"disk-per-row"), on_disk, "{system}: {got:?}");
    }

    let md = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert!(md.contains("| W4 pk lookup, 32 clients | ops/s |"), "{md}");
    assert!(
        md.contains("tpcb-16 on fasty-durable: ") && md.contains("failed with a conflict"),
        "{md}"
    );
    assert!(md.contains("fasty-embedded ÷ sqlite"), "{md}");
    assert!(md.contains("fasty-embedded-durable ÷ sqlite-full"), "{md}");
    // sqlite (synchronous=NORMAL) against fasty's async mode: the write
    // ratios are marked and explained; sqlite-full pairs like with like.
    assert!(
        md.contains("† fasty-embedded ÷ sqlite pairs unlike durability"),
        "{md}"
    );
    assert!(!md.contains("÷ sqlite-full pairs unlike"), "{md}");
    let svg = std::fs::read_to_string(out.path().join("ratios.svg")).expect("ratios.svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains(">sqlite-full<"), "{svg}");
}

#[test]
fn an_unknown_system_is_refused_before_anything_runs() {
    let out = tempfile::tempdir().expect("temp dir");
    let run = Command::new(env!("CARGO_BIN_EXE_fasty-bench"))
        .args(["compare", "--quick", "--systems", "fasty,mysql", "--out"])
        .arg(out.path())
        .output()
        .expect("run fasty-bench");
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("unknown system \"mysql\""), "{stderr}");
    assert!(!out.path().join("report.json").exists());
}

/// `fasty-bench query` is the suite narrowed to fasty-embedded and SQLite
/// and to the relational layer's workloads, with report.md on stdout.
#[test]
fn query_is_compare_narrowed_to_the_embedded_systems_and_query_workloads() {
    let out = tempfile::tempdir().expect("temp dir");
    let data = tempfile::tempdir().expect("temp dir");
    let run = Command::new(env!("CARGO_BIN_EXE_fasty-bench"))
        .args(["query", "--quick", "--rows", "1000", "--seconds", "0.05"])
        .args(["--repeat", "1", "--out"])
        .arg(out.path())
        .arg("--dir")
        .arg(data.path())
        .output()
        .expect("run fasty-bench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "fasty-bench failed:\n{stderr}");
    let json = std::fs::read_to_string(out.path().join("report.json")).expect("report.json");
    let report: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let systems: Vec<&str> = report["systems"]
        .as_array()
        .expect("systems")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(systems, ["fasty-embedded", "sqlite"]);
    let mut workloads: Vec<&str> = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|e| e["workload"].as_str())
        .collect();
    workloads.dedup();
    workloads.sort_unstable();
    workloads.dedup();
    assert_eq!(
        workloads,
        [
            "load",
            "w10-group-by",
            "w11-id-range",
            "w4-pk1",
            "w5-email",
            "w6-range",
            "w7-top10",
            "w8-join-aggregate",
            "w9-count"
        ]
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    let md = std::fs::read_to_string(out.path().join("report.md")).expect("report.md");
    assert_eq!(stdout, md);
    assert!(md.contains("fasty-embedded ÷ sqlite"), "{md}");
}
