//! The runner: methods × datasets × seeds from an [`ExperimentConfig`],
//! each cell written to `<out>/cells/` as it finishes, finished cells reused
//! on the next run (unless `force`), then the tables, significance tests,
//! claims and plots of [`crate::report`].

mod cell;
mod eta;
mod plan;

pub use crate::files::{git_commit, write_atomic, write_json};
pub use crate::record::{
    CellPaths, SeedRun, SkippedDataset, dataset_slug, read_per_user, write_per_user,
};
pub use eta::{CellEstimate, CellKind, Eta};
pub use plan::{CellState, Plan, PlannedCell, PlannedDataset, SizeSource, plan};

use crate::config::{DatasetPlan, ExperimentConfig};
use crate::report::{DatasetSummary, Results};
use crate::{Compute, Method, RunnerError};
use cell::{CellJob, run_cell};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use seqrec_core::Part;
use seqrec_data::{Dataset, DatasetName, LoadRequest};
use seqrec_models::cost::TrainingCost;
use seqrec_models::{Backend, ElementWise};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bumped whenever a change of the code moves a GRU's results for the
/// same settings, so that old cells are not reused (and the published
/// results' hashes say they are stale). 2: the CPU backends train the
/// GRUs' recurrence on the host (`recurrence_host`), which rounds
/// differently from burn's autodiff.
const GRU_CELL_FORMAT: u32 = 2;

/// The same for the baselines, whose arithmetic has its own history: the
/// GRUs' format 2 left every baseline's numbers as they were.
const BASELINE_CELL_FORMAT: u32 = 1;

/// How to run an experiment (as opposed to what: the config).
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The data root.
    pub data_dir: PathBuf,
    /// The split cache (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Where results go (`results/<preset>/`).
    pub out_dir: PathBuf,
    /// Re-run cells that are already finished.
    pub force: bool,
    /// Draw progress bars on stderr.
    pub progress: bool,
    /// Stop after this many newly run cells, as if killed (tests of resume).
    pub stop_after_cells: Option<usize>,
    /// Which device of the GPU backend (`--device N`).
    pub device: Option<usize>,
    /// Train GRUs on the CPU even where that is estimated to take days.
    pub allow_slow_cpu: bool,
    /// `datasets/manifest.toml`: the published sizes a plan uses for the
    /// datasets the data root lacks.
    pub manifest: Option<PathBuf>,
}

impl RunOptions {
    pub fn new(data_dir: impl Into<PathBuf>, out_dir: impl Into<PathBuf>) -> Self {
        RunOptions {
            data_dir: data_dir.into(),
            cache_dir: None,
            out_dir: out_dir.into(),
            force: false,
            progress: false,
            stop_after_cells: None,
            device: None,
            allow_slow_cpu: false,
            manifest: None,
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub struct RunOutcome {
    /// `None` when the run stopped early (`stop_after_cells`).
    pub results: Option<Results>,
    /// Cells fitted in this run.
    pub ran: usize,
    /// Finished cells found and reused.
    pub reused: usize,
}

/// Runs (or reuses) every cell of `config`, then writes the results.
pub fn run(config: &ExperimentConfig, options: &RunOptions) -> Result<RunOutcome, RunnerError> {
    let out = &options.out_dir;
    std::fs::create_dir_all(out).map_err(|e| RunnerError::io(out, e))?;
    write_atomic(&out.join("config.toml"), config.to_toml()?.as_bytes())?;
    let git_commit = git_commit();
    let multi = MultiProgress::with_draw_target(if options.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let (available, skipped) = available_datasets(config, &options.data_dir, true)?;
    let total: usize = available
        .iter()
        .map(|d| d.methods.len() * config.seeds.len())
        .sum();
    let overall = multi.add(ProgressBar::new(total as u64));
    overall.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} cells {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    overall.set_prefix(config.name.clone());
    overall.set_message("estimating the time the run needs");
    let mut eta = estimate(config, &available, options)?;
    tracing::info!(cells = eta.cells_left(), estimate = %eta.describe(), "run planned");
    let compute = Compute {
        backend: config.backend,
        device: options.device,
        allow_slow_cpu: options.allow_slow_cpu,
        precision: config.precision,
        elementwise: config.elementwise,
    };
    let (mut ran, mut reused) = (0, 0);
    let mut summaries = Vec::new();
    let mut runs = Vec::new();
    for plan in available {
        overall.set_message(format!("loading {}", plan.name));
        let data = load_dataset(plan, options)?;
        let split = &data.split;
        // A GRU the CPU would take days over is refused before this
        // dataset's first cell, not after its baselines.
        for method in &plan.methods {
            if let Method::Gru(variant) = method {
                seqrec_models::cost::check_cpu_time(
                    *variant,
                    &plan.gru,
                    split,
                    compute.backend,
                    seqrec_models::cost::cpu_cores(),
                    compute.allow_slow_cpu,
                )
                .map_err(|e| RunnerError::Cell {
                    dataset: plan.name.clone(),
                    method: method.name().to_owned(),
                    seed: config.seeds.first().copied().unwrap_or_default(),
                    message: e.to_string(),
                })?;
            }
        }
        summaries.push(DatasetSummary {
            name: plan.name.clone(),
            paper_column: plan.paper_column,
            users: split.users(),
            items: split.catalogue_size(),
            train_events: split.events(Part::Train),
            validation_events: split.events(Part::Validation),
            test_events: split.events(Part::Test),
        });
        for &method in &plan.methods {
            for &seed in &config.seeds {
                let hash = cell_hash(config, plan, method, seed)?;
                let paths = CellPaths::new(out, &plan.name, method, seed).with_hash(&hash);
                overall.set_message(format!(
                    "({}) {method} on {} (seed {seed})",
                    eta.describe(),
                    plan.name
                ));
                if !options.force
                    && let Some(previous) = finished_cell(&paths, &hash)
                {
                    tracing::info!(dataset = %plan.name, %method, seed, "reusing finished cell");
                    runs.push(previous);
                    reused += 1;
                    eta.finished(0.0);
                    overall.inc(1);
                    continue;
                }
                if options.stop_after_cells == Some(ran) {
                    overall.abandon_with_message("stopped (stop_after_cells)");
                    return Ok(RunOutcome {
                        results: None,
                        ran,
                        reused,
                    });
                }
                let bar = method
                    .is_gru()
                    .then(|| multi.insert_after(&overall, ProgressBar::new(0)));
                let started = Instant::now();
                let job = CellJob {
                    plan,
                    split,
                    method,
                    seed,
                    evaluation: &config.evaluation,
                    compute,
                    paths: &paths,
                    cell_hash: hash,
                    git_commit: &git_commit,
                    progress: bar.clone(),
                };
                let result = run_cell(&job);
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                let run = result?;
                tracing::info!(
                    dataset = %plan.name,
                    %method,
                    seed,
                    seconds = started.elapsed().as_secs_f64(),
                    mrr20 = run.test.get("mrr@20"),
                    recall20 = run.test.get("recall@20"),
                    "cell finished"
                );
                let _ = multi.println(format!(
                    "{:<22} {:<20} seed {seed}: MRR@20 {:.5}  Recall@20 {:.5}  ({:.0} s)",
                    plan.name,
                    method.name(),
                    run.test.get("mrr@20").copied().unwrap_or(f64::NAN),
                    run.test.get("recall@20").copied().unwrap_or(f64::NAN),
                    started.elapsed().as_secs_f64()
                ));
                runs.push(run);
                ran += 1;
                eta.finished(started.elapsed().as_secs_f64());
                overall.inc(1);
            }
        }
    }
    overall.finish_and_clear();
    let results = Results::build(config, &git_commit, summaries, runs, skipped, out)?;
    results.write(out)?;
    Ok(RunOutcome {
        results: Some(results),
        ran,
        reused,
    })
}

/// Every cell's time estimate, in run order. Loads each dataset once
/// (through the split cache) for its size, which also finds a damaged data
/// file before hours of other cells rather than after.
fn estimate(
    config: &ExperimentConfig,
    available: &[&DatasetPlan],
    options: &RunOptions,
) -> Result<Eta, RunnerError> {
    let cores = seqrec_models::cost::cpu_cores();
    let mut cells = Vec::new();
    for plan in available {
        let data = load_dataset(plan, options)?;
        let split = &data.split;
        let tuples = TrainingCost::tuples_per_epoch(split);
        for &method in &plan.methods {
            for &seed in &config.seeds {
                let kind = if method.is_gru() {
                    CellKind::Gru
                } else {
                    CellKind::Baseline
                };
                let hash = cell_hash(config, plan, method, seed)?;
                let paths = CellPaths::new(&options.out_dir, &plan.name, method, seed);
                if !options.force && finished_cell(&paths, &hash).is_some() {
                    cells.push(CellEstimate::reused(kind));
                    continue;
                }
                cells.push(match method {
                    Method::Gru(variant) => CellEstimate::gru(
                        &TrainingCost::of(variant, &plan.gru, split.catalogue_size(), tuples),
                        cores,
                    ),
                    Method::Baseline(_) => CellEstimate::baseline(split.events(Part::Train)),
                });
            }
        }
    }
    Ok(Eta::new(cells))
}

/// Loads a dataset of the plan with its options, through the split cache.
fn load_dataset(plan: &DatasetPlan, options: &RunOptions) -> Result<Dataset, RunnerError> {
    let name = DatasetName::parse(&plan.name).map_err(|e| data_error(plan, e))?;
    let request = LoadRequest {
        data_dir: options.data_dir.clone(),
        options: plan.options.clone(),
        cache_dir: options.cache_dir.clone(),
    };
    seqrec_data::load(&name, &request).map_err(|e| data_error(plan, e))
}

fn data_error(plan: &DatasetPlan, e: impl std::fmt::Display) -> RunnerError {
    RunnerError::Data {
        dataset: plan.name.clone(),
        message: e.to_string(),
    }
}

/// The datasets the data root has; a missing optional one is skipped with a
/// warning, a missing required one is an error naming the file (`strict`)
/// or listed as skipped with that said (a plan).
fn available_datasets<'a>(
    config: &'a ExperimentConfig,
    data_dir: &Path,
    strict: bool,
) -> Result<(Vec<&'a DatasetPlan>, Vec<SkippedDataset>), RunnerError> {
    let mut available = Vec::new();
    let mut skipped = Vec::new();
    for plan in &config.datasets {
        let name = DatasetName::parse(&plan.name).map_err(|e| data_error(plan, e))?;
        let source = LoadRequest::new(data_dir).source_path(&name);
        match source {
            Some(path) if !path.exists() => {
                let reason = match name.fetch_command() {
                    Some(fetch) => format!(
                        "{} not found; download it with `{fetch}` (or set --data-dir or SEQREC_DATA_DIR)",
                        path.display()
                    ),
                    None => format!(
                        "{} not found (set --data-dir or SEQREC_DATA_DIR)",
                        path.display()
                    ),
                };
                if plan.required && strict {
                    return Err(data_error(plan, reason));
                }
                tracing::warn!(dataset = %plan.name, "skipped: {reason}");
                let reason = if plan.required {
                    format!("{reason}; it is required, so a run would stop here")
                } else {
                    reason
                };
                skipped.push(SkippedDataset {
                    dataset: plan.name.clone(),
                    reason,
                });
            }
            _ => available.push(plan),
        }
    }
    Ok((available, skipped))
}

/// A finished cell computed with the same settings, if there is one.
fn finished_cell(paths: &CellPaths, hash: &str) -> Option<SeedRun> {
    let text = std::fs::read_to_string(&paths.result).ok()?;
    let run: SeedRun = serde_json::from_str(&text).ok()?;
    (run.cell_hash == hash && paths.per_user.exists()).then_some(run)
}

/// Everything that decides a cell's numbers, hashed: code format, data
/// options, the method's own settings, evaluation, seed, backend and
/// precision (GRUs).
pub fn cell_hash(
    config: &ExperimentConfig,
    plan: &DatasetPlan,
    method: Method,
    seed: u64,
) -> Result<String, RunnerError> {
    let params = match method {
        Method::Gru(_) => serde_json::to_value(&plan.gru),
        Method::Baseline(b) => serde_json::to_value(&plan.baselines).map(|v| {
            let key = b.name().replace('-', "_");
            v.get(&key).cloned().unwrap_or_default()
        }),
    }
    .map_err(|e| RunnerError::Config(e.to_string()))?;
    let eval = &config.evaluation;
    let backend: Option<Backend> = method.is_gru().then_some(config.backend);
    let mut key = serde_json::json!({
        "format": if method.is_gru() { GRU_CELL_FORMAT } else { BASELINE_CELL_FORMAT },
        "dataset": plan.name,
        "options": plan.options,
        "method": method.name(),
        "params": params,
        "cutoffs": eval.cutoffs,
        "tie_rule": eval.tie_rule,
        "exclude_seen": eval.exclude_seen,
        "seed": seed,
        "backend": backend,
    });
    // Only where the precision can change a GRU's numbers (any GPU
    // setting but the default, the emulation everywhere), so that the
    // hashes of every other cell stay what they were before the setting.
    if method.is_gru()
        && config
            .precision
            .differs_from_default(config.backend.is_cpu())
    {
        key["precision"] = config.precision.name().into();
    }
    // Composed element-wise work sums in another order than the fused
    // kernels, on a GPU only (the CPU always composes).
    if method.is_gru() && !config.backend.is_cpu() && config.elementwise != ElementWise::Fused {
        key["elementwise"] = config.elementwise.name().into();
    }
    Ok(format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(key.to_string().as_bytes())
    ))
}
