//! The errors of a search (leaf module).

use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong while defining, running or reporting a study.
#[derive(Debug, Error)]
pub enum TuneError {
    /// A `[tune]` or `[tune.space.*]` entry is wrong; the message names it.
    #[error("{path}: {message}")]
    Config { path: String, message: String },
    /// The study store failed (the message names the store).
    #[error("study store {store}: {message}")]
    Store { store: String, message: String },
    /// The store holds a study of this name with another definition.
    #[error(
        "study `{study}` in {store} was created with other settings ({difference}); resume it with the same command, or pick another --study name"
    )]
    StudyMismatch {
        study: String,
        store: String,
        difference: String,
    },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    /// Loading the dataset failed.
    #[error("dataset `{dataset}`: {message}")]
    Data { dataset: String, message: String },
    /// A trial's settings could not be applied or its fit failed.
    #[error("trial {number}: {message}")]
    Trial { number: u64, message: String },
    /// The search was interrupted (Ctrl-C); the study can be resumed.
    #[error("cancelled; the study is saved and resumes when the same command runs again")]
    Cancelled,
    #[error("{0}")]
    Runner(#[from] seqrec_runner::RunnerError),
}

impl TuneError {
    pub(crate) fn config(path: impl Into<String>, message: impl Into<String>) -> Self {
        TuneError::Config {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        TuneError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}
