//! Experiment configuration: a preset file (`configs/*.toml`) read into
//! typed structs, unknown keys rejected, then resolved into one complete
//! [`ExperimentConfig`] in which every dataset carries its full settings
//! (data options, every baseline's and the GRUs' hyperparameters).
//!
//! Per-dataset tables (`[datasets.gru]`, `[datasets.baselines.bpr_mf]`,
//! `[datasets.options.split]`, ...) override the top-level ones key by key;
//! the merged table is read into the same typed struct, so a misspelt key
//! is an error wherever it appears. The resolved config is itself a valid
//! config file (it is written beside the results as `config.toml`).

mod check;
mod merge;
mod settings;
#[cfg(test)]
mod tests;

pub use check::CheckTolerances;
pub use settings::MethodSettings;

use crate::{Method, PaperColumn, RunnerError};
use merge::merged;
use seqrec_baselines::BaselineParams;
use seqrec_data::{DatasetName, DatasetOptions};
use seqrec_metrics::EvalConfig;
use seqrec_models::{Backend, ElementWise, GruParams, Precision};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Significance tests of specification §3.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignificanceSettings {
    /// Bootstrap resamples of users (spec: 10,000).
    pub resamples: usize,
    /// Confidence of the bootstrap interval.
    pub confidence: f64,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Level below which a p-value counts as significant in the claims.
    pub alpha: f64,
}

impl Default for SignificanceSettings {
    fn default() -> Self {
        SignificanceSettings {
            resamples: 10_000,
            confidence: 0.95,
            seed: 2017,
            alpha: 0.05,
        }
    }
}

/// One dataset of an experiment, with everything its cells need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetPlan {
    /// A dataset name (`ml-100k`, `synthetic-lastfm`, ...) or a table path.
    pub name: String,
    /// The Table 2 column this dataset is compared with.
    pub paper_column: PaperColumn,
    /// A missing required dataset is an error; a missing optional one is
    /// skipped with a warning (real data the data root may not have).
    pub required: bool,
    /// The methods run on this dataset (default: the experiment's).
    pub methods: Vec<Method>,
    /// How the data becomes a split (specification §2 decisions).
    pub options: DatasetOptions,
    pub gru: GruParams,
    pub baselines: BaselineParams,
}

/// A complete, validated experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// The preset's name; results go to `results/<name>/` by default.
    pub name: String,
    pub description: String,
    /// Every cell runs once per seed; tables show the mean.
    pub seeds: Vec<u64>,
    /// Compute backend of the GRUs.
    pub backend: Backend,
    /// How the GRUs' matrix products are computed on a GPU.
    pub precision: Precision,
    /// How a GPU computes the GRUs' element-wise work.
    pub elementwise: ElementWise,
    /// How every method is measured (specification §3 decisions).
    pub evaluation: EvalConfig,
    pub significance: SignificanceSettings,
    /// Tolerances of `reproduce --check`.
    pub check: CheckTolerances,
    pub datasets: Vec<DatasetPlan>,
}

/// The file as written: defaults and partial per-dataset overrides.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    name: String,
    #[serde(default)]
    description: String,
    seeds: Vec<u64>,
    #[serde(default = "all_methods")]
    methods: Vec<Method>,
    #[serde(default)]
    backend: Backend,
    #[serde(default)]
    precision: Precision,
    #[serde(default)]
    elementwise: ElementWise,
    #[serde(default)]
    evaluation: EvalConfig,
    #[serde(default)]
    significance: SignificanceSettings,
    #[serde(default)]
    check: CheckTolerances,
    /// Defaults of every dataset's `options`, `gru` and `baselines`.
    #[serde(default)]
    options: toml::Table,
    #[serde(default)]
    gru: toml::Table,
    #[serde(default)]
    baselines: toml::Table,
    datasets: Vec<DatasetEntry>,
    /// `[tune]`: the search spaces of `seqrec tune` (crate seqrec-tune reads
    /// them). Accepted here and otherwise ignored, so that they never enter
    /// a cell's settings or the config hash.
    #[serde(default, rename = "tune")]
    _tune: Option<toml::Table>,
}

fn all_methods() -> Vec<Method> {
    Method::ALL.to_vec()
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatasetEntry {
    name: String,
    paper_column: Option<PaperColumn>,
    #[serde(default = "default_true")]
    required: bool,
    methods: Option<Vec<Method>>,
    #[serde(default)]
    options: toml::Table,
    #[serde(default)]
    gru: toml::Table,
    #[serde(default)]
    baselines: toml::Table,
}

impl DatasetEntry {
    /// An entry with nothing but its name (every setting shared).
    fn named(name: &str) -> Self {
        DatasetEntry {
            name: name.to_owned(),
            paper_column: None,
            required: true,
            methods: None,
            options: toml::Table::new(),
            gru: toml::Table::new(),
            baselines: toml::Table::new(),
        }
    }
}

/// The resolved form, written back with the shared tables on top so that
/// it reads as a config file again.
#[derive(Serialize)]
struct ResolvedFile<'a> {
    name: &'a str,
    description: &'a str,
    seeds: &'a [u64],
    methods: Vec<Method>,
    backend: Backend,
    /// Written only when not the default, so presets from before the
    /// setting keep their config hash.
    #[serde(skip_serializing_if = "is_default_precision")]
    precision: Precision,
    #[serde(skip_serializing_if = "is_default_elementwise")]
    elementwise: ElementWise,
    evaluation: &'a EvalConfig,
    significance: &'a SignificanceSettings,
    check: &'a CheckTolerances,
    datasets: &'a [DatasetPlan],
}

fn is_default_precision(p: &Precision) -> bool {
    *p == Precision::default()
}

fn is_default_elementwise(e: &ElementWise) -> bool {
    *e == ElementWise::default()
}

impl ExperimentConfig {
    /// Reads and resolves a preset file.
    pub fn from_file(path: &Path) -> Result<Self, RunnerError> {
        let text = std::fs::read_to_string(path).map_err(|e| RunnerError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_toml(&text).map_err(|e| e.in_file(path))
    }

    /// Parses and resolves a preset's text.
    ///
    /// ```
    /// use seqrec_runner::ExperimentConfig;
    /// let config = ExperimentConfig::from_toml(
    ///     r#"
    ///     name = "demo"
    ///     seeds = [1, 2]
    ///     methods = ["pop", "gru"]
    ///     [gru]
    ///     hidden = 64
    ///     [[datasets]]
    ///     name = "synthetic-movielens"
    ///     [[datasets]]
    ///     name = "synthetic-lastfm"
    ///     gru = { lanes = 16 }
    ///     "#,
    /// )?;
    /// // Shared settings reach every dataset; a dataset's own table overrides them.
    /// assert_eq!(config.datasets[0].gru.hidden, 64);
    /// assert_eq!(config.datasets[1].gru.lanes, 16);
    /// assert_eq!(config.datasets[0].gru.lanes, 1000); // Table 1 default
    ///
    /// let typo = ExperimentConfig::from_toml("name = \"x\"\nseeds = [1]\nsead = 2\n");
    /// assert!(typo.unwrap_err().to_string().contains("sead"));
    /// # Ok::<(), seqrec_runner::RunnerError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, RunnerError> {
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| RunnerError::Config(e.to_string()))?;
        let mut datasets = Vec::with_capacity(file.datasets.len());
        for entry in &file.datasets {
            datasets.push(resolve_dataset(&file, entry)?);
        }
        let config = ExperimentConfig {
            name: file.name,
            description: file.description,
            seeds: file.seeds,
            backend: file.backend,
            precision: file.precision,
            elementwise: file.elementwise,
            evaluation: file.evaluation,
            significance: file.significance,
            check: file.check,
            datasets,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<(), RunnerError> {
        let bad = |m: String| Err(RunnerError::Config(m));
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad(format!(
                "name `{}` must be non-empty letters, digits, `-` or `_` (it names the results directory)",
                self.name
            ));
        }
        if self.seeds.is_empty() {
            return bad("seeds must list at least one seed".into());
        }
        let mut seen = self.seeds.clone();
        seen.sort_unstable();
        seen.dedup();
        if seen.len() != self.seeds.len() {
            return bad("seeds must not repeat".into());
        }
        if self.datasets.is_empty() {
            return bad("datasets must list at least one dataset".into());
        }
        self.evaluation
            .validate()
            .map_err(|e| RunnerError::Config(format!("[evaluation]: {e}")))?;
        if !self.evaluation.cutoffs.contains(&20) {
            return bad("[evaluation] cutoffs must include 20 (the paper's k)".into());
        }
        let s = &self.significance;
        if s.resamples == 0 || !(0.0 < s.confidence && s.confidence < 1.0) {
            return bad("[significance] needs resamples > 0 and 0 < confidence < 1".into());
        }
        if !(0.0 < s.alpha && s.alpha < 1.0) {
            return bad("[significance] alpha must lie in (0, 1)".into());
        }
        self.check.validate(&self.evaluation.cutoffs)?;
        self.precision
            .check_backend(self.backend)
            .map_err(|e| RunnerError::Config(e.to_string()))?;
        let mut names: Vec<&str> = self.datasets.iter().map(|d| d.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return bad(format!("dataset `{}` is listed twice", w[0]));
        }
        for dataset in &self.datasets {
            DatasetName::parse(&dataset.name)
                .map_err(|e| RunnerError::Config(format!("dataset `{}`: {e}", dataset.name)))?;
            if dataset.methods.is_empty() {
                return bad(format!("dataset `{}` has no methods", dataset.name));
            }
        }
        Ok(())
    }

    /// The config as TOML, complete (every default written out).
    pub fn to_toml(&self) -> Result<String, RunnerError> {
        let resolved = ResolvedFile {
            name: &self.name,
            description: &self.description,
            seeds: &self.seeds,
            methods: self.all_methods(),
            backend: self.backend,
            precision: self.precision,
            elementwise: self.elementwise,
            evaluation: &self.evaluation,
            significance: &self.significance,
            check: &self.check,
            datasets: &self.datasets,
        };
        toml::to_string(&resolved).map_err(|e| RunnerError::Config(e.to_string()))
    }

    /// Keeps only the named datasets and methods (the `--datasets` and
    /// `--methods` flags); naming one the config lacks is an error.
    pub fn restrict(
        &mut self,
        datasets: Option<&[String]>,
        methods: Option<&[Method]>,
    ) -> Result<(), RunnerError> {
        if let Some(names) = datasets {
            for name in names {
                if !self.datasets.iter().any(|d| &d.name == name) {
                    return Err(RunnerError::Config(format!(
                        "--datasets: `{name}` is not in preset `{}` (it has {})",
                        self.name,
                        self.dataset_names().join(", ")
                    )));
                }
            }
            self.datasets.retain(|d| names.contains(&d.name));
        }
        if let Some(methods) = methods {
            for dataset in &mut self.datasets {
                dataset.methods.retain(|m| methods.contains(m));
            }
            self.datasets.retain(|d| !d.methods.is_empty());
            if self.datasets.is_empty() {
                return Err(RunnerError::Config(
                    "--methods leaves no cell to run".into(),
                ));
            }
        }
        Ok(())
    }

    /// Runs these seeds instead of the preset's (`--seeds`); checked as
    /// the preset's own are (at least one, none repeated).
    pub fn with_seeds(&mut self, seeds: &[u64]) -> Result<(), RunnerError> {
        let before = std::mem::replace(&mut self.seeds, seeds.to_vec());
        self.validate().map_err(|e| {
            self.seeds = before;
            match e {
                RunnerError::Config(message) => RunnerError::Config(format!("--seeds: {message}")),
                other => other,
            }
        })
    }

    pub fn dataset_names(&self) -> Vec<&str> {
        self.datasets.iter().map(|d| d.name.as_str()).collect()
    }

    /// Every method of any dataset, in Table 2 order.
    pub fn all_methods(&self) -> Vec<Method> {
        Method::ALL
            .into_iter()
            .filter(|m| self.datasets.iter().any(|d| d.methods.contains(m)))
            .collect()
    }
}

fn resolve_dataset(file: &ConfigFile, entry: &DatasetEntry) -> Result<DatasetPlan, RunnerError> {
    let (options, gru, baselines) = resolve_tables(
        &entry.name,
        [&file.options, &file.gru, &file.baselines],
        [&entry.options, &entry.gru, &entry.baselines],
    )?;
    Ok(DatasetPlan {
        name: entry.name.clone(),
        paper_column: entry
            .paper_column
            .unwrap_or_else(|| PaperColumn::for_dataset(&entry.name)),
        required: entry.required,
        methods: entry
            .methods
            .clone()
            .unwrap_or_else(|| file.methods.clone()),
        options,
        gru,
        baselines,
    })
}

/// The `options`, `gru` and `baselines` of one dataset: the shared tables
/// overridden key by key by the dataset's own, read and validated.
fn resolve_tables(
    dataset: &str,
    [options, gru, baselines]: [&toml::Table; 3],
    [own_options, own_gru, own_baselines]: [&toml::Table; 3],
) -> Result<(DatasetOptions, GruParams, BaselineParams), RunnerError> {
    let context =
        |part: &str, e: String| RunnerError::Config(format!("dataset `{dataset}`, {part}: {e}"));
    let options: DatasetOptions =
        merged(options, own_options).map_err(|e| context("options", e))?;
    options
        .validate()
        .map_err(|e| context("options", e.to_string()))?;
    let gru: GruParams = merged(gru, own_gru).map_err(|e| context("gru", e))?;
    gru.validate().map_err(|e| context("gru", e.to_string()))?;
    let baselines: BaselineParams =
        merged(baselines, own_baselines).map_err(|e| context("baselines", e))?;
    baselines
        .validate()
        .map_err(|e| context("baselines", e.to_string()))?;
    Ok((options, gru, baselines))
}
