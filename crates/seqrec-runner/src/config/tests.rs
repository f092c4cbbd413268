use super::*;
use seqrec_metrics::TieRule;
use seqrec_models::{LaneSwitch, Threshold};

fn preset(name: &str) -> ExperimentConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs")
        .join(format!("{name}.toml"));
    match ExperimentConfig::from_file(&path) {
        Ok(config) => config,
        Err(e) => panic!("{} does not parse: {e}", path.display()),
    }
}

fn error_of(text: &str) -> String {
    match ExperimentConfig::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const MINIMAL: &str = "name = \"t\"\nseeds = [1]\n[[datasets]]\nname = \"synthetic-movielens\"\n";

/// A config with `top` keys, then `tables`, then one dataset with `dataset` lines.
fn config(top: &str, tables: &str, dataset: &str) -> String {
    format!(
        "name = \"t\"\nseeds = [1]\n{top}\n{tables}\n[[datasets]]\nname = \"synthetic-movielens\"\n{dataset}\n"
    )
}

#[test]
fn the_paper_preset_is_table_1() {
    let config = preset("paper");
    assert_eq!(config.dataset_names(), ["ml-10m", "lastfm-1k"]);
    assert_eq!(config.all_methods(), Method::ALL.to_vec());
    assert_eq!(config.evaluation.tie_rule, TieRule::Pessimistic);
    assert!(!config.evaluation.exclude_seen);
    for dataset in &config.datasets {
        assert!(dataset.required);
        // Defaults are Table 1 (specification §4.5, §5), stated here independently.
        let g = &dataset.gru;
        assert_eq!(
            (g.hidden, g.lanes, g.window, g.epochs),
            (1000, 1000, 20, 10)
        );
        assert_eq!(g.patience, None);
        assert_eq!(
            (g.learning_rate, g.beta1, g.beta2, g.epsilon),
            (1e-3, 0.9, 0.999, 1e-8)
        );
        assert_eq!(
            (g.item_keep, g.user_keep, g.user_l2, g.clip_norm),
            (0.8, 0.5, 0.01, 5.0)
        );
        assert_eq!(
            (g.init_range, g.threshold, g.lane_switch),
            (0.1, Threshold::Hard, LaneSwitch::Window)
        );
        let b = &dataset.baselines;
        assert_eq!(
            (
                b.item_knn.neighbours,
                b.decay_knn.neighbours,
                b.decay_knn.decay
            ),
            (100, 100, 1.0)
        );
        assert_eq!(
            (
                b.bpr_mf.sgd.factors,
                b.bpr_mf.sgd.epochs,
                b.bpr_mf.sgd.learning_rate
            ),
            (20, 30, 0.01)
        );
        assert_eq!(b.bpr_mf.sgd.regularization, 0.01);
        assert_eq!(
            (b.seq_mf.window, b.seq_mf.sgd.factors, b.seq_mf.sgd.epochs),
            (2, 20, 30)
        );
        assert_eq!(*g, GruParams::default());
        assert_eq!(*b, BaselineParams::default());
        assert_eq!(dataset.options, DatasetOptions::default());
    }
    assert_eq!(config.datasets[1].paper_column, PaperColumn::Lastfm);
    // Hidden-1000 GRUs are GPU work: the preset does not default to the CPU.
    assert_eq!(config.backend, Backend::Cuda);
}

#[test]
fn quick_and_ci_presets_parse_with_per_dataset_overrides() {
    let quick = preset("quick");
    assert_eq!(
        quick.dataset_names(),
        [
            "synthetic-movielens",
            "synthetic-lastfm",
            "ml-100k",
            "ml-latest-small"
        ]
    );
    assert!(quick.datasets.iter().all(|d| d.gru.hidden <= 128));
    assert!(!quick.datasets[2].required && quick.datasets[0].required);
    let ci = preset("ci");
    let lanes: Vec<usize> = ci.datasets.iter().map(|d| d.gru.lanes).collect();
    assert_eq!(
        lanes,
        [16, 8],
        "the synthetic-lastfm override sets lanes only"
    );
    assert!(
        ci.datasets
            .iter()
            .all(|d| d.gru.hidden == 32 && d.gru.epochs == 8)
    );
    assert!(
        ci.datasets
            .iter()
            .all(|d| d.baselines.bpr_mf.sgd.epochs == 10)
    );
    let synthetic = |d: &DatasetPlan| DatasetName::parse(&d.name).is_ok_and(|n| n.is_synthetic());
    assert!(
        ci.datasets.iter().all(synthetic),
        "CI runs on built-in data only"
    );
}

#[test]
fn the_resolved_config_reads_back_as_itself() {
    for name in ["paper", "quick", "ci"] {
        let config = preset(name);
        let text = match config.to_toml() {
            Ok(text) => text,
            Err(e) => panic!("{name}: {e}"),
        };
        let again = ExperimentConfig::from_toml(&text);
        assert_eq!(again.ok().as_ref(), Some(&config), "{name}:\n{text}");
    }
}

#[test]
fn unknown_keys_are_errors_naming_the_key() {
    for (text, key) in [
        (config("colour = 1", "", ""), "colour"),
        (config("", "[gru]\nhiden = 5", ""), "hiden"),
        (config("", "", "[datasets.gru]\nepoch = 3"), "epoch"),
        (
            config("", "", "[datasets.baselines.bpr_mf]\nfactor = 3"),
            "factor",
        ),
        (
            config("", "", "[datasets.options.split]\ntrain = 0.8"),
            "train",
        ),
        (config("", "", "colour = 1"), "colour"),
        (config("", "[evaluation]\ntie = \"optimistic\"", ""), "tie"),
        (config("", "[check]\nmetric = []", ""), "metric"),
    ] {
        let error = error_of(&text);
        assert!(error.contains(key), "`{key}` not named in: {error}");
    }
}

#[test]
fn defaults_fill_what_a_minimal_file_leaves_out() {
    let config = ExperimentConfig::from_toml(MINIMAL).ok();
    let Some(config) = config else {
        panic!("minimal config rejected")
    };
    assert_eq!(config.datasets[0].methods, Method::ALL.to_vec());
    assert_eq!(config.datasets[0].gru, GruParams::default());
    assert_eq!(config.evaluation, EvalConfig::default());
    assert_eq!(config.significance, SignificanceSettings::default());
    assert_eq!(config.backend, Backend::Flex);
}

#[test]
fn bad_values_are_errors() {
    for (text, needle) in [
        (
            "name = \"t\"\nseeds = [1, 1]\n[[datasets]]\nname = \"synthetic-movielens\"\n"
                .to_owned(),
            "repeat",
        ),
        (
            format!("{MINIMAL}[[datasets]]\nname = \"synthetic-movielens\"\n"),
            "twice",
        ),
        (
            "name = \"t\"\nseeds = [1]\n[[datasets]]\nname = \"ml-20m\"\n".to_owned(),
            "ml-20m",
        ),
        (config("methods = [\"lstm\"]", "", ""), "lstm"),
        (config("", "[check]\nmetrics = [\"mrr@30\"]", ""), "mrr@30"),
        (config("", "[gru]\nlearning_rate = -1.0", ""), "learning"),
        (config("", "[evaluation]\ncutoffs = [5, 10]", ""), "20"),
        (
            "name = \"a b\"\nseeds = [1]\n[[datasets]]\nname = \"synthetic-movielens\"\n"
                .to_owned(),
            "name",
        ),
    ] {
        let error = error_of(&text);
        assert!(error.contains(needle), "`{needle}` not in: {error}");
    }
}

#[test]
fn restrict_keeps_the_named_datasets_and_methods() {
    let mut config = preset("quick");
    let names = vec!["ml-100k".to_owned()];
    let methods = [Method::parse("pop").ok(), Method::parse("gru").ok()];
    let methods: Vec<Method> = methods.into_iter().flatten().collect();
    assert!(config.restrict(Some(&names), Some(&methods)).is_ok());
    assert_eq!(config.dataset_names(), ["ml-100k"]);
    assert_eq!(config.datasets[0].methods, methods);
    let mut config = preset("quick");
    let error = config.restrict(Some(&["ml-1m".to_owned()]), None).err();
    assert!(error.is_some_and(|e| e.to_string().contains("ml-1m")));
}

#[test]
fn method_settings_come_from_a_preset_with_its_per_dataset_overrides() {
    let text = r#"
        name = "p"
        seeds = [1]
        backend = "ndarray"
        [options.split]
        remove_unseen = false
        [gru]
        hidden = 64
        [baselines.item_knn]
        neighbours = 50
        [[datasets]]
        name = "synthetic-lastfm"
        gru = { lanes = 16 }
        baselines = { item_knn = { neighbours = 7 } }
        [[datasets]]
        name = "synthetic-movielens"
    "#;
    let listed = MethodSettings::from_toml(text, "synthetic-lastfm").expect("listed");
    assert_eq!((listed.gru.hidden, listed.gru.lanes), (64, 16));
    assert_eq!(listed.baselines.item_knn.neighbours, 7);
    assert_eq!(listed.backend, Some(Backend::Ndarray));
    let options = listed.options.expect("a preset gives the loading options");
    assert!(!options.split.remove_unseen);
    // Not listed: the shared settings.
    let other = MethodSettings::from_toml(text, "ml-100k").expect("shared");
    assert_eq!((other.gru.hidden, other.gru.lanes), (64, 1000));
    assert_eq!(other.baselines.item_knn.neighbours, 50);
    // The whole preset must be valid, even where the dataset's part is.
    let broken = text.replace(
        "[[datasets]]\n        name = \"synthetic-movielens\"",
        "[[datasets]]\n        name = \"synthetic-movielens\"\n        gru = { hiden = 3 }",
    );
    let error = MethodSettings::from_toml(&broken, "synthetic-lastfm").expect_err("typo");
    assert!(error.to_string().contains("hiden"), "{error}");
}

#[test]
fn a_settings_file_is_the_shared_tables_of_a_preset() {
    let file = "[gru]\nhidden = 32\n[baselines.bpr_mf]\nfactors = 8\n";
    let settings = MethodSettings::from_toml(file, "ml-100k").expect("settings");
    assert_eq!(settings.gru.hidden, 32);
    assert_eq!(settings.baselines.bpr_mf.sgd.factors, 8);
    assert_eq!(settings.options, None, "no [options]: the command's own");
    assert_eq!(settings.backend, None);
    // The old method-file schema is named with the fix.
    let old = MethodSettings::from_toml("[item_knn]\nneighbours = 5\n", "ml-100k")
        .expect_err("old schema");
    assert!(
        old.to_string().contains("go under `[baselines.item_knn]`"),
        "{old}"
    );
    for (text, needle) in [
        ("[gru]\nhiden = 3\n", "hiden"),
        (
            "epochs = 3\n",
            "a settings file holds [gru], [baselines.*], [options] and [tune]",
        ),
        ("[baselines.item_knn]\nneighbours = 0\n", "neighbours"),
        ("[options.split]\ntrain_fraction = 1.5\n", "train_fraction"),
    ] {
        let error = MethodSettings::from_toml(text, "ml-100k").expect_err(text);
        assert!(error.to_string().contains(needle), "{needle}: {error}");
    }
}

#[test]
fn every_file_in_configs_is_read_by_the_commands_it_is_for() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("configs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "{files:?}");
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read");
        let is_preset = toml::from_str::<toml::Table>(&text)
            .expect("TOML")
            .contains_key("name");
        // evaluate and train: every file, for a dataset it lists or not.
        let settings = MethodSettings::from_file(path, "ml-100k")
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if is_preset {
            // reproduce: the presets, and each of their datasets.
            let config = ExperimentConfig::from_file(path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for dataset in &config.datasets {
                let own = MethodSettings::from_file(path, &dataset.name)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(own.gru, dataset.gru, "{}", path.display());
                assert_eq!(own.baselines, dataset.baselines, "{}", path.display());
            }
            assert!(settings.backend.is_some());
        } else {
            assert!(
                ExperimentConfig::from_file(path).is_err(),
                "{} is not a whole preset",
                path.display()
            );
        }
    }
}

#[test]
fn precision_is_a_top_level_key_written_only_when_not_the_default() {
    use seqrec_models::Precision;
    let text =
        "name = \"p\"\nseeds = [1]\nprecision = \"fp32\"\n[[datasets]]\nname = \"ml-100k\"\n";
    let config = ExperimentConfig::from_toml(text).expect("fp32 preset");
    assert_eq!(config.precision, Precision::Fp32);
    let written = config.to_toml().expect("toml");
    assert!(written.contains("precision = \"fp32\""), "{written}");
    assert_eq!(
        ExperimentConfig::from_toml(&written).expect("round trip"),
        config
    );
    let settings = MethodSettings::from_toml(text, "ml-100k").expect("settings");
    assert_eq!(settings.precision, Some(Precision::Fp32));

    // The default is not written, so presets from before the key keep
    // their config hash (and the committed results stay comparable).
    let quick = preset("quick");
    assert_eq!(quick.precision, Precision::Tf32);
    assert!(!quick.to_toml().expect("toml").contains("precision"));

    let bad = ExperimentConfig::from_toml(&text.replace("fp32", "fp16")).expect_err("fp16");
    let message = bad.to_string();
    assert!(
        message.contains("fp16") && message.contains("fp32") && message.contains("tf32"),
        "{message}"
    );
    // bf16 products need CUDA: a CPU preset asking for them is refused.
    let bad = ExperimentConfig::from_toml(&text.replace("fp32", "bf16")).expect_err("bf16");
    let message = bad.to_string();
    assert!(
        message.contains("cuda") && message.contains("bf16-emulated"),
        "{message}"
    );
    let emulated = ExperimentConfig::from_toml(&text.replace("fp32", "bf16-emulated"))
        .expect("bf16-emulated runs anywhere");
    assert_eq!(emulated.precision, Precision::Bf16Emulated);
}

#[test]
fn elementwise_is_a_top_level_key_written_only_when_not_the_default() {
    use seqrec_models::ElementWise;
    let text =
        "name = \"p\"\nseeds = [1]\nelementwise = \"composed\"\n[[datasets]]\nname = \"ml-100k\"\n";
    let config = ExperimentConfig::from_toml(text).expect("composed preset");
    assert_eq!(config.elementwise, ElementWise::Composed);
    let written = config.to_toml().expect("toml");
    assert!(written.contains("elementwise = \"composed\""), "{written}");
    assert_eq!(
        ExperimentConfig::from_toml(&written).expect("round trip"),
        config
    );
    assert!(
        !preset("quick")
            .to_toml()
            .expect("toml")
            .contains("elementwise")
    );
    let bad = ExperimentConfig::from_toml(&text.replace("composed", "fast")).expect_err("fast");
    assert!(bad.to_string().contains("fast"), "{bad}");
}
