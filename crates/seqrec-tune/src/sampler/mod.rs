//! Samplers: which settings the next trial tries. Every draw comes from the
//! project's own generator ([`SeqRng`]) seeded by the study's seed and the
//! trial's number, so a dependency upgrade can never change a study, and
//! one worker with one seed gives the same trials value for value.

mod grid;
mod parzen;
mod random;
mod tpe;

use crate::TuneError;
use crate::settings::{SamplerKind, TpeSettings};
use crate::space::{Params, Space};
use crate::trial::TrialRecord;
use seqrec_core::SeqRng;

/// A configured sampler.
#[derive(Clone, Debug)]
pub struct Sampler {
    pub kind: SamplerKind,
    pub seed: u64,
    pub tpe: TpeSettings,
}

impl Sampler {
    /// Checks that the sampler can work on `space` (a grid needs a step or
    /// a list of values for every hyperparameter).
    pub fn check(&self, space: &Space) -> Result<(), TuneError> {
        if self.kind == SamplerKind::Grid {
            grid::points(space)?;
        }
        Ok(())
    }

    /// The settings of trial `number` (1 or more: trial 0 is the starting
    /// settings), given the trials so far; `None` when a grid is exhausted.
    pub fn propose(
        &self,
        space: &Space,
        number: u64,
        history: &[TrialRecord],
    ) -> Result<Option<Params>, TuneError> {
        let mut rng = SeqRng::derive(self.seed, number);
        Ok(match self.kind {
            SamplerKind::Random => Some(random::sample(space, &mut rng)),
            SamplerKind::Grid => grid::point(space, number.saturating_sub(1))?,
            SamplerKind::Tpe => Some(tpe::sample(space, history, &self.tpe, &mut rng)),
        })
    }

    /// How many trials the sampler can propose (a grid's size plus trial 0).
    pub fn capacity(&self, space: &Space) -> Option<u64> {
        match self.kind {
            SamplerKind::Grid => grid::points(space).ok().map(|n| n + 1),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
