//! A generic table (CSV, TSV or Parquet) with configurable column names
//! (specification §2.4). User and item keys are integers when every value is one
//! (compared numerically), text otherwise; timestamps are integer Unix
//! seconds or ISO-8601 text.

use super::linescan::find_bad_line;
use crate::options::{KeyType, TableOptions, TimestampFormat};
use crate::raw::{Interner, Keys, RawEvents};
use crate::time::iso8601_seconds;
use crate::{DataError, Result};
use polars::prelude::*;
use std::path::Path;

/// The file kinds a generic table may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TableFormat {
    Delimited(u8),
    Parquet,
}

impl TableFormat {
    /// From the file extension, or the separator option.
    pub(crate) fn detect(path: &Path, options: &TableOptions) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let sep = |default: char| -> Result<u8> {
            let c = options.separator.unwrap_or(default);
            u8::try_from(c).ok().filter(u8::is_ascii).ok_or_else(|| {
                DataError::InvalidOption(format!("separator `{c}` must be one ASCII character"))
            })
        };
        match ext.as_deref() {
            Some("parquet") | Some("pq") => Ok(TableFormat::Parquet),
            Some("tsv") | Some("tab") => Ok(TableFormat::Delimited(sep('\t')?)),
            _ => Ok(TableFormat::Delimited(sep(',')?)),
        }
    }
}

/// Reads a generic table.
pub(crate) fn read(path: &Path, options: &TableOptions) -> Result<RawEvents> {
    super::ensure_non_empty(path)?;
    let format = TableFormat::detect(path, options)?;
    let polars_err = |source| DataError::Polars {
        path: path.into(),
        source,
    };
    let frame = match format {
        TableFormat::Parquet => {
            let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
            ParquetReader::new(file)
                .with_columns(Some(vec![
                    options.user_column.clone(),
                    options.item_column.clone(),
                    options.timestamp_column.clone(),
                ]))
                .finish()
                .map_err(polars_err)?
        }
        TableFormat::Delimited(sep) => {
            // Everything as text; the conversion below reports the exact line.
            CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(Some(0))
                .with_parse_options(CsvParseOptions::default().with_separator(sep))
                .try_into_reader_with_file_path(Some(path.to_path_buf()))
                .and_then(|r| r.finish())
                .map_err(polars_err)?
        }
    };
    let column = |name: &str| -> Result<&Column> {
        frame.column(name).map_err(|_| DataError::Table {
            path: path.into(),
            message: format!(
                "no column `{name}`; the table has: {}",
                frame
                    .get_column_names()
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    };
    let columns = [
        column(&options.user_column)?,
        column(&options.item_column)?,
        column(&options.timestamp_column)?,
    ];
    if frame.height() == 0 {
        return Err(DataError::Empty { path: path.into() });
    }
    let convert = || -> Result<RawEvents, (usize, String)> {
        Ok(RawEvents {
            users: keys(columns[0], options.key_type)?,
            items: keys(columns[1], options.key_type)?,
            timestamps: timestamps(columns[2], options.timestamp_format)?,
        })
    };
    convert().map_err(|(row, message)| match format {
        TableFormat::Parquet => DataError::Table {
            path: path.into(),
            message: format!("row {}: {message}", row + 1),
        },
        TableFormat::Delimited(sep) => locate(path, sep, row, message),
    })
}

/// Turns a failed row into a file:line error with a line scan.
fn locate(path: &Path, sep: u8, row: usize, message: String) -> DataError {
    let mut header: Vec<String> = Vec::new();
    let mut data_row = 0usize;
    let found = find_bad_line(path, |line_no, line| {
        let fields: Vec<&str> = line.split(sep as char).collect();
        if line_no == 1 {
            header = fields
                .iter()
                .map(|f| f.trim_matches('"').to_owned())
                .collect();
            return Ok(());
        }
        let this = data_row;
        data_row += 1;
        if fields.len() != header.len() {
            return Err(format!(
                "expected {} fields, found {}",
                header.len(),
                fields.len()
            ));
        }
        if this == row {
            return Err(message.clone());
        }
        Ok(())
    });
    match found {
        Ok(Some(err)) => err,
        Ok(None) | Err(_) => DataError::Table {
            path: path.into(),
            message: format!("data row {}: {message}", row + 1),
        },
    }
}

fn keys(column: &Column, key_type: KeyType) -> Result<Keys, (usize, String)> {
    let name = column.name().to_string();
    if let Some(row) = first_null(column) {
        return Err((row, format!("missing value in column `{name}`")));
    }
    if column.dtype().is_integer() {
        if key_type == KeyType::Text {
            return Ok(Keys::Interned(text_keys(
                &column
                    .cast(&DataType::String)
                    .map_err(|e| (0, e.to_string()))?,
            )?));
        }
        let values = column
            .cast(&DataType::Int64)
            .map_err(|e| (0, e.to_string()))?;
        let values = values.i64().map_err(|e| (0, e.to_string()))?;
        return Ok(Keys::Integer(values.into_no_null_iter().collect()));
    }
    let text = column.str().map_err(|_| {
        (
            0,
            format!(
                "column `{name}` has type {}, expected integers or text",
                column.dtype()
            ),
        )
    })?;
    match key_type {
        KeyType::Text => Ok(Keys::Interned(text_keys(column)?)),
        KeyType::Integer | KeyType::Auto => {
            let mut out = Vec::with_capacity(text.len());
            for (row, value) in text.no_null_iter().enumerate() {
                match value.trim().parse::<i64>() {
                    Ok(v) => out.push(v),
                    Err(_) if key_type == KeyType::Auto => {
                        return Ok(Keys::Interned(text_keys(column)?));
                    }
                    Err(_) => {
                        return Err((
                            row,
                            format!("`{value}` in column `{name}` is not an integer id"),
                        ));
                    }
                }
            }
            Ok(Keys::Integer(out))
        }
    }
}

fn text_keys(column: &Column) -> Result<Interner, (usize, String)> {
    let text = column.str().map_err(|e| (0, e.to_string()))?;
    let mut interner = Interner::text();
    for value in text.no_null_iter() {
        interner.push(value);
    }
    Ok(interner)
}

fn timestamps(column: &Column, format: TimestampFormat) -> Result<Vec<i64>, (usize, String)> {
    let name = column.name().to_string();
    if let Some(row) = first_null(column) {
        return Err((row, format!("missing value in column `{name}`")));
    }
    if column.dtype().is_integer() && format == TimestampFormat::UnixSeconds {
        let values = column
            .cast(&DataType::Int64)
            .map_err(|e| (0, e.to_string()))?;
        let values = values.i64().map_err(|e| (0, e.to_string()))?;
        return Ok(values.into_no_null_iter().collect());
    }
    let text = column.str().map_err(|_| {
        (
            0,
            format!(
                "timestamp column `{name}` has type {}, expected integers or ISO-8601 text",
                column.dtype()
            ),
        )
    })?;
    text.no_null_iter()
        .enumerate()
        .map(|(row, value)| {
            let parsed = match format {
                TimestampFormat::UnixSeconds => value.trim().parse::<i64>().ok(),
                TimestampFormat::Iso8601 => iso8601_seconds(value.trim()),
            };
            parsed.ok_or_else(|| {
                (
                    row,
                    format!("timestamp `{value}` is not {}", format.describe()),
                )
            })
        })
        .collect()
}

fn first_null(column: &Column) -> Option<usize> {
    if column.null_count() == 0 {
        return None;
    }
    let mask = column.is_null();
    mask.iter().position(|b| b == Some(true))
}
