//! fjall 3.1 as a peer: one `Database` with one keyspace.
//!
//! Configuration, chosen to match what fasty's engine does at this layer:
//! - Writes: `Keyspace::insert`, one key per call. fjall always journals;
//!   `manual_journal_persist(true)` (on the database and the keyspace) is
//!   its least-durable mode: journal entries stay in the journal writer's
//!   buffer and are neither flushed to the OS nor fsynced per write. fasty's
//!   engine has no write-ahead log at all at this layer.
//! - Block cache: `Database::builder(..).cache_size(budget)`.
//! - Everything else (64 MiB memtables, 4 KiB blocks, leveled compaction,
//!   bloom filters, LZ4 on deeper levels, worker threads) at fjall's
//!   defaults.
//! - Flush: rotate the memtable and wait for the flush. Full compaction:
//!   `major_compact`, then wait until no flush or compaction is running.
//!   Both are `#[doc(hidden)]` in fjall 3.1 but public and used by its own
//!   tests; there is no other way to force them.

use std::path::Path;
use std::time::Duration;

use fjall::{Database, Keyspace, KeyspaceCreateOptions};

use super::{KvStore, Result, StoreConfig};

/// A fjall database holding the benchmark's keyspace.
pub struct FjallStore {
    db: Database,
    keyspace: Keyspace,
}

/// How fjall was configured, for the notes under the table.
pub fn setup(config: &StoreConfig) -> String {
    format!(
        "fjall {} with Keyspace::insert per key; journal in its least-durable mode \
         (manual_journal_persist: buffered, never flushed or fsynced per write); \
         cache_size {} MiB; other options default",
        FJALL_VERSION,
        config.cache_bytes >> 20
    )
}

/// The fjall requirement this crate is built against.
const FJALL_VERSION: &str = "3.1";

impl FjallStore {
    /// Creates a database in `dir`.
    pub fn open(dir: &Path, config: &StoreConfig) -> Result<FjallStore> {
        let db = Database::builder(dir)
            .cache_size(config.cache_bytes)
            .manual_journal_persist(true)
            .open()?;
        let keyspace = db.keyspace("bench", || {
            KeyspaceCreateOptions::default().manual_journal_persist(true)
        })?;
        Ok(FjallStore { db, keyspace })
    }

    fn wait_idle(&self) {
        while self.db.outstanding_flushes() > 0 || self.db.active_compactions() > 0 {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl KvStore for FjallStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.keyspace.insert(key, value)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.keyspace.rotate_memtable_and_wait()?;
        self.wait_idle();
        Ok(())
    }

    fn compact(&mut self) -> Result<()> {
        self.keyspace.major_compact()?;
        self.wait_idle();
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        Ok(self.keyspace.get(key)?.map(|v| v.len()))
    }

    fn scan_all(&self) -> Result<(u64, u64)> {
        let (mut entries, mut bytes) = (0u64, 0u64);
        for guard in self.keyspace.iter() {
            let (k, v) = guard.into_inner()?;
            entries += 1;
            bytes += (k.len() + v.len()) as u64;
        }
        Ok((entries, bytes))
    }

    fn close(self: Box<Self>) -> Result<()> {
        let FjallStore { db, keyspace } = *self;
        drop(keyspace);
        // Dropping the database stops and joins its background workers.
        drop(db);
        Ok(())
    }
}
