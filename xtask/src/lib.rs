//! The library behind `cargo xtask`: checks on the workspace's source that
//! tests can call as well as the command line.

pub mod modules;
