//! How a training runs (as opposed to what it trains: [`crate::GruParams`]).

use crate::epoch::EpochRecord;
use crate::{Backend, Precision};
use indicatif::ProgressBar;
use seqrec_core::Cancel;
use std::path::PathBuf;
use std::sync::Arc;

/// How to run a training (as opposed to what to train: [`crate::GruParams`]).
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    pub backend: Backend,
    /// How matrix products are computed on a GPU (`--precision`).
    pub precision: Precision,
    /// How a GPU computes the cells' gate and update element-wise work,
    /// the output layer's softmax and Adam's update (fused kernels by
    /// default; the CPU backends always compose, with their own Adam).
    pub elementwise: crate::fused::ElementWise,
    /// Which device of the backend (`--device N`; default: the first, GPUs
    /// before software adapters).
    pub device_index: Option<usize>,
    /// Train on the CPU even where the estimate says it takes more than
    /// [`crate::cost::CPU_REFUSAL_SECONDS`] (refused otherwise).
    pub allow_slow_cpu: bool,
    /// Called after every training window.
    pub observer: Option<WindowObserver>,
    /// Called after every epoch, its validation included (a tuner's pruner
    /// watches the validation metric here and stops a trial through
    /// `cancel`).
    pub epoch_observer: Option<EpochObserver>,
    /// Checkpoint file written after every epoch.
    pub checkpoint: Option<PathBuf>,
    /// Continue from `checkpoint` if it exists.
    pub resume: bool,
    /// A progress bar to drive (tuples of the current epoch).
    pub progress: Option<ProgressBar>,
    /// Stop each epoch after this many windows (benchmarks and tests).
    pub max_windows_per_epoch: Option<usize>,
    /// Skip the validation pass after each epoch (benchmarks); the last
    /// epoch is then kept.
    pub skip_validation: bool,
    /// Return after this many epochs of this call, as if killed (tests of
    /// `resume`).
    pub stop_after_epochs: Option<usize>,
    /// Evaluation threads (default: rayon's pool).
    pub threads: Option<usize>,
    /// Checked before every training window; once raised, the training
    /// returns [`crate::GruError::Cancelled`].
    pub cancel: Option<Cancel>,
}

/// One training window, as [`WindowObserver`]s see it.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRecord {
    /// 1-based.
    pub epoch: usize,
    /// 1-based, within the epoch.
    pub window: usize,
    /// Cross-entropy + L2 term of this window.
    pub loss: f32,
    pub tuples: usize,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// A callback after every training window (tests compare backends window
/// by window; benchmarks time them).
#[derive(Clone)]
pub struct WindowObserver(pub Arc<dyn Fn(&WindowRecord) + Send + Sync>);

impl WindowObserver {
    pub fn new(f: impl Fn(&WindowRecord) + Send + Sync + 'static) -> Self {
        WindowObserver(Arc::new(f))
    }
}

impl std::fmt::Debug for WindowObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WindowObserver")
    }
}

/// A callback after every epoch with that epoch's record.
#[derive(Clone)]
pub struct EpochObserver(pub Arc<dyn Fn(&EpochRecord) + Send + Sync>);

impl EpochObserver {
    pub fn new(f: impl Fn(&EpochRecord) + Send + Sync + 'static) -> Self {
        EpochObserver(Arc::new(f))
    }
}

impl std::fmt::Debug for EpochObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochObserver")
    }
}
