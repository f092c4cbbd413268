//! Parzen estimators of the TPE sampler: a weighted mixture of truncated
//! normals over a numeric hyperparameter's interval, or of smoothed
//! indicator distributions over a choice's values, each with a prior
//! component. Bandwidths follow Optuna's univariate rule ("magic clip").

use seqrec_core::SeqRng;
use seqrec_metrics::significance::erfc;

/// Weight of the prior component (Optuna: 1.0).
const PRIOR_WEIGHT: f64 = 1.0;

/// Optuna's `default_weights`: older trials count less once there are more
/// than 25 of them.
pub(super) fn observation_weights(n: usize) -> Vec<f64> {
    if n < 25 {
        return vec![1.0; n];
    }
    let ramp = n - 25;
    let mut w: Vec<f64> = (0..ramp)
        .map(|i| {
            if ramp == 1 {
                1.0 / n as f64
            } else {
                1.0 / n as f64 + (1.0 - 1.0 / n as f64) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect();
    w.extend(std::iter::repeat_n(1.0, 25));
    w
}

fn normalised(mut w: Vec<f64>) -> Vec<f64> {
    let sum: f64 = w.iter().sum();
    if sum > 0.0 {
        w.iter_mut().for_each(|x| *x /= sum);
    }
    w
}

/// The standard normal's distribution function.
fn phi(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn log_sum_exp(terms: impl Iterator<Item = f64>) -> f64 {
    let terms: Vec<f64> = terms.collect();
    let max = terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln()
}

/// A mixture of normals truncated to `[low, high]`.
#[derive(Clone, Debug)]
pub(super) struct Numeric {
    weights: Vec<f64>,
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    low: f64,
    high: f64,
}

impl Numeric {
    /// The estimator of observations `obs` (internal values, clamped into
    /// the interval) with their `weights`.
    pub(super) fn new(obs: &[f64], weights: &[f64], low: f64, high: f64) -> Numeric {
        let obs: Vec<f64> = obs.iter().map(|x| x.clamp(low, high)).collect();
        let range = (high - low).max(f64::MIN_POSITIVE);
        let prior_mu = 0.5 * (low + high);
        let mut with_prior = obs.clone();
        with_prior.push(prior_mu);
        let mut order: Vec<usize> = (0..with_prior.len()).collect();
        order.sort_by(|&a, &b| with_prior[a].total_cmp(&with_prior[b]).then(a.cmp(&b)));
        // Sorted centres between the two ends.
        let mut ends = Vec::with_capacity(with_prior.len() + 2);
        ends.push(low);
        ends.extend(order.iter().map(|&i| with_prior[i]));
        ends.push(high);
        let m = with_prior.len();
        let mut sorted_sigmas: Vec<f64> = (1..=m)
            .map(|i| (ends[i] - ends[i - 1]).max(ends[i + 1] - ends[i]))
            .collect();
        // Optuna's consider_endpoints = false: the outermost centres look
        // at their inner neighbour only.
        if ends.len() >= 4 {
            sorted_sigmas[0] = ends[2] - ends[1];
            sorted_sigmas[m - 1] = ends[m] - ends[m - 1];
        }
        let mut sigmas = vec![0.0; m];
        for (rank, &i) in order.iter().enumerate() {
            sigmas[i] = sorted_sigmas[rank];
        }
        let min_sigma = range / (1.0 + m as f64).min(100.0);
        for s in sigmas.iter_mut() {
            *s = s.clamp(min_sigma, range);
        }
        // The prior is as wide as the interval.
        sigmas[m - 1] = range;
        let mut w = weights.to_vec();
        w.push(PRIOR_WEIGHT);
        Numeric {
            weights: normalised(w),
            mus: with_prior,
            sigmas,
            low,
            high,
        }
    }

    /// One draw.
    pub(super) fn sample(&self, rng: &mut SeqRng) -> f64 {
        let k = pick(&self.weights, rng);
        let (mu, sigma) = (self.mus[k], self.sigmas[k]);
        for _ in 0..1000 {
            let x = mu + sigma * rng.normal();
            if (self.low..=self.high).contains(&x) {
                return x;
            }
        }
        // Practically unreachable (sigma is at most the interval's width and
        // mu lies in it); stay in range rather than loop.
        self.low + (self.high - self.low) * rng.next_f64()
    }

    /// Log density at `x`, or the log probability of the bin `[a, b]` for
    /// a value on a grid.
    pub(super) fn log_pdf(&self, x: f64, bin: Option<(f64, f64)>) -> f64 {
        let terms = (0..self.mus.len()).map(|k| {
            let (mu, sigma) = (self.mus[k], self.sigmas[k]);
            let z_low = (self.low - mu) / sigma;
            let z_high = (self.high - mu) / sigma;
            let mass = (phi(z_high) - phi(z_low)).max(1e-300);
            let log_term = match bin {
                Some((a, b)) => {
                    let (a, b) = (a.max(self.low), b.min(self.high));
                    ((phi((b - mu) / sigma) - phi((a - mu) / sigma)).max(1e-300)).ln()
                }
                None => {
                    let z = (x - mu) / sigma;
                    -0.5 * z * z - (sigma * (2.0 * std::f64::consts::PI).sqrt()).ln()
                }
            };
            self.weights[k].max(1e-300).ln() + log_term - mass.ln()
        });
        log_sum_exp(terms)
    }
}

/// A mixture over `n` choices: one smoothed indicator per observation and
/// a uniform prior.
#[derive(Clone, Debug)]
pub(super) struct Categorical {
    probabilities: Vec<f64>,
}

impl Categorical {
    pub(super) fn new(obs: &[usize], weights: &[f64], n: usize) -> Categorical {
        let mut w = weights.to_vec();
        w.push(PRIOR_WEIGHT);
        let w = normalised(w);
        let mut probabilities = vec![0.0; n];
        for (i, &c) in obs.iter().enumerate() {
            // Optuna: prior_weight / n on every choice plus 1 on the observed one.
            let total = PRIOR_WEIGHT + 1.0;
            for (j, p) in probabilities.iter_mut().enumerate() {
                let mass = PRIOR_WEIGHT / n as f64 + if j == c { 1.0 } else { 0.0 };
                *p += w[i] * mass / total;
            }
        }
        let prior = w[obs.len()];
        for p in probabilities.iter_mut() {
            *p += prior / n as f64;
        }
        Categorical { probabilities }
    }

    pub(super) fn sample(&self, rng: &mut SeqRng) -> usize {
        pick(&self.probabilities, rng)
    }

    pub(super) fn log_pmf(&self, c: usize) -> f64 {
        self.probabilities
            .get(c)
            .copied()
            .unwrap_or(0.0)
            .max(1e-300)
            .ln()
    }
}

/// An index drawn with probabilities proportional to `weights`.
fn pick(weights: &[f64], rng: &mut SeqRng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut u = rng.next_f64() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.len().saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_optunas_ramp() {
        assert_eq!(observation_weights(3), vec![1.0; 3]);
        let w = observation_weights(30);
        assert_eq!(w.len(), 30);
        assert!((w[0] - 1.0 / 30.0).abs() < 1e-12);
        assert!((w[4] - 1.0).abs() < 1e-12);
        assert!(w[25..].iter().all(|x| *x == 1.0));
    }

    #[test]
    fn bandwidths_by_hand() {
        // Observations 0.2 and 0.8 on [0, 1], prior at 0.5: sorted centres
        // 0.2, 0.5, 0.8 between the ends 0 and 1. With the endpoints not
        // considered, 0.2 and 0.8 take the gap to their inner neighbour
        // (0.3); the minimum is 1 / (1 + 3) = 0.25, the prior takes 1.
        let m = Numeric::new(&[0.2, 0.8], &[1.0, 1.0], 0.0, 1.0);
        assert_eq!(m.sigmas.len(), 3);
        assert!((m.sigmas[0] - 0.3).abs() < 1e-12, "{:?}", m.sigmas);
        assert!((m.sigmas[1] - 0.3).abs() < 1e-12);
        assert_eq!(m.sigmas[2], 1.0);
        assert!(m.weights.iter().all(|w| (w - 1.0 / 3.0).abs() < 1e-12));
        // Density integrates to about 1 over the interval.
        let n = 2000;
        let integral: f64 = (0..n)
            .map(|i| m.log_pdf((i as f64 + 0.5) / n as f64, None).exp() / n as f64)
            .sum();
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
        // Bins of a grid sum to 1 as well.
        let bins: f64 = (0..10)
            .map(|i| {
                m.log_pdf(0.0, Some((i as f64 / 10.0, (i + 1) as f64 / 10.0)))
                    .exp()
            })
            .sum();
        assert!((bins - 1.0).abs() < 1e-9, "{bins}");
    }

    #[test]
    fn categorical_mass_by_hand() {
        // One observation of choice 1 out of 3, weight 1, prior weight 1:
        // the observation's row is (1/3, 4/3, 1/3) / 2, the prior's 1/3 each,
        // mixed half and half.
        let c = Categorical::new(&[1], &[1.0], 3);
        let expected = [
            0.5 * (1.0 / 6.0) + 0.5 / 3.0,
            0.5 * (4.0 / 6.0) + 0.5 / 3.0,
            0.5 * (1.0 / 6.0) + 0.5 / 3.0,
        ];
        for (i, e) in expected.iter().enumerate() {
            assert!((c.log_pmf(i).exp() - e).abs() < 1e-12);
        }
    }

    #[test]
    fn draws_stay_in_the_interval() {
        let m = Numeric::new(&[0.0, 0.0, 1e-6], &[1.0; 3], 0.0, 1.0);
        let mut rng = SeqRng::new(7);
        for _ in 0..10_000 {
            let x = m.sample(&mut rng);
            assert!((0.0..=1.0).contains(&x));
        }
    }
}
