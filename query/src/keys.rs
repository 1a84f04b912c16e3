//! The key space of one database in the ordered key-value store below
//! (`fasty_wal::Db`, keys compared as bytes): where the catalog, the rows
//! of each table and the entries of each index live, encoded so that byte
//! order is the order the planner needs (primary-key order for rows,
//! value-then-primary-key order for index entries).
//!
//! This module owns only the byte layout of keys; what is stored under
//! them belongs to `row` (row values) and `catalog` (catalog entries).
//!
//! # Key layout, format version 1
//!
//! All integers are big-endian. Changing anything here changes the
//! on-disk format.
//!
//! ```text
//! catalog entry   00 00 00 00 | catalog-defined suffix
//! row             table id (u32, >= 1) | encode_i64(primary key)
//! index entry     index id (u32, >= 1) | encode_ordered(value) | encode_i64(primary key)
//! ```
//!
//! Tables and indexes draw their ids from one shared counter starting at
//! 1, so the first four bytes say whether a key is the catalog's, a
//! table's row or an index entry, and the prefixes of two objects never
//! overlap.
//!
//! `encode_i64(v)` is `v` as 8 big-endian bytes with the sign bit flipped,
//! so that byte order is numeric order.
//!
//! `encode_ordered(value)` is one tag byte, then a payload:
//!
//! ```text
//! tag   value    payload
//! 0x01  null     (none)
//! 0x02  false    (none)
//! 0x03  true     (none)
//! 0x04  int      encode_i64(v)
//! 0x05  float    8 bytes big-endian: the bits of v (-0.0 stored as 0.0),
//!                all flipped if v is negative, else the sign bit flipped
//! 0x06  string   escaped UTF-8 bytes, then 00 01
//! 0x07  json     escaped compact JSON text (serde_json), then 00 01
//! ```
//!
//! Escaping writes each 0x00 byte as `00 FF` and every other byte as is;
//! the terminator `00 01` therefore never occurs inside an escaped string,
//! which makes the encoding prefix-free (no encoded value is a prefix of
//! another) and keeps byte order equal to string byte order. Tags 0x00
//! and 0x08..=0xFF are reserved.
//!
//! The order of encoded values is: null first (docs/language.md: nulls first
//! ascending), then false < true, then ints by value, then floats by value
//! (-inf .. +inf), then strings by bytes, then json by text. Ints and
//! floats have distinct tags and are not ordered against each other: an
//! index column holds one type, and callers convert an `int` given for a
//! `float` column to a float before building a key.

use crate::error::{Error, Result};
use crate::value::Value;

/// The first four bytes of every catalog key. No table or index has id 0.
pub(crate) const CATALOG_PREFIX: [u8; 4] = [0, 0, 0, 0];

/// Ordered-encoding tag of null: the smallest, so nulls sort first.
const TAG_NULL: u8 = 0x01;
/// Ordered-encoding tag of `false`.
const TAG_FALSE: u8 = 0x02;
/// Ordered-encoding tag of `true`.
const TAG_TRUE: u8 = 0x03;
/// Ordered-encoding tag of an int.
const TAG_INT: u8 = 0x04;
/// Ordered-encoding tag of a float.
const TAG_FLOAT: u8 = 0x05;
/// Ordered-encoding tag of a string.
const TAG_STRING: u8 = 0x06;
/// Ordered-encoding tag of a json value (its compact text).
const TAG_JSON: u8 = 0x07;

/// Ends an escaped string; sorts below the escape of 0x00 (`00 FF`) and
/// below every other byte, so a string sorts before its extensions.
const STRING_END: [u8; 2] = [0x00, 0x01];
/// The escaped form of a 0x00 byte inside a string.
const ESCAPED_ZERO: [u8; 2] = [0x00, 0xFF];

/// The sign bit of an i64 or f64 in its u64 bit pattern.
const SIGN: u64 = 1 << 63;

/// The 4-byte prefix shared by every row of a table: its id, big-endian.
pub(crate) fn table_prefix(table_id: u32) -> [u8; 4] {
    table_id.to_be_bytes()
}

/// The key of the row with primary key `pk` in table `table_id`; rows of
/// a table sort in primary-key order.
pub(crate) fn row_key(table_id: u32, pk: i64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&table_id.to_be_bytes());
    key[4..].copy_from_slice(&encode_i64(pk));
    key
}

/// The table id and primary key of a row key; `None` if `key` is not 12
/// bytes long.
pub(crate) fn decode_row_key(key: &[u8]) -> Option<(u32, i64)> {
    let key: &[u8; 12] = key.try_into().ok()?;
    let (id, pk) = key.split_at(4);
    Some((
        u32::from_be_bytes(id.try_into().ok()?),
        decode_i64(pk.try_into().ok()?),
    ))
}

/// An i64 as 8 bytes whose byte order is the numbers' order: big-endian
/// with the sign bit flipped (i64::MIN becomes all zeros).
pub(crate) fn encode_i64(v: i64) -> [u8; 8] {
    ((v as u64) ^ SIGN).to_be_bytes()
}

/// The inverse of [`encode_i64`].
pub(crate) fn decode_i64(b: [u8; 8]) -> i64 {
    (u64::from_be_bytes(b) ^ SIGN) as i64
}

/// An f64 as 8 bytes whose byte order is the numbers' order, -0.0 and 0.0
/// being one value. The value must not be NaN (a `Value` never is).
fn encode_f64(v: f64) -> [u8; 8] {
    debug_assert!(!v.is_nan(), "NaN has no place in an index");
    // `-0.0 == 0.0`, so this maps both zeros to +0.0's bits.
    let bits = if v == 0.0 { 0 } else { v.to_bits() };
    let ordered = if bits & SIGN != 0 { !bits } else { bits ^ SIGN };
    ordered.to_be_bytes()
}

/// The inverse of [`encode_f64`] (a stored -0.0 reads back as 0.0).
// Read back by the tests (and by index-only scans, once the planner has them).
#[cfg_attr(not(test), allow(dead_code))]
fn decode_f64(b: [u8; 8]) -> f64 {
    let ordered = u64::from_be_bytes(b);
    let bits = if ordered & SIGN != 0 {
        ordered ^ SIGN
    } else {
        !ordered
    };
    f64::from_bits(bits)
}

/// Appends `bytes` escaped (0x00 → `00 FF`) and terminated (`00 01`).
fn encode_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + STRING_END.len());
    let mut parts = bytes.split(|&b| b == 0);
    if let Some(first) = parts.next() {
        out.extend_from_slice(first);
    }
    for part in parts {
        out.extend_from_slice(&ESCAPED_ZERO);
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&STRING_END);
}

/// Reads an escaped, terminated byte string from the start of `bytes`:
/// the unescaped bytes and how many encoded bytes they took.
// Read back by the tests (and by index-only scans, once the planner has them).
#[cfg_attr(not(test), allow(dead_code))]
fn decode_escaped(bytes: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let Some(zero) = bytes[i..].iter().position(|&b| b == 0) else {
            return Err(Error::corrupt("index key: unterminated string"));
        };
        out.extend_from_slice(&bytes[i..i + zero]);
        i += zero;
        match bytes.get(i + 1) {
            Some(0xFF) => {
                out.push(0);
                i += 2;
            }
            Some(0x01) => return Ok((out, i + 2)),
            Some(b) => {
                return Err(Error::corrupt(format!(
                    "index key: invalid escape 00 {b:02x} in a string at byte {i}"
                )));
            }
            None => return Err(Error::corrupt("index key: unterminated string")),
        }
    }
}

/// Appends `value` in the order-preserving, prefix-free encoding of
/// index keys (see the module doc for the layout and the order).
pub(crate) fn encode_ordered(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(false) => out.push(TAG_FALSE),
        Value::Bool(true) => out.push(TAG_TRUE),
        Value::Int(v) => {
            out.push(TAG_INT);
            out.extend_from_slice(&encode_i64(*v));
        }
        Value::Float(v) => {
            out.push(TAG_FLOAT);
            out.extend_from_slice(&encode_f64(*v));
        }
        Value::String(s) => {
            out.push(TAG_STRING);
            encode_escaped(s.as_bytes(), out);
        }
        Value::Json(j) => {
            out.push(TAG_JSON);
            encode_escaped(j.to_string().as_bytes(), out);
        }
    }
}

/// Reads one value written by [`encode_ordered`] from the start of
/// `bytes`: the value and how many bytes it took. Lets an index scan
/// read the indexed value from the key without fetching the row.
// Read back by the tests (and by index-only scans, once the planner has them).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn decode_ordered(bytes: &[u8]) -> Result<(Value, usize)> {
    let Some((&tag, payload)) = bytes.split_first() else {
        return Err(Error::corrupt("index key: missing value"));
    };
    let fixed = |what: &str| -> Result<[u8; 8]> {
        payload
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| Error::corrupt(format!("index key: truncated {what}")))
    };
    match tag {
        TAG_NULL => Ok((Value::Null, 1)),
        TAG_FALSE => Ok((Value::Bool(false), 1)),
        TAG_TRUE => Ok((Value::Bool(true), 1)),
        TAG_INT => Ok((Value::Int(decode_i64(fixed("int")?)), 9)),
        TAG_FLOAT => {
            let v = decode_f64(fixed("float")?);
            if v.is_nan() {
                return Err(Error::corrupt("index key: float is nan"));
            }
            Ok((Value::Float(v), 9))
        }
        TAG_STRING => {
            let (raw, used) = decode_escaped(payload)?;
            let s = String::from_utf8(raw)
                .map_err(|_| Error::corrupt("index key: string is not utf-8"))?;
            Ok((Value::String(s), 1 + used))
        }
        TAG_JSON => {
            let (raw, used) = decode_escaped(payload)?;
            let j = serde_json::from_slice(&raw)
                .map_err(|e| Error::corrupt(format!("index key: invalid json: {e}")))?;
            Ok((Value::Json(j), 1 + used))
        }
        t => Err(Error::corrupt(format!(
            "index key: unknown value tag 0x{t:02x}"
        ))),
    }
}

/// The key of the entry for (`value`, `pk`) in index `index_id`, appended
/// to `out`. Entries sort by value, then by primary key.
pub(crate) fn index_key(index_id: u32, value: &Value, pk: i64, out: &mut Vec<u8>) {
    index_prefix(index_id, value, out);
    out.extend_from_slice(&encode_i64(pk));
}

/// The prefix shared by exactly the entries of index `index_id` whose
/// value equals `value` (appended to `out`): an index lookup scans it, and
/// range bounds start at it (`>=`) or at its [`successor`] (`>`).
pub(crate) fn index_prefix(index_id: u32, value: &Value, out: &mut Vec<u8>) {
    out.extend_from_slice(&index_id.to_be_bytes());
    encode_ordered(value, out);
}

/// The primary key an index entry points at (its last 8 bytes); `None`
/// if `key` is too short to be an index entry.
pub(crate) fn pk_of_index_key(key: &[u8]) -> Option<i64> {
    // Index id, at least a one-byte value, primary key.
    if key.len() < 4 + 1 + 8 {
        return None;
    }
    let pk = key.get(key.len() - 8..)?.try_into().ok()?;
    Some(decode_i64(pk))
}

/// The first key of index `index_id` after all its null entries: where a
/// range scan for `<` or `<=` starts, since nulls match no comparison.
pub(crate) fn not_null_start(index_id: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(5);
    key.extend_from_slice(&index_id.to_be_bytes());
    // Null entries are id | TAG_NULL | pk, so this is successor(id | TAG_NULL).
    key.push(TAG_NULL + 1);
    key
}

/// The smallest byte string greater than every string that starts with
/// `prefix`: the exclusive end of a prefix scan. `None` when no such
/// string exists (`prefix` is empty or all 0xFF), i.e. the scan runs to
/// the end of the key space.
pub(crate) fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut next = prefix[..=last].to_vec();
    next[last] += 1;
    Some(next)
}

/// Proptest strategies for values, shared by the tests of `keys` and
/// `row`.
#[cfg(test)]
pub(crate) mod arb {
    use proptest::prelude::*;

    use crate::value::Value;

    /// Floats of every kind but NaN: uniform over bit patterns (which
    /// reaches subnormals and extremes) plus the edge cases by name.
    pub(crate) fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<u64>()
                .prop_map(f64::from_bits)
                .prop_filter("not nan", |v| !v.is_nan()),
            any::<f64>().prop_filter("not nan", |v| !v.is_nan()),
            prop::sample::select(vec![
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::MIN,
                f64::MAX,
                f64::MIN_POSITIVE,
                -f64::MIN_POSITIVE,
                f64::from_bits(1),
                -f64::from_bits(1),
                1.0,
                -1.0,
            ]),
        ]
    }

    pub(crate) fn int() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            -3i64..3,
            prop::sample::select(vec![i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX]),
        ]
    }

    /// Short strings over an alphabet with NUL, low bytes and multi-byte
    /// characters, so that prefixes and embedded zeros are common.
    pub(crate) fn string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[\\x00\\x01ab\u{7f}\u{e9}\u{ff}\u{10FFFF}]{0,6}",
            any::<String>(),
        ]
    }

    pub(crate) fn json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[a\\x00\"]{0,3}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-c\\x00]{0,2}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    pub(crate) fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            int().prop_map(Value::Int),
            float().prop_map(Value::Float),
            string().prop_map(Value::String),
            json().prop_map(Value::Json),
        ]
    }

    /// Byte strings over an alphabet that makes 0x00/0xFF runs and shared
    /// prefixes likely.
    pub(crate) fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![0x00, 0x01, 0x7F, 0xFE, 0xFF]),
            0..max,
        )
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::arb::{bytes, float, int, string, value};
    use super::*;
    use proptest::prelude::*;

    /// How two values' ordered encodings must compare: tag order, then
    /// the order within a type. The reference the encodings are checked
    /// against.
    fn ordered_cmp(a: &Value, b: &Value) -> Ordering {
        fn tag(v: &Value) -> u8 {
            match v {
                Value::Null => TAG_NULL,
                Value::Bool(false) => TAG_FALSE,
                Value::Bool(true) => TAG_TRUE,
                Value::Int(_) => TAG_INT,
                Value::Float(_) => TAG_FLOAT,
                Value::String(_) => TAG_STRING,
                Value::Json(_) => TAG_JSON,
            }
        }
        tag(a).cmp(&tag(b)).then_with(|| a.sort_cmp(b))
    }

    fn enc(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_ordered(v, &mut out);
        out
    }

    proptest! {
        #[test]
        fn i64_round_trips_and_keeps_order(a in int(), b in int()) {
            prop_assert_eq!(decode_i64(encode_i64(a)), a);
            prop_assert_eq!(encode_i64(a).cmp(&encode_i64(b)), a.cmp(&b));
        }

        #[test]
        fn row_keys_round_trip_and_sort_by_table_then_pk(
            t1 in any::<u32>(), p1 in int(), t2 in any::<u32>(), p2 in int(),
        ) {
            let (k1, k2) = (row_key(t1, p1), row_key(t2, p2));
            prop_assert_eq!(decode_row_key(&k1), Some((t1, p1)));
            prop_assert!(k1.starts_with(&table_prefix(t1)));
            prop_assert_eq!(k1.cmp(&k2), (t1, p1).cmp(&(t2, p2)));
        }

        #[test]
        fn ints_encode_in_numeric_order(a in int(), b in int()) {
            prop_assert_eq!(enc(&Value::Int(a)).cmp(&enc(&Value::Int(b))), a.cmp(&b));
        }

        #[test]
        fn floats_encode_in_numeric_order(a in float(), b in float()) {
            let expected = a.partial_cmp(&b).expect("no nan");
            prop_assert_eq!(enc(&Value::Float(a)).cmp(&enc(&Value::Float(b))), expected);
        }

        #[test]
        fn strings_encode_in_byte_order(a in string(), b in string()) {
            prop_assert_eq!(
                enc(&Value::String(a.clone())).cmp(&enc(&Value::String(b.clone()))),
                a.as_bytes().cmp(b.as_bytes())
            );
            // A string and its extensions, the case escaping exists for.
            let longer = format!("{a}\0{b}");
            prop_assert!(enc(&Value::String(a.clone())) < enc(&Value::String(longer)));
        }

        #[test]
        fn escaped_bytes_keep_order_and_are_prefix_free(a in bytes(8), b in bytes(8)) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            encode_escaped(&a, &mut ea);
            encode_escaped(&b, &mut eb);
            prop_assert_eq!(ea.cmp(&eb), a.cmp(&b));
            prop_assert!(a == b || !eb.starts_with(&ea));
            prop_assert_eq!(decode_escaped(&ea).unwrap(), (a, ea.len()));
        }

        #[test]
        fn encoded_values_keep_value_order(a in value(), b in value()) {
            prop_assert_eq!(enc(&a).cmp(&enc(&b)), ordered_cmp(&a, &b));
        }

        #[test]
        fn encoding_is_prefix_free_and_decodes(a in value(), b in value()) {
            let (ea, eb) = (enc(&a), enc(&b));
            if ordered_cmp(&a, &b) != Ordering::Equal {
                prop_assert!(!eb.starts_with(&ea), "{ea:02x?} is a prefix of {eb:02x?}");
            }
            let mut joined = ea.clone();
            joined.extend_from_slice(&eb);
            let (back, used) = decode_ordered(&joined).unwrap();
            prop_assert_eq!(used, ea.len());
            prop_assert_eq!(ordered_cmp(&back, &a), Ordering::Equal);
        }

        #[test]
        fn index_keys_sort_by_value_then_pk(
            id in 1u32..4, a in value(), pa in int(), b in value(), pb in int(),
        ) {
            let (mut ka, mut kb) = (Vec::new(), Vec::new());
            index_key(id, &a, pa, &mut ka);
            index_key(id, &b, pb, &mut kb);
            prop_assert_eq!(ka.cmp(&kb), ordered_cmp(&a, &b).then(pa.cmp(&pb)));
            prop_assert_eq!(pk_of_index_key(&ka), Some(pa));

            let mut prefix = Vec::new();
            index_prefix(id, &a, &mut prefix);
            prop_assert!(ka.starts_with(&prefix));
            prop_assert_eq!(kb.starts_with(&prefix), ordered_cmp(&a, &b) == Ordering::Equal);
            // `> a` starts at the prefix's successor: after every entry of a.
            let after = successor(&prefix).unwrap();
            prop_assert!(ka < after);
            prop_assert_eq!(kb >= after, ordered_cmp(&b, &a) == Ordering::Greater);
        }

        #[test]
        fn not_null_start_splits_nulls_from_values(id in 1u32..4, v in value(), pk in int()) {
            let mut key = Vec::new();
            index_key(id, &v, pk, &mut key);
            prop_assert_eq!(key < not_null_start(id), v.is_null());
            let mut next_index = Vec::new();
            index_key(id + 1, &Value::Null, i64::MIN, &mut next_index);
            prop_assert!(key < next_index);
        }

        #[test]
        fn successor_bounds_exactly_the_prefixed_strings(
            p in bytes(5), s in bytes(5), q in bytes(7), tail in bytes(3),
        ) {
            let mut extended = p.clone();
            extended.extend_from_slice(&s);
            match successor(&p) {
                Some(succ) => {
                    prop_assert!(extended < succ);
                    prop_assert!(!succ.starts_with(&p));
                    // [p, succ) holds exactly the strings starting with p:
                    // so succ is greater than them all, and nothing
                    // smaller than succ is.
                    let mut near = succ.clone();
                    near.extend_from_slice(&tail);
                    let mut below = succ.clone();
                    below.pop();
                    for q in [&q, &near, &below, &extended] {
                        prop_assert_eq!(
                            *q >= p && *q < succ,
                            q.starts_with(&p),
                            "p={:02x?} succ={:02x?} q={:02x?}", p, succ, q
                        );
                    }
                }
                None => {
                    prop_assert!(p.iter().all(|&b| b == 0xFF));
                    prop_assert!(q < p || q.starts_with(&p));
                }
            }
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(raw in prop::collection::vec(any::<u8>(), 0..24)) {
            let _ = decode_ordered(&raw);
            let _ = decode_row_key(&raw);
            let _ = pk_of_index_key(&raw);
        }
    }

    #[test]
    fn negative_zero_is_zero_and_edges_order() {
        assert_eq!(enc(&Value::Float(-0.0)), enc(&Value::Float(0.0)));
        let ordered = [
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -f64::MIN_POSITIVE,
            -f64::from_bits(1),
            0.0,
            f64::from_bits(1),
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
        ];
        for pair in ordered.windows(2) {
            assert!(
                enc(&Value::Float(pair[0])) < enc(&Value::Float(pair[1])),
                "{pair:?}"
            );
        }
    }

    #[test]
    fn layout_is_pinned() {
        // Format version 1; these bytes are on disk.
        assert_eq!(row_key(1, 0), [0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            encode_i64(-1),
            [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(enc(&Value::Null), [0x01]);
        assert_eq!(enc(&Value::Bool(false)), [0x02]);
        assert_eq!(enc(&Value::Bool(true)), [0x03]);
        assert_eq!(enc(&Value::Int(1)), [0x04, 0x80, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            enc(&Value::Float(1.0)),
            [0x05, 0xBF, 0xF0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            enc(&Value::Float(-1.0)),
            [0x05, 0x40, 0x0F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(
            enc(&Value::String("a\0b".into())),
            [0x06, b'a', 0, 0xFF, b'b', 0, 1]
        );
        assert_eq!(
            enc(&Value::Json(serde_json::json!({"b": 1, "a": [true]}))),
            [[0x07].as_slice(), br#"{"a":[true],"b":1}"#, &[0, 1]].concat()
        );
        let mut key = Vec::new();
        index_key(2, &Value::Int(5), 7, &mut key);
        assert_eq!(
            key,
            [
                0, 0, 0, 2, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 5, 0x80, 0, 0, 0, 0, 0, 0, 7
            ]
        );
        assert_eq!(not_null_start(2), [0, 0, 0, 2, 0x02]);
    }

    #[test]
    fn successor_edge_cases() {
        assert_eq!(successor(b""), None);
        assert_eq!(successor(&[0xFF, 0xFF]), None);
        assert_eq!(successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(successor(&table_prefix(1)), Some(table_prefix(2).to_vec()));
        assert_eq!(successor(&CATALOG_PREFIX), Some(table_prefix(1).to_vec()));
    }

    #[test]
    fn corrupt_index_values_are_errors() {
        for bad in [
            &[][..],
            &[0x00],
            &[0x08],
            &[TAG_INT, 1, 2],
            &[TAG_STRING, b'a'],
            &[TAG_STRING, 0],
            &[TAG_STRING, 0, 2],
            &[TAG_STRING, 0xC3, 0, 1],
            &[TAG_JSON, b'{', 0, 1],
            &[TAG_FLOAT, 0xFF, 0xF8, 0, 0, 0, 0, 0, 0],
        ] {
            let err = decode_ordered(bad).expect_err("corrupt");
            assert_eq!(err.code(), crate::ErrorCode::Corruption, "{bad:02x?}");
        }
        assert_eq!(decode_row_key(&[0; 11]), None);
        assert_eq!(pk_of_index_key(&[0; 12]), None);
    }
}
