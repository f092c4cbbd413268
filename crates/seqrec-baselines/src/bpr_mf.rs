//! BPR matrix factorisation (specification §5): score(j | u) = p_u · q_j + b_j, the
//! same ranking for every query of a user (time-agnostic). Trained by plain
//! sequential SGD over all training events, shuffled each epoch, one
//! uniformly sampled negative per positive.

use crate::BaselineError;
use crate::bpr::{
    SgdEpochObserver, SgdParams, bpr_item_step, normal_table, run_epochs, score_row, two_entries,
    two_rows,
};
use crate::training_data::TrainingData;
use seqrec_core::{Cancel, Query, ScoreError, Scorer, SeqRng, Split, UserId};
use serde::{Deserialize, Serialize};

/// Hyperparameters: the shared SGD settings, written flat in TOML.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BprMfParams {
    pub sgd: SgdParams,
}

impl BprMfParams {
    pub fn validate(&self) -> Result<(), BaselineError> {
        self.sgd.validate("bpr-mf")
    }

    /// Trains with the given seed (initialisation, shuffles, negatives).
    pub fn fit(&self, split: &Split, seed: u64) -> Result<BprMf, BaselineError> {
        self.fit_with_cancel(split, seed, &Cancel::new())
    }

    /// [`Self::fit`], stopping with [`BaselineError::Cancelled`] soon after
    /// `cancel` is raised.
    pub fn fit_with_cancel(
        &self,
        split: &Split,
        seed: u64,
        cancel: &Cancel,
    ) -> Result<BprMf, BaselineError> {
        self.fit_observed(split, seed, cancel, &mut |_, _| {})
    }

    /// [`Self::fit_with_cancel`], showing the model to `after_epoch` after
    /// every epoch.
    pub fn fit_observed(
        &self,
        split: &Split,
        seed: u64,
        cancel: &Cancel,
        after_epoch: &mut SgdEpochObserver<'_>,
    ) -> Result<BprMf, BaselineError> {
        self.validate()?;
        let k = self.sgd.factors;
        let data = TrainingData::new(split);
        let mut rng = SeqRng::new(seed);
        let mut model = BprMf {
            factors: k,
            users: normal_table(split.users(), k, self.sgd.init_std, &mut rng),
            items: normal_table(data.items, k, self.sgd.init_std, &mut rng),
            bias: vec![0.0; data.items],
        };
        let sgd = &self.sgd;
        run_epochs(
            "bpr-mf",
            split,
            &data,
            sgd,
            &mut rng,
            cancel,
            &mut model,
            |model, u, p, j, scratch| {
                let i = split.train(UserId(u as u32))[p].index();
                model.step(u, i, j, sgd, scratch)
            },
            after_epoch,
        )?;
        Ok(model)
    }
}

/// The fitted model.
#[derive(Clone, Debug, PartialEq)]
pub struct BprMf {
    pub factors: usize,
    /// `[users × factors]`.
    pub users: Vec<f32>,
    /// `[items × factors]`.
    pub items: Vec<f32>,
    pub bias: Vec<f32>,
}

impl BprMf {
    /// One SGD step on (u, i, j); returns σ(-x_uij). `scratch` holds 2k floats.
    pub(crate) fn step(
        &mut self,
        u: usize,
        i: usize,
        j: usize,
        sgd: &SgdParams,
        scratch: &mut [f32],
    ) -> f32 {
        let k = self.factors;
        let p_u = &mut self.users[u * k..(u + 1) * k];
        let (context, grad) = scratch.split_at_mut(k);
        context.copy_from_slice(p_u);
        let (q_i, q_j) = two_rows(&mut self.items, k, i, j);
        let (b_i, b_j) = two_entries(&mut self.bias, i, j);
        let g = bpr_item_step(
            context,
            q_i,
            b_i,
            q_j,
            b_j,
            sgd.learning_rate,
            sgd.regularization,
            grad,
        );
        for f in 0..k {
            p_u[f] += sgd.learning_rate * (grad[f] - sgd.regularization * context[f]);
        }
        g
    }
}

impl Scorer for BprMf {
    fn name(&self) -> &str {
        "bpr-mf"
    }

    fn catalogue_size(&self) -> usize {
        self.bias.len()
    }

    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        let (k, n) = (self.factors, self.bias.len());
        for (index, q) in queries.iter().enumerate() {
            // The ranking ignores the history: reuse the row of the same user.
            if index > 0 && queries[index - 1].user == q.user {
                let (done, rest) = scores.split_at_mut(index * n);
                rest[..n].copy_from_slice(&done[(index - 1) * n..]);
                continue;
            }
            // A user outside the model (an online service's new user) has
            // zero factors: the ranking is by item bias alone.
            let zeros;
            let p = match self.users.get(q.user.index() * k..(q.user.index() + 1) * k) {
                Some(p) => p,
                None => {
                    zeros = vec![0.0; k];
                    &zeros
                }
            };
            score_row(
                p,
                &self.items,
                &self.bias,
                &mut scores[index * n..(index + 1) * n],
            );
        }
        Ok(())
    }
}
