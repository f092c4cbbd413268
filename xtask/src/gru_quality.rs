//! `cargo xtask gru-quality`: the four GRUs on ml-100k and ml-latest-small
//! under two settings (the paper's with hidden 100, and the small-data CPU
//! preset), two seeds each, beside the baselines, with paired significance
//! tests; written to `docs/gru-quality.md` (and `.csv`, `.json`).
//!
//! Every cell is one `seqrec evaluate` run whose outputs are kept under
//! `target/gru-quality/`, so an interrupted run continues where it stopped.

use crate::process::{
    Profile, cargo, evaluate_command, measure, seqrec_binary, target_dir, workspace_root,
};
use anyhow::{Context, Result, bail};
use seqrec_metrics::significance::{paired_bootstrap, wilcoxon_signed_rank};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const VARIANTS: [&str; 4] = [
    "gru",
    "linear-user-gru",
    "rectified-user-gru",
    "attentional-user-gru",
];
const BASELINES: [&str; 5] = ["pop", "item-knn", "decay-knn", "bpr-mf", "seq-mf"];

#[derive(Debug, clap::Args)]
pub struct GruQuality {
    /// Data root (else $SEQREC_DATA_DIR, else datasets/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, value_delimiter = ',', default_value = "ml-100k,ml-latest-small")]
    datasets: Vec<String>,
    /// Settings: names of `configs/gru-<name>.toml`.
    #[arg(long, value_delimiter = ',', default_value = "small-data,paper-h100")]
    settings: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "2017,2018")]
    seeds: Vec<u64>,
    /// Re-run cells whose results already exist.
    #[arg(long, conflicts_with = "existing_only")]
    force: bool,
    /// Run nothing: write the tables from the cells that exist, marking
    /// what is missing.
    #[arg(long)]
    existing_only: bool,
}

/// One finished run.
struct Cell {
    seed: u64,
    json: Value,
    /// user index → MRR@20.
    per_user: BTreeMap<u32, f64>,
    validation_mrr: Option<f64>,
}

fn read_per_user(path: &Path) -> Result<BTreeMap<u32, f64>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = header
        .iter()
        .position(|h| *h == "mrr@20")
        .with_context(|| format!("{}: no mrr@20 column", path.display()))?;
    let mut out = BTreeMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        out.insert(fields[0].parse()?, fields[column].parse()?);
    }
    Ok(out)
}

/// How cells are run.
struct Runner {
    seqrec: PathBuf,
    data_dir: PathBuf,
    force: bool,
    existing_only: bool,
}

/// Runs (or reuses) one `seqrec evaluate` cell.
fn cell(
    runner: &Runner,
    dir: &Path,
    dataset: &str,
    method: &str,
    config: Option<&Path>,
    seed: u64,
) -> Result<Option<Cell>> {
    let Runner {
        seqrec,
        data_dir,
        force,
        existing_only,
    } = runner;
    std::fs::create_dir_all(dir)?;
    let stem = dir.join(format!("{method}-{seed}"));
    let json_path = stem.with_extension("json");
    let per_user = stem.with_extension("per-user.csv");
    let history = stem.with_extension("history.json");
    if *existing_only && !json_path.exists() {
        return Ok(None);
    }
    if *force || !json_path.exists() {
        let mut cmd = evaluate_command(seqrec, data_dir, dataset, method, seed);
        cmd.arg("--per-user").arg(&per_user);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
            cmd.arg("--history").arg(&history);
        }
        let (_, out) =
            measure(cmd).with_context(|| format!("{method} on {dataset}, seed {seed}"))?;
        std::fs::write(&json_path, out.trim())?;
    }
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&json_path)?)?;
    let validation_mrr = if history.exists() {
        let h: Value = serde_json::from_str(&std::fs::read_to_string(&history)?)?;
        let best = h["best_epoch"].as_u64().unwrap_or(0) as usize;
        h["history"]
            .get(best.wrapping_sub(1))
            .and_then(|e| e["validation_mrr20"].as_f64())
    } else {
        None
    };
    eprintln!(
        "{dataset:>16} {method:>22} seed {seed}: MRR@20 {:.5}, Recall@20 {:.5}",
        json["mrr@20"].as_f64().unwrap_or(f64::NAN),
        json["recall@20"].as_f64().unwrap_or(f64::NAN)
    );
    Ok(Some(Cell {
        seed,
        per_user: read_per_user(&per_user)?,
        json,
        validation_mrr,
    }))
}

/// A p-value with three significant digits.
fn p_value(p: f64) -> String {
    if p < 1e-3 {
        format!("{p:.2e}")
    } else {
        format!("{p:.3}")
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// Per-user MRR@20 averaged over seeds.
fn user_means(cells: &[Cell]) -> BTreeMap<u32, f64> {
    let mut sums: BTreeMap<u32, f64> = BTreeMap::new();
    for c in cells {
        for (&u, &v) in &c.per_user {
            *sums.entry(u).or_default() += v / cells.len() as f64;
        }
    }
    sums
}

/// Wilcoxon p and bootstrap interval of `a − b` over per-user MRR@20.
fn compare(a: &[Cell], b: &[Cell]) -> Result<Value> {
    let (x, y) = (user_means(a), user_means(b));
    if x.keys().ne(y.keys()) {
        bail!("the two methods were evaluated on different users");
    }
    let x: Vec<f64> = x.into_values().collect();
    let y: Vec<f64> = y.into_values().collect();
    let w = wilcoxon_signed_rank(&x, &y)?;
    let b = paired_bootstrap(&x, &y, 10_000, 0.95, 2017)?;
    Ok(
        json!({"mean_difference": b.mean_difference, "ci_low": b.low, "ci_high": b.high, "wilcoxon_p": w.p_value, "users": x.len()}),
    )
}

pub fn run(args: GruQuality) -> Result<()> {
    let root = workspace_root()?;
    let data_dir = crate::process::data_dir(args.data_dir)?;
    cargo(&["build", "--release", "--quiet", "-p", "seqrec-runner"])?;
    let runner = Runner {
        seqrec: seqrec_binary(Profile::Release)?,
        data_dir,
        force: args.force,
        existing_only: args.existing_only,
    };
    let work = target_dir()?.join("gru-quality");
    let mut md = String::from(
        "# The GRUs on the small MovieLens sets\n\n\
         Produced by `cargo xtask gru-quality` (release build, burn `flex` backend, 2-core machine).\n\
         Test split, pessimistic ties, no exclusion of seen items; each GRU keeps the epoch with the\n\
         best validation MRR@20. GRU values are means over the seeds (each seed in brackets).\n\
         Significance: per-user MRR@20 (averaged over the seeds), Wilcoxon signed-rank p and a\n\
         95% paired-bootstrap interval of the mean difference (spec §3). Baselines: Table 1\n\
         settings, first seed only. Timings are what the runs took, not benchmarks (cells may have\n\
         shared the machine); see the README for throughput measurements.\n",
    );
    let mut csv = String::from(
        "setting,dataset,method,seed,mrr@20,recall@20,ndcg@20,mrr@20_macro,validation_mrr@20,best_epoch,epochs_run,train_tuples_per_second,fit_seconds\n",
    );
    let mut all = Vec::new();
    for setting in &args.settings {
        let config = root.join(format!("configs/gru-{setting}.toml"));
        if !config.exists() {
            bail!("no settings file {}", config.display());
        }
        let text = std::fs::read_to_string(&config)?;
        writeln!(
            md,
            "\n## Setting `{setting}` (`configs/gru-{setting}.toml`)\n\n```toml\n{}\n```\n",
            text.trim()
        )?;
        for dataset in &args.datasets {
            let dir = work.join(setting).join(dataset);
            let base_dir = work.join("baselines").join(dataset);
            let mut baselines: Vec<(&str, Vec<Cell>)> = Vec::new();
            for method in BASELINES {
                if let Some(c) = cell(&runner, &base_dir, dataset, method, None, args.seeds[0])? {
                    baselines.push((method, vec![c]));
                }
            }
            let mut grus: Vec<(&str, Vec<Cell>)> = Vec::new();
            let mut missing: Vec<String> = Vec::new();
            for variant in VARIANTS {
                let mut cells = Vec::new();
                for &seed in &args.seeds {
                    cells.extend(cell(&runner, &dir, dataset, variant, Some(&config), seed)?);
                }
                if cells.len() < args.seeds.len() {
                    missing.push(format!(
                        "{variant}: {} of {} seeds run",
                        cells.len(),
                        args.seeds.len()
                    ));
                }
                if !cells.is_empty() {
                    grus.push((variant, cells));
                }
            }
            writeln!(md, "### {dataset}\n")?;
            if !missing.is_empty() {
                writeln!(
                    md,
                    "**Incomplete** (not run for lack of time): {}.\n",
                    missing.join("; ")
                )?;
            }
            md.push_str("| method | MRR@20 | Recall@20 | MRR@20 (macro) | validation MRR@20 | best epoch | train tuples/s | fit s |\n|---|---|---|---|---|---|---|---|\n");
            for (method, cells) in baselines.iter().chain(&grus) {
                let get = |k: &str| -> Vec<f64> {
                    cells
                        .iter()
                        .map(|c| c.json[k].as_f64().unwrap_or(f64::NAN))
                        .collect()
                };
                let show = |v: &[f64]| {
                    if v.len() == 1 {
                        format!("{:.5}", v[0])
                    } else {
                        let each: Vec<String> = v.iter().map(|x| format!("{x:.5}")).collect();
                        format!("{:.5} [{}]", mean(v), each.join(", "))
                    }
                };
                let val: Vec<f64> = cells.iter().filter_map(|c| c.validation_mrr).collect();
                let epochs: Vec<String> = cells
                    .iter()
                    .filter_map(|c| c.json["best_epoch"].as_u64())
                    .map(|e| e.to_string())
                    .collect();
                let tps = get("train_tuples_per_second");
                writeln!(
                    md,
                    "| {method} | {} | {} | {} | {} | {} | {} | {:.1} |",
                    show(&get("mrr@20")),
                    show(&get("recall@20")),
                    show(&get("mrr@20_macro")),
                    if val.is_empty() {
                        "".into()
                    } else {
                        format!("{:.5}", mean(&val))
                    },
                    epochs.join(", "),
                    if tps.iter().all(|t| t.is_nan()) {
                        "".into()
                    } else {
                        format!("{:.0}", mean(&tps))
                    },
                    mean(&get("fit_seconds")),
                )?;
                for c in cells {
                    let seed = c.seed;
                    let f = |k: &str| c.json[k].as_f64().map_or(String::new(), |v| v.to_string());
                    writeln!(
                        csv,
                        "{setting},{dataset},{method},{seed},{},{},{},{},{},{},{},{},{}",
                        f("mrr@20"),
                        f("recall@20"),
                        f("ndcg@20"),
                        f("mrr@20_macro"),
                        c.validation_mrr.map_or(String::new(), |v| v.to_string()),
                        f("best_epoch"),
                        f("epochs_run"),
                        f("train_tuples_per_second"),
                        f("fit_seconds")
                    )?;
                }
            }
            // Claims and significance.
            let mrr = |cells: &[Cell]| {
                mean(
                    &cells
                        .iter()
                        .map(|c| c.json["mrr@20"].as_f64().unwrap_or(f64::NAN))
                        .collect::<Vec<_>>(),
                )
            };
            let baseline_mrr: BTreeMap<&str, f64> =
                baselines.iter().map(|(m, c)| (*m, mrr(c))).collect();
            md.push('\n');
            for (variant, cells) in &grus {
                let m = mrr(cells);
                let beats: Vec<&str> = BASELINES
                    .iter()
                    .copied()
                    .filter(|b| baseline_mrr.get(b).is_some_and(|&x| m > x))
                    .collect();
                writeln!(
                    md,
                    "- {variant} (MRR@20 {m:.5}) beats: {}",
                    if beats.is_empty() {
                        "none".into()
                    } else {
                        beats.join(", ")
                    }
                )?;
            }
            md.push_str("\n| comparison | mean difference | 95% interval | Wilcoxon p |\n|---|---|---|---|\n");
            let mut comparisons = Vec::new();
            if let Some((_, standard)) = grus.iter().find(|(v, _)| *v == "gru") {
                for (variant, cells) in grus.iter().filter(|(v, _)| *v != "gru") {
                    comparisons.push((format!("{variant} − gru"), compare(cells, standard)?));
                }
            }
            // The best GRU and the best baseline, each chosen on validation
            // (baselines: by their test table is not allowed, so kNNs both shown).
            let best = grus
                .iter()
                .max_by(|a, b| {
                    let v = |c: &[Cell]| {
                        mean(
                            &c.iter()
                                .filter_map(|x| x.validation_mrr)
                                .collect::<Vec<_>>(),
                        )
                    };
                    v(&a.1).total_cmp(&v(&b.1))
                })
                .map(|(v, c)| (*v, c));
            for knn in ["item-knn", "decay-knn"] {
                let Some((_, cells)) = baselines.iter().find(|(m, _)| *m == knn) else {
                    continue;
                };
                let Some(best) = best else { continue };
                comparisons.push((
                    format!("{} (best on validation) − {knn}", best.0),
                    compare(best.1, cells)?,
                ));
            }
            for (name, c) in &comparisons {
                writeln!(
                    md,
                    "| {name} | {:+.5} | [{:+.5}, {:+.5}] | {} |",
                    c["mean_difference"].as_f64().unwrap_or(f64::NAN),
                    c["ci_low"].as_f64().unwrap_or(f64::NAN),
                    c["ci_high"].as_f64().unwrap_or(f64::NAN),
                    p_value(c["wilcoxon_p"].as_f64().unwrap_or(f64::NAN))
                )?;
            }
            md.push('\n');
            all.push(json!({
                "setting": setting,
                "dataset": dataset,
                "results": grus.iter().chain(&baselines).map(|(m, cells)| json!({"method": m, "runs": cells.iter().map(|c| c.json.clone()).collect::<Vec<_>>()})).collect::<Vec<_>>(),
                "significance": comparisons.iter().map(|(n, c)| json!({"comparison": n, "result": c})).collect::<Vec<_>>(),
            }));
        }
    }
    let docs = root.join("docs");
    std::fs::write(docs.join("gru-quality.md"), md)?;
    std::fs::write(docs.join("gru-quality.csv"), csv)?;
    std::fs::write(
        docs.join("gru-quality.json"),
        serde_json::to_string_pretty(&all)?,
    )?;
    eprintln!("wrote docs/gru-quality.md, .csv, .json");
    Ok(())
}
