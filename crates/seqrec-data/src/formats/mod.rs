//! Readers of the input formats of specification §2. Each turns one file into
//! `RawEvents` in file order; numbering, ordering and
//! splitting are shared (`crate::raw`, `crate::pipeline`).

pub(crate) mod lastfm;
mod linescan;
pub(crate) mod movielens;
pub(crate) mod table;

pub use crate::time::{format_iso8601, iso8601_seconds};
pub use movielens::MovieLensFormat;

use crate::{DataError, Result};
use std::path::Path;

/// Fails with [`DataError::Missing`]-style I/O errors or [`DataError::Empty`]
/// before a reader starts, so every reader reports these the same way.
pub(crate) fn ensure_non_empty(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_dir() {
        return Err(DataError::Table {
            path: path.into(),
            message: "is a directory, not a file".into(),
        });
    }
    if meta.len() == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    Ok(())
}
