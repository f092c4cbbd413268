//! `seqrec reproduce`, `train` and `recommend` as a user runs them.

mod common;
use common::{assert_fails_with, assert_ok, seqrec};

/// A tiny preset: two baselines and a GRU on a small synthetic set.
fn tiny_config() -> String {
    format!(
        r#"
name = "tiny"
seeds = [7]
methods = ["pop", "item-knn", "gru"]
[significance]
resamples = 100
[gru]
hidden = 8
lanes = 8
epochs = 1
[[datasets]]
name = "synthetic-movielens"
[datasets.options.synthetic]
{}"#,
        seqrec_data::testing::tiny_synthetic(30, 50, 900)
    )
}

#[test]
fn check_passes_on_a_rerun_and_names_every_cell_that_moved() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, tiny_config()).expect("write config");
    let out = dir.path().join("results");
    let (config, out_str) = (config.to_string_lossy(), out.to_string_lossy());
    let cache = dir.path().join("cache");
    let first = seqrec(
        &[
            "reproduce",
            "--config",
            &config,
            "--out",
            &out_str,
            "--quiet",
        ],
        &cache,
    );
    assert_ok(&first);
    assert!(String::from_utf8_lossy(&first.stdout).contains("3 cells run, 0 reused"));
    assert!(out.join("run.log").exists(), "the run logs to a file");
    let committed = out.join("results.json");

    let fresh = dir.path().join("fresh");
    let fresh = fresh.to_string_lossy();
    let committed_str = committed.to_string_lossy();
    let check_against = |committed: &str| {
        let args = [
            "reproduce",
            "--config",
            &config,
            "--out",
            &fresh,
            "--quiet",
            "--check",
            "--reference",
            committed,
        ];
        seqrec(&args, &cache)
    };
    let passed = check_against(&committed_str);
    assert_ok(&passed);
    assert!(String::from_utf8_lossy(&passed.stdout).contains("check passed"));

    // Move two numbers in the "committed" file: both cells are named.
    let text = std::fs::read_to_string(&committed).expect("results.json");
    let mut json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let cells = &mut json["datasets"][0]["cells"];
    for index in [0, 2] {
        let value = cells[index]["metrics"]["mrr@20"].as_f64().expect("mrr@20");
        cells[index]["metrics"]["mrr@20"] = (value + 0.01).into();
    }
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, json.to_string()).expect("write");
    let tampered = tampered.to_string_lossy();
    let failed = check_against(&tampered);
    assert!(!failed.status.success());
    let stdout = String::from_utf8_lossy(&failed.stdout);
    assert!(
        stdout.contains("synthetic-movielens / pop / mrr@20"),
        "{stdout}"
    );
    assert!(
        stdout.contains("synthetic-movielens / gru / mrr@20"),
        "{stdout}"
    );
    assert!(stdout.contains("2 moved"), "{stdout}");
}

#[test]
fn reproduce_rejects_bad_configs_and_flags_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("cache");
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        tiny_config().replace("epochs = 1", "epochs = 1\nhiden = 3"),
    )
    .expect("write");
    let config = config.to_string_lossy();
    let out = dir.path().join("out");
    let out = out.to_string_lossy();
    let bad = seqrec(&["reproduce", "--config", &config, "--out", &out], &cache);
    assert_fails_with(&bad, "hiden");
    assert_fails_with(&bad, "bad.toml");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, tiny_config()).expect("write");
    let good = good.to_string_lossy();
    let unknown = seqrec(
        &[
            "reproduce",
            "--config",
            &good,
            "--out",
            &out,
            "--methods",
            "lstm",
        ],
        &cache,
    );
    assert_fails_with(&unknown, "lstm");
    let missing = seqrec(
        &[
            "reproduce",
            "--config",
            &good,
            "--out",
            &out,
            "--datasets",
            "ml-1m",
        ],
        &cache,
    );
    assert_fails_with(&missing, "ml-1m");
    let repeated = seqrec(
        &[
            "reproduce",
            "--config",
            &good,
            "--out",
            &out,
            "--seeds",
            "3,3",
        ],
        &cache,
    );
    assert_fails_with(&repeated, "--seeds: seeds must not repeat");
    // --seeds replaces the preset's: the plan lists one cell per seed given.
    let planned = seqrec(
        &[
            "reproduce",
            "--config",
            &good,
            "--out",
            &out,
            "--seeds",
            "11,12",
            "--plan",
        ],
        &cache,
    );
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );
    let plan = String::from_utf8_lossy(&planned.stdout);
    assert!(plan.contains(": 6 cells,"), "3 methods × 2 seeds: {plan}");
    let seeds: Vec<&str> = plan
        .lines()
        .skip(3)
        .filter_map(|line| line.split_whitespace().nth(2))
        .collect();
    assert_eq!(seeds, ["11", "12", "11", "12", "11", "12"], "{plan}");
}

#[test]
fn train_saves_a_model_and_recommend_reads_it_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("cache");
    let options = dir.path().join("options.toml");
    let synthetic = seqrec_data::testing::tiny_synthetic(30, 50, 900);
    std::fs::write(&options, format!("[synthetic]\n{synthetic}")).expect("write");
    let options = options.to_string_lossy();
    let gru = dir.path().join("gru.toml");
    std::fs::write(&gru, "[gru]\nhidden = 8\nlanes = 8\nepochs = 2\n").expect("write");
    let gru = gru.to_string_lossy();
    for method in ["gru", "item-knn"] {
        let model = dir.path().join(method);
        let model = model.to_string_lossy();
        let trained = seqrec(
            &[
                "train",
                "--dataset",
                "synthetic-movielens",
                "--options",
                &options,
                "--method",
                method,
                "--config",
                &gru,
                "--out",
                &model,
            ],
            &cache,
        );
        assert_ok(&trained);
        assert!(String::from_utf8_lossy(&trained.stdout).contains("validation MRR@20"));
        let top = |extra: &[&str]| {
            let mut args = vec![
                "recommend",
                "--model",
                &*model,
                "--user",
                "1",
                "--top",
                "5",
                "--json",
            ];
            args.extend_from_slice(extra);
            let out = seqrec(&args, &cache);
            assert_ok(&out);
            let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            list.as_array().cloned().unwrap_or_default()
        };
        let list = top(&[]);
        assert_eq!(list.len(), 5, "{method}");
        let ranks: Vec<u64> = list.iter().filter_map(|r| r["rank"].as_u64()).collect();
        assert_eq!(ranks, [1, 2, 3, 4, 5]);
        let scores: Vec<f64> = list.iter().filter_map(|r| r["score"].as_f64()).collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "{method}: {scores:?}"
        );
        // The saved model gives the same list every time it is loaded.
        assert_eq!(top(&[]), list, "{method}");
        let unknown = seqrec(
            &["recommend", "--model", &model, "--user", "no-such-user"],
            &cache,
        );
        assert_fails_with(&unknown, "no-such-user");
    }
    let not_a_model = seqrec(&["recommend", "--model", &options, "--user", "1"], &cache);
    assert_fails_with(&not_a_model, "model.toml");
}

/// A copy of the repository's tracked files, committed in a fresh git
/// repository, so that a run's effect on tracked files shows in `git status`.
fn repository_copy(to: &std::path::Path) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let git = |dir: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for file in git(&root, &["ls-files", "-z"])
        .split('\0')
        .filter(|f| !f.is_empty())
    {
        let target = to.join(file);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::copy(root.join(file), &target).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    git(to, &["init", "--quiet"]);
    git(to, &["add", "--all"]);
    git(to, &["commit", "--quiet", "-m", "copy"]);
}

fn git_status(dir: &std::path::Path) -> String {
    let out = std::process::Command::new("git")
        .args(["status", "--porcelain"])
        .current_dir(dir)
        .output()
        .expect("git status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `seqrec reproduce` as the main job runs it (`cargo xtask reproduce` runs
/// this binary from the repository root): a clone with no real data.
fn reproduce_in(
    dir: &std::path::Path,
    data: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_seqrec"))
        .arg("--data-dir")
        .arg(data)
        .args(["reproduce", "--preset", "quick", "--quiet"])
        .args([
            "--datasets",
            "synthetic-movielens,ml-100k",
            "--methods",
            "pop,item-knn",
        ])
        .args(extra)
        .current_dir(dir)
        .env("SEQREC_CACHE_DIR", dir.join("target/cache"))
        .env_remove("RUST_LOG")
        .output()
        .expect("seqrec runs")
}

#[test]
fn the_main_job_leaves_tracked_files_alone_and_compares_with_the_published_results() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let clone = tmp.path().join("clone");
    repository_copy(&clone);
    let no_data = tmp.path().join("no-data");
    std::fs::create_dir_all(&no_data).expect("mkdir");

    let first = reproduce_in(&clone, &no_data, &[]);
    assert_ok(&first);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        stdout.contains("2 cells run, 0 reused; results in runs/quick"),
        "{stdout}"
    );
    assert!(
        stdout.contains("compared with the published results results/quick/results.json"),
        "{stdout}"
    );
    // The two baselines on synthetic data are deterministic: they agree.
    assert!(stdout.contains("2 cells agree, 0 moved"), "{stdout}");
    assert!(
        stdout.contains("not run (9 cells: ml-100k / {pop, item-knn, decay-knn")
            && stdout.contains("download it with `cargo xtask fetch-data --datasets ml-100k`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ml-latest-small / {pop,")
            && stdout.contains("did not include the dataset"),
        "{stdout}"
    );
    assert_eq!(git_status(&clone), "", "a plain run changed tracked files");
    assert!(clone.join("runs/quick/results.json").exists());

    // The second run reuses the cells this machine computed (in runs/).
    let second = reproduce_in(&clone, &no_data, &[]);
    assert_ok(&second);
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.contains("0 cells run, 2 reused"), "{stdout}");
    assert_eq!(git_status(&clone), "");

    // --check makes the cells that could not run a failure.
    let check = reproduce_in(&clone, &no_data, &["--check"]);
    assert_fails_with(&check, "differs from results/quick/results.json");
    assert!(String::from_utf8_lossy(&check.stdout).contains("check failed"));
    assert_eq!(git_status(&clone), "");

    // --publish replaces the whole preset's reference, so a partial run or
    // one with missing data is refused, and nothing is written.
    let partial = reproduce_in(&clone, &no_data, &["--publish"]);
    assert_fails_with(&partial, "--publish needs the whole preset");
    assert_eq!(git_status(&clone), "");
    let publish_tiny = |config: String| {
        let path = tmp.path().join("tiny.toml");
        std::fs::write(&path, config).expect("write");
        std::process::Command::new(env!("CARGO_BIN_EXE_seqrec"))
            .arg("--data-dir")
            .arg(&no_data)
            .args(["reproduce", "--config"])
            .arg(&path)
            .args(["--quiet", "--publish"])
            .current_dir(&clone)
            .env("SEQREC_CACHE_DIR", clone.join("target/cache"))
            .env_remove("RUST_LOG")
            .output()
            .expect("seqrec runs")
    };
    let with_missing_data = tiny_config() + "[[datasets]]\nname = \"ml-100k\"\nrequired = false\n";
    let refused = publish_tiny(with_missing_data);
    assert_fails_with(&refused, "not publishing: dataset ml-100k did not run");
    assert_eq!(git_status(&clone), "");
    // Only --publish writes the published folder (a complete tiny preset).
    let publish = publish_tiny(tiny_config());
    assert_ok(&publish);
    assert!(
        git_status(&clone).contains("?? results/tiny/"),
        "{}",
        git_status(&clone)
    );
    assert!(clone.join("results/tiny/results.json").exists());
    assert!(
        !clone.join("results/tiny/run.log").exists(),
        "the log is not published"
    );
}

#[test]
fn a_plan_of_the_paper_preset_without_data_estimates_memory_from_published_sizes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seqrec"))
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["reproduce", "--preset", "paper", "--plan", "--out"])
        .arg(tmp.path().join("out"))
        .current_dir(&root)
        .env_remove("RUST_LOG")
        .output()
        .expect("seqrec runs");
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ml-10m: 69878 users, 10677 items (published size: not downloaded yet)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "lastfm-1k: 992 users, 500000 items (published size, not downloaded yet; estimate:"
        ),
        "{stdout}"
    );
    // The paper preset trains on cuda: its estimates use a GPU's chunk.
    assert!(
        stdout.contains("GRU memory on `cuda`: with the output chunk of a GPU"),
        "{stdout}"
    );
    // Every GRU cell of both datasets has a memory estimate in GiB.
    let gru_rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("no data") && l.contains("gru"))
        .collect();
    assert_eq!(gru_rows.len(), 8, "{stdout}");
    assert!(
        gru_rows.iter().all(|l| l.trim_end().ends_with("GiB")),
        "{stdout}"
    );
    assert!(stdout.contains("0 to run"), "{stdout}");
}
