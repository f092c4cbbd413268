//! The GPU check's script (`xtask/gpu-check/run.sh`) at tiny sizes with
//! this build of `seqrec`: every step runs and reports; with a GPU feature
//! the GPU path trains the four GRUs on this machine's device (CI: the wgpu
//! backend on lavapipe) and matches the committed CPU cell; steps of
//! backends the build lacks say so. Needs bash and python3.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

/// The GPU backend this build runs (wgpu in CI; vulkan needs a real GPU).
const GPU: &str = if cfg!(feature = "wgpu") {
    "wgpu"
} else {
    "vulkan"
};

fn status_of<'a>(report: &'a serde_json::Value, step: &str) -> &'a str {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == step)
        .and_then(|s| s["status"].as_str())
        .unwrap_or_else(|| panic!("no step {step} in {report:#}"))
}

#[test]
fn the_gpu_check_dry_run_reports_every_step() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = Command::new("bash")
        .arg(root.join("xtask/gpu-check/run.sh"))
        .arg(out.path())
        .arg("--dry-run")
        .env("SEQREC_BIN", env!("CARGO_BIN_EXE_seqrec"))
        .env("SEQREC_GPU_CHECK_WORK", work.path())
        .env("SEQREC_GPU_CHECK_BUDGET", "900")
        .env("SEQREC_GPU_CHECK_GPU", GPU)
        .output()
        .expect("bash runs");
    let log = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{log}");
    let text = std::fs::read_to_string(out.path().join("gpu-report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let markdown = std::fs::read_to_string(out.path().join("gpu-report.md")).unwrap();
    assert!(markdown.contains("## Errors") && markdown.contains("## Steps"));
    // What comes back from a GPU machine is at most 8 files.
    assert!(std::fs::read_dir(out.path()).unwrap().count() <= 8);

    for step in ["version", "devices", "generate-ml10m", "generate-lastfm"] {
        assert_eq!(status_of(&report, step), "ok", "{step}: {log}");
    }
    assert_eq!(status_of(&report, "torch"), "skipped");
    let steps_of =
        |backend: &str| ["smoke", "ml10m", "lastfm"].map(|stage| format!("{stage}-{backend}"));
    for (backend, built) in [
        ("cuda", cfg!(feature = "cuda")),
        ("vulkan", cfg!(feature = "vulkan")),
        ("wgpu", cfg!(feature = "wgpu")),
    ] {
        for step in steps_of(backend) {
            let status = status_of(&report, &step);
            if !built {
                assert_eq!(status, "not built", "{step}");
            } else if backend == "cuda" {
                // No NVIDIA GPU where the tests run.
                assert_ne!(status, "ok", "{step}");
            }
        }
    }
    if !cfg!(feature = "wgpu") && !cfg!(feature = "vulkan") {
        return;
    }
    if status_of(&report, &format!("smoke-{GPU}")) == "no device" {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("SEQREC_REQUIRE_VULKAN").is_none(),
            "no Vulkan device in CI: {markdown}"
        );
        eprintln!("GPU (VULKAN) TEST NOT RUN: the GPU check found no Vulkan device");
        return;
    }
    let mut ok = steps_of(GPU).to_vec();
    ok.extend([
        format!("repeat-ml10m-{GPU}"),
        format!("profile-ml10m-{GPU}"),
        "quality-synthetic-movielens".into(),
    ]);
    for step in ok {
        assert_eq!(status_of(&report, &step), "ok", "{step}: {markdown}");
    }
    let rows = report["throughput"].as_array().unwrap();
    let ml10m: Vec<_> = rows
        .iter()
        .filter(|r| r["step"] == format!("ml10m-{GPU}").as_str())
        .collect();
    assert_eq!(ml10m.len(), 4, "the four GRUs: {rows:#?}");
    for r in &ml10m {
        assert!(r["train_tuples_per_second"].as_f64().unwrap() > 0.0);
        // Kernel launches were counted per window, products among them.
        let kernels = &r["kernels_per_window"];
        assert!(kernels["total"].as_f64().unwrap_or(0.0) > 0.0, "{r:#}");
        assert!(
            kernels["by_kind"]["products"].as_f64().unwrap_or(0.0) > 0.0,
            "{r:#}"
        );
        // The step's modelled kernels and bytes, and its window's share.
        let model = &r["step_traffic_model"];
        let element_wise = &model["per_step"]["element-wise"];
        assert!(
            element_wise["launches"].as_u64().unwrap_or(0) > 0
                && element_wise["bytes_read"].as_u64().unwrap_or(0) > 0,
            "{r:#}"
        );
        let window = r["window"].as_u64().unwrap();
        assert_eq!(
            model["steps_of_a_window"]["products"]["bytes_written"].as_u64(),
            model["per_step"]["products"]["bytes_written"]
                .as_u64()
                .map(|b| b * window),
            "{r:#}"
        );
        let adam = &r["adam_bytes_per_window"];
        assert_eq!(
            adam["bytes_read"].as_u64(),
            adam["parameters"].as_u64().map(|p| 16 * p),
            "{r:#}"
        );
        assert!(r["eval_events"].as_u64().unwrap() > 0);
        assert_eq!(r["device"]["backend"], GPU);
        // The compiler path is reported (SPIR-V, or the WGSL fallback).
        assert!(
            r["device"]["runtime"]
                .as_str()
                .unwrap()
                .starts_with("wgpu<"),
            "{r:#}"
        );
    }
    // `--precision fp32`: the rows say what was asked for and what the
    // products were; with no TF32 on this device both runs are the same
    // kernels, so the same losses.
    if GPU == "wgpu" {
        assert_eq!(status_of(&report, "ml10m-wgpu-fp32"), "ok", "{markdown}");
        let of = |step: &str, method: &serde_json::Value| {
            rows.iter()
                .find(|r| r["step"] == step && &r["method"] == method)
                .unwrap_or_else(|| panic!("no {step} row for {method}"))
                .clone()
        };
        for r in &ml10m {
            let fp32 = of("ml10m-wgpu-fp32", &r["method"]);
            assert_eq!(r["precision_requested"], "tf32", "{r:#}");
            assert_eq!(r["precision"], "fp32", "no TF32 on lavapipe: {r:#}");
            assert_eq!(fp32["precision_requested"], "fp32", "{fp32:#}");
            assert_eq!(fp32["precision"], "fp32", "{fp32:#}");
            assert_eq!(r["losses"], fp32["losses"], "{}", r["method"]);
            assert_eq!(r["elementwise"], "fused", "{r:#}");
        }
        // The smoke stage also runs burn's composed operations.
        assert_eq!(
            status_of(&report, "smoke-composed-wgpu"),
            "ok",
            "{markdown}"
        );
    }
    assert!(markdown.contains("## Against PyTorch CUDA and the goals"));
    // The profile: cubecl's per-launch timings, summed by kernel; the
    // products are among them and the profiled run is not a speed row.
    let profile = &report["profile"];
    assert!(profile["launches"].as_u64().unwrap() > 100, "{profile:#}");
    assert!(
        profile["families"]["MatmulEntry"].as_f64().unwrap() > 0.0,
        "{profile:#}"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r["step"].as_str().unwrap().starts_with("profile"))
    );
    let quality = &report["quality"];
    assert_eq!(quality["within_tolerance"], true, "{quality:#}");
    assert!(
        report["paper_estimate"]["ml-10m"]["hours"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let repeat = report["reproducible"].as_array().unwrap();
    assert_eq!(repeat.len(), 1, "{repeat:#?}");
    eprintln!("dry run: {}", report["reproducible"]);
}

/// The report's comparison with PyTorch and the speed goals, from step
/// records as a GPU machine would write them (no GPU needed): rows pair by
/// shape, method and precision; the goals and the fp32 peak share follow.
#[test]
fn the_gpu_report_compares_with_pytorch_at_the_same_precision() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let steps = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let seqrec = |method: &str, precision: &str, tps: f64, items: u64| {
        serde_json::json!({"method": method, "dataset": "ml-10m", "backend": "cuda",
            "precision": precision, "hidden": 1000, "items": items, "epoch_tuples": 1_000_000,
            "validation_events": 1000, "test_events": 1000, "train_tuples_per_second": tps,
            "eval_events_per_second": 1000.0, "losses": [9.0], "chunk_rows": 715})
    };
    let torch = |method: &str, precision: &str, tps: f64| {
        serde_json::json!({"implementation": "pytorch", "torch": "2.x", "gpu": "NVIDIA H200", "method": method,
            "precision": precision, "items": 10677, "train_tuples_per_second": tps})
    };
    let records = [
        (
            "01-ml10m-cuda",
            vec![
                seqrec("gru", "tf32", 600_000.0, 10_677),
                seqrec("linear-user-gru", "tf32", 300_000.0, 10_677),
            ],
        ),
        (
            "02-ml10m-cuda-fp32",
            vec![seqrec("gru", "fp32", 300_000.0, 10_677)],
        ),
        (
            "03-torch-ml10m-gru-fp32",
            vec![torch("gru", "fp32", 320_000.0)],
        ),
        (
            "04-torch-ml10m-gru-tf32",
            vec![torch("gru", "tf32", 350_000.0)],
        ),
        (
            "05-lastfm-cuda",
            vec![seqrec("gru", "tf32", 30_000.0, 430_000)],
        ),
        (
            "06-torch-lastfm-gru-tf32",
            vec![torch("gru", "tf32", 25_000.0)],
        ),
        (
            "07-ml10m-cuda-bf16",
            vec![seqrec("gru", "bf16", 700_000.0, 10_677)],
        ),
        (
            "08-torch-ml10m-gru-bf16",
            vec![torch("gru", "bf16", 500_000.0)],
        ),
        // cuDNN's GRU, faster here, is context: never the reference.
        (
            "09-torch-ml10m-gru-cudnn-tf32",
            vec![
                serde_json::json!({"implementation": "pytorch-cudnn", "torch": "2.x",
                "gpu": "NVIDIA H200", "method": "gru", "precision": "tf32", "items": 10677,
                "train_tuples_per_second": 2_000_000.0}),
            ],
        ),
    ];
    for (file, results) in records {
        let name = &file[3..];
        let step = serde_json::json!({"name": name, "status": "ok", "results": results});
        std::fs::write(steps.path().join(format!("{file}.json")), step.to_string()).unwrap();
    }
    let run = Command::new("python3")
        .arg(root.join("xtask/gpu-check/report.py"))
        .args(["--steps", steps.path().to_str().unwrap()])
        .args(["--out", out.path().to_str().unwrap()])
        .args(["--here", root.to_str().unwrap(), "--mode", "full"])
        .output()
        .expect("python3 runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(out.path().join("gpu-report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    let targets = report["targets"].as_array().unwrap();
    let row = |shape: &str, method: &str, precision: &str| {
        targets
            .iter()
            .find(|t| t["shape"] == shape && t["method"] == method && t["precision"] == precision)
            .unwrap_or_else(|| panic!("no {shape} {method} {precision} in {targets:#?}"))
    };
    let tf32 = row("ML-10M", "gru", "tf32");
    assert!((tf32["ratio"].as_f64().unwrap() - 600.0 / 350.0).abs() < 1e-9);
    assert_eq!(tf32["met"], true, "≥ 500,000 and ≥ 1.5×");
    let fp32 = row("ML-10M", "gru", "fp32");
    assert!((fp32["ratio"].as_f64().unwrap() - 300.0 / 320.0).abs() < 1e-9);
    assert_eq!(fp32["met"], false, "below 1.0×");
    // 300,000 tuples/s × (6·1000·10,677 + 36·1000²) FLOP = 30.0 TFLOP/s.
    assert!((fp32["tflops"].as_f64().unwrap() - 30.0186).abs() < 1e-3);
    let linear = row("ML-10M", "linear-user-gru", "tf32");
    assert_eq!(linear["ratio"], serde_json::Value::Null, "no reference");
    assert_eq!(linear["met"], false, "below 400,000");
    let bf16 = row("ML-10M", "gru", "bf16");
    assert!((bf16["ratio"].as_f64().unwrap() - 1.4).abs() < 1e-9);
    assert_eq!(bf16["met"], true, "≥ 1.0× autocast");
    assert_eq!(report["pytorch_cudnn"].as_array().unwrap().len(), 1);
    let lastfm = row("LastFM", "gru", "tf32");
    assert!((lastfm["ratio"].as_f64().unwrap() - 1.2).abs() < 1e-9);
    assert_eq!(lastfm["met"], true);
    let markdown = std::fs::read_to_string(out.path().join("gpu-report.md")).unwrap();
    assert!(
        markdown.contains("| ML-10M | gru | tf32 | 600,000 | 350,000 | 1.71 | "),
        "{markdown}"
    );
    assert!(markdown.contains("PyTorch nn.GRU (cuDNN"), "{markdown}");
}
