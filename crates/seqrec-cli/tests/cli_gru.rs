//! `seqrec evaluate` with the GRUs, as a user runs it.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use common::{assert_fails_with, json_of, seqrec};
use std::path::Path;

/// 20 users, each walking a cycle of 9 items from its own start: a sequence
/// model can learn it, a popularity count cannot.
fn write_cycles(dir: &Path) -> String {
    let mut csv = String::from("user,item,timestamp\n");
    for u in 0..20 {
        for k in 0..40 {
            csv.push_str(&format!("{u},{},{}\n", (u + k) % 9, 1000 + k));
        }
    }
    let path = dir.join("cycles.csv");
    std::fs::write(&path, csv).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn evaluate_a_gru_reports_its_training_and_writes_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_cycles(dir.path());
    let config = dir.path().join("gru.toml");
    std::fs::write(
        &config,
        "[gru]\nhidden = 16\nlanes = 8\nwindow = 5\nepochs = 12\nlearning_rate = 0.02\nitem_keep = 1.0\nuser_keep = 1.0\n",
    )
    .unwrap();
    let checkpoint = dir.path().join("run.ckpt");
    let history = dir.path().join("history.json");
    let run = |method: &str| {
        seqrec(
            &[
                "evaluate",
                "--dataset",
                &data,
                "--method",
                method,
                "--config",
                config.to_str().unwrap(),
                "--checkpoint",
                checkpoint.to_str().unwrap(),
                "--history",
                history.to_str().unwrap(),
                "--cutoffs",
                "1,20",
                "--json",
            ],
            dir.path(),
        )
    };
    let json = json_of(&run("linear-user-gru"));
    assert_eq!(json["method"], "linear-user-gru");
    assert_eq!(json["epochs_run"], 12);
    assert_eq!(json["backend"], "flex");
    assert_eq!(json["precision"], "fp32", "the CPU computes in fp32");
    assert!(json["best_epoch"].as_u64().unwrap() >= 1);
    assert!(json["train_tuples_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(json["recall@1"].as_f64().unwrap(), 1.0, "{json}");
    assert!(checkpoint.exists());
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&history).unwrap()).unwrap();
    assert_eq!(history["history"].as_array().unwrap().len(), 12);

    // The checkpoint belongs to linear-user-gru: resuming another method is refused.
    let out = seqrec(
        &[
            "evaluate",
            "--dataset",
            &data,
            "--method",
            "gru",
            "--config",
            config.to_str().unwrap(),
            "--checkpoint",
            checkpoint.to_str().unwrap(),
            "--resume",
        ],
        dir.path(),
    );
    assert_fails_with(&out, "does not match");
}

#[test]
fn bad_gru_settings_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = write_cycles(dir.path());
    let config = dir.path().join("gru.toml");
    let fails_with = |toml: &str, extra: &[&str], needle: &str| {
        std::fs::write(&config, toml).unwrap();
        let mut args = vec![
            "evaluate",
            "--dataset",
            &data,
            "--method",
            "gru",
            "--config",
            config.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        assert_fails_with(&seqrec(&args, dir.path()), needle);
    };
    fails_with("[gru]\nhiden = 3\n", &[], "hiden");
    fails_with("[gru]\nlanes = 0\n", &[], "lanes must be positive");
    fails_with(
        "[gru]\nepochs = 1\n",
        &["--backend", "tpu"],
        "unknown backend `tpu`",
    );
    fails_with(
        "[gru]\nepochs = 1\n",
        &["--precision", "fp16"],
        "unknown precision `fp16`",
    );
    fails_with(
        "[gru]\nepochs = 1\n",
        &["--elementwise", "fast"],
        "unknown element-wise mode `fast`; known: fused, composed",
    );
    // bf16 products need CUDA; the message points at the emulation.
    fails_with(
        "[gru]\nepochs = 1\n",
        &["--precision", "bf16"],
        "precision `bf16` runs on the cuda backend only, not on `flex`; `--precision bf16-emulated`",
    );
    #[cfg(not(feature = "cuda"))]
    fails_with(
        "[gru]\nepochs = 1\n",
        &["--backend", "cuda"],
        "--features cuda",
    );
    fails_with(
        "[gru]\nepochs = 1\nhidden = 8\nmemory_limit_gib = 0.000001\n",
        &[],
        "memory_limit_gib",
    );
    // Days of CPU work are refused before training, with the estimate.
    fails_with(
        "[gru]\nhidden = 1000\nepochs = 100000000\n",
        &[],
        "--allow-slow-cpu",
    );
    fails_with("[gru]\nhidden = 1000\nepochs = 100000000\n", &[], "days");
}

/// A GPU backend that is compiled in but finds no device ends in one clear
/// error naming what is missing, not a panic.
#[cfg(any(feature = "wgpu", feature = "vulkan"))]
#[test]
fn a_gpu_backend_without_a_device_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let backend = if cfg!(feature = "wgpu") {
        "wgpu"
    } else {
        "vulkan"
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seqrec"))
        .args([
            "evaluate",
            "--dataset",
            "synthetic-movielens",
            "--method",
            "gru",
        ])
        .args(["--backend", backend])
        .env("SEQREC_CACHE_DIR", dir.path())
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LOG")
        // The Vulkan loader then finds no driver at all.
        .env("VK_DRIVER_FILES", "/nonexistent/seqrec-test-icd.json")
        .env("VK_ICD_FILENAMES", "/nonexistent/seqrec-test-icd.json")
        .output()
        .unwrap();
    assert_fails_with(&out, "no Vulkan device was found");
    assert_fails_with(&out, "mesa-vulkan-drivers");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}
