//! Training and evaluation throughput of the GRUs through the real code
//! paths (`fit`, the evaluator), on random sequences shaped like
//! ml-latest-small (610 users × 164 events, 8,917 items).
//!
//! ```text
//! cargo bench -p seqrec-models --bench gru_throughput -- variant=gru hidden=100 backend=flex precision=tf32
//! ```
//! `benches/torch_gru_throughput.py` runs the same work in PyTorch.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // A command-line measurement.

use seqrec_core::Part;
use seqrec_metrics::{EvalConfig, evaluate};
use seqrec_models::{Backend, GruParams, GruVariant, Precision, TrainOptions, fit};
use std::time::Instant;

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::args()
        .skip(1)
        .find_map(|a| a.strip_prefix(&format!("{name}=")).map(|v| v.parse().ok()))
        .flatten()
        .unwrap_or(default)
}

fn main() {
    // As the `seqrec` binary does, so the figures are what users get.
    seqrec_models::allocator::retain_freed_memory();
    let variant = GruVariant::parse(&arg("variant", "gru".to_string())).unwrap();
    let backend = Backend::parse(&arg("backend", "flex".to_string())).unwrap();
    let precision = Precision::parse(&arg("precision", "tf32".to_string())).unwrap();
    let hidden: usize = arg("hidden", 100);
    let lanes: usize = arg("lanes", 100);
    let users: u32 = arg("users", 610);
    let items: u32 = arg("items", 8917);
    let length: u32 = arg("length", 164);
    let windows: usize = arg("windows", 20);
    let split = seqrec_core::testing::random_split(users, items, length, 1).unwrap();
    let params = GruParams {
        hidden,
        lanes,
        epochs: 1,
        ..GruParams::default()
    };
    let options = TrainOptions {
        backend,
        precision,
        max_windows_per_epoch: Some(windows),
        skip_validation: true,
        ..TrainOptions::default()
    };
    let fitted = fit(variant, &params, &split, 1, &options).unwrap();
    let train = fitted.report.train_tuples_per_second();
    if !arg("eval", true) {
        println!(
            "rust-{backend} {} hidden={hidden} lanes={lanes} items={} windows={windows}: train {train:.0} tuples/s",
            variant.name(),
            split.catalogue_size(),
        );
        return;
    }
    let started = Instant::now();
    let report = evaluate(
        &fitted.scorer,
        &split,
        Part::Test,
        &EvalConfig::default(),
        None,
    )
    .unwrap();
    let eval = report.events as f64 / started.elapsed().as_secs_f64();
    println!(
        "rust-{backend} {} hidden={hidden} lanes={lanes} items={} windows={windows}: train {train:.0} tuples/s, eval {eval:.0} events/s ({} events)",
        variant.name(),
        split.catalogue_size(),
        report.events
    );
}
