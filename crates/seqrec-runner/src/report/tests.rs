use super::*;
use crate::config::CheckTolerances;
use seqrec_baselines::Baseline;
use seqrec_models::GruVariant;

fn cell(dataset: &str, method: Method, mrr: f64, recall: f64) -> CellSummary {
    let metrics = BTreeMap::from([("mrr@20".to_owned(), mrr), ("recall@20".to_owned(), recall)]);
    CellSummary {
        dataset: dataset.to_owned(),
        method,
        label: method.label().to_owned(),
        seeds: vec![1],
        metrics: metrics.clone(),
        std: None,
        validation: metrics,
        paper: None,
        relative_difference: None,
        fit_seconds: 1.0,
        eval_seconds: 1.0,
        train_tuples_per_second: None,
        per_seed: Vec::new(),
    }
}

fn summary(name: &str, column: PaperColumn) -> DatasetSummary {
    DatasetSummary {
        name: name.to_owned(),
        paper_column: column,
        users: 10,
        items: 20,
        train_events: 100,
        validation_events: 10,
        test_events: 10,
    }
}

/// The paper's ordering: baselines below GRUs, user-based above standard,
/// attentional on top, decay-kNN above item-kNN.
fn paper_like(column: PaperColumn) -> Vec<CellSummary> {
    let rows = [
        (Method::Baseline(Baseline::ItemKnn), 0.02, 0.10),
        (Method::Baseline(Baseline::DecayKnn), 0.03, 0.11),
        (Method::Baseline(Baseline::BprMf), 0.01, 0.05),
        (Method::Baseline(Baseline::SeqMf), 0.015, 0.06),
        (Method::Gru(GruVariant::Gru), 0.04, 0.15),
        (Method::Gru(GruVariant::LinearUserGru), 0.05, 0.16),
        (Method::Gru(GruVariant::RectifiedUserGru), 0.06, 0.17),
        (Method::Gru(GruVariant::AttentionalUserGru), 0.07, 0.18),
    ];
    let mut cells: Vec<CellSummary> = rows
        .iter()
        .map(|&(m, mrr, recall)| cell("d", m, mrr, recall))
        .collect();
    if column == PaperColumn::Lastfm {
        // On LastFM the paper has rectified best on MRR@20 only.
        cells[6].metrics.insert("mrr@20".into(), 0.08);
    }
    cells
}

#[test]
fn claims_hold_on_the_papers_ordering_and_fail_when_it_changes() {
    for column in [PaperColumn::Movielens, PaperColumn::Lastfm] {
        let cells = paper_like(column);
        let claims = claims(&summary("d", column), &cells, &[], 0.05);
        assert_eq!(claims.len(), 4);
        assert!(claims.iter().all(|c| c.holds == Some(true)), "{claims:#?}");
    }
    let mut cells = paper_like(PaperColumn::Movielens);
    // The standard GRU now beats the linear user GRU on Recall@20 and a
    // baseline beats the standard GRU on MRR@20.
    cells[4].metrics.insert("recall@20".into(), 0.165);
    cells[1].metrics.insert("mrr@20".into(), 0.045);
    let claims = claims(&summary("d", PaperColumn::Movielens), &cells, &[], 0.05);
    let holds: Vec<Option<bool>> = claims.iter().map(|c| c.holds).collect();
    assert_eq!(holds, [Some(false), Some(false), Some(true), Some(true)]);
    assert!(
        claims[0].evidence.contains("decay-knn"),
        "{}",
        claims[0].evidence
    );
    assert!(
        claims[1]
            .evidence
            .contains("linear-user-gru: MRR@20 +0.01000, Recall@20 -0.00500")
    );
    // A claim whose methods did not run is not tested rather than false.
    let only_knn = vec![cell("d", Method::Baseline(Baseline::ItemKnn), 0.1, 0.2)];
    let claims = super::claims(&summary("d", PaperColumn::Movielens), &only_knn, &[], 0.05);
    assert!(claims.iter().all(|c| c.holds.is_none()));
}

fn results(cells: Vec<CellSummary>) -> Results {
    Results {
        preset: "t".into(),
        description: String::new(),
        config_hash: "0".into(),
        git_commit: "abc".into(),
        backend: "flex".into(),
        precision: None,
        seeds: vec![1],
        datasets: vec![DatasetResults {
            dataset: summary("d", PaperColumn::Movielens),
            cells,
            comparisons: Vec::new(),
            claims: Vec::new(),
        }],
        skipped: Vec::new(),
    }
}

#[test]
fn check_names_every_cell_that_moved_beyond_its_tolerance() {
    let committed = results(paper_like(PaperColumn::Movielens));
    let tolerances = CheckTolerances {
        metrics: vec!["mrr@20".into(), "recall@20".into()],
        baselines: BTreeMap::from([("*".into(), 1e-9)]),
        grus: BTreeMap::from([("*".into(), 1e-3), ("recall@20".into(), 1e-2)]),
    };
    let same = check(&committed, &committed.clone(), &tolerances);
    assert!(same.passed(), "{}", same.describe());
    assert_eq!(same.compared, 16);

    let mut fresh = committed.clone();
    let cells = &mut fresh.datasets[0].cells;
    // A baseline moves by 1e-6 (beyond 1e-9): caught.
    cells[0].metrics.insert("mrr@20".into(), 0.02 + 1e-6);
    // A GRU moves by 5e-4 on MRR (within 1e-3) and 5e-3 on Recall (within
    // its own 1e-2): both tolerated.
    cells[4].metrics.insert("mrr@20".into(), 0.04 + 5e-4);
    cells[4].metrics.insert("recall@20".into(), 0.15 + 5e-3);
    // Another GRU moves by 2e-3 on MRR: caught.
    cells[7].metrics.insert("mrr@20".into(), 0.072);
    // And one cell disappears.
    cells.remove(3);
    let report = check(&committed, &fresh, &tolerances);
    assert!(!report.passed());
    let moved: Vec<(String, &str)> = report
        .moved
        .iter()
        .map(|m| (m.method.name().to_owned(), m.metric.as_str()))
        .collect();
    assert_eq!(
        moved,
        [
            ("item-knn".to_owned(), "mrr@20"),
            ("attentional-user-gru".to_owned(), "mrr@20")
        ]
    );
    assert_eq!(report.missing().collect::<Vec<_>>(), ["d / seq-mf"]);
    assert_eq!(report.agreeing.len(), 5, "{:?}", report.agreeing);
    let text = report.describe();
    assert!(text.contains("d / item-knn / mrr@20") && text.contains("d / attentional-user-gru"));
    assert!(
        text.contains("not run (1 cells: d / seq-mf): this run did not include the method"),
        "{text}"
    );
    assert!(
        text.contains("5 cells agree, 2 moved, 1 could not run"),
        "{text}"
    );
}

#[test]
fn cells_of_a_skipped_dataset_are_listed_with_the_reason_the_run_recorded() {
    let published = results(paper_like(PaperColumn::Movielens));
    let mut fresh = published.clone();
    fresh.datasets.clear();
    fresh.skipped.push(crate::record::SkippedDataset {
        dataset: "d".into(),
        reason: "data/ml-100k/u.data not found; download it with `cargo xtask fetch-data --datasets ml-100k`".into(),
    });
    let report = check(&published, &fresh, &CheckTolerances::default());
    assert!(!report.passed());
    assert_eq!(report.compared, 0);
    assert_eq!(report.not_run.len(), 1, "one reason, every cell");
    assert_eq!(report.not_run[0].cells.len(), 8);
    let text = report.describe();
    assert!(
        text.contains("not run (8 cells: d / {item-knn, decay-knn,")
            && text.contains("--datasets ml-100k`"),
        "{text}"
    );
    // A run of other datasets only says so.
    fresh.skipped.clear();
    let text = check(&published, &fresh, &CheckTolerances::default()).describe();
    assert!(
        text.contains("did not include the dataset (--datasets)"),
        "{text}"
    );
}

#[test]
fn csv_has_one_row_per_seed_and_a_mean_row() {
    let mut cells = paper_like(PaperColumn::Movielens);
    cells.truncate(1);
    let csv = results(cells).to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("dataset,method,seed,mrr@20,recall@20,validation_mrr@20"));
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].starts_with("d,item-knn,mean,0.02,0.1,0.02,"),
        "{}",
        lines[1]
    );
}

fn seed_run(method: Method, seed: u64, mrr: f64) -> SeedRun {
    let test = BTreeMap::from([("mrr@20".to_owned(), mrr)]);
    SeedRun {
        dataset: "d".into(),
        method,
        seed,
        cell_hash: "0".into(),
        test: test.clone(),
        validation: test,
        test_events: 1,
        test_users: 1,
        fit_seconds: 1.0,
        eval_seconds: 1.0,
        train_tuples_per_second: None,
        epochs_run: None,
        best_epoch: None,
        stopped_early: None,
        backend: None,
        git_commit: "abc".into(),
    }
}

/// A run with other seeds (`--seeds`) is compared seed by seed on the
/// seeds both have, never mean against mean; with none in common its cells
/// could not be compared, and say why.
#[test]
fn a_run_with_other_seeds_is_compared_on_the_seeds_in_common() {
    let gru = Method::Gru(GruVariant::Gru);
    let with_seeds = |seeds: &[(u64, f64)]| {
        let mut c = cell("d", gru, 0.0, 0.1);
        c.seeds = seeds.iter().map(|&(s, _)| s).collect();
        c.per_seed = seeds.iter().map(|&(s, m)| seed_run(gru, s, m)).collect();
        let mean = seeds.iter().map(|&(_, m)| m).sum::<f64>() / seeds.len() as f64;
        c.metrics.insert("mrr@20".into(), mean);
        results(vec![c])
    };
    let tolerances = CheckTolerances {
        metrics: vec!["mrr@20".into()],
        baselines: BTreeMap::new(),
        grus: BTreeMap::from([("*".into(), 1e-3)]),
    };
    let published = with_seeds(&[(1, 0.040)]);
    // The mean of three seeds is 0.050, but seed 1 is as published.
    let more = with_seeds(&[(1, 0.040), (2, 0.050), (3, 0.060)]);
    let report = check(&published, &more, &tolerances);
    assert!(report.passed(), "{}", report.describe());
    assert_eq!(report.compared, 1);
    // Seed 1 itself moved: named with its seed.
    let moved = with_seeds(&[(1, 0.045), (2, 0.050)]);
    let report = check(&published, &moved, &tolerances);
    assert_eq!(report.moved.len(), 1);
    assert_eq!(report.moved[0].seed, Some(1));
    assert!(
        report
            .describe()
            .contains("moved: d / gru (seed 1) / mrr@20: published 0.040000, now 0.045000"),
        "{}",
        report.describe()
    );
    // No seed in common.
    let other = with_seeds(&[(7, 0.040)]);
    let report = check(&published, &other, &tolerances);
    assert_eq!(report.compared, 0);
    assert!(
        report
            .describe()
            .contains("this run has none of the published seeds [1] (--seeds)"),
        "{}",
        report.describe()
    );
}
