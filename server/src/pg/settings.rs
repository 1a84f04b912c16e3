//! Run-time parameters (`SET`, `SHOW`, `RESET`), per connection: the
//! usual ones start at PostgreSQL-like values, any other `SET` is accepted
//! and remembered (drivers and tools set many that change nothing here).
//! Only `client_encoding` is checked: the server speaks UTF-8 only.

use std::collections::BTreeMap;

use super::errors::PgError;

/// Parameters whose changes PostgreSQL reports to the client
/// (ParameterStatus), as it does at start-up.
pub(crate) const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
    "standard_conforming_strings",
    "search_path",
];

/// The `server_version` reported: the PostgreSQL version whose protocol
/// and behaviour are followed, then fasty's.
pub(crate) fn server_version() -> String {
    format!("16.0 (fasty {})", env!("CARGO_PKG_VERSION"))
}

/// A connection's parameters. Names are matched case-insensitively and
/// shown with their usual spelling.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    values: BTreeMap<String, (String, String)>,
}

/// The defaults: (name, value).
fn defaults() -> Vec<(&'static str, String)> {
    vec![
        ("server_version", server_version()),
        ("server_version_num", "160000".into()),
        ("server_encoding", "UTF8".into()),
        ("client_encoding", "UTF8".into()),
        ("DateStyle", "ISO, MDY".into()),
        ("IntervalStyle", "postgres".into()),
        ("TimeZone", "UTC".into()),
        ("search_path", "\"$user\", public".into()),
        ("application_name", String::new()),
        ("standard_conforming_strings", "on".into()),
        ("extra_float_digits", "1".into()),
        ("integer_datetimes", "on".into()),
        ("is_superuser", "on".into()),
        ("default_transaction_read_only", "off".into()),
        ("transaction_isolation", "repeatable read".into()),
        ("default_transaction_isolation", "repeatable read".into()),
        ("max_identifier_length", "63".into()),
        ("lc_messages", "C".into()),
        ("statement_timeout", "0".into()),
    ]
}

/// What a `SET`, `SHOW` or `RESET` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `SET name TO value` (or `=`), `SET TIME ZONE value`.
    Set(String, String),
    /// `SHOW name`.
    Show(String),
    /// `SHOW ALL`.
    ShowAll,
    /// `RESET name`.
    Reset(String),
    /// `RESET ALL`.
    ResetAll,
}

impl Settings {
    /// The defaults, with the start-up parameters (`application_name`,
    /// `client_encoding`, ...) the client sent.
    pub(crate) fn new<'a>(startup: impl IntoIterator<Item = (&'a String, &'a String)>) -> Settings {
        let mut s = Settings {
            values: BTreeMap::new(),
        };
        for (name, value) in defaults() {
            s.values
                .insert(name.to_ascii_lowercase(), (name.to_string(), value));
        }
        for (name, value) in startup {
            if matches!(
                name.as_str(),
                "user" | "database" | "options" | "replication"
            ) {
                continue;
            }
            let _ = s.set(name, value);
        }
        s
    }

    /// The value of `name`, if set.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(&name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    /// The name as usually spelt.
    pub(crate) fn spelling(&self, name: &str) -> String {
        self.values
            .get(&name.to_ascii_lowercase())
            .map_or_else(|| name.to_string(), |(n, _)| n.clone())
    }

    /// Sets `name`; only `client_encoding` refuses values (anything but
    /// UTF-8), and the read-only ones refuse any change.
    pub(crate) fn set(&mut self, name: &str, value: &str) -> Result<(), PgError> {
        let key = name.to_ascii_lowercase();
        let value = match key.as_str() {
            "client_encoding" => {
                let v = value.to_ascii_lowercase().replace(['-', '_'], "");
                if v != "utf8" && v != "unicode" {
                    return Err(PgError::new(
                        "22023",
                        format!(
                            "invalid value for parameter \"client_encoding\": \"{value}\": only UTF8 is supported"
                        ),
                    ));
                }
                "UTF8".to_string()
            }
            "server_version"
            | "server_version_num"
            | "server_encoding"
            | "integer_datetimes"
            | "is_superuser"
            | "max_identifier_length" => {
                return Err(PgError::new(
                    "55P02",
                    format!("parameter \"{name}\" cannot be changed"),
                ));
            }
            _ => value.to_string(),
        };
        let spelt = self.spelling(name);
        self.values.insert(key, (spelt, value));
        Ok(())
    }

    /// Back to the default (or unset, for a parameter without one).
    pub(crate) fn reset(&mut self, name: &str) {
        let key = name.to_ascii_lowercase();
        match defaults()
            .into_iter()
            .find(|(n, _)| n.to_ascii_lowercase() == key)
        {
            Some((n, v)) => {
                self.values.insert(key, (n.to_string(), v));
            }
            None => {
                self.values.remove(&key);
            }
        }
    }

    /// Every parameter: (name, value), by name.
    pub(crate) fn all(&self) -> Vec<(String, String)> {
        self.values.values().cloned().collect()
    }
}

/// `SET`/`SHOW`/`RESET` in `text` (one statement, no trailing `;`), or
/// `None` for any other statement. `SET LOCAL` and `SET SESSION` are taken
/// alike (there is no per-transaction scope here).
pub(crate) fn command(text: &str) -> Option<Result<Command, PgError>> {
    let text = super::skip_comments(text);
    let words: Vec<&str> = text.split_whitespace().collect();
    let first = words.first()?.to_ascii_lowercase();
    let syntax = |m: &str| Err(PgError::new("42601", m.to_string()));
    Some(match first.as_str() {
        "show" => match words.get(1..) {
            Some([name]) if name.eq_ignore_ascii_case("all") => Ok(Command::ShowAll),
            Some([name]) => Ok(Command::Show(unquote(name))),
            Some([a, b]) if a.eq_ignore_ascii_case("time") && b.eq_ignore_ascii_case("zone") => {
                Ok(Command::Show("TimeZone".into()))
            }
            Some([a, b, c])
                if a.eq_ignore_ascii_case("transaction")
                    && b.eq_ignore_ascii_case("isolation")
                    && c.eq_ignore_ascii_case("level") =>
            {
                Ok(Command::Show("transaction_isolation".into()))
            }
            _ => syntax("SHOW takes one parameter name, or ALL"),
        },
        "reset" => match words.get(1..) {
            Some([name]) if name.eq_ignore_ascii_case("all") => Ok(Command::ResetAll),
            Some([name]) => Ok(Command::Reset(unquote(name))),
            _ => syntax("RESET takes one parameter name, or ALL"),
        },
        "set" => {
            let rest = text.trim_start()[3..].trim_start();
            let rest = strip_word(rest, "session")
                .or_else(|| strip_word(rest, "local"))
                .unwrap_or(rest);
            if let Some(zone) = strip_word(rest, "time").and_then(|r| strip_word(r, "zone")) {
                return Some(Ok(Command::Set("TimeZone".into(), value_text(zone))));
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '=')
                .unwrap_or(rest.len());
            let (name, tail) = rest.split_at(end);
            let tail = tail.trim_start();
            let value = if let Some(v) = tail.strip_prefix('=') {
                v
            } else if let Some(v) = strip_word(tail, "to") {
                v
            } else {
                return Some(syntax("SET needs \"name TO value\" or \"name = value\""));
            };
            if name.is_empty() {
                return Some(syntax("SET needs a parameter name"));
            }
            let value = value.trim();
            let value = if value.eq_ignore_ascii_case("default") {
                return Some(Ok(Command::Reset(unquote(name))));
            } else {
                value_text(value)
            };
            Ok(Command::Set(unquote(name), value))
        }
        _ => return None,
    })
}

/// `rest` without a leading `word` (any case) and the blanks after it.
fn strip_word<'a>(rest: &'a str, word: &str) -> Option<&'a str> {
    let head = rest.get(..word.len())?;
    let after = &rest[word.len()..];
    (head.eq_ignore_ascii_case(word) && after.starts_with(char::is_whitespace))
        .then(|| after.trim_start())
}

/// A SET value list as PostgreSQL shows it: quotes removed from each
/// item, items joined by `, `.
fn value_text(v: &str) -> String {
    v.split(',')
        .map(|item| unquote(item.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        s[1..s.len() - 1].replace("''", "'")
    } else if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_show_reset_parse() {
        let c = |t: &str| command(t).unwrap().unwrap();
        assert_eq!(
            c("SET search_path TO public"),
            Command::Set("search_path".into(), "public".into())
        );
        assert_eq!(
            c("set extra_float_digits = 3"),
            Command::Set("extra_float_digits".into(), "3".into())
        );
        assert_eq!(
            c("SET SESSION TIME ZONE 'Europe/Berlin'"),
            Command::Set("TimeZone".into(), "Europe/Berlin".into())
        );
        assert_eq!(
            c("SET application_name = 'my app'"),
            Command::Set("application_name".into(), "my app".into())
        );
        assert_eq!(
            c("SET datestyle TO iso, 'dmy'"),
            Command::Set("datestyle".into(), "iso, dmy".into())
        );
        assert_eq!(c("show all"), Command::ShowAll);
        assert_eq!(c("SHOW TimeZone"), Command::Show("TimeZone".into()));
        assert_eq!(c("SET x TO DEFAULT"), Command::Reset("x".into()));
        assert!(command("SET").unwrap().is_err());
        assert!(command("select 1").is_none());
        assert!(command("settings").is_none());
        assert!(matches!(
            command("-- a tool's comment\nSHOW search_path"),
            Some(Ok(Command::Show(n))) if n == "search_path"
        ));
    }

    #[test]
    fn settings_keep_values_case_insensitively() {
        let mut s = Settings::new([]);
        assert_eq!(s.get("timezone"), Some("UTC"));
        s.set("TIMEZONE", "Europe/Berlin").unwrap();
        assert_eq!(s.get("TimeZone"), Some("Europe/Berlin"));
        assert_eq!(s.spelling("timezone"), "TimeZone");
        s.set("my.custom", "1").unwrap();
        assert_eq!(s.get("MY.CUSTOM"), Some("1"));
        s.reset("my.custom");
        assert_eq!(s.get("my.custom"), None);
        s.reset("timezone");
        assert_eq!(s.get("TimeZone"), Some("UTC"));
        assert!(s.set("client_encoding", "LATIN1").is_err());
        s.set("client_encoding", "utf-8").unwrap();
        assert!(s.set("server_version", "1").is_err());
    }
}
