//! `reproduce --plan`: what a run would do, without running it: which
//! datasets the data root has, which cells are finished and would be
//! reused, which would run, and each GRU cell's estimated peak memory, so
//! a long GPU run can be checked before it starts.

use super::{CellPaths, available_datasets, cell_hash, finished_cell, load_dataset};
use crate::config::{DatasetPlan, ExperimentConfig};
use crate::published::published_size;
use crate::{Method, RunOptions, RunnerError};
use seqrec_models::{Backend, MemoryEstimate};
use serde::Serialize;
use std::fmt::Write as _;

/// What would happen to one cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellState {
    /// Finished with the same settings: reused.
    Finished,
    /// A result exists but its settings differ: would run again.
    Stale,
    /// Would run.
    ToRun,
    /// The data root lacks the dataset: cannot run until it is fetched
    /// (memory estimated from the published size).
    NoData,
}

/// Where a plan's dataset size comes from.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SizeSource {
    /// The dataset as loaded from the data root.
    Loaded,
    /// The manifest's published size; `estimated` says which numbers are
    /// estimates.
    Published { estimated: Option<String> },
}

/// A dataset of the plan and its size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedDataset {
    pub name: String,
    pub users: usize,
    pub items: usize,
    pub source: SizeSource,
}

/// One cell of the plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedCell {
    pub dataset: String,
    pub method: Method,
    pub seed: u64,
    pub state: CellState,
    /// GRUs: estimated peak memory of training, in bytes.
    pub memory_bytes: Option<u64>,
}

/// The whole plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Plan {
    pub preset: String,
    /// The GRUs' backend (a GPU's memory estimates use a GPU's output chunk).
    pub backend: Backend,
    pub cells: Vec<PlannedCell>,
    /// Each dataset with a known size (loaded, or published).
    pub datasets: Vec<PlannedDataset>,
    pub skipped: Vec<super::SkippedDataset>,
}

/// Works out the plan of `config` (loads each available dataset, which
/// uses the split cache, but fits nothing).
pub fn plan(config: &ExperimentConfig, options: &RunOptions) -> Result<Plan, RunnerError> {
    let (available, skipped) = available_datasets(config, &options.data_dir, false)?;
    let mut cells = Vec::new();
    let mut datasets = Vec::new();
    for plan in available {
        let data = load_dataset(plan, options)?;
        let (users, items) = (data.split.users(), data.split.catalogue_size());
        datasets.push(PlannedDataset {
            name: plan.name.clone(),
            users,
            items,
            source: SizeSource::Loaded,
        });
        for &method in &plan.methods {
            for &seed in &config.seeds {
                let hash = cell_hash(config, plan, method, seed)?;
                let paths = CellPaths::new(&options.out_dir, &plan.name, method, seed);
                let state = if options.force || !paths.result.exists() {
                    CellState::ToRun
                } else if finished_cell(&paths, &hash).is_some() {
                    CellState::Finished
                } else {
                    CellState::Stale
                };
                cells.push(PlannedCell {
                    dataset: plan.name.clone(),
                    method,
                    seed,
                    state,
                    memory_bytes: gru_memory(plan, method, items, users, config.backend),
                });
            }
        }
    }
    // A dataset not downloaded yet: its published size still tells how much
    // memory its GRUs will need.
    for missing in &skipped {
        let Some(manifest) = &options.manifest else {
            continue;
        };
        let Some(size) = published_size(manifest, &missing.dataset)? else {
            continue;
        };
        let Some(plan) = config.datasets.iter().find(|d| d.name == missing.dataset) else {
            continue;
        };
        for &method in &plan.methods {
            for &seed in &config.seeds {
                cells.push(PlannedCell {
                    dataset: plan.name.clone(),
                    method,
                    seed,
                    state: CellState::NoData,
                    memory_bytes: gru_memory(plan, method, size.items, size.users, config.backend),
                });
            }
        }
        datasets.push(PlannedDataset {
            name: plan.name.clone(),
            users: size.users,
            items: size.items,
            source: SizeSource::Published {
                estimated: size.estimated,
            },
        });
    }
    Ok(Plan {
        preset: config.name.clone(),
        backend: config.backend,
        cells,
        datasets,
        skipped,
    })
}

/// A GRU cell's estimated peak training memory (on a GPU with a large
/// GPU's output chunk: no device is opened for a plan).
fn gru_memory(
    plan: &DatasetPlan,
    method: Method,
    items: usize,
    users: usize,
    backend: Backend,
) -> Option<u64> {
    let Method::Gru(variant) = method else {
        return None;
    };
    let estimate = if backend.is_cpu() {
        MemoryEstimate::of(variant, &plan.gru, items, users)
    } else {
        MemoryEstimate::on_large_gpu(variant, &plan.gru, items, users)
    };
    Some(estimate.total())
}

impl Plan {
    /// A table for people.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let count = |s: CellState| self.cells.iter().filter(|c| c.state == s).count();
        let _ = writeln!(
            out,
            "plan of `{}`: {} cells, {} to run, {} finished (reused), {} with changed settings (run again), {} without data",
            self.preset,
            self.cells.len(),
            count(CellState::ToRun),
            count(CellState::Finished),
            count(CellState::Stale),
            count(CellState::NoData)
        );
        for d in &self.datasets {
            let source = match &d.source {
                SizeSource::Loaded => String::new(),
                SizeSource::Published { estimated: None } => {
                    " (published size: not downloaded yet)".to_owned()
                }
                SizeSource::Published {
                    estimated: Some(note),
                } => format!(" (published size, not downloaded yet; estimate: {note})"),
            };
            let _ = writeln!(
                out,
                "  {}: {} users, {} items{source}",
                d.name, d.users, d.items
            );
        }
        for skipped in &self.skipped {
            let _ = writeln!(out, "  {}: skipped ({})", skipped.dataset, skipped.reason);
        }
        if !self.backend.is_cpu() {
            let _ = writeln!(
                out,
                "  GRU memory on `{}`: with the output chunk of a GPU of 64 GiB or more (a sixteenth of its memory, 4 GiB at most); a smaller GPU's is smaller",
                self.backend
            );
        }
        let _ = writeln!(
            out,
            "{:<22} {:<22} {:>6}  {:<9} {:>12}",
            "dataset", "method", "seed", "state", "GRU memory"
        );
        for c in &self.cells {
            let state = match c.state {
                CellState::Finished => "finished",
                CellState::Stale => "changed",
                CellState::ToRun => "to run",
                CellState::NoData => "no data",
            };
            let memory = c.memory_bytes.map_or(String::new(), |b| {
                format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
            });
            let _ = writeln!(
                out,
                "{:<22} {:<22} {:>6}  {:<9} {:>12}",
                c.dataset,
                c.method.name(),
                c.seed,
                state,
                memory
            );
        }
        out
    }
}
