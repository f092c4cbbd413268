//! One cell: a method fitted on a dataset with one seed, measured on the
//! validation and the test split by the one evaluator.

use crate::{Compute, Method, RunnerError};
use indicatif::ProgressBar;
use seqrec_core::{Part, Scorer, Split};
use seqrec_metrics::{EvalConfig, EvalReport, Metric, evaluate};
use seqrec_models::{Backend, TrainingReport};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::DatasetPlan;

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

/// How to run a cell.
pub(crate) struct CellJob<'a> {
    pub plan: &'a DatasetPlan,
    pub split: &'a Split,
    pub method: Method,
    pub seed: u64,
    pub evaluation: &'a EvalConfig,
    pub compute: Compute,
    pub paths: &'a CellPaths,
    pub cell_hash: String,
    pub git_commit: &'a str,
    pub progress: Option<ProgressBar>,
}

fn cell_error(job: &CellJob<'_>, message: impl std::fmt::Display) -> RunnerError {
    RunnerError::Cell {
        dataset: job.plan.name.clone(),
        method: job.method.name().to_owned(),
        seed: job.seed,
        message: message.to_string(),
    }
}

/// Fits, evaluates and writes one cell.
pub(crate) fn run_cell(job: &CellJob<'_>) -> Result<SeedRun, RunnerError> {
    let started = Instant::now();
    let (scorer, training) = fit(job)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let validation = evaluate(
        scorer.as_ref(),
        job.split,
        Part::Validation,
        job.evaluation,
        None,
    )
    .map_err(|e| cell_error(job, e))?;
    let test = evaluate(scorer.as_ref(), job.split, Part::Test, job.evaluation, None)
        .map_err(|e| cell_error(job, e))?;
    let eval_seconds = started.elapsed().as_secs_f64();
    if let Some(dir) = job.paths.result.parent() {
        std::fs::create_dir_all(dir).map_err(|e| RunnerError::io(dir, e))?;
    }
    write_per_user(&job.paths.per_user, &test)?;
    if let Some(report) = &training {
        write_json(&job.paths.history, report)?;
    }
    let run = SeedRun {
        dataset: job.plan.name.clone(),
        method: job.method,
        seed: job.seed,
        cell_hash: job.cell_hash.clone(),
        test: test.to_map(),
        validation: validation.to_map(),
        test_events: test.events,
        test_users: test.users,
        fit_seconds,
        eval_seconds,
        train_tuples_per_second: training.as_ref().map(|r| r.train_tuples_per_second()),
        epochs_run: training.as_ref().map(|r| r.epochs_run),
        best_epoch: training.as_ref().and_then(|r| r.best_epoch),
        stopped_early: training.as_ref().map(|r| r.stopped_early),
        backend: training.as_ref().map(|r| r.backend),
        git_commit: job.git_commit.to_owned(),
    };
    // The result file is written last: its presence means the cell is done.
    write_json(&job.paths.result, &run)?;
    if training.is_some() {
        // Only a killed run needs it; the numbers are recorded.
        let _ = std::fs::remove_file(&job.paths.checkpoint);
    }
    Ok(run)
}

type Fitted = (Box<dyn Scorer + Send>, Option<TrainingReport>);

fn fit(job: &CellJob<'_>) -> Result<Fitted, RunnerError> {
    match job.method {
        Method::Baseline(baseline) => {
            let scorer = baseline
                .fit(&job.plan.baselines, job.split, job.seed)
                .map_err(|e| cell_error(job, e))?;
            Ok((scorer, None))
        }
        Method::Gru(variant) => {
            if let Some(bar) = &job.progress {
                crate::progress::style_training_bar(bar, true);
            }
            let options = job.compute.train_options(
                Some(job.paths.checkpoint.clone()),
                true,
                job.progress.clone(),
            );
            let fitted = seqrec_models::fit(variant, &job.plan.gru, job.split, job.seed, &options)
                .map_err(|e| cell_error(job, e))?;
            Ok((Box::new(fitted.scorer), Some(fitted.report)))
        }
    }
}

/// Writes pretty JSON atomically (temporary file, then rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RunnerError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| RunnerError::io(path, e))?;
    write_atomic(path, text.as_bytes())
}

/// Writes a file through a temporary sibling and a rename, so a killed run
/// never leaves half a file where a finished one is expected.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunnerError> {
    seqrec_core::fs::write_atomic(path, bytes).map_err(|e| RunnerError::io(path, e))
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
