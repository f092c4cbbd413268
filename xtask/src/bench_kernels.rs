//! `cargo xtask bench kernels`: the kernels one GRU training window's
//! recurrence launches on a wgpu device (lavapipe here), under each burn
//! configuration seqrec could ship: burn's plain kernels (what it ships),
//! burn's `fusion`, burn's `autotune`, both, and seqrec's own fused
//! element-wise kernels. Each configuration is a build of the
//! `seqrec-kernel-probe` package (burn's features change, so each is a
//! build of burn of its own: about 12 minutes the first time on 2 cores).

use crate::process::{Profile, Workspace, cargo};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// The probe's builds: a name, and the probe's cargo features.
const BUILDS: [(&str, &str); 4] = [
    ("burn", "seqrec-fused"),
    ("burn-fusion", "burn-fusion"),
    ("burn-autotune", "burn-autotune"),
    ("burn-fusion+autotune", "burn-fusion,burn-autotune"),
];

#[derive(Debug, Args)]
pub struct KernelBench {
    /// Where the JSON lines, CSV and Markdown table go (default
    /// target/bench-kernels).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only these builds (default: all): burn, burn-fusion, burn-autotune,
    /// burn-fusion+autotune.
    #[arg(long, value_delimiter = ',')]
    builds: Vec<String>,
    /// Lanes per step.
    #[arg(long, default_value_t = 8)]
    lanes: usize,
    /// Hidden size.
    #[arg(long, default_value_t = 16)]
    hidden: usize,
    /// Steps per window (the per-step figure compares windows of this
    /// many steps and of twice as many).
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// The shape the model's bytes are given at: lanes, hidden, steps
    /// (default: the paper's ML-10M setting).
    #[arg(long, value_delimiter = ',', default_value = "1000,1000,20")]
    model_shape: Vec<usize>,
}

/// One measured configuration: a window of `steps` and one of `2·steps`.
struct Row {
    short: Value,
    long: Value,
}

pub fn run(args: KernelBench) -> Result<()> {
    for name in &args.builds {
        if !BUILDS.iter().any(|(b, _)| b == name) {
            bail!(
                "unknown build {name:?}; the builds are {}",
                BUILDS.map(|(b, _)| b).join(", ")
            );
        }
    }
    if args.steps == 0 || args.lanes == 0 || args.hidden == 0 {
        bail!("--steps, --lanes and --hidden must be at least 1");
    }
    // Checked before the builds, which take minutes.
    let [lanes, hidden, model_steps] = args.model_shape[..] else {
        bail!("--model-shape takes three numbers: lanes,hidden,steps");
    };
    let workspace = Workspace::current()?;
    let probe = workspace.binary(Profile::Dev, "seqrec-kernel-probe");
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace.target.join("bench-kernels"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let mut rows = Vec::new();
    for (build, features) in BUILDS {
        if !args.builds.is_empty() && !args.builds.iter().any(|b| b == build) {
            continue;
        }
        eprintln!("building the probe with burn configuration {build} (features {features})");
        cargo(&[
            "build",
            "--quiet",
            "-p",
            "seqrec-kernel-probe",
            "--features",
            features,
        ])?;
        let short = probe_lines(&probe, &args, args.steps)?;
        let long = probe_lines(&probe, &args, 2 * args.steps)?;
        if short.len() != long.len() {
            bail!("the probe measured different configurations at two window lengths");
        }
        rows.extend(
            short
                .into_iter()
                .zip(long)
                .map(|(short, long)| Row { short, long }),
        );
    }
    // The model needs no device: any build of the probe prints it.
    if !probe.exists() {
        cargo(&["build", "--quiet", "-p", "seqrec-kernel-probe"])?;
    }
    let model = run_probe(
        &probe,
        &[
            "--model-only".into(),
            format!("--lanes={lanes}"),
            format!("--hidden={hidden}"),
            format!("--steps={model_steps}"),
        ],
    )?;
    let (csv, mut markdown) = tables(&rows, args.steps)?;
    let (model_csv, model_md) = model_tables(&model, model_steps)?;
    markdown.push('\n');
    markdown.push_str(&model_md);
    let jsonl: String = rows
        .iter()
        .flat_map(|r| [&r.short, &r.long])
        .map(|v| format!("{v}\n"))
        .collect();
    for (file, text) in [
        ("kernels.jsonl", &jsonl),
        ("kernels.csv", &csv),
        ("kernels.md", &markdown),
        ("step-bytes.csv", &model_csv),
    ] {
        let path = out.join(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{markdown}");
    eprintln!("written to {}", out.display());
    Ok(())
}

/// The probe's JSON lines at `steps` steps per window.
fn probe_lines(probe: &std::path::Path, args: &KernelBench, steps: usize) -> Result<Vec<Value>> {
    run_probe(
        probe,
        &[
            format!("--lanes={}", args.lanes),
            format!("--hidden={}", args.hidden),
            format!("--steps={steps}"),
        ],
    )
}

/// The probe's JSON lines for `args`.
fn run_probe(probe: &std::path::Path, args: &[String]) -> Result<Vec<Value>> {
    let output = Command::new(probe)
        .args(args)
        .output()
        .with_context(|| format!("running {}", probe.display()))?;
    if !output.status.success() {
        bail!(
            "{} failed: {}",
            probe.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).with_context(|| format!("reading {line:?}")))
        .collect()
}

/// The kinds, in the probe's names.
const KINDS: [&str; 4] = ["products", "element-wise", "reductions", "data movement"];

fn number(v: &Value, path: &[&str]) -> Result<f64> {
    path.iter()
        .try_fold(v, |v, key| v.get(key))
        .and_then(Value::as_f64)
        .with_context(|| format!("the probe's line has no {}", path.join(".")))
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .with_context(|| format!("the probe's line has no {key}"))
}

/// The CSV and the Markdown table: launches per window by kind, and the
/// element-wise launches per step (the difference of the two windows).
fn tables(rows: &[Row], steps: usize) -> Result<(String, String)> {
    let mut csv = String::from(
        "build,variant,elementwise,launches_per_window,products,element_wise,reductions,data_movement,element_wise_per_step,adam_launches,adam_weights\n",
    );
    let mut md = format!(
        "| build | variant | element-wise | launches per window ({steps} steps) | products | element-wise | reductions | data movement | element-wise per step | Adam step (weight tensors) |\n|---|---|---|--:|--:|--:|--:|--:|--:|--:|\n"
    );
    for row in rows {
        let v = &row.short;
        let per_step = (number(&row.long, &["by_kind", "element-wise"])?
            - number(v, &["by_kind", "element-wise"])?)
            / steps as f64;
        let kinds = KINDS
            .iter()
            .map(|k| number(v, &["by_kind", k]))
            .collect::<Result<Vec<_>>>()?;
        let (build, variant, mode) = (
            text(v, "build")?,
            text(v, "variant")?,
            text(v, "elementwise")?,
        );
        let total = number(v, &["launches_per_window"])?;
        let adam = number(v, &["optimizer", "launches_per_step"])?;
        let weights = number(v, &["optimizer", "weights"])?;
        let _ = writeln!(
            csv,
            "{build},{variant},{mode},{total},{},{},{},{},{per_step},{adam},{weights}",
            kinds[0], kinds[1], kinds[2], kinds[3]
        );
        let _ = writeln!(
            md,
            "| {build} | {variant} | {mode} | {total:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {per_step:.1} | {adam:.0} ({weights:.0}) |",
            kinds[0], kinds[1], kinds[2], kinds[3]
        );
    }
    Ok((csv, md))
}

/// The model's step at the paper's shape: launches and megabytes (10⁶
/// bytes, read plus written) per kind, per step and for a window's steps.
fn model_tables(lines: &[Value], steps: usize) -> Result<(String, String)> {
    let mut csv = String::from(
        "variant,elementwise,kind,launches_per_step,bytes_read_per_step,bytes_written_per_step\n",
    );
    let first = lines.first().context("the probe printed no model")?;
    let shape = format!(
        "{} lanes, hidden {}, {steps} steps",
        number(first, &["lanes"])?,
        number(first, &["hidden"])?
    );
    let mut md = format!(
        "Per step ({shape}), modelled: launches and MB read + written per kind; last column a window's steps.\n\n| variant | element-wise | products | element-wise (floor) | reductions | data movement | MB per step | MB per window |\n|---|---|--:|--:|--:|--:|--:|--:|\n"
    );
    for v in lines {
        let (variant, mode) = (text(v, "variant")?, text(v, "elementwise")?);
        let mut cells = Vec::new();
        let mut total = 0.0;
        for kind in KINDS {
            let launches = number(v, &["per_step", kind, "launches"])?;
            let read = number(v, &["per_step", kind, "bytes_read"])?;
            let written = number(v, &["per_step", kind, "bytes_written"])?;
            let _ = writeln!(csv, "{variant},{mode},{kind},{launches},{read},{written}");
            let mb = (read + written) / 1e6;
            total += mb;
            cells.push(if kind == "element-wise" {
                format!(
                    "{launches:.0} ({:.0}): {mb:.0} MB",
                    number(v, &["element_wise_floor"])?
                )
            } else {
                format!("{launches:.0}: {mb:.0} MB")
            });
        }
        let _ = writeln!(
            md,
            "| {variant} | {mode} | {} | {total:.0} | {:.0} |",
            cells.join(" | "),
            total * steps as f64
        );
    }
    Ok((csv, md))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn line(build: &str, total: f64, element_wise: f64) -> Value {
        json!({
            "build": build, "variant": "gru", "elementwise": "composed",
            "launches_per_window": total,
            "by_kind": {"products": 6.0, "element-wise": element_wise, "reductions": 0.0, "data movement": 3.0},
            "optimizer": {"launches_per_step": 60.0, "weights": 6},
        })
    }

    #[test]
    fn the_tables_give_launches_per_window_and_element_wise_per_step() {
        let rows = [Row {
            short: line("burn-fusion", 30.0, 21.0),
            long: line("burn-fusion", 45.0, 36.0),
        }];
        let (csv, md) = tables(&rows, 5).unwrap();
        assert!(
            csv.lines().nth(1) == Some("burn-fusion,gru,composed,30,6,21,0,3,3,60,6"),
            "{csv}"
        );
        assert!(
            md.contains("| burn-fusion | gru | composed | 30 | 6 | 21 | 0 | 3 | 3.0 | 60 (6) |"),
            "{md}"
        );
        let broken = [Row {
            short: json!({"build": "burn"}),
            long: json!({}),
        }];
        assert!(
            tables(&broken, 5)
                .unwrap_err()
                .to_string()
                .contains("by_kind")
        );
    }
}
