//! Robust trend statistics for memory floors: the Theil–Sen slope (the median of the
//! pairwise slopes, insensitive to the odd outlier a GC leaves behind) and the
//! Mann–Kendall test (is there a monotonic upward trend at all, with ties corrected).

/// The Theil–Sen estimator: the median of `(v_j - v_i) / (t_j - t_i)` over all pairs with
/// `t_j > t_i`. `None` with fewer than two distinct times.
pub fn theil_sen_slope(points: &[(f64, f64)]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
    for (i, &(ti, vi)) in points.iter().enumerate() {
        for &(tj, vj) in &points[i + 1..] {
            if tj != ti {
                slopes.push((vj - vi) / (tj - ti));
            }
        }
    }
    median(&mut slopes)
}

/// The median, reordering `values`; the mean of the two middle values for an even count.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (lower, upper, _) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower_max = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((lower_max + upper) / 2.0)
}

/// The outcome of a one-sided Mann–Kendall test for an upward trend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Sum of `sign(v_j - v_i)` over all pairs `i < j`.
    pub s: i64,
    /// Variance of `s` under "no trend", corrected for ties.
    pub variance: f64,
    /// Normal score of `s`, with the usual continuity correction.
    pub z: f64,
    /// Probability of an upward trend at least this strong arising by chance.
    pub p_upward: f64,
}

/// Mann–Kendall test of `values` (in time order) for an upward trend.
pub fn mann_kendall(values: &[f64]) -> MannKendall {
    let n = values.len();
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            s += sign(values[j] - values[i]);
        }
    }
    let nf = n as f64;
    let mut variance = nf * (nf - 1.0) * (2.0 * nf + 5.0);
    for t in tie_group_sizes(values) {
        let t = t as f64;
        variance -= t * (t - 1.0) * (2.0 * t + 5.0);
    }
    variance /= 18.0;
    let z = if variance <= 0.0 {
        0.0
    } else if s > 0 {
        (s as f64 - 1.0) / variance.sqrt()
    } else if s < 0 {
        (s as f64 + 1.0) / variance.sqrt()
    } else {
        0.0
    };
    MannKendall {
        s,
        variance,
        z,
        p_upward: 1.0 - normal_cdf(z),
    }
}

/// How far `points` spread around the line of `slope` through them: the distance between the
/// 10th and 90th percentiles of the residuals `v - slope * t` (robust to a few outliers).
/// 0 for no points.
pub fn residual_spread(points: &[(f64, f64)], slope: f64) -> f64 {
    if points.is_empty() {
        return 0.0;
    }
    let mut residuals: Vec<f64> = points.iter().map(|&(t, v)| v - slope * t).collect();
    residuals.sort_by(f64::total_cmp);
    let decile = residuals.len() / 10;
    residuals[residuals.len() - 1 - decile] - residuals[decile]
}

/// P10–P90 spread of floors per median absolute step residual: for normal noise the spread
/// is 2.563 σ, and a step (the difference of two floors) has a median absolute residual of
/// 0.6745 × √2 σ; for uniform noise it gives 1.57 times the amplitude against 1.6.
const SPREAD_PER_STEP_RESIDUAL: f64 = 2.687;

/// How far floors wander from one to the next, on the scale of [`residual_spread`]: the
/// median absolute residual of the steps between neighbours, `Δv − rate × Δt` for the
/// median `rate` of the steps, scaled to the 10th–90th percentile spread of the floors
/// themselves. A steady trend, even a steep one, does not count, and neither does a minority
/// of steps of another rate (the start of a leak, a cache filling up); the floors' noise
/// does, however few of them line up. 0 with fewer than two steps.
pub fn step_spread(points: &[(f64, f64)]) -> f64 {
    let steps: Vec<(f64, f64)> = points
        .windows(2)
        .map(|pair| (pair[1].0 - pair[0].0, pair[1].1 - pair[0].1))
        .filter(|&(dt, _)| dt > 0.0)
        .collect();
    if steps.len() < 2 {
        return 0.0;
    }
    let mut rates: Vec<f64> = steps.iter().map(|&(dt, dv)| dv / dt).collect();
    let Some(rate) = median(&mut rates) else {
        return 0.0;
    };
    let mut residuals: Vec<f64> = steps
        .iter()
        .map(|&(dt, dv)| (dv - rate * dt).abs())
        .collect();
    median(&mut residuals).map_or(0.0, |m| SPREAD_PER_STEP_RESIDUAL * m)
}

fn sign(x: f64) -> i64 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// Sizes of the groups of equal values (only groups of two or more matter).
fn tie_group_sizes(values: &[f64]) -> Vec<usize> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut groups = Vec::new();
    let mut run = 1;
    for w in sorted.windows(2) {
        if w[0] == w[1] {
            run += 1;
        } else {
            if run > 1 {
                groups.push(run);
            }
            run = 1;
        }
    }
    if run > 1 {
        groups.push(run);
    }
    groups
}

/// The standard normal CDF, from a complementary error function accurate to about 1e-7
/// (Chebyshev fit, Numerical Recipes' `erfcc`).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_rng::Rng;

    /// Median by full sort: the naive oracle for `median`.
    fn naive_median(values: &[f64]) -> Option<f64> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }

    /// Tie correction by counting, for each value, how many equal it: the oracle for
    /// `tie_group_sizes` as it enters the variance.
    fn naive_tie_term(values: &[f64]) -> f64 {
        let mut seen: Vec<f64> = Vec::new();
        let mut term = 0.0;
        for &v in values {
            if seen.contains(&v) {
                continue;
            }
            seen.push(v);
            let t = values.iter().filter(|&&x| x == v).count() as f64;
            term += t * (t - 1.0) * (2.0 * t + 5.0);
        }
        term
    }

    #[test]
    fn median_matches_sorting_on_random_input_with_ties() {
        let mut rng = Rng(7);
        for n in 0..60 {
            for _ in 0..20 {
                let mut v: Vec<f64> = (0..n).map(|_| (rng.unit() * 10.0).floor()).collect();
                let expected = naive_median(&v);
                assert_eq!(median(&mut v), expected);
            }
        }
    }

    #[test]
    fn theil_sen_recovers_a_line_despite_outliers() {
        let mut points: Vec<(f64, f64)> = (0..40)
            .map(|i| (i as f64, 100.0 + 3.0 * i as f64))
            .collect();
        // A quarter of the points knocked far off the line: the median slope does not move.
        for i in (0..40).step_by(4) {
            points[i].1 += 1e6;
        }
        let slope = theil_sen_slope(&points).unwrap();
        assert!((slope - 3.0).abs() < 1e-9, "{slope}");
    }

    #[test]
    fn step_spread_measures_noise_not_trend() {
        // A steep line, however unevenly its floors are spaced: no spread.
        let line: Vec<(f64, f64)> = [0.0, 1.0, 3.0, 3.5, 7.0, 9.0]
            .iter()
            .map(|&t| (t, 5e6 * t))
            .collect();
        assert!(step_spread(&line) < 1e-6);
        // Uniform noise of ±A (P10–P90 spread 1.6 A), flat or on a steep line: about 1.6 A.
        for slope in [0.0, 1e7] {
            let mut rng = Rng(3);
            let noisy: Vec<(f64, f64)> = (0..2000)
                .map(|i| (i as f64, slope * i as f64 + rng.noise(1e6)))
                .collect();
            let spread = step_spread(&noisy);
            assert!((1.45e6..1.75e6).contains(&spread), "{slope}: {spread}");
        }
        // Four steps of another rate among twelve flat ones (a leak that has just begun)
        // leave the flat floors' spread.
        let onset: Vec<(f64, f64)> = (0..16)
            .map(|i| (i as f64, 5e7 * (i as f64 - 11.0).max(0.0)))
            .collect();
        assert!(step_spread(&onset) < 1e-6);
        // Fewer than two steps: nothing to measure.
        assert_eq!(step_spread(&line[..2]), 0.0);
        assert_eq!(step_spread(&[]), 0.0);
    }

    #[test]
    fn theil_sen_edge_cases() {
        assert_eq!(theil_sen_slope(&[]), None);
        assert_eq!(theil_sen_slope(&[(1.0, 5.0)]), None);
        assert_eq!(theil_sen_slope(&[(1.0, 5.0), (1.0, 9.0)]), None);
        assert_eq!(
            theil_sen_slope(&[(0.0, 5.0), (2.0, 5.0), (4.0, 5.0)]),
            Some(0.0)
        );
    }

    #[test]
    fn mann_kendall_matches_naive_counts_and_tie_terms() {
        let mut rng = Rng(99);
        for n in 2..50 {
            let values: Vec<f64> = (0..n)
                .map(|i| (rng.unit() * 6.0).floor() + i as f64 * 0.1)
                .collect();
            let mk = mann_kendall(&values);
            let mut s = 0i64;
            for i in 0..n {
                for j in 0..n {
                    if j > i && values[j] > values[i] {
                        s += 1;
                    }
                    if j > i && values[j] < values[i] {
                        s -= 1;
                    }
                }
            }
            assert_eq!(mk.s, s);
            let nf = n as f64;
            let var = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - naive_tie_term(&values)) / 18.0;
            assert!((mk.variance - var).abs() < 1e-9);
        }
    }

    #[test]
    fn mann_kendall_on_constant_monotone_and_reversed_series() {
        let flat = vec![7.0; 30];
        let mk = mann_kendall(&flat);
        assert_eq!(mk.s, 0);
        assert_eq!(mk.variance, 0.0);
        assert!((mk.p_upward - 0.5).abs() < 1e-6);

        let up: Vec<f64> = (0..30).map(|i| i as f64).collect();
        let mk = mann_kendall(&up);
        assert_eq!(mk.s, 30 * 29 / 2);
        assert!(mk.p_upward < 1e-9);

        let down: Vec<f64> = (0..30).rev().map(|i| i as f64).collect();
        assert!(mann_kendall(&down).p_upward > 1.0 - 1e-9);
    }

    #[test]
    fn normal_cdf_known_values() {
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.96, 0.024_997_895),
            (3.0, 0.998_650_102),
        ] {
            assert!((normal_cdf(z) - p).abs() < 2e-7, "{z}: {}", normal_cdf(z));
        }
    }
}
