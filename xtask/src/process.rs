//! Running a child process and measuring its wall time and peak memory.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// What one measured run took.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    /// Peak resident set size of the child, in bytes.
    pub peak_rss: u64,
}

/// Runs `command`, waits for it with `wait4` to read its own peak RSS, and
/// returns its stdout.
#[allow(unsafe_code)] // wait4 is the only way to get one child's rusage.
pub fn measure(mut command: Command) -> Result<(Measured, String)> {
    let out = tempfile_path("stdout");
    let file = std::fs::File::create(&out)?;
    command.stdout(file);
    let started = Instant::now();
    let child = command
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value, and wait4 only writes it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own un-waited child; the pointers are to live locals.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if rc != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{command:?} failed (status {status})");
    }
    let stdout = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    // ru_maxrss is in KiB on Linux.
    Ok((
        Measured {
            wall,
            peak_rss: usage.ru_maxrss as u64 * 1024,
        },
        stdout,
    ))
}

fn tempfile_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("xtask-{}-{tag}", std::process::id()))
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Cargo's target directory for this workspace (honours `CARGO_TARGET_DIR`
/// and `build.target-dir`, as cargo itself resolves them).
pub fn target_dir() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(workspace_root())
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
    meta.get("target_directory")
        .and_then(|d| d.as_str())
        .map(PathBuf::from)
        .context("cargo metadata has no target_directory")
}

/// The cargo feature that compiles a GRU backend in (`None`: built in).
pub fn backend_feature(backend: &str) -> Option<&'static str> {
    match backend {
        "vulkan" => Some("seqrec-runner/vulkan"),
        "cuda" => Some("seqrec-runner/cuda"),
        "wgpu" => Some("seqrec-runner/wgpu"),
        _ => None,
    }
}

/// Runs cargo with `args` in the workspace, failing on a non-zero exit.
pub fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

/// The data root: `arg`, else `$SEQREC_DATA_DIR`, else `datasets/` of the workspace.
pub fn data_dir(arg: Option<PathBuf>) -> PathBuf {
    arg.or_else(|| std::env::var_os("SEQREC_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| workspace_root().join("datasets"))
}

/// `seqrec --data-dir DIR evaluate --dataset D --method M --split test
/// --json --seed S`: one cell of the xtask tables (add flags as needed).
pub fn evaluate_command(
    seqrec: &Path,
    data_dir: &Path,
    dataset: &str,
    method: &str,
    seed: u64,
) -> Command {
    let mut cmd = Command::new(seqrec);
    cmd.arg("--data-dir").arg(data_dir);
    cmd.args(["evaluate", "--dataset", dataset, "--method", method]);
    cmd.args(["--split", "test", "--json", "--seed", &seed.to_string()]);
    cmd
}
