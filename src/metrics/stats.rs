//! Percentiles and summaries. Linear interpolation between closest ranks,
//! as PostgreSQL `percentile_cont` and numpy's default: for sorted `x` of
//! length n and fraction p, h = (n − 1)·p, result = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).

use serde::Serialize;

/// Percentile `p` in [0, 1] of already sorted values; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let h = (n - 1) as f64 * p.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// p50, p95, mean, min and max of a sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50: f64,
    pub p95: f64,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

/// Summarizes `values` (any order); `None` when empty. Sorts in place.
pub fn summarize(values: &mut [f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let sum: f64 = values.iter().sum();
    Some(Summary {
        count: values.len(),
        p50: percentile(values, 0.5)?,
        p95: percentile(values, 0.95)?,
        mean: sum / values.len() as f64,
        min: values[0],
        max: values[values.len() - 1],
    })
}

/// Rounds to `digits` decimals, for output only (levels use raw values).
pub fn round_to(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 95]) == [3.0, 8.8]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(percentile(&v, 0.5), Some(3.0));
        assert!((percentile(&v, 0.95).unwrap() - 8.8).abs() < 1e-9);
        // numpy.percentile([1, 2], 50) == 1.5; one value is every percentile.
        assert_eq!(percentile(&[1.0, 2.0], 0.5), Some(1.5));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn summary() {
        let mut v = vec![10.0, 0.0, 5.0];
        let s = summarize(&mut v).unwrap();
        assert_eq!(
            (s.count, s.p50, s.mean, s.min, s.max),
            (3, 5.0, 5.0, 0.0, 10.0)
        );
        assert!((s.p95 - 9.5).abs() < 1e-9);
        assert!(summarize(&mut []).is_none());
        assert_eq!(round_to(8.333_333, 2), 8.33);
    }
}
