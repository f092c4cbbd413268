//! Errors of the runner library.

use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RunnerError {
    #[error(
        "unknown method `{0}`; known: pop, item-knn, decay-knn, bpr-mf, seq-mf, gru, linear-user-gru, rectified-user-gru, attentional-user-gru"
    )]
    UnknownMethod(String),
    #[error("invalid config: {0}")]
    Config(String),
    #[error("{path}: {message}")]
    InFile { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("dataset `{dataset}`: {message}")]
    Data { dataset: String, message: String },
    #[error("{method} on {dataset} (seed {seed}): {message}")]
    Cell {
        dataset: String,
        method: String,
        seed: u64,
        message: String,
    },
    #[error("{0}")]
    Results(String),
    #[error("{0}")]
    Plot(String),
}

impl RunnerError {
    /// The same error, said to come from `path`.
    pub fn in_file(self, path: &Path) -> RunnerError {
        match self {
            RunnerError::Config(message) => RunnerError::InFile {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        }
    }

    pub(crate) fn io(path: &Path, error: impl std::fmt::Display) -> RunnerError {
        RunnerError::Io {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    }
}
