//! "Did you mean ...?": the closest spelling among the names that would
//! have been accepted. Used for keywords by the parser and for table and
//! column names by the planner.

/// Words longer than this (in characters) get no suggestion: nobody
/// mistypes a name that long into another, and it bounds the work.
const MAX_WORD: usize = 64;

/// At most this many candidates are measured (a table's columns, the
/// tables of a database, the keywords).
const MAX_CANDIDATES: usize = 1000;

/// The candidate closest to `word`, if one is close enough to be a likely
/// typo: within an optimal-string-alignment (Damerau–Levenshtein) distance
/// of 1 for words of 2–5 characters and 2 for longer ones (a 1-character
/// word gets no suggestion). Letter case is ignored when measuring, and a
/// candidate differing from `word` only in case is always suggested; a
/// candidate equal to `word` never is. Ties go to the earlier candidate.
///
/// Bounded whatever the input: a word over [`MAX_WORD`] characters gets
/// none, only the first [`MAX_CANDIDATES`] candidates are looked at,
/// candidates whose length differs by more than the allowed distance are
/// skipped unmeasured, and a measurement stops as soon as the distance is
/// sure to exceed the allowed one.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if word.chars().nth(MAX_WORD).is_some() {
        return None;
    }
    let word_lower: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    let max = match word_lower.len() {
        0 | 1 => return None,
        2..=5 => 1,
        _ => 2,
    };
    let mut best: Option<(usize, &'a str)> = None;
    let mut cand_lower = Vec::new();
    for candidate in candidates.into_iter().take(MAX_CANDIDATES) {
        if candidate == word || candidate.len() > 4 * (MAX_WORD + max) {
            continue;
        }
        cand_lower.clear();
        cand_lower.extend(candidate.chars().flat_map(char::to_lowercase));
        if cand_lower.len().abs_diff(word_lower.len()) > max {
            continue;
        }
        if let Some(d) = distance_within(&word_lower, &cand_lower, max)
            && best.is_none_or(|(b, _)| d < b)
        {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal string alignment distance: insertions, deletions,
/// substitutions and transpositions of adjacent characters, each costing 1
/// (no substring is edited twice).
#[cfg(test)]
fn distance(a: &[char], b: &[char]) -> usize {
    distance_within(a, b, usize::MAX).unwrap_or(usize::MAX)
}

/// The optimal string alignment distance of `a` and `b` if it is at most
/// `max`; `None` (found early, once a whole row of the table exceeds
/// `max`) otherwise.
fn distance_within(a: &[char], b: &[char], max: usize) -> Option<usize> {
    // Three rows of the classic table: i-2, i-1 and i.
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        // Every later entry is at least the minimum of this row or the
        // one before it (a transposition reaches back two rows).
        if row_min > max && prev.iter().min().is_some_and(|&m| m > max) {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        distance(&a, &b)
    }

    #[test]
    fn distances() {
        assert_eq!(d("", ""), 0);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("select", "select"), 0);
        assert_eq!(d("selct", "select"), 1); // deletion
        assert_eq!(d("form", "from"), 1); // transposition
        assert_eq!(d("fnd", "find"), 1); // insertion
        assert_eq!(d("frm", "from"), 1);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("ca", "abc"), 3); // OSA, not unrestricted Damerau (2)
        assert_eq!(d("naïve", "naive"), 1); // characters, not bytes
    }

    const KEYWORDS: [&str; 6] = ["select", "from", "find", "where", "and", "as"];

    #[test]
    fn suggests_keywords() {
        assert_eq!(closest("selct", KEYWORDS), Some("select"));
        assert_eq!(closest("SELCT", KEYWORDS), Some("select"));
        assert_eq!(closest("form", KEYWORDS), Some("from"));
        assert_eq!(closest("fnd", KEYWORDS), Some("find"));
        assert_eq!(closest("wehre", KEYWORDS), Some("where"));
        assert_eq!(closest("slecet", KEYWORDS), Some("select")); // 2 edits, 6 letters
    }

    #[test]
    fn scales_with_length() {
        assert_eq!(closest("a", KEYWORDS), None); // one letter: never
        assert_eq!(closest("ad", KEYWORDS), Some("and")); // tie with "as": first wins
        assert_eq!(closest("fxxm", KEYWORDS), None); // 2 edits in 4 letters
        assert_eq!(closest("users", ["upsert"]), None);
        assert_eq!(closest("balance", ["name", "email"]), None);
    }

    #[test]
    fn case_and_exact_matches() {
        assert_eq!(closest("NAME", ["id", "name"]), Some("name"));
        assert_eq!(closest("name", ["name"]), None);
        assert_eq!(closest("nam", ["name", "nam"]), Some("name"));
        assert_eq!(closest("x", Vec::<&str>::new()), None);
    }

    #[test]
    fn long_words_and_many_candidates_stay_cheap() {
        // A 40,000-character name: no suggestion, and no quadratic table.
        let long = "x".repeat(40_000);
        let also_long = format!("{long}y");
        assert_eq!(closest(&long, [also_long.as_str(), "name"]), None);
        // Near the length limit a suggestion still comes.
        let w = "a".repeat(MAX_WORD - 1);
        let c = format!("{w}b");
        assert_eq!(closest(&w, [c.as_str()]), Some(c.as_str()));
        // The bounded measure agrees with the full one where it answers.
        for (a, b) in [
            ("kitten", "sitting"),
            ("form", "from"),
            ("abcdef", "badcfe"),
        ] {
            let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
            let full = distance(&a, &b);
            for max in 0..5 {
                assert_eq!(
                    distance_within(&a, &b, max),
                    (full <= max).then_some(full),
                    "{a:?} {b:?} {max}"
                );
            }
        }
    }

    #[test]
    fn closer_candidate_wins() {
        assert_eq!(closest("emial", ["email2", "email"]), Some("email"));
        assert_eq!(
            closest("user_idd", ["user_name", "user_id"]),
            Some("user_id")
        );
    }
}
