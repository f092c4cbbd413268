use std::path::PathBuf;
use thiserror::Error;

/// Errors of the GRU recommenders.
#[derive(Debug, Error)]
pub enum GruError {
    /// A hyperparameter outside its domain, naming the field.
    #[error("invalid GRU parameter: {0}")]
    InvalidParams(String),
    /// A parameter file that is not valid TOML for the typed params.
    #[error("invalid GRU parameters: {0}")]
    Toml(String),
    /// An unknown method or backend name.
    #[error("unknown {kind} `{name}`; known: {known}")]
    Unknown {
        kind: &'static str,
        name: String,
        known: &'static str,
    },
    /// A backend this build was compiled without.
    #[error(
        "backend `{0}` is not compiled in; rebuild with `--features {0}` (see docs/book/src/gpus.md)"
    )]
    BackendMissing(&'static str),
    /// The backend is compiled in but this machine cannot run it (no
    /// driver, no device, no libdevice), with what to do.
    #[error("backend `{backend}`: {message}")]
    NoDevice {
        backend: &'static str,
        message: String,
    },
    /// `--device N` past the devices this machine has.
    #[error("backend `{backend}` has no device {index}; this machine has {}: {}", available.len(), if available.is_empty() { "none".to_owned() } else { available.iter().enumerate().map(|(i, d)| format!("{i} = {d}")).collect::<Vec<_>>().join(", ") })]
    DeviceIndex {
        backend: &'static str,
        index: usize,
        available: Vec<String>,
    },
    /// A precision the backend cannot compute (`bf16` off CUDA).
    #[error("{0}")]
    UnsupportedPrecision(String),
    /// The GPU stack failed (it reports by panicking; caught and named).
    #[error("backend `{backend}` failed while {what}: {message}")]
    BackendFailed {
        backend: &'static str,
        what: String,
        message: String,
    },
    /// A CPU training estimated to take far too long, refused unless asked for.
    #[error(
        "on the CPU backend `{backend}` this would take about {estimate} ({detail}); use a GPU backend (--backend cuda or vulkan), or allow it explicitly (--allow-slow-cpu)"
    )]
    SlowCpu {
        variant: &'static str,
        backend: &'static str,
        estimate: String,
        detail: String,
    },
    /// The run would not fit the device's memory.
    #[error(
        "the run needs about {estimate_gib:.2} GiB ({detail}) but the limit is {limit_gib:.2} GiB ({limit_source}); lower hidden, lanes or output_chunk_rows, or raise memory_limit_gib"
    )]
    OutOfMemory {
        estimate_gib: f64,
        limit_gib: f64,
        limit_source: String,
        detail: String,
    },
    /// Training diverged.
    #[error("training diverged: loss is {loss} in epoch {epoch}, window {window}")]
    NonFiniteLoss {
        epoch: usize,
        window: usize,
        loss: f32,
    },
    /// Stopped through [`crate::TrainOptions::cancel`] (Ctrl-C in Python);
    /// the checkpoint of the last finished epoch, if any, is kept.
    #[error("training cancelled in epoch {epoch}")]
    Cancelled { epoch: usize },
    /// Nothing to train on.
    #[error("no user has two or more training events, so there is nothing to train on")]
    NoTrainingData,
    /// A checkpoint that cannot be written or read.
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// A checkpoint from a different configuration or dataset.
    #[error("checkpoint {path} does not match this run: {message}")]
    CheckpointMismatch { path: PathBuf, message: String },
    /// A backend failure (reading a tensor from the device, for instance).
    #[error("backend error: {0}")]
    Backend(String),
    /// A failure of the validation evaluation.
    #[error("validation failed: {0}")]
    Validation(String),
}
