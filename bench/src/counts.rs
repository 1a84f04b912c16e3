//! Parsing of count arguments shared by the subcommands.

/// A positive whole number, underscores allowed (`1_000_000`), for clap's
/// `value_parser`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let n: u64 = s
        .replace('_', "")
        .parse()
        .map_err(|e| format!("not a whole number: {e}"))?;
    if n == 0 {
        return Err("must be at least 1".into());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::parse_count;

    #[test]
    fn counts_allow_underscores_and_refuse_zero() {
        assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
        assert!(parse_count("0").is_err());
        assert!(parse_count("ten").is_err());
    }
}
