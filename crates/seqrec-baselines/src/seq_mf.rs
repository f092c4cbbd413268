//! Sequential MF (Karatzoglou 2011; specification §5): the user vector is augmented
//! by the mean of context factors of the last `window` items,
//! score(j | u, h) = q_j · (p_u + (1/w) Σ_{s≤w} y_{h_(m-s+1)}) + b_j,
//! dividing by w even when fewer items precede. Trained with BPR on
//! (user, window, next item, negative) for every training event.

use crate::bpr::{
    SgdEpochObserver, SgdParams, bpr_item_step, normal_table, run_epochs, score_row, two_entries,
    two_rows,
};
use crate::training_data::TrainingData;
use crate::{BaselineError, error::invalid};
use seqrec_core::{Cancel, ItemId, Query, ScoreError, Scorer, SeqRng, Split, UserId};
use serde::{Deserialize, Serialize};

/// Hyperparameters: window 2 and the BPR-MF settings (`[seq_mf.sgd]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeqMfParams {
    pub window: usize,
    pub sgd: SgdParams,
}

impl Default for SeqMfParams {
    fn default() -> Self {
        SeqMfParams {
            window: 2,
            sgd: SgdParams::default(),
        }
    }
}

impl SeqMfParams {
    pub fn validate(&self) -> Result<(), BaselineError> {
        if self.window == 0 {
            return Err(invalid("seq-mf", "window must be at least 1"));
        }
        self.sgd.validate("seq-mf")
    }

    /// Trains with the given seed.
    pub fn fit(&self, split: &Split, seed: u64) -> Result<SeqMf, BaselineError> {
        self.fit_with_cancel(split, seed, &Cancel::new())
    }

    /// [`Self::fit`], stopping with [`BaselineError::Cancelled`] soon after
    /// `cancel` is raised.
    pub fn fit_with_cancel(
        &self,
        split: &Split,
        seed: u64,
        cancel: &Cancel,
    ) -> Result<SeqMf, BaselineError> {
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
    ) -> Result<SeqMf, BaselineError> {
        self.validate()?;
        let k = self.sgd.factors;
        let data = TrainingData::new(split);
        let mut rng = SeqRng::new(seed);
        let mut model = SeqMf {
            factors: k,
            window: self.window,
            users: normal_table(split.users(), k, self.sgd.init_std, &mut rng),
            items: normal_table(data.items, k, self.sgd.init_std, &mut rng),
            context: normal_table(data.items, k, self.sgd.init_std, &mut rng),
            bias: vec![0.0; data.items],
        };
        let (sgd, w) = (&self.sgd, self.window);
        run_epochs(
            "seq-mf",
            split,
            &data,
            sgd,
            &mut rng,
            cancel,
            &mut model,
            |model, u, p, j, scratch| {
                let sequence = split.train(UserId(u as u32));
                let window = SeqMf::window_of(&sequence[..p], w);
                model.step(u, window, sequence[p].index(), j, sgd, scratch)
            },
            after_epoch,
        )?;
        Ok(model)
    }
}

/// The fitted model.
#[derive(Clone, Debug, PartialEq)]
pub struct SeqMf {
    pub factors: usize,
    pub window: usize,
    pub users: Vec<f32>,
    pub items: Vec<f32>,
    /// Context factors y, `[items × factors]`.
    pub context: Vec<f32>,
    pub bias: Vec<f32>,
}

impl SeqMf {
    /// The last `w` items of a history (fewer near the start).
    pub fn window_of(history: &[ItemId], w: usize) -> &[ItemId] {
        &history[history.len().saturating_sub(w)..]
    }

    /// p_u + (1/w) Σ y over the window.
    pub fn context_vector(&self, user: usize, window: &[ItemId]) -> Vec<f32> {
        let mut c = vec![0.0; self.factors];
        self.context_into(user, window, &mut c);
        c
    }

    /// A user outside the model (an online service's new user) has zero
    /// factors: the context is the window's alone.
    fn context_into(&self, user: usize, window: &[ItemId], c: &mut [f32]) {
        let k = self.factors;
        match self.users.get(user * k..(user + 1) * k) {
            Some(p) => c.copy_from_slice(p),
            None => c.fill(0.0),
        }
        let scale = 1.0 / self.window as f32;
        for item in window {
            let y = &self.context[item.index() * k..(item.index() + 1) * k];
            for f in 0..k {
                c[f] += scale * y[f];
            }
        }
    }

    /// One SGD step; returns σ(-x). `scratch` holds 2k floats.
    pub(crate) fn step(
        &mut self,
        u: usize,
        window: &[ItemId],
        i: usize,
        j: usize,
        sgd: &SgdParams,
        scratch: &mut [f32],
    ) -> f32 {
        let k = self.factors;
        let (lr, reg) = (sgd.learning_rate, sgd.regularization);
        let (c, grad) = scratch.split_at_mut(k);
        self.context_into(u, window, c);
        let (q_i, q_j) = two_rows(&mut self.items, k, i, j);
        let (b_i, b_j) = two_entries(&mut self.bias, i, j);
        let g = bpr_item_step(c, q_i, b_i, q_j, b_j, lr, reg, grad);
        let p_u = &mut self.users[u * k..(u + 1) * k];
        for f in 0..k {
            p_u[f] += lr * (grad[f] - reg * p_u[f]);
        }
        let scale = 1.0 / self.window as f32;
        for item in window {
            let y = &mut self.context[item.index() * k..(item.index() + 1) * k];
            for f in 0..k {
                y[f] += lr * (scale * grad[f] - reg * y[f]);
            }
        }
        g
    }
}

impl Scorer for SeqMf {
    fn name(&self) -> &str {
        "seq-mf"
    }

    fn catalogue_size(&self) -> usize {
        self.bias.len()
    }

    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        let n = self.bias.len();
        let mut c = vec![0.0; self.factors];
        for (q, row) in queries.iter().zip(scores.chunks_exact_mut(n)) {
            self.context_into(
                q.user.index(),
                SeqMf::window_of(q.history, self.window),
                &mut c,
            );
            score_row(&c, &self.items, &self.bias, row);
        }
        Ok(())
    }
}
