//! `cargo xtask baselines`: every baseline on ml-latest-small and ml-100k,
//! written to `docs/baselines.md` (and `.csv`, `.json` beside it).

use crate::process::{Profile, cargo, evaluate_command, measure, seqrec_binary, workspace_root};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::PathBuf;

const METHODS: [&str; 5] = ["pop", "item-knn", "decay-knn", "bpr-mf", "seq-mf"];
const DATASETS: [&str; 2] = ["ml-latest-small", "ml-100k"];

/// Runs `seqrec evaluate --json` for every method and dataset.
pub fn run(data_dir: Option<PathBuf>, seed: u64) -> Result<()> {
    let root = workspace_root()?;
    let data_dir = crate::process::data_dir(data_dir)?;
    cargo(&["build", "--release", "--quiet", "-p", "seqrec-runner"])?;
    let seqrec = seqrec_binary(Profile::Release)?;
    let mut rows = Vec::new();
    for dataset in DATASETS {
        for method in METHODS {
            let mut cmd = evaluate_command(&seqrec, &data_dir, dataset, method, seed);
            cmd.arg("--no-cache");
            let (_, out) = measure(cmd).with_context(|| format!("{method} on {dataset}"))?;
            let json: serde_json::Value = serde_json::from_str(out.trim())?;
            eprintln!(
                "{dataset:>16} {method:>10}: MRR@20 {:.5}, Recall@20 {:.5}",
                json["mrr@20"].as_f64().unwrap_or(f64::NAN),
                json["recall@20"].as_f64().unwrap_or(f64::NAN)
            );
            rows.push(json);
        }
    }
    let docs = root.join("docs");
    let mut md = String::from(
        "# Baselines on the small MovieLens sets\n\n\
         Produced by `cargo xtask baselines` (release build, 2-core machine): each method fitted\n\
         on the training split with the Table 1 settings and evaluated on the test split by the one\n\
         evaluator (pessimistic ties, no exclusion of seen items), seed ",
    );
    writeln!(md, "{seed}.\n")?;
    md.push_str("| dataset | method | MRR@20 | Recall@20 | NDCG@20 | MRR@20 (macro) | test events | fit s | eval s |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|\n");
    let mut csv = String::from(
        "dataset,method,mrr@20,recall@20,ndcg@20,mrr@20_macro,events,fit_seconds,eval_seconds\n",
    );
    for r in &rows {
        let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let (d, m) = (
            r["dataset"].as_str().unwrap_or("?"),
            r["method"].as_str().unwrap_or("?"),
        );
        let metrics = [f("mrr@20"), f("recall@20"), f("ndcg@20"), f("mrr@20_macro")];
        let (fit, eval) = (f("fit_seconds"), f("eval_seconds"));
        let shown: Vec<String> = metrics.iter().map(|v| format!("{v:.5}")).collect();
        writeln!(
            md,
            "| {d} | {m} | {} | {} | {fit:.2} | {eval:.2} |",
            shown.join(" | "),
            r["events"]
        )?;
        let exact: Vec<String> = metrics.iter().map(f64::to_string).collect();
        writeln!(
            csv,
            "{d},{m},{},{},{fit},{eval}",
            exact.join(","),
            r["events"]
        )?;
    }
    std::fs::write(docs.join("baselines.md"), md)?;
    std::fs::write(docs.join("baselines.csv"), csv)?;
    std::fs::write(
        docs.join("baselines.json"),
        serde_json::to_string_pretty(&rows)?,
    )?;
    eprintln!("wrote docs/baselines.md, .csv, .json");
    Ok(())
}
