//! `seqrec`: the command-line tool.

mod commands;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

/// Sequential next-item recommendation: data, baselines, user-based GRUs.
#[derive(Debug, Parser)]
#[command(name = "seqrec", version, about)]
struct Cli {
    /// Data root (else $SEQREC_DATA_DIR, else `datasets/`).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Cache of preprocessed splits (else $SEQREC_CACHE_DIR, else ~/.cache/seqrec).
    #[arg(long, global = true, env = "SEQREC_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the split cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect, export and generate datasets.
    #[command(subcommand)]
    Data(commands::data::DataCommand),
    /// Measure a recommender on a dataset (MRR, Recall, NDCG at k).
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Fit a method and save it as a model directory.
    Train(commands::train::TrainArgs),
    /// The top items for a user from a saved model, with titles where the
    /// dataset has them.
    Recommend(commands::train::RecommendArgs),
    /// Run a preset (methods × datasets × seeds) into runs/PRESET/ (not
    /// tracked) and compare it with the published results/PRESET/:
    /// Table 2 beside the paper, significance, claims, plots.
    Reproduce(commands::reproduce::ReproduceArgs),
    /// The devices each GRU backend of this build finds (adapter, shader
    /// compiler, libdevice), or why it cannot run.
    Devices(commands::devices::DevicesArgs),
    /// GRU training speed over a fixed number of windows and evaluation
    /// speed on a sample of users (one JSON line per method).
    Throughput(commands::throughput::ThroughputArgs),
    /// Search a method's hyperparameters on the validation split (grid,
    /// random or TPE; resumable; outputs and a final test comparison).
    Tune(commands::tune::TuneArgs),
    /// Serve a model directory over HTTP: per-user state that advances
    /// with each event, durable events, recommendations (JSON API).
    Serve(commands::serve::ServeArgs),
}

/// Runs the command; a failure is printed as one message (the error and
/// its causes), without the backtrace anyhow attaches under
/// `RUST_BACKTRACE=1`: these are user errors, not crashes.
fn main() -> std::process::ExitCode {
    // Training reuses large buffers; keep them in the heap (see the module).
    seqrec_models::allocator::retain_freed_memory();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let log_file = match &cli.command {
        Command::Reproduce(args) => args.log_path(),
        _ => None,
    };
    init_logging(cli.verbose, log_file.as_deref())?;
    let common = commands::Common {
        data_dir: seqrec_data::resolve_data_dir(cli.data_dir.as_deref()),
        cache_dir: if cli.no_cache {
            None
        } else {
            Some(seqrec_data::resolve_cache_dir(cli.cache_dir.as_deref()))
        },
    };
    match cli.command {
        Command::Data(command) => commands::data::run(command, &common),
        Command::Evaluate(args) => commands::evaluate::run(args, &common),
        Command::Train(args) => commands::train::train(args, &common),
        Command::Recommend(args) => commands::train::recommend(args, &common),
        Command::Reproduce(args) => commands::reproduce::reproduce(args, &common),
        Command::Devices(args) => commands::devices::run(args),
        Command::Throughput(args) => commands::throughput::run(args, &common),
        Command::Serve(args) => commands::serve::run(args),
        Command::Tune(args) => commands::tune::run(args, &common),
    }
}

/// Logs to stderr at the verbosity asked for (RUST_LOG overrides) and, for
/// long runs, everything at info level to a file as well.
fn init_logging(verbose: u8, file: Option<&std::path::Path>) -> Result<()> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // wgpu logs, at error level, every graphics API it probes and cannot
    // open (no OpenGL, no Vulkan driver); seqrec reports a missing device
    // itself, so those show only with -vv (or RUST_LOG).
    let level = match verbose {
        0 => "warn,wgpu_hal=off,wgpu_core=off,naga=off",
        1 => "info,wgpu_hal=off,wgpu_core=off,naga=off",
        _ => "debug",
    };
    // Colour is for terminals: a pipe or a file gets plain text, and
    // NO_COLOR (no-color.org) turns it off everywhere.
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stderr = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)));
    let file_layer = match file {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening the log {}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(log))
                    .with_filter(EnvFilter::new("info")),
            )
        }
        None => None,
    };
    tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .init();
    Ok(())
}
