//! The GPU check's script (`xtask/gpu-check/run.sh`) at tiny sizes with
//! this build of `seqrec`: every step runs and reports; with the vulkan
//! feature the GPU path trains the four GRUs on this machine's Vulkan device
//! (lavapipe in CI) and matches the committed CPU cell; the cuda steps say
//! that the build lacks cuda. Needs bash and python3.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

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
    let cuda = ["smoke-cuda", "ml10m-cuda", "lastfm-cuda"];
    let vulkan = [
        "smoke-vulkan",
        "ml10m-vulkan",
        "lastfm-vulkan",
        "repeat-ml10m-vulkan",
    ];
    if cfg!(feature = "cuda") {
        // A cuda build on a machine without an NVIDIA GPU.
        for step in cuda {
            assert_ne!(status_of(&report, step), "ok", "{step}");
        }
    } else {
        for step in cuda {
            assert_eq!(status_of(&report, step), "not built", "{step}");
        }
    }
    if !cfg!(feature = "vulkan") {
        for step in vulkan {
            assert_eq!(status_of(&report, step), "not built", "{step}");
        }
        return;
    }
    if status_of(&report, "smoke-vulkan") == "no device" {
        assert!(
            std::env::var_os("CI").is_none() && std::env::var_os("SEQREC_REQUIRE_VULKAN").is_none(),
            "no Vulkan device in CI: {markdown}"
        );
        eprintln!("VULKAN TEST NOT RUN: the GPU check's vulkan steps found no Vulkan device");
        return;
    }
    for step in vulkan.iter().chain(&["quality-synthetic-movielens"]) {
        assert_eq!(status_of(&report, step), "ok", "{step}: {markdown}");
    }
    let rows = report["throughput"].as_array().unwrap();
    let ml10m: Vec<_> = rows
        .iter()
        .filter(|r| r["step"] == "ml10m-vulkan")
        .collect();
    assert_eq!(ml10m.len(), 4, "the four GRUs: {rows:#?}");
    for r in &ml10m {
        assert!(r["train_tuples_per_second"].as_f64().unwrap() > 0.0);
        assert!(r["eval_events"].as_u64().unwrap() > 0);
        assert_eq!(r["device"]["backend"], "vulkan");
        // The compiler path is reported (SPIR-V, or the WGSL fallback).
        assert!(
            r["device"]["runtime"]
                .as_str()
                .unwrap()
                .starts_with("wgpu<"),
            "{r:#}"
        );
    }
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
