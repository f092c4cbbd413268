//! `cargo xtask reproduce`: build `seqrec` (release, with the GPU feature
//! the backend needs) and run `seqrec reproduce` on a preset; `--check`
//! re-runs and compares with the committed `results/<preset>/results.json`.
//! `cargo xtask ci`: exactly what CI runs (`.ci/run`).

use crate::process::{cargo, data_dir, workspace_root};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, clap::Args)]
pub struct ReproduceArgs {
    /// quick (default; CPU, under 30 minutes), paper (full data, GPU) or ci.
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Only these datasets of the preset (comma-separated).
    #[arg(long, value_delimiter = ',')]
    datasets: Option<Vec<String>>,
    /// Only these methods (comma-separated).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// GRU backend: flex, ndarray (CPU), vulkan, cuda (GPU; builds seqrec
    /// with that feature).
    #[arg(long)]
    backend: Option<String>,
    /// Re-run finished cells.
    #[arg(long)]
    force: bool,
    /// Re-run from scratch (into target/reproduce-check/) and compare with
    /// the committed results/PRESET/results.json; fail naming every cell
    /// that moved beyond the preset's tolerances.
    #[arg(long)]
    check: bool,
    /// Run nothing: list the cells, which would run, and each GRU's
    /// estimated peak memory.
    #[arg(long, conflicts_with = "check")]
    plan: bool,
    /// Data root (else $SEQREC_DATA_DIR, else datasets/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Build with the dev profile instead of release (quicker to build,
    /// slower to run).
    #[arg(long)]
    dev: bool,
}

pub fn run(args: ReproduceArgs) -> Result<()> {
    let root = workspace_root();
    let mut build = vec!["build", "--package", "seqrec-runner", "--bin", "seqrec"];
    if !args.dev {
        build.push("--release");
    }
    let feature = match args.backend.as_deref() {
        Some("vulkan") => Some("seqrec-runner/vulkan"),
        Some("cuda") => Some("seqrec-runner/cuda"),
        _ => None,
    };
    if let Some(feature) = feature {
        build.extend(["--features", feature]);
    }
    cargo(&build)?;
    let binary = root
        .join("target")
        .join(if args.dev { "debug" } else { "release" })
        .join("seqrec");
    let mut command = Command::new(&binary);
    command.current_dir(&root);
    command.arg("--data-dir").arg(data_dir(args.data_dir));
    command.args(["reproduce", "--preset", &args.preset]);
    if let Some(datasets) = &args.datasets {
        command.args(["--datasets", &datasets.join(",")]);
    }
    if let Some(methods) = &args.methods {
        command.args(["--methods", &methods.join(",")]);
    }
    if let Some(backend) = &args.backend {
        command.args(["--backend", backend]);
    }
    if args.force {
        command.arg("--force");
    }
    if args.plan {
        command.arg("--plan");
    }
    if args.check {
        let committed = root.join("results").join(&args.preset).join("results.json");
        if !committed.exists() {
            bail!(
                "{} does not exist: there is nothing to check against (run `cargo xtask reproduce --preset {}` and commit results/{}/ first)",
                committed.display(),
                args.preset,
                args.preset
            );
        }
        command.arg("--check").arg(committed);
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    if !status.success() {
        bail!("seqrec reproduce --preset {} failed", args.preset);
    }
    Ok(())
}

/// Runs `.ci/run`, the script CI runs.
pub fn ci() -> Result<()> {
    let root = workspace_root();
    let status = Command::new("bash")
        .arg(root.join(".ci/run"))
        .current_dir(&root)
        .status()
        .context("running .ci/run")?;
    if !status.success() {
        bail!(".ci/run failed");
    }
    Ok(())
}
