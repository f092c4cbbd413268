//! `seqrec`: the command-line tool.

mod commands;

use anyhow::Result;
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
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let common = commands::Common {
        data_dir: seqrec_data::resolve_data_dir(cli.data_dir.as_deref()),
        cache_dir: if cli.no_cache {
            None
        } else {
            Some(commands::cache_dir(cli.cache_dir))
        },
    };
    match cli.command {
        Command::Data(command) => commands::data::run(command, &common),
        Command::Evaluate(args) => commands::evaluate::run(args, &common),
    }
}
