//! Exponentially decaying item-kNN (Ding and Li 2005; specification §5):
//! score(j) = Σ_s exp(-λ age_s) sim(h_s, j) over the whole history, with
//! the item-kNN neighbour lists.
//!
//! Scores are returned as ln(score), which keeps the order and, unlike a
//! plain f32, never rounds a small positive score to 0 (ages of a few
//! hundred events underflow f32): no tie is created by rounding. A sum that
//! underflows even f64 (ages past ~745 / λ) is ranked by its youngest
//! contribution, below every sum that does not; items with no contribution
//! score −∞ (all tied, last).

use crate::similarity::Neighbours;
use crate::training_data::TrainingData;
use crate::{BaselineError, error::invalid};
use seqrec_core::{Cancel, Query, ScoreError, Scorer, Split};
use serde::{Deserialize, Serialize};

/// What "age" counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Age {
    /// Events between h_s and the last history event (spec decision).
    #[default]
    Events,
    /// Seconds before the last history event.
    Seconds,
    /// Days (86,400 s) before the last history event.
    Days,
}

/// Hyperparameters (Table 1: 100 neighbours, decay constant 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecayKnnParams {
    pub neighbours: usize,
    /// λ in exp(-λ age).
    pub decay: f64,
    pub age: Age,
}

impl Default for DecayKnnParams {
    fn default() -> Self {
        DecayKnnParams {
            neighbours: 100,
            decay: 1.0,
            age: Age::Events,
        }
    }
}

impl DecayKnnParams {
    pub fn validate(&self) -> Result<(), BaselineError> {
        if self.neighbours == 0 {
            return Err(invalid("decay-knn", "neighbours must be at least 1"));
        }
        if !(self.decay.is_finite() && self.decay >= 0.0) {
            return Err(invalid(
                "decay-knn",
                format!("decay must be a non-negative number, got {}", self.decay),
            ));
        }
        Ok(())
    }

    /// Computes the neighbour lists.
    pub fn fit(&self, split: &Split) -> Result<DecayKnn, BaselineError> {
        self.fit_with_cancel(split, &Cancel::new())
    }

    /// [`Self::fit`], stopping with [`BaselineError::Cancelled`] soon after
    /// `cancel` is raised.
    pub fn fit_with_cancel(
        &self,
        split: &Split,
        cancel: &Cancel,
    ) -> Result<DecayKnn, BaselineError> {
        self.validate()?;
        let neighbours = Neighbours::fit(&TrainingData::new(split), self.neighbours, cancel)
            .ok_or(BaselineError::Cancelled {
                method: "decay-knn",
            })?;
        Ok(DecayKnn {
            neighbours,
            params: self.clone(),
        })
    }
}

/// The fitted model.
#[derive(Clone, Debug)]
pub struct DecayKnn {
    pub neighbours: Neighbours,
    params: DecayKnnParams,
}

impl DecayKnn {
    /// A saved model: neighbour lists and the decay settings.
    pub fn from_parts(neighbours: Neighbours, params: DecayKnnParams) -> Self {
        DecayKnn { neighbours, params }
    }

    /// The settings it scores with.
    pub fn params(&self) -> &DecayKnnParams {
        &self.params
    }

    /// λ·age of every history position, most recent last.
    pub fn decayed_ages(&self, q: &Query<'_>) -> Vec<f64> {
        let n = q.history.len();
        let last_time = q.times.last().copied().unwrap_or(0);
        (0..n)
            .map(|s| {
                let age = match self.params.age {
                    Age::Events => (n - 1 - s) as f64,
                    Age::Seconds => (last_time - q.times[s]) as f64,
                    Age::Days => (last_time - q.times[s]) as f64 / 86_400.0,
                };
                self.params.decay * age
            })
            .collect()
    }
}

impl Scorer for DecayKnn {
    fn name(&self) -> &str {
        "decay-knn"
    }

    fn catalogue_size(&self) -> usize {
        self.neighbours.items()
    }

    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        let items = self.neighbours.items();
        let mut sum = vec![0f64; items];
        // For sums that underflow: -ln of the youngest contribution.
        let mut youngest = vec![f64::INFINITY; items];
        let mut touched: Vec<u32> = Vec::new();
        for (q, row) in queries.iter().zip(scores.chunks_exact_mut(items)) {
            let ages = self.decayed_ages(q);
            for (&item, &age) in q.history.iter().zip(&ages).rev() {
                let w = (-age).exp();
                let (neighbours, sims) = self.neighbours.of(item.index());
                for (&j, &sim) in neighbours.iter().zip(sims) {
                    let j = j as usize;
                    let c = w * f64::from(sim);
                    if sum[j] == 0.0 && youngest[j] == f64::INFINITY {
                        touched.push(j as u32);
                    }
                    if c > 0.0 {
                        sum[j] += c;
                    } else if youngest[j] == f64::INFINITY {
                        youngest[j] = age - f64::from(sim).ln();
                    }
                }
            }
            row.fill(f32::NEG_INFINITY);
            for &j in &touched {
                let j = j as usize;
                row[j] = if sum[j] > 0.0 {
                    sum[j].ln() as f32
                } else {
                    -youngest[j] as f32
                };
                sum[j] = 0.0;
                youngest[j] = f64::INFINITY;
            }
            touched.clear();
        }
        Ok(())
    }
}
