//! A small [`ValueLayout`] for tests: a value is a list of tagged fields,
//! and keys starting with `t` and at least 4 bytes long belong to the
//! group named by their first 4 bytes.

use super::{Field, ValueLayout};

/// Tags: `n` null, `i` int (8 bytes LE), `f` float (8 bytes LE), `b` bool
/// (1 byte, 0 or 1), `s` text and `x` blob (1 length byte, then bytes).
#[derive(Debug, Default)]
pub(crate) struct TaggedLayout;

impl ValueLayout for TaggedLayout {
    fn group_len(&self, key: &[u8]) -> Option<usize> {
        (key.len() >= 4 && key[0] == b't').then_some(4)
    }

    fn split<'v>(&self, value: &'v [u8], out: &mut Vec<Field<'v>>) -> bool {
        let mut pos = 0;
        while pos < value.len() {
            let tag = value[pos];
            pos += 1;
            let word = |pos: usize| -> Option<[u8; 8]> { value.get(pos..pos + 8)?.try_into().ok() };
            let f = match tag {
                b'n' => Field::Null,
                b'i' => match word(pos) {
                    Some(w) => {
                        pos += 8;
                        Field::Int(i64::from_le_bytes(w))
                    }
                    None => return false,
                },
                b'f' => match word(pos) {
                    Some(w) => {
                        pos += 8;
                        Field::Float(f64::from_le_bytes(w))
                    }
                    None => return false,
                },
                b'b' => match value.get(pos) {
                    Some(&b) if b <= 1 => {
                        pos += 1;
                        Field::Bool(b == 1)
                    }
                    _ => return false,
                },
                b's' | b'x' => {
                    let Some(&len) = value.get(pos) else {
                        return false;
                    };
                    let Some(b) = value.get(pos + 1..pos + 1 + usize::from(len)) else {
                        return false;
                    };
                    pos += 1 + usize::from(len);
                    if tag == b's' {
                        Field::Text(b)
                    } else {
                        Field::Blob(b)
                    }
                }
                _ => return false,
            };
            out.push(f);
        }
        true
    }

    fn join(&self, fields: &[Field<'_>], out: &mut Vec<u8>) {
        for f in fields {
            match *f {
                Field::Null => out.push(b'n'),
                Field::Int(v) => {
                    out.push(b'i');
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Field::Float(v) => {
                    out.push(b'f');
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Field::Bool(b) => {
                    out.push(b'b');
                    out.push(u8::from(b));
                }
                Field::Text(b) | Field::Blob(b) => {
                    out.push(if matches!(f, Field::Text(_)) {
                        b's'
                    } else {
                        b'x'
                    });
                    out.push(b.len().min(255) as u8);
                    out.extend_from_slice(&b[..b.len().min(255)]);
                }
            }
        }
    }
}

/// Encodes `fields` as [`TaggedLayout`] does.
pub(crate) fn tagged(fields: &[Field<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    TaggedLayout.join(fields, &mut out);
    out
}

/// A row key of the group `t001`: the group and an 8-byte big-endian id.
pub(crate) fn row_key(id: u64) -> Vec<u8> {
    let mut k = b"t001".to_vec();
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// [`TaggedLayout`] with the promises a test needs: UTF-8 text (so cached
/// blocks are checked) and whether keys outside any group get a hash
/// index.
#[derive(Debug)]
pub(crate) struct Promising {
    pub utf8: bool,
    pub hash_index: bool,
}

impl Promising {
    /// Text promised UTF-8; hash indexes as usual.
    pub(crate) const UTF8: Promising = Promising {
        utf8: true,
        hash_index: true,
    };
}

impl ValueLayout for Promising {
    fn group_len(&self, key: &[u8]) -> Option<usize> {
        TaggedLayout.group_len(key)
    }
    fn split<'v>(&self, value: &'v [u8], out: &mut Vec<Field<'v>>) -> bool {
        TaggedLayout.split(value, out)
    }
    fn join(&self, fields: &[Field<'_>], out: &mut Vec<u8>) {
        TaggedLayout.join(fields, out)
    }
    fn text_is_utf8(&self) -> bool {
        self.utf8
    }
    fn hash_index(&self, _key: &[u8]) -> bool {
        self.hash_index
    }
}
