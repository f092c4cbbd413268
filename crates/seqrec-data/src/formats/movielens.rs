//! The three MovieLens rating formats: `ratings.dat` (ML-1M/10M, `::`),
//! `ratings.csv` (ml-latest-small, ml-20m, ml-25m) and `u.data` (ML-100K).
//! All carry user, movie, rating and Unix-seconds timestamp; every rating is
//! one event whatever its value (specification §2.1).

use super::linescan::{find_bad_line, int_field, number_field, positive_id_field};
use crate::raw::{Keys, RawEvents};
use crate::{DataError, Result};
use polars::prelude::*;
use std::path::Path;
use std::sync::Arc;

/// Which MovieLens layout a file has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MovieLensFormat {
    /// `UserID::MovieID::Rating::Timestamp`, no header (ML-1M, ML-10M).
    Dat,
    /// `userId,movieId,rating,timestamp` with that header.
    Csv,
    /// `user<TAB>item<TAB>rating<TAB>timestamp`, no header (ML-100K).
    UData,
}

const FIELDS: [&str; 4] = ["user id", "movie id", "rating", "timestamp"];
const CSV_HEADER: [&str; 4] = ["userId", "movieId", "rating", "timestamp"];

impl MovieLensFormat {
    fn describe(self) -> &'static str {
        match self {
            MovieLensFormat::Dat => "`UserID::MovieID::Rating::Timestamp`",
            MovieLensFormat::Csv => "`userId,movieId,rating,timestamp`",
            MovieLensFormat::UData => "`user<TAB>item<TAB>rating<TAB>timestamp`",
        }
    }

    fn separator(self) -> &'static str {
        match self {
            MovieLensFormat::Dat => "::",
            MovieLensFormat::Csv => ",",
            MovieLensFormat::UData => "\t",
        }
    }

    /// Checks one line exactly as the format defines it.
    fn check_line(self, line_no: usize, line: &str) -> Result<(), String> {
        if self == MovieLensFormat::Csv && line_no == 1 {
            let header: Vec<&str> = line.split(',').map(str::trim).collect();
            return if header == CSV_HEADER {
                Ok(())
            } else {
                Err(format!(
                    "expected the header {}, found `{line}`",
                    self.describe()
                ))
            };
        }
        let fields: Vec<&str> = line.split(self.separator()).collect();
        if fields.len() != 4 {
            let sep = self.separator().escape_default();
            return Err(format!(
                "expected 4 fields separated by `{sep}` ({}), found {}",
                self.describe(),
                fields.len()
            ));
        }
        positive_id_field(FIELDS[0], fields[0])?;
        positive_id_field(FIELDS[1], fields[1])?;
        number_field(FIELDS[2], fields[2])?;
        int_field(FIELDS[3], fields[3])?;
        Ok(())
    }

    /// polars' view of the file: separator, header, all columns with their
    /// types, and which of them hold user, item and timestamp.
    fn polars_options(self) -> (CsvReadOptions, [usize; 3]) {
        let (sep, names, columns): (u8, &[&str], [usize; 3]) = match self {
            // polars takes one-byte separators: `::` is read as `:` with an
            // empty column between every two fields.
            MovieLensFormat::Dat => (
                b':',
                &["user", "e1", "item", "e2", "rating", "e3", "timestamp"],
                [0, 2, 6],
            ),
            MovieLensFormat::Csv => (b',', &CSV_HEADER, [0, 1, 3]),
            MovieLensFormat::UData => (b'\t', &["user", "item", "rating", "timestamp"], [0, 1, 3]),
        };
        let mut schema = Schema::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let dtype = if columns.contains(&i) {
                DataType::Int64
            } else if name.starts_with('e') {
                DataType::String
            } else {
                DataType::Float64
            };
            schema.with_column((*name).into(), dtype);
        }
        let options = CsvReadOptions::default()
            .with_has_header(self == MovieLensFormat::Csv)
            .with_schema(Some(Arc::new(schema)))
            .with_parse_options(
                CsvParseOptions::default()
                    .with_separator(sep)
                    .with_quote_char(None),
            );
        (options, columns)
    }
}

/// Reads a MovieLens ratings file into raw events.
pub(crate) fn read(path: &Path, format: MovieLensFormat) -> Result<RawEvents> {
    super::ensure_non_empty(path)?;
    let (options, columns) = format.polars_options();
    let locate = || -> Result<DataError> {
        Ok(
            find_bad_line(path, |n, line| format.check_line(n, line))?.unwrap_or_else(|| {
                DataError::Table {
                    path: path.into(),
                    message: format!(
                        "records with missing fields (expected {})",
                        format.describe()
                    ),
                }
            }),
        )
    };
    if format == MovieLensFormat::Csv {
        // A wrong header would otherwise be read as data or renamed silently.
        if let Some(err) = find_bad_line_in_header(path, format)? {
            return Err(err);
        }
    }
    let frame = match options
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|reader| reader.finish())
    {
        Ok(frame) => frame,
        Err(source) => {
            return Err(
                match find_bad_line(path, |n, line| format.check_line(n, line))? {
                    Some(err) => err,
                    None => DataError::Polars {
                        path: path.into(),
                        source,
                    },
                },
            );
        }
    };
    let take = |index: usize| -> Result<Option<Vec<i64>>> {
        let column = &frame.columns()[index];
        if column.null_count() > 0 {
            return Ok(None);
        }
        let values = column.i64().map_err(|source| DataError::Polars {
            path: path.into(),
            source,
        })?;
        Ok(Some(values.into_no_null_iter().collect()))
    };
    let (Some(users), Some(items), Some(timestamps)) =
        (take(columns[0])?, take(columns[1])?, take(columns[2])?)
    else {
        return Err(locate()?);
    };
    // MovieLens ids are positive: `-1` or `0` is a damaged line, not a user.
    if users.iter().chain(&items).any(|&id| id < 1) {
        return Err(locate()?);
    }
    // The rating column must be present too, even though its value is unused.
    let rating_index = if format == MovieLensFormat::Dat { 4 } else { 2 };
    if frame.columns()[rating_index].null_count() > 0 {
        return Err(locate()?);
    }
    if users.is_empty() {
        return Err(DataError::Empty { path: path.into() });
    }
    Ok(RawEvents {
        users: Keys::Integer(users),
        items: Keys::Integer(items),
        timestamps,
    })
}

fn find_bad_line_in_header(path: &Path, format: MovieLensFormat) -> Result<Option<DataError>> {
    let header = super::linescan::first_line(path)?;
    Ok(format
        .check_line(1, &header)
        .err()
        .map(|message| DataError::parse(path, 1, message)))
}
