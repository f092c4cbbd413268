//! `seqrec reproduce`: run a preset (methods × datasets × seeds), write
//! `results/<preset>/`, and optionally check it against committed results.

use super::{Common, ComputeArgs};
use anyhow::{Context, Result, bail};
use clap::Args;
use seqrec_runner::{ExperimentConfig, Method, Results, RunOptions, check, plan, run};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// A preset: `configs/<NAME>.toml` (quick, paper, ci).
    #[arg(long, default_value = "quick", conflicts_with = "config")]
    preset: String,
    /// A config file instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Results directory (default `results/<name>`; with `--check`,
    /// `target/reproduce-check/<name>`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only these datasets of the preset (comma-separated).
    #[arg(long, value_delimiter = ',')]
    datasets: Option<Vec<String>>,
    /// Only these methods (comma-separated).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// The GRUs' backend (overriding the preset's), device and CPU permission.
    #[command(flatten)]
    compute: ComputeArgs,
    /// Re-run cells that are already finished.
    #[arg(long)]
    force: bool,
    /// Re-run everything and compare with these committed results
    /// (`results/<name>/results.json`) within the config's tolerances;
    /// fails naming every cell that moved.
    #[arg(long)]
    check: Option<PathBuf>,
    /// Run nothing: list the cells, which are finished, which would run,
    /// and each GRU's estimated peak memory.
    #[arg(long, conflicts_with = "check")]
    plan: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

impl ReproduceArgs {
    fn config_path(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("configs/{}.toml", self.preset)))
    }

    /// Where the run's log goes (known before the config is read; a plan
    /// writes none).
    pub fn log_path(&self) -> Option<PathBuf> {
        (!self.plan).then(|| self.out_dir(&self.config_name()).join("run.log"))
    }

    fn config_name(&self) -> String {
        match &self.config {
            Some(path) => path
                .file_stem()
                .map_or("custom".into(), |s| s.to_string_lossy().into_owned()),
            None => self.preset.clone(),
        }
    }

    fn out_dir(&self, name: &str) -> PathBuf {
        match (&self.out, &self.check) {
            (Some(out), _) => out.clone(),
            (None, Some(_)) => Path::new("target/reproduce-check").join(name),
            (None, None) => Path::new("results").join(name),
        }
    }
}

pub fn reproduce(args: ReproduceArgs, common: &Common) -> Result<()> {
    let path = args.config_path();
    let mut config = ExperimentConfig::from_file(&path).with_context(|| {
        format!(
            "reading preset {} (presets live in configs/; run from the repository root or pass --config)",
            path.display()
        )
    })?;
    let methods = args
        .methods
        .as_ref()
        .map(|names| {
            names
                .iter()
                .map(|n| Method::parse(n))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    config.restrict(args.datasets.as_deref(), methods.as_deref())?;
    let compute = args.compute.compute(config.backend)?;
    config.backend = compute.backend;
    let out = args.out_dir(&args.config_name());
    let options = RunOptions {
        data_dir: common.data_dir.clone(),
        cache_dir: common.cache_dir.clone(),
        out_dir: out.clone(),
        force: args.force || args.check.is_some(),
        progress: !args.quiet,
        stop_after_cells: None,
        device: compute.device,
        allow_slow_cpu: compute.allow_slow_cpu,
    };
    if args.plan {
        let plan = plan(&config, &options)?;
        write!(std::io::stdout().lock(), "{}", plan.describe())?;
        return Ok(());
    }
    tracing::info!(preset = %config.name, out = %out.display(), "reproduce");
    let outcome = run(&config, &options)?;
    let Some(results) = outcome.results else {
        bail!("the run stopped before every cell finished");
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}: {} cells run, {} reused; results in {} (table.md, results.csv, results.json, plots/)",
        config.name,
        outcome.ran,
        outcome.reused,
        out.display()
    )?;
    for skipped in &results.skipped {
        writeln!(stdout, "skipped {}: {}", skipped.dataset, skipped.reason)?;
    }
    if let Some(committed) = &args.check {
        let expected = Results::read(committed)?;
        let report = check(&expected, &results, &config.check);
        writeln!(stdout, "{}", report.describe().trim_end())?;
        if !report.passed() {
            bail!(
                "{} differs from {} (see above)",
                out.join("results.json").display(),
                committed.display()
            );
        }
    }
    Ok(())
}
