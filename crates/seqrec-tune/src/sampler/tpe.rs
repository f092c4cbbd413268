//! The tree-structured Parzen estimator (Bergstra et al. 2011) as Optuna
//! runs it by default, each hyperparameter on its own: after
//! `startup_trials` random trials, the finished trials are split into the
//! best γ(n) = min(⌈0.1 n⌉, 25) and the rest; of `candidates` draws from the
//! good trials' density l, the one with the largest l(x) / g(x) is taken.
//! Complete trials rank by value; pruned trials rank below them, by the
//! epochs they reached and then their last value.

use super::parzen::{Categorical, Numeric, observation_weights};
use super::random;
use crate::settings::TpeSettings;
use crate::space::{Distribution, Params, Scale, Space};
use crate::trial::{TrialRecord, TrialState};
use seqrec_core::SeqRng;
use std::cmp::Ordering;

/// γ(n): how many of n trials count as good.
pub(super) fn gamma(n: usize) -> usize {
    n.div_ceil(10).min(25)
}

/// Finished trials, best first (see the module documentation).
fn ranked(history: &[TrialRecord]) -> Vec<&TrialRecord> {
    let mut complete: Vec<&TrialRecord> = history
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value.is_some_and(f64::is_finite))
        .collect();
    complete.sort_by(|a, b| {
        b.value
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.value.unwrap_or(f64::NEG_INFINITY))
            .then(a.number.cmp(&b.number))
    });
    let mut pruned: Vec<&TrialRecord> = history
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    let last = |t: &TrialRecord| {
        t.intermediate
            .iter()
            .next_back()
            .map(|(e, v)| (*e, *v))
            .unwrap_or((0, f64::NEG_INFINITY))
    };
    pruned.sort_by(|a, b| {
        let (ea, va) = last(a);
        let (eb, vb) = last(b);
        eb.cmp(&ea)
            .then(vb.total_cmp(&va))
            .then(a.number.cmp(&b.number))
    });
    complete.extend(pruned);
    complete
}

pub(super) fn sample(
    space: &Space,
    history: &[TrialRecord],
    settings: &TpeSettings,
    rng: &mut SeqRng,
) -> Params {
    let ranked = ranked(history);
    if (ranked.len() as u64) < settings.startup_trials || ranked.is_empty() {
        return random::sample(space, rng);
    }
    let good = gamma(ranked.len());
    let mut below: Vec<&TrialRecord> = ranked[..good].to_vec();
    let mut above: Vec<&TrialRecord> = ranked[good..].to_vec();
    // Weights grow with the trial number (older trials count less).
    below.sort_by_key(|t| t.number);
    above.sort_by_key(|t| t.number);
    space
        .params
        .iter()
        .map(|(key, d)| {
            let value = match d {
                Distribution::Choice { values } => {
                    let index_of = |t: &&TrialRecord| {
                        t.params
                            .get(key)
                            .and_then(|v| values.iter().position(|x| x == v))
                    };
                    let obs_l: Vec<usize> = below.iter().filter_map(index_of).collect();
                    let obs_g: Vec<usize> = above.iter().filter_map(index_of).collect();
                    let l =
                        Categorical::new(&obs_l, &observation_weights(obs_l.len()), values.len());
                    let g =
                        Categorical::new(&obs_g, &observation_weights(obs_g.len()), values.len());
                    let best = (0..settings.candidates)
                        .map(|_| l.sample(rng))
                        .map(|c| (c, l.log_pmf(c) - g.log_pmf(c)))
                        .fold(None, keep_best)
                        .map_or(0, |(c, _)| c);
                    values[best].clone()
                }
                numeric => {
                    let (low, high) = numeric.internal_bounds().unwrap_or((0.0, 1.0));
                    let internal =
                        |t: &&TrialRecord| t.params.get(key).and_then(|v| numeric.to_internal(v));
                    let obs_l: Vec<f64> = below.iter().filter_map(internal).collect();
                    let obs_g: Vec<f64> = above.iter().filter_map(internal).collect();
                    let l = Numeric::new(&obs_l, &observation_weights(obs_l.len()), low, high);
                    let g = Numeric::new(&obs_g, &observation_weights(obs_g.len()), low, high);
                    let best = (0..settings.candidates)
                        .map(|_| l.sample(rng))
                        .map(|x| {
                            // A value on a grid is scored by its bin.
                            let snapped = numeric.from_internal(x);
                            let bin = bin_of(numeric, &snapped);
                            (x, l.log_pdf(x, bin) - g.log_pdf(x, bin))
                        })
                        .fold(None, keep_best)
                        .map_or(low, |(x, _)| x);
                    numeric.from_internal(best)
                }
            };
            (key.clone(), value)
        })
        .collect()
}

/// The first of the largest scores.
fn keep_best<T>(best: Option<(T, f64)>, next: (T, f64)) -> Option<(T, f64)> {
    match best {
        Some(b) if b.1.partial_cmp(&next.1) != Some(Ordering::Less) => Some(b),
        _ => Some(next),
    }
}

/// The internal interval that rounds to `value` for a distribution on a
/// grid (integers, or floats with a step); `None` for a continuous range.
fn bin_of(d: &Distribution, value: &serde_json::Value) -> Option<(f64, f64)> {
    let v = value.as_f64()?;
    match *d {
        Distribution::Int {
            step,
            scale: Scale::Linear,
            ..
        } => Some((v - step as f64 / 2.0, v + step as f64 / 2.0)),
        Distribution::Int {
            scale: Scale::Log, ..
        } => Some(((v - 0.5).ln(), (v + 0.5).ln())),
        Distribution::Float { step: Some(s), .. } => Some((v - s / 2.0, v + s / 2.0)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_is_optunas() {
        assert_eq!(
            [1, 10, 11, 20, 21, 250, 1000].map(gamma),
            [1, 1, 2, 2, 3, 25, 25]
        );
    }
}
