//! Hyperparameter search for seqrec's methods, on the validation split only.
//!
//! A study varies the settings of one method on one dataset: a search space
//! in the preset schema (`[tune.space.gru]`, `[tune.space.bpr_mf]`, ...), a
//! sampler (grid, random or TPE, all seeded from the study's seed through
//! the project's own generator), optionally asynchronous successive halving
//! over a GRU's epochs, and a store that makes the study resumable: each
//! trial number is claimed once, in a transaction, and a trial whose
//! worker died runs again under its number. Trials see a split without test
//! events; the test split is used once, at the end, to compare the best
//! settings with the starting settings.
//!
//! The layers, bottom to top: [`space`] (what may vary), [`trial`] and
//! [`settings`] (records and the `[tune]` table), [`sampler`] and
//! [`pruner`], [`store`], [`objective`] (one trial's fit), [`study`] (the
//! workers), [`mod@report`], [`refit`] and [`summary`] (outputs), [`tuner`]
//! (one call from a request to a finished study).
//!
//! ```no_run
//! use seqrec_tune::{TuneRequest, tune};
//! use seqrec_runner::Method;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let request = TuneRequest::new("configs/tune-small.toml", "ml-100k", Method::parse("item-knn")?);
//! let outcome = tune(&request)?;
//! if let Some(best) = outcome.best() {
//!     println!("best trial {}: {:?}", best.number, best.params);
//! }
//! # Ok(()) }
//! ```

mod error;
pub mod objective;
mod plots;
pub mod pruner;
pub mod refit;
pub mod report;
pub mod sampler;
pub mod settings;
pub mod space;
pub mod store;
pub mod study;
pub mod summary;
pub mod trial;
pub mod tuner;

pub use error::TuneError;
pub use settings::{PrunerKind, SamplerKind, TuneSettings};
pub use space::{Distribution, Params, Space};
pub use store::{EmbeddedStore, StudyStore, open_store};
pub use study::StudyEnd;
pub use trial::{TrialRecord, TrialState};
pub use tuner::{TuneOutcome, TuneRequest, prepare, report, tune};
