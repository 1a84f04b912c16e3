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

    /// Appends values `range` to `out` (values past the end read as 0),
    /// whole groups of 8 unpacked in bulk: the same values as
    /// [`Packed::get`] of each.
    pub fn unpack(&self, range: std::ops::Range<usize>, out: &mut Vec<u64>) {
        macro_rules! go {
            ($($w:literal)*) => {
                match self.width {
                    $($w => self.unpack_w::<$w>(range, out),)*
                    _ => out.extend(range.map(|i| self.get(i))),
                }
            };
        }
        go!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
            29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54
            55 56 57 58 59 60 61 62 63 64);
    }

    fn unpack_w<const W: usize>(&self, range: std::ops::Range<usize>, out: &mut Vec<u64>) {
        let (start, end) = (range.start, range.end.max(range.start));
        out.reserve(end - start);
        let head = start.next_multiple_of(8).min(end);
        out.extend((start..head).map(|i| self.get(i)));
        let bulk_end = end.min(self.len).max(head);
        let mut i = head;
        while i < bulk_end {
            let take = (bulk_end - i) / 8 * 8;
            if take == 0 {
                break;
            }
            let at = out.len();
            out.resize(at + take, 0);
            if !unpack_groups::<u64, W>(self.bytes, i / 8, &mut out[at..]) {
                out.truncate(at);
                break;
            }
            i += take;
        }
        out.extend((i..end).map(|i| self.get(i)));
    }
}

/// A test of unpacked values: those in `lo..=hi` pass, or with `negated`
/// those outside it; no value is in the range when `lo > hi`. Run on many
/// values at once by [`Packed::count_passing`] and [`Packed::and_passing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeTest {
    /// Smallest value in the range.
    pub lo: u64,
    /// Largest value in the range.
    pub hi: u64,
    /// Whether the values outside the range pass instead.
    pub negated: bool,
}

impl RangeTest {
    /// Whether `v` passes.
    #[inline]
    pub fn passes(&self, v: u64) -> bool {
        (self.lo <= v && v <= self.hi) != self.negated
    }
}

/// Values unpacked per bulk step (a multiple of 8: whole groups).
const BULK: usize = 256;

/// An unsigned lane wide enough for the values of a width, so compares of
/// many lanes fit in one vector register.
trait Lane: Copy + Default + PartialOrd {
    const MAX: u64;
    fn of(v: u64) -> Self;
    fn minus(self, o: Self) -> Self;
}

macro_rules! lane {
    ($($t:ty)*) => {$(
        impl Lane for $t {
            const MAX: u64 = <$t>::MAX as u64;
            #[inline(always)]
            fn of(v: u64) -> $t {
                v as $t
            }
            #[inline(always)]
            fn minus(self, o: $t) -> $t {
                self.wrapping_sub(o)
            }
        }
    )*};
}
lane!(u8 u16 u32 u64);

/// The test on lanes: `(v - lo) <= span` (wrapping) is `lo <= v <= hi`.
/// `None` when no value of `W` bits is in the range.
#[inline(always)]
fn lane_range<T: Lane, const W: usize>(t: &RangeTest) -> Option<(T, T)> {
    let max = if W == 64 { u64::MAX } else { (1u64 << W) - 1 };
    let hi = t.hi.min(max).min(T::MAX);
    if t.lo > hi {
        return None;
    }
    Some((T::of(t.lo), T::of(hi - t.lo)))
}

/// Unpacks the `out.len() / 8` groups of 8 values starting with group
/// `group` (values `8 * group ..`) of `W`-bit values in `bytes`. `false`
/// (and `out` unspecified) when `bytes` ends too early for a whole-word
/// read of the last group.
#[inline(always)]
fn unpack_groups<T: Lane, const W: usize>(bytes: &[u8], group: usize, out: &mut [T]) -> bool {
    let groups = out.len() / 8;
    let start = group * W;
    // Each value is read as one little-endian word at its first byte
    // (plus the next byte when it spans 9 bytes: then W > 56, and that
    // byte is still within the group's W bytes and the 8 after them).
    let Some(src) = bytes.get(start..start + groups * W + 8) else {
        return false;
    };
    let mask = if W == 64 { u64::MAX } else { (1u64 << W) - 1 };
    for (g, lanes) in out.chunks_exact_mut(8).enumerate() {
        let at = g * W;
        let src = &src[at..at + W + 8];
        for (j, lane) in lanes.iter_mut().enumerate() {
            let bit = j * W;
            let (byte, shift) = (bit / 8, bit % 8);
            let mut word = [0u8; 8];
            word.copy_from_slice(&src[byte..byte + 8]);
            let mut v = u64::from_le_bytes(word) >> shift;
            if shift + W > 64 {
                v |= u64::from(src[byte + 8]) << (64 - shift);
            }
            *lane = T::of(v & mask);
        }
    }
    true
}

impl Packed<'_> {
    /// How many of values `rows` (clamped to the values there are) pass
    /// `test`. The same as counting [`RangeTest::passes`] of each
    /// [`Packed::get`], but the values are unpacked in bulk.
    pub fn count_passing(&self, rows: std::ops::Range<usize>, test: &RangeTest) -> usize {
        let end = rows.end.min(self.len);
        let start = rows.start.min(end);
        let n = end - start;
        if n == 0 {
            return 0;
        }
        macro_rules! go {
            ($($t:ty: $($w:literal)*;)*) => {
                match self.width {
                    $($($w => self.count_w::<$t, $w>(start, end, test),)*)*
                    _ => (start..end).filter(|&i| test.passes(self.get(i))).count(),
                }
            };
        }
        go! {
            u8: 1 2 3 4 5 6 7 8;
            u16: 9 10 11 12 13 14 15 16;
            u32: 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32;
            u64: 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48
                49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64;
        }
    }

    /// For each value `start + k` (`k < mask.len()`), clears `mask[k]`
    /// (sets it to 0) unless the value passes `test`: `mask[k] &= pass`.
    /// Values past the end read as 0.
    pub fn and_passing(&self, start: usize, test: &RangeTest, mask: &mut [u8]) {
        macro_rules! go {
            ($($t:ty: $($w:literal)*;)*) => {
                match self.width {
                    $($($w => self.and_w::<$t, $w>(start, test, mask),)*)*
                    _ => {
                        for (k, m) in mask.iter_mut().enumerate() {
                            *m &= u8::from(test.passes(self.get(start + k)));
                        }
                    }
                }
            };
        }
        go! {
            u8: 1 2 3 4 5 6 7 8;
            u16: 9 10 11 12 13 14 15 16;
            u32: 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32;
            u64: 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48
                49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64;
        }
    }

    fn count_w<T: Lane, const W: usize>(&self, start: usize, end: usize, t: &RangeTest) -> usize {
        let Some((lo, span)) = lane_range::<T, W>(t) else {
            return if t.negated { end - start } else { 0 };
        };
        let one = |i: usize| usize::from(t.passes(self.get(i)));
        let head = start.next_multiple_of(8).min(end);
        let mut count: usize = (start..head).map(one).sum();
        let mut buf = [T::default(); BULK];
        let mut i = head;
        while i < end {
            let take = (end - i).min(BULK) / 8 * 8;
            if take == 0 || !unpack_groups::<T, W>(self.bytes, i / 8, &mut buf[..take]) {
                break;
            }
            let inside = buf[..take]
                .iter()
                .map(|&v| u32::from(v.minus(lo) <= span))
                .sum::<u32>() as usize;
            count += if t.negated { take - inside } else { inside };
            i += take;
        }
        count + (i..end).map(one).sum::<usize>()
    }

    fn and_w<T: Lane, const W: usize>(&self, start: usize, t: &RangeTest, mask: &mut [u8]) {
        let Some((lo, span)) = lane_range::<T, W>(t) else {
            if !t.negated {
                mask.fill(0);
            }
            return;
        };
        let neg = u8::from(t.negated);
        let end = start + mask.len();
        let head = start.next_multiple_of(8).min(end);
        for i in start..head {
            mask[i - start] &= u8::from(t.passes(self.get(i)));
        }
        let mut buf = [T::default(); BULK];
        // Values past the last read as 0: value by value.
        let bulk_end = end.min(self.len).max(head);
        let mut i = head;
        while i < bulk_end {
            let take = (bulk_end - i).min(BULK) / 8 * 8;
            if take == 0 || !unpack_groups::<T, W>(self.bytes, i / 8, &mut buf[..take]) {
                break;
            }
            let m = &mut mask[i - start..i - start + take];
            for (m, &v) in m.iter_mut().zip(&buf[..take]) {
                *m &= u8::from(v.minus(lo) <= span) ^ neg;
            }
            i += take;
        }
        for i in i..end {
            mask[i - start] &= u8::from(t.passes(self.get(i)));
        }
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

    /// Values of `width` bits from `seed`, some at the extremes.
    fn values_of(width: u8, seeds: &[u64]) -> Vec<u64> {
        let max = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        seeds
            .iter()
            .map(|&s| match s % 7 {
                0 => 0,
                1 => max,
                _ => (s >> 3) & max,
            })
            .collect()
    }

    /// A test around the values: bounds at, just beside or far from them.
    fn test_of(values: &[u64], picks: (u64, u64, u8, u8), negated: bool) -> RangeTest {
        let bound = |pick: u64, how: u8| {
            let v = values
                .get((pick as usize) % values.len().max(1))
                .copied()
                .unwrap_or(0);
            match how % 6 {
                0 => v,
                1 => v.saturating_add(1),
                2 => v.saturating_sub(1),
                3 => 0,
                4 => u64::MAX,
                _ => pick,
            }
        };
        RangeTest {
            lo: bound(picks.0, picks.2),
            hi: bound(picks.1, picks.3),
            negated,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn bulk_unpack_equals_value_by_value(
            width in 0u8..=64,
            seeds in prop::collection::vec(any::<u64>(), 0..700),
            from in 0usize..800,
            len in 0usize..800,
        ) {
            let values = values_of(width, &seeds);
            let mut out = Vec::new();
            pack(values.iter().copied(), values.len(), width, &mut out);
            let p = Packed::new(&out, width, values.len());
            let mut got = vec![7];
            p.unpack(from..from + len, &mut got);
            let want: Vec<u64> = std::iter::once(7).chain((from..from + len).map(|i| p.get(i))).collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn bulk_tests_equal_value_by_value(
            width in 0u8..=64,
            seeds in prop::collection::vec(any::<u64>(), 0..700),
            from in 0usize..800,
            len in 0usize..800,
            picks in (any::<u64>(), any::<u64>(), any::<u8>(), any::<u8>()),
            negated in any::<bool>(),
        ) {
            let values = values_of(width, &seeds);
            let mut out = Vec::new();
            pack(values.iter().copied(), values.len(), width, &mut out);
            let p = Packed::new(&out, width, values.len());
            let test = test_of(&values, picks, negated);
            let rows = from..from + len;
            let want = rows
                .clone()
                .filter(|&i| i < values.len() && test.passes(values[i]))
                .count();
            prop_assert_eq!(p.count_passing(rows.clone(), &test), want);
            // Every other row starts cleared.
            let mut mask: Vec<u8> = (0..len).map(|k| u8::from(k % 3 != 1)).collect();
            let want: Vec<u8> = mask
                .iter()
                .enumerate()
                .map(|(k, &m)| {
                    let v = values.get(from + k).copied().unwrap_or(0);
                    m & u8::from(test.passes(v))
                })
                .collect();
            p.and_passing(from, &test, &mut mask);
            prop_assert_eq!(mask, want);
        }
    }
}
