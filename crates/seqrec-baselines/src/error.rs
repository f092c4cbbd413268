use thiserror::Error;

/// Errors of the baselines.
#[derive(Debug, Error)]
pub enum BaselineError {
    /// A hyperparameter outside its domain, naming the method and field.
    #[error("invalid {method} parameter: {message}")]
    InvalidParams {
        method: &'static str,
        message: String,
    },
    /// A parameter file that is not valid TOML for the typed params.
    #[error("invalid baseline parameters: {0}")]
    Toml(String),
    /// The fit was cancelled through its [`seqrec_core::Cancel`] flag.
    #[error("{method}: fitting cancelled")]
    Cancelled { method: &'static str },
    /// An unknown method name.
    #[error("unknown method `{0}`; known: pop, item-knn, decay-knn, bpr-mf, seq-mf")]
    UnknownMethod(String),
}

pub(crate) fn invalid(method: &'static str, message: impl Into<String>) -> BaselineError {
    BaselineError::InvalidParams {
        method,
        message: message.into(),
    }
}
