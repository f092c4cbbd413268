//! A trained model on disk (`seqrec train --out DIR`) and recommendations
//! from it (`seqrec recommend --model DIR --user ID`).
//!
//! A model directory is self-contained: it recommends without the dataset.
//! It holds `model.toml` (method, dataset, data options, settings, seed,
//! the data's shape and the model's validation metrics, written last: its
//! presence means the directory is complete), `data.snapshot` (the item
//! and user vocabularies and every user's history, a
//! [`seqrec_data::write_snapshot`] file), `titles.json` where the dataset
//! has titles, and the fitted model: `model.ckpt` for the GRUs (the
//! checkpoint with the best epoch's parameters), `baseline.state` for the
//! baselines (their fitted state, read back bit-exactly, never refitted).
//!
//! Directories of format 1 (before self-contained models) held only
//! `model.toml` and the GRU checkpoint; they still load with their dataset
//! ([`open_with_data`]), baselines being refitted from their seed.

use crate::files::{git_commit, write_atomic};
use crate::{Compute, Method, RunnerError};
use indicatif::ProgressBar;
use seqrec_baselines::{BaselineParams, FittedBaseline};
use seqrec_core::codec::{self, Decoder, Encoder};
use seqrec_core::{Cancel, ItemId, Part, Query, Scorer, UserId, Vocabulary};
use seqrec_data::{Dataset, DatasetOptions, Titles};
use seqrec_metrics::{EvalConfig, evaluate};
use seqrec_models::{Backend, GruParams, GruScorer, Precision};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The description file of a model directory.
pub const MODEL_FILE: &str = "model.toml";
/// The GRU checkpoint of a model directory.
pub const CHECKPOINT_FILE: &str = "model.ckpt";
/// The vocabularies and histories of a model directory.
pub const DATA_FILE: &str = "data.snapshot";
/// A baseline's fitted state.
pub const STATE_FILE: &str = "baseline.state";
/// Item titles (original id → title), where the dataset has them.
pub const TITLES_FILE: &str = "titles.json";
/// 2: self-contained (data snapshot, baseline state, titles).
const FORMAT: u32 = 2;
/// Format 1 still loads, with its dataset.
const OLDEST_FORMAT: u32 = 1;
const STATE_MAGIC: &[u8; 8] = b"SEQRECBL";
const STATE_VERSION: u32 = 1;

/// What `model.toml` records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedModel {
    pub format: u32,
    pub method: Method,
    pub dataset: String,
    pub seed: u64,
    pub backend: Backend,
    /// A GRU's requested product precision (absent for baselines and in
    /// models saved before the setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// The data's shape when trained; loading refuses other data.
    pub users: usize,
    pub items: usize,
    pub train_events: usize,
    pub git_commit: String,
    /// Validation metrics of the saved model.
    pub validation: BTreeMap<String, f64>,
    pub options: DatasetOptions,
    pub gru: Option<GruParams>,
    pub baselines: Option<BaselineParams>,
    /// Trained on an export of a service's event log: the arrival number
    /// of the first event not in the data (`seqrec serve` applies only the
    /// stored events from there on, so none is counted twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_position: Option<u64>,
}

/// What to train.
#[derive(Clone, Debug)]
pub struct TrainSpec {
    pub method: Method,
    pub gru: GruParams,
    pub baselines: BaselineParams,
    pub seed: u64,
    pub compute: Compute,
    /// Raised, it stops the fit (GRU windows, SGD steps) with an error.
    pub cancel: Cancel,
    /// The data is an export of a service's event log up to this arrival
    /// number (recorded in the model; see [`SavedModel::log_position`]).
    pub log_position: Option<u64>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunnerError + '_ {
    move |e| RunnerError::io(path, e)
}

/// Trains `spec.method` on `data` and writes the model directory `out`
/// (with `titles`, where the dataset has them).
pub fn train(
    spec: &TrainSpec,
    data: &Dataset,
    options: &DatasetOptions,
    titles: Option<&Titles>,
    out: &Path,
    progress: Option<ProgressBar>,
) -> Result<(SavedModel, Box<dyn Scorer + Send>), RunnerError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let failed = |e: &dyn std::fmt::Display| RunnerError::Cell {
        dataset: data.name.clone(),
        method: spec.method.name().to_owned(),
        seed: spec.seed,
        message: e.to_string(),
    };
    let split = &data.split;
    let scorer: Box<dyn Scorer + Send> = match spec.method {
        Method::Baseline(b) => {
            let fitted = b
                .fit_state_with_cancel(&spec.baselines, split, spec.seed, &spec.cancel)
                .map_err(|e| failed(&e))?;
            let mut state = Encoder::new();
            fitted.encode(&mut state);
            let bytes = codec::seal(STATE_MAGIC, STATE_VERSION, &state.into_bytes());
            write_atomic(&out.join(STATE_FILE), &bytes)?;
            Box::new(fitted)
        }
        Method::Gru(variant) => {
            let mut options =
                spec.compute
                    .train_options(Some(out.join(CHECKPOINT_FILE)), true, progress);
            options.cancel = Some(spec.cancel.clone());
            let fitted = seqrec_models::fit(variant, &spec.gru, split, spec.seed, &options)
                .map_err(|e| failed(&e))?;
            Box::new(fitted.scorer)
        }
    };
    let validation = evaluate(
        scorer.as_ref(),
        split,
        Part::Validation,
        &EvalConfig::default(),
        None,
    )
    .map_err(|e| failed(&e))?;
    let saved = SavedModel {
        format: FORMAT,
        method: spec.method,
        dataset: data.name.clone(),
        seed: spec.seed,
        backend: spec.compute.backend,
        precision: spec.method.is_gru().then_some(spec.compute.precision),
        users: split.users(),
        items: split.catalogue_size(),
        train_events: split.events(Part::Train),
        git_commit: git_commit(),
        validation: validation.to_map(),
        options: options.clone(),
        gru: spec.method.is_gru().then(|| spec.gru.clone()),
        baselines: (!spec.method.is_gru()).then(|| spec.baselines.clone()),
        log_position: spec.log_position,
    };
    seqrec_data::write_snapshot(&out.join(DATA_FILE), data).map_err(|e| RunnerError::Data {
        dataset: data.name.clone(),
        message: e.to_string(),
    })?;
    let titles_path = out.join(TITLES_FILE);
    match titles {
        Some(titles) => {
            // Only the catalogue's items can be recommended.
            let kept: Titles = (0..data.items.len())
                .filter_map(|i| {
                    let id = data.items.label(i)?.into_owned();
                    titles.get(&id).map(|title| (id, title.clone()))
                })
                .collect();
            let text = serde_json::to_string(&kept).map_err(|e| RunnerError::io(out, e))?;
            write_atomic(&titles_path, text.as_bytes())?;
        }
        // A retrained model must not keep the titles of an earlier one.
        None => match std::fs::remove_file(&titles_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(RunnerError::io(&titles_path, e));
            }
            _ => {}
        },
    }
    let text = toml::to_string(&saved).map_err(|e| RunnerError::io(out, e))?;
    write_atomic(&out.join(MODEL_FILE), text.as_bytes())?;
    Ok((saved, scorer))
}

/// Reads `dir/model.toml`.
pub fn read_saved(dir: &Path) -> Result<SavedModel, RunnerError> {
    let path = dir.join(MODEL_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        RunnerError::io(
            &path,
            format!(
                "{e} (is {} a model directory written by `seqrec train`?)",
                dir.display()
            ),
        )
    })?;
    let saved: SavedModel = toml::from_str(&text).map_err(|e| RunnerError::io(&path, e))?;
    if !(OLDEST_FORMAT..=FORMAT).contains(&saved.format) {
        return Err(RunnerError::io(
            &path,
            format!(
                "model format {}; this build reads formats {OLDEST_FORMAT} to {FORMAT} (written by a newer seqrec?)",
                saved.format
            ),
        ));
    }
    Ok(saved)
}

/// The fitted model of a directory, by kind (the online service steps a
/// GRU's state itself; everything else goes through [`Scorer`]).
#[derive(Debug)]
pub enum ModelScorer {
    /// Boxed: a GRU scorer (model and device) is far larger than a baseline.
    Gru(Box<GruScorer>),
    Baseline(FittedBaseline),
}

impl ModelScorer {
    pub fn as_scorer(&self) -> &(dyn Scorer + Send) {
        match self {
            ModelScorer::Gru(s) => s.as_ref(),
            ModelScorer::Baseline(s) => s,
        }
    }
}

/// A model ready to recommend: what `model.toml` says, the data it knows
/// (vocabularies, histories), titles, and the scorer.
pub struct LoadedModel {
    pub saved: SavedModel,
    pub data: Dataset,
    pub titles: Option<Titles>,
    pub scorer: ModelScorer,
    /// What identifies these weights and this data: a hash of the files
    /// that define them (16 hex digits). Two directories with the same
    /// files have the same version; any change to them changes it.
    pub version: String,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("method", &self.saved.method)
            .field("dataset", &self.data.name)
            .finish_non_exhaustive()
    }
}

/// Whether the directory recommends on its own (format 2 and later);
/// older ones need their dataset ([`open_with_data`]).
pub fn is_self_contained(saved: &SavedModel) -> bool {
    saved.format >= 2
}

/// Loads a self-contained model directory (no dataset needed).
pub fn open(dir: &Path, saved: SavedModel, compute: Compute) -> Result<LoadedModel, RunnerError> {
    if !is_self_contained(&saved) {
        return Err(RunnerError::io(
            &dir.join(MODEL_FILE),
            format!(
                "model format {} predates self-contained models: it loads only with its dataset `{}`",
                saved.format, saved.dataset
            ),
        ));
    }
    let data = seqrec_data::read_snapshot(&dir.join(DATA_FILE)).map_err(|e| {
        RunnerError::io(
            dir,
            format!("{e} (the model directory is incomplete or damaged)"),
        )
    })?;
    let titles_path = dir.join(TITLES_FILE);
    let titles = match std::fs::read_to_string(&titles_path) {
        Ok(text) => Some(
            serde_json::from_str::<Titles>(&text).map_err(|e| RunnerError::io(&titles_path, e))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(RunnerError::io(&titles_path, e)),
    };
    check_shape(dir, &saved, &data)?;
    let scorer = match saved.method {
        Method::Baseline(kind) => {
            let path = dir.join(STATE_FILE);
            let bytes = std::fs::read(&path).map_err(|e| RunnerError::io(&path, e))?;
            let fitted = codec::open(STATE_MAGIC, STATE_VERSION, "seqrec baseline state", &bytes)
                .and_then(|body| FittedBaseline::decode(&mut Decoder::new(body)))
                .map_err(|e| RunnerError::io(&path, e))?;
            if fitted.kind() != kind || fitted.catalogue_size() != saved.items {
                return Err(RunnerError::io(
                    &path,
                    format!(
                        "holds a {} over {} items; model.toml says {} over {}",
                        fitted.kind().name(),
                        fitted.catalogue_size(),
                        kind.name(),
                        saved.items
                    ),
                ));
            }
            ModelScorer::Baseline(fitted)
        }
        Method::Gru(_) => ModelScorer::Gru(Box::new(load_gru(dir, compute)?)),
    };
    Ok(LoadedModel {
        saved,
        data,
        titles,
        scorer,
        version: version_of(dir)?,
    })
}

/// Loads a model directory with `data`, the dataset it was trained on
/// (same users, items and training events): how format 1 directories
/// load; their baselines are refitted from the seed.
pub fn open_with_data(
    dir: &Path,
    saved: SavedModel,
    data: Dataset,
    titles: Option<Titles>,
    compute: Compute,
) -> Result<LoadedModel, RunnerError> {
    if is_self_contained(&saved) {
        return open(dir, saved, compute);
    }
    check_shape(dir, &saved, &data)?;
    let scorer = match saved.method {
        Method::Baseline(b) => {
            let params = saved.baselines.clone().unwrap_or_default();
            ModelScorer::Baseline(
                b.fit_state(&params, &data.split, saved.seed)
                    .map_err(|e| RunnerError::io(dir, e))?,
            )
        }
        Method::Gru(_) => ModelScorer::Gru(Box::new(load_gru(dir, compute)?)),
    };
    Ok(LoadedModel {
        saved,
        data,
        titles,
        scorer,
        version: version_of(dir)?,
    })
}

/// The version of the model directory `dir`: xxh3-64 of its defining
/// files (the settings, the weights or fitted state, the data), each
/// preceded by its name and length so that no two layouts collide.
pub fn version_of(dir: &Path) -> Result<String, RunnerError> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for name in [MODEL_FILE, CHECKPOINT_FILE, STATE_FILE, DATA_FILE] {
        let path = dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(RunnerError::io(&path, e)),
        };
        hasher.update(name.as_bytes());
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(format!("{:016x}", hasher.digest()))
}

fn load_gru(dir: &Path, compute: Compute) -> Result<GruScorer, RunnerError> {
    let (scorer, _) = seqrec_models::load_scorer(
        &dir.join(CHECKPOINT_FILE),
        compute.backend,
        compute.device,
        compute.precision,
    )
    .map_err(|e| RunnerError::io(dir, e))?;
    Ok(scorer.with_elementwise(compute.elementwise))
}

/// How `data` differs from the data the model was trained on (users,
/// items, training events), or None when it has that shape.
pub fn shape_mismatch(saved: &SavedModel, data: &Dataset) -> Option<String> {
    let split = &data.split;
    let shape = (
        split.users(),
        split.catalogue_size(),
        split.events(Part::Train),
    );
    (shape != (saved.users, saved.items, saved.train_events)).then(|| {
        format!(
            "trained on {} users, {} items, {} training events; the data now has {} users, {} items, {} training events (different data or options)",
            saved.users, saved.items, saved.train_events, shape.0, shape.1, shape.2
        )
    })
}

/// `data` has the shape the model was trained on.
fn check_shape(dir: &Path, saved: &SavedModel, data: &Dataset) -> Result<(), RunnerError> {
    match shape_mismatch(saved, data) {
        Some(message) => Err(RunnerError::io(&dir.join(MODEL_FILE), message)),
        None => Ok(()),
    }
}

/// One recommended item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    pub rank: usize,
    /// The original item id.
    pub item: String,
    pub title: Option<String>,
    pub score: f32,
}

/// The `top` items for the next step after the user's whole history
/// (training, validation and test events). Equal scores are ordered by
/// catalogue index so the list is deterministic. With `exclude_seen`,
/// items already in the history are left out.
pub fn recommend(
    scorer: &dyn Scorer,
    data: &Dataset,
    user: &str,
    top: usize,
    exclude_seen: bool,
    titles: Option<&Titles>,
) -> Result<Vec<Recommendation>, RunnerError> {
    let index = data.users.find(user).ok_or_else(|| RunnerError::Data {
        dataset: data.name.clone(),
        message: format!(
            "user `{user}` is not in the data (ids look like `{}`; {} users)",
            data.users.label(0).unwrap_or_default(),
            data.users.len()
        ),
    })?;
    let id = UserId(index as u32);
    let sequences = data.split.sequences();
    let history: &[ItemId] = sequences.items(id);
    let query = Query {
        user: id,
        history,
        times: sequences.timestamps(id),
    };
    let mut scores = vec![0.0f32; scorer.catalogue_size()];
    scorer
        .score(&[query], &mut scores)
        .map_err(|e| RunnerError::Data {
            dataset: data.name.clone(),
            message: format!("scoring user `{user}`: {e}"),
        })?;
    Ok(top_items(
        &scores,
        history,
        top,
        exclude_seen,
        &data.items,
        titles,
    ))
}

/// The `top` items of a score row, best first; equal scores in catalogue
/// order, so the list is deterministic. With `exclude_seen`, items in
/// `history` are left out. Items are named by `items` (and `titles`).
pub fn top_items(
    scores: &[f32],
    history: &[ItemId],
    top: usize,
    exclude_seen: bool,
    items: &Vocabulary,
    titles: Option<&Titles>,
) -> Vec<Recommendation> {
    let mut seen = vec![false; scores.len()];
    if exclude_seen {
        for item in history {
            if let Some(s) = seen.get_mut(item.index()) {
                *s = true;
            }
        }
    }
    let better = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    let mut order: Vec<usize> = (0..scores.len()).filter(|&i| !seen[i]).collect();
    // Only the top need ordering: select them, then sort those.
    if top < order.len() {
        order.select_nth_unstable_by(top, better);
        order.truncate(top);
    }
    order.sort_by(better);
    order
        .into_iter()
        .enumerate()
        .map(|(rank, i)| {
            let item = items.label(i).map(|l| l.into_owned()).unwrap_or_default();
            Recommendation {
                rank: rank + 1,
                title: titles.and_then(|t| t.get(&item).cloned()),
                item,
                score: scores[i],
            }
        })
        .collect()
}
