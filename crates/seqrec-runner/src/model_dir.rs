//! A trained model on disk (`seqrec train --out DIR`) and recommendations
//! from it (`seqrec recommend --model DIR --user ID`).
//!
//! A model directory holds `model.toml` (method, dataset, data options,
//! settings, seed, the data's shape and the model's validation metrics)
//! and, for the GRUs, `model.ckpt` (the training checkpoint with the best
//! epoch's parameters). The classic baselines are small and fit
//! deterministically from their seed in seconds, so their directory holds
//! the recipe and loading refits them: the same seed gives the same model.

use crate::experiment::{git_commit, write_atomic};
use crate::{Compute, Method, RunnerError};
use indicatif::ProgressBar;
use seqrec_baselines::BaselineParams;
use seqrec_core::{ItemId, Part, Query, Scorer, UserId};
use seqrec_data::{Dataset, DatasetOptions, Titles};
use seqrec_metrics::{EvalConfig, evaluate};
use seqrec_models::{Backend, GruParams};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The description file of a model directory.
pub const MODEL_FILE: &str = "model.toml";
/// The GRU checkpoint of a model directory.
pub const CHECKPOINT_FILE: &str = "model.ckpt";
const FORMAT: u32 = 1;

/// What `model.toml` records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedModel {
    pub format: u32,
    pub method: Method,
    pub dataset: String,
    pub seed: u64,
    pub backend: Backend,
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
}

/// What to train.
#[derive(Clone, Debug)]
pub struct TrainSpec {
    pub method: Method,
    pub gru: GruParams,
    pub baselines: BaselineParams,
    pub seed: u64,
    pub compute: Compute,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> RunnerError + '_ {
    move |e| RunnerError::io(path, e)
}

/// Trains `spec.method` on `data` and writes the model directory `out`.
pub fn train(
    spec: &TrainSpec,
    data: &Dataset,
    options: &DatasetOptions,
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
        Method::Baseline(b) => b
            .fit(&spec.baselines, split, spec.seed)
            .map_err(|e| failed(&e))?,
        Method::Gru(variant) => {
            let options =
                spec.compute
                    .train_options(Some(out.join(CHECKPOINT_FILE)), true, progress);
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
        users: split.users(),
        items: split.catalogue_size(),
        train_events: split.events(Part::Train),
        git_commit: git_commit(),
        validation: validation.to_map(),
        options: options.clone(),
        gru: spec.method.is_gru().then(|| spec.gru.clone()),
        baselines: (!spec.method.is_gru()).then(|| spec.baselines.clone()),
    };
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
    if saved.format != FORMAT {
        return Err(RunnerError::io(
            &path,
            format!("model format {}, this build reads {FORMAT}", saved.format),
        ));
    }
    Ok(saved)
}

/// The scorer of a saved model on `data` (which must be the data it was
/// trained on: same users, items and training events).
pub fn load_scorer(
    dir: &Path,
    saved: &SavedModel,
    data: &Dataset,
    compute: Compute,
) -> Result<Box<dyn Scorer + Send>, RunnerError> {
    let split = &data.split;
    let shape = (
        split.users(),
        split.catalogue_size(),
        split.events(Part::Train),
    );
    if shape != (saved.users, saved.items, saved.train_events) {
        return Err(RunnerError::io(
            &dir.join(MODEL_FILE),
            format!(
                "trained on {} users, {} items, {} training events; the data now has {} users, {} items, {} training events (different data or options)",
                saved.users, saved.items, saved.train_events, shape.0, shape.1, shape.2
            ),
        ));
    }
    let failed = |e: &dyn std::fmt::Display| RunnerError::io(dir, e);
    match saved.method {
        Method::Baseline(b) => {
            let params = saved.baselines.clone().unwrap_or_default();
            b.fit(&params, split, saved.seed).map_err(|e| failed(&e))
        }
        Method::Gru(_) => {
            let (scorer, _) = seqrec_models::load_scorer(
                &dir.join(CHECKPOINT_FILE),
                compute.backend,
                compute.device,
            )
            .map_err(|e| failed(&e))?;
            Ok(Box::new(scorer))
        }
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
    let mut order: Vec<usize> = (0..scores.len())
        .filter(|&i| !(exclude_seen && history.contains(&ItemId(i as u32))))
        .collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    Ok(order
        .into_iter()
        .take(top)
        .enumerate()
        .map(|(rank, i)| {
            let item = data
                .items
                .label(i)
                .map(|l| l.into_owned())
                .unwrap_or_default();
            Recommendation {
                rank: rank + 1,
                title: titles.and_then(|t| t.get(&item).cloned()),
                item,
                score: scores[i],
            }
        })
        .collect())
}
