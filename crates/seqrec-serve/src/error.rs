//! What can go wrong online (a leaf: every layer above uses it).

use seqrec_core::ScoreError;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong online.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    #[error("scoring failed: {0}")]
    Scoring(String),
    #[error("{given} items given; an anonymous sequence may have at most {max}")]
    TooManyItems { given: usize, max: usize },
}

impl From<ScoreError> for ServeError {
    fn from(e: ScoreError) -> Self {
        ServeError::Scoring(e.to_string())
    }
}

impl From<seqrec_models::GruError> for ServeError {
    fn from(e: seqrec_models::GruError) -> Self {
        ServeError::Scoring(e.to_string())
    }
}

/// What can go wrong with the store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("event store {path}: {message}")]
    Database { path: PathBuf, message: String },
    #[error("event store {path}: record {seq} is corrupt: {message}")]
    Corrupt {
        path: PathBuf,
        seq: u64,
        message: String,
    },
}

/// What a request to the service can fail with.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the service is shutting down")]
    Stopped,
    #[error("the service is busy: {0} requests are already waiting; retry shortly")]
    Busy(usize),
    #[error("loading the model: {0}")]
    Load(String),
    #[error("a reload is in progress; try again when it has finished")]
    ReloadInProgress,
    #[error("{path}:{line}: {message}")]
    Table {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
}
