//! Feature binning for the histogram GBM.
//!
//! Each feature gets up to `max_bins` value bins cut at f32 values `c[0] < c[1] < ...`.
//! A value `x` falls in bin `1 + #{c <= x}`; bin 0 holds missing values (NaN). So the
//! split "bin <= k" is exactly `x < c[k - 1]` on the raw f32 value, which is how the
//! split is exported (ONNX `BRANCH_LT` with an f32 threshold, no rounding involved).

use rayon::prelude::*;

/// The cut points of every feature.
#[derive(Debug, Clone, PartialEq)]
pub struct BinMapper {
    /// `cuts[f]`: strictly increasing, finite.
    pub cuts: Vec<Vec<f32>>,
}

/// A binned matrix, feature-major: `bins[f * rows + r]`.
#[derive(Debug, Clone)]
pub struct Binned {
    pub rows: usize,
    pub bins: Vec<u8>,
}

impl Binned {
    /// The bins of feature `f`, one per row.
    #[inline]
    pub fn col(&self, f: usize) -> &[u8] {
        &self.bins[f * self.rows..(f + 1) * self.rows]
    }
}

/// A cut between two neighbouring distinct values `a < b`: their midpoint as f32, or `b`
/// when the midpoint rounds down to `a` (then `a` still goes left, `b` right).
fn cut_between(a: f32, b: f32) -> f32 {
    let m = ((a as f64 + b as f64) / 2.0) as f32;
    if m > a && m <= b { m } else { b }
}

/// Cuts for one feature from its values: every distinct value its own bin when there are
/// at most `max_bins`, else cuts at (roughly) equal-count quantiles.
fn feature_cuts(mut values: Vec<f32>, max_bins: usize) -> Vec<f32> {
    values.retain(|v| !v.is_nan());
    values.sort_unstable_by(f32::total_cmp);
    // Distinct values with their counts.
    let mut distinct: Vec<(f32, usize)> = vec![];
    for v in values.iter().copied() {
        match distinct.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| cut_between(w[0].0, w[1].0)).collect();
    }
    // Greedy equal-count bins: close a bin once it holds its share of the rows left.
    let mut cuts = vec![];
    let mut left = values.len();
    let mut in_bin = 0usize;
    for (i, &(v, n)) in distinct.iter().enumerate() {
        in_bin += n;
        let bins_left = max_bins - cuts.len();
        if i + 1 < distinct.len() && bins_left > 1 && in_bin * bins_left >= left {
            cuts.push(cut_between(v, distinct[i + 1].0));
            left -= in_bin;
            in_bin = 0;
        }
    }
    cuts
}

impl BinMapper {
    /// Cut points from row-major rows (`rows[i][f]`), at most `max_bins` (2..=255) value
    /// bins per feature.
    pub fn fit(rows: &[&[f32]], n_features: usize, max_bins: usize) -> BinMapper {
        let max_bins = max_bins.clamp(2, 255);
        let cuts = (0..n_features).into_par_iter().map(|f| feature_cuts(rows.iter().map(|r| r[f]).collect(), max_bins)).collect();
        BinMapper { cuts }
    }

    pub fn n_features(&self) -> usize {
        self.cuts.len()
    }

    /// Number of bins of feature `f`, the missing bin included.
    pub fn n_bins(&self, f: usize) -> usize {
        self.cuts[f].len() + 2
    }

    /// The bin of value `x` of feature `f`.
    #[inline]
    pub fn bin(&self, f: usize, x: f32) -> u8 {
        if x.is_nan() {
            return 0;
        }
        (1 + self.cuts[f].partition_point(|&c| c <= x)) as u8
    }

    /// Bins row-major rows into a feature-major matrix.
    pub fn transform(&self, rows: &[&[f32]]) -> Binned {
        let n = rows.len();
        let mut bins = vec![0u8; n * self.n_features()];
        bins.par_chunks_mut(n.max(1)).enumerate().for_each(|(f, col)| {
            for (b, r) in col.iter_mut().zip(rows) {
                *b = self.bin(f, r[f]);
            }
        });
        Binned { rows: n, bins }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_match_the_lt_threshold_exactly() {
        let vals: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 * 0.1 + if i % 3 == 0 { 1e-7 } else { 0.0 }).collect();
        let rows: Vec<Vec<f32>> = vals.iter().map(|&v| vec![v, if v > 5.0 { f32::NAN } else { v }]).collect();
        let refs: Vec<&[f32]> = rows.iter().map(|r| &r[..]).collect();
        for max_bins in [2, 7, 255] {
            let m = BinMapper::fit(&refs, 2, max_bins);
            for f in 0..2 {
                let c = &m.cuts[f];
                assert!(c.len() < max_bins && !c.is_empty(), "{max_bins}: {}", c.len());
                assert!(c.windows(2).all(|w| w[0] < w[1]));
                for &v in &vals {
                    let b = m.bin(f, v) as usize;
                    for k in 1..=c.len() {
                        assert_eq!(b <= k, v < c[k - 1], "value {v} bin {b} cut {k}");
                    }
                }
            }
            assert_eq!(m.bin(1, f32::NAN), 0);
        }
    }

    #[test]
    fn quantile_bins_are_balanced() {
        let vals: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let c = feature_cuts(vals.clone(), 10);
        assert_eq!(c.len(), 9);
        for (k, &cut) in c.iter().enumerate() {
            assert!((cut - 1000.0 * (k + 1) as f32).abs() <= 1.0, "{c:?}");
        }
        // A constant feature has one bin and no cut.
        assert!(feature_cuts(vec![3.0; 10], 10).is_empty());
    }
}
