//! `cargo xtask bench gru`: GRU training and evaluation throughput through
//! the real code paths, side by side with the PyTorch reference script.

use crate::process::workspace_root;
use anyhow::{Context, Result, bail};
use std::process::Command;

/// What to measure.
#[derive(Debug, clap::Args)]
pub struct GruBench {
    /// Variants (gru, attentional-user-gru, ...).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "gru,attentional-user-gru"
    )]
    variants: Vec<String>,
    /// Hidden sizes.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    hidden: Vec<usize>,
    /// Backends of ours (flex, ndarray; vulkan/cuda need the features).
    #[arg(long, value_delimiter = ',', default_value = "flex,ndarray")]
    backends: Vec<String>,
    /// Training windows measured per run.
    #[arg(long, default_value_t = 16)]
    windows: usize,
    /// The Python with torch for the reference (skipped, loudly, without torch).
    #[arg(long, default_value = "python3")]
    python: String,
    /// Threads of both sides.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn last_line(output: std::process::Output, what: &str) -> Result<String> {
    if !output.status.success() {
        bail!(
            "{what} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().last().unwrap_or_default().to_owned())
}

pub fn run(bench: GruBench) -> Result<()> {
    let root = workspace_root()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let script = root.join("crates/seqrec-models/benches/torch_gru_throughput.py");
    let has_torch = Command::new(&bench.python)
        .args(["-c", "import torch, numpy"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !has_torch {
        eprintln!(
            "NOTE: `{} -c 'import torch'` failed: the PyTorch side is skipped (pip install torch numpy)",
            bench.python
        );
    }
    for variant in &bench.variants {
        for &hidden in &bench.hidden {
            let common = [
                format!("variant={variant}"),
                format!("hidden={hidden}"),
                format!("windows={}", bench.windows),
            ];
            for backend in &bench.backends {
                let output = Command::new(&cargo)
                    .args([
                        "bench",
                        "--quiet",
                        "-p",
                        "seqrec-models",
                        "--bench",
                        "gru_throughput",
                        "--",
                    ])
                    .args(&common)
                    .arg(format!("backend={backend}"))
                    .env("RAYON_NUM_THREADS", bench.threads.to_string())
                    .current_dir(&root)
                    .output()
                    .context("running cargo bench")?;
                println!("{}", last_line(output, "the rust benchmark")?);
            }
            if has_torch {
                let output = Command::new(&bench.python)
                    .arg(&script)
                    .args(&common)
                    .arg(format!("threads={}", bench.threads))
                    .output()
                    .context("running the PyTorch reference")?;
                println!("{}", last_line(output, "the PyTorch reference")?);
            }
        }
    }
    Ok(())
}
