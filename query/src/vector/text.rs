//! Variable-length values of a vector (strings, json text): one byte
//! buffer and the offsets of each value in it.

/// Values `i` is `bytes[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextVec {
    offsets: Vec<u32>,
    bytes: Vec<u8>,
}

impl Default for TextVec {
    fn default() -> Self {
        TextVec {
            offsets: vec![0],
            bytes: Vec::new(),
        }
    }
}

impl TextVec {
    /// An empty vector with room for `cap` values.
    pub(crate) fn with_capacity(cap: usize) -> TextVec {
        let mut offsets = Vec::with_capacity(cap + 1);
        offsets.push(0);
        TextVec {
            offsets,
            bytes: Vec::new(),
        }
    }

    /// Number of values.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Appends a value. A vector holds at most 4 GiB of text; the caller
    /// (a chunk of at most a few thousand rows of bounded values) keeps
    /// far below that.
    #[inline]
    pub(crate) fn push(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
        self.offsets
            .push(u32::try_from(self.bytes.len()).unwrap_or(u32::MAX));
    }

    /// Appends values in bulk: value `k` is `bytes[ends[k-1]..ends[k]]`,
    /// the first starting at 0 (`ends` ascending, at most `bytes.len()`).
    pub(crate) fn extend(&mut self, ends: &[u32], bytes: &[u8]) {
        let base = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        self.bytes.extend_from_slice(bytes);
        self.offsets
            .extend(ends.iter().map(|&e| base.saturating_add(e)));
    }

    /// Value `i`'s bytes.
    #[inline]
    pub(crate) fn bytes(&self, i: usize) -> &[u8] {
        &self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Value `i` as text. Only string vectors, whose values were checked
    /// to be UTF-8 when they were pushed, may call this.
    #[inline]
    pub(crate) fn str(&self, i: usize) -> &str {
        // Checked on the way in; a failure here is a bug, not bad input,
        // and yields an empty string rather than a panic.
        std::str::from_utf8(self.bytes(i)).unwrap_or_default()
    }

    /// The offsets (`len + 1` of them) and the byte buffer.
    pub(crate) fn parts(&self) -> (&[u32], &[u8]) {
        (&self.offsets, &self.bytes)
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.offsets.len() * 4 + self.bytes.len()
    }
}
