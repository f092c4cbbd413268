//! Saving a run after an epoch and continuing it from that checkpoint.

use crate::GruError;
use crate::checkpoint::{Checkpoint, CheckpointState};
use crate::model::GruModel;
use burn::module::Module;
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use std::path::Path;

fn failure(path: &Path, message: impl std::fmt::Display) -> GruError {
    GruError::Checkpoint {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn model_bytes(model: &GruModel, path: &Path) -> Result<Vec<u8>, GruError> {
    let bytes = model
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| failure(path, e))?;
    Ok(bytes.to_vec())
}

pub(super) fn load_model(model: GruModel, bytes: &[u8], path: &Path) -> Result<GruModel, GruError> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| failure(path, e))?;
    model.try_load_record(record).map_err(|e| failure(path, e))
}

/// Writes the run after an epoch (atomically, see [`Checkpoint::save`]).
pub(super) fn save(
    path: &Path,
    model: &GruModel,
    optim: &ModuleOptimizer,
    state: &CheckpointState,
    best: Option<&GruModel>,
) -> Result<(), GruError> {
    let optimizer = optim
        .to_record()
        .into_bytes()
        .map_err(|e| failure(path, e))?
        .to_vec();
    let checkpoint = Checkpoint {
        state: state.clone(),
        model: model_bytes(model, path)?,
        optimizer,
        best_model: match best {
            Some(b) => model_bytes(b, path)?,
            None => Vec::new(),
        },
    };
    checkpoint.save(path)
}

/// What a resumed run continues with.
type Resumed = (
    GruModel,
    ModuleOptimizer,
    CheckpointState,
    Option<GruModel>,
    usize,
);

/// Loads the checkpoint at `path` into a freshly initialised run, after
/// checking it belongs to the same method, seed, settings and data.
pub(super) fn load(
    path: &Path,
    model: GruModel,
    optim: ModuleOptimizer,
    fresh: CheckpointState,
) -> Result<Resumed, GruError> {
    let checkpoint = Checkpoint::load(path)?;
    let saved = &checkpoint.state;
    let mismatch = |m: String| GruError::CheckpointMismatch {
        path: path.to_path_buf(),
        message: m,
    };
    if saved.variant != fresh.variant || saved.seed != fresh.seed {
        return Err(mismatch(format!(
            "it is {} with seed {}, this run is {} with seed {}",
            saved.variant.name(),
            saved.seed,
            fresh.variant.name(),
            fresh.seed
        )));
    }
    if saved.params != fresh.params {
        return Err(mismatch("the hyperparameters differ".into()));
    }
    if saved.data != fresh.data {
        return Err(mismatch(format!(
            "it was trained on {:?}, this data is {:?}",
            saved.data, fresh.data
        )));
    }
    let model = load_model(model, &checkpoint.model, path)?;
    let record = OptimizerRecord::from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer))
        .map_err(|e| failure(path, e))?;
    let optim = optim.load_record(record);
    let best = if checkpoint.best_model.is_empty() {
        None
    } else {
        Some(load_model(model.valid(), &checkpoint.best_model, path)?)
    };
    let epochs_done = checkpoint.state.epochs_done;
    tracing::info!(path = %path.display(), epochs_done, "resuming");
    Ok((model, optim, checkpoint.state, best, epochs_done))
}
