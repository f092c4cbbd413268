//! The record of one training epoch (leaf module): training writes it,
//! checkpoints carry the history of them, reports print it.

use serde::{Deserialize, Serialize};

/// What one epoch did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Mean over windows of the window loss (cross-entropy + L2 term).
    pub loss: f64,
    pub windows: usize,
    pub tuples: usize,
    pub train_seconds: f64,
    pub tuples_per_second: f64,
    /// Mean global gradient norm before clipping.
    pub grad_norm: f64,
    /// Windows whose gradients were clipped.
    pub clipped_windows: usize,
    pub validation_mrr20: Option<f64>,
    pub validation_recall20: Option<f64>,
    pub validation_seconds: f64,
}
