//! Bit packing and bitmaps: the smallest pieces of the column encodings.

/// Bytes of `n` values packed at `width` bits, plus 8 bytes of padding so a
/// reader can always load a whole word (none when `width` is 0).
pub(crate) fn packed_len(n: usize, width: u8) -> usize {
    if width == 0 {
        0
    } else {
        (n * usize::from(width)).div_ceil(8) + 8
    }
}

/// Bits needed to store `v` (0 for 0).
pub(crate) fn width_of(v: u64) -> u8 {
    (64 - v.leading_zeros()) as u8
}

/// Appends `values` packed at `width` bits each (least significant bit
/// first), with the padding [`packed_len`] counts.
pub(crate) fn pack(values: impl Iterator<Item = u64>, n: usize, width: u8, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let start = out.len();
    out.resize(start + packed_len(n, width), 0);
    let w = usize::from(width);
    for (i, v) in values.enumerate() {
        let bit = i * w;
        let (byte, shift) = (start + bit / 8, bit % 8);
        // Up to 64 + 7 bits: spread over 9 bytes.
        let wide = u128::from(v) << shift;
        for k in 0..(w + shift).div_ceil(8) {
            out[byte + k] |= (wide >> (8 * k)) as u8;
        }
    }
}

/// Values bit-packed at a fixed width (see [`crate::columnar::Encoded`]).
#[derive(Debug, Clone, Copy)]
pub struct Packed<'a> {
    bytes: &'a [u8],
    width: u8,
    len: usize,
}

impl<'a> Packed<'a> {
    pub(crate) fn new(bytes: &'a [u8], width: u8, len: usize) -> Packed<'a> {
        Packed { bytes, width, len }
    }

    /// Bits per value (0: every value is 0).
    pub fn width(&self) -> u8 {
        self.width
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Value `i` (0 out of range).
    #[inline]
    pub fn get(&self, i: usize) -> u64 {
        if self.width == 0 || i >= self.len {
            return 0;
        }
        let w = usize::from(self.width);
        let bit = i * w;
        let (byte, shift) = (bit / 8, bit % 8);
        let Some(b) = self.bytes.get(byte..byte + 9) else {
            return 0;
        };
        let mut lo = [0u8; 8];
        lo.copy_from_slice(&b[..8]);
        let word = u64::from_le_bytes(lo);
        let mut v = word >> shift;
        if shift + w > 64 {
            v |= u64::from(b[8]) << (64 - shift);
        }
        if w == 64 { v } else { v & ((1u64 << w) - 1) }
    }

    /// Appends values `range` to `out`.
    pub fn unpack(&self, range: std::ops::Range<usize>, out: &mut Vec<u64>) {
        out.extend(range.map(|i| self.get(i)));
    }
}

/// A bitmap (bit `i` is bit `i % 8` of byte `i / 8`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bitmap<'a>(pub &'a [u8]);

impl Bitmap<'_> {
    #[inline]
    pub(crate) fn get(&self, i: usize) -> bool {
        self.0.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0)
    }
}

/// Appends a bitmap of `bits`.
pub(crate) fn put_bitmap(bits: impl Iterator<Item = bool>, n: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + n.div_ceil(8), 0);
    for (i, b) in bits.enumerate() {
        if b {
            out[start + i / 8] |= 1 << (i % 8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pack_round_trips(values in prop::collection::vec(any::<u64>(), 0..200), shift in 0u32..64) {
            let values: Vec<u64> = values.iter().map(|v| v >> shift).collect();
            let width = values.iter().map(|&v| width_of(v)).max().unwrap_or(0);
            let mut out = vec![0xAB];
            pack(values.iter().copied(), values.len(), width, &mut out);
            prop_assert_eq!(out.len(), 1 + packed_len(values.len(), width));
            let p = Packed::new(&out[1..], width, values.len());
            for (i, &v) in values.iter().enumerate() {
                prop_assert_eq!(p.get(i), v);
            }
            prop_assert_eq!(p.get(values.len()), 0);
        }
    }
}
