//! `seqrec tune`: a hyperparameter search on validation (crate
//! seqrec-tune), resumable, with its outputs and a final test comparison.

use super::{Common, parse_duration};
use anyhow::{Context, Result, bail};
use clap::Args;
use seqrec_core::Cancel;
use seqrec_models::Backend;
use seqrec_runner::Method;
use seqrec_tune::{StudyEnd, TuneOutcome, TuneRequest};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct TuneArgs {
    /// Dataset name or table path (see `seqrec data stats --help`).
    #[arg(long)]
    dataset: String,
    /// The method to tune: item-knn, decay-knn, bpr-mf, seq-mf, gru,
    /// linear-user-gru, rectified-user-gru, attentional-user-gru.
    #[arg(long)]
    method: String,
    /// A preset or settings file with a `[tune]` table: the search space
    /// (`[tune.space.<table>]`) and the study's metric, trials, sampler,
    /// seed and pruner. The file's other settings are where the search
    /// starts (trial 0).
    #[arg(long)]
    config: PathBuf,
    /// Trials of the study, trial 0 included (default: `[tune] trials`).
    /// Raising it on a finished study runs the extra trials.
    #[arg(long)]
    trials: Option<u64>,
    /// Where the study lives: a file (embedded; default `<out>/study.db`).
    /// Running the same command again resumes the study.
    #[arg(long)]
    storage: Option<String>,
    /// The study's name in the store (default `<method>-<dataset>`).
    #[arg(long)]
    study: Option<String>,
    /// Seed of the sampler (default: `[tune] seed`).
    #[arg(long)]
    seed: Option<u64>,
    /// Trials run in parallel by this process.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// GPU devices, comma-separated: one worker per device.
    #[arg(long, value_delimiter = ',')]
    device: Vec<usize>,
    /// Outputs: trials.csv, trials.json, best.toml, plots/, and after the
    /// refit final.json and summary.md (default `runs/tune/<study>/`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only rebuild the outputs from the store (no trial runs).
    #[arg(long)]
    report: bool,
    /// Start no trial after this long (`90s`, `45m`, `2h`); the study is
    /// left resumable.
    #[arg(long, value_parser = parse_duration)]
    time_budget: Option<Duration>,
    /// A running trial whose worker sent no heartbeat for this long is run
    /// again by another worker (`30s`, `5m`).
    #[arg(long, value_parser = parse_duration, default_value = "60s")]
    heartbeat_timeout: Duration,
    /// GRU compute backend (default: the preset's, else flex).
    #[arg(long)]
    backend: Option<String>,
    /// Do not refit the best settings and test them when the study ends.
    #[arg(long)]
    no_refit: bool,
}

/// Ctrl-C raises `cancel` (running trials are given back to the study); a
/// second Ctrl-C ends the process at once.
fn cancel_on_ctrl_c(cancel: Cancel) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::warn!("interrupted: giving the running trials back to the study (Ctrl-C again to quit at once)");
                cancel.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    });
}

pub fn run(args: TuneArgs, common: &Common) -> Result<()> {
    let method = Method::parse(&args.method)?;
    let mut request = TuneRequest::new(args.config.clone(), &args.dataset, method);
    request.trials = args.trials;
    request.seed = args.seed;
    request.storage = args.storage.clone();
    request.study = args.study.clone();
    request.out = args.out.clone();
    request.jobs = args.jobs;
    request.devices = args.device.clone();
    request.heartbeat_timeout = args.heartbeat_timeout;
    request.time_budget = args.time_budget;
    request.progress = !args.report;
    request.data_dir = common.data_dir.clone();
    request.cache_dir = common.cache_dir.clone();
    request.backend = args.backend.as_deref().map(Backend::parse).transpose()?;
    request.refit = !args.no_refit;
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let outcome = if args.report {
        seqrec_tune::report(&request)
    } else {
        cancel_on_ctrl_c(request.cancel.clone());
        seqrec_tune::tune(&request)
    }
    .with_context(|| format!("tuning {} on {}", args.method, args.dataset))?;
    print_outcome(&outcome)?;
    if outcome.end == StudyEnd::Cancelled && !args.report {
        bail!(
            "interrupted; the study is saved in {} and resumes when the same command runs again",
            outcome.storage
        );
    }
    Ok(())
}

fn print_outcome(outcome: &TuneOutcome) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let count = |s: seqrec_tune::TrialState| outcome.trials.iter().filter(|t| t.state == s).count();
    writeln!(
        out,
        "{} trials: {} complete, {} pruned, {} failed{}",
        outcome.trials.len(),
        count(seqrec_tune::TrialState::Complete),
        count(seqrec_tune::TrialState::Pruned),
        count(seqrec_tune::TrialState::Failed),
        match outcome.end {
            StudyEnd::Finished => "",
            StudyEnd::TimeBudget => " (time budget reached; run the command again to go on)",
            StudyEnd::Cancelled => " (not finished)",
        }
    )?;
    if let Some(best) = outcome.best() {
        writeln!(
            out,
            "best: trial {}, validation {:.5}: {}",
            best.number,
            best.value.unwrap_or(f64::NAN),
            seqrec_tune::report::describe(&best.params)
        )?;
    }
    if let Some(c) = &outcome.comparison {
        let mrr = |m: &std::collections::BTreeMap<String, f64>| {
            m.get("mrr@20").copied().unwrap_or(f64::NAN)
        };
        write!(
            out,
            "test MRR@20: tuned {:.5}, starting {:.5}",
            mrr(&c.tuned.test),
            mrr(&c.start.test)
        )?;
        match (&c.test, c.significant) {
            (Some(t), Some(s)) => writeln!(
                out,
                " (Wilcoxon p = {:.4}, bootstrap interval [{:+.5}, {:+.5}]: {})",
                t.wilcoxon.p_value,
                t.bootstrap.low,
                t.bootstrap.high,
                if s { "significant" } else { "not significant" }
            )?,
            _ => writeln!(out, " (the starting settings were best)")?,
        }
    }
    writeln!(out, "outputs: {}", outcome.out.display())?;
    Ok(())
}
