//! io_uring backend (being written).

use super::std_fs::StdIo;
use crate::error::{Error, Result};

/// [`super::Io`] over io_uring.
pub type UringIo = StdIo;

impl StdIo {
    /// Placeholder until the ring backend lands: always refuses.
    pub fn new_uring() -> Result<Self> {
        Err(Error::InvalidArgument("io_uring backend not built yet".into()))
    }
}
