//! One module per command group.

pub mod data;
pub mod devices;
pub mod evaluate;
pub mod reproduce;
pub mod serve;
pub mod throughput;
pub mod train;
pub mod tune;

use anyhow::{Context, Result};
use clap::Args;
use seqrec_models::{Backend, ElementWise, Precision};
use seqrec_runner::Compute;
use seqrec_runner::config::MethodSettings;
use std::path::PathBuf;
use std::time::Duration;

/// Where a method's settings come from: `--config FILE` or `--preset NAME`,
/// both in the preset schema.
#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Method settings in the preset schema: a whole preset (its settings
    /// for --dataset are used, per-dataset overrides included) or a file
    /// with only `[gru]`, `[baselines.<method>]` and `[options]` tables.
    /// Table 1 values by default.
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
    /// A preset's settings for --dataset: `configs/<NAME>.toml` (quick,
    /// paper, ci, ...).
    #[arg(long)]
    pub preset: Option<String>,
}

impl SettingsArgs {
    /// The settings for `dataset` (Table 1 defaults without a file).
    pub fn read(&self, dataset: &str) -> Result<MethodSettings> {
        let path = match (&self.config, &self.preset) {
            (Some(path), _) => path.clone(),
            (None, Some(name)) => PathBuf::from(format!("configs/{name}.toml")),
            (None, None) => return Ok(MethodSettings::default()),
        };
        let settings = MethodSettings::from_file(&path, dataset);
        match (&self.preset, settings) {
            (Some(_), Err(e)) if !path.exists() => Err(e).with_context(|| {
                format!(
                    "reading preset {} (presets live in configs/; run from the repository root or pass --config)",
                    path.display()
                )
            }),
            (_, settings) => Ok(settings?),
        }
    }
}

/// Settings every command shares.
#[derive(Debug)]
pub struct Common {
    pub data_dir: PathBuf,
    pub cache_dir: Option<PathBuf>,
}

/// Where the GRUs run: `--backend`, `--device`, `--allow-slow-cpu`.
#[derive(Debug, Args)]
pub struct ComputeArgs {
    /// GRU compute backend: flex, ndarray (CPU), vulkan, cuda (GPU; builds
    /// with those features). Default: flex, or what the preset or saved
    /// model says.
    #[arg(long)]
    pub backend: Option<String>,
    /// Which device of a GPU backend (0 = the first; GPUs are listed before
    /// software adapters). An index past the devices is an error listing them.
    #[arg(long)]
    pub device: Option<usize>,
    /// Train GRUs on the CPU even where that is estimated to take more than
    /// 12 hours (refused otherwise, with the estimate).
    #[arg(long)]
    pub allow_slow_cpu: bool,
    /// How GRU matrix products are computed: tf32 (TF32 tensor cores with
    /// fp32 accumulation where the device has them: CUDA on Ampere and
    /// newer; fp32 elsewhere), fp32 (IEEE fp32 everywhere, no tensor
    /// cores), bf16 (bf16 operands, fp32 accumulation and outputs; cuda
    /// only), or tf32-emulated / bf16-emulated (that format's operand
    /// rounding on any backend, to measure its effect on results; slower).
    /// The CPU backends are fp32 for tf32 and fp32. Default: tf32, or what
    /// the preset or saved model says.
    #[arg(long)]
    pub precision: Option<String>,
    /// How a GPU computes the GRUs' element-wise work, output-layer
    /// softmax and Adam update: fused (seqrec's kernels, one per stage; the default) or
    /// composed (burn's operations, one kernel each; slower, for comparison
    /// or a device the fused kernels fail on). The CPU backends compose
    /// either way.
    #[arg(long)]
    pub elementwise: Option<String>,
}

impl ComputeArgs {
    /// These flags over `default` (the backend when `--backend` is absent)
    /// and `default_precision` (when `--precision` is; else tf32).
    pub fn compute(
        &self,
        default: Backend,
        default_precision: Option<Precision>,
    ) -> Result<Compute> {
        let compute = Compute {
            backend: match &self.backend {
                Some(name) => Backend::parse(name)?,
                None => default,
            },
            device: self.device,
            allow_slow_cpu: self.allow_slow_cpu,
            precision: match &self.precision {
                Some(name) => Precision::parse(name)?,
                None => default_precision.unwrap_or_default(),
            },
            elementwise: match &self.elementwise {
                Some(name) => ElementWise::parse(name)?,
                None => ElementWise::default(),
            },
        };
        compute.precision.check_backend(compute.backend)?;
        Ok(compute)
    }
}

/// `90s`, `45m`, `2h`, `1d` or plain seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 90s, 45m or 2h"))?;
    let seconds = match unit {
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("`{text}` must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("45m"), Ok(Duration::from_secs(2700)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("2w").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}
