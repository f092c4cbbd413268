//! Summary statistics of a loaded dataset.

use crate::dataset::Dataset;
use seqrec_core::{Part, UserId};
use serde::{Deserialize, Serialize};

/// What `seqrec data stats` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetStats {
    pub dataset: String,
    pub users: usize,
    /// Training catalogue size: the items models rank.
    pub items: usize,
    /// Events after preprocessing (all three parts).
    pub events: usize,
    pub train_events: usize,
    pub validation_events: usize,
    pub test_events: usize,
    /// Mean events per user after preprocessing.
    pub mean_sequence_length: f64,
    /// Median events per user (mean of the two middle values for an even count).
    pub median_sequence_length: f64,
    pub parsed_events: usize,
    pub subsampled_out_events: usize,
    pub removed_validation_events: usize,
    pub removed_test_events: usize,
    pub skipped_lines: usize,
    pub dropped_without_track_mbid: usize,
    pub from_cache: bool,
}

impl DatasetStats {
    /// Computes the statistics of `dataset`.
    pub fn of(dataset: &Dataset) -> Self {
        let split = &dataset.split;
        let seqs = split.sequences();
        let mut lengths: Vec<usize> = (0..split.users())
            .map(|u| seqs.len(UserId(u as u32)))
            .collect();
        lengths.sort_unstable();
        let users = lengths.len();
        let median = match users {
            0 => 0.0,
            n if n % 2 == 1 => lengths[n / 2] as f64,
            n => (lengths[n / 2 - 1] + lengths[n / 2]) as f64 / 2.0,
        };
        let r = &dataset.report;
        DatasetStats {
            dataset: dataset.name.clone(),
            users,
            items: split.catalogue_size(),
            events: seqs.events(),
            train_events: split.events(Part::Train),
            validation_events: split.events(Part::Validation),
            test_events: split.events(Part::Test),
            mean_sequence_length: if users == 0 {
                0.0
            } else {
                seqs.events() as f64 / users as f64
            },
            median_sequence_length: median,
            parsed_events: r.parsed_events,
            subsampled_out_events: r.subsampled_out,
            removed_validation_events: r.split.removed_validation,
            removed_test_events: r.split.removed_test,
            skipped_lines: r.skips.malformed,
            dropped_without_track_mbid: r.skips.without_track_mbid,
            from_cache: r.from_cache,
        }
    }
}
