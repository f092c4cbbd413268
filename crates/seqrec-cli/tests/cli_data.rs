//! The `seqrec data` commands as a user runs them.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use common::{assert_fails_with, assert_ok, generate_ml10m, json_of, seqrec};

#[test]
fn stats_json_has_the_documented_keys() {
    let cache = tempfile::tempdir().unwrap();
    let out = seqrec(
        &[
            "data",
            "stats",
            "--dataset",
            "synthetic-movielens",
            "--json",
        ],
        cache.path(),
    );
    let json = json_of(&out);
    for key in [
        "users",
        "items",
        "events",
        "train_events",
        "validation_events",
        "test_events",
        "mean_sequence_length",
        "median_sequence_length",
        "removed_validation_events",
        "removed_test_events",
        "skipped_lines",
    ] {
        assert!(json.get(key).is_some(), "missing {key}: {json}");
    }
    assert_eq!(json["users"], 1000);
    let parts = json["train_events"].as_u64().unwrap()
        + json["validation_events"].as_u64().unwrap()
        + json["test_events"].as_u64().unwrap();
    assert_eq!(json["events"].as_u64().unwrap(), parts);
}

#[test]
fn generate_then_stats_then_export() {
    let dir = tempfile::tempdir().unwrap();
    generate_ml10m(dir.path(), 100, 5000, dir.path());
    let data_dir = dir.path().to_str().unwrap();
    let out = seqrec(
        &[
            "--data-dir",
            data_dir,
            "data",
            "stats",
            "--dataset",
            "ml-10m",
            "--json",
        ],
        dir.path(),
    );
    let json = json_of(&out);
    assert_eq!(json["parsed_events"], 5000);
    assert_eq!(json["users"], 100);

    let export_dir = dir.path().join("export");
    let out = seqrec(
        &[
            "--data-dir",
            data_dir,
            "data",
            "export",
            "--dataset",
            "ml-10m",
            "--out",
            export_dir.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_ok(&out);
    let text = std::fs::read_to_string(export_dir.join("ml-10m.split.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("user,item,timestamp,split,user_index,item_index,position")
    );
    assert_eq!(lines.count() as u64, json["events"].as_u64().unwrap());
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ml-100k")).unwrap();
    std::fs::write(
        dir.path().join("ml-100k/u.data"),
        "1\t2\t3\t4\n1\t2\tx\t5\n",
    )
    .unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let out = seqrec(
        &[
            "--data-dir",
            data_dir,
            "--no-cache",
            "data",
            "stats",
            "--dataset",
            "ml-100k",
        ],
        dir.path(),
    );
    assert_fails_with(&out, "u.data:2: rating `x` is not a number");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    let out = seqrec(
        &[
            "--data-dir",
            data_dir,
            "data",
            "stats",
            "--dataset",
            "ml-10m",
        ],
        dir.path(),
    );
    assert_fails_with(&out, "file not found");

    let out = seqrec(&["data", "stats", "--dataset", "netflix"], dir.path());
    assert_fails_with(&out, "unknown dataset `netflix`");
}

#[test]
fn evaluate_outside_scores_of_the_exported_split() {
    let dir = tempfile::tempdir().unwrap();
    let out = seqrec(
        &[
            "data",
            "export",
            "--dataset",
            "synthetic-movielens",
            "--out",
            dir.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_ok(&out);
    // A "tool" that recommends exactly the target for every test event.
    let export = std::fs::read_to_string(dir.path().join("synthetic-movielens.split.csv")).unwrap();
    let mut lines = String::from("user_index,position,items\n");
    for row in export.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        if f[3] == "test" {
            lines.push_str(&format!("{},{},{}\n", f[4], f[6], f[5]));
        }
    }
    let scores = dir.path().join("oracle.csv");
    std::fs::write(&scores, lines).unwrap();
    let out = seqrec(
        &[
            "evaluate",
            "--dataset",
            "synthetic-movielens",
            "--scores",
            scores.to_str().unwrap(),
            "--json",
        ],
        dir.path(),
    );
    let json = json_of(&out);
    assert_eq!(json["mrr@20"], 1.0);
    assert_eq!(json["recall@20"], 1.0);
    assert_eq!(json["split"], "test");
    for key in [
        "method",
        "dataset",
        "events",
        "users",
        "ndcg@20",
        "fit_seconds",
        "eval_seconds",
        "mrr@20_macro",
    ] {
        assert!(json.get(key).is_some(), "{key} missing");
    }
}

#[test]
fn evaluate_a_baseline_with_params_from_toml() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("params.toml");
    std::fs::write(&config, "[baselines.item_knn]\nneighbours = 20\n").unwrap();
    let out = seqrec(
        &[
            "evaluate",
            "--dataset",
            "synthetic-lastfm",
            "--method",
            "item-knn",
            "--config",
            config.to_str().unwrap(),
            "--split",
            "validation",
            "--json",
        ],
        dir.path(),
    );
    let json = json_of(&out);
    assert_eq!(json["method"], "item-knn");
    assert_eq!(json["split"], "validation");
    assert!(json["mrr@20"].as_f64().unwrap() > 0.0);

    std::fs::write(&config, "[baselines.item_knn]\nneighbours = 0\n").unwrap();
    let out = seqrec(
        &[
            "evaluate",
            "--dataset",
            "synthetic-lastfm",
            "--method",
            "item-knn",
            "--config",
            config.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_fails_with(&out, "neighbours must be at least 1");

    let out = seqrec(
        &[
            "evaluate",
            "--dataset",
            "synthetic-lastfm",
            "--method",
            "gru4rec",
        ],
        dir.path(),
    );
    assert_fails_with(&out, "unknown method `gru4rec`");
}

#[test]
fn knn_beats_pop_on_planted_structure() {
    let dir = tempfile::tempdir().unwrap();
    let mrr = |method: &str| -> f64 {
        let out = seqrec(
            &[
                "evaluate",
                "--dataset",
                "synthetic-lastfm",
                "--method",
                method,
                "--json",
            ],
            dir.path(),
        );
        let json = json_of(&out);
        json["mrr@20"].as_f64().unwrap()
    };
    let (pop, knn, decay) = (mrr("pop"), mrr("item-knn"), mrr("decay-knn"));
    assert!(knn > 2.0 * pop, "item-knn {knn} vs pop {pop}");
    assert!(decay > pop, "decay-knn {decay} vs pop {pop}");
}

#[test]
fn evaluate_takes_a_presets_settings_by_file_or_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let quick = root.join("configs/quick.toml");
    let run = |settings: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--dataset",
            "synthetic-movielens",
            "--method",
            "item-knn",
        ];
        args.extend_from_slice(settings);
        args.extend_from_slice(&["--split", "validation", "--json"]);
        std::process::Command::new(env!("CARGO_BIN_EXE_seqrec"))
            .args(&args)
            .current_dir(&root)
            .env("SEQREC_CACHE_DIR", dir.path())
            .env("RUST_BACKTRACE", "1")
            .env_remove("RUST_LOG")
            .output()
            .expect("seqrec runs")
    };
    let by_file = json_of(&run(&["--config", quick.to_str().unwrap()]));
    let by_name = json_of(&run(&["--preset", "quick"]));
    assert_eq!(by_file["mrr@20"], by_name["mrr@20"]);
    assert!(by_file["mrr@20"].as_f64().unwrap() > 0.0);
    assert_fails_with(&run(&["--preset", "nope"]), "configs/nope.toml");
    // The old method-file schema says where its tables go now.
    let old = dir.path().join("old.toml");
    std::fs::write(&old, "[item_knn]\nneighbours = 20\n").unwrap();
    assert_fails_with(
        &run(&["--config", old.to_str().unwrap()]),
        "baseline settings go under `[baselines.item_knn]`",
    );
}
