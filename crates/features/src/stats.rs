//! The arithmetic the feature table uses over a player's earlier games: means that skip
//! NaN, minutes-weighted usage, points per minute, exponentially weighted means, standard
//! deviation and median. Every sum runs in f64 over the games in chronological order, so
//! the builder and the server get the same bits.

use crate::history::PlayerGame;

const EWM_ALPHA: f64 = 0.2;
const EWM_GAMES: usize = 30;

/// Mean of the non-NaN values; NaN when there are none.
pub fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values.filter(|v| !v.is_nan()) {
        sum += v;
        n += 1;
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// The last `n` items (all of them when fewer).
pub fn last_n<T>(s: &[T], n: usize) -> &[T] {
    &s[s.len().saturating_sub(n)..]
}

/// Points per minute over a set of games: ratio of sums (NaN with no minutes).
pub fn points_per_minute(games: &[&PlayerGame]) -> f64 {
    let pts: f64 = games.iter().map(|g| g.pts).sum();
    let min: f64 = games.iter().map(|g| g.minutes).sum();
    if min > 0.0 { pts / min } else { f64::NAN }
}

/// Usage over a set of games, weighted by minutes (how the league aggregates usage; an
/// unweighted mean lets a 30-second cameo with one shot dominate).
pub fn usage(games: &[&PlayerGame]) -> f64 {
    let (mut num, mut min) = (0.0, 0.0);
    for g in games.iter().filter(|g| !g.usg.is_nan() && g.minutes > 0.0) {
        num += g.usg * g.minutes;
        min += g.minutes;
    }
    if min > 0.0 { num / min } else { f64::NAN }
}

/// Exponentially weighted mean of `f` over the last 30 games, oldest first.
pub fn ewm(games: &[&PlayerGame], f: impl Fn(&PlayerGame) -> f64) -> f64 {
    let mut m = f64::NAN;
    for g in last_n(games, EWM_GAMES) {
        let x = f(g);
        m = if m.is_nan() { x } else { EWM_ALPHA * x + (1.0 - EWM_ALPHA) * m };
    }
    m
}

/// Population standard deviation; NaN below two values.
pub fn std_pop(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    let m = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64).sqrt()
}

/// Median of the values (mean of the two middle ones when even; NaN if none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_skip_nan_and_are_nan_when_empty() {
        assert_eq!(mean([1.0, f64::NAN, 3.0].into_iter()), 2.0);
        assert!(mean(std::iter::empty()).is_nan());
        assert_eq!(median(&[5.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert!(std_pop(&[4.0]).is_nan());
        assert_eq!(std_pop(&[2.0, 4.0]), 1.0);
        assert_eq!(last_n(&[1, 2, 3], 2), &[2, 3]);
        assert_eq!(last_n(&[1, 2, 3], 5), &[1, 2, 3]);
    }
}
