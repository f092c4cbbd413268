//! Writes the exact split with original ids, so other tools (RecBole,
//! GRU4Rec, session-rec) can be run on identical data.
//!
//! Columns: `user`, `item` (for LastFM's pair key: `artist`, `track`),
//! `timestamp`, `split` (`train` / `validation` / `test`), the dense
//! `user_index` and `item_index` seqrec uses, and `position`, the event's
//! index in its user's sequence (the key of outside result files, see
//! `seqrec_metrics::OutsideScores`). Rows are grouped by user in dense
//! order, each user's events in sequence order.

use crate::dataset::Dataset;
use crate::{DataError, Result};
use polars::prelude::*;
use seqrec_core::{Part, UserId, Vocabulary};
use std::path::{Path, PathBuf};

/// Export file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
        }
    }
}

/// Writes `<out_dir>/<dataset>.split.<ext>` and returns its path.
pub fn export(dataset: &Dataset, out_dir: &Path, format: ExportFormat) -> Result<PathBuf> {
    std::fs::create_dir_all(out_dir).map_err(|e| DataError::io(out_dir, e))?;
    let stem: String = dataset
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = out_dir.join(format!("{stem}.split.{}", format.extension()));
    let mut frame = to_frame(dataset).map_err(|source| DataError::Polars {
        path: path.clone(),
        source,
    })?;
    let file = std::fs::File::create(&path).map_err(|e| DataError::io(&path, e))?;
    let result = match format {
        ExportFormat::Csv => CsvWriter::new(file).finish(&mut frame),
        ExportFormat::Parquet => ParquetWriter::new(file).finish(&mut frame).map(|_| ()),
    };
    result.map_err(|source| DataError::Polars {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn to_frame(dataset: &Dataset) -> PolarsResult<DataFrame> {
    let split = &dataset.split;
    let n = split.sequences().events();
    let mut user_index = Vec::with_capacity(n);
    let mut item_index = Vec::with_capacity(n);
    let mut timestamps = Vec::with_capacity(n);
    let mut parts = Vec::with_capacity(n);
    let mut positions = Vec::with_capacity(n);
    for u in 0..split.users() {
        let user = UserId(u as u32);
        for part in [Part::Train, Part::Validation, Part::Test] {
            let range = split.range(user, part);
            positions.extend(range.clone().map(|p| p as u32));
            let items = &split.sequences().items(user)[range.clone()];
            let times = &split.sequences().timestamps(user)[range];
            user_index.extend(std::iter::repeat_n(u as u32, items.len()));
            item_index.extend(items.iter().map(|i| i.0));
            timestamps.extend_from_slice(times);
            parts.extend(std::iter::repeat_n(part.name(), items.len()));
        }
    }
    let mut columns = Vec::new();
    columns.extend(original_columns(&dataset.users, &user_index, &["user"]));
    columns.extend(original_columns(
        &dataset.items,
        &item_index,
        &["item", "artist", "track"],
    ));
    columns.push(Column::new("timestamp".into(), timestamps));
    columns.push(Column::new("split".into(), parts));
    columns.push(Column::new("user_index".into(), user_index));
    columns.push(Column::new("item_index".into(), item_index));
    columns.push(Column::new("position".into(), positions));
    DataFrame::new_infer_height(columns)
}

/// The original-id column(s) for dense ids `ids`: `names[0]` for single
/// keys, `names[1]` and `names[2]` for pairs.
fn original_columns(vocab: &Vocabulary, ids: &[u32], names: &[&str]) -> Vec<Column> {
    match vocab {
        Vocabulary::Integer(keys) => {
            vec![Column::new(
                names[0].into(),
                ids.iter().map(|&i| keys[i as usize]).collect::<Vec<i64>>(),
            )]
        }
        Vocabulary::Text(keys) => vec![Column::new(
            names[0].into(),
            ids.iter()
                .map(|&i| keys[i as usize].as_str())
                .collect::<Vec<&str>>(),
        )],
        Vocabulary::Pair(keys) => vec![
            Column::new(
                names[1].into(),
                ids.iter()
                    .map(|&i| keys[i as usize].0.as_str())
                    .collect::<Vec<&str>>(),
            ),
            Column::new(
                names[2].into(),
                ids.iter()
                    .map(|&i| keys[i as usize].1.as_str())
                    .collect::<Vec<&str>>(),
            ),
        ],
    }
}
