//! A fixed-length bitmap: a vector's validity (bit set = a value).

/// Bits packed into 64-bit words, least significant bit first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bitmap {
    words: Vec<u64>,
    len: usize,
}

impl Bitmap {
    #[cfg(test)]
    /// `len` bits, all set.
    pub(crate) fn all_set(len: usize) -> Bitmap {
        let mut words = vec![u64::MAX; len.div_ceil(64)];
        if !len.is_multiple_of(64)
            && let Some(last) = words.last_mut()
        {
            *last = (1u64 << (len % 64)) - 1;
        }
        Bitmap { words, len }
    }

    #[cfg(test)]
    /// `len` bits, all clear.
    pub(crate) fn all_clear(len: usize) -> Bitmap {
        Bitmap {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// An empty bitmap with room for `cap` bits.
    pub(crate) fn with_capacity(cap: usize) -> Bitmap {
        Bitmap {
            words: Vec::with_capacity(cap.div_ceil(64)),
            len: 0,
        }
    }

    /// Number of bits.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bit `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> bool {
        debug_assert!(i < self.len);
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    #[cfg(test)]
    /// Sets bit `i` to `bit`.
    #[inline]
    pub(crate) fn set(&mut self, i: usize, bit: bool) {
        debug_assert!(i < self.len);
        let mask = 1u64 << (i % 64);
        if bit {
            self.words[i / 64] |= mask;
        } else {
            self.words[i / 64] &= !mask;
        }
    }

    /// Appends one bit.
    #[inline]
    pub(crate) fn push(&mut self, bit: bool) {
        if self.len.is_multiple_of(64) {
            self.words.push(0);
        }
        if bit {
            let last = self.words.len() - 1;
            self.words[last] |= 1u64 << (self.len % 64);
        }
        self.len += 1;
    }

    #[cfg(test)]
    /// Number of set bits.
    pub(crate) fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    #[cfg(test)]
    /// Whether every bit is set.
    pub(crate) fn all(&self) -> bool {
        self.count_ones() == self.len
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.len() * 8
    }
}
