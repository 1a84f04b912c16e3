//! fasty-storage: an ordered key-value engine (LSM tree).
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![warn(missing_docs)]

mod cache;
pub mod error;
pub mod io;
mod sst;
mod types;

pub use error::{Error, Result};
pub use io::IoBackend;
pub use types::Seqno;
