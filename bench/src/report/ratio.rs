//! Ratios fasty ÷ peer, oriented so that above 1 always means fasty is
//! ahead: for a rate (rows/s, ops/s, MB/s) fasty's figure over the peer's,
//! for a time or a size (ms, s, bytes) the peer's over fasty's.

/// Which way a figure improves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    /// More is better: rates.
    Higher,
    /// Less is better: times and sizes.
    Lower,
}

/// How far fasty is ahead of a peer on one figure (> 1: ahead, < 1:
/// behind); `None` when either side is missing, zero, negative or not
/// finite, where no ratio means anything.
pub fn advantage(fasty: f64, peer: f64, better: Better) -> Option<f64> {
    let valid = |x: f64| x.is_finite() && x > 0.0;
    if !valid(fasty) || !valid(peer) {
        return None;
    }
    let r = match better {
        Better::Higher => fasty / peer,
        Better::Lower => peer / fasty,
    };
    valid(r).then_some(r)
}

/// A ratio as the tables print it: `2.31×`, `0.45×`, `12×`.
pub fn text(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.2}×")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_divide_fasty_by_the_peer() {
        // 300 ops/s against 100 ops/s: three times the work per second.
        assert_eq!(advantage(300.0, 100.0, Better::Higher), Some(3.0));
        // 50 rows/s against 100 rows/s: half.
        assert_eq!(advantage(50.0, 100.0, Better::Higher), Some(0.5));
    }

    #[test]
    fn times_and_sizes_divide_the_peer_by_fasty() {
        // 2 ms against 8 ms: fasty takes a quarter of the time, 4× ahead.
        assert_eq!(advantage(2.0, 8.0, Better::Lower), Some(4.0));
        // 120 bytes per row against 60: twice the space, 0.5×.
        assert_eq!(advantage(120.0, 60.0, Better::Lower), Some(0.5));
    }

    #[test]
    fn the_same_pair_reads_opposite_ways_by_direction() {
        let up = advantage(10.0, 40.0, Better::Higher).unwrap();
        let down = advantage(10.0, 40.0, Better::Lower).unwrap();
        assert_eq!((up, down), (0.25, 4.0));
    }

    #[test]
    fn no_ratio_without_two_positive_finite_figures() {
        assert_eq!(advantage(0.0, 5.0, Better::Higher), None);
        assert_eq!(advantage(5.0, 0.0, Better::Lower), None);
        assert_eq!(advantage(f64::NAN, 5.0, Better::Higher), None);
        assert_eq!(advantage(5.0, f64::INFINITY, Better::Higher), None);
        assert_eq!(advantage(-1.0, 5.0, Better::Higher), None);
    }

    #[test]
    fn texts() {
        assert_eq!(text(2.3149), "2.31×");
        assert_eq!(text(0.454), "0.45×");
        assert_eq!(text(12.4), "12×");
    }
}
