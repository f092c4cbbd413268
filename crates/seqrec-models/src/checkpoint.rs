//! Checkpoints: model, optimiser, epoch, history and the best epoch's model
//! in one file, written to a temporary file and renamed into place, so a run
//! killed at any moment leaves either the previous checkpoint or the new one.
//!
//! Layout: `SEQRECKP`, format version (u32 LE), then four length-prefixed
//! (u64 LE) blocks: the JSON state, the model, the optimiser, the best model
//! (burnpack bytes, empty when there is none yet).

use crate::epoch::EpochRecord;
use crate::{GruError, GruParams, GruVariant};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"SEQRECKP";
const VERSION: u32 = 1;

/// What identifies the data a run trains on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataFingerprint {
    pub users: usize,
    pub items: usize,
    pub train_events: usize,
    pub validation_events: usize,
}

/// The non-tensor part of a checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    pub variant: GruVariant,
    pub params: GruParams,
    pub seed: u64,
    pub data: DataFingerprint,
    /// Epochs finished.
    pub epochs_done: usize,
    pub history: Vec<EpochRecord>,
    pub best_epoch: Option<usize>,
    pub epochs_without_improvement: usize,
}

/// A whole checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    pub state: CheckpointState,
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
    pub best_model: Vec<u8>,
}

fn failure(path: &Path, message: impl std::fmt::Display) -> GruError {
    GruError::Checkpoint {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

impl Checkpoint {
    /// Writes atomically ([`seqrec_core::fs`]), streaming the blocks.
    pub fn save(&self, path: &Path) -> Result<(), GruError> {
        let json = serde_json::to_vec(&self.state).map_err(|e| failure(path, e))?;
        seqrec_core::fs::write_atomic_with(path, |file| {
            file.write_all(MAGIC)?;
            file.write_all(&VERSION.to_le_bytes())?;
            for block in [&json[..], &self.model, &self.optimizer, &self.best_model] {
                file.write_all(&(block.len() as u64).to_le_bytes())?;
                file.write_all(block)?;
            }
            Ok(())
        })
        .map_err(|e| failure(path, e))
    }

    /// Reads a checkpoint written by [`Checkpoint::save`].
    pub fn load(path: &Path) -> Result<Checkpoint, GruError> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| failure(path, e))?;
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(failure(path, "not a seqrec checkpoint (bad magic bytes)"));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != VERSION {
            return Err(failure(
                path,
                format!("format version {version}, this build reads {VERSION}"),
            ));
        }
        let mut rest = &bytes[12..];
        let mut blocks = Vec::with_capacity(4);
        for name in ["state", "model", "optimiser", "best model"] {
            if rest.len() < 8 {
                return Err(failure(path, format!("truncated before the {name} block")));
            }
            let (len, tail) = rest.split_at(8);
            let len = u64::from_le_bytes(len.try_into().unwrap_or([0; 8])) as usize;
            if tail.len() < len {
                return Err(failure(path, format!("truncated inside the {name} block")));
            }
            let (block, tail) = tail.split_at(len);
            blocks.push(block.to_vec());
            rest = tail;
        }
        let best_model = blocks.pop().unwrap_or_default();
        let optimizer = blocks.pop().unwrap_or_default();
        let model = blocks.pop().unwrap_or_default();
        let json = blocks.pop().unwrap_or_default();
        let state = serde_json::from_slice(&json).map_err(|e| failure(path, e))?;
        Ok(Checkpoint {
            state,
            model,
            optimizer,
            best_model,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/ckpt.bin");
        let checkpoint = Checkpoint {
            state: CheckpointState {
                variant: GruVariant::Gru,
                params: GruParams::default(),
                seed: 3,
                data: DataFingerprint {
                    users: 1,
                    items: 2,
                    train_events: 3,
                    validation_events: 4,
                },
                epochs_done: 2,
                history: Vec::new(),
                best_epoch: Some(1),
                epochs_without_improvement: 0,
            },
            model: vec![1, 2, 3],
            optimizer: vec![],
            best_model: vec![9; 10],
        };
        checkpoint.save(&path).unwrap();
        // Only the checkpoint in its folder: no temporary file left.
        let files = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(files, 1);
        let back = Checkpoint::load(&path).unwrap();
        assert_eq!(back.state, checkpoint.state);
        assert_eq!(back.model, checkpoint.model);
        assert_eq!(back.best_model, checkpoint.best_model);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let e = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(e.contains("truncated inside the best model block"), "{e}");
        std::fs::write(&path, b"hello world, not a checkpoint").unwrap();
        let e = Checkpoint::load(&path).unwrap_err().to_string();
        assert!(e.contains("magic") && e.contains("ckpt.bin"), "{e}");
    }
}
