//! A line-by-line pass over a text file that finds the first bad record.
//!
//! polars reads fast but its errors do not name a line; when it fails (or
//! yields missing values), this pass names the file, line and problem.

use crate::{DataError, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Calls `check` on every non-blank line (1-based line numbers, header
/// included) and returns the first rejection as a [`DataError::Parse`].
pub(crate) fn find_bad_line(
    path: &Path,
    mut check: impl FnMut(usize, &str) -> Result<(), String>,
) -> Result<Option<DataError>> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            return Ok(None);
        }
        line_no += 1;
        let Ok(text) = std::str::from_utf8(&buf) else {
            return Ok(Some(DataError::parse(path, line_no, "not valid UTF-8")));
        };
        let line = text.trim_end_matches(['\n', '\r']);
        if line.trim().is_empty() {
            continue;
        }
        if let Err(message) = check(line_no, line) {
            return Ok(Some(DataError::parse(path, line_no, message)));
        }
    }
}

/// The first line of a file, without its line ending.
pub(crate) fn first_line(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut buf = Vec::new();
    BufReader::new(file)
        .read_until(b'\n', &mut buf)
        .map_err(|e| DataError::io(path, e))?;
    let text = String::from_utf8(buf).map_err(|_| DataError::parse(path, 1, "not valid UTF-8"))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// Parses an integer field, naming it in the error.
pub(crate) fn int_field(name: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("{name} `{value}` is not an integer"))
}

/// Parses an id field that must be a positive integer (MovieLens numbers
/// users and movies from 1), naming it in the error.
pub(crate) fn positive_id_field(name: &str, value: &str) -> Result<i64, String> {
    let id = int_field(name, value)?;
    if id < 1 {
        return Err(format!("{name} `{value}` is not a positive integer"));
    }
    Ok(id)
}

/// Parses a number field (ratings), naming it in the error.
pub(crate) fn number_field(name: &str, value: &str) -> Result<f64, String> {
    value
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("{name} `{value}` is not a number"))
}
