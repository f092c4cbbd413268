//! seqrec's errors as Python exceptions, with the CLI's messages: bad input
//! is a `SeqrecValueError` (a `ValueError`), a missing file a
//! `SeqrecFileNotFoundError` (a `FileNotFoundError`), anything else a
//! `SeqrecRuntimeError` (a `RuntimeError`), all three `SeqrecError`s; a
//! cancelled run is a `KeyboardInterrupt`. No panic crosses
//! into Python: the worker threads catch them (see `runtime`).

use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
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

pyo3::create_exception!(
    seqrec,
    SeqrecError,
    pyo3::exceptions::PyException,
    "The base class of every error seqrec raises (Ctrl-C stays KeyboardInterrupt)."
);

/// The exceptions seqrec raises: each a `SeqrecError` and the builtin
/// exception a Python user would catch (`ValueError`, ...), made once.
#[derive(Debug)]
pub struct ErrorTypes {
    pub value: Py<PyType>,
    pub missing: Py<PyType>,
    pub runtime: Py<PyType>,
}

static TYPES: PyOnceLock<ErrorTypes> = PyOnceLock::new();

/// The exception types (created on first use).
pub fn error_types(py: Python<'_>) -> PyResult<&'static ErrorTypes> {
    TYPES.get_or_try_init(py, || {
        let builtins = py.import("builtins")?;
        let base = py.get_type::<SeqrecError>();
        let make = |name: &str, builtin: &str, doc: &str| -> PyResult<Py<PyType>> {
            let bases = PyTuple::new(py, [base.clone().into_any(), builtins.getattr(builtin)?])?;
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "seqrec")?;
            namespace.set_item("__doc__", doc)?;
            let made = builtins.getattr("type")?.call1((name, bases, namespace))?;
            Ok(made.cast_into::<PyType>()?.unbind())
        };
        Ok(ErrorTypes {
            value: make(
                "SeqrecValueError",
                "ValueError",
                "Bad input: a value, setting or file's content seqrec cannot use.",
            )?,
            missing: make(
                "SeqrecFileNotFoundError",
                "FileNotFoundError",
                "A file or dataset seqrec needs is not there.",
            )?,
            runtime: make(
                "SeqrecRuntimeError",
                "RuntimeError",
                "Any other failure (I/O, a backend, an internal error).",
            )?,
        })
    })
}

impl From<Failure> for PyErr {
    fn from(f: Failure) -> PyErr {
        if f.kind == Kind::Cancelled {
            return PyKeyboardInterrupt::new_err(f.message);
        }
        Python::attach(|py| match error_types(py) {
            Ok(types) => {
                let ty = match f.kind {
                    Kind::BadInput => &types.value,
                    Kind::Missing => &types.missing,
                    Kind::Cancelled | Kind::Other => &types.runtime,
                };
                PyErr::from_type(ty.bind(py).clone(), (f.message,))
            }
            // Making the types failed (it never should): plain builtins.
            Err(_) => match f.kind {
                Kind::BadInput => PyValueError::new_err(f.message),
                Kind::Missing => PyFileNotFoundError::new_err(f.message),
                Kind::Cancelled | Kind::Other => PyRuntimeError::new_err(f.message),
            },
        })
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
            | GruError::UnsupportedPrecision(_)
            | GruError::DeviceIndex { .. } => Kind::BadInput,
            GruError::Cancelled { .. } => Kind::Cancelled,
            _ => Kind::Other,
        };
        Failure::new(kind, e.to_string())
    }
}

/// The result type of this crate's internals.
pub type Result<T, E = Failure> = std::result::Result<T, E>;
