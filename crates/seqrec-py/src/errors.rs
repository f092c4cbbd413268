//! seqrec's errors as Python exceptions, with the CLI's messages: bad input
//! is a `ValueError`, a missing file a `FileNotFoundError`, a cancelled run
//! a `KeyboardInterrupt`, anything else a `RuntimeError`. No panic crosses
//! into Python: the worker threads catch them (see `runtime`).

use pyo3::PyErr;
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use seqrec_data::DataError;
use seqrec_metrics::EvalError;
use seqrec_runner::RunnerError;

/// Which exception an error becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BadInput,
    Missing,
    Cancelled,
    Other,
}

/// An error on its way to Python: its kind and the message the CLI prints.
#[derive(Debug)]
pub struct Failure {
    pub kind: Kind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure::new(Kind::BadInput, message)
    }

    /// The same failure with `context: ` in front, as the CLI chains causes.
    pub fn context(mut self, context: impl std::fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        match f.kind {
            Kind::BadInput => PyValueError::new_err(f.message),
            Kind::Missing => PyFileNotFoundError::new_err(f.message),
            Kind::Cancelled => PyKeyboardInterrupt::new_err(f.message),
            Kind::Other => PyRuntimeError::new_err(f.message),
        }
    }
}

impl From<DataError> for Failure {
    fn from(e: DataError) -> Self {
        let kind = match &e {
            DataError::Missing { .. } => Kind::Missing,
            DataError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Kind::Missing
            }
            DataError::Io { .. } | DataError::Core(_) => Kind::Other,
            DataError::Empty { .. }
            | DataError::Parse { .. }
            | DataError::Table { .. }
            | DataError::Polars { .. }
            | DataError::Codec { .. }
            | DataError::UnknownDataset { .. }
            | DataError::InvalidOption(_) => Kind::BadInput,
        };
        Failure::new(kind, e.to_string())
    }
}

impl From<RunnerError> for Failure {
    fn from(e: RunnerError) -> Self {
        let kind = match &e {
            RunnerError::UnknownMethod(_)
            | RunnerError::Config(_)
            | RunnerError::InFile { .. }
            | RunnerError::Data { .. } => Kind::BadInput,
            RunnerError::Io { .. }
            | RunnerError::Cell { .. }
            | RunnerError::Results(_)
            | RunnerError::Plot(_) => Kind::Other,
        };
        Failure::new(kind, e.to_string())
    }
}

impl From<EvalError> for Failure {
    fn from(e: EvalError) -> Self {
        let kind = match &e {
            EvalError::InvalidConfig(_)
            | EvalError::CatalogueMismatch { .. }
            | EvalError::NotANumber { .. }
            | EvalError::Parse { .. } => Kind::BadInput,
            EvalError::Cancelled => Kind::Cancelled,
            EvalError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Kind::Missing
            }
            EvalError::Io { .. } | EvalError::Scorer { .. } => Kind::Other,
        };
        Failure::new(kind, e.to_string())
    }
}

impl From<seqrec_models::GruError> for Failure {
    fn from(e: seqrec_models::GruError) -> Self {
        use seqrec_models::GruError;
        let kind = match &e {
            GruError::InvalidParams(_)
            | GruError::Toml(_)
            | GruError::Unknown { .. }
            | GruError::BackendMissing(_)
            | GruError::DeviceIndex { .. } => Kind::BadInput,
            GruError::Cancelled { .. } => Kind::Cancelled,
            _ => Kind::Other,
        };
        Failure::new(kind, e.to_string())
    }
}

/// The result type of this crate's internals.
pub type Result<T, E = Failure> = std::result::Result<T, E>;
