//! CI's metric-table regression: the `ci` preset (every method on small
//! built-in synthetic data) is re-run from scratch and compared with the
//! committed `results/ci/results.json` within the tolerances of
//! `configs/ci.toml`. A failure names every cell that moved.
//!
//! After a deliberate change of results, refresh the committed table with
//! `cargo xtask reproduce --preset ci --force` and commit `results/ci/`.

use seqrec_runner::{ExperimentConfig, Results, RunOptions, check, run};
use std::path::Path;

#[test]
fn the_ci_preset_reproduces_the_committed_results() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = ExperimentConfig::from_file(&root.join("configs/ci.toml"))
        .unwrap_or_else(|e| panic!("configs/ci.toml: {e}"));
    let committed_path = root.join("results/ci/results.json");
    let committed = Results::read(&committed_path)
        .unwrap_or_else(|e| panic!("the committed results cannot be read: {e}"));
    let out = tempfile::tempdir().expect("temp dir");
    // The ci preset uses built-in data only: no data root is needed.
    let options = RunOptions::new(root.join("datasets"), out.path());
    let outcome = run(&config, &options).unwrap_or_else(|e| panic!("the ci preset failed: {e}"));
    let fresh = outcome.results.expect("every cell finished");
    assert_eq!(
        outcome.ran,
        config
            .datasets
            .iter()
            .map(|d| d.methods.len())
            .sum::<usize>()
    );
    let report = check(&committed, &fresh, &config.check);
    assert!(report.compared > 0, "nothing was compared");
    assert!(
        report.passed(),
        "{}\nfresh results are in {}; if the change is intended, run `cargo xtask reproduce --preset ci --force` and commit results/ci/",
        report.describe(),
        out.keep().display()
    );
}
