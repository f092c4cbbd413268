//! `cargo xtask`: project automation (benchmarks now; reproduction and CI later).

// A command-line tool: printing results to stdout is its job.
#![allow(clippy::print_stdout)]

mod bench;
mod process;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "seqrec project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a benchmark and print its figures.
    #[command(subcommand)]
    Bench(bench::Bench),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Bench(bench) => bench::run(bench),
    }
}
