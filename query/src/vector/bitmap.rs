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

    /// Appends the low `count` bits (at most 64) of `word`, least
    /// significant first.
    #[inline]
    pub(crate) fn push_word(&mut self, word: u64, count: usize) {
        debug_assert!(count <= 64);
        if count == 0 {
            return;
        }
        let word = if count < 64 {
            word & ((1u64 << count) - 1)
        } else {
            word
        };
        let off = self.len % 64;
        if off == 0 {
            self.words.push(word);
        } else {
            if let Some(last) = self.words.last_mut() {
                *last |= word << off;
            }
            if off + count > 64 {
                self.words.push(word >> (64 - off));
            }
        }
        self.len += count;
    }

    /// Appends `count` bits: bit `k` is the inverse of bit `at + k` of
    /// `bytes` (least significant bit of each byte first; bits past the
    /// end of `bytes` read as clear). Turns a block's null bitmap into
    /// validity a word at a time.
    pub(crate) fn extend_inverted(&mut self, bytes: &[u8], at: usize, count: usize) {
        let mut done = 0;
        while done < count {
            let n = (count - done).min(64);
            self.push_word(!read_bits(bytes, at + done, n), n);
            done += n;
        }
    }

    /// Appends `count` set bits.
    pub(crate) fn extend_set(&mut self, count: usize) {
        let mut done = 0;
        while done < count {
            let n = (count - done).min(64);
            self.push_word(u64::MAX, n);
            done += n;
        }
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

/// Bits `at .. at + count` (`count` at most 64) of `bytes` as a word,
/// bit `at` lowest; bits past the end of `bytes` are clear.
#[inline]
pub(crate) fn read_bits(bytes: &[u8], at: usize, count: usize) -> u64 {
    let start = at / 8;
    let mut buf = [0u8; 16];
    if let Some(src) = bytes.get(start..) {
        let n = src.len().min(16);
        buf[..n].copy_from_slice(&src[..n]);
    }
    let word = (u128::from_le_bytes(buf) >> (at % 8)) as u64;
    if count < 64 {
        word & ((1u64 << count) - 1)
    } else {
        word
    }
}
