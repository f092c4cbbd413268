//! `seqrec train`: fit a method and save it as a model directory;
//! `seqrec recommend`: the top items for a user from a saved model.

use super::data::{load_with, loading_options};
use super::{Common, ComputeArgs, SettingsArgs};
use anyhow::{Context, Result};
use clap::Args;
use seqrec_data::DatasetName;
use seqrec_models::Backend;
use seqrec_runner::Method;
use seqrec_runner::model_dir::{self, TrainSpec};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Dataset name or table path.
    #[arg(long)]
    dataset: String,
    /// TOML file of loading options.
    #[arg(long)]
    options: Option<PathBuf>,
    /// pop, item-knn, decay-knn, bpr-mf, seq-mf, gru, linear-user-gru,
    /// rectified-user-gru, attentional-user-gru.
    #[arg(long)]
    method: String,
    #[command(flatten)]
    settings: SettingsArgs,
    #[arg(long, default_value_t = 2017)]
    seed: u64,
    #[command(flatten)]
    compute: ComputeArgs,
    /// The model directory to write: self-contained (`model.toml`, the
    /// data's vocabularies and histories, titles, and `model.ckpt` or
    /// `baseline.state`), so `recommend` needs no dataset. A killed GRU
    /// training continues from its checkpoint when run again.
    #[arg(long)]
    out: PathBuf,
}

pub fn train(args: TrainArgs, common: &Common) -> Result<()> {
    let method = Method::parse(&args.method)?;
    let settings = args.settings.read(&args.dataset)?;
    let options = loading_options(args.options.as_deref(), settings.options.as_ref())?;
    let data = load_with(&args.dataset, options.clone(), common)?;
    // A table exported from a service's store: the model records where
    // the log it was trained on ends.
    let manifest = seqrec_serve::export::read_manifest(std::path::Path::new(&args.dataset))?;
    if let Some(m) = &manifest {
        tracing::info!(
            log_position = m.log_position,
            "the dataset is an export of an event store: the model applies the store's events from its log position on"
        );
    }
    let spec = TrainSpec {
        method,
        gru: settings.gru,
        baselines: settings.baselines,
        seed: args.seed,
        compute: args.compute.compute(
            settings.backend.unwrap_or(Backend::Flex),
            settings.precision,
        )?,
        cancel: Default::default(),
        log_position: manifest.map(|m| m.log_position),
    };
    let titles = read_titles(&args.dataset, common)?;
    let bar = seqrec_runner::progress::training_bar(false);
    let (saved, _) = model_dir::train(
        &spec,
        &data,
        &options,
        titles.as_ref(),
        &args.out,
        Some(bar.clone()),
    )
    .with_context(|| format!("training {method} on {}", args.dataset))?;
    bar.finish_and_clear();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "saved {} ({}, seed {}) to {}: validation MRR@20 {:.5}, Recall@20 {:.5}",
        saved.method,
        saved.dataset,
        saved.seed,
        args.out.display(),
        saved.validation.get("mrr@20").copied().unwrap_or(f64::NAN),
        saved
            .validation
            .get("recall@20")
            .copied()
            .unwrap_or(f64::NAN),
    )?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// A model directory written by `seqrec train`.
    #[arg(long)]
    model: PathBuf,
    /// The user's original id (as in the dataset's files).
    #[arg(long)]
    user: String,
    /// How many items.
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Leave out items the user already has in their history.
    #[arg(long)]
    exclude_seen: bool,
    /// Where a GRU scores (default backend: the one it was trained with).
    #[command(flatten)]
    compute: ComputeArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The dataset's titles under the data root, where it has them.
fn read_titles(dataset: &str, common: &Common) -> Result<Option<seqrec_data::Titles>> {
    Ok(match DatasetName::parse(dataset) {
        Ok(name) => seqrec_data::read_titles(&name, &common.data_dir)?,
        Err(_) => None,
    })
}

pub fn recommend(args: RecommendArgs, common: &Common) -> Result<()> {
    let saved = model_dir::read_saved(&args.model)?;
    let compute = args.compute.compute(saved.backend, saved.precision)?;
    let model = if model_dir::is_self_contained(&saved) {
        model_dir::open(&args.model, saved, compute)?
    } else {
        tracing::warn!(
            "{} was written before self-contained model directories: loading its dataset `{}` (train it again to drop the need)",
            args.model.display(),
            saved.dataset
        );
        let data = load_with(&saved.dataset, saved.options.clone(), common)?;
        let titles = read_titles(&saved.dataset, common)?;
        model_dir::open_with_data(&args.model, saved, data, titles, compute)?
    };
    let (saved, data) = (&model.saved, &model.data);
    let list = model_dir::recommend(
        model.scorer.as_scorer(),
        data,
        &args.user,
        args.top,
        args.exclude_seen,
        model.titles.as_ref(),
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&list)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "top {} for user {} by {} on {}:",
        list.len(),
        args.user,
        saved.method,
        saved.dataset
    )?;
    for r in &list {
        match &r.title {
            Some(title) => writeln!(
                out,
                "{:>3}. {:<10} {title}  ({:.4})",
                r.rank, r.item, r.score
            )?,
            None => writeln!(out, "{:>3}. {}  ({:.4})", r.rank, r.item, r.score)?,
        }
    }
    Ok(())
}
