//! `cargo xtask gpu-check --prepare DIR`: everything one short slot on a
//! GPU machine (no network, no registry, files handed over under 64 MiB)
//! needs to answer the project's GPU questions: the release `seqrec` with
//! the cuda and vulkan features (xz-compressed), `run.sh` and its report
//! writer, the PyTorch reference, the presets and committed results it
//! compares with, ml-100k, and a Vulkan loader for machines without one.
//! `cargo xtask gpu-check --dry-run OUT` runs the same script here at tiny
//! sizes (vulkan on whatever Vulkan device there is, lavapipe in CI).

use crate::process::{Profile, cargo, data_dir, seqrec_binary, workspace_root};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a prepared folder may weigh (the handover limit is 64 MiB with the
/// source tree).
pub const MAX_BYTES: u64 = 48 << 20;

#[derive(Debug, clap::Args)]
pub struct GpuCheckArgs {
    /// Build and write the folder to hand to a GPU machine (inside the
    /// repository and ignored by git, e.g. target/gpu-check).
    #[arg(long, conflicts_with = "dry_run")]
    prepare: Option<PathBuf>,
    /// Run the check here at tiny sizes into this folder (a dev build with
    /// the vulkan feature; cuda steps report that the build lacks it).
    #[arg(long)]
    dry_run: Option<PathBuf>,
    /// Package this seqrec binary instead of building one.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Build without the cuda feature (vulkan only).
    #[arg(long)]
    no_cuda: bool,
    /// Data root to take ml-100k from (else $SEQREC_DATA_DIR, else datasets/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

pub fn run(args: GpuCheckArgs) -> Result<()> {
    if let Some(out) = &args.dry_run {
        return dry_run(out);
    }
    let Some(dir) = args.prepare.clone() else {
        bail!("pass --prepare DIR (or --dry-run OUT)");
    };
    let features: Vec<&str> = if args.no_cuda {
        vec!["seqrec-cli/vulkan"]
    } else {
        vec!["seqrec-cli/vulkan", "seqrec-cli/cuda"]
    };
    let binary = match &args.binary {
        Some(path) => path.clone(),
        None => {
            if !args.no_cuda {
                crate::setup_cuda::ensure_ready()?;
            }
            let joined = features.join(",");
            cargo(&[
                "build",
                "--release",
                "--package",
                "seqrec-cli",
                "--bin",
                "seqrec",
                "--features",
                &joined,
            ])?;
            seqrec_binary(Profile::Release)?
        }
    };
    let bytes = prepare(&dir, &binary, &features, &data_dir(args.data_dir)?)?;
    println!(
        "prepared {} ({:.1} MiB of at most {} MiB)",
        dir.display(),
        bytes as f64 / (1 << 20) as f64,
        MAX_BYTES >> 20
    );
    println!(
        "on the GPU machine, from the repository root: bash {}/run.sh OUT (about 6.5 minutes; OUT gets gpu-report.md, gpu-report.json, gpu-check.log)",
        dir.display()
    );
    Ok(())
}

/// Writes the folder; returns its size in bytes.
pub fn prepare(dir: &Path, binary: &Path, features: &[&str], data_root: &Path) -> Result<u64> {
    let root = workspace_root()?;
    if dir.exists() {
        if !dir.join("run.sh").exists() && std::fs::read_dir(dir)?.next().is_some() {
            bail!(
                "{} exists and is not a prepared GPU-check folder; choose another",
                dir.display()
            );
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir.join("lib"))?;
    if !binary.is_file() {
        bail!("{} is not a file", binary.display());
    }
    // Symbols are a fifth of the binary and nothing on the GPU machine
    // needs them (errors are messages, not backtraces).
    let stripped = dir.join("seqrec.stripped");
    let to_pack = match Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(binary)
        .status()
    {
        Ok(status) if status.success() => stripped.clone(),
        _ => {
            println!(
                "warning: `strip` failed or is missing (binutils); packing the binary with its symbols"
            );
            binary.to_path_buf()
        }
    };
    let packed = std::fs::File::create(dir.join("seqrec.xz"))?;
    let status = Command::new("xz")
        .args(["-T0", "-6", "-c"])
        .arg(&to_pack)
        .stdout(packed)
        .status()
        .context("running xz (Debian/Ubuntu: apt-get install xz-utils)")?;
    let _ = std::fs::remove_file(&stripped);
    if !status.success() {
        bail!("xz failed on {}", binary.display());
    }
    let copies: [(PathBuf, &str); 8] = [
        (root.join("xtask/gpu-check/run.sh"), "run.sh"),
        (root.join("xtask/gpu-check/report.py"), "report.py"),
        (
            root.join("crates/seqrec-models/benches/torch_gru_throughput.py"),
            "torch_gru_throughput.py",
        ),
        (root.join("configs/quick.toml"), "configs/quick.toml"),
        (root.join("configs/ci.toml"), "configs/ci.toml"),
        (
            root.join("results/quick/results.json"),
            "results/quick/results.json",
        ),
        (
            root.join("results/ci/results.json"),
            "results/ci/results.json",
        ),
        (root.join("xtask/gpu-check/README.md"), "README.md"),
    ];
    for (from, to) in copies {
        copy(&from, &dir.join(to))?;
    }
    let ml100k = data_root.join("ml-100k");
    if ml100k.join("u.data").is_file() {
        for name in ["u.data", "u.item", "README"] {
            let from = ml100k.join(name);
            if from.is_file() {
                copy(&from, &dir.join("data/ml-100k").join(name))?;
            }
        }
    } else {
        println!(
            "warning: {} has no ml-100k: the quality step will need SEQREC_DATA_DIR on the GPU machine",
            data_root.display()
        );
    }
    match vulkan_loader() {
        Some(lib) => copy(&lib, &dir.join("lib/libvulkan.so.1"))?,
        None => println!(
            "warning: no libvulkan.so.1 here to pack (apt-get install libvulkan1); machines without a Vulkan loader will skip the vulkan steps"
        ),
    }
    let build = serde_json::json!({
        "commit": git(&["rev-parse", "HEAD"]),
        "dirty": git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()),
        "features": features,
        "cuda_api": std::env::var("CUDARC_CUDA_VERSION").ok(),
        "commit_date": git(&["log", "-1", "--format=%cI"]),
        "packed": Command::new("date")
            .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        "binary_bytes": std::fs::metadata(binary)?.len(),
    });
    std::fs::write(
        dir.join("build.json"),
        serde_json::to_string_pretty(&build)?,
    )?;
    let bytes = folder_size(dir)?;
    if bytes > MAX_BYTES {
        bail!(
            "{} weighs {:.1} MiB, over the {} MiB a GPU machine's handover allows",
            dir.display(),
            bytes as f64 / (1 << 20) as f64,
            MAX_BYTES >> 20
        );
    }
    Ok(bytes)
}

/// Builds a dev `seqrec` with the vulkan feature and runs `run.sh --dry-run`.
fn dry_run(out: &Path) -> Result<()> {
    cargo(&[
        "build",
        "--package",
        "seqrec-cli",
        "--bin",
        "seqrec",
        "--features",
        "seqrec-cli/vulkan",
    ])?;
    let binary = seqrec_binary(Profile::Dev)?;
    let status = Command::new("bash")
        .arg(workspace_root()?.join("xtask/gpu-check/run.sh"))
        .arg(out)
        .arg("--dry-run")
        .env("SEQREC_BIN", &binary)
        .status()
        .context("running xtask/gpu-check/run.sh")?;
    if !status.success() {
        bail!("the dry run failed");
    }
    println!("report: {}", out.join("gpu-report.md").display());
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to)
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    Ok(())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(workspace_root().ok()?)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The system's Vulkan loader, from `ldconfig -p` or the usual folders.
fn vulkan_loader() -> Option<PathBuf> {
    let listed = Command::new("ldconfig")
        .arg("-p")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains("libvulkan.so.1") && l.contains("x86-64"))
                .find_map(|l| l.split("=> ").nth(1).map(|p| PathBuf::from(p.trim())))
        });
    listed.or_else(|| {
        ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"]
            .iter()
            .map(|d| Path::new(d).join("libvulkan.so.1"))
            .find(|p| p.exists())
    })
}

fn folder_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            folder_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder holds what run.sh needs, and a rerun replaces it; a
    /// folder that is something else is not cleared.
    #[test]
    fn a_prepared_folder_is_complete_and_small() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let binary = tmp.path().join("seqrec");
        std::fs::write(&binary, vec![7u8; 1 << 20]).expect("binary");
        let data = tmp.path().join("data");
        std::fs::create_dir_all(data.join("ml-100k")).expect("data");
        std::fs::write(data.join("ml-100k/u.data"), b"1\t2\t3\t4\n").expect("u.data");
        let dir = tmp.path().join("gpu-check");
        let bytes = prepare(&dir, &binary, &["seqrec-cli/vulkan"], &data).expect("prepare");
        for file in [
            "run.sh",
            "report.py",
            "torch_gru_throughput.py",
            "seqrec.xz",
            "build.json",
            "README.md",
            "configs/quick.toml",
            "results/quick/results.json",
            "results/ci/results.json",
            "data/ml-100k/u.data",
        ] {
            assert!(dir.join(file).is_file(), "{file} missing");
        }
        assert!(bytes < MAX_BYTES);
        // xz compresses the repetitive fake binary to almost nothing.
        assert!(std::fs::metadata(dir.join("seqrec.xz")).expect("xz").len() < 1 << 16);
        prepare(&dir, &binary, &["seqrec-cli/vulkan"], &data).expect("again");

        let other = tmp.path().join("other");
        std::fs::create_dir_all(&other).expect("other");
        std::fs::write(other.join("notes.txt"), b"keep").expect("notes");
        let err = prepare(&other, &binary, &[], &data).expect_err("refused");
        assert!(err.to_string().contains("not a prepared"), "{err}");
        assert!(other.join("notes.txt").exists());
    }
}
