//! Core types of seqrec, shared by every other crate: dense ids, user
//! sequences in CSR form, the 90/5/5 split, vocabularies back to the source
//! ids, the seeded random number generator, the [`Scorer`] trait that
//! every recommender implements, [`codec`], the binary encoding of
//! seqrec's own files, and [`fs`], writing them atomically.
//!
//! This crate has no heavy dependencies (no polars, no burn), so a tool that
//! only wants the data model can depend on it alone.

mod cancel;
pub mod codec;
mod error;
pub mod fs;
mod ids;
pub mod rng;
mod scorer;
mod sequences;
mod split;
#[doc(hidden)]
pub mod testing;
mod vocab;

pub use cancel::Cancel;
pub use error::CoreError;
pub use ids::{ItemId, UserId};
pub use rng::SeqRng;
pub use scorer::{Query, ScoreError, Scorer};
pub use sequences::UserSequences;
pub use split::{Part, Split, SplitConfig, SplitOutcome, SplitReport};
pub use vocab::{OriginalKey, Vocabulary, cmp_pair};
