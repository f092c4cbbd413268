//! The one interface between recommenders and the evaluator.

use crate::{ItemId, UserId};

/// One ranking request: a user and that user's history, oldest first. The
/// recommender scores every catalogue item as the next item after `history`.
#[derive(Clone, Copy, Debug)]
pub struct Query<'a> {
    pub user: UserId,
    pub history: &'a [ItemId],
    /// Timestamps of `history` (Unix seconds), same length.
    pub times: &'a [i64],
}

/// A failure inside a scorer (a backend error, for instance).
pub type ScoreError = Box<dyn std::error::Error + Send + Sync>;

/// Every recommender, classic or neural, ends in this trait, so the
/// evaluator has exactly one code path from scores to metrics.
///
/// Batches are built so that all queries of one user are adjacent and in
/// order of growing history, which lets sequential models run each user's
/// sequence once per batch instead of once per query.
pub trait Scorer: Sync {
    /// A short name for logs and tables.
    fn name(&self) -> &str;

    /// Number of items scored (the catalogue size).
    fn catalogue_size(&self) -> usize;

    /// Fills `scores`, row-major `[queries.len() × catalogue_size()]`, with
    /// one score per item for each query; higher is better. Every entry must
    /// be written: the buffer holds the previous batch's values.
    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError>;

    /// Whether the evaluator may call [`Scorer::score`] from several threads
    /// at once. Scorers that parallelise internally (a GPU, a BLAS) say no.
    fn parallel_batches(&self) -> bool {
        true
    }

    /// Queries per call this scorer works best with (a sequence model
    /// amortises its unrolls over bigger batches); None: the evaluator's
    /// setting. Results never depend on it.
    fn preferred_batch_size(&self) -> Option<usize> {
        None
    }
}
