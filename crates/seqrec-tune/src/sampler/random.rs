//! Independent uniform draws: uniform in the sampler's interval of each
//! numeric hyperparameter (log-uniform for a log scale, every step value
//! equally likely), uniform over a choice's values.

use crate::space::{Distribution, Params, Space};
use seqrec_core::SeqRng;

/// One value of `distribution`.
pub(super) fn value(distribution: &Distribution, rng: &mut SeqRng) -> serde_json::Value {
    match distribution {
        Distribution::Choice { values } => values[rng.index(values.len())].clone(),
        numeric => {
            let (lo, hi) = numeric.internal_bounds().unwrap_or((0.0, 0.0));
            numeric.from_internal(lo + (hi - lo) * rng.next_f64())
        }
    }
}

pub(super) fn sample(space: &Space, rng: &mut SeqRng) -> Params {
    space
        .params
        .iter()
        .map(|(key, d)| (key.clone(), value(d, rng)))
        .collect()
}
