//! Results of an experiment: per-cell summaries beside the paper's Table 2,
//! significance tests, the paper's claims, written as `results.json`,
//! `results.csv`, `table.md` and plots.

mod check;
mod claims;
mod plots;
mod significance;
mod table;
#[cfg(test)]
mod tests;

pub use check::{CheckReport, MovedCell, check};
pub use claims::{Claim, claims};
pub use plots::register_font as register_plot_font;
pub use significance::{Comparison, PairedTest, compare, paired_test};

use crate::config::ExperimentConfig;
use crate::files::{write_atomic, write_json};
use crate::paper::{PaperCell, PaperColumn, paper_cell};
use crate::record::{SeedRun, SkippedDataset};
use crate::{Method, RunnerError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The shape of one dataset's split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub name: String,
    pub paper_column: PaperColumn,
    pub users: usize,
    pub items: usize,
    pub train_events: usize,
    pub validation_events: usize,
    pub test_events: usize,
}

/// One (dataset, method) cell over all seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellSummary {
    pub dataset: String,
    pub method: Method,
    pub label: String,
    pub seeds: Vec<u64>,
    /// Test metrics, mean over seeds: `mrr@5` ... `ndcg@20_macro`.
    pub metrics: BTreeMap<String, f64>,
    /// Sample standard deviation over seeds (absent for one seed).
    pub std: Option<BTreeMap<String, f64>>,
    /// Validation metrics, mean over seeds.
    pub validation: BTreeMap<String, f64>,
    /// The paper's Table 2 value (none for POP).
    pub paper: Option<PaperCell>,
    /// (ours - paper) / paper for MRR@20 and Recall@20.
    pub relative_difference: Option<PaperCell>,
    pub fit_seconds: f64,
    pub eval_seconds: f64,
    pub train_tuples_per_second: Option<f64>,
    pub per_seed: Vec<SeedRun>,
}

impl CellSummary {
    pub fn metric(&self, key: &str) -> f64 {
        self.metrics.get(key).copied().unwrap_or(f64::NAN)
    }
}

/// One dataset's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetResults {
    pub dataset: DatasetSummary,
    pub cells: Vec<CellSummary>,
    pub comparisons: Vec<Comparison>,
    pub claims: Vec<Claim>,
}

impl DatasetResults {
    pub fn cell(&self, method: Method) -> Option<&CellSummary> {
        self.cells.iter().find(|c| c.method == method)
    }
}

/// Everything `results.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub preset: String,
    pub description: String,
    /// Hash of the resolved config (`config.toml` beside the results).
    pub config_hash: String,
    pub git_commit: String,
    pub backend: String,
    /// The requested product precision, for a GPU backend (where it
    /// matters) and for the TF32 emulation; absent for the CPU backends
    /// otherwise (fp32 throughout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
    pub seeds: Vec<u64>,
    pub datasets: Vec<DatasetResults>,
    pub skipped: Vec<SkippedDataset>,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

/// Mean and sample standard deviation of each key over the runs.
fn aggregate(
    runs: &[&SeedRun],
    pick: impl Fn(&SeedRun) -> &BTreeMap<String, f64>,
) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let mut means = BTreeMap::new();
    let mut stds = BTreeMap::new();
    if let Some(first) = runs.first() {
        for key in pick(first).keys() {
            let values: Vec<f64> = runs
                .iter()
                .map(|r| pick(r).get(key).copied().unwrap_or(f64::NAN))
                .collect();
            let m = mean(values.iter().copied());
            let var = values.iter().map(|v| (v - m) * (v - m)).sum::<f64>()
                / (values.len().max(2) - 1) as f64;
            means.insert(key.clone(), m);
            stds.insert(key.clone(), var.sqrt());
        }
    }
    (means, stds)
}

impl Results {
    /// Summarises the runs of every dataset, tests significance from the
    /// per-user files under `out`, and checks the paper's claims.
    pub fn build(
        config: &ExperimentConfig,
        git_commit: &str,
        datasets: Vec<DatasetSummary>,
        runs: Vec<SeedRun>,
        skipped: Vec<SkippedDataset>,
        out: &Path,
    ) -> Result<Results, RunnerError> {
        let mut results = Vec::new();
        for dataset in datasets {
            let mut cells = Vec::new();
            for method in Method::ALL {
                let mine: Vec<&SeedRun> = runs
                    .iter()
                    .filter(|r| r.dataset == dataset.name && r.method == method)
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                let (metrics, std) = aggregate(&mine, |r| &r.test);
                let (validation, _) = aggregate(&mine, |r| &r.validation);
                let paper = paper_cell(method, dataset.paper_column);
                let relative_difference = paper.map(|p| PaperCell {
                    mrr20: metrics.get("mrr@20").copied().unwrap_or(f64::NAN) / p.mrr20 - 1.0,
                    recall20: metrics.get("recall@20").copied().unwrap_or(f64::NAN) / p.recall20
                        - 1.0,
                });
                let tps: Vec<f64> = mine
                    .iter()
                    .filter_map(|r| r.train_tuples_per_second)
                    .collect();
                cells.push(CellSummary {
                    dataset: dataset.name.clone(),
                    method,
                    label: method.label().to_owned(),
                    seeds: mine.iter().map(|r| r.seed).collect(),
                    metrics,
                    std: (mine.len() > 1).then_some(std),
                    validation,
                    paper,
                    relative_difference,
                    fit_seconds: mean(mine.iter().map(|r| r.fit_seconds)),
                    eval_seconds: mean(mine.iter().map(|r| r.eval_seconds)),
                    train_tuples_per_second: (!tps.is_empty()).then(|| mean(tps.into_iter())),
                    per_seed: mine.into_iter().cloned().collect(),
                });
            }
            let comparisons = significance::comparisons(config, &cells, out)?;
            let claims = claims(&dataset, &cells, &comparisons, config.significance.alpha);
            results.push(DatasetResults {
                dataset,
                cells,
                comparisons,
                claims,
            });
        }
        let config_text = config.to_toml()?;
        Ok(Results {
            preset: config.name.clone(),
            description: config.description.clone(),
            config_hash: format!(
                "{:016x}",
                xxhash_rust::xxh3::xxh3_64(config_text.as_bytes())
            ),
            git_commit: git_commit.to_owned(),
            backend: config.backend.name().to_owned(),
            precision: (config.precision.worth_naming(config.backend.is_cpu()))
                .then(|| config.precision.name().to_owned()),
            seeds: config.seeds.clone(),
            datasets: results,
            skipped,
        })
    }

    /// Reads a `results.json`.
    pub fn read(path: &Path) -> Result<Results, RunnerError> {
        let text = std::fs::read_to_string(path).map_err(|e| RunnerError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| {
            RunnerError::io(
                path,
                format!("line {}, column {}: {e}", e.line(), e.column()),
            )
        })
    }

    /// Writes `results.json`, `results.csv`, `table.md` and the plots.
    pub fn write(&self, out: &Path) -> Result<(), RunnerError> {
        write_json(&out.join("results.json"), self)?;
        write_atomic(&out.join("results.csv"), self.to_csv().as_bytes())?;
        write_atomic(&out.join("table.md"), table::markdown(self, out).as_bytes())?;
        plots::write_all(self, out)
    }

    /// One row per (dataset, method, seed) and one `mean` row per cell.
    pub fn to_csv(&self) -> String {
        let keys: Vec<String> = self
            .datasets
            .iter()
            .flat_map(|d| d.cells.first())
            .flat_map(|c| c.metrics.keys().cloned())
            .fold(Vec::new(), |mut acc, k| {
                if !acc.contains(&k) {
                    acc.push(k);
                }
                acc
            });
        let mut out = String::from("dataset,method,seed");
        for key in &keys {
            let _ = write!(out, ",{key}");
        }
        out.push_str(
            ",validation_mrr@20,fit_seconds,eval_seconds,train_tuples_per_second,backend,git_commit,cell_hash\n",
        );
        for dataset in &self.datasets {
            for cell in &dataset.cells {
                for run in &cell.per_seed {
                    let row = CsvRow {
                        seed: run.seed.to_string(),
                        test: &run.test,
                        validation: &run.validation,
                        fit_seconds: run.fit_seconds,
                        eval_seconds: run.eval_seconds,
                        tuples_per_second: run.train_tuples_per_second,
                        provenance: [
                            run.backend.map_or("", |b| b.name()),
                            &run.git_commit,
                            &run.cell_hash,
                        ],
                    };
                    row.write(&mut out, &run.dataset, run.method, &keys);
                }
                let mean = CsvRow {
                    seed: "mean".to_owned(),
                    test: &cell.metrics,
                    validation: &cell.validation,
                    fit_seconds: cell.fit_seconds,
                    eval_seconds: cell.eval_seconds,
                    tuples_per_second: cell.train_tuples_per_second,
                    provenance: ["", "", ""],
                };
                mean.write(&mut out, &cell.dataset, cell.method, &keys);
            }
        }
        out
    }
}

/// One line of `results.csv`: a seed's run or a cell's mean over seeds.
struct CsvRow<'a> {
    seed: String,
    test: &'a BTreeMap<String, f64>,
    validation: &'a BTreeMap<String, f64>,
    fit_seconds: f64,
    eval_seconds: f64,
    tuples_per_second: Option<f64>,
    /// backend, git commit, cell hash (empty on mean rows).
    provenance: [&'a str; 3],
}

impl CsvRow<'_> {
    fn write(&self, out: &mut String, dataset: &str, method: Method, keys: &[String]) {
        let number = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
        let _ = write!(out, "{},{method},{}", csv_field(dataset), self.seed);
        for key in keys {
            let _ = write!(out, ",{}", number(self.test.get(key).copied()));
        }
        let [backend, commit, hash] = self.provenance;
        let _ = writeln!(
            out,
            ",{},{},{},{},{backend},{commit},{hash}",
            number(self.validation.get("mrr@20").copied()),
            self.fit_seconds,
            self.eval_seconds,
            number(self.tuples_per_second),
        );
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}
