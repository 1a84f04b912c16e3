//! What every benchmark's output is made of: [`stats`] (median, range,
//! percentiles over repeated runs), [`ratio`] (fasty ÷ peer, oriented so
//! that > 1 means fasty is ahead whatever the unit), [`table`] (markdown
//! tables), [`format`] (numbers as the tables print them, JSON scalars),
//! [`svg`] (the ratio grid) and where a run happened ([`git_commit`];
//! the machine is [`crate::machine`]). Each benchmark's own report module
//! keeps only its rows and columns.

pub mod format;
pub mod ratio;
pub mod stats;
#[cfg(feature = "http")]
pub mod svg;
pub mod table;

/// The commit being measured (`git rev-parse --short HEAD` in the crate's
/// source tree), with `-dirty` when the work tree has changes; `unknown`
/// outside a checkout.
pub fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{hash}-dirty"),
            _ => hash,
        },
        None => "unknown".into(),
    }
}
