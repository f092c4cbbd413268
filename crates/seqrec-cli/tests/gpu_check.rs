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
        }
    }
    assert!(markdown.contains("## Against PyTorch CUDA and the goals"));
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
