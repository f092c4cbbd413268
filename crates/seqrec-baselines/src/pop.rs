//! POP: the most popular items, popularity = number of training events.
//! The same ranking for every query (an extra baseline, not in the paper).

use crate::BaselineError;
use crate::training_data::train_sequences;
use seqrec_core::{Query, ScoreError, Scorer, Split};
use serde::{Deserialize, Serialize};

/// POP has no hyperparameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopParams {}

impl PopParams {
    pub fn validate(&self) -> Result<(), BaselineError> {
        Ok(())
    }

    /// Counts training events per item.
    pub fn fit(&self, split: &Split) -> Result<Pop, BaselineError> {
        self.validate()?;
        let mut counts = vec![0f32; split.catalogue_size()];
        for (_, items) in train_sequences(split) {
            for i in items {
                counts[i.index()] += 1.0;
            }
        }
        Ok(Pop { counts })
    }
}

/// The fitted POP model.
#[derive(Clone, Debug)]
pub struct Pop {
    counts: Vec<f32>,
}

impl Pop {
    /// Training events per item (as scores).
    pub fn counts(&self) -> &[f32] {
        &self.counts
    }

    /// The model with these per-item counts (a saved model).
    pub fn from_counts(counts: Vec<f32>) -> Self {
        Pop { counts }
    }
}

impl Scorer for Pop {
    fn name(&self) -> &str {
        "pop"
    }

    fn catalogue_size(&self) -> usize {
        self.counts.len()
    }

    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        for row in scores
            .chunks_exact_mut(self.counts.len())
            .take(queries.len())
        {
            row.copy_from_slice(&self.counts);
        }
        Ok(())
    }
}
