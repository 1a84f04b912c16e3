//! The module graph of each workspace crate, and the cycles in it.
//!
//! A crate's top-level modules (`src/engine.rs`, or everything under
//! `src/sst/`, counted as one module `sst`) are the nodes; an edge `a -> b`
//! means code in `a` names `b` through `crate::b…`, `super::b…` (from a
//! file directly under `src/`) or an item the crate root re-exports from
//! `b` (`crate::Error` when `lib.rs` has `pub use error::Error`). The crate
//! root itself (`lib.rs`, `main.rs`) is not a node: its `mod` and `pub use`
//! lines are not dependencies of one module on another. Files under
//! `src/bin/` are separate crates and are skipped.
//!
//! The source is read as tokens, not parsed: comments, strings and
//! `$crate` (macros) are skipped, `pub(in crate::x)` is not a reference,
//! and inline `mod name { … }` blocks are followed so that `super::` inside
//! one resolves to its own file's module. Code in a `#[cfg(test)] mod … { }`
//! block is not counted: a module's unit tests may use the whole crate
//! (open a `Database` to test `verify`) without that being a dependency of
//! the module itself.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How deeply nested `use` groups (`a::{b::{c, …}}`) may be before the
/// reader gives up on a path; real code stays far below it.
const MAX_USE_DEPTH: usize = 32;

/// The most elementary cycles [`cycles`] lists before it stops: a module
/// graph with more than this is tangled beyond what a list can explain.
pub const MAX_CYCLES: usize = 10_000;

/// One crate's top-level modules and the references between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// The package name (`fasty-storage`).
    pub crate_name: String,
    /// Every top-level module, whether or not it has edges.
    pub modules: BTreeSet<String>,
    /// `from -> (to -> first place it is referenced, as "file:line")`.
    pub edges: BTreeMap<String, BTreeMap<String, String>>,
}

impl Graph {
    /// A graph of the given edges, for tests and hand-made examples.
    pub fn from_edges(crate_name: &str, edges: &[(&str, &str)]) -> Graph {
        let mut graph = Graph {
            crate_name: crate_name.to_string(),
            ..Graph::default()
        };
        for &(from, to) in edges {
            graph.modules.insert(from.to_string());
            graph.modules.insert(to.to_string());
            graph.add_edge(from, to, "");
        }
        graph
    }

    fn add_edge(&mut self, from: &str, to: &str, site: &str) {
        self.edges
            .entry(from.to_string())
            .or_default()
            .entry(to.to_string())
            .or_insert_with(|| site.to_string());
    }

    /// The modules `from` references, in name order.
    pub fn targets(&self, from: &str) -> impl Iterator<Item = &str> {
        self.edges
            .get(from)
            .into_iter()
            .flat_map(|to| to.keys().map(String::as_str))
    }

    /// The graph as text: one line per module with what it references.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n", self.crate_name);
        for module in &self.modules {
            let to: Vec<&str> = self.targets(module).collect();
            if to.is_empty() {
                let _ = writeln!(out, "  {module}");
            } else {
                let _ = writeln!(out, "  {module} -> {}", to.join(", "));
            }
        }
        out
    }

    /// The graph in Graphviz's dot language.
    pub fn to_dot(&self) -> String {
        let mut out = format!("digraph \"{}\" {{\n", self.crate_name);
        for module in &self.modules {
            let _ = writeln!(out, "  \"{module}\";");
            for to in self.targets(module) {
                let _ = writeln!(out, "  \"{module}\" -> \"{to}\";");
            }
        }
        out.push_str("}\n");
        out
    }
}

/// Every elementary cycle of `graph`, each written `a -> b -> a` starting
/// at its smallest module name, in name order. Errors past [`MAX_CYCLES`].
pub fn cycles(graph: &Graph) -> Result<Vec<String>, String> {
    let nodes: Vec<&str> = graph.modules.iter().map(String::as_str).collect();
    let mut found = Vec::new();
    for &start in &nodes {
        // Each cycle is found once, from its smallest node: the search
        // only walks through nodes that sort after `start`.
        let mut path = vec![start];
        let mut stack = vec![graph.targets(start).collect::<Vec<_>>().into_iter()];
        while let Some(next) = stack.last_mut().map(Iterator::next) {
            match next {
                None => {
                    stack.pop();
                    path.pop();
                }
                Some(to) if to == start => {
                    let mut cycle = path.join(" -> ");
                    let _ = write!(cycle, " -> {start}");
                    found.push(cycle);
                    if found.len() > MAX_CYCLES {
                        return Err(format!(
                            "{} has more than {MAX_CYCLES} module cycles",
                            graph.crate_name
                        ));
                    }
                }
                Some(to) if to > start && !path.contains(&to) => {
                    path.push(to);
                    stack.push(graph.targets(to).collect::<Vec<_>>().into_iter());
                }
                Some(_) => {}
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The workspace members named in the root `Cargo.toml`, as
/// `(folder, package name)`, in the manifest's order.
pub fn workspace_crates(root: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let manifest = read(&root.join("Cargo.toml"))?;
    // `members = [ ... ]`, on one line or several.
    let members = manifest
        .lines()
        .position(|l| l.trim_start().starts_with("members"))
        .map(|at| {
            // Without comments (`# …` to the end of the line).
            let rest: Vec<&str> = manifest
                .lines()
                .skip(at)
                .map(|l| l.split('#').next().unwrap_or(""))
                .collect();
            let text = rest.join("\n");
            let end = text.find(']').map_or(text.len(), |e| e + 1);
            text[..end].to_string()
        })
        .ok_or("the root Cargo.toml has no `members = [...]` list")?;
    let members = members.trim_start().trim_start_matches("members");
    let mut crates = Vec::new();
    for member in members.split(['[', ']', ',', '=', '\n']) {
        let member = member.trim().trim_matches('"');
        if member.is_empty() {
            continue;
        }
        let dir = root.join(member);
        let name = package_name(&read(&dir.join("Cargo.toml"))?).unwrap_or(member.to_string());
        crates.push((dir, name));
    }
    Ok(crates)
}

/// The `name` of a manifest's `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package && let Some(v) = line.strip_prefix("name") {
            let v = v.trim_start();
            if let Some(v) = v.strip_prefix('=') {
                return Some(v.trim().trim_matches('"').to_string());
            }
        }
    }
    None
}

/// The module graph of the crate in `dir` (its `src/**.rs`, without
/// `src/bin/`), named `crate_name`.
pub fn crate_graph(dir: &Path, crate_name: &str) -> Result<Graph, String> {
    let src = dir.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files)?;
    files.sort();
    let mut graph = Graph {
        crate_name: crate_name.to_string(),
        ..Graph::default()
    };
    let mut sources = Vec::new();
    let mut reexports = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).map_err(|e| e.to_string())?;
        let Some(path) = module_path(rel) else {
            continue;
        };
        let text = read(&file)?;
        let tokens = tokenize(&text);
        match path.first() {
            None => reexports.extend(root_imports(&tokens)),
            Some(top) => {
                graph.modules.insert(top.clone());
            }
        }
        sources.push((rel.to_path_buf(), path, tokens));
    }
    // Files of `#[cfg(test)] mod name;` declarations are unit tests: like
    // inline test modules, they may use the whole crate.
    let test_files: Vec<Vec<String>> = sources
        .iter()
        .flat_map(|(_, path, tokens)| {
            test_module_decls(tokens).into_iter().map(move |name| {
                let mut p = path.clone();
                p.push(name);
                p
            })
        })
        .collect();
    let shown = dir.file_name().map(PathBuf::from).unwrap_or_default();
    for (rel, path, tokens) in &sources {
        let Some(from) = path.first() else {
            continue;
        };
        if test_files.iter().any(|t| path.starts_with(t)) {
            continue;
        }
        for (name, line) in references(tokens, path.len()) {
            let to = if graph.modules.contains(&name) {
                Some(&name)
            } else {
                reexports.get(&name)
            };
            if let Some(to) = to.filter(|to| *to != from && graph.modules.contains(*to)) {
                let site = format!("{}:{line}", shown.join("src").join(rel).display());
                let to = to.clone();
                graph.add_edge(from, &to, &site);
            }
        }
    }
    Ok(graph)
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Every `.rs` file under `dir`, except those under `dir/bin`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "bin") && dir.ends_with("src") {
                continue;
            }
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The module path of a file relative to `src/`: `[]` for the crate root
/// (`lib.rs`, `main.rs`), `["sst", "block"]` for `sst/block.rs`,
/// `["sst"]` for `sst/mod.rs`; `None` for what is not a module file.
pub fn module_path(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return Some(Vec::new());
    }
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    (!parts.is_empty()).then_some(parts)
}

/// One token of Rust source, with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A name or keyword.
    Ident(String, usize),
    /// `::`.
    PathSep,
    /// Any other punctuation character (`{`, `}`, `,`, `;`, `$`, `*`, …).
    Punct(char),
    /// A literal (number, string, char), reduced to nothing.
    Literal,
}

/// The source as tokens, without comments and with literals emptied.
pub fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' || ((c == 'r' || c == 'b') && starts_string(&chars, i)) {
            // `"…"`, `b"…"`, `r#"…"#`, `br"…"`.
            let mut j = i;
            if chars[j] == 'b' {
                j += 1;
            }
            let raw = chars[j] == 'r';
            if raw {
                j += 1;
            }
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1; // the opening quote
            while j < chars.len() {
                match chars[j] {
                    '\\' if !raw => j += 2,
                    '"' if (1..=hashes).all(|k| at(j + k) == '#') => {
                        j += 1 + hashes;
                        break;
                    }
                    ch => {
                        if ch == '\n' {
                            line += 1;
                        }
                        j += 1;
                    }
                }
            }
            tokens.push(Token::Literal);
            i = j;
        } else if c == '\'' {
            // A char literal (`'a'`, `'\n'`, `b'x'` arrives as `b` then
            // this) or a lifetime (`'a`), which is skipped.
            if at(i + 1) == '\\' {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                tokens.push(Token::Literal);
                i = j + 1;
            } else if at(i + 2) == '\'' {
                tokens.push(Token::Literal);
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Ident(chars[start..i].iter().collect(), line));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token::Literal);
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push(Token::PathSep);
            i += 2;
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    tokens
}

/// Whether a string literal with a `b` or `r` prefix starts at `i`.
fn starts_string(chars: &[char], i: usize) -> bool {
    // Not the tail of a longer name (`attr"` cannot occur, but `bar` can).
    if i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_') {
        return false;
    }
    let mut j = i;
    if chars.get(j) == Some(&'b') {
        j += 1;
    }
    if chars.get(j) == Some(&'r') {
        j += 1;
        while chars.get(j) == Some(&'#') {
            j += 1;
        }
    }
    j > i && chars.get(j) == Some(&'"')
}

/// One path of a `use` tree or expression: its segments and the name it
/// binds (the last segment, or the `as` alias; `*` for a glob).
#[derive(Debug, Clone, PartialEq, Eq)]
struct UsePath {
    segments: Vec<String>,
    binding: String,
}

/// Reads a path or use tree starting at `tokens[*i]`, appending each full
/// path under `prefix` to `out`; stops after the tree.
fn use_tree(
    tokens: &[Token],
    i: &mut usize,
    prefix: &[String],
    depth: usize,
    out: &mut Vec<UsePath>,
) {
    if depth > MAX_USE_DEPTH {
        return;
    }
    let mut segments = prefix.to_vec();
    loop {
        match tokens.get(*i) {
            Some(Token::Ident(name, _)) if name == "self" && segments.len() > prefix.len() => {
                // `a::self` cannot occur; treat as the end of the path.
                break;
            }
            Some(Token::Ident(name, _)) if name == "self" && !prefix.is_empty() => {
                // `a::{self, …}` binds `a`.
                *i += 1;
                let binding = alias(tokens, i).unwrap_or_else(|| prefix[prefix.len() - 1].clone());
                out.push(UsePath { segments, binding });
                return;
            }
            Some(Token::Ident(name, _)) => {
                segments.push(name.clone());
                *i += 1;
                if tokens.get(*i) == Some(&Token::PathSep) {
                    *i += 1;
                    continue;
                }
                let binding = alias(tokens, i).unwrap_or_else(|| name.clone());
                out.push(UsePath { segments, binding });
                return;
            }
            Some(Token::Punct('{')) => {
                *i += 1;
                loop {
                    match tokens.get(*i) {
                        None => return,
                        Some(Token::Punct('}')) => {
                            *i += 1;
                            return;
                        }
                        Some(Token::Punct(',')) => *i += 1,
                        Some(_) => {
                            let before = *i;
                            use_tree(tokens, i, &segments, depth + 1, out);
                            if *i == before {
                                *i += 1;
                            }
                        }
                    }
                }
            }
            Some(Token::Punct('*')) => {
                *i += 1;
                out.push(UsePath {
                    segments,
                    binding: "*".to_string(),
                });
                return;
            }
            _ => break,
        }
    }
    if segments.len() > prefix.len() {
        let binding = segments.last().cloned().unwrap_or_default();
        out.push(UsePath { segments, binding });
    }
}

/// The alias after `as`, consuming it.
fn alias(tokens: &[Token], i: &mut usize) -> Option<String> {
    match (tokens.get(*i), tokens.get(*i + 1)) {
        (Some(Token::Ident(kw, _)), Some(Token::Ident(name, _))) if kw == "as" => {
            *i += 2;
            Some(name.clone())
        }
        _ => None,
    }
}

/// What the crate root imports from its own modules: name -> module
/// (`pub use engine::{Engine, Stats}` gives `Engine -> engine`,
/// `Stats -> engine`).
fn root_imports(tokens: &[Token]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let mut braces = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct('{') => braces += 1,
            Token::Punct('}') => braces = braces.saturating_sub(1),
            Token::Ident(kw, _) if kw == "use" && braces == 0 => {
                i += 1;
                let mut paths = Vec::new();
                use_tree(tokens, &mut i, &[], 0, &mut paths);
                for p in paths {
                    let mut segments = p.segments.iter();
                    let first = match segments.next().map(String::as_str) {
                        Some("crate" | "self") => segments.next(),
                        _ => p.segments.first(),
                    };
                    if let Some(first) = first
                        && p.binding != "*"
                    {
                        map.insert(p.binding.clone(), first.clone());
                    }
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    map
}

/// The crate-level names the tokens of one file reference through
/// `crate::` or through `super::` reaching the crate root, with the line
/// of each reference. `file_depth` is the file's module depth (1 for
/// `src/engine.rs`, 2 for `src/sst/block.rs`).
pub fn references(tokens: &[Token], file_depth: usize) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let mut braces = 0usize;
    // The brace depth at which each enclosing inline `mod name { … }` ends.
    let mut inline_mods: Vec<usize> = Vec::new();
    // The brace depth of the outermost `#[cfg(test)]` inline module open.
    let mut in_test: Option<usize> = None;
    let mut i = 0;
    while i < tokens.len() {
        let prev = i.checked_sub(1).and_then(|p| tokens.get(p));
        match &tokens[i] {
            Token::Punct('{') => {
                braces += 1;
                let is_mod = i >= 2
                    && matches!(&tokens[i - 2], Token::Ident(kw, _) if kw == "mod")
                    && matches!(&tokens[i - 1], Token::Ident(..));
                if is_mod {
                    inline_mods.push(braces);
                    if in_test.is_none() && is_cfg_test(tokens, i - 2) {
                        in_test = Some(braces);
                    }
                }
            }
            Token::Punct('}') => {
                if inline_mods.last() == Some(&braces) {
                    inline_mods.pop();
                }
                if in_test == Some(braces) {
                    in_test = None;
                }
                braces = braces.saturating_sub(1);
            }
            Token::Ident(kw, line)
                if (kw == "crate" || kw == "super")
                    && tokens.get(i + 1) == Some(&Token::PathSep)
                    && !matches!(prev, Some(Token::Punct('$') | Token::PathSep))
                    && !matches!(prev, Some(Token::Ident(p, _)) if p == "in") =>
            {
                let line = *line;
                let mut j = i;
                let mut paths = Vec::new();
                use_tree(tokens, &mut j, &[], 0, &mut paths);
                let depth = file_depth + inline_mods.len();
                for p in paths.into_iter().filter(|_| in_test.is_none()) {
                    let supers = p.segments.iter().take_while(|s| *s == "super").count();
                    let rest = match p.segments.first().map(String::as_str) {
                        Some("crate") => p.segments.get(1),
                        // Only a `super::` chain that climbs to the crate
                        // root leaves the file's own top-level module.
                        Some("super") if supers == depth => p.segments.get(supers),
                        _ => None,
                    };
                    if let Some(name) = rest.filter(|n| *n != "self" && *n != "super") {
                        found.push((name.clone(), line));
                    }
                }
                i = j.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The names of the `#[cfg(test)] mod name;` declarations (modules in
/// files of their own) among `tokens`.
fn test_module_decls(tokens: &[Token]) -> Vec<String> {
    (0..tokens.len().saturating_sub(2))
        .filter_map(|i| match (&tokens[i], &tokens[i + 1], &tokens[i + 2]) {
            (Token::Ident(kw, _), Token::Ident(name, _), Token::Punct(';'))
                if kw == "mod" && is_cfg_test(tokens, i) =>
            {
                Some(name.clone())
            }
            _ => None,
        })
        .collect()
}

/// Whether the `mod` keyword at `tokens[at]` carries `#[cfg(test)]`
/// among its attributes.
fn is_cfg_test(tokens: &[Token], at: usize) -> bool {
    let ident = |j: usize, s: &str| matches!(tokens.get(j), Some(Token::Ident(n, _)) if n == s);
    let mut j = at;
    // Skip `pub`, `pub(crate)`, `pub(super)`.
    if j >= 1 && tokens[j - 1] == Token::Punct(')') {
        while j >= 1 && tokens[j - 1] != Token::Punct('(') {
            j -= 1;
        }
        j = j.saturating_sub(1);
    }
    if j >= 1 && ident(j - 1, "pub") {
        j -= 1;
    }
    // Walk back over `#[…]` attributes.
    while j >= 1 && tokens[j - 1] == Token::Punct(']') {
        let end = j - 1;
        let mut start = end;
        while start >= 1 && tokens[start] != Token::Punct('[') {
            start -= 1;
        }
        if start == 0 || tokens[start - 1] != Token::Punct('#') {
            return false;
        }
        let inner = &tokens[start + 1..end];
        if inner.len() == 4
            && ident(start + 1, "cfg")
            && inner[1] == Token::Punct('(')
            && ident(start + 3, "test")
            && inner[3] == Token::Punct(')')
        {
            return true;
        }
        j = start - 1;
    }
    false
}

/// The module graph of every workspace crate under `root`.
pub fn workspace_graphs(root: &Path) -> Result<Vec<Graph>, String> {
    workspace_crates(root)?
        .into_iter()
        .map(|(dir, name)| crate_graph(&dir, &name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str, depth: usize) -> Vec<String> {
        references(&tokenize(src), depth)
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn no_cycles_in_a_chain() {
        let g = Graph::from_edges("t", &[("a", "b"), ("b", "c"), ("a", "c")]);
        assert_eq!(cycles(&g), Ok(vec![]));
    }

    #[test]
    fn a_two_cycle_is_found_once() {
        let g = Graph::from_edges("t", &[("b", "a"), ("a", "b"), ("b", "c")]);
        assert_eq!(cycles(&g), Ok(vec!["a -> b -> a".to_string()]));
    }

    #[test]
    fn every_elementary_cycle_is_listed_from_its_smallest_module() {
        // c -> a -> b -> c, plus the chord b -> a, plus an unrelated d -> e.
        let g = Graph::from_edges(
            "t",
            &[("c", "a"), ("a", "b"), ("b", "c"), ("b", "a"), ("d", "e")],
        );
        assert_eq!(
            cycles(&g),
            Ok(vec![
                "a -> b -> a".to_string(),
                "a -> b -> c -> a".to_string()
            ])
        );
    }

    #[test]
    fn two_separate_cycles() {
        let g = Graph::from_edges(
            "t",
            &[("x", "y"), ("y", "x"), ("p", "q"), ("q", "r"), ("r", "p")],
        );
        assert_eq!(
            cycles(&g),
            Ok(vec![
                "p -> q -> r -> p".to_string(),
                "x -> y -> x".to_string()
            ])
        );
    }

    #[test]
    fn text_and_dot_name_every_edge() {
        let g = Graph::from_edges("t", &[("a", "b")]);
        assert_eq!(g.to_text(), "t\n  a -> b\n  b\n");
        assert!(g.to_dot().contains("\"a\" -> \"b\";"));
    }

    #[test]
    fn crate_paths_and_groups() {
        let src = "use crate::engine::Engine;\n\
                   use crate::{cache::{self, Cache}, error::Error as E, types::*};\n\
                   fn f() { crate::flush::run(); }";
        assert_eq!(
            refs(src, 1),
            ["engine", "cache", "cache", "error", "types", "flush"]
        );
    }

    #[test]
    fn super_counts_only_when_it_reaches_the_root() {
        // In src/engine.rs, `super::x` is the crate root's x; inside its
        // `mod tests`, `super::x` is engine's own x.
        let src = "use super::flush;\nmod tests { use super::*; use super::helper; \
                   fn f() { super::super::iter::g(); } }\nuse super::{memtable, version};";
        assert_eq!(refs(src, 1), ["flush", "iter", "memtable", "version"]);
        // In src/sst/block.rs, `super::` is sst itself.
        assert!(refs("use super::bloom; use super::super::cache;", 2) == ["cache"]);
    }

    #[test]
    fn comments_strings_macros_and_visibility_are_not_references() {
        let src = "// use crate::a;\n/* crate::b /* nested */ crate::c */\n\
                   const S: &str = \"crate::d\"; const R: &str = r#\"crate::e\"#;\n\
                   macro_rules! m { () => { $crate::f::g() } }\n\
                   pub(in crate::h) fn x<'a>(c: char) -> char { let _ = 'x'; '\\n' }\n\
                   use crate::real;";
        assert_eq!(refs(src, 1), ["real"]);
    }

    #[test]
    fn unit_test_files_are_not_dependencies() {
        let dir = tempfile_dir("unit_test_files");
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("a")).unwrap();
        std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
        std::fs::write(
            src.join("a/mod.rs"),
            "#[cfg(test)]\nmod tests;\nmod inner;\n",
        )
        .unwrap();
        std::fs::write(src.join("a/tests.rs"), "use crate::b::f;\n").unwrap();
        std::fs::write(src.join("a/inner.rs"), "").unwrap();
        std::fs::write(src.join("b.rs"), "use crate::a::g;\n").unwrap();
        let graph = crate_graph(&dir, "t").unwrap();
        assert_eq!(graph.to_text(), "t\n  a\n  b -> a\n");
        std::fs::write(src.join("a/inner.rs"), "use crate::b::f;\n").unwrap();
        let graph = crate_graph(&dir, "t").unwrap();
        assert_eq!(cycles(&graph).unwrap(), vec!["a -> b -> a".to_string()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn unit_test_modules_are_not_dependencies() {
        let src = "use crate::a;\n#[cfg(test)]\nmod tests { use crate::b; mod deeper { use crate::c; } }\n\
                   #[cfg(test)] #[allow(dead_code)] pub(crate) mod more { fn f() { crate::d::g() } }\n\
                   #[cfg(feature = \"x\")] mod gated { use crate::e; }\nuse crate::f;";
        assert_eq!(refs(src, 1), ["a", "e", "f"]);
    }

    #[test]
    fn root_reexports_resolve_to_their_module() {
        let tokens = tokenize(
            "mod engine; pub use engine::{Engine, Stats as EngineStats};\n\
             pub use error::{Error, Result}; use crate::types::Seqno;\n\
             fn f() { use inner::Hidden; }",
        );
        let map = root_imports(&tokens);
        assert_eq!(map.get("Engine").map(String::as_str), Some("engine"));
        assert_eq!(map.get("EngineStats").map(String::as_str), Some("engine"));
        assert_eq!(map.get("Result").map(String::as_str), Some("error"));
        assert_eq!(map.get("Seqno").map(String::as_str), Some("types"));
        assert_eq!(map.get("Hidden"), None);
    }

    #[test]
    fn workspace_members_on_one_line_or_several() {
        let dir = std::env::temp_dir().join(format!("xtask-members-{}", std::process::id()));
        for (name, manifest) in [
            (
                "one",
                "[workspace]\nmembers = [\"a\", \"b\"]\nexclude = [\"c\"]\n",
            ),
            (
                "several",
                "[workspace]\nmembers = [\n  \"a\",\n  \"b\", # a comment\n]\n",
            ),
        ] {
            let root = dir.join(name);
            for member in ["a", "b"] {
                std::fs::create_dir_all(root.join(member)).unwrap();
                std::fs::write(
                    root.join(member).join("Cargo.toml"),
                    format!("[package]\nname = \"pkg-{member}\"\n"),
                )
                .unwrap();
            }
            std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
            let names: Vec<String> = workspace_crates(&root)
                .unwrap()
                .into_iter()
                .map(|(_, n)| n)
                .collect();
            assert_eq!(names, ["pkg-a", "pkg-b"], "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn module_paths_of_files() {
        let p = |s: &str| module_path(Path::new(s));
        assert_eq!(p("lib.rs"), Some(vec![]));
        assert_eq!(p("main.rs"), Some(vec![]));
        assert_eq!(p("engine.rs"), Some(vec!["engine".to_string()]));
        assert_eq!(p("sst/mod.rs"), Some(vec!["sst".to_string()]));
        assert_eq!(
            p("sst/block.rs"),
            Some(vec!["sst".to_string(), "block".to_string()])
        );
        assert_eq!(p("README.md"), None);
    }
}
