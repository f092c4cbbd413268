//! The fixed-seed oracle of the training path: the first 20 window losses
//! and gradient norms of every variant on a small random set, recorded from
//! the per-step implementation (one product of `[h; x; v]` per step) before
//! the training path was restructured for speed. Any later implementation
//! must reproduce them within 1e-5 relative.
//!
//! `oracle/windows.json` is the record. To re-record it deliberately (a
//! change of the model's mathematics, never to make this test pass):
//! `SEQREC_RECORD_ORACLE=1 cargo test -p seqrec-models --test window_oracle`.
#![allow(clippy::unwrap_used)]

use seqrec_core::Split;
use seqrec_models::{GruParams, GruVariant, TrainOptions, WindowObserver, fit};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const WINDOWS: usize = 20;
const RELATIVE_TOLERANCE: f64 = 1e-5;

/// 150 users × 30 random events over 80 items.
fn random_split() -> Split {
    seqrec_core::testing::random_split(150, 80, 30, 11).unwrap()
}

/// Table 1's training (dropout, L2, clipping, Adam) at a small size.
fn params() -> GruParams {
    GruParams {
        hidden: 24,
        lanes: 8,
        epochs: 1,
        ..GruParams::default()
    }
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct VariantRecord {
    variant: String,
    losses: Vec<f32>,
    grad_norms: Vec<f64>,
}

fn observe(variant: GruVariant, split: &Split) -> VariantRecord {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let options = TrainOptions {
        max_windows_per_epoch: Some(WINDOWS),
        skip_validation: true,
        observer: Some(WindowObserver::new(move |w| {
            sink.lock().unwrap().push((w.loss, w.grad_norm));
        })),
        ..TrainOptions::default()
    };
    fit(variant, &params(), split, 2017, &options).unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), WINDOWS, "{variant:?}: windows observed");
    VariantRecord {
        variant: variant.name().to_owned(),
        losses: seen.iter().map(|s| s.0).collect(),
        grad_norms: seen.iter().map(|s| s.1).collect(),
    }
}

fn oracle_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/windows.json")
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

#[test]
fn every_variant_reproduces_the_recorded_window_losses_and_gradient_norms() {
    let split = random_split();
    let records: Vec<VariantRecord> = GruVariant::ALL
        .into_iter()
        .map(|v| observe(v, &split))
        .collect();
    let path = oracle_path();
    if std::env::var_os("SEQREC_RECORD_ORACLE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&records).unwrap() + "\n",
        )
        .unwrap();
        panic!(
            "SEQREC_RECORD_ORACLE is set: recorded {} (a recording never passes; rerun without it)",
            path.display()
        );
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading the oracle {}: {e}", path.display()));
    let oracle: Vec<VariantRecord> = serde_json::from_str(&text).unwrap();
    assert_eq!(oracle.len(), records.len());
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    for (want, got) in oracle.iter().zip(&records) {
        assert_eq!(want.variant, got.variant);
        assert_eq!(want.losses.len(), got.losses.len(), "{}", got.variant);
        assert_eq!(
            want.grad_norms.len(),
            got.grad_norms.len(),
            "{}",
            got.variant
        );
        let as_f64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
        for (what, a, b) in [
            ("loss", as_f64(&want.losses), as_f64(&got.losses)),
            (
                "gradient norm",
                want.grad_norms.clone(),
                got.grad_norms.clone(),
            ),
        ] {
            for (w, (a, b)) in a.iter().zip(&b).enumerate() {
                let r = relative(*b, *a);
                worst = worst.max(r);
                if r > RELATIVE_TOLERANCE {
                    failures.push(format!(
                        "{} window {}: {what} {b} vs oracle {a} ({r:.1e})",
                        got.variant,
                        w + 1
                    ));
                }
            }
        }
    }
    eprintln!("largest relative difference from the oracle: {worst:.2e}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
