//! The data every system is given: the same keys, in the same orders, with
//! the same value bytes, all derived from one seed.
//!
//! Present keys are the even numbers `2i` for `i` in `0..n`, big-endian in
//! 16 bytes; the miss keys are the odd numbers `2i + 1`. A miss therefore
//! falls *between* two present keys, inside every table's key range, so no
//! engine can reject it by a table's min/max key alone: misses measure the
//! filters and index, not a range check.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Bytes per key.
pub const KEY_BYTES: usize = 16;
/// Bytes per value.
pub const VALUE_BYTES: usize = 100;
/// Values are 100-byte windows of this much random data, at pseudo-random
/// offsets: incompressible, and no allocation or generation in the timed
/// loops.
const VALUE_POOL_BYTES: usize = 1 << 20;

/// Keys, access orders and values for one benchmark run.
pub struct Dataset {
    n: u64,
    seed: u64,
    /// Insertion order of random put: a fixed-seed shuffle of `0..n`.
    put_order: Vec<u64>,
    /// Lookup order of random get: a second shuffle, so that reads do not
    /// replay the write order.
    get_order: Vec<u64>,
    value_pool: Vec<u8>,
}

impl Dataset {
    /// Builds the orders and the value pool for `n` keys from `seed`.
    pub fn new(n: u64, seed: u64) -> Dataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut put_order: Vec<u64> = (0..n).collect();
        put_order.shuffle(&mut rng);
        let mut get_order: Vec<u64> = (0..n).collect();
        get_order.shuffle(&mut rng);
        let mut value_pool = vec![0u8; VALUE_POOL_BYTES];
        rand::Rng::fill(&mut rng, &mut value_pool[..]);
        Dataset {
            n,
            seed,
            put_order,
            get_order,
            value_pool,
        }
    }

    /// Number of present keys.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// The seed everything was derived from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The `i`-th present key: `2i` big-endian.
    pub fn key(i: u64) -> [u8; KEY_BYTES] {
        (u128::from(i) << 1).to_be_bytes()
    }

    /// A key that is absent but lies between present keys: `2i + 1`.
    pub fn miss_key(i: u64) -> [u8; KEY_BYTES] {
        ((u128::from(i) << 1) | 1).to_be_bytes()
    }

    /// The value stored under [`Dataset::key`]`(i)`.
    pub fn value(&self, i: u64) -> &[u8] {
        let windows = (VALUE_POOL_BYTES - VALUE_BYTES + 1) as u64;
        let start = (splitmix64(i ^ self.seed) % windows) as usize;
        &self.value_pool[start..start + VALUE_BYTES]
    }

    /// Insertion order of random put.
    pub fn put_order(&self) -> &[u64] {
        &self.put_order
    }

    /// Lookup order of random get (hits and misses alike).
    pub fn get_order(&self) -> &[u64] {
        &self.get_order
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_like_their_numbers_and_misses_fall_between() {
        assert!(Dataset::key(1) < Dataset::miss_key(1));
        assert!(Dataset::miss_key(1) < Dataset::key(2));
        assert!(Dataset::key(255) < Dataset::key(256));
        assert_eq!(Dataset::key(3)[KEY_BYTES - 1], 6);
    }

    #[test]
    fn orders_are_permutations_and_reproducible() {
        let a = Dataset::new(1000, 7);
        let b = Dataset::new(1000, 7);
        assert_eq!(a.put_order(), b.put_order());
        assert_ne!(a.put_order(), a.get_order());
        let mut sorted = a.put_order().to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_eq!(a.value(5), b.value(5));
        assert_eq!(a.value(5).len(), VALUE_BYTES);
    }
}
