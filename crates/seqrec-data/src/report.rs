//! What loading did to the data, for `seqrec data stats` and logs.

use seqrec_core::SplitReport;
use serde::{Deserialize, Serialize};

/// A skipped input line and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedLine {
    /// 1-based line number in the source file.
    pub line: usize,
    pub reason: String,
}

/// Lines that were read but not used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skips {
    /// Malformed lines (LastFM 1K only; other formats treat them as errors).
    pub malformed: usize,
    /// Plays dropped because `item_key = "track_mbid"` and they have none.
    pub without_track_mbid: usize,
    /// The first few malformed lines.
    pub examples: Vec<SkippedLine>,
}

/// Counts from source file to split.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Events parsed from the source (after skips).
    pub parsed_events: usize,
    pub skips: Skips,
    /// Events dropped by the LastFM subsample.
    pub subsampled_out: usize,
    /// Validation and test events removed as unseen in training.
    pub split: SplitReport,
    /// Whether the split came from the cache.
    pub from_cache: bool,
}
