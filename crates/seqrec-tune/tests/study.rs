//! Studies end to end on small synthetic data: trials never see the test
//! split, one worker and one seed repeat a study value for value, the
//! pruner stops trials that never win, parallel workers claim each number
//! once, a stopped study resumes, and `tune` writes outputs that work.

use seqrec_core::{ItemId, Part, Split, UserId, UserSequences};
use seqrec_runner::Method;
use seqrec_runner::config::MethodSettings;
use seqrec_tune::objective::Objective;
use seqrec_tune::store::StudyStore;
use seqrec_tune::study::{RunSettings, StudyEnd, run_study};
use seqrec_tune::{EmbeddedStore, TrialRecord, TrialState, TuneRequest, prepare, tune};
use std::path::Path;
use std::sync::Arc;

const DATA: &str = r#"
[options.synthetic]
seed = 7
users = 60
items = 150
events = 3000
min_events_per_user = 20
activity_spread = 0.6
group_size = 4
genres = 8
tastes_per_user = 2
taste_strength = 0.7
continue_run = 0.4
repeat = 0.0
popularity_exponent = 0.9
same_timestamp = 0.2
mean_gap_seconds = 3600.0

[gru]
hidden = 16
lanes = 8
epochs = 3
learning_rate = 0.005

[baselines.bpr_mf]
epochs = 3
"#;

fn config(dir: &Path, tune: &str) -> std::path::PathBuf {
    let path = dir.join("tune.toml");
    std::fs::write(&path, format!("{DATA}\n{tune}")).expect("write config");
    path
}

fn method(name: &str) -> Method {
    Method::parse(name).expect("method")
}

fn request(dir: &Path, tune: &str, name: &str) -> TuneRequest {
    let mut r = TuneRequest::new(config(dir, tune), "synthetic-movielens", method(name));
    r.out = Some(dir.join("out"));
    r.data_dir = dir.to_path_buf();
    r
}

fn split_of(r: &TuneRequest) -> Split {
    let options = MethodSettings::from_file(&r.config, &r.dataset)
        .expect("settings")
        .options
        .expect("options");
    let request = seqrec_data::LoadRequest {
        data_dir: r.data_dir.clone(),
        options,
        cache_dir: None,
    };
    let name = seqrec_data::DatasetName::parse(&r.dataset).expect("name");
    seqrec_data::load(&name, &request).expect("load").split
}

/// The same split with every test event's item replaced by another one.
fn with_other_test_events(split: &Split) -> Split {
    let (offsets, items, times) = split.sequences().parts();
    let mut items = items.to_vec();
    let n = split.catalogue_size() as u32;
    for u in 0..split.users() {
        let range = split.range(UserId(u as u32), Part::Test);
        for item in &mut items[offsets[u] + range.start..offsets[u] + range.end] {
            *item = ItemId((item.0 + 1 + u as u32 % 7) % n);
        }
    }
    let (train_end, validation_end) = split.boundaries();
    Split::from_parts(
        UserSequences::from_parts(offsets.to_vec(), items, times.to_vec()).expect("sequences"),
        train_end.to_vec(),
        validation_end.to_vec(),
        split.catalogue_size(),
    )
    .expect("split")
}

/// Runs a study of `r` on `split` in a fresh store; returns its trials.
fn study_on(
    r: &TuneRequest,
    split: &Split,
    store_path: &Path,
    run: &RunSettings,
) -> Vec<TrialRecord> {
    let prepared = prepare(r).expect("prepare");
    let objective = Objective::new(
        r.method,
        split,
        prepared.evaluation.clone(),
        &prepared.settings.metric,
        prepared.settings.epoch_metric(),
        prepared.compute,
        prepared.seeds[0],
    )
    .expect("objective");
    assert_eq!(
        objective.split().events(Part::Test),
        0,
        "trials must not see test events"
    );
    let store: Arc<dyn StudyStore> = Arc::new(EmbeddedStore::open(store_path).expect("store"));
    let end = run_study(store.clone(), &prepared.plan, &objective, run, &|_| {}).expect("study");
    assert_eq!(end, StudyEnd::Finished);
    store
        .trials(&prepared.plan.definition.name)
        .expect("trials")
}

fn values(trials: &[TrialRecord]) -> Vec<(u64, TrialState, Option<f64>)> {
    trials
        .iter()
        .map(|t| (t.number, t.state, t.value))
        .collect()
}

const KNN: &str = r#"
[tune]
trials = 5
sampler = "random"
seed = 3
[tune.space.item_knn]
neighbours = { type = "int", min = 2, max = 60, scale = "log" }
"#;

const GRU: &str = r#"
[tune]
trials = 3
sampler = "random"
seed = 3
[tune.space.gru]
learning_rate = { type = "float", min = 1e-3, max = 3e-2, scale = "log" }
"#;

#[test]
fn trial_values_do_not_depend_on_the_test_split() {
    for (tune, name) in [(KNN, "item-knn"), (GRU, "gru")] {
        let dir = tempfile::tempdir().expect("temp dir");
        let r = request(dir.path(), tune, name);
        let split = split_of(&r);
        let other = with_other_test_events(&split);
        // The change is real: test differs, training and validation do not.
        assert_ne!(split, other);
        for u in 0..split.users() {
            let user = UserId(u as u32);
            assert_eq!(
                split.part(user, Part::Validation),
                other.part(user, Part::Validation)
            );
        }
        let run = RunSettings::new(5);
        let a = study_on(&r, &split, &dir.path().join("a.db"), &run);
        let b = study_on(&r, &other, &dir.path().join("b.db"), &run);
        assert!(
            a.iter().all(|t| t.state == TrialState::Complete),
            "{name}: {a:?}"
        );
        assert_eq!(values(&a), values(&b), "{name}");
        assert_eq!(
            a.iter().map(|t| &t.params).collect::<Vec<_>>(),
            b.iter().map(|t| &t.params).collect::<Vec<_>>()
        );
    }
}

#[test]
fn one_worker_and_one_seed_give_the_same_study_twice() {
    // TPE past its 10 random start-up trials, on a fast method.
    let tune = r#"
[tune]
trials = 14
sampler = "tpe"
seed = 11
[tune.space.item_knn]
neighbours = { type = "int", min = 1, max = 120 }
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let r = request(dir.path(), tune, "item-knn");
    let split = split_of(&r);
    let run = RunSettings::new(14);
    let a = study_on(&r, &split, &dir.path().join("a.db"), &run);
    let b = study_on(&r, &split, &dir.path().join("b.db"), &run);
    assert_eq!(a.len(), 14);
    assert_eq!(values(&a), values(&b));
    let params = |t: &[TrialRecord]| t.iter().map(|t| t.params.clone()).collect::<Vec<_>>();
    assert_eq!(params(&a), params(&b));
    // Trial 0 is the starting settings (Table 1: 100 neighbours).
    assert_eq!(a[0].params["neighbours"], 100);
}

#[test]
fn asha_prunes_and_a_pruned_trial_is_never_best() {
    // Half the learning rates barely move the model: the pruner stops
    // them after the first epoch.
    let tune = r#"
[tune]
trials = 6
sampler = "random"
seed = 4
pruner = "asha"
[tune.asha]
min_epochs = 1
reduction_factor = 2
[tune.space.gru]
learning_rate = { type = "choice", values = [1e-7, 0.02] }
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let r = request(dir.path(), tune, "gru");
    let split = split_of(&r);
    let trials = study_on(&r, &split, &dir.path().join("s.db"), &RunSettings::new(6));
    let pruned: Vec<&TrialRecord> = trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .collect();
    assert!(!pruned.is_empty(), "{trials:?}");
    for t in &pruned {
        // Stopped at a rung, before its last epoch ran to the end.
        assert!(t.intermediate.len() < 3, "{t:?}");
    }
    let best = seqrec_tune::trial::best(&trials).expect("a complete trial");
    assert_eq!(best.state, TrialState::Complete);
    // Even a pruned trial with a higher recorded value would not be best.
    let top_pruned = pruned
        .iter()
        .filter_map(|t| t.value)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut doctored = trials.clone();
    for t in doctored
        .iter_mut()
        .filter(|t| t.state == TrialState::Pruned)
    {
        t.value = Some(top_pruned.max(best.value.unwrap_or(0.0)) + 1.0);
    }
    assert_eq!(
        seqrec_tune::trial::best(&doctored).map(|t| t.number),
        Some(best.number)
    );
}

#[test]
fn asha_prunes_an_sgd_baseline_on_any_metric_measured_at_rungs_only() {
    // BPR-MF runs 3 epochs (the config above): rungs at epochs 1 and 2.
    // Its epochs are evaluated in full, so the pruner is not tied to the
    // two metrics GRU training measures: NDCG@20 here.
    let tune = r#"
[tune]
metric = "ndcg@20"
trials = 6
sampler = "random"
seed = 4
pruner = "asha"
[tune.asha]
min_epochs = 1
reduction_factor = 2
[tune.space.bpr_mf]
learning_rate = { type = "choice", values = [1e-7, 0.05] }
"#;
    let dir = tempfile::tempdir().expect("temp dir");
    let r = request(dir.path(), tune, "bpr-mf");
    let split = split_of(&r);
    let trials = study_on(&r, &split, &dir.path().join("s.db"), &RunSettings::new(6));
    assert_eq!(trials.len(), 6);
    let pruned = trials
        .iter()
        .filter(|t| t.state == TrialState::Pruned)
        .count();
    assert!(pruned > 0, "{trials:?}");
    for t in &trials {
        let epochs: Vec<u64> = t.intermediate.keys().copied().collect();
        match t.state {
            // Measured at both rungs, never at the last epoch (not a rung).
            TrialState::Complete => assert_eq!(epochs, [1, 2], "{t:?}"),
            TrialState::Pruned => assert!(epochs == [1] || epochs == [1, 2], "{t:?}"),
            other => panic!("trial {} is {other:?}", t.number),
        }
    }
    let best = seqrec_tune::trial::best(&trials).expect("a complete trial");
    assert_eq!(best.state, TrialState::Complete);
}

#[test]
fn parallel_workers_claim_each_number_once_and_a_study_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = request(dir.path(), KNN, "item-knn");
    let split = split_of(&r);
    let path = dir.path().join("s.db");
    let mut run = RunSettings::new(4);
    run.jobs = 3;
    let first = study_on(&r, &split, &path, &run);
    assert_eq!(
        first.iter().map(|t| t.number).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    // The same study asked for more trials goes on from where it was.
    run.trials = 9;
    let all = study_on(&r, &split, &path, &run);
    assert_eq!(
        all.iter().map(|t| t.number).collect::<Vec<_>>(),
        (0..9).collect::<Vec<_>>()
    );
    assert!(
        all.iter()
            .all(|t| t.state == TrialState::Complete && t.attempts == 1)
    );
    assert_eq!(&all[..4], &first[..]);
}

#[test]
fn tune_writes_outputs_that_work_and_compares_on_test() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tune_text = r#"
[tune]
trials = 4
sampler = "random"
seed = 8
[tune.space.bpr_mf]
learning_rate = { type = "float", min = 0.01, max = 0.2, scale = "log" }
factors = { type = "int", min = 8, max = 32, step = 8 }
"#;
    let r = request(dir.path(), tune_text, "bpr-mf");
    let outcome = tune(&r).expect("tune");
    assert_eq!(outcome.end, StudyEnd::Finished);
    let out = dir.path().join("out");
    let csv = std::fs::read_to_string(out.join("trials.csv")).expect("trials.csv");
    let mut lines = csv.lines();
    assert!(
        lines.next().is_some_and(
            |h| h.starts_with("number,state,value,factors,learning_rate,attempts,fit_seconds")
        ),
        "{csv}"
    );
    assert_eq!(lines.count(), 4);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("trials.json")).expect("json"))
            .expect("valid JSON");
    assert_eq!(json["trials"].as_array().map(Vec::len), Some(4));
    // best.toml is a settings file giving the best trial's settings.
    let best = outcome.best().expect("best");
    let settings = MethodSettings::from_file(&out.join("best.toml"), "synthetic-movielens")
        .expect("best.toml reads");
    let sgd = &settings.baselines.bpr_mf.sgd;
    assert_eq!(
        sgd.factors as i64,
        best.params["factors"].as_i64().expect("int")
    );
    assert!(
        (f64::from(sgd.learning_rate) - best.params["learning_rate"].as_f64().expect("float"))
            .abs()
            < 1e-6
    );
    assert_eq!(sgd.epochs, 3, "untuned settings are kept");
    assert!(out.join("plots/history.svg").is_file());
    assert!(out.join("plots/param-learning_rate.svg").is_file());
    // The refit measured test for both settings.
    let comparison = outcome.comparison.as_ref().expect("comparison");
    assert!(comparison.tuned.test.contains_key("mrr@20"));
    assert_eq!(comparison.test.is_some(), best.number != 0);
    assert!(out.join("final.json").is_file() && out.join("summary.md").is_file());
    // Rebuilding the outputs from the store gives the same trials.
    std::fs::remove_file(out.join("trials.csv")).expect("remove");
    let rebuilt = seqrec_tune::report(&r).expect("report");
    assert_eq!(rebuilt.trials, outcome.trials);
    assert_eq!(
        std::fs::read_to_string(out.join("trials.csv")).expect("csv"),
        csv
    );
    // A report of a store that does not exist is an error that creates
    // nothing (a mistyped path must not leave an empty database).
    let mut nowhere = r.clone();
    let missing = dir.path().join("no-such-study.db");
    nowhere.storage = Some(missing.to_string_lossy().into_owned());
    let error = seqrec_tune::report(&nowhere)
        .expect_err("no store")
        .to_string();
    assert!(error.contains("does not exist"), "{error}");
    assert!(!missing.exists());
}

#[test]
fn a_resumed_study_with_other_settings_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = request(dir.path(), KNN, "item-knn");
    let mut run = r.clone();
    run.refit = false;
    tune(&run).expect("first");
    let other = KNN.replace("max = 60", "max = 80");
    let mut changed = request(dir.path(), &other, "item-knn");
    changed.refit = false;
    let error = tune(&changed)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("search space") && error.contains("--study"),
        "{error}"
    );
}
