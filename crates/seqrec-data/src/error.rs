use std::path::PathBuf;
use thiserror::Error;

/// Everything that can go wrong while loading, caching or writing data. Every
/// variant about a file names it; problems in a record name the line too.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be opened, read or written.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A dataset file is not where the data root says it should be.
    #[error("{}: file not found (dataset `{dataset}`; {hint})", path.display())]
    Missing {
        dataset: String,
        path: PathBuf,
        hint: String,
    },
    /// The file exists but holds no records.
    #[error("{}: the file is empty (no records)", path.display())]
    Empty { path: PathBuf },
    /// A record that does not follow the format.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A Parquet or table-level problem that has no line number.
    #[error("{}: {message}", path.display())]
    Table { path: PathBuf, message: String },
    /// polars rejected the file and no line-level cause was found.
    #[error("{}: {source}", path.display())]
    Polars {
        path: PathBuf,
        #[source]
        source: polars::error::PolarsError,
    },
    /// A file of seqrec's own (a dataset snapshot) that is damaged or not one.
    #[error("{}: {source}", path.display())]
    Codec {
        path: PathBuf,
        #[source]
        source: seqrec_core::codec::CodecError,
    },
    /// A dataset name nobody knows.
    #[error("unknown dataset `{name}`; known: {known}", known = known.join(", "))]
    UnknownDataset {
        name: String,
        /// The names there are (carried, so this leaf module needs no
        /// knowledge of the datasets).
        known: &'static [&'static str],
    },
    /// Options outside their domain.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A core invariant broke (a bug rather than bad input).
    #[error(transparent)]
    Core(#[from] seqrec_core::CoreError),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        DataError::Parse {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
