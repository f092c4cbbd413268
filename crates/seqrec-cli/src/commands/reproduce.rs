//! `seqrec reproduce`: run a preset (methods × datasets × seeds) into an
//! untracked folder (`runs/<preset>/`), then compare it with the published
//! results (`results/<preset>/`) within the preset's `[check]` tolerances.
//! Only `--publish` writes the published folder.

use super::{Common, ComputeArgs};
use anyhow::{Context, Result, bail};
use clap::Args;
use seqrec_runner::{ExperimentConfig, Method, Results, RunOptions, check, plan, run};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where runs go: untracked (`.gitignore`), kept between runs so that a
/// machine reuses the cells it computed itself.
const RUNS_DIR: &str = "runs";
/// The published reference results, one folder per preset.
const PUBLISHED_DIR: &str = "results";

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// A preset: `configs/<NAME>.toml` (quick, paper, ci).
    #[arg(long, default_value = "quick", conflicts_with = "config")]
    preset: String,
    /// A config file instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Results directory (default `runs/<name>`, not tracked by git).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only these datasets of the preset (comma-separated).
    #[arg(long, value_delimiter = ',')]
    datasets: Option<Vec<String>>,
    /// Only these methods (comma-separated).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// These seeds instead of the preset's (comma-separated).
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
    /// The GRUs' backend (overriding the preset's), device and CPU permission.
    #[command(flatten)]
    compute: ComputeArgs,
    /// Re-run cells that are already finished.
    #[arg(long)]
    force: bool,
    /// The published results to compare with (default
    /// `results/<name>/results.json`, when it exists).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Re-run every cell and fail unless every published cell ran and
    /// agrees within the config's tolerances (CI's regression check).
    #[arg(long)]
    check: bool,
    /// After a complete run, replace the published results
    /// (`results/<name>/`) with it: for maintainers who mean to commit them.
    #[arg(long, conflicts_with = "out")]
    publish: bool,
    /// Run nothing: list the cells, which are finished, which would run,
    /// and each GRU's estimated peak memory.
    #[arg(long, conflicts_with_all = ["check", "publish"])]
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
        match &self.out {
            Some(out) => out.clone(),
            None => Path::new(RUNS_DIR).join(name),
        }
    }

    /// The published results to compare with: `--reference`, else the
    /// preset's published folder if it has results.
    fn reference(&self, name: &str) -> Option<PathBuf> {
        self.reference.clone().or_else(|| {
            let published = published_dir(name).join("results.json");
            published.exists().then_some(published)
        })
    }
}

fn published_dir(name: &str) -> PathBuf {
    Path::new(PUBLISHED_DIR).join(name)
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
    if let Some(seeds) = &args.seeds {
        config.with_seeds(seeds)?;
    }
    let compute = args
        .compute
        .compute(config.backend, Some(config.precision))?;
    config.backend = compute.backend;
    config.precision = compute.precision;
    if args.compute.elementwise.is_some() {
        config.elementwise = compute.elementwise;
    }
    let out = args.out_dir(&args.config_name());
    let options = RunOptions {
        data_dir: common.data_dir.clone(),
        cache_dir: common.cache_dir.clone(),
        out_dir: out.clone(),
        force: args.force || args.check,
        progress: !args.quiet,
        stop_after_cells: None,
        device: compute.device,
        allow_slow_cpu: compute.allow_slow_cpu,
        manifest: Some(PathBuf::from("datasets/manifest.toml")),
    };
    if args.publish && (args.datasets.is_some() || args.methods.is_some() || args.seeds.is_some()) {
        // The published folder is the whole preset's reference: a partial
        // run would silently drop the other cells from it.
        bail!("--publish needs the whole preset: leave out --datasets, --methods and --seeds");
    }
    if args.plan {
        let plan = plan(&config, &options)?;
        write!(std::io::stdout().lock(), "{}", plan.describe())?;
        return Ok(());
    }
    let reference = args.reference(&config.name);
    if args.check && reference.is_none() {
        bail!(
            "--check needs published results to compare with: {} does not exist (pass --reference FILE)",
            published_dir(&config.name).join("results.json").display()
        );
    }
    // Read before the run: a broken reference should not cost a whole run.
    let expected = reference
        .as_ref()
        .map(|path| Results::read(path).map(|r| (path, r)))
        .transpose()?;
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
    let mut passed = true;
    match &expected {
        Some((path, expected)) => {
            let report = check(expected, &results, &config.check);
            writeln!(
                stdout,
                "compared with the published results {} (tolerances: [check] of the config):",
                path.display()
            )?;
            writeln!(stdout, "{}", report.describe().trim_end())?;
            passed = report.passed();
            if args.check {
                let verdict = if passed { "passed" } else { "failed" };
                writeln!(stdout, "check {verdict}")?;
            }
        }
        None => writeln!(
            stdout,
            "no published results for `{}` to compare with ({} does not exist)",
            config.name,
            published_dir(&config.name).join("results.json").display()
        )?,
    }
    if args.check && !passed {
        bail!(
            "{} differs from {} (see above)",
            out.join("results.json").display(),
            reference.map_or_else(String::new, |r| r.display().to_string())
        );
    }
    if args.publish {
        if let Some(skipped) = results.skipped.first() {
            bail!(
                "not publishing: dataset {} did not run ({}); the published results must hold every dataset of the preset",
                skipped.dataset,
                skipped.reason
            );
        }
        let published = published_dir(&config.name);
        publish(&out, &published)?;
        writeln!(
            stdout,
            "published: {} now holds this run (commit it to make it the reference)",
            published.display()
        )?;
    }
    Ok(())
}

/// Replaces `published` with the run's results: the tables, plots, config
/// and cells, not the log, checkpoints or caches.
fn publish(out: &Path, published: &Path) -> Result<()> {
    const LEFT_OUT: [&str; 3] = ["run.log", "checkpoints", "cache"];
    if published.exists() {
        std::fs::remove_dir_all(published)
            .with_context(|| format!("removing the old {}", published.display()))?;
    }
    copy_tree(out, published, &LEFT_OUT)
        .with_context(|| format!("copying {} to {}", out.display(), published.display()))
}

fn copy_tree(from: &Path, to: &Path, left_out: &[&str]) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    let mut entries: Vec<_> = std::fs::read_dir(from)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if left_out.iter().any(|l| name == *l) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target, &[])?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
