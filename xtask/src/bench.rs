//! `cargo xtask bench data`: load + order + split of an ML-10M-sized file;
//! `baselines`; `gru`, `serve` and `kernels` in their own modules.

use crate::process::{Measured, Profile, cargo, measure, seqrec_binary, target_dir};
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Subcommand)]
pub enum Bench {
    /// Write a 10,000,054-line ML-10M-format file (69,878 users, 10,677 items)
    /// with the generator, then time the first load (parse, order, split,
    /// write cache) and the second (from the cache), with peak memory.
    Data {
        /// Where the generated data and cache go (default target/bench-data).
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Reuse an already generated file of the right size.
        #[arg(long)]
        reuse: bool,
    },
    /// Fit and evaluate every baseline (Table 1 settings) on the ML-10M-scale
    /// synthetic file of `bench data` (generated if missing), all test events.
    Baselines {
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Only these methods (default: all five).
        #[arg(long, value_delimiter = ',')]
        methods: Vec<String>,
    },
    /// Training tuples/s and evaluation events/s of the GRUs (ours on each
    /// backend, then PyTorch CPU on the same work), ml-latest-small shapes.
    Gru(crate::bench_gru::GruBench),
    /// Requests/s and p50/p99 latency of `seqrec serve` (release, its own
    /// process) for recommendations and one-event writes at 1, 8 and 64
    /// keep-alive clients on 127.0.0.1.
    Serve(crate::bench_serve::ServeBench),
    /// Kernel launches of a GRU training window's recurrence on a wgpu
    /// device under burn's plain kernels, its `fusion` and `autotune`
    /// features, and seqrec's fused element-wise kernels (one build of the
    /// probe per configuration).
    Kernels(crate::bench_kernels::KernelBench),
}

pub fn run(bench: Bench) -> Result<()> {
    match bench {
        Bench::Data { workdir, reuse } => data(workdir, reuse),
        Bench::Baselines { workdir, methods } => baselines(workdir, methods),
        Bench::Gru(gru) => crate::bench_gru::run(gru),
        Bench::Serve(serve) => crate::bench_serve::run(serve),
        Bench::Kernels(kernels) => crate::bench_kernels::run(kernels),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Builds the release binary and makes sure the ML-10M-scale file exists.
fn prepare(workdir: &std::path::Path, reuse: bool) -> Result<PathBuf> {
    cargo(&["build", "--release", "--quiet", "-p", "seqrec-cli"])?;
    let seqrec = seqrec_binary(Profile::Release)?;
    let ratings = workdir.join("ml-10M100K/ratings.dat");
    if !(reuse && ratings.exists()) {
        eprintln!("generating {} ...", ratings.display());
        let mut generate = Command::new(&seqrec);
        generate.args([
            "data",
            "generate",
            "--preset",
            "ml10m-scale",
            "--format",
            "movielens-dat",
            "--out",
        ]);
        generate.arg(&ratings);
        let (m, _) = measure(generate)?;
        eprintln!("generated in {:.1} s", m.wall.as_secs_f64());
    }
    Ok(seqrec)
}

fn data(workdir: Option<PathBuf>, reuse: bool) -> Result<()> {
    let workdir = match workdir {
        Some(dir) => dir,
        None => target_dir()?.join("bench-data"),
    };
    let seqrec = prepare(&workdir, reuse)?;
    let ratings = workdir.join("ml-10M100K/ratings.dat");
    let cache = workdir.join("cache");
    let lines = std::fs::read(&ratings)
        .with_context(|| format!("reading {}", ratings.display()))?
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    let _ = std::fs::remove_dir_all(&cache);
    let stats = |label: &str| -> Result<(Measured, serde_json::Value)> {
        let mut cmd = Command::new(&seqrec);
        cmd.arg("--data-dir")
            .arg(&workdir)
            .arg("--cache-dir")
            .arg(&cache);
        cmd.args(["data", "stats", "--dataset", "ml-10m", "--json"]);
        let (m, out) = measure(cmd)?;
        let json: serde_json::Value = serde_json::from_str(out.trim()).context("stats output")?;
        eprintln!(
            "{label}: {:.2} s, peak RSS {:.0} MiB",
            m.wall.as_secs_f64(),
            mib(m.peak_rss)
        );
        Ok((m, json))
    };
    let (first, json) = stats("first load (parse + order + split + write cache)")?;
    let (second, json2) = stats("second load (from cache)")?;
    anyhow::ensure!(
        json2["from_cache"] == true,
        "the second load did not use the cache"
    );
    anyhow::ensure!(json["events"] == json2["events"], "cache changed the data");
    let report = serde_json::json!({
        "benchmark": "data",
        "lines": lines,
        "users": json["users"],
        "items": json["items"],
        "events": json["events"],
        "first_load_seconds": first.wall.as_secs_f64(),
        "first_load_peak_rss_mib": mib(first.peak_rss),
        "cached_load_seconds": second.wall.as_secs_f64(),
        "cached_load_peak_rss_mib": mib(second.peak_rss),
        "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    let out = target_dir()?.join("bench-results");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("data.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn baselines(workdir: Option<PathBuf>, methods: Vec<String>) -> Result<()> {
    let workdir = match workdir {
        Some(dir) => dir,
        None => target_dir()?.join("bench-data"),
    };
    let seqrec = prepare(&workdir, true)?;
    let methods = if methods.is_empty() {
        ["pop", "item-knn", "decay-knn", "bpr-mf", "seq-mf"]
            .map(String::from)
            .to_vec()
    } else {
        methods
    };
    let mut results = Vec::new();
    for method in &methods {
        let mut cmd = Command::new(&seqrec);
        cmd.arg("--data-dir")
            .arg(&workdir)
            .arg("--cache-dir")
            .arg(workdir.join("cache"));
        cmd.args([
            "evaluate",
            "--dataset",
            "ml-10m",
            "--split",
            "test",
            "--json",
            "--method",
            method,
        ]);
        let (m, out) = measure(cmd).with_context(|| format!("running {method}"))?;
        let json: serde_json::Value =
            serde_json::from_str(out.trim()).context("evaluate output")?;
        eprintln!(
            "{method:>10}: fit {:.1} s, evaluation of {} test events {:.1} s, peak RSS {:.0} MiB",
            json["fit_seconds"].as_f64().unwrap_or(f64::NAN),
            json["events"],
            json["eval_seconds"].as_f64().unwrap_or(f64::NAN),
            mib(m.peak_rss)
        );
        results.push(serde_json::json!({
            "method": method,
            "fit_seconds": json["fit_seconds"],
            "eval_seconds": json["eval_seconds"],
            "events": json["events"],
            "mrr@20": json["mrr@20"],
            "recall@20": json["recall@20"],
            "wall_seconds": m.wall.as_secs_f64(),
            "peak_rss_mib": mib(m.peak_rss),
        }));
    }
    let out = target_dir()?.join("bench-results");
    std::fs::create_dir_all(&out)?;
    std::fs::write(
        out.join("baselines.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    println!("{}", serde_json::to_string_pretty(&results)?);
    Ok(())
}
