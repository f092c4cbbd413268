//! Online recommendation from a self-contained model directory: every user
//! has a state that advances with each new event (a GRU's hidden state by
//! one cell step, a baseline's history), so a recommendation after each
//! event costs one step and one scoring pass, not a replay.
//!
//! [`OnlineModel`] is the service's core, independent of any transport:
//! apply events, ask for a user's top items, or for the top items after an
//! anonymous sequence. Its results equal the offline scorer's at the same
//! position of a user's sequence (tested on real data for every method).
//!
//! ```no_run
//! use seqrec_serve::{Event, OnlineModel, Start};
//! # fn demo(model: seqrec_runner::model_dir::LoadedModel) -> Result<(), seqrec_serve::ServeError> {
//! let mut online = OnlineModel::new(model, Start::WholeHistory);
//! online.apply(&[Event::new("42", "318", Some(1_700_000_000))])?;
//! for r in online.recommend("42", 10, true)? {
//!     println!("{} {:?} {:.4}", r.item, r.title, r.score);
//! }
//! # Ok(()) }
//! ```

mod online;

pub use online::{Applied, Event, OnlineModel, ServeError, Start};
