//! The top-level modules of each crate form an acyclic graph: a module
//! may name another through `crate::` or `super::` only when that one does
//! not (directly or through others) name it back. Unit-test modules do not
//! count (they may use the whole crate).

use std::path::{Path, PathBuf};

use xtask::modules::{cycles, workspace_graphs};

fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .map(Path::to_path_buf)
        .unwrap_or(here.to_path_buf())
}

#[test]
fn module_graphs_have_no_cycles() {
    let graphs = workspace_graphs(&workspace_root()).unwrap();
    assert!(
        graphs.iter().any(|g| g.crate_name == "fasty-storage"),
        "the workspace's crates were not found"
    );
    let mut found = Vec::new();
    for graph in &graphs {
        print!("{}", graph.to_text());
        for cycle in cycles(graph).unwrap() {
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
            found.push(format!(
                "{}: {cycle}\n      {}",
                graph.crate_name,
                steps.join("\n      ")
            ));
        }
    }
    assert!(
        found.is_empty(),
        "module cycles (break them, e.g. by moving the shared part into \
         its own module):\n  {}",
        found.join("\n  ")
    );
}
