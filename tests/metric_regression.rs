//! CI's metric-table regression: the `ci` preset (every method on small
//! built-in synthetic data) is re-run from scratch and compared with the
//! committed `results/ci/results.json` within the tolerances of
//! `configs/ci.toml`. A failure names every cell that moved.
//!
//! The `small-baselines` preset is rerun the same way on the real MovieLens
//! data. After a deliberate change of results, refresh a published table
//! with `cargo xtask reproduce --preset P --force --publish` and commit
//! `results/P/`.

use seqrec_runner::{ExperimentConfig, Results, RunOptions, check, run};
use std::path::Path;

/// Reruns `configs/<preset>.toml` with the data root `data` and compares it
/// with the published `results/<preset>/results.json`.
fn rerun_and_compare(preset: &str, data: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = ExperimentConfig::from_file(&root.join(format!("configs/{preset}.toml")))
        .unwrap_or_else(|e| panic!("configs/{preset}.toml: {e}"));
    let published = Results::read(&root.join(format!("results/{preset}/results.json")))
        .unwrap_or_else(|e| panic!("the published results cannot be read: {e}"));
    let out = tempfile::tempdir().expect("temp dir");
    let outcome = run(&config, &RunOptions::new(data, out.path()))
        .unwrap_or_else(|e| panic!("the {preset} preset failed: {e}"));
    let fresh = outcome.results.expect("every cell finished");
    // A fresh output folder: every cell ran, none was reused.
    let cells: usize = config.datasets.iter().map(|d| d.methods.len()).sum();
    assert_eq!(outcome.ran, cells * config.seeds.len());
    let report = check(&published, &fresh, &config.check);
    assert!(report.compared > 0, "nothing was compared");
    assert!(
        report.passed(),
        "{}\nfresh results are in {}; if the change is intended, run `cargo xtask reproduce --preset {preset} --force --publish` and commit results/{preset}/",
        report.describe(),
        out.keep().display()
    );
}

#[test]
fn the_small_baselines_preset_reproduces_its_published_table_on_real_data() {
    if let Some(data) = seqrec_data::testing::movielens_data_dir() {
        rerun_and_compare("small-baselines", &data);
    }
}

#[test]
fn the_ci_preset_reproduces_the_committed_results() {
    // The ci preset uses built-in data only: no data root is needed.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    rerun_and_compare("ci", &root.join("datasets"));
}
