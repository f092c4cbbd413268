use seqrec_core::{ScoreError, UserId};
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong while evaluating.
#[derive(Debug, Error)]
pub enum EvalError {
    #[error("invalid evaluation setting: {0}")]
    InvalidConfig(String),
    #[error(
        "scorer `{scorer}` ranks {scorer_items} items but the split's catalogue has {split_items}"
    )]
    CatalogueMismatch {
        scorer: String,
        scorer_items: usize,
        split_items: usize,
    },
    #[error("scorer `{scorer}` failed: {source}")]
    Scorer {
        scorer: String,
        #[source]
        source: ScoreError,
    },
    #[error("scorer `{scorer}` produced NaN scores for user {user} at position {position}")]
    NotANumber {
        scorer: String,
        user: UserId,
        position: usize,
    },
    /// Stopped through [`crate::EvalConfig::cancel`].
    #[error("evaluation cancelled")]
    Cancelled,
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}
