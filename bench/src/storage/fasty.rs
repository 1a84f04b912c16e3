//! fasty's storage engine (`fasty_storage::Engine`) on one I/O backend.
//!
//! Writes are one `WriteBatch` with one put per `apply`, with sequence
//! numbers 1, 2, 3, …; the engine has no write-ahead log at this layer, so
//! nothing is fsynced per write. Flush and full compaction are the engine's
//! own `flush` and `compact`.

use std::path::Path;

use fasty_storage::{Engine, IoBackend, Options, WriteBatch};

use super::{Error, KvStore, Result, StoreConfig};

/// Which I/O backend the engine writes through.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// io_uring (opening fails rather than falling back to std).
    Uring,
    /// Plain `std::fs`.
    Std,
}

/// How the engine was configured, for the notes under the table.
pub fn setup(backend: Backend, config: &StoreConfig) -> String {
    let io = match backend {
        Backend::Uring => "IoBackend::Uring",
        Backend::Std => "IoBackend::Std",
    };
    format!(
        "fasty_storage::Engine with {io}, one WriteBatch per put, no WAL at this layer; \
         block_cache_budget {} MiB; other options default",
        config.cache_bytes >> 20
    )
}

/// An open engine and the next sequence number to write.
pub struct FastyStore {
    engine: Engine,
    next_seqno: u64,
    /// Reused for every put, as an application writing in a loop would.
    batch: WriteBatch,
}

impl FastyStore {
    /// Creates an engine in `dir` on `backend`.
    pub fn open(dir: &Path, backend: Backend, config: &StoreConfig) -> Result<FastyStore> {
        let io = match backend {
            Backend::Uring => IoBackend::Uring,
            Backend::Std => IoBackend::Std,
        };
        let budget = config
            .cache_bytes
            .try_into()
            .map_err(|_| Error::WrongResult {
                system: "fasty",
                what: format!("cache budget {} does not fit", config.cache_bytes),
            })?;
        let opts = Options::default()
            .with_io(io)
            .with_block_cache_budget(budget);
        Ok(FastyStore {
            engine: Engine::open(dir, opts)?,
            next_seqno: 1,
            batch: WriteBatch::new(),
        })
    }
}

impl KvStore for FastyStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.batch.clear();
        self.batch.put(key, value);
        self.engine.apply(&self.batch, self.next_seqno)?;
        self.next_seqno += 1;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.engine.flush()?;
        Ok(())
    }

    fn compact(&mut self) -> Result<()> {
        self.engine.compact()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.engine.get(key)?.map(|v| v.len()))
    }

    fn scan_all(&self) -> Result<(u64, u64)> {
        let (mut entries, mut bytes) = (0u64, 0u64);
        for item in self.engine.scan(..) {
            let (k, v) = item?;
            entries += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        Ok((entries, bytes))
    }

    fn close(self: Box<Self>) -> Result<()> {
        let FastyStore { engine, .. } = *self;
        engine.close()?;
        Ok(())
    }
}
