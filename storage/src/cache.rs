//! The block cache: decompressed SST blocks shared by every open table,
//! bounded by a byte budget.
//!
//! Keys are `(table id, block offset)`, so table ids must never be reused
//! for a different file while the cache lives. Only blocks that had to be
//! decompressed are cached: uncompressed blocks are served straight from
//! the table's memory map, where the page cache already holds them.
//! Eviction is quick_cache's (CLOCK-Pro-like, sharded); the weight of a
//! block is its length plus a fixed per-entry overhead.

// Used by the SST reader, itself unused until the engine lands.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use quick_cache::sync::{Cache, GuardResult};

/// Bookkeeping charged per cached block on top of its bytes.
const ENTRY_OVERHEAD: u64 = 64;

/// Cache key: table id and the block's offset in the table file.
type Key = (u64, u64);

#[derive(Clone, Debug)]
struct BlockWeighter;

impl quick_cache::Weighter<Key, Bytes> for BlockWeighter {
    fn weight(&self, _key: &Key, block: &Bytes) -> u64 {
        block.len() as u64 + ENTRY_OVERHEAD
    }
}

/// A byte-budgeted cache of decompressed blocks.
pub(crate) struct BlockCache {
    cache: Option<Cache<Key, Bytes, BlockWeighter>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("enabled", &self.cache.is_some())
            .field("used_bytes", &self.used_bytes())
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding up to about `budget_bytes` of blocks; 0 disables
    /// caching (every lookup loads).
    pub fn new(budget_bytes: usize) -> BlockCache {
        let cache = (budget_bytes > 0).then(|| {
            // quick_cache sizes its tables from an item estimate; assume
            // blocks of about 4 KiB.
            let items = (budget_bytes / 4096).max(16);
            Cache::with_weighter(items, budget_bytes as u64, BlockWeighter)
        });
        BlockCache {
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Lookups answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that had to load the block.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Bytes currently charged against the budget.
    pub fn used_bytes(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| c.weight())
    }

    /// The cached block at `offset` of table `table`, if present.
    #[cfg(test)]
    pub fn get(&self, table: u64, offset: u64) -> Option<Bytes> {
        let found = self.cache.as_ref()?.get(&(table, offset));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Caches `block` as the block at `offset` of table `table`.
    #[cfg(test)]
    pub fn insert(&self, table: u64, offset: u64, block: Bytes) {
        if let Some(c) = &self.cache {
            c.insert((table, offset), block);
        }
    }

    /// The cached block at `offset` of table `table`, or the result of
    /// `load`, which is then cached. Concurrent loads of one block are
    /// coalesced: one thread loads, the others wait for it. An error from
    /// `load` is returned and nothing is cached.
    pub fn get_or_load<E>(
        &self,
        table: u64,
        offset: u64,
        load: impl FnOnce() -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let Some(cache) = &self.cache else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return load();
        };
        match cache.get_value_or_guard(&(table, offset), None) {
            GuardResult::Value(block) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(block)
            }
            GuardResult::Guard(guard) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                let block = load()?;
                let _ = guard.insert(block.clone());
                Ok(block)
            }
            // Unreachable without a timeout; load without caching.
            GuardResult::Timeout => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                load()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hits_and_misses_and_respects_budget() {
        let c = BlockCache::new(64 * 1024);
        let v = c
            .get_or_load::<()>(1, 0, || Ok(Bytes::from(vec![1u8; 1000])))
            .unwrap();
        assert_eq!(v.len(), 1000);
        let v = c
            .get_or_load::<()>(1, 0, || panic!("should be cached"))
            .unwrap();
        assert_eq!(v.len(), 1000);
        assert_eq!((c.hits(), c.misses()), (1, 1));
        assert_eq!(c.used_bytes(), 1000 + ENTRY_OVERHEAD);
        assert!(c.get_or_load(1, 4096, || Err("boom")).is_err());
        assert!(c.get(1, 4096).is_none());
        c.insert(2, 0, Bytes::from_static(b"x"));
        assert_eq!(c.get(2, 0).as_deref(), Some(&b"x"[..]));
        for off in 0..1000 {
            c.insert(3, off, Bytes::from(vec![0u8; 1000]));
        }
        assert!(c.used_bytes() <= 64 * 1024, "used {}", c.used_bytes());
    }

    #[test]
    fn zero_budget_disables_caching() {
        let c = BlockCache::new(0);
        let mut loads = 0;
        for _ in 0..3 {
            c.get_or_load::<()>(1, 0, || {
                loads += 1;
                Ok(Bytes::from_static(b"block"))
            })
            .unwrap();
        }
        assert_eq!(loads, 3);
        assert_eq!((c.hits(), c.misses(), c.used_bytes()), (0, 3, 0));
    }
}
