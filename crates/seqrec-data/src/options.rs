//! Typed loading options: every spec decision of §2 is a field here with the
//! spec's choice as its default. Loaded from TOML with unknown keys rejected.

use crate::synthetic::SyntheticConfig;
use seqrec_core::SplitConfig;
use serde::{Deserialize, Serialize};

/// Everything that decides how a dataset becomes a split.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatasetOptions {
    /// The 90/5/5 split (specification §2.5).
    pub split: SplitConfig,
    /// LastFM 1K item key and subsample (specification §2.2).
    pub lastfm: LastFmOptions,
    /// Column names and formats of a generic table (specification §2.4).
    pub table: TableOptions,
    /// Replaces the built-in preset of a synthetic dataset (sizes, seed, structure).
    pub synthetic: Option<SyntheticConfig>,
}

/// What identifies a LastFM item.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKey {
    /// (artist name, track name): the spec's decision, keeps plays without MBID.
    #[default]
    ArtistTrack,
    /// The track MBID; plays without one are dropped and counted.
    TrackMbid,
}

/// Which part of each user's plays is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subsample {
    /// The most recent contiguous fraction (spec decision).
    #[default]
    Latest,
    /// The oldest contiguous fraction.
    Earliest,
    /// Everything.
    None,
}

/// LastFM 1K options (specification §2.2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LastFmOptions {
    pub item_key: ItemKey,
    pub subsample: Subsample,
    /// Fraction of each user's plays kept, rounded up (spec: 0.1).
    pub subsample_fraction: f64,
}

impl Default for LastFmOptions {
    fn default() -> Self {
        LastFmOptions {
            item_key: ItemKey::ArtistTrack,
            subsample: Subsample::Latest,
            subsample_fraction: 0.1,
        }
    }
}

/// How the key columns of a generic table are compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyType {
    /// Integers when every value is one, text otherwise.
    #[default]
    Auto,
    Integer,
    Text,
}

/// How a generic table writes time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampFormat {
    /// Integer seconds since the Unix epoch.
    #[default]
    UnixSeconds,
    /// `YYYY-MM-DDTHH:MM:SSZ`.
    Iso8601,
}

impl TimestampFormat {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            TimestampFormat::UnixSeconds => "integer Unix seconds",
            TimestampFormat::Iso8601 => "ISO-8601 `YYYY-MM-DDTHH:MM:SSZ`",
        }
    }
}

/// Generic table options (specification §2.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TableOptions {
    pub user_column: String,
    pub item_column: String,
    pub timestamp_column: String,
    /// Field separator of CSV/TSV files (default `,`, or tab for `.tsv`).
    pub separator: Option<char>,
    pub key_type: KeyType,
    pub timestamp_format: TimestampFormat,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            user_column: "user".into(),
            item_column: "item".into(),
            timestamp_column: "timestamp".into(),
            separator: None,
            key_type: KeyType::Auto,
            timestamp_format: TimestampFormat::UnixSeconds,
        }
    }
}

impl DatasetOptions {
    /// Parses options from TOML text; unknown keys are an error naming the key.
    pub fn from_toml(text: &str) -> Result<Self, crate::DataError> {
        let options: DatasetOptions =
            toml::from_str(text).map_err(|e| crate::DataError::InvalidOption(e.to_string()))?;
        options.validate()?;
        Ok(options)
    }

    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), crate::DataError> {
        self.split.validate()?;
        let f = self.lastfm.subsample_fraction;
        if !(f > 0.0 && f <= 1.0) {
            return Err(crate::DataError::InvalidOption(format!(
                "lastfm.subsample_fraction must be in (0, 1], got {f}"
            )));
        }
        if let Some(s) = &self.synthetic {
            s.validate()?;
        }
        Ok(())
    }
}
