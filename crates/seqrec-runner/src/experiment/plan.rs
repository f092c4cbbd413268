//! `reproduce --plan`: what a run would do, without running it: which
//! datasets the data root has, which cells are finished and would be
//! reused, which would run, and each GRU cell's estimated peak memory, so
//! a long GPU run can be checked before it starts.

use super::{CellPaths, available_datasets, cell_hash, finished_cell, load_dataset};
use crate::config::ExperimentConfig;
use crate::{Method, RunOptions, RunnerError};
use seqrec_models::MemoryEstimate;
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
    pub cells: Vec<PlannedCell>,
    /// (dataset, users, items) of each available dataset.
    pub datasets: Vec<(String, usize, usize)>,
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
        datasets.push((plan.name.clone(), users, items));
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
                let memory_bytes = match method {
                    Method::Gru(variant) => {
                        Some(MemoryEstimate::of(variant, &plan.gru, items, users).total())
                    }
                    Method::Baseline(_) => None,
                };
                cells.push(PlannedCell {
                    dataset: plan.name.clone(),
                    method,
                    seed,
                    state,
                    memory_bytes,
                });
            }
        }
    }
    Ok(Plan {
        preset: config.name.clone(),
        cells,
        datasets,
        skipped,
    })
}

impl Plan {
    /// A table for people.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let count = |s: CellState| self.cells.iter().filter(|c| c.state == s).count();
        let _ = writeln!(
            out,
            "plan of `{}`: {} cells, {} to run, {} finished (reused), {} with changed settings (run again)",
            self.preset,
            self.cells.len(),
            count(CellState::ToRun),
            count(CellState::Finished),
            count(CellState::Stale)
        );
        for (name, users, items) in &self.datasets {
            let _ = writeln!(out, "  {name}: {users} users, {items} items");
        }
        for skipped in &self.skipped {
            let _ = writeln!(out, "  {}: skipped ({})", skipped.dataset, skipped.reason);
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
