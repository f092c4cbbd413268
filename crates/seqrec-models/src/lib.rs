//! The GRU recommenders of seqrec (spec §4), in burn: the standard GRU and
//! the linear, rectified-linear and attentional user-based GRUs of Donkers,
//! Loepp and Ziegler (RecSys 2017).
//!
//! This is the only crate of the workspace that depends on burn. Work in
//! progress: the cells (`cell`) are done; the sequence model, training,
//! checkpoints and the `Scorer` implementation are the rest of the GRU issue.

pub mod cell;

pub use cell::{CellSettings, GruCell, GruCellConfig, Threshold, UserIntegration};
