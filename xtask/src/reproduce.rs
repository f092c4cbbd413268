//! `cargo xtask reproduce`: build `seqrec` (release, with the GPU feature
//! the backend needs) and run `seqrec reproduce` on a preset into `runs/`,
//! compared with the published `results/<preset>/`; `--check` re-runs
//! everything and fails on any difference; `--publish` replaces the
//! published results.
//! `cargo xtask ci`: exactly what CI runs (`.ci/run`).

use crate::process::{Profile, backend_feature, cargo, data_dir, seqrec_binary, workspace_root};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, clap::Args)]
pub struct ReproduceArgs {
    /// quick (default; CPU: about half an hour of running, after a release
    /// build of about 20 minutes on 2 cores), paper (full data, GPU) or ci.
    #[arg(long, default_value = "quick")]
    preset: String,
    /// Only these datasets of the preset (comma-separated).
    #[arg(long, value_delimiter = ',')]
    datasets: Option<Vec<String>>,
    /// Only these methods (comma-separated).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// These seeds instead of the preset's (comma-separated).
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
    /// GRU backend: flex, ndarray (CPU), vulkan, cuda (GPU; builds seqrec
    /// with that feature).
    #[arg(long)]
    backend: Option<String>,
    /// The GRUs' products: fp32, tf32 (the default), bf16 (cuda only),
    /// tf32-emulated or bf16-emulated.
    #[arg(long)]
    precision: Option<String>,
    /// Train GRUs on a CPU backend even where the estimate says it takes
    /// days (refused otherwise).
    #[arg(long)]
    allow_slow_cpu: bool,
    /// Re-run finished cells.
    #[arg(long)]
    force: bool,
    /// Re-run every cell and fail naming every published cell
    /// (results/PRESET/) that moved beyond the preset's tolerances or could
    /// not run.
    #[arg(long)]
    check: bool,
    /// After a complete run, replace the published results/PRESET/ with it
    /// (then commit them).
    #[arg(long)]
    publish: bool,
    /// Run nothing: list the cells, which would run, and each GRU's
    /// estimated peak memory.
    #[arg(long, conflicts_with_all = ["check", "publish"])]
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
    let root = workspace_root()?;
    let mut build = vec!["build", "--package", "seqrec-cli", "--bin", "seqrec"];
    if !args.dev {
        build.push("--release");
    }
    // The backend the run will use: the flag, else the preset's own.
    let backend = match &args.backend {
        Some(b) => b.clone(),
        None => preset_backend(&root, &args.preset)?,
    };
    if let Some(feature) = backend_feature(&backend) {
        if backend == "cuda" {
            crate::setup_cuda::ensure_ready()?;
        }
        build.extend(["--features", feature]);
    }
    cargo(&build)?;
    let binary = seqrec_binary(if args.dev {
        Profile::Dev
    } else {
        Profile::Release
    })?;
    let mut command = Command::new(&binary);
    command.current_dir(&root);
    command.arg("--data-dir").arg(data_dir(args.data_dir)?);
    command.args(["reproduce", "--preset", &args.preset]);
    if let Some(datasets) = &args.datasets {
        command.args(["--datasets", &datasets.join(",")]);
    }
    if let Some(methods) = &args.methods {
        command.args(["--methods", &methods.join(",")]);
    }
    if let Some(seeds) = &args.seeds {
        let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
        command.args(["--seeds", &seeds.join(",")]);
    }
    if let Some(backend) = &args.backend {
        command.args(["--backend", backend]);
    }
    if let Some(precision) = &args.precision {
        command.args(["--precision", precision]);
    }
    if args.allow_slow_cpu {
        command.arg("--allow-slow-cpu");
    }
    if args.force {
        command.arg("--force");
    }
    if args.plan {
        command.arg("--plan");
    }
    if args.check {
        command.arg("--check");
    }
    if args.publish {
        command.arg("--publish");
    }
    let status = command
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    if !status.success() {
        bail!("seqrec reproduce --preset {} failed", args.preset);
    }
    Ok(())
}

/// The `backend` a preset file names (`flex` where it names none); a
/// preset that is not a file of `configs/` is left to `seqrec` to report.
fn preset_backend(root: &std::path::Path, preset: &str) -> Result<String> {
    let path = root.join("configs").join(format!("{preset}.toml"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok("flex".into());
    };
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    Ok(table
        .get("backend")
        .and_then(|b| b.as_str())
        .unwrap_or("flex")
        .to_owned())
}

/// Runs `.ci/run`, the script CI runs.
pub fn ci() -> Result<()> {
    let root = workspace_root()?;
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
