//! `cargo xtask`: project automation: reproduction, CI, benchmarks, data.

// A command-line tool: printing results to stdout is its job.
#![allow(clippy::print_stdout)]

mod bench;
mod bench_gru;
mod bench_kernels;
mod bench_serve;
mod bench_soak;
mod fetch;
mod gpu_check;
mod load;
mod process;
mod reproduce;
mod serve_process;
mod setup_cuda;

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
    /// Download ML-10M, LastFM-1K, ml-100k and ml-latest-small
    /// (datasets/manifest.toml) into the data root, verifying SHA-256, and
    /// unpack them where the loaders look.
    FetchData(fetch::FetchArgs),
    /// Run a preset (quick, paper, ci) into results/PRESET/: Table 2
    /// beside the paper, significance, claims, plots. `--check` compares a
    /// fresh run with the committed results.
    Reproduce(reproduce::ReproduceArgs),
    /// Run exactly what CI runs (.ci/run: fmt, clippy, the README's tests).
    Ci,
    /// Make `--features cuda` build offline: install LLVM 23.1 from PyPI
    /// (pinned, hash-checked wheels) where burn's CUDA build looks for it.
    SetupCuda(setup_cuda::SetupCudaArgs),
    /// Prepare the GPU check for a GPU machine (`--prepare DIR`), or run
    /// it here at tiny sizes (`--dry-run OUT`).
    GpuCheck(gpu_check::GpuCheckArgs),
}

/// A failure prints as one message with its causes, without the backtrace
/// anyhow attaches under `RUST_BACKTRACE=1`.
fn main() -> std::process::ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Bench(bench) => bench::run(bench),
        Command::FetchData(args) => fetch::run(args),
        Command::Reproduce(args) => reproduce::run(args),
        Command::Ci => reproduce::ci(),
        Command::SetupCuda(args) => setup_cuda::run(args),
        Command::GpuCheck(args) => gpu_check::run(args),
    }
}
