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
    #[error("backend `{0}` is not compiled in; rebuild with `--features {0}`")]
    BackendMissing(&'static str),
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
