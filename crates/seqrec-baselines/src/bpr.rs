//! What BPR-MF and sequential MF share: the SGD settings of specification §5, the
//! negative sampler, the factor tables and the one BPR step.

use crate::training_data::TrainingData;
use crate::{BaselineError, error::invalid};
use seqrec_core::{Cancel, Part, Scorer, SeqRng, Split, UserId};
use serde::{Deserialize, Serialize};

/// SGD settings (Table 1: 20 factors, 30 epochs, learning rate 0.01; spec
/// decisions: regularisation 0.01, factors from N(0, 0.1²)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SgdParams {
    pub factors: usize,
    pub epochs: usize,
    pub learning_rate: f32,
    /// L2 weight on every factor vector touched by a step (not on biases).
    pub regularization: f32,
    /// Standard deviation of the normal initialisation of the factors.
    pub init_std: f32,
}

impl Default for SgdParams {
    fn default() -> Self {
        SgdParams {
            factors: 20,
            epochs: 30,
            learning_rate: 0.01,
            regularization: 0.01,
            init_std: 0.1,
        }
    }
}

impl SgdParams {
    pub(crate) fn validate(&self, method: &'static str) -> Result<(), BaselineError> {
        if self.factors == 0 {
            return Err(invalid(method, "factors must be at least 1"));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(invalid(
                method,
                format!("learning_rate must be positive, got {}", self.learning_rate),
            ));
        }
        if !(self.regularization.is_finite() && self.regularization >= 0.0) {
            return Err(invalid(
                method,
                format!(
                    "regularization must be non-negative, got {}",
                    self.regularization
                ),
            ));
        }
        if !(self.init_std.is_finite() && self.init_std >= 0.0) {
            return Err(invalid(
                method,
                format!("init_std must be non-negative, got {}", self.init_std),
            ));
        }
        Ok(())
    }
}

/// A row-major `[rows × factors]` table initialised from N(0, std²).
pub(crate) fn normal_table(rows: usize, factors: usize, std: f32, rng: &mut SeqRng) -> Vec<f32> {
    (0..rows * factors)
        .map(|_| (rng.normal() as f32) * std)
        .collect()
}

/// A uniformly drawn item the user did not consume in training, or `None`
/// when there is none. Rejection sampling: users consume a small share of
/// the catalogue, so few draws are rejected.
pub(crate) fn sample_negative(data: &TrainingData, user: usize, rng: &mut SeqRng) -> Option<u32> {
    if data.sorted[user].len() >= data.items {
        return None;
    }
    loop {
        let j = rng.index(data.items) as u32;
        if !data.has(user, j) {
            return Some(j);
        }
    }
}

/// Sees an SGD baseline after each of its epochs: the epoch (1-based) and
/// the model as it stands, ready to score. The tuner's pruner evaluates it
/// there; an observer cannot change the fit (it gets a shared reference and
/// no random numbers), so a fit's result is the same with or without one.
pub type SgdEpochObserver<'a> = dyn FnMut(usize, &dyn Scorer) + 'a;

/// The SGD epochs BPR-MF and sequential MF share: each epoch shuffles every
/// training event `(user, position)` with `rng`, draws one negative per event
/// and calls `step(model, user, position, negative, scratch)`, which returns
/// σ(-x); the mean BPR loss of each epoch goes to the debug log, and
/// `after_epoch` sees the model. `scratch` holds `2 * factors` floats for the
/// step. `cancel` is checked every [`CANCEL_CHECK_STEPS`] steps; a raised
/// flag ends the fit with [`BaselineError::Cancelled`].
#[allow(clippy::too_many_arguments)] // the SGD loop's inputs, each used once
pub(crate) fn run_epochs<M: Scorer>(
    method: &'static str,
    split: &Split,
    data: &TrainingData,
    sgd: &SgdParams,
    rng: &mut SeqRng,
    cancel: &Cancel,
    model: &mut M,
    mut step: impl FnMut(&mut M, usize, usize, usize, &mut [f32]) -> f32,
    after_epoch: &mut SgdEpochObserver<'_>,
) -> Result<(), BaselineError> {
    let mut events: Vec<(u32, u32)> = (0..split.users())
        .flat_map(|u| {
            (0..split.range(UserId(u as u32), Part::Train).len()).map(move |p| (u as u32, p as u32))
        })
        .collect();
    let mut scratch = vec![0.0; 2 * sgd.factors];
    for epoch in 0..sgd.epochs {
        rng.shuffle(&mut events);
        let mut loss = 0.0f64;
        for (n, &(u, p)) in events.iter().enumerate() {
            if n % CANCEL_CHECK_STEPS == 0 && cancel.is_cancelled() {
                return Err(BaselineError::Cancelled { method });
            }
            let Some(j) = sample_negative(data, u as usize, rng) else {
                continue;
            };
            let g = step(model, u as usize, p as usize, j as usize, &mut scratch);
            loss -= f64::from(1.0 - g).max(1e-12).ln();
        }
        tracing::debug!(
            method,
            epoch,
            loss = loss / events.len().max(1) as f64,
            "SGD epoch"
        );
        after_epoch(epoch + 1, model);
    }
    Ok(())
}

/// SGD steps between two looks at the cancellation flag: a few thousand
/// steps take well under a millisecond, and the check costs nothing.
pub(crate) const CANCEL_CHECK_STEPS: usize = 4096;

/// σ(-x) = 1 / (1 + e^x): the BPR gradient scale.
#[inline]
pub(crate) fn bpr_gradient(x: f32) -> f32 {
    1.0 / (1.0 + x.exp())
}

/// One BPR step for context vector `context` (the user vector, or user plus
/// window), positive row `q_i` with bias `b_i`, negative row `q_j` with
/// bias `b_j`. Returns g = σ(-x_uij) and writes into `context_grad` the
/// gradient direction for the context: g (q_i - q_j), taken before the item
/// rows move. The item rows and biases are updated here.
#[inline]
#[allow(clippy::too_many_arguments)] // the exact quantities of the update rule
pub(crate) fn bpr_item_step(
    context: &[f32],
    q_i: &mut [f32],
    b_i: &mut f32,
    q_j: &mut [f32],
    b_j: &mut f32,
    lr: f32,
    reg: f32,
    context_grad: &mut [f32],
) -> f32 {
    let mut x = *b_i - *b_j;
    for f in 0..context.len() {
        x += context[f] * (q_i[f] - q_j[f]);
    }
    let g = bpr_gradient(x);
    for f in 0..context.len() {
        context_grad[f] = g * (q_i[f] - q_j[f]);
        let c = context[f];
        q_i[f] += lr * (g * c - reg * q_i[f]);
        q_j[f] += lr * (-g * c - reg * q_j[f]);
    }
    *b_i += lr * g;
    *b_j -= lr * g;
    g
}

/// One score row of a factor model: `row[j] = context · q_j + b_j`.
pub(crate) fn score_row(context: &[f32], items: &[f32], bias: &[f32], row: &mut [f32]) {
    let k = context.len();
    for ((s, q_j), b) in row.iter_mut().zip(items.chunks_exact(k)).zip(bias) {
        *s = b + context.iter().zip(q_j).map(|(a, b)| a * b).sum::<f32>();
    }
}

/// Two distinct rows of a row-major table, mutably.
pub(crate) fn two_rows(
    table: &mut [f32],
    k: usize,
    i: usize,
    j: usize,
) -> (&mut [f32], &mut [f32]) {
    debug_assert_ne!(i, j);
    if i < j {
        let (a, b) = table.split_at_mut(j * k);
        (&mut a[i * k..(i + 1) * k], &mut b[..k])
    } else {
        let (a, b) = table.split_at_mut(i * k);
        (&mut b[..k], &mut a[j * k..(j + 1) * k])
    }
}

/// Two distinct entries of a slice, mutably.
pub(crate) fn two_entries(v: &mut [f32], i: usize, j: usize) -> (&mut f32, &mut f32) {
    let (a, b) = two_rows(v, 1, i, j);
    (&mut a[0], &mut b[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bpr_step_against_the_formula() {
        // context p = (1, 2), q_i = (0.5, -1), q_j = (0.25, 0.5), b_i = 0.1, b_j = 0.3.
        let p = [1.0f32, 2.0];
        let (mut qi, mut qj) = ([0.5f32, -1.0], [0.25f32, 0.5]);
        let (mut bi, mut bj) = (0.1f32, 0.3f32);
        let mut grad = [0.0f32; 2];
        let g = bpr_item_step(&p, &mut qi, &mut bi, &mut qj, &mut bj, 0.1, 0.01, &mut grad);
        // x = b_i - b_j + p.(q_i - q_j) = -0.2 + (1*0.25 + 2*(-1.5)) = -2.95
        let want_g = 1.0 / (1.0 + (-2.95f32).exp());
        assert!((g - want_g).abs() < 1e-6);
        // context gradient = g (q_i - q_j) with the old rows.
        assert!((grad[0] - want_g * 0.25).abs() < 1e-6 && (grad[1] - want_g * -1.5).abs() < 1e-6);
        // q_i += lr (g p - reg q_i); q_j += lr (-g p - reg q_j).
        assert!((qi[0] - (0.5 + 0.1 * (want_g * 1.0 - 0.01 * 0.5))).abs() < 1e-6);
        assert!((qi[1] - (-1.0 + 0.1 * (want_g * 2.0 + 0.01))).abs() < 1e-6);
        assert!((qj[0] - (0.25 + 0.1 * (-want_g - 0.01 * 0.25))).abs() < 1e-6);
        assert!((qj[1] - (0.5 + 0.1 * (-want_g * 2.0 - 0.01 * 0.5))).abs() < 1e-6);
        // Biases move by ±lr g, unregularised.
        assert!(
            (bi - (0.1 + 0.1 * want_g)).abs() < 1e-6 && (bj - (0.3 - 0.1 * want_g)).abs() < 1e-6
        );
    }

    #[test]
    fn two_rows_in_either_order() {
        let mut t: Vec<f32> = (0..6).map(|x| x as f32).collect();
        let (a, b) = two_rows(&mut t, 2, 2, 0);
        assert_eq!((a.to_vec(), b.to_vec()), (vec![4.0, 5.0], vec![0.0, 1.0]));
    }
}
