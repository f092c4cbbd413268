//! `seqrec data stats | export | generate`.

use super::Common;
use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use seqrec_data::synthetic::{self, FileFormat, SyntheticConfig};
use seqrec_data::{Dataset, DatasetName, DatasetOptions, DatasetStats, ExportFormat, LoadRequest};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Users, items, events per split, sequence lengths, removed and skipped events.
    Stats {
        /// A dataset name (ml-10m, lastfm-1k, ml-latest-small, ml-100k,
        /// synthetic-movielens, synthetic-lastfm) or a .csv/.tsv/.parquet path.
        #[arg(long)]
        dataset: String,
        /// TOML file of loading options (split, lastfm, table, synthetic).
        #[arg(long)]
        options: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write the exact split (original ids, timestamps, part) for other tools.
    Export {
        #[arg(long)]
        dataset: String,
        #[arg(long)]
        options: Option<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "csv")]
        format: OutFormat,
    },
    /// Generate synthetic data and write it in one of the real file formats.
    Generate {
        #[arg(long, value_enum, default_value = "synthetic-movielens")]
        preset: Preset,
        /// movielens-dat, movielens-csv, ml-100k, lastfm-1k, table-csv or table-parquet.
        #[arg(long)]
        format: String,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        users: Option<usize>,
        #[arg(long)]
        items: Option<usize>,
        #[arg(long)]
        events: Option<usize>,
        #[arg(long)]
        seed: Option<u64>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OutFormat {
    Csv,
    Parquet,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Preset {
    SyntheticMovielens,
    SyntheticLastfm,
    /// 69,878 users, 10,677 items, 10,000,054 events (the ML-10M shape).
    Ml10mScale,
}

pub fn run(command: DataCommand, common: &Common) -> Result<()> {
    match command {
        DataCommand::Stats {
            dataset,
            options,
            json,
        } => {
            let data = load(&dataset, options.as_deref(), common)?;
            let stats = DatasetStats::of(&data);
            let mut out = std::io::stdout().lock();
            if json {
                writeln!(out, "{}", serde_json::to_string(&stats)?)?;
            } else {
                write_stats(&mut out, &stats, &data)?;
            }
            Ok(())
        }
        DataCommand::Export {
            dataset,
            options,
            out,
            format,
        } => {
            let data = load(&dataset, options.as_deref(), common)?;
            let format = match format {
                OutFormat::Csv => ExportFormat::Csv,
                OutFormat::Parquet => ExportFormat::Parquet,
            };
            let path = seqrec_data::export(&data, &out, format)
                .with_context(|| format!("exporting {dataset} to {}", out.display()))?;
            writeln!(std::io::stdout().lock(), "{}", path.display())?;
            Ok(())
        }
        DataCommand::Generate {
            preset,
            format,
            out,
            users,
            items,
            events,
            seed,
        } => {
            let Some(format) = FileFormat::from_name(&format) else {
                let names: Vec<_> = FileFormat::ALL.iter().map(|f| f.name()).collect();
                bail!("unknown format `{format}`; one of: {}", names.join(", "));
            };
            let mut config = match preset {
                Preset::SyntheticMovielens => SyntheticConfig::movielens(),
                Preset::SyntheticLastfm => SyntheticConfig::lastfm(),
                Preset::Ml10mScale => SyntheticConfig::movielens_10m_scale(),
            };
            config.users = users.unwrap_or(config.users);
            config.items = items.unwrap_or(config.items);
            config.events = events.unwrap_or(config.events);
            config.seed = seed.unwrap_or(config.seed);
            let spinner = spinner(format!("generating {} events", config.events));
            let data = synthetic::generate(&config).context("generating synthetic data")?;
            spinner.set_message(format!("writing {}", out.display()));
            synthetic::write(&data, format, &out)
                .with_context(|| format!("writing {}", out.display()))?;
            spinner.finish_and_clear();
            writeln!(std::io::stdout().lock(), "{}", out.display())?;
            Ok(())
        }
    }
}

/// Loads a dataset by name with options from an optional TOML file.
pub fn load(dataset: &str, options: Option<&Path>, common: &Common) -> Result<Dataset> {
    load_with(dataset, read_options(options)?, common)
}

/// The loading options of `--options FILE` (the spec's defaults without one).
pub fn read_options(path: Option<&Path>) -> Result<DatasetOptions> {
    Ok(match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            DatasetOptions::from_toml(&text).with_context(|| format!("in {}", path.display()))?
        }
        None => DatasetOptions::default(),
    })
}

/// The loading options of a command: `--options FILE` if given (it
/// replaces what a preset says), else the preset's, else the spec's.
pub fn loading_options(
    flag: Option<&Path>,
    from_settings: Option<&DatasetOptions>,
) -> Result<DatasetOptions> {
    match (flag, from_settings) {
        (None, Some(options)) => Ok(options.clone()),
        (flag, _) => read_options(flag),
    }
}

/// Loads `dataset` with `options`, through the split cache.
pub fn load_with(dataset: &str, options: DatasetOptions, common: &Common) -> Result<Dataset> {
    let name = DatasetName::parse(dataset)?;
    let request = LoadRequest {
        data_dir: common.data_dir.clone(),
        options,
        cache_dir: common.cache_dir.clone(),
    };
    let spinner = spinner(format!("loading {name}"));
    let started = Instant::now();
    let data = seqrec_data::load(&name, &request)?;
    spinner.finish_and_clear();
    tracing::info!(dataset = %name, seconds = started.elapsed().as_secs_f64(), "loaded");
    Ok(data)
}

fn spinner(message: String) -> ProgressBar {
    let bar = ProgressBar::new_spinner().with_message(message);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

fn write_stats(out: &mut impl Write, s: &DatasetStats, data: &Dataset) -> Result<()> {
    let rows: Vec<(&str, String)> = vec![
        ("dataset", s.dataset.clone()),
        ("users", s.users.to_string()),
        ("items (training catalogue)", s.items.to_string()),
        ("events", s.events.to_string()),
        ("  train", s.train_events.to_string()),
        ("  validation", s.validation_events.to_string()),
        ("  test", s.test_events.to_string()),
        (
            "mean sequence length",
            format!("{:.2}", s.mean_sequence_length),
        ),
        (
            "median sequence length",
            format!("{:.1}", s.median_sequence_length),
        ),
        ("parsed events", s.parsed_events.to_string()),
        ("subsampled out", s.subsampled_out_events.to_string()),
        (
            "removed validation (unseen item)",
            s.removed_validation_events.to_string(),
        ),
        (
            "removed test (unseen item)",
            s.removed_test_events.to_string(),
        ),
        ("skipped malformed lines", s.skipped_lines.to_string()),
        (
            "dropped without track MBID",
            s.dropped_without_track_mbid.to_string(),
        ),
        ("from cache", s.from_cache.to_string()),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<34} {value}")?;
    }
    for example in &data.report.skips.examples {
        writeln!(out, "  skipped line {}: {}", example.line, example.reason)?;
    }
    Ok(())
}
