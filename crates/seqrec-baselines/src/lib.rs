//! Classic baselines (specification §5): POP, item-kNN, exponentially decaying
//! item-kNN, BPR-MF and sequential MF. Every algorithm has the same shape: a
//! validated `XxxParams` (serde, unknown keys rejected) whose `fit` returns
//! the fitted model, which implements [`seqrec_core::Scorer`].
//!
//! ```
//! use seqrec_baselines::{Baseline, BaselineParams};
//! use seqrec_core::{ItemId, Split, SplitConfig, UserSequences};
//!
//! let rows = (0..4u32).map(|u| ((0..20).map(|k| ItemId((u + k) % 6)).collect(), (0..20).collect()));
//! let split = Split::compute(&UserSequences::from_users(rows), 6, &SplitConfig::default())?.split;
//! let params = BaselineParams::from_toml("[item_knn]\nneighbours = 3\n")?;
//! let model = Baseline::ItemKnn.fit(&params, &split, 42)?;
//! assert_eq!(model.catalogue_size(), 6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bpr;
pub mod bpr_mf;
pub mod decay_knn;
mod error;
pub mod fitted;
pub mod item_knn;
pub mod pop;
pub mod seq_mf;
mod similarity;
mod training_data;

pub use bpr::{SgdEpochObserver, SgdParams};
pub use bpr_mf::{BprMf, BprMfParams};
pub use decay_knn::{Age, DecayKnn, DecayKnnParams};
pub use error::BaselineError;
pub use fitted::FittedBaseline;
pub use item_knn::{ItemKnn, ItemKnnParams};
pub use pop::{Pop, PopParams};
pub use seq_mf::{SeqMf, SeqMfParams};
pub use similarity::Neighbours;

use seqrec_core::{Cancel, Scorer, Split};
use serde::{Deserialize, Serialize};

/// The baselines by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Baseline {
    Pop,
    ItemKnn,
    DecayKnn,
    BprMf,
    SeqMf,
}

impl Baseline {
    pub const ALL: [Baseline; 5] = [
        Baseline::Pop,
        Baseline::ItemKnn,
        Baseline::DecayKnn,
        Baseline::BprMf,
        Baseline::SeqMf,
    ];

    /// `pop`, `item-knn`, `decay-knn`, `bpr-mf`, `seq-mf`.
    pub fn name(self) -> &'static str {
        match self {
            Baseline::Pop => "pop",
            Baseline::ItemKnn => "item-knn",
            Baseline::DecayKnn => "decay-knn",
            Baseline::BprMf => "bpr-mf",
            Baseline::SeqMf => "seq-mf",
        }
    }

    /// The baseline called `name`.
    pub fn parse(name: &str) -> Result<Self, BaselineError> {
        Baseline::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| BaselineError::UnknownMethod(name.to_owned()))
    }

    /// Fits this baseline on the training part of `split`.
    pub fn fit(
        self,
        params: &BaselineParams,
        split: &Split,
        seed: u64,
    ) -> Result<Box<dyn Scorer + Send>, BaselineError> {
        Ok(Box::new(self.fit_state(params, split, seed)?))
    }

    /// [`Self::fit`] as a [`FittedBaseline`], which can be saved.
    pub fn fit_state(
        self,
        params: &BaselineParams,
        split: &Split,
        seed: u64,
    ) -> Result<FittedBaseline, BaselineError> {
        self.fit_state_with_cancel(params, split, seed, &Cancel::new())
    }

    /// [`Self::fit_state`], stopping with [`BaselineError::Cancelled`] soon
    /// after `cancel` is raised (the SGD methods check it every few thousand
    /// steps, the kNN methods before each item's neighbour list; POP fits in
    /// one pass and ignores it).
    pub fn fit_state_with_cancel(
        self,
        params: &BaselineParams,
        split: &Split,
        seed: u64,
        cancel: &Cancel,
    ) -> Result<FittedBaseline, BaselineError> {
        self.fit_state_observed(params, split, seed, cancel, &mut |_, _| {})
    }

    /// [`Self::fit_state_with_cancel`], showing the model to `after_epoch`
    /// after every epoch of the SGD methods (BPR-MF, sequential MF); the
    /// others fit in one pass and never call it.
    pub fn fit_state_observed(
        self,
        params: &BaselineParams,
        split: &Split,
        seed: u64,
        cancel: &Cancel,
        after_epoch: &mut SgdEpochObserver<'_>,
    ) -> Result<FittedBaseline, BaselineError> {
        Ok(match self {
            Baseline::Pop => FittedBaseline::Pop(params.pop.fit(split)?),
            Baseline::ItemKnn => {
                FittedBaseline::ItemKnn(params.item_knn.fit_with_cancel(split, cancel)?)
            }
            Baseline::DecayKnn => {
                FittedBaseline::DecayKnn(params.decay_knn.fit_with_cancel(split, cancel)?)
            }
            Baseline::BprMf => FittedBaseline::BprMf(params.bpr_mf.fit_observed(
                split,
                seed,
                cancel,
                after_epoch,
            )?),
            Baseline::SeqMf => FittedBaseline::SeqMf(params.seq_mf.fit_observed(
                split,
                seed,
                cancel,
                after_epoch,
            )?),
        })
    }
}

/// Hyperparameters of every baseline (Table 1 by default), one TOML table each.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineParams {
    pub pop: PopParams,
    pub item_knn: ItemKnnParams,
    pub decay_knn: DecayKnnParams,
    pub bpr_mf: BprMfParams,
    pub seq_mf: SeqMfParams,
}

impl BaselineParams {
    /// Parses and validates TOML; unknown keys are an error naming the key.
    pub fn from_toml(text: &str) -> Result<Self, BaselineError> {
        let params: BaselineParams =
            toml::from_str(text).map_err(|e| BaselineError::Toml(e.to_string()))?;
        params.validate()?;
        Ok(params)
    }

    /// Validates every method's parameters.
    pub fn validate(&self) -> Result<(), BaselineError> {
        self.pop.validate()?;
        self.item_knn.validate()?;
        self.decay_knn.validate()?;
        self.bpr_mf.validate()?;
        self.seq_mf.validate()
    }
}

#[cfg(test)]
mod tests;
