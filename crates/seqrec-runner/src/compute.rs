//! Where the GRUs run: the backend, which of its devices, and whether a
//! CPU training estimated to take days may start. One value that every
//! command and the runner turn into [`TrainOptions`] the same way.

use indicatif::ProgressBar;
use seqrec_models::{Backend, ElementWise, Precision, TrainOptions};
use std::path::PathBuf;

/// How GRUs are computed (the baselines always run on the CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compute {
    pub backend: Backend,
    /// `--device N`: which device of the backend (default: the first).
    pub device: Option<usize>,
    /// `--allow-slow-cpu`: train on the CPU even where that is estimated
    /// to take more than half a day (refused otherwise).
    pub allow_slow_cpu: bool,
    /// `--precision`: how matrix products are computed on a GPU.
    pub precision: Precision,
    /// `--elementwise`: a GPU's element-wise work in seqrec's fused
    /// kernels (the default) or in burn's operations.
    pub elementwise: ElementWise,
}

impl Compute {
    pub fn on(backend: Backend) -> Self {
        Compute {
            backend,
            ..Compute::default()
        }
    }

    /// Training options: these settings, a checkpoint written after every
    /// epoch (and continued from when `resume`), and a progress bar.
    pub fn train_options(
        &self,
        checkpoint: Option<PathBuf>,
        resume: bool,
        progress: Option<ProgressBar>,
    ) -> TrainOptions {
        TrainOptions {
            backend: self.backend,
            precision: self.precision,
            elementwise: self.elementwise,
            device_index: self.device,
            allow_slow_cpu: self.allow_slow_cpu,
            checkpoint,
            resume,
            progress,
            ..TrainOptions::default()
        }
    }
}
