//! The per-table bloom filter over user keys.
//!
//! A plain bit array probed `k` times by double hashing of one xxh3 64-bit
//! hash: the low and high 32 bits are `h1` and `h2`, probe `i` is
//! `h1 + i * h2` (wrapping, 32 bits) mapped onto the `m` bits by
//! multiply-shift. The stored payload is `[k u8][bit array]`; bit `b` is
//! bit `b % 8` of byte `b / 8`. `k = 0` or an empty bit array means "no
//! filter": every key may be present.

use bytes::Bytes;

use super::block::Malformed;

/// The hash every filter lookup starts from; computed once per `get`.
#[inline]
pub(super) fn hash(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

/// Bit positions probed for `hash` in a filter of `m` bits.
#[inline]
fn probes(hash: u64, k: u32, m: u64) -> impl Iterator<Item = u64> {
    let mut h = hash as u32;
    let delta = (hash >> 32) as u32;
    (0..k).map(move |_| {
        let bit = (u64::from(h) * m) >> 32;
        h = h.wrapping_add(delta);
        bit
    })
}

/// Builds a filter payload for the given key hashes.
pub(super) fn build(hashes: &[u64], bits_per_key: u32) -> Vec<u8> {
    if bits_per_key == 0 || hashes.is_empty() {
        return vec![0];
    }
    let k = ((f64::from(bits_per_key) * 0.69).round() as u32).clamp(1, 30);
    // At least 64 bits; at most 2^32 (multiply-shift maps 32-bit probes).
    let m = (hashes.len() as u64)
        .saturating_mul(u64::from(bits_per_key))
        .clamp(64, 1 << 32)
        .div_ceil(8)
        * 8;
    let mut out = vec![0u8; 1 + (m / 8) as usize];
    out[0] = k as u8;
    let bits = &mut out[1..];
    for &h in hashes {
        for b in probes(h, k, m) {
            bits[(b / 8) as usize] |= 1 << (b % 8);
        }
    }
    out
}

/// A loaded filter.
#[derive(Debug, Clone)]
pub(super) struct Bloom {
    bits: Bytes,
    k: u32,
    m: u64,
}

impl Bloom {
    /// Reads a filter payload.
    pub(super) fn parse(payload: Bytes) -> Result<Bloom, Malformed> {
        let k = u32::from(
            *payload
                .first()
                .ok_or(Malformed("empty bloom filter block"))?,
        );
        let bits = payload.slice(1..);
        let m = bits.len() as u64 * 8;
        if m > 1 << 32 {
            return Err(Malformed("bloom filter larger than 2^32 bits"));
        }
        if k > 30 {
            return Err(Malformed("bloom filter probe count above 30"));
        }
        Ok(Bloom { bits, k, m })
    }

    /// False only if no key with this hash was added.
    #[inline]
    pub(super) fn may_contain(&self, hash: u64) -> bool {
        if self.k == 0 || self.m == 0 {
            return true;
        }
        let bits = &self.bits[..];
        probes(hash, self.k, self.m).all(|b| {
            // `b < m = 8 * bits.len()`, so the byte exists.
            bits.get((b / 8) as usize)
                .is_some_and(|byte| byte & (1 << (b % 8)) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(n: u32, bits_per_key: u32) -> Bloom {
        let hashes: Vec<u64> = (0..n).map(|i| hash(format!("key{i}").as_bytes())).collect();
        Bloom::parse(Bytes::from(build(&hashes, bits_per_key))).unwrap()
    }

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let n = 20_000;
        let f = filter(n, 10);
        for i in 0..n {
            assert!(f.may_contain(hash(format!("key{i}").as_bytes())));
        }
        let fp = (0..n)
            .filter(|i| f.may_contain(hash(format!("other{i}").as_bytes())))
            .count();
        let rate = fp as f64 / f64::from(n);
        // Theory for 10 bits/key, k = 7: about 0.8 %.
        assert!(rate < 0.02, "false-positive rate {rate}");
    }

    #[test]
    fn disabled_and_tiny_filters() {
        let off = filter(100, 0);
        assert!(off.may_contain(hash(b"anything")));
        let one = filter(1, 10);
        assert!(one.may_contain(hash(b"key0")));
        assert!(Bloom::parse(Bytes::new()).is_err());
        assert!(Bloom::parse(Bytes::from_static(&[31, 0])).is_err());
    }
}
