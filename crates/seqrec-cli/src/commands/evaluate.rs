//! `seqrec evaluate`: measure a recommender on a dataset's validation or test split.

use super::data::{load_with, loading_options};
use super::{Common, ComputeArgs, SettingsArgs};
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use seqrec_baselines::Baseline;
use seqrec_core::{Part, Scorer};
use seqrec_metrics::{EvalConfig, EvalReport, OutsideScores, TieRule, evaluate};
use seqrec_models::{Backend, GruParams, GruVariant, Precision};
use seqrec_runner::config::MethodSettings;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Dataset name or table path (see `seqrec data stats --help`).
    #[arg(long)]
    dataset: String,
    /// TOML file of loading options.
    #[arg(long)]
    options: Option<PathBuf>,
    /// The method to fit and evaluate: pop, item-knn, decay-knn, bpr-mf,
    /// seq-mf, gru, linear-user-gru, rectified-user-gru, attentional-user-gru.
    #[arg(long, required_unless_present = "scores", conflicts_with = "scores")]
    method: Option<String>,
    #[command(flatten)]
    settings: SettingsArgs,
    #[command(flatten)]
    gru: GruArgs,
    /// Seed of every random choice of the method.
    #[arg(long, default_value_t = 2017)]
    seed: u64,
    /// Results of another tool on the exported split (`user_index,position,items`
    /// or `user_index,position,scores`; see docs/book/src/evaluation.md).
    #[arg(long)]
    scores: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "test")]
    split: SplitArg,
    /// How ties with the target count (spec: pessimistic).
    #[arg(long, value_enum, default_value = "pessimistic")]
    tie_rule: TieArg,
    /// Leave items already in the history out of the ranking.
    #[arg(long)]
    exclude_seen: bool,
    /// Cutoffs k, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "5,10,20")]
    cutoffs: Vec<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Write each evaluated user's metrics here (CSV: `user_index,events`,
    /// then every metric at every cutoff), for significance tests.
    #[arg(long)]
    per_user: Option<PathBuf>,
}

/// How the GRUs run (ignored by the other methods).
#[derive(Debug, Args)]
pub struct GruArgs {
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// Checkpoint file written after every epoch.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Continue from `--checkpoint` if it exists.
    #[arg(long, requires = "checkpoint")]
    pub resume: bool,
    /// Write the per-epoch training history (JSON) here.
    #[arg(long)]
    pub history: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SplitArg {
    Validation,
    Test,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TieArg {
    Pessimistic,
    Optimistic,
    Average,
}

pub fn run(args: EvaluateArgs, common: &Common) -> Result<()> {
    let settings = args.settings.read(&args.dataset)?;
    let options = loading_options(args.options.as_deref(), settings.options.as_ref())?;
    let data = load_with(&args.dataset, options, common)?;
    let part = match args.split {
        SplitArg::Validation => Part::Validation,
        SplitArg::Test => Part::Test,
    };
    let config = EvalConfig {
        cutoffs: args.cutoffs.clone(),
        tie_rule: match args.tie_rule {
            TieArg::Pessimistic => TieRule::Pessimistic,
            TieArg::Optimistic => TieRule::Optimistic,
            TieArg::Average => TieRule::Average,
        },
        exclude_seen: args.exclude_seen,
        ..EvalConfig::default()
    };
    let fit_started = Instant::now();
    let (method, scorer, extra) = fit(&args, &settings, &data.split)?;
    let fit_seconds = fit_started.elapsed().as_secs_f64();
    tracing::info!(method, fit_seconds, "fitted");
    let bar = ProgressBar::new(0).with_message(format!("evaluating {method}"));
    bar.set_style(
        ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} events ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let report = evaluate(scorer.as_ref(), &data.split, part, &config, Some(&bar))?;
    bar.finish_and_clear();
    let eval_seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &args.per_user {
        write_per_user(path, &report).with_context(|| format!("writing {}", path.display()))?;
    }
    write_report(
        &method,
        &data.name,
        &report,
        fit_seconds,
        eval_seconds,
        &extra,
        args.json,
    )
}

type Extra = serde_json::Map<String, serde_json::Value>;

/// Fits the requested method, or reads the outside scores.
fn fit(
    args: &EvaluateArgs,
    settings: &MethodSettings,
    split: &seqrec_core::Split,
) -> Result<(String, Box<dyn Scorer + Send>, Extra)> {
    if let Some(path) = &args.scores {
        let scores = OutsideScores::read(path, split.catalogue_size())
            .with_context(|| format!("reading {}", path.display()))?;
        let name = format!("outside:{}", path.display());
        return Ok((name, Box::new(scores), Extra::new()));
    }
    let name = args.method.as_deref().unwrap_or_default();
    if let Ok(variant) = GruVariant::parse(name) {
        let backend = settings.backend.unwrap_or(Backend::Flex);
        let (scorer, extra) = fit_gru(
            variant,
            &settings.gru,
            &args.gru,
            (backend, settings.precision),
            split,
            args.seed,
        )?;
        return Ok((name.to_owned(), scorer, extra));
    }
    let method = Baseline::parse(name).map_err(|_| {
        anyhow::anyhow!(
            "unknown method `{name}`; known: pop, item-knn, decay-knn, bpr-mf, seq-mf, gru, linear-user-gru, rectified-user-gru, attentional-user-gru"
        )
    })?;
    let spinner = ProgressBar::new_spinner().with_message(format!("fitting {name}"));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let model = method.fit(&settings.baselines, split, args.seed)?;
    spinner.finish_and_clear();
    Ok((name.to_owned(), model, Extra::new()))
}

/// Trains a GRU with a progress bar; the extra report keys are its history.
pub fn fit_gru(
    variant: GruVariant,
    params: &GruParams,
    args: &GruArgs,
    (default_backend, default_precision): (Backend, Option<Precision>),
    split: &seqrec_core::Split,
    seed: u64,
) -> Result<(Box<dyn Scorer + Send>, Extra)> {
    let compute = args.compute.compute(default_backend, default_precision)?;
    let bar = seqrec_runner::progress::training_bar(false);
    let options = compute.train_options(args.checkpoint.clone(), args.resume, Some(bar.clone()));
    let fitted = seqrec_models::fit(variant, params, split, seed, &options)
        .with_context(|| format!("training {}", variant.name()))?;
    bar.finish_and_clear();
    let report = &fitted.report;
    if let Some(path) = &args.history {
        let json = serde_json::to_string_pretty(report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    let mut extra = Extra::new();
    extra.insert("epochs_run".into(), report.epochs_run.into());
    extra.insert("best_epoch".into(), report.best_epoch.into());
    extra.insert(
        "train_tuples_per_second".into(),
        report.train_tuples_per_second().into(),
    );
    extra.insert("backend".into(), compute.backend.name().into());
    // What the products were (fp32 on the CPU whatever was asked).
    if let Some(precision) = report.precision {
        extra.insert("precision".into(), precision.name().into());
    }
    if let Some(device) = &report.device {
        extra.insert("device".into(), serde_json::to_value(device)?);
    }
    extra.insert("stopped_early".into(), report.stopped_early.into());
    Ok((Box::new(fitted.scorer), extra))
}

/// One CSV row per evaluated user.
pub fn write_per_user(path: &std::path::Path, report: &EvalReport) -> Result<()> {
    Ok(seqrec_runner::experiment::write_per_user(path, report)?)
}

/// Prints a report as JSON (one object) or as a short table.
pub fn write_report(
    method: &str,
    dataset: &str,
    report: &EvalReport,
    fit_seconds: f64,
    eval_seconds: f64,
    extra: &Extra,
    json: bool,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let mut object = serde_json::Map::new();
        object.insert("method".into(), method.into());
        object.insert("dataset".into(), dataset.into());
        object.insert("split".into(), report.part.name().into());
        object.insert("events".into(), report.events.into());
        object.insert("users".into(), report.users.into());
        object.insert("tie_rule".into(), serde_json::to_value(report.tie_rule)?);
        object.insert("exclude_seen".into(), report.exclude_seen.into());
        for (key, value) in report.to_map() {
            object.insert(key, value.into());
        }
        object.insert("fit_seconds".into(), fit_seconds.into());
        object.insert("eval_seconds".into(), eval_seconds.into());
        for (key, value) in extra {
            object.insert(key.clone(), value.clone());
        }
        writeln!(out, "{}", serde_json::Value::Object(object))?;
        return Ok(());
    }
    writeln!(
        out,
        "{method} on {dataset}, {} split: {} events, {} users",
        report.part.name(),
        report.events,
        report.users
    )?;
    for (key, value) in report.to_map() {
        writeln!(out, "  {key:<16} {value:.5}")?;
    }
    writeln!(
        out,
        "  fit {fit_seconds:.2} s, evaluation {eval_seconds:.2} s"
    )?;
    for (key, value) in extra {
        writeln!(out, "  {key:<16} {value}")?;
    }
    Ok(())
}
