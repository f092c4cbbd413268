//! The seqrec experiment runner: presets of methods × datasets × seeds
//! ([`ExperimentConfig`]), run cell by cell with finished cells reused
//! ([`run`]), summarised beside the paper's Table 2 with significance tests
//! and the paper's claims ([`Results`]), plotted, and checked against
//! committed results ([`check`]). The `seqrec` binary and
//! `cargo xtask reproduce` are thin layers over this crate.
//!
//! ```no_run
//! use seqrec_runner::{ExperimentConfig, RunOptions, run};
//! # fn main() -> Result<(), seqrec_runner::RunnerError> {
//! let config = ExperimentConfig::from_file("configs/ci.toml".as_ref())?;
//! let outcome = run(&config, &RunOptions::new("datasets", "results/ci"))?;
//! if let Some(results) = outcome.results {
//!     for dataset in &results.datasets {
//!         for cell in &dataset.cells {
//!             println!("{} {}: MRR@20 {:.4}", dataset.dataset.name, cell.method, cell.metric("mrr@20"));
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

mod compute;
pub mod config;
mod error;
pub mod experiment;
mod files;
mod method;
pub mod model_dir;
mod paper;
pub mod progress;
mod published;
mod record;
pub mod report;

pub use compute::Compute;
pub use config::{CheckTolerances, DatasetPlan, ExperimentConfig, SignificanceSettings};
pub use error::RunnerError;
pub use experiment::{Plan, RunOptions, RunOutcome, SeedRun, plan, run};
pub use method::Method;
pub use paper::{PaperCell, PaperColumn, paper_cell, paper_tuples_per_second};
pub use published::{PublishedSize, published_size};
pub use report::{CheckReport, Results, check};
