//! The GRU recommenders of seqrec (specification §4), in burn: the standard GRU and
//! the linear, rectified-linear and attentional user-based GRUs of Donkers,
//! Loepp and Ziegler (RecSys 2017).
//!
//! * [`cell`]: the recurrent cell, one skeleton with the user integration
//!   as a variant; [`model`]: embeddings + cell + output layer.
//! * [`lanes`]: the truncated-BPTT lane schedule; [`training`]: the loop
//!   ([`fit`]); [`checkpoint`]: atomic checkpoints for `resume`.
//! * [`GruScorer`]: the trained model behind the project's `Scorer` trait.
//!
//! This is the only crate of the workspace that depends on burn.
//!
//! ```no_run
//! use seqrec_models::{GruParams, GruVariant, TrainOptions, fit};
//! # fn demo(split: &seqrec_core::Split) -> Result<(), seqrec_models::GruError> {
//! let params = GruParams { hidden: 64, lanes: 64, epochs: 3, ..GruParams::default() };
//! let fitted = fit(GruVariant::AttentionalUserGru, &params, split, 2017, &TrainOptions::default())?;
//! println!("best epoch {:?}", fitted.report.best_epoch);
//! # Ok(()) }
//! ```

pub mod allocator;
mod backend;
pub mod cell;
pub mod checkpoint;
mod clip;
pub mod cost;
pub mod device;
pub mod device_adam;
mod dropout;
mod epoch;
mod error;
pub mod fused;
pub mod fused_output;
#[cfg(all(test, any(feature = "vulkan", feature = "wgpu")))]
mod gpu_tests;
mod host_adam;
#[doc(hidden)] // For `benches/matmul_shapes.rs`; not part of the API.
pub mod host_matmul;
pub mod kernels;
pub mod lanes;
pub mod memory;
pub mod model;
pub mod online;
mod output;
mod output_host;
mod params;
pub mod precision;
mod recurrence_host;
mod scorer;
pub mod training;

pub use backend::Backend;
pub use cell::{CellSettings, GruCell, GruCellConfig, Threshold, UserIntegration};
pub use clip::{clip_global_norm, global_norm};
pub use cost::TrainingCost;
pub use device::{DeviceInfo, OpenedDevice};
pub use epoch::EpochRecord;
pub use error::GruError;
pub use fused::ElementWise;
pub use lanes::LaneSwitch;
pub use memory::MemoryEstimate;
pub use model::{GruModel, GruModelConfig};
pub use params::{GruParams, GruVariant};
pub use precision::Precision;
pub use scorer::GruScorer;
pub use training::{
    EpochObserver, FittedGru, TrainOptions, TrainingReport, WindowObserver, WindowRecord, fit,
    load_scorer,
};
