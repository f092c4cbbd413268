//! One cell: a method fitted on a dataset with one seed, measured on the
//! validation and the test split by the one evaluator.

use crate::config::DatasetPlan;
use crate::files::write_json;
use crate::record::{CellPaths, SeedRun, write_per_user};
use crate::{Compute, Method, RunnerError};
use indicatif::ProgressBar;
use seqrec_core::{Part, Scorer, Split};
use seqrec_metrics::{EvalConfig, evaluate};
use seqrec_models::TrainingReport;
use std::time::Instant;

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
