//! Paired significance tests over per-user values (specification §3): the Wilcoxon
//! signed-rank test and a seeded paired bootstrap interval of the mean
//! difference.

use crate::EvalError;
use seqrec_core::SeqRng;
use serde::{Deserialize, Serialize};

/// How the Wilcoxon p-value was computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WilcoxonMethod {
    /// The exact permutation distribution of the signed-rank sum (n ≤ 50).
    /// With tied |differences| it is the exact distribution of the
    /// mid-ranks actually observed.
    Exact,
    /// Normal approximation with the tie correction of the variance, no
    /// continuity correction.
    Normal,
}

/// Result of [`wilcoxon_signed_rank`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Wilcoxon {
    /// Pairs left after zero differences were dropped.
    pub pairs: usize,
    pub zeros_dropped: usize,
    /// Sum of the ranks of positive differences (x > y).
    pub w_plus: f64,
    /// Sum of the ranks of negative differences.
    pub w_minus: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    pub method: WilcoxonMethod,
}

/// Largest number of pairs for which the exact distribution is used.
pub const EXACT_MAX_PAIRS: usize = 50;

/// Wilcoxon signed-rank test of paired samples `x` and `y`, two-sided.
/// Zero differences are dropped (Wilcoxon's method).
pub fn wilcoxon_signed_rank(x: &[f64], y: &[f64]) -> Result<Wilcoxon, EvalError> {
    if x.len() != y.len() {
        return Err(EvalError::InvalidConfig(format!(
            "paired samples differ in length: {} and {}",
            x.len(),
            y.len()
        )));
    }
    let diffs: Vec<f64> = x
        .iter()
        .zip(y)
        .map(|(a, b)| a - b)
        .filter(|d| *d != 0.0)
        .collect();
    if diffs.iter().any(|d| d.is_nan()) {
        return Err(EvalError::InvalidConfig(
            "paired samples contain NaN".into(),
        ));
    }
    let n = diffs.len();
    let zeros_dropped = x.len() - n;
    if n == 0 {
        return Ok(Wilcoxon {
            pairs: 0,
            zeros_dropped,
            w_plus: 0.0,
            w_minus: 0.0,
            p_value: 1.0,
            method: WilcoxonMethod::Exact,
        });
    }
    // Mid-ranks of |d|, and the tie groups for the variance correction.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| diffs[a].abs().total_cmp(&diffs[b].abs()));
    let mut ranks = vec![0.0; n];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && diffs[order[j + 1]].abs() == diffs[order[i]].abs() {
            j += 1;
        }
        let mid = (i + j + 2) as f64 / 2.0;
        for &o in &order[i..=j] {
            ranks[o] = mid;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let w_plus: f64 = diffs
        .iter()
        .zip(&ranks)
        .filter(|(d, _)| **d > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total = n as f64 * (n as f64 + 1.0) / 2.0;
    let w_minus = total - w_plus;
    let (p_value, method) = if n <= EXACT_MAX_PAIRS {
        (exact_p(&ranks, w_plus), WilcoxonMethod::Exact)
    } else {
        let mean = total / 2.0;
        let var = n as f64 * (n as f64 + 1.0) * (2.0 * n as f64 + 1.0) / 24.0 - tie_term / 48.0;
        let z = (w_plus - mean) / var.sqrt();
        (
            erfc(z.abs() / std::f64::consts::SQRT_2).min(1.0),
            WilcoxonMethod::Normal,
        )
    };
    Ok(Wilcoxon {
        pairs: n,
        zeros_dropped,
        w_plus,
        w_minus,
        p_value,
        method,
    })
}

/// Two-sided exact p-value: every sign pattern is equally likely under H0.
/// Mid-ranks are halves at most, so doubled ranks are integers and the
/// distribution of the doubled sum is counted by dynamic programming.
fn exact_p(ranks: &[f64], w_plus: f64) -> f64 {
    let doubled: Vec<usize> = ranks.iter().map(|r| (r * 2.0).round() as usize).collect();
    let total: usize = doubled.iter().sum();
    // counts[s] = number of sign patterns with doubled W+ = s; exact in f64
    // up to 2^53, and n ≤ 50 gives at most 2^50.
    let mut counts = vec![0f64; total + 1];
    counts[0] = 1.0;
    let mut reach = 0;
    for &r in &doubled {
        for s in (0..=reach).rev() {
            if counts[s] != 0.0 {
                counts[s + r] += counts[s];
            }
        }
        reach += r;
    }
    let w = (w_plus * 2.0).round() as usize;
    let all = 2f64.powi(ranks.len() as i32);
    let lower: f64 = counts[..=w].iter().sum::<f64>() / all;
    let upper: f64 = counts[w..].iter().sum::<f64>() / all;
    (2.0 * lower.min(upper)).min(1.0)
}

/// Complementary error function, relative error below 1e-12 over the range
/// used here: a power series for erf below 3, a continued fraction above.
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 3.0 {
        // erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        let mut n = 0.0;
        while term.abs() > 1e-17 * sum.abs() {
            n += 1.0;
            term *= -x2 / n;
            sum += term / (2.0 * n + 1.0);
        }
        return 1.0 - sum * std::f64::consts::FRAC_2_SQRT_PI;
    }
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
    // evaluated bottom-up with enough terms for x >= 3.
    let mut f = x;
    for k in (1..=60).rev() {
        f = x + (k as f64 / 2.0) / f;
    }
    (-x * x).exp() / std::f64::consts::PI.sqrt() / f
}

/// Result of [`paired_bootstrap`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Mean of x - y over all pairs.
    pub mean_difference: f64,
    pub low: f64,
    pub high: f64,
    pub confidence: f64,
    pub resamples: usize,
    pub seed: u64,
}

/// Percentile interval of the mean paired difference `x - y` from
/// `resamples` resamples of the pairs with replacement, seeded. Quantiles
/// interpolate linearly between order statistics (NumPy's default).
pub fn paired_bootstrap(
    x: &[f64],
    y: &[f64],
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> Result<Bootstrap, EvalError> {
    if x.len() != y.len() || x.is_empty() {
        return Err(EvalError::InvalidConfig(
            "bootstrap needs two non-empty samples of equal length".into(),
        ));
    }
    if resamples == 0 || !(confidence > 0.0 && confidence < 1.0) {
        return Err(EvalError::InvalidConfig(
            "bootstrap needs resamples > 0 and confidence in (0, 1)".into(),
        ));
    }
    let d: Vec<f64> = x.iter().zip(y).map(|(a, b)| a - b).collect();
    let n = d.len();
    let mut rng = SeqRng::new(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| d[rng.index(n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        let pos = q * (resamples - 1) as f64;
        let lo = pos.floor() as usize;
        let hi = pos.ceil() as usize;
        means[lo] + (means[hi] - means[lo]) * (pos - lo as f64)
    };
    let alpha = 1.0 - confidence;
    Ok(Bootstrap {
        mean_difference: d.iter().sum::<f64>() / n as f64,
        low: quantile(alpha / 2.0),
        high: quantile(1.0 - alpha / 2.0),
        confidence,
        resamples,
        seed,
    })
}

#[cfg(test)]
mod tests;
