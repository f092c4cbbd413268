//! The settings of one method on one dataset, read from the same schema as
//! the presets: `seqrec evaluate|train --config FILE` or `--preset NAME`.
//!
//! A file is either a whole preset (it has `name`, `seeds` or
//! `[[datasets]]`), whose settings for the dataset are used, its per-dataset
//! overrides included; or a settings file with only the preset's shared
//! tables: `[gru]`, `[baselines.<method>]` and `[options]`.

use super::{ConfigFile, DatasetEntry, ExperimentConfig, resolve_tables};
use crate::RunnerError;
use seqrec_baselines::BaselineParams;
use seqrec_data::DatasetOptions;
use seqrec_models::{Backend, GruParams, Precision};
use serde::Deserialize;
use std::path::Path;

/// What `evaluate` and `train` take from a config file for one dataset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MethodSettings {
    /// The dataset's loading options, where the file sets any.
    pub options: Option<DatasetOptions>,
    pub gru: GruParams,
    pub baselines: BaselineParams,
    /// A preset's GRU backend (the default of `--backend`).
    pub backend: Option<Backend>,
    /// A preset's product precision (the default of `--precision`).
    pub precision: Option<Precision>,
}

/// The subset of the preset schema a settings file may hold.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    #[serde(default)]
    options: toml::Table,
    #[serde(default)]
    gru: toml::Table,
    #[serde(default)]
    baselines: toml::Table,
    /// `[tune]` (see `ConfigFile`): read by seqrec-tune, ignored here.
    #[serde(default, rename = "tune")]
    _tune: Option<toml::Table>,
}

/// Top-level keys only a whole preset has.
const PRESET_KEYS: [&str; 3] = ["name", "seeds", "datasets"];

impl MethodSettings {
    /// Reads `path` for `dataset` (see the module documentation).
    pub fn from_file(path: &Path, dataset: &str) -> Result<Self, RunnerError> {
        let text = std::fs::read_to_string(path).map_err(|e| RunnerError::io(path, e))?;
        Self::from_toml(&text, dataset).map_err(|e| e.in_file(path))
    }

    /// Parses a preset or settings file's text for `dataset`.
    ///
    /// ```
    /// use seqrec_runner::config::MethodSettings;
    /// let preset = r#"
    ///     name = "p"
    ///     seeds = [1]
    ///     [gru]
    ///     hidden = 64
    ///     [[datasets]]
    ///     name = "synthetic-lastfm"
    ///     gru = { lanes = 16 }
    /// "#;
    /// let listed = MethodSettings::from_toml(preset, "synthetic-lastfm")?;
    /// assert_eq!((listed.gru.hidden, listed.gru.lanes), (64, 16));
    /// // A dataset the preset does not list gets its shared settings.
    /// let other = MethodSettings::from_toml(preset, "ml-100k")?;
    /// assert_eq!((other.gru.hidden, other.gru.lanes), (64, 1000));
    /// // A settings file is the preset schema's shared tables alone.
    /// let knn = MethodSettings::from_toml("[baselines.item_knn]\nneighbours = 5\n", "ml-100k")?;
    /// assert_eq!(knn.baselines.item_knn.neighbours, 5);
    /// # Ok::<(), seqrec_runner::RunnerError>(())
    /// ```
    pub fn from_toml(text: &str, dataset: &str) -> Result<Self, RunnerError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|e| RunnerError::Config(e.to_string()))?;
        if PRESET_KEYS.iter().any(|k| table.contains_key(*k)) {
            return Self::from_preset(text, dataset);
        }
        if let Some(method) = table.keys().find(|k| is_baseline_table(k)) {
            return Err(RunnerError::Config(format!(
                "`[{method}]`: baseline settings go under `[baselines.{method}]` (the preset schema; see configs/baselines.toml)"
            )));
        }
        let file: SettingsFile = toml::Value::Table(table).try_into().map_err(
            |e: toml::de::Error| {
                RunnerError::Config(format!(
                    "{} (a settings file holds [gru], [baselines.*], [options] and [tune]; a whole preset also has name, seeds and [[datasets]])",
                    e.to_string().trim()
                ))
            },
        )?;
        let empty = toml::Table::new();
        let (options, gru, baselines) = resolve_tables(
            dataset,
            [&file.options, &file.gru, &file.baselines],
            [&empty, &empty, &empty],
        )?;
        Ok(MethodSettings {
            options: (!file.options.is_empty()).then_some(options),
            gru,
            baselines,
            backend: None,
            precision: None,
        })
    }

    fn from_preset(text: &str, dataset: &str) -> Result<Self, RunnerError> {
        // The whole preset must be valid, not only the part used here.
        let config = ExperimentConfig::from_toml(text)?;
        if let Some(plan) = config.datasets.iter().find(|d| d.name == dataset) {
            return Ok(MethodSettings {
                options: Some(plan.options.clone()),
                gru: plan.gru.clone(),
                baselines: plan.baselines.clone(),
                backend: Some(config.backend),
                precision: Some(config.precision),
            });
        }
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| RunnerError::Config(e.to_string()))?;
        let entry = DatasetEntry::named(dataset);
        let (options, gru, baselines) = resolve_tables(
            dataset,
            [&file.options, &file.gru, &file.baselines],
            [&entry.options, &entry.gru, &entry.baselines],
        )?;
        Ok(MethodSettings {
            options: Some(options),
            gru,
            baselines,
            backend: Some(config.backend),
            precision: Some(config.precision),
        })
    }
}

fn is_baseline_table(key: &str) -> bool {
    ["pop", "item_knn", "decay_knn", "bpr_mf", "seq_mf"].contains(&key)
}
