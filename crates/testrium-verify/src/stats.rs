//! Latency statistics and time differences.

use crate::rows::Row;
use crate::verdict::{Clock, LatencyStats};

/// `b - a` in seconds: on the monotonic clock when both events have it, else on the wall clock.
#[inline]
pub(crate) fn delta(a: &Row, b: &Row) -> (f64, Clock) {
    match (a.mono_ns(), b.mono_ns()) {
        (Some(x), Some(y)) => (ns_to_s(i128::from(y) - i128::from(x)), Clock::Monotonic),
        _ => (b.time - a.time, Clock::Wall),
    }
}

#[inline]
pub(crate) fn ns_to_s(ns: i128) -> f64 {
    ns as f64 / 1e9
}

/// Statistics of `values` (sorted in place); `None` when empty. Percentiles are nearest rank:
/// the smallest value with at least p% of the samples at or below it. The mean is summed in
/// sorted order, so it does not depend on the input order.
pub(crate) fn latency_stats(values: &mut [f64]) -> Option<LatencyStats> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    let sum: f64 = values.iter().sum();
    let rank = |p: f64| -> f64 {
        let r = (p * n as f64).ceil() as usize;
        values[r.clamp(1, n) - 1]
    };
    Some(LatencyStats {
        count: n as u64,
        min_s: values[0],
        mean_s: sum / n as f64,
        p50_s: rank(0.50),
        p95_s: rank(0.95),
        p99_s: rank(0.99),
        max_s: values[n - 1],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = latency_stats(&mut v).expect("samples");
        assert_eq!(s.count, 100);
        assert_eq!(s.min_s, 1.0);
        assert_eq!(s.max_s, 100.0);
        assert_eq!(s.p50_s, 50.0);
        assert_eq!(s.p95_s, 95.0);
        assert_eq!(s.p99_s, 99.0);
        assert_eq!(s.mean_s, 50.5);
    }

    #[test]
    fn single_sample_is_every_percentile() {
        let s = latency_stats(&mut [0.25]).expect("one sample");
        assert_eq!(
            (s.min_s, s.p50_s, s.p99_s, s.max_s),
            (0.25, 0.25, 0.25, 0.25)
        );
    }

    #[test]
    fn empty_has_no_stats() {
        assert!(latency_stats(&mut []).is_none());
    }
}
