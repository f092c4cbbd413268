//! The runner as a library: results in every format, finished cells reused,
//! a half-finished run resumed to the same numbers.

use seqrec_runner::experiment::CellState;
use seqrec_runner::{ExperimentConfig, Method, Results, RunOptions, plan, run};
use std::path::Path;

/// A tiny experiment: two baselines and two GRUs on a small synthetic set.
fn tiny(gru_epochs: usize) -> ExperimentConfig {
    let text = format!(
        r#"
name = "tiny"
seeds = [7]
methods = ["pop", "item-knn", "gru", "attentional-user-gru"]
[significance]
resamples = 200
[gru]
hidden = 8
lanes = 8
epochs = {gru_epochs}
learning_rate = 0.01
[[datasets]]
name = "synthetic-movielens"
[datasets.options.synthetic]
{synthetic}"#,
        synthetic = seqrec_data::testing::tiny_synthetic(40, 60, 1200)
    );
    match ExperimentConfig::from_toml(&text) {
        Ok(config) => config,
        Err(e) => panic!("tiny config: {e}"),
    }
}

fn run_in(config: &ExperimentConfig, out: &Path, stop: Option<usize>) -> seqrec_runner::RunOutcome {
    let mut options = RunOptions::new("datasets", out);
    options.stop_after_cells = stop;
    match run(config, &options) {
        Ok(outcome) => outcome,
        Err(e) => panic!("run failed: {e}"),
    }
}

/// (method, test MRR@20, test Recall@20) of every cell.
fn numbers(results: &Results) -> Vec<(Method, f64, f64)> {
    results.datasets[0]
        .cells
        .iter()
        .map(|c| (c.method, c.metric("mrr@20"), c.metric("recall@20")))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_half_finished_run_resumes_and_ends_where_a_whole_run_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = tiny(2);
    let whole = run_in(&config, &dir.path().join("whole"), None);
    let whole = whole.results.expect("finished");

    let out = dir.path().join("halves");
    let first = run_in(&config, &out, Some(2));
    assert!(first.results.is_none(), "stopped after two cells");
    assert_eq!((first.ran, first.reused), (2, 0));
    let second = run_in(&config, &out, None);
    assert_eq!(
        (second.ran, second.reused),
        (2, 2),
        "the two finished cells are reused"
    );
    let resumed = second.results.expect("finished");
    assert_eq!(numbers(&resumed), numbers(&whole));
    assert_eq!(
        resumed.datasets[0].comparisons,
        whole.datasets[0].comparisons
    );

    // A third run has nothing to do; changing a GRU setting reruns only the GRUs.
    let third = run_in(&config, &out, None);
    assert_eq!((third.ran, third.reused), (0, 4));
    let changed = run_in(&tiny(3), &out, None);
    assert_eq!((changed.ran, changed.reused), (2, 2));
}

#[test]
fn results_are_written_as_markdown_csv_json_and_plots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("tiny");
    let config = tiny(2);
    let results = run_in(&config, &out, None).results.expect("finished");

    // results.json reads back as the results returned.
    let again = Results::read(&out.join("results.json")).expect("results.json reads back");
    assert_eq!(again, results);
    let cells = &results.datasets[0].cells;
    assert_eq!(cells.len(), 4);
    for cell in cells {
        for k in [5, 10, 20] {
            for key in [
                format!("mrr@{k}"),
                format!("recall@{k}_macro"),
                format!("ndcg@{k}"),
            ] {
                assert!(cell.metric(&key).is_finite(), "{} lacks {key}", cell.method);
            }
        }
        assert_eq!(cell.per_seed.len(), 1);
        assert_eq!(cell.per_seed[0].seed, 7);
    }
    let gru = &cells[2];
    assert_eq!(gru.method.name(), "gru");
    assert_eq!(gru.paper.map(|p| p.mrr20), Some(0.04730));
    let expected = gru.metric("mrr@20") / 0.04730 - 1.0;
    assert_eq!(gru.relative_difference.map(|d| d.mrr20), Some(expected));
    assert!(gru.train_tuples_per_second.is_some_and(|t| t > 0.0));
    assert_eq!(gru.per_seed[0].backend.map(|b| b.name()), Some("flex"));
    // One comparison (attentional vs standard) plus best GRU vs best baseline.
    assert_eq!(results.datasets[0].comparisons.len(), 2);

    let table = read(&out.join("table.md"));
    for needle in [
        "| Standard GRU |",
        "0.04730",
        "Attentional user-based GRU",
        "Wilcoxon",
        "every GRU beats every baseline",
    ] {
        assert!(
            table.contains(needle),
            "table.md lacks `{needle}`:\n{table}"
        );
    }
    let csv = read(&out.join("results.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("dataset,method,seed,"));
    assert_eq!(lines.len(), 1 + 4 * 2, "a seed row and a mean row per cell");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("synthetic-movielens,gru,7,"))
    );

    // The resolved config beside the results reads back as the config.
    let saved = ExperimentConfig::from_file(&out.join("config.toml")).expect("config.toml parses");
    assert_eq!(saved, config);

    for stem in [
        "synthetic-movielens-table2",
        "synthetic-movielens-learning-curves",
    ] {
        let svg = read(&out.join("plots").join(format!("{stem}.svg")));
        assert!(
            svg.starts_with("<svg") && svg.contains("</svg>"),
            "{stem}.svg"
        );
        let png = std::fs::read(out.join("plots").join(format!("{stem}.png"))).expect("png");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png is a PNG");
    }
    assert!(
        read(&out.join("plots/synthetic-movielens-learning-curves.svg"))
            .contains("attentional-user-gru")
    );
}

#[test]
fn missing_real_data_is_skipped_when_optional_and_an_error_when_required() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty_root = dir.path().join("no-data");
    let config = |required: bool| {
        let text = format!(
            "name = \"t\"\nseeds = [1]\nmethods = [\"pop\"]\n[[datasets]]\nname = \"synthetic-lastfm\"\n[[datasets]]\nname = \"ml-100k\"\nrequired = {required}\n"
        );
        ExperimentConfig::from_toml(&text).expect("config")
    };
    let out = dir.path().join("out");
    let options = RunOptions::new(&empty_root, &out);
    let results = run(&config(false), &options)
        .expect("an optional dataset that is missing is skipped")
        .results
        .expect("finished");
    assert_eq!(results.datasets.len(), 1);
    assert_eq!(results.skipped.len(), 1);
    assert_eq!(results.skipped[0].dataset, "ml-100k");
    assert!(results.skipped[0].reason.contains("ml-100k/u.data"));
    assert!(read(&out.join("table.md")).contains("## Skipped datasets"));

    let error = run(&config(true), &options).err().map(|e| e.to_string());
    let error = error.expect("a required dataset that is missing is an error");
    assert!(
        error.contains("ml-100k/u.data") && error.contains("SEQREC_DATA_DIR"),
        "{error}"
    );
}

#[test]
fn a_plan_says_what_would_run_and_estimates_gru_memory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    let options = RunOptions::new("datasets", &out);
    let states = |config: &ExperimentConfig| -> Vec<(String, CellState)> {
        let plan = plan(config, &options).unwrap_or_else(|e| panic!("plan: {e}"));
        plan.cells
            .iter()
            .map(|c| (c.method.name().to_owned(), c.state))
            .collect()
    };
    let config = tiny(2);
    let before = plan(&config, &options).expect("plan");
    assert!(before.cells.iter().all(|c| c.state == CellState::ToRun));
    assert!(!out.join("results.json").exists(), "a plan runs nothing");
    for cell in &before.cells {
        assert_eq!(
            cell.memory_bytes.is_some_and(|b| b > 0),
            cell.method.is_gru(),
            "{}",
            cell.method
        );
    }
    assert!(before.describe().contains("4 to run"));
    run_in(&config, &out, None);
    assert!(
        states(&config)
            .iter()
            .all(|(_, s)| *s == CellState::Finished)
    );
    let changed = states(&tiny(3));
    let stale: Vec<&str> = changed
        .iter()
        .filter(|(_, s)| *s == CellState::Stale)
        .map(|(m, _)| m.as_str())
        .collect();
    assert_eq!(stale, ["gru", "attentional-user-gru"]);
}

/// A cell's hash names the precision only where it can change the
/// numbers: a GPU's fp32 or the emulation (any backend), never a
/// baseline's and never the default; so every other hash is unchanged.
#[test]
fn the_cell_hash_changes_with_the_precision_only_where_results_can() {
    use seqrec_models::{Backend, GruVariant, Precision};
    use seqrec_runner::experiment::cell_hash;
    let hash = |backend: Backend, precision: Precision, method: Method| {
        let mut config = tiny(1);
        config.backend = backend;
        config.precision = precision;
        cell_hash(&config, &config.datasets[0], method, 7).unwrap_or_else(|e| panic!("{e}"))
    };
    let gru = Method::Gru(GruVariant::Gru);
    let pop = Method::Baseline(seqrec_baselines::Baseline::Pop);
    for backend in [Backend::Flex, Backend::Cuda] {
        let default = hash(backend, Precision::Tf32, gru);
        let emulated = hash(backend, Precision::Tf32Emulated, gru);
        assert_ne!(default, emulated, "{backend}");
        let bf16 = hash(backend, Precision::Bf16Emulated, gru);
        assert!(bf16 != default && bf16 != emulated, "{backend}");
        // Composed element-wise work changes a GPU's sums, not the CPU's.
        let composed = {
            let mut config = tiny(1);
            config.backend = backend;
            config.elementwise = seqrec_models::ElementWise::Composed;
            cell_hash(&config, &config.datasets[0], gru, 7).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(composed == default, backend.is_cpu(), "{backend}");
        let fp32 = hash(backend, Precision::Fp32, gru);
        assert_eq!(default == fp32, backend.is_cpu(), "{backend}");
        assert_eq!(
            hash(backend, Precision::Tf32, pop),
            hash(backend, Precision::Tf32Emulated, pop)
        );
    }
}
