//! What a run records per cell and where: the [`SeedRun`] of one
//! (dataset, method, seed), the cells' file layout, the per-user CSV the
//! significance tests read. Below both the experiment that writes these
//! and the report that reads them.

use crate::files::write_atomic;
use crate::{Method, RunnerError};
use seqrec_metrics::{EvalReport, Metric};
use seqrec_models::Backend;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What one (dataset, method, seed) run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedRun {
    pub dataset: String,
    pub method: Method,
    pub seed: u64,
    /// Hash of everything that decides this cell's numbers.
    pub cell_hash: String,
    /// Test metrics: `mrr@20`, `recall@5_macro`, ...
    pub test: BTreeMap<String, f64>,
    /// Validation metrics of the same model (what "best" is chosen on).
    pub validation: BTreeMap<String, f64>,
    pub test_events: usize,
    pub test_users: usize,
    pub fit_seconds: f64,
    pub eval_seconds: f64,
    /// GRUs only: training tuples per second, validation excluded.
    pub train_tuples_per_second: Option<f64>,
    pub epochs_run: Option<usize>,
    pub best_epoch: Option<usize>,
    pub stopped_early: Option<bool>,
    /// GRUs only: the compute backend.
    pub backend: Option<Backend>,
    /// `git rev-parse HEAD` of the code that ran (`unknown` outside git).
    pub git_commit: String,
}

/// Where a cell's files live.
#[derive(Clone, Debug)]
pub struct CellPaths {
    /// `seed-<seed>.json`: the [`SeedRun`].
    pub result: PathBuf,
    /// Every evaluated user's test metrics (CSV), for significance tests.
    pub per_user: PathBuf,
    /// GRUs: the training report, epoch by epoch (JSON).
    pub history: PathBuf,
    /// GRUs: the checkpoint a killed run resumes from (named by the cell
    /// hash, so a changed setting never resumes a stale run; removed once
    /// the cell is finished).
    pub checkpoint: PathBuf,
}

impl CellPaths {
    pub fn new(out_dir: &Path, dataset: &str, method: Method, seed: u64) -> CellPaths {
        let dir = out_dir
            .join("cells")
            .join(dataset_slug(dataset))
            .join(method.name());
        CellPaths {
            result: dir.join(format!("seed-{seed}.json")),
            per_user: dir.join(format!("seed-{seed}.per-user.csv")),
            history: dir.join(format!("seed-{seed}.history.json")),
            checkpoint: out_dir
                .join("checkpoints")
                .join(dataset_slug(dataset))
                .join(format!("{}-seed-{seed}.ckpt", method.name())),
        }
    }

    /// The same paths with the checkpoint named by `cell_hash`.
    pub fn with_hash(mut self, cell_hash: &str) -> CellPaths {
        self.checkpoint.set_extension(format!("{cell_hash}.ckpt"));
        self
    }
}

/// A dataset name usable as a directory name.
pub fn dataset_slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A dataset the data root does not have, left out of an optional entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkippedDataset {
    pub dataset: String,
    pub reason: String,
}

/// One CSV row per evaluated user: `user_index,events`, then every metric
/// at every cutoff.
pub fn write_per_user(path: &Path, report: &EvalReport) -> Result<(), RunnerError> {
    let mut out = Vec::new();
    let mut write = || -> std::io::Result<()> {
        write!(out, "user_index,events")?;
        for metric in Metric::ALL {
            for k in &report.cutoffs {
                write!(out, ",{}@{k}", metric.name())?;
            }
        }
        writeln!(out)?;
        for user in &report.per_user {
            write!(out, "{},{}", user.user.0, user.events)?;
            for metric in Metric::ALL {
                for i in 0..report.cutoffs.len() {
                    write!(out, ",{}", user.values.get(metric, i))?;
                }
            }
            writeln!(out)?;
        }
        Ok(())
    };
    write().map_err(|e| RunnerError::io(path, e))?;
    write_atomic(path, &out)
}

/// Reads one column (`mrr@20`, say) of a per-user CSV: user index → value.
pub fn read_per_user(path: &Path, column: &str) -> Result<BTreeMap<u32, f64>, RunnerError> {
    let text = std::fs::read_to_string(path).map_err(|e| RunnerError::io(path, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let index = header
        .iter()
        .position(|h| *h == column)
        .ok_or_else(|| RunnerError::io(path, format!("line 1: no `{column}` column")))?;
    let mut out = BTreeMap::new();
    for (number, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let parse = || -> Option<(u32, f64)> {
            Some((
                fields.first()?.parse().ok()?,
                fields.get(index)?.parse().ok()?,
            ))
        };
        let (user, value) = parse().ok_or_else(|| {
            RunnerError::io(
                path,
                format!("line {}: not `user_index,...` numbers", number + 2),
            )
        })?;
        out.insert(user, value);
    }
    Ok(out)
}
