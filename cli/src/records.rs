//! The CSV records of `fasty import`, read strictly: every record with the
//! line it starts on (the first line is 1), every field with whether it
//! was quoted (an unquoted empty field is null, a quoted one an empty
//! string), and every malformation an error naming its line instead of a
//! guess: a quote that never closes, text after a closing quote, a field
//! that is not UTF-8.
//!
//! The format is RFC 4180's with a choice of delimiter and quote byte: a
//! quoted field may hold delimiters, line breaks and doubled quotes; an
//! unquoted field is taken as it is (a quote inside it is an ordinary
//! character); lines end in `\n` or `\r\n`; blank lines are skipped; a
//! UTF-8 byte order mark at the start is dropped.
//!
//! A quote that never closes would swallow the rest of the file into one
//! field. The reader stops such a field at [`MAX_RECORD`] bytes or at the
//! end of the file, reports the line the quote opened on, and goes back to
//! the line after it, so that `--on-error skip` loses only that line.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};

/// The longest record read, in bytes: a longer one is an error (most
/// likely a quote that never closes), not a reason to fill memory.
pub const MAX_RECORD: usize = 64 << 20;

/// One field: its text and whether it was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The text, quotes removed and doubled quotes undone.
    pub text: String,
    /// Whether it was written in quotes.
    pub quoted: bool,
}

/// One record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The line it starts on (1-based).
    pub line: u64,
    /// Its fields, in order.
    pub fields: Vec<Field>,
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// A malformed record: the reader has moved past it, so reading may go
    /// on (`--on-error skip`).
    Bad {
        /// The line the record starts on.
        line: u64,
        /// One line, lower-case.
        message: String,
    },
    /// The file cannot be read; nothing more can be.
    Io(String),
}

/// A strict CSV reader over a file.
pub struct Reader {
    inner: BufReader<File>,
    delimiter: u8,
    quote: u8,
    /// The number of the next physical line.
    line: u64,
    /// The byte offset of the next physical line.
    offset: u64,
    /// A physical line, reused.
    buf: Vec<u8>,
}

/// Where the parser is within a record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field.
    Start,
    /// In an unquoted field.
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: the field's end, or the
    /// first of a doubled quote.
    QuoteInQuoted,
}

impl Reader {
    /// A reader of `file` with the given delimiter and quote bytes.
    pub fn new(file: File, delimiter: u8, quote: u8) -> Reader {
        Reader {
            inner: BufReader::with_capacity(1 << 20, file),
            delimiter,
            quote,
            line: 1,
            offset: 0,
            buf: Vec::new(),
        }
    }

    /// Bytes consumed so far (for progress).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads one physical line into `self.buf`, terminator included;
    /// `false` at the end of the file.
    fn read_line(&mut self) -> Result<bool, ReadError> {
        self.buf.clear();
        let n = self
            .inner
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| ReadError::Io(format!("line {}: cannot read: {e}", self.line)))?;
        if n == 0 {
            return Ok(false);
        }
        if self.offset == 0 && self.buf.starts_with(b"\xEF\xBB\xBF") {
            self.buf.drain(..3);
        }
        self.offset += n as u64;
        self.line += 1;
        Ok(true)
    }

    /// The next record, `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        // Skip blank lines.
        let start_line = loop {
            let line = self.line;
            if !self.read_line()? {
                return Ok(None);
            }
            if !matches!(self.buf.as_slice(), b"\n" | b"\r\n" | b"\r" | b"") {
                break line;
            }
        };
        // Where reading resumes if the record's quote never closes.
        let resume = (self.offset, self.line);
        let mut fields: Vec<(Vec<u8>, bool)> = Vec::new();
        let mut field: Vec<u8> = Vec::new();
        let mut quoted = false;
        let mut state = State::Start;
        let mut size = 0usize;
        loop {
            let line = std::mem::take(&mut self.buf);
            let (content, terminator) = split_terminator(&line);
            for &b in content {
                match state {
                    State::Start => {
                        if b == self.quote {
                            quoted = true;
                            state = State::Quoted;
                        } else if b == self.delimiter {
                            fields.push((std::mem::take(&mut field), false));
                        } else {
                            field.push(b);
                            state = State::Unquoted;
                        }
                    }
                    State::Unquoted => {
                        if b == self.delimiter {
                            fields.push((std::mem::take(&mut field), false));
                            state = State::Start;
                        } else {
                            field.push(b);
                        }
                    }
                    State::Quoted => {
                        if b == self.quote {
                            state = State::QuoteInQuoted;
                        } else {
                            field.push(b);
                        }
                    }
                    State::QuoteInQuoted => {
                        if b == self.quote {
                            field.push(b);
                            state = State::Quoted;
                        } else if b == self.delimiter {
                            fields.push((std::mem::take(&mut field), true));
                            quoted = false;
                            state = State::Start;
                        } else {
                            self.buf = line;
                            return Err(ReadError::Bad {
                                line: start_line,
                                message: format!(
                                    "field {} has text after its closing quote \
                                     (a quote inside a quoted field is written twice)",
                                    fields.len() + 1
                                ),
                            });
                        }
                    }
                }
            }
            size += line.len();
            if state != State::Quoted {
                self.buf = line;
                break;
            }
            // A line break inside quotes belongs to the field.
            field.extend_from_slice(terminator);
            self.buf = line;
            let more = size <= MAX_RECORD && self.read_line()?;
            if !more {
                let why = if size > MAX_RECORD {
                    format!("runs past {} MiB", MAX_RECORD >> 20)
                } else {
                    "reaches the end of the file".to_string()
                };
                self.seek(resume)?;
                return Err(ReadError::Bad {
                    line: start_line,
                    message: format!(
                        "the quote opening field {} never closes (the field {why}); \
                         close it, or double a quote meant inside it",
                        fields.len() + 1
                    ),
                });
            }
        }
        fields.push((field, quoted));
        let mut out = Vec::with_capacity(fields.len());
        for (i, (bytes, quoted)) in fields.into_iter().enumerate() {
            let text = String::from_utf8(bytes).map_err(|_| ReadError::Bad {
                line: start_line,
                message: format!(
                    "field {} is not valid utf-8 (convert the file, e.g. iconv -f latin1 -t utf-8)",
                    i + 1
                ),
            })?;
            out.push(Field { text, quoted });
        }
        Ok(Some(Record {
            line: start_line,
            fields: out,
        }))
    }

    /// Goes back to `(offset, line)`.
    fn seek(&mut self, (offset, line): (u64, u64)) -> Result<(), ReadError> {
        self.inner
            .seek(SeekFrom::Start(offset))
            .map_err(|e| ReadError::Io(format!("line {line}: cannot seek: {e}")))?;
        self.offset = offset;
        self.line = line;
        Ok(())
    }
}

/// A line's content and its terminator (`\n`, `\r\n` or nothing).
fn split_terminator(line: &[u8]) -> (&[u8], &[u8]) {
    if let Some(rest) = line.strip_suffix(b"\r\n") {
        (rest, &line[rest.len()..])
    } else if let Some(rest) = line.strip_suffix(b"\n") {
        (rest, &line[rest.len()..])
    } else {
        (line, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A record as its line and `(text, quoted)` fields, or an error as
    /// `line: message`.
    type Read = Result<(u64, Vec<(String, bool)>), String>;

    fn read_all(text: &[u8], delimiter: u8) -> Vec<Read> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(text).unwrap();
        f.seek(SeekFrom::Start(0)).unwrap();
        let mut r = Reader::new(f, delimiter, b'"');
        let mut out = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some(rec)) => out.push(Ok((
                    rec.line,
                    rec.fields.into_iter().map(|f| (f.text, f.quoted)).collect(),
                ))),
                Ok(None) => return out,
                Err(ReadError::Bad { line, message }) => {
                    out.push(Err(format!("{line}: {message}")))
                }
                Err(ReadError::Io(e)) => panic!("{e}"),
            }
        }
    }

    fn plain(fields: &[&str]) -> Vec<(String, bool)> {
        fields.iter().map(|f| (f.to_string(), false)).collect()
    }

    #[test]
    fn quoted_fields_hold_delimiters_quotes_and_line_breaks() {
        let got = read_all(
            b"\xEF\xBB\xBFa,b\r\n\"x, \"\"y\"\"\",\"1\n2\"\n\n,\"\"\nlast,\"q\"",
            b',',
        );
        assert_eq!(
            got,
            vec![
                Ok((1, plain(&["a", "b"]))),
                Ok((
                    2,
                    vec![("x, \"y\"".to_string(), true), ("1\n2".to_string(), true)]
                )),
                Ok((5, vec![(String::new(), false), (String::new(), true)])),
                Ok((
                    6,
                    vec![("last".to_string(), false), ("q".to_string(), true)]
                )),
            ]
        );
    }

    #[test]
    fn an_unterminated_quote_is_reported_and_skipped_alone() {
        let got = read_all(b"id,name\n1,\"unterminated\n2,b\n", b',');
        assert_eq!(
            got,
            vec![
                Ok((1, plain(&["id", "name"]))),
                Err(
                    "2: the quote opening field 2 never closes (the field reaches the end \
                     of the file); close it, or double a quote meant inside it"
                        .to_string()
                ),
                Ok((3, plain(&["2", "b"]))),
            ]
        );
    }

    #[test]
    fn text_after_a_closing_quote_and_bad_utf8_are_errors() {
        let got = read_all(b"\"a\"b,c\nok\n\xFF\tx\n", b'\t');
        assert!(
            got[0]
                .as_ref()
                .unwrap_err()
                .starts_with("1: field 1 has text after")
        );
        assert_eq!(got[1], Ok((2, plain(&["ok"]))));
        assert!(
            got[2]
                .as_ref()
                .unwrap_err()
                .starts_with("3: field 1 is not valid utf-8"),
            "{got:?}"
        );
    }
}
