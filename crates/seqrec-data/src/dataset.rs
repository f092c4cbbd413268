//! Named datasets, the data root, and the loading pipeline:
//! source file → raw events → numbered and ordered → subsample → split.

use crate::cache::{self, CacheKey};
use crate::formats::{self, MovieLensFormat};
use crate::options::{DatasetOptions, Subsample};
use crate::raw::RawEvents;
use crate::report::{LoadReport, Skips};
use crate::synthetic::{self, SyntheticConfig};
use crate::{DataError, Result};
use seqrec_core::codec::{Decoder, Encoder};
use seqrec_core::{Split, UserId, UserSequences, Vocabulary};
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable naming the data root.
pub const DATA_DIR_ENV: &str = "SEQREC_DATA_DIR";
/// The environment variable naming the cache of preprocessed splits.
pub const CACHE_DIR_ENV: &str = "SEQREC_CACHE_DIR";

/// The datasets seqrec knows by name, plus any generic table by path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DatasetName {
    /// MovieLens 10M, `ml-10M100K/ratings.dat` (the paper's "MovieLens").
    Ml10m,
    /// LastFM 1K, `lastfm-dataset-1K/userid-timestamp-artid-artname-traid-traname.tsv`.
    LastFm1k,
    /// `ml-latest-small/ratings.csv`.
    MlLatestSmall,
    /// `ml-100k/u.data`.
    Ml100k,
    /// Built in: generated from [`SyntheticConfig::movielens`].
    SyntheticMovielens,
    /// Built in: generated from [`SyntheticConfig::lastfm`].
    SyntheticLastfm,
    /// A CSV, TSV or Parquet file read with [`TableOptions`](crate::TableOptions).
    Table(PathBuf),
}

impl DatasetName {
    /// Every named dataset.
    pub const ALL_NAMES: [&'static str; 6] = [
        "ml-10m",
        "lastfm-1k",
        "ml-latest-small",
        "ml-100k",
        "synthetic-movielens",
        "synthetic-lastfm",
    ];

    /// A known name, or a path to a `.csv`, `.tsv` or `.parquet` table.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "ml-10m" => DatasetName::Ml10m,
            "lastfm-1k" => DatasetName::LastFm1k,
            "ml-latest-small" => DatasetName::MlLatestSmall,
            "ml-100k" => DatasetName::Ml100k,
            "synthetic-movielens" => DatasetName::SyntheticMovielens,
            "synthetic-lastfm" => DatasetName::SyntheticLastfm,
            other => {
                let ext = Path::new(other)
                    .extension()
                    .and_then(|e| e.to_str())
                    .unwrap_or("");
                if ["csv", "tsv", "tab", "parquet", "pq"]
                    .contains(&ext.to_ascii_lowercase().as_str())
                {
                    DatasetName::Table(PathBuf::from(other))
                } else {
                    return Err(DataError::UnknownDataset {
                        name: other.to_owned(),
                        known: &Self::ALL_NAMES,
                    });
                }
            }
        })
    }

    /// The file inside the data root, in the archive's own layout.
    pub fn relative_path(&self) -> Option<&Path> {
        Some(Path::new(match self {
            DatasetName::Ml10m => "ml-10M100K/ratings.dat",
            DatasetName::LastFm1k => {
                "lastfm-dataset-1K/userid-timestamp-artid-artname-traid-traname.tsv"
            }
            DatasetName::MlLatestSmall => "ml-latest-small/ratings.csv",
            DatasetName::Ml100k => "ml-100k/u.data",
            DatasetName::Table(path) => return Some(path),
            DatasetName::SyntheticMovielens | DatasetName::SyntheticLastfm => return None,
        }))
    }

    /// The command that downloads this dataset into the data root (the
    /// public archives listed in `datasets/manifest.toml`); `None` for a
    /// user's own table or generated data.
    pub fn fetch_command(&self) -> Option<String> {
        match self {
            DatasetName::Ml10m
            | DatasetName::LastFm1k
            | DatasetName::MlLatestSmall
            | DatasetName::Ml100k => Some(format!("cargo xtask fetch-data --datasets {self}")),
            DatasetName::Table(_)
            | DatasetName::SyntheticMovielens
            | DatasetName::SyntheticLastfm => None,
        }
    }

    /// Whether the data is generated rather than read.
    pub fn is_synthetic(&self) -> bool {
        matches!(
            self,
            DatasetName::SyntheticMovielens | DatasetName::SyntheticLastfm
        )
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetName::Ml10m => f.write_str("ml-10m"),
            DatasetName::LastFm1k => f.write_str("lastfm-1k"),
            DatasetName::MlLatestSmall => f.write_str("ml-latest-small"),
            DatasetName::Ml100k => f.write_str("ml-100k"),
            DatasetName::SyntheticMovielens => f.write_str("synthetic-movielens"),
            DatasetName::SyntheticLastfm => f.write_str("synthetic-lastfm"),
            DatasetName::Table(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Where datasets live: `--data-dir`, else `$SEQREC_DATA_DIR`, else `datasets/`.
pub fn resolve_data_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("datasets"),
    }
}

/// The cache of preprocessed splits: `--cache-dir`, else
/// `$SEQREC_CACHE_DIR`, else `$XDG_CACHE_HOME/seqrec`, else
/// `~/.cache/seqrec` (the system's temporary directory without a home).
pub fn resolve_cache_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("seqrec")
}

/// A loaded dataset: the split and the way back to original ids.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    /// Original user ids by dense [`UserId`].
    pub users: Vocabulary,
    /// Original item ids by dense catalogue [`ItemId`](seqrec_core::ItemId).
    pub items: Vocabulary,
    pub split: Split,
    pub report: LoadReport,
}

/// How to load: data root, options and cache.
#[derive(Clone, Debug)]
pub struct LoadRequest {
    pub data_dir: PathBuf,
    pub options: DatasetOptions,
    /// Directory of the preprocessed-split cache; `None` disables it.
    pub cache_dir: Option<PathBuf>,
}

impl LoadRequest {
    /// Defaults: spec options, cache off.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        LoadRequest {
            data_dir: data_dir.into(),
            options: DatasetOptions::default(),
            cache_dir: None,
        }
    }

    /// The source file of a named dataset under this data root.
    pub fn source_path(&self, name: &DatasetName) -> Option<PathBuf> {
        let relative = name.relative_path()?;
        Some(
            if relative.is_absolute() || matches!(name, DatasetName::Table(_)) {
                relative.to_path_buf()
            } else {
                self.data_dir.join(relative)
            },
        )
    }
}

/// Loads a dataset: from the cache when a valid entry exists, else from its
/// source, writing the cache afterwards.
pub fn load(name: &DatasetName, request: &LoadRequest) -> Result<Dataset> {
    request.options.validate()?;
    let _span = tracing::info_span!("load", dataset = %name).entered();
    if name.is_synthetic() {
        let config = request
            .options
            .synthetic
            .clone()
            .unwrap_or_else(|| match name {
                DatasetName::SyntheticLastfm => SyntheticConfig::lastfm(),
                _ => SyntheticConfig::movielens(),
            });
        let data = synthetic::generate(&config)?;
        return build(
            name,
            data.to_raw(),
            Skips::default(),
            &request.options,
            false,
        );
    }
    let path = request.source_path(name).unwrap_or_default();
    if !path.exists() {
        return Err(DataError::Missing {
            dataset: name.to_string(),
            hint: match name.fetch_command() {
                Some(fetch) => format!(
                    "the data root is {}; set --data-dir or {DATA_DIR_ENV}, or download it with `{fetch}`",
                    request.data_dir.display()
                ),
                None => format!(
                    "the data root is {}; set --data-dir or {DATA_DIR_ENV}",
                    request.data_dir.display()
                ),
            },
            path,
        });
    }
    let key = match &request.cache_dir {
        Some(dir) => Some((
            dir,
            CacheKey::new(&name.to_string(), &path, &request.options)?,
        )),
        None => None,
    };
    if let Some((dir, key)) = &key
        && let Some(body) = cache::read(dir, key)?
    {
        match Dataset::decode(&mut Decoder::new(&body)) {
            Ok(mut dataset) => {
                dataset.report.from_cache = true;
                tracing::info!(path = %path.display(), "loaded split from cache");
                return Ok(dataset);
            }
            Err(why) => tracing::warn!("ignoring a cache entry that does not decode: {why}"),
        }
    }
    let (raw, skips) = match name {
        DatasetName::Ml10m => (
            formats::movielens::read(&path, MovieLensFormat::Dat)?,
            Skips::default(),
        ),
        DatasetName::MlLatestSmall => (
            formats::movielens::read(&path, MovieLensFormat::Csv)?,
            Skips::default(),
        ),
        DatasetName::Ml100k => (
            formats::movielens::read(&path, MovieLensFormat::UData)?,
            Skips::default(),
        ),
        DatasetName::LastFm1k => formats::lastfm::read(&path, request.options.lastfm.item_key)?,
        DatasetName::Table(_) => (
            formats::table::read(&path, &request.options.table)?,
            Skips::default(),
        ),
        DatasetName::SyntheticMovielens | DatasetName::SyntheticLastfm => {
            unreachable!("handled above")
        }
    };
    let subsample = matches!(name, DatasetName::LastFm1k);
    let dataset = build(name, raw, skips, &request.options, subsample)?;
    if let Some((dir, key)) = &key {
        // A cache that cannot be written only costs time next run.
        let mut body = Encoder::new();
        let written = dataset
            .encode(&mut body)
            .and_then(|()| cache::write(dir, key, body.into_bytes()));
        if let Err(err) = written {
            tracing::warn!("could not write the cache: {err}");
        }
    }
    Ok(dataset)
}

/// Reads any supported file directly, without a data root or cache.
pub fn load_file(
    path: &Path,
    format: crate::SourceFormat,
    options: &DatasetOptions,
) -> Result<Dataset> {
    options.validate()?;
    let name = path.display().to_string();
    let (raw, skips, subsample) = match format {
        crate::SourceFormat::MovieLens(f) => {
            (formats::movielens::read(path, f)?, Skips::default(), false)
        }
        crate::SourceFormat::LastFm1k => {
            let (raw, skips) = formats::lastfm::read(path, options.lastfm.item_key)?;
            (raw, skips, true)
        }
        crate::SourceFormat::Table => (
            formats::table::read(path, &options.table)?,
            Skips::default(),
            false,
        ),
    };
    build(
        &DatasetName::Table(path.to_path_buf()),
        raw,
        skips,
        options,
        subsample,
    )
    .map(|mut d| {
        d.name = name;
        d
    })
}

fn build(
    name: &DatasetName,
    raw: RawEvents,
    skips: Skips,
    options: &DatasetOptions,
    subsample: bool,
) -> Result<Dataset> {
    let parsed_events = raw.len();
    let ordered = raw.order();
    let (sequences, subsampled_out) = if subsample {
        subsample_sequences(
            &ordered.sequences,
            options.lastfm.subsample,
            options.lastfm.subsample_fraction,
        )
    } else {
        (ordered.sequences, 0)
    };
    let outcome = Split::compute(&sequences, ordered.items.len(), &options.split)?;
    let items = ordered.items.retain_indices(&outcome.catalogue);
    tracing::info!(
        users = outcome.split.users(),
        items = items.len(),
        events = outcome.split.sequences().events(),
        "dataset ready"
    );
    Ok(Dataset {
        name: name.to_string(),
        users: ordered.users,
        items,
        split: outcome.split,
        report: LoadReport {
            parsed_events,
            skips,
            subsampled_out,
            split: outcome.report,
            from_cache: false,
        },
    })
}

/// Keeps a contiguous `fraction` (rounded up) of every user's sequence.
fn subsample_sequences(
    seqs: &UserSequences,
    mode: Subsample,
    fraction: f64,
) -> (UserSequences, usize) {
    if mode == Subsample::None {
        return (seqs.clone(), 0);
    }
    let mut dropped = 0;
    let rows = (0..seqs.users()).map(|u| {
        let user = UserId(u as u32);
        let (items, times) = (seqs.items(user), seqs.timestamps(user));
        let n = items.len();
        let keep = ((n as f64 * fraction).ceil() as usize).min(n);
        dropped += n - keep;
        let range = match mode {
            Subsample::Latest => n - keep..n,
            _ => 0..keep,
        };
        (items[range.clone()].to_vec(), times[range].to_vec())
    });
    let out = UserSequences::from_users(rows.collect::<Vec<_>>());
    (out, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use seqrec_core::ItemId;

    #[test]
    fn subsample_keeps_the_latest_tenth_rounded_up() {
        let seqs = UserSequences::from_users(vec![
            ((0..25).map(ItemId).collect(), (0..25).collect()),
            (vec![ItemId(7)], vec![1]),
        ]);
        let (out, dropped) = subsample_sequences(&seqs, Subsample::Latest, 0.1);
        // ceil(2.5) = 3 of 25; ceil(0.1) = 1 of 1.
        assert_eq!(out.items(UserId(0)), &[ItemId(22), ItemId(23), ItemId(24)]);
        assert_eq!(out.items(UserId(1)), &[ItemId(7)]);
        assert_eq!(dropped, 22);
        let (early, _) = subsample_sequences(&seqs, Subsample::Earliest, 0.1);
        assert_eq!(early.items(UserId(0)), &[ItemId(0), ItemId(1), ItemId(2)]);
    }

    #[test]
    fn names_round_trip_and_unknown_is_an_error() {
        for name in DatasetName::ALL_NAMES {
            assert_eq!(DatasetName::parse(name).unwrap().to_string(), name);
        }
        assert!(matches!(
            DatasetName::parse("ml-99m"),
            Err(DataError::UnknownDataset { .. })
        ));
        assert_eq!(
            DatasetName::parse("x/y.parquet").unwrap(),
            DatasetName::Table("x/y.parquet".into())
        );
    }
}
