//! Evaluation for seqrec (specification §3): one evaluator for every [`Scorer`](seqrec_core::Scorer),
//! full-catalogue ranking with an explicit [`TieRule`], MRR@k, Recall@k and
//! NDCG@k as micro and macro averages, per-user values, and paired
//! significance tests.
//!
//! No dependency on burn or polars.
//!
//! ```
//! use seqrec_core::{ItemId, Part, Query, ScoreError, Scorer, Split, SplitConfig, UserSequences};
//! use seqrec_metrics::{EvalConfig, evaluate};
//!
//! /// Scores item i as -i: a fixed ranking, item 0 first.
//! struct ById(usize);
//! impl Scorer for ById {
//!     fn name(&self) -> &str { "by-id" }
//!     fn catalogue_size(&self) -> usize { self.0 }
//!     fn score(&self, queries: &[Query<'_>], out: &mut [f32]) -> Result<(), ScoreError> {
//!         for row in out.chunks_exact_mut(self.0) {
//!             row.iter_mut().enumerate().for_each(|(i, s)| *s = -(i as f32));
//!         }
//!         Ok(())
//!     }
//! }
//!
//! // Items 0..=8 in training, then item 0 again as the test event.
//! let items = (0..10).map(|i| ItemId(i % 9)).collect();
//! let seqs = UserSequences::from_users(vec![(items, (0..10).collect())]);
//! let split = Split::compute(&seqs, 9, &SplitConfig::default())?.split;
//! let report = evaluate(&ById(9), &split, Part::Test, &EvalConfig::default(), None)?;
//! // The test target is item 0, the top-scored item: rank 1.
//! assert_eq!(report.get("mrr@20"), Some(1.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod evaluate;
mod metrics;
mod outside;
mod rank;
pub mod significance;

pub use error::EvalError;
pub use evaluate::{EvalConfig, EvalReport, UserResult, evaluate};
pub use metrics::{Metric, MetricSums, MetricValues};
pub use outside::{OutsideKind, OutsideScores};
pub use rank::{TieRule, count_above};
