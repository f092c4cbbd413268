//! The published results under `results/` are the reference a user's run is
//! compared with, so they must be what the current code computes. This test
//! checks that without computing anything: every published cell must carry
//! the cell hash that the current code and the current `configs/<preset>.toml`
//! give it, and every cell the preset asks for must be published (or its
//! dataset listed as skipped). A change of arithmetic (the cell format) or of
//! a preset's settings that leaves a published table behind fails here,
//! naming the cells and the command that republishes them.

use seqrec_runner::experiment::cell_hash;
use seqrec_runner::{ExperimentConfig, Results};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every preset with published results: the folders of `results/`.
fn published_presets() -> Vec<String> {
    let dir = root().join("results");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("results.json").is_file())
        .filter_map(|entry| entry.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// What is wrong with one preset's published cells (empty: nothing).
fn stale_cells(preset: &str) -> Vec<String> {
    let root = root();
    let config_path = root.join(format!("configs/{preset}.toml"));
    let config = ExperimentConfig::from_file(&config_path)
        .unwrap_or_else(|e| panic!("results/{preset}/ has no valid preset: {e}"));
    let published = Results::read(&root.join(format!("results/{preset}/results.json")))
        .unwrap_or_else(|e| panic!("results/{preset}/results.json: {e}"));
    let skipped: BTreeSet<&str> = published
        .skipped
        .iter()
        .map(|s| s.dataset.as_str())
        .collect();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for dataset in &published.datasets {
        for cell in &dataset.cells {
            for run in &cell.per_seed {
                let key = (run.dataset.clone(), run.method.name(), run.seed);
                let Some(plan) = config.datasets.iter().find(|d| d.name == run.dataset) else {
                    problems.push(format!(
                        "{} {} seed {}: dataset not in the preset",
                        key.0, key.1, key.2
                    ));
                    continue;
                };
                if !plan.methods.contains(&run.method) || !config.seeds.contains(&run.seed) {
                    problems.push(format!(
                        "{} {} seed {}: cell not in the preset",
                        key.0, key.1, key.2
                    ));
                    continue;
                }
                let expected = cell_hash(&config, plan, run.method, run.seed)
                    .unwrap_or_else(|e| panic!("hash of {key:?}: {e}"));
                if run.cell_hash != expected {
                    problems.push(format!(
                        "{} {} seed {}: published hash {}, the current code gives {expected}",
                        key.0, key.1, key.2, run.cell_hash
                    ));
                }
                seen.insert(key);
            }
        }
    }
    for plan in &config.datasets {
        if skipped.contains(plan.name.as_str()) {
            continue;
        }
        for method in &plan.methods {
            for &seed in &config.seeds {
                if !seen.contains(&(plan.name.clone(), method.name(), seed)) {
                    problems.push(format!("{} {method} seed {seed}: not published", plan.name));
                }
            }
        }
    }
    problems
}

/// Presets whose republishing is known to be due and not yet done, with
/// why. Each is reported loudly on every run, and must really be stale: a
/// preset republished but still listed here fails, so the list cannot rot.
const REPUBLISH_DUE: &[(&str, &str)] = &[];

#[test]
fn every_published_cell_has_the_hash_the_current_code_gives_it() {
    let presets = published_presets();
    assert!(
        presets.len() >= 2 && presets.iter().any(|p| p == "quick"),
        "expected the published presets under results/, found {presets:?}"
    );
    let mut report = String::new();
    for preset in &presets {
        let problems = stale_cells(preset);
        if let Some((_, why)) = REPUBLISH_DUE.iter().find(|(p, _)| p == preset) {
            assert!(
                !problems.is_empty(),
                "results/{preset}/ matches the current code: remove it from REPUBLISH_DUE"
            );
            // Straight to the stderr handle: the harness captures
            // `eprintln!` of passing tests, and this must be seen.
            let _ = std::io::stderr().write_all(
                format!(
                    "\n!!!!!!!! PUBLISHED RESULTS STALE, REPUBLISH DUE: results/{preset}/ ({} cells): {why}; run `cargo xtask reproduce --preset {preset} --publish` and commit it !!!!!!!!\n\n",
                    problems.len()
                )
                .as_bytes(),
            );
            continue;
        }
        if !problems.is_empty() {
            report.push_str(&format!(
                "\nresults/{preset}/ ({} stale; republish with `cargo xtask reproduce --preset {preset} --publish` and commit it):\n  {}",
                problems.len(),
                problems.join("\n  ")
            ));
        }
    }
    assert!(
        report.is_empty(),
        "published results that the current code would not reproduce:{report}"
    );
}
