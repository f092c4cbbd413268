//! `cargo xtask bench gru`: GRU training and evaluation throughput through
//! the real code paths, side by side with the PyTorch reference script, as
//! the median of interleaved runs (each run of every implementation in
//! turn, so a slow minute of the machine hits all of them alike).

use crate::process::workspace_root;
use anyhow::{Context, Result, bail};
use std::process::Command;

/// What to measure.
#[derive(Debug, clap::Args)]
pub struct GruBench {
    /// Variants (gru, linear-user-gru, rectified-user-gru, attentional-user-gru).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "gru,linear-user-gru,rectified-user-gru,attentional-user-gru"
    )]
    variants: Vec<String>,
    /// Hidden sizes.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    hidden: Vec<usize>,
    /// Parallel lanes (the training batch).
    #[arg(long, value_delimiter = ',', default_value = "32,100")]
    lanes: Vec<usize>,
    /// Backends of ours (flex, ndarray; vulkan/cuda need the features).
    #[arg(long, value_delimiter = ',', default_value = "flex")]
    backends: Vec<String>,
    /// Training windows measured per run (default: 20 below hidden 1000, 10 from 1000 up).
    #[arg(long)]
    windows: Option<usize>,
    /// Interleaved runs per shape; the table shows their median.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Measure training only (no evaluation pass).
    #[arg(long)]
    train_only: bool,
    /// The Python with torch for the reference (skipped, loudly, without torch).
    #[arg(long, default_value = "python3")]
    python: String,
    /// Threads of both sides.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// One run's figures.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Figures {
    train: f64,
    eval: Option<f64>,
}

/// Reads `train N tuples/s[, eval M events/s]` from a benchmark's last line.
fn parse(line: &str) -> Result<Figures> {
    let number_after = |key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let train = number_after(": train ")
        .with_context(|| format!("no training figure in the benchmark's output {line:?}"))?;
    Ok(Figures {
        train,
        eval: number_after("eval "),
    })
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

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "-".to_owned(),
    }
}

fn figure(value: Option<f64>) -> String {
    value.map_or("-".to_owned(), |v| format!("{v:.0}"))
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
    let mut implementations: Vec<String> = bench
        .backends
        .iter()
        .map(|b| format!("seqrec {b}"))
        .collect();
    if has_torch {
        implementations.push("PyTorch".to_owned());
    }
    let mut rows = Vec::new();
    for variant in &bench.variants {
        for &hidden in &bench.hidden {
            for &lanes in &bench.lanes {
                let windows = bench
                    .windows
                    .unwrap_or(if hidden >= 1000 { 10 } else { 20 });
                let common = [
                    format!("variant={variant}"),
                    format!("hidden={hidden}"),
                    format!("lanes={lanes}"),
                    format!("windows={windows}"),
                ];
                let mut runs: Vec<Vec<Figures>> = vec![Vec::new(); implementations.len()];
                for run in 0..bench.runs.max(1) {
                    for (index, implementation) in implementations.iter().enumerate() {
                        let output = match bench.backends.get(index) {
                            Some(backend) => Command::new(&cargo)
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
                                .arg(format!("eval={}", !bench.train_only))
                                .env("RAYON_NUM_THREADS", bench.threads.to_string())
                                .current_dir(&root)
                                .output()
                                .context("running cargo bench")?,
                            None => Command::new(&bench.python)
                                .arg(&script)
                                .args(&common)
                                .arg(format!("eval={}", u8::from(!bench.train_only)))
                                .arg(format!("threads={}", bench.threads))
                                .output()
                                .context("running the PyTorch reference")?,
                        };
                        let line = last_line(output, implementation)?;
                        eprintln!("run {}/{}: {line}", run + 1, bench.runs);
                        runs[index].push(parse(&line)?);
                    }
                }
                let medians: Vec<(Option<f64>, Option<f64>)> = runs
                    .iter()
                    .map(|r| {
                        (
                            median(r.iter().map(|f| f.train).collect()),
                            median(r.iter().filter_map(|f| f.eval).collect()),
                        )
                    })
                    .collect();
                let reference = has_torch.then(|| medians[medians.len() - 1]);
                for (implementation, (train, eval)) in implementations.iter().zip(&medians) {
                    let (train_ratio, eval_ratio) = match reference {
                        Some((t, e)) if !implementation.starts_with("PyTorch") => {
                            (ratio(*train, t), ratio(*eval, e))
                        }
                        _ => ("-".to_owned(), "-".to_owned()),
                    };
                    rows.push(format!(
                        "| {variant} | {hidden} | {lanes} | {implementation} | {} | {} | {train_ratio} | {eval_ratio} |",
                        figure(*train),
                        figure(*eval)
                    ));
                }
                eprintln!("{}", rows[rows.len() - implementations.len()..].join("\n"));
            }
        }
    }
    println!(
        "Median of {} interleaved runs, {} threads each (training windows: {}).\n",
        bench.runs,
        bench.threads,
        bench
            .windows
            .map_or("20 below hidden 1000, 10 from 1000".to_owned(), |w| w
                .to_string())
    );
    println!(
        "| method | hidden | lanes | implementation | training tuples/s | evaluation events/s | training vs PyTorch | evaluation vs PyTorch |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        println!("{row}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_benchmarks_lines() {
        let ours = "rust-flex gru hidden=100 lanes=100 items=8917 windows=20: train 4062 tuples/s, eval 4613 events/s (5490 events)";
        assert_eq!(
            parse(ours).unwrap(),
            Figures {
                train: 4062.0,
                eval: Some(4613.0)
            }
        );
        let torch =
            "torch-cpu gru hidden=32 lanes=100 items=300 windows=3 threads=2: train 16143 tuples/s";
        assert_eq!(
            parse(torch).unwrap(),
            Figures {
                train: 16143.0,
                eval: None
            }
        );
        assert!(parse("Traceback (most recent call last):").is_err());
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
