//! Training end to end on tiny synthetic data: learning a deterministic
//! sequence, resuming a killed run, stopping on a diverged loss.
#![allow(clippy::unwrap_used)]

use seqrec_core::{ItemId, Part, Split, SplitConfig, UserSequences};
use seqrec_metrics::{EvalConfig, evaluate};
use seqrec_models::{GruError, GruParams, GruVariant, TrainOptions, fit};

/// `users` users cycling through `items` items, each from its own start.
fn cyclic_split(users: u32, items: u32, length: u32) -> Split {
    let rows = (0..users).map(|u| {
        (
            (0..length)
                .map(|k| ItemId((u + k) % items))
                .collect::<Vec<_>>(),
            (0..i64::from(length)).collect::<Vec<_>>(),
        )
    });
    Split::compute(
        &UserSequences::from_users(rows),
        items as usize,
        &SplitConfig::default(),
    )
    .unwrap()
    .split
}

fn small_params() -> GruParams {
    GruParams {
        hidden: 16,
        lanes: 4,
        window: 5,
        epochs: 30,
        learning_rate: 0.02,
        item_keep: 1.0,
        user_keep: 1.0,
        ..GruParams::default()
    }
}

#[test]
fn every_variant_learns_a_repeating_sequence_to_recall_at_1() {
    let split = cyclic_split(6, 7, 40);
    let config = EvalConfig {
        cutoffs: vec![1],
        ..EvalConfig::default()
    };
    for variant in GruVariant::ALL {
        let fitted = fit(
            variant,
            &small_params(),
            &split,
            7,
            &TrainOptions::default(),
        )
        .unwrap();
        let report = evaluate(&fitted.scorer, &split, Part::Test, &config, None).unwrap();
        assert!(report.events >= 6);
        assert_eq!(
            report.get("recall@1"),
            Some(1.0),
            "{variant:?}: {:?}",
            fitted.report.history.last()
        );
        let history = &fitted.report.history;
        assert_eq!(history.len(), 30);
        assert!(
            history[29].loss < history[0].loss / 4.0,
            "{variant:?}: {history:?}"
        );
        assert!(fitted.report.train_tuples_per_second() > 0.0);
    }
}

#[test]
fn a_resumed_run_ends_exactly_like_an_uninterrupted_one() {
    let split = cyclic_split(9, 11, 30);
    let params = GruParams {
        epochs: 4,
        item_keep: 0.8,
        user_keep: 0.5,
        ..small_params()
    };
    let variant = GruVariant::AttentionalUserGru;
    let dir = tempfile::tempdir().unwrap();
    let whole = TrainOptions {
        checkpoint: Some(dir.path().join("whole.ckpt")),
        ..TrainOptions::default()
    };
    let reference = fit(variant, &params, &split, 5, &whole).unwrap();

    let killed = TrainOptions {
        checkpoint: Some(dir.path().join("killed.ckpt")),
        resume: true,
        stop_after_epochs: Some(2),
        ..TrainOptions::default()
    };
    let first = fit(variant, &params, &split, 5, &killed).unwrap();
    assert_eq!(first.report.epochs_run, 2);
    let resumed = fit(
        variant,
        &params,
        &split,
        5,
        &TrainOptions {
            stop_after_epochs: None,
            ..killed
        },
    )
    .unwrap();
    assert_eq!(resumed.report.resumed_after, Some(2));
    assert_eq!(resumed.report.epochs_run, 4);
    let key = |r: &seqrec_models::TrainingReport| {
        r.history
            .iter()
            .map(|e| (e.loss, e.validation_mrr20, e.grad_norm))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&resumed.report), key(&reference.report));
    assert_eq!(resumed.report.best_epoch, reference.report.best_epoch);
    let config = EvalConfig::default();
    let a = evaluate(&reference.scorer, &split, Part::Test, &config, None).unwrap();
    let b = evaluate(&resumed.scorer, &split, Part::Test, &config, None).unwrap();
    assert_eq!(a.to_map(), b.to_map());

    // A checkpoint of another configuration is refused, naming the file.
    let other = GruParams {
        hidden: 8,
        ..params
    };
    let err = fit(
        variant,
        &other,
        &split,
        5,
        &TrainOptions {
            resume: true,
            ..whole
        },
    )
    .unwrap_err();
    assert!(matches!(err, GruError::CheckpointMismatch { .. }), "{err}");
    assert!(err.to_string().contains("whole.ckpt"), "{err}");
}

#[test]
fn a_diverging_run_stops_naming_epoch_and_window() {
    let split = cyclic_split(6, 7, 40);
    // Weights near f32::MAX: the logits overflow to infinity in the first window.
    let params = GruParams {
        init_range: 3e38,
        ..small_params()
    };
    let err = fit(
        GruVariant::Gru,
        &params,
        &split,
        1,
        &TrainOptions::default(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, GruError::NonFiniteLoss { epoch: 1, .. }),
        "{message}"
    );
    assert!(message.contains("epoch 1, window"), "{message}");
}

#[test]
fn a_run_that_cannot_fit_is_refused_before_training() {
    let split = cyclic_split(6, 7, 40);
    let params = GruParams {
        memory_limit_gib: Some(1e-6),
        ..small_params()
    };
    let err = fit(
        GruVariant::Gru,
        &params,
        &split,
        1,
        &TrainOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("memory_limit_gib"), "{err}");
}

/// A raised cancellation flag stops a training before its next window; a
/// flag raised by another thread mid-training stops it soon after, and the
/// same settings train normally with a fresh flag.
#[test]
fn a_cancelled_training_stops_with_an_error() {
    let split = cyclic_split(6, 7, 40);
    let raised = seqrec_core::Cancel::new();
    raised.cancel();
    let options = TrainOptions {
        cancel: Some(raised),
        ..TrainOptions::default()
    };
    let outcome = fit(GruVariant::Gru, &small_params(), &split, 7, &options);
    assert!(
        matches!(outcome, Err(GruError::Cancelled { epoch: 1 })),
        "{outcome:?}"
    );

    let params = GruParams {
        epochs: 1_000_000,
        ..small_params()
    };
    let cancel = seqrec_core::Cancel::new();
    let later = cancel.clone();
    let raiser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        later.cancel();
    });
    let started = std::time::Instant::now();
    let options = TrainOptions {
        cancel: Some(cancel),
        ..TrainOptions::default()
    };
    let outcome = fit(GruVariant::Gru, &params, &split, 7, &options);
    raiser.join().unwrap();
    match outcome {
        Err(e @ GruError::Cancelled { .. }) => {
            assert!(e.to_string().starts_with("training cancelled in epoch"));
        }
        other => panic!("expected a cancelled training, got {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let options = TrainOptions {
        cancel: Some(seqrec_core::Cancel::new()),
        ..TrainOptions::default()
    };
    let params = GruParams {
        epochs: 1,
        ..small_params()
    };
    assert!(fit(GruVariant::Gru, &params, &split, 7, &options).is_ok());
}
