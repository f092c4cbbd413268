//! Hand-computable checks of every baseline.

use super::*;
use seqrec_core::{ItemId, Query, SplitConfig, UserId, UserSequences};

/// A split that keeps every event in training.
fn all_train(rows: &[&[u32]], items: usize) -> Split {
    let seqs = UserSequences::from_users(rows.iter().map(|r| {
        (
            r.iter().map(|&i| ItemId(i)).collect(),
            (0..r.len() as i64).collect(),
        )
    }));
    let config = SplitConfig {
        train_fraction: 1.0,
        ..SplitConfig::default()
    };
    Split::compute(&seqs, items, &config).unwrap().split
}

/// Users {0,1,2}, {0,1}, {1,3} (the first has a repeat: incidence is binary).
fn incidence() -> Split {
    all_train(&[&[0, 1, 2, 0], &[0, 1], &[1, 3]], 4)
}

fn scores_of(model: &dyn seqrec_core::Scorer, history: &[ItemId]) -> Vec<f32> {
    let times: Vec<i64> = (0..history.len() as i64).collect();
    let mut row = vec![0.0; model.catalogue_size()];
    let q = Query {
        user: UserId(0),
        history,
        times: &times,
    };
    model.score(&[q], &mut row).unwrap();
    row
}

#[test]
fn cosine_values_and_neighbour_lists() {
    // |U_0| = 2, |U_1| = 3, |U_2| = 1, |U_3| = 1; co-occurrences: (0,1) 2,
    // (0,2) 1, (1,2) 1, (1,3) 1.
    let knn = ItemKnnParams { neighbours: 100 }.fit(&incidence()).unwrap();
    let (items, sims) = knn.neighbours.of(1);
    assert_eq!(items, &[0, 2, 3]);
    let want = [2.0 / 6f64.sqrt(), 1.0 / 3f64.sqrt(), 1.0 / 3f64.sqrt()];
    for (s, w) in sims.iter().zip(want) {
        assert!((f64::from(*s) - w).abs() < 1e-7, "{s} vs {w}");
    }
    assert_eq!(knn.neighbours.of(0).0, &[1, 2]); // 0.816 > 0.707
    assert_eq!(knn.neighbours.of(3).0, &[1]); // never itself, only positive similarities
    // k = 2: items 2 and 3 tie with item 1 at 1/sqrt(3); the smaller id stays.
    let knn2 = ItemKnnParams { neighbours: 2 }.fit(&incidence()).unwrap();
    assert_eq!(knn2.neighbours.of(1).0, &[0, 2]);
}

#[test]
fn item_knn_scores_from_the_last_item_only() {
    let knn = ItemKnnParams::default().fit(&incidence()).unwrap();
    let row = scores_of(&knn, &[ItemId(3), ItemId(0)]);
    assert_eq!(row[0], 0.0); // not a neighbour of itself
    assert!((f64::from(row[1]) - 2.0 / 6f64.sqrt()).abs() < 1e-7);
    assert!((f64::from(row[2]) - 1.0 / 2f64.sqrt()).abs() < 1e-7);
    assert_eq!(row[3], 0.0);
    assert!(scores_of(&knn, &[]).iter().all(|&s| s == 0.0));
}

#[test]
fn decay_weights_of_a_history() {
    let model = DecayKnnParams::default().fit(&incidence()).unwrap();
    let history = [ItemId(2), ItemId(3), ItemId(0)];
    let q = Query {
        user: UserId(0),
        history: &history,
        times: &[10, 20, 30],
    };
    // Ages in events: 2, 1, 0.
    assert_eq!(model.decayed_ages(&q), vec![2.0, 1.0, 0.0]);
    // score(1) = e^-2 sim(2,1) + e^-1 sim(3,1) + e^0 sim(0,1), returned as ln.
    let s1 = (-2f64).exp() / 3f64.sqrt() + (-1f64).exp() / 3f64.sqrt() + 2.0 / 6f64.sqrt();
    // score(0) = e^-2 sim(2,0) = e^-2 / sqrt(2); score(2) = sim(0,2) = 1/sqrt(2).
    let row = scores_of(&model, &history);
    assert!((f64::from(row[1]) - s1.ln()).abs() < 1e-6);
    assert!((f64::from(row[0]) - ((-2f64).exp() / 2f64.sqrt()).ln()).abs() < 1e-6);
    assert!((f64::from(row[2]) - (1.0 / 2f64.sqrt()).ln()).abs() < 1e-6);
    // Item 3 gets nothing from 2, 3 or 0 except via ... 3's only neighbour is 1: -inf.
    assert_eq!(row[3], f32::NEG_INFINITY);
    // Ages in seconds and days come from the timestamps.
    let seconds = DecayKnnParams {
        age: Age::Seconds,
        decay: 0.5,
        ..Default::default()
    }
    .fit(&incidence())
    .unwrap();
    assert_eq!(seconds.decayed_ages(&q), vec![10.0, 5.0, 0.0]);
    let q_days = Query {
        times: &[0, 86_400, 3 * 86_400],
        ..q
    };
    let days = DecayKnnParams {
        age: Age::Days,
        ..Default::default()
    }
    .fit(&incidence())
    .unwrap();
    assert_eq!(days.decayed_ages(&q_days), vec![3.0, 2.0, 0.0]);
}

#[test]
fn very_old_contributions_still_rank_above_nothing() {
    // Item 2's only contribution comes from 1,000 events ago: e^-1000 underflows
    // even f64, yet it must not tie with items that got nothing.
    let model = DecayKnnParams::default().fit(&incidence()).unwrap();
    let mut history = vec![ItemId(0)];
    history.extend(std::iter::repeat_n(ItemId(3), 1000));
    let row = scores_of(&model, &history);
    assert!(
        row[2].is_finite() && row[2] > f32::NEG_INFINITY,
        "{}",
        row[2]
    );
    assert!(row[2] < row[1], "recent support ranks higher");
    assert_eq!(row[3], f32::NEG_INFINITY);
}

#[test]
fn pop_counts_training_events() {
    let pop = PopParams::default().fit(&incidence()).unwrap();
    assert_eq!(scores_of(&pop, &[]), vec![3.0, 3.0, 1.0, 1.0]);
}

#[test]
fn seq_mf_window_and_one_step_against_the_formula() {
    let h = [ItemId(5), ItemId(6), ItemId(7)];
    assert_eq!(SeqMf::window_of(&h, 2), &[ItemId(6), ItemId(7)]);
    assert_eq!(SeqMf::window_of(&h[..1], 2), &[ItemId(5)]);
    assert!(SeqMf::window_of(&[], 2).is_empty());

    // One user, 3 items, k = 1: p = 0.5, q = (1, 2, -1), y = (0.2, 0.4, 0.6), b = 0.
    let mut m = SeqMf {
        factors: 1,
        window: 2,
        users: vec![0.5],
        items: vec![1.0, 2.0, -1.0],
        context: vec![0.2, 0.4, 0.6],
        bias: vec![0.0; 3],
    };
    // Window [1] alone (start of a sequence): still divided by w = 2.
    let c = m.context_vector(0, &[ItemId(1)]);
    assert!((c[0] - (0.5 + 0.4 / 2.0)).abs() < 1e-7);
    let sgd = SgdParams {
        learning_rate: 0.1,
        regularization: 0.01,
        ..SgdParams::default()
    };
    // Step with window [0, 1], positive 2, negative 1.
    let g = m.step(0, &[ItemId(0), ItemId(1)], 2, 1, &sgd, &mut [0.0; 2]);
    let c = 0.5 + (0.2 + 0.4) / 2.0; // 0.8
    let x = c * (-1.0 - 2.0); // -2.4
    let want_g = 1.0 / (1.0 + (x as f32).exp());
    assert!((g - want_g).abs() < 1e-6);
    let d = -1.0 - 2.0; // q_i - q_j before the step
    assert!((m.users[0] - (0.5 + 0.1 * (want_g * d - 0.01 * 0.5))).abs() < 1e-6);
    assert!((m.context[0] - (0.2 + 0.1 * (want_g * d / 2.0 - 0.01 * 0.2))).abs() < 1e-6);
    assert!((m.context[1] - (0.4 + 0.1 * (want_g * d / 2.0 - 0.01 * 0.4))).abs() < 1e-6);
    assert!((m.items[2] - (-1.0 + 0.1 * (want_g * c as f32 + 0.01))).abs() < 1e-6);
    assert!((m.items[1] - (2.0 + 0.1 * (-want_g * c as f32 - 0.01 * 2.0))).abs() < 1e-6);
    assert!((m.bias[2] - 0.1 * want_g).abs() < 1e-7 && (m.bias[1] + 0.1 * want_g).abs() < 1e-7);
    assert_eq!(m.context[2], 0.6, "items outside the window are untouched");
}

fn bigger() -> Split {
    let rows: Vec<Vec<u32>> = (0..30u32)
        .map(|u| (0..40u32).map(|k| (u * 3 + k * 7) % 25).collect())
        .collect();
    let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
    all_train(&refs, 25)
}

#[test]
fn mf_training_is_deterministic_per_seed() {
    let split = bigger();
    let params = BprMfParams {
        sgd: SgdParams {
            epochs: 3,
            ..SgdParams::default()
        },
    };
    assert_eq!(
        params.fit(&split, 7).unwrap(),
        params.fit(&split, 7).unwrap()
    );
    assert_ne!(
        params.fit(&split, 7).unwrap(),
        params.fit(&split, 8).unwrap()
    );
    let seq = SeqMfParams {
        sgd: SgdParams {
            epochs: 2,
            ..SgdParams::default()
        },
        ..Default::default()
    };
    assert_eq!(seq.fit(&split, 7).unwrap(), seq.fit(&split, 7).unwrap());
}

/// Two groups of 10 users each consume one half of a 20-item catalogue
/// (so every user has negatives to sample).
fn two_halves() -> Split {
    let rows: Vec<Vec<u32>> = (0..20u32)
        .map(|u| {
            (0..30u32)
                .map(|k| (u % 2) * 10 + (k * 3 + u) % 10)
                .collect()
        })
        .collect();
    let refs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
    all_train(&refs, 20)
}

#[test]
fn bpr_mf_learns_to_prefer_consumed_items() {
    let split = two_halves();
    let model = BprMfParams {
        sgd: SgdParams {
            epochs: 30,
            learning_rate: 0.05,
            ..SgdParams::default()
        },
    }
    .fit(&split, 1)
    .unwrap();
    let mut row = vec![0.0; 20];
    model
        .score(
            &[Query {
                user: UserId(0),
                history: &[],
                times: &[],
            }],
            &mut row,
        )
        .unwrap();
    let own: f32 = row[..10].iter().sum();
    let other: f32 = row[10..].iter().sum();
    assert!(own > other, "{own} vs {other}");
}

#[test]
fn invalid_params_are_rejected() {
    assert!(ItemKnnParams { neighbours: 0 }.validate().is_err());
    assert!(
        DecayKnnParams {
            decay: -1.0,
            ..Default::default()
        }
        .validate()
        .is_err()
    );
    let negative_lr = SgdParams {
        learning_rate: -0.01,
        ..SgdParams::default()
    };
    assert!(
        BprMfParams {
            sgd: negative_lr.clone()
        }
        .validate()
        .is_err()
    );
    assert!(
        SeqMfParams {
            window: 0,
            ..Default::default()
        }
        .validate()
        .is_err()
    );
    assert!(
        SeqMfParams {
            sgd: negative_lr,
            ..Default::default()
        }
        .validate()
        .is_err()
    );
    let err = BaselineParams::from_toml("[item_knn]\nneighbors = 5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("neighbors"), "{err}");
    let err = BaselineParams::from_toml("[bpr_mf]\nlearning_rate = -1.0\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("learning_rate"), "{err}");
    assert!(BaselineParams::from_toml("[seq_mf]\nwindow = 3\n[seq_mf.sgd]\nfactors = 8\n").is_ok());
    assert!(matches!(
        Baseline::parse("knn"),
        Err(BaselineError::UnknownMethod(_))
    ));
}

#[test]
fn defaults_are_table_1() {
    let p = BaselineParams::default();
    assert_eq!(p.item_knn.neighbours, 100);
    assert_eq!(
        (p.decay_knn.neighbours, p.decay_knn.decay, p.decay_knn.age),
        (100, 1.0, Age::Events)
    );
    assert_eq!((p.bpr_mf.sgd.factors, p.bpr_mf.sgd.epochs), (20, 30));
    assert_eq!(
        (p.bpr_mf.sgd.learning_rate, p.bpr_mf.sgd.regularization),
        (0.01, 0.01)
    );
    assert_eq!(p.seq_mf.window, 2);
}

#[test]
fn the_shipped_config_is_table_1() {
    // The file holds a preset's `[baselines.*]` tables.
    let file: toml::Table =
        toml::from_str(include_str!("../../../configs/baselines.toml")).unwrap();
    let tables = toml::to_string(&file["baselines"]).unwrap();
    let shipped = BaselineParams::from_toml(&tables).unwrap();
    assert_eq!(shipped, BaselineParams::default());
    assert_eq!(file.len(), 1, "only [baselines.*] tables");
}

/// Every baseline's fitted state, saved and read back, scores bit-exactly
/// as the model that was fitted; damaged state is an error.
#[test]
fn fitted_state_round_trips_bit_exactly() {
    use seqrec_core::codec::{Decoder, Encoder};
    let split = bigger();
    let mut params = BaselineParams::default();
    params.bpr_mf.sgd.epochs = 2;
    params.seq_mf.sgd.epochs = 2;
    for baseline in Baseline::ALL {
        let fitted = baseline.fit_state(&params, &split, 5).unwrap();
        let mut e = Encoder::new();
        fitted.encode(&mut e);
        let bytes = e.into_bytes();
        let back = FittedBaseline::decode(&mut Decoder::new(&bytes)).unwrap();
        assert_eq!(back.kind(), baseline);
        for user in 0..split.users() {
            let history = split.train(UserId(user as u32));
            let (a, b) = (scores_of(&fitted, history), scores_of(&back, history));
            let same = a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{}: scores changed through saving", baseline.name());
        }
        // Cut short anywhere after the name: an error, not a panic.
        for cut in [bytes.len() / 2, bytes.len() - 1] {
            assert!(
                FittedBaseline::decode(&mut Decoder::new(&bytes[..cut])).is_err(),
                "{}",
                baseline.name()
            );
        }
    }
}

/// A user the factor models were not trained on scores with zero user
/// factors (BPR-MF: item bias alone), never a panic.
#[test]
fn factor_models_score_an_unknown_user_with_zero_factors() {
    let split = bigger();
    let mut params = BaselineParams::default();
    params.bpr_mf.sgd.epochs = 1;
    params.seq_mf.sgd.epochs = 1;
    let bpr = params.bpr_mf.fit(&split, 3).unwrap();
    let history = [ItemId(1), ItemId(2)];
    let times = [0i64, 1];
    let stranger = Query {
        user: UserId(split.users() as u32 + 5),
        history: &history,
        times: &times,
    };
    let mut row = vec![0.0; bpr.catalogue_size()];
    bpr.score(&[stranger], &mut row).unwrap();
    assert_eq!(row, bpr.bias);
    let seq = params.seq_mf.fit(&split, 3).unwrap();
    let mut row = vec![0.0; seq.catalogue_size()];
    seq.score(&[stranger], &mut row).unwrap();
    let k = seq.factors;
    let window = SeqMf::window_of(&history, seq.window);
    let c: Vec<f32> = (0..k)
        .map(|f| {
            let sum: f32 = window.iter().map(|j| seq.context[j.index() * k + f]).sum();
            sum / seq.window as f32
        })
        .collect();
    for (i, &got) in row.iter().enumerate() {
        let want: f32 = seq.bias[i] + (0..k).map(|f| c[f] * seq.items[i * k + f]).sum::<f32>();
        assert!((got - want).abs() < 1e-5, "item {i}: {got} vs {want}");
    }
}

/// A raised cancellation flag stops the SGD and kNN methods: at once when
/// raised before the fit, and soon when raised by another thread mid-fit (a
/// fit of a million epochs would otherwise run for hours).
#[test]
fn sgd_and_knn_fits_stop_when_cancelled() {
    let split = bigger();
    let raised = seqrec_core::Cancel::new();
    raised.cancel();
    for method in [
        Baseline::BprMf,
        Baseline::SeqMf,
        Baseline::ItemKnn,
        Baseline::DecayKnn,
    ] {
        let outcome = method.fit_state_with_cancel(&BaselineParams::default(), &split, 1, &raised);
        assert!(
            matches!(outcome, Err(BaselineError::Cancelled { .. })),
            "{}",
            method.name()
        );
    }
    let mut params = BaselineParams::default();
    params.bpr_mf.sgd.epochs = 1_000_000;
    let cancel = seqrec_core::Cancel::new();
    let later = cancel.clone();
    let started = std::time::Instant::now();
    let raiser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        later.cancel();
    });
    let outcome = Baseline::BprMf.fit_state_with_cancel(&params, &split, 1, &cancel);
    raiser.join().unwrap();
    match outcome {
        Err(e @ BaselineError::Cancelled { .. }) => {
            assert_eq!(e.to_string(), "bpr-mf: fitting cancelled");
        }
        other => panic!("expected a cancelled fit, got {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let knn = Baseline::ItemKnn.fit_state_with_cancel(&params, &split, 1, &raised);
    assert_eq!(
        knn.map(|_| ()).map_err(|e| e.to_string()),
        Err("item-knn: fitting cancelled".to_owned())
    );
    // POP fits in one pass and ignores the flag; an unraised flag fits.
    assert!(
        Baseline::Pop
            .fit_state_with_cancel(&params, &split, 1, &raised)
            .is_ok()
    );
    let unraised = seqrec_core::Cancel::new();
    assert!(
        Baseline::ItemKnn
            .fit_state_with_cancel(&params, &split, 1, &unraised)
            .is_ok()
    );
    // The same parameters without a raised flag still fit (one epoch).
    params.bpr_mf.sgd.epochs = 1;
    assert!(
        Baseline::BprMf
            .fit_state_with_cancel(&params, &split, 1, &seqrec_core::Cancel::new())
            .is_ok()
    );
}

/// The epoch observer sees every SGD epoch, in order, and the model it is
/// shown is the model a shorter fit returns: what the pruner measures after
/// epoch 2 is what a 2-epoch fit would score. Observing changes nothing.
#[test]
fn sgd_epoch_observer_sees_each_epoch_model() {
    let split = two_halves();
    let history = [ItemId(3), ItemId(10)];
    let query = [Query {
        user: UserId(4),
        history: &history,
        times: &[0, 1],
    }];
    let scores_of = |model: &dyn Scorer| {
        let mut row = vec![0.0; model.catalogue_size()];
        model.score(&query, &mut row).unwrap();
        row
    };
    for method in [Baseline::BprMf, Baseline::SeqMf] {
        let with_epochs = |epochs: usize| {
            let mut params = BaselineParams::default();
            params.bpr_mf.sgd.epochs = epochs;
            params.seq_mf.sgd.epochs = epochs;
            params
        };
        let mut seen = Vec::new();
        let observed = method
            .fit_state_observed(
                &with_epochs(3),
                &split,
                5,
                &seqrec_core::Cancel::new(),
                &mut |epoch, model| seen.push((epoch, scores_of(model))),
            )
            .unwrap();
        assert_eq!(
            seen.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
            [1, 2, 3],
            "{}",
            method.name()
        );
        let two = method.fit_state(&with_epochs(2), &split, 5).unwrap();
        assert_eq!(seen[1].1, scores_of(&two), "{}", method.name());
        assert_ne!(seen[0].1, seen[1].1, "{}: the model moves", method.name());
        let plain = method.fit_state(&with_epochs(3), &split, 5).unwrap();
        assert_eq!(seen[2].1, scores_of(&plain), "{}", method.name());
        assert_eq!(scores_of(&observed), scores_of(&plain), "{}", method.name());
    }
    let mut calls = 0;
    for method in [Baseline::Pop, Baseline::ItemKnn, Baseline::DecayKnn] {
        method
            .fit_state_observed(
                &BaselineParams::default(),
                &split,
                5,
                &seqrec_core::Cancel::new(),
                &mut |_, _| calls += 1,
            )
            .unwrap();
    }
    assert_eq!(calls, 0, "one-pass methods have no epochs");
}
