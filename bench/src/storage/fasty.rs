//! fasty's storage engine (`fasty_storage::Engine`) on one I/O backend,
//! and the engine with its write-ahead log (`fasty_wal::Db`, async mode).
//!
//! Engine: writes are one `WriteBatch` with one put per `apply`, with
//! sequence numbers 1, 2, 3, …; the engine has no write-ahead log at this
//! layer, so nothing is logged or fsynced. Flush and full compaction are
//! the engine's own `flush` and `compact`.
//!
//! With the log (`fasty-wal`): one `WriteBatch` per `Db::write` in async
//! mode, each acknowledged once queued for the log writer, which writes
//! and fsyncs the log every 50 ms; the peer that journals (fjall) is
//! compared like with like against this one. Flush is `Db::checkpoint`
//! (memtables to tables, the log trimmed), compaction `Db::compact`.

use std::path::Path;

use std::sync::Arc;

use fasty_storage::{Engine, Field, IoBackend, Options, ValueLayout, WriteBatch};

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

/// How the engine with its log was configured, for the notes.
pub fn wal_setup(config: &StoreConfig) -> String {
    format!(
        "fasty_wal::Db in async mode (one WriteBatch per Db::write, acknowledged when \
         queued; the log writer writes and fsyncs every 50 ms), default I/O backend; \
         block_cache_budget {} MiB; other options default",
        config.cache_bytes >> 20
    )
}

/// The engine with its write-ahead log, in async mode.
pub struct FastyWalStore {
    db: fasty_wal::Db,
}

impl FastyWalStore {
    /// Creates a database in `dir`.
    pub fn open(dir: &Path, config: &StoreConfig) -> Result<FastyWalStore> {
        let mut opts = fasty_wal::Options::default();
        opts.storage.block_cache_budget = cache_budget(config)?;
        let db = fasty_wal::Db::open(dir, opts).map_err(|e| Error::WrongResult {
            system: "fasty-wal",
            what: format!("open: {e}"),
        })?;
        Ok(FastyWalStore { db })
    }
}

impl KvStore for FastyWalStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        self.db.write(batch)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.db.checkpoint()?;
        Ok(())
    }

    fn compact(&mut self) -> Result<()> {
        self.db.compact()?;
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.db.get(key)?.map(|v| v.len()))
    }

    fn scan_all(&self) -> Result<(u64, u64)> {
        tally(self.db.scan(..))
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.close()?;
        Ok(())
    }
}

/// Entries and key + value bytes of a full scan.
fn tally(scan: fasty_storage::Scan) -> Result<(u64, u64)> {
    let (mut entries, mut bytes) = (0u64, 0u64);
    for item in scan {
        let (k, v) = item?;
        entries += 1;
        bytes += (k.len() + v.len()) as u64;
    }
    Ok((entries, bytes))
}

/// The block-cache budget in the engine's type.
fn cache_budget(config: &StoreConfig) -> Result<usize> {
    config
        .cache_bytes
        .try_into()
        .map_err(|_| Error::WrongResult {
            system: "fasty",
            what: format!("cache budget {} does not fit", config.cache_bytes),
        })
}

/// The value layout of `--columnar`: every key is in one group, and a
/// value splits into four little-endian 8-byte ints and a blob of the
/// rest (any 100-byte value does).
#[derive(Debug)]
struct BenchLayout;

/// Ints at the start of a value under [`BenchLayout`].
const BENCH_INTS: usize = 4;

impl ValueLayout for BenchLayout {
    fn group_len(&self, _key: &[u8]) -> Option<usize> {
        Some(0)
    }

    fn split<'v>(&self, value: &'v [u8], out: &mut Vec<Field<'v>>) -> bool {
        if value.len() < 8 * BENCH_INTS {
            return false;
        }
        let (ints, rest) = value.split_at(8 * BENCH_INTS);
        for w in ints.chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            out.push(Field::Int(i64::from_le_bytes(b)));
        }
        out.push(Field::Blob(rest));
        true
    }

    fn join(&self, fields: &[Field<'_>], out: &mut Vec<u8>) {
        for f in fields {
            match f {
                Field::Int(v) => out.extend_from_slice(&v.to_le_bytes()),
                Field::Blob(b) | Field::Text(b) => out.extend_from_slice(b),
                _ => {}
            }
        }
    }
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
        let layout: Option<Arc<dyn ValueLayout>> = config
            .columnar
            .then(|| Arc::new(BenchLayout) as Arc<dyn ValueLayout>);
        let opts = Options::default()
            .with_io(io)
            .with_block_cache_budget(cache_budget(config)?)
            .with_value_layout(layout);
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
        tally(self.engine.scan(..))
    }

    fn close(self: Box<Self>) -> Result<()> {
        let FastyStore { engine, .. } = *self;
        engine.close()?;
        Ok(())
    }
}
