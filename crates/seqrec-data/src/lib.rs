//! Data ingestion for seqrec: reads MovieLens (10M `::`, CSV, 100K), LastFM
//! 1K and generic CSV/Parquet tables, numbers and orders events per spec
//! §2.3, subsamples LastFM, splits 90/5/5 (§2.5), caches the result, and
//! generates synthetic data with planted structure.
//!
//! This is the only crate of the workspace that depends on polars.
//!
//! ```no_run
//! use seqrec_data::{DatasetName, LoadRequest, load};
//! let request = LoadRequest::new("datasets");
//! let data = load(&DatasetName::Ml100k, &request)?;
//! println!("{} users, {} items", data.split.users(), data.split.catalogue_size());
//! # Ok::<(), seqrec_data::DataError>(())
//! ```

mod cache;
mod dataset;
mod error;
mod export;
pub mod formats;
mod options;
mod raw;
mod report;
mod snapshot;
mod stats;
pub mod synthetic;
#[doc(hidden)]
pub mod testing;
mod time;
mod titles;

pub use dataset::{
    CACHE_DIR_ENV, DATA_DIR_ENV, Dataset, DatasetName, LoadRequest, load, load_file,
    resolve_cache_dir, resolve_data_dir,
};
pub use error::{DataError, Result};
pub use export::{ExportFormat, export};
pub use formats::MovieLensFormat;
pub use options::{
    DatasetOptions, ItemKey, KeyType, LastFmOptions, Subsample, TableOptions, TimestampFormat,
};
pub use report::{LoadReport, SkippedLine, Skips};
pub use snapshot::{read_snapshot, write_snapshot};
pub use stats::DatasetStats;
pub use titles::{Titles, read_titles, titles_path};

/// The format of a file given directly to [`load_file`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceFormat {
    MovieLens(MovieLensFormat),
    LastFm1k,
    /// A generic table read with [`TableOptions`].
    Table,
}
