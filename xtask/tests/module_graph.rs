//! The top-level modules of each crate form an acyclic graph: a module
//! may name another through `crate::` or `super::` only when that one does
//! not (directly or through others) name it back.
//!
//! `KNOWN_CYCLES` lists the cycles that exist while the crates are being
//! split; the test fails on any cycle not in it, and reports (without
//! failing) entries that no longer occur so they can be deleted.

use std::path::{Path, PathBuf};

use xtask::modules::{cycles, workspace_graphs};

/// Cycles allowed for now, per crate, as `cargo xtask modules` prints them.
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .unwrap_or(here.to_path_buf())
}

#[test]
fn module_graphs_have_no_new_cycles() {
    let graphs = workspace_graphs(&workspace_root()).unwrap();
    assert!(
        graphs.iter().any(|g| g.crate_name == "fasty-storage"),
        "the workspace's crates were not found"
    );
    let mut new = Vec::new();
    for graph in &graphs {
        print!("{}", graph.to_text());
        let known = KNOWN_CYCLES
            .iter()
            .find(|(name, _)| *name == graph.crate_name)
            .map_or(&[][..], |(_, c)| c);
        let found = cycles(graph).unwrap();
        for cycle in &found {
            if known.contains(&cycle.as_str()) {
                println!("  known cycle: {cycle}");
            } else {
                // Name the reference behind each step of the cycle.
                let modules: Vec<&str> = cycle.split(" -> ").collect();
                let steps: Vec<String> = modules
                    .windows(2)
                    .map(|w| {
                        let site = graph
                            .edges
                            .get(w[0])
                            .and_then(|to| to.get(w[1]))
                            .map_or("?", String::as_str);
                        format!("{} -> {} ({site})", w[0], w[1])
                    })
                    .collect();
                new.push(format!(
                    "{}: {cycle}\n      {}",
                    graph.crate_name,
                    steps.join("\n      ")
                ));
            }
        }
        for gone in known.iter().filter(|k| !found.iter().any(|f| f == *k)) {
            println!(
                "  gone: {gone} (delete it from KNOWN_CYCLES in {})",
                file!()
            );
        }
    }
    assert!(
        new.is_empty(),
        "new module cycles (break them, e.g. by moving the shared part into \
         its own module):\n  {}",
        new.join("\n  ")
    );
}
