//! Item-kNN (specification §5): the score of j is sim(last item, j) if j is among the
//! last item's neighbours, else 0. Only the last item matters (the paper's
//! reading of Hidasi et al. 2016).

use crate::similarity::Neighbours;
use crate::training_data::TrainingData;
use crate::{BaselineError, error::invalid};
use seqrec_core::{Cancel, Query, ScoreError, Scorer, Split};
use serde::{Deserialize, Serialize};

/// Hyperparameters of item-kNN (Table 1: 100 neighbours).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ItemKnnParams {
    pub neighbours: usize,
}

impl Default for ItemKnnParams {
    fn default() -> Self {
        ItemKnnParams { neighbours: 100 }
    }
}

impl ItemKnnParams {
    pub fn validate(&self) -> Result<(), BaselineError> {
        if self.neighbours == 0 {
            return Err(invalid("item-knn", "neighbours must be at least 1"));
        }
        Ok(())
    }

    /// Computes the neighbour lists.
    pub fn fit(&self, split: &Split) -> Result<ItemKnn, BaselineError> {
        self.fit_with_cancel(split, &Cancel::new())
    }

    /// [`Self::fit`], stopping with [`BaselineError::Cancelled`] soon after
    /// `cancel` is raised.
    pub fn fit_with_cancel(
        &self,
        split: &Split,
        cancel: &Cancel,
    ) -> Result<ItemKnn, BaselineError> {
        self.validate()?;
        let neighbours = Neighbours::fit(&TrainingData::new(split), self.neighbours, cancel)
            .ok_or(BaselineError::Cancelled { method: "item-knn" })?;
        Ok(ItemKnn { neighbours })
    }
}

/// The fitted item-kNN model.
#[derive(Clone, Debug)]
pub struct ItemKnn {
    pub neighbours: Neighbours,
}

impl Scorer for ItemKnn {
    fn name(&self) -> &str {
        "item-knn"
    }

    fn catalogue_size(&self) -> usize {
        self.neighbours.items()
    }

    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        for (q, row) in queries
            .iter()
            .zip(scores.chunks_exact_mut(self.neighbours.items()))
        {
            row.fill(0.0);
            if let Some(last) = q.history.last() {
                let (items, sims) = self.neighbours.of(last.index());
                for (&j, &s) in items.iter().zip(sims) {
                    row[j as usize] = s;
                }
            }
        }
        Ok(())
    }
}
