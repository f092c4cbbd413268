//! Self-contained model directories: `seqrec recommend` needs no dataset,
//! gives the list it gave with the data (titles included), and directories
//! of the format before keep loading with their dataset.

mod common;

use common::{assert_fails_with, assert_ok, generate_ml10m, seqrec};
use std::path::Path;

/// An ML-10M-shaped data root: generated ratings and a titles file.
fn write_data_root(root: &Path, cache: &Path) {
    let dir = root.join("ml-10M100K");
    std::fs::create_dir_all(&dir).expect("data dir");
    generate_ml10m(root, 60, 3000, cache);
    let titles: String = (1..=12000)
        .map(|i| format!("{i}::Film number {i} (1999)::Drama\n"))
        .collect();
    std::fs::write(dir.join("movies.dat"), titles).expect("titles");
}

fn recommend(model: &Path, root: &Path, cache: &Path) -> std::process::Output {
    seqrec(
        &[
            "--data-dir",
            &root.to_string_lossy(),
            "--no-cache",
            "recommend",
            "--model",
            &model.to_string_lossy(),
            "--user",
            "5",
            "--top",
            "10",
            "--json",
        ],
        cache,
    )
}

/// `seqrec train` of `method` on the data root's ml-10m into `out`.
fn train(root: &Path, cache: &Path, method: &str, config: Option<&Path>, out: &Path) {
    let (root, out) = (root.to_string_lossy(), out.to_string_lossy());
    let mut args = vec![
        "--data-dir",
        &root,
        "train",
        "--dataset",
        "ml-10m",
        "--method",
        method,
        "--out",
        &out,
    ];
    let config = config.map(|c| c.to_string_lossy().into_owned());
    if let Some(config) = &config {
        args.extend(["--config", config]);
    }
    assert_ok(&seqrec(&args, cache));
}

fn list_of(out: &std::process::Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn models_recommend_without_the_dataset_and_old_directories_still_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (root, cache) = (dir.path().join("data"), dir.path().join("cache"));
    write_data_root(&root, &cache);
    let config = dir.path().join("settings.toml");
    std::fs::write(
        &config,
        "[gru]\nhidden = 8\nlanes = 8\nepochs = 1\n[baselines.seq_mf.sgd]\nepochs = 2\n",
    )
    .expect("write");
    for method in ["gru", "item-knn", "seq-mf"] {
        let model = dir.path().join(method);
        train(&root, &cache, method, Some(&config), &model);
        for file in ["model.toml", "data.snapshot", "titles.json"] {
            assert!(model.join(file).exists(), "{method}: no {file}");
        }
        let with_data = list_of(&recommend(&model, &root, &cache));
        let items = with_data.as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 10, "{method}");
        assert!(
            items.iter().all(|r| r["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Film number"))),
            "{method}: titles missing: {with_data}"
        );

        // No data root at all: the same list, titles included.
        let empty = dir.path().join("nothing-here");
        let without = list_of(&recommend(&model, &empty, &cache));
        assert_eq!(without, with_data, "{method}");

        // A format-1 directory (before self-contained models) loads with its data...
        let toml_path = model.join("model.toml");
        let text = std::fs::read_to_string(&toml_path).expect("model.toml");
        assert!(text.contains("format = 2"), "{text}");
        // A GRU records the precision it was trained at; a baseline none.
        assert_eq!(
            text.contains("precision = \"tf32\""),
            method == "gru",
            "{method}: {text}"
        );
        std::fs::write(&toml_path, text.replace("format = 2", "format = 1")).expect("write");
        for file in ["data.snapshot", "titles.json", "baseline.state"] {
            let _ = std::fs::remove_file(model.join(file));
        }
        let old = list_of(&recommend(&model, &root, &cache));
        assert_eq!(old, with_data, "{method}: format 1 with its data");
        // ... and without it fails naming what is missing.
        assert_fails_with(&recommend(&model, &empty, &cache), "ml-10m");
    }
    // A damaged snapshot is an error naming the file, not a panic.
    let model = dir.path().join("broken");
    train(&root, &cache, "pop", None, &model);
    let state = model.join("baseline.state");
    let good_state = std::fs::read(&state).expect("state");
    std::fs::write(&state, b"not a state").expect("write");
    assert_fails_with(&recommend(&model, &root, &cache), "baseline.state");
    std::fs::write(&state, good_state).expect("write");
    assert_ok(&recommend(&model, &root, &cache));
    let snapshot = model.join("data.snapshot");
    let mut bytes = std::fs::read(&snapshot).expect("snapshot");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&snapshot, bytes).expect("write");
    assert_fails_with(&recommend(&model, &root, &cache), "data.snapshot");
}
