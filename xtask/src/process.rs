//! Running a child process and measuring its wall time and peak memory.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
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

/// The workspace cargo is working in, and its target directory, found at
/// run time from the current directory: never the compile-time location of
/// this binary, which two clones sharing one `CARGO_TARGET_DIR` would mix up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    pub root: PathBuf,
    /// Honours `CARGO_TARGET_DIR` and `build.target-dir`, as cargo does.
    pub target: PathBuf,
}

impl Workspace {
    /// Asks `cargo metadata` run in `dir` (the way cargo itself resolves
    /// the workspace and its target directory).
    pub fn discover_in(dir: &Path) -> Result<Workspace> {
        let out = Command::new(cargo_program())
            .args(["metadata", "--format-version", "1", "--no-deps"])
            .current_dir(dir)
            .output()
            .with_context(|| format!("running cargo metadata in {}", dir.display()))?;
        if !out.status.success() {
            bail!(
                "cargo metadata failed in {} (run `cargo xtask` inside the seqrec repository): {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
        let path = |key: &str| {
            meta.get(key)
                .and_then(|d| d.as_str())
                .map(PathBuf::from)
                .with_context(|| format!("cargo metadata has no {key}"))
        };
        Ok(Workspace {
            root: path("workspace_root")?,
            target: path("target_directory")?,
        })
    }

    /// The workspace of the current directory, looked up once per run.
    pub fn current() -> Result<&'static Workspace> {
        static CURRENT: OnceLock<Workspace> = OnceLock::new();
        if let Some(found) = CURRENT.get() {
            return Ok(found);
        }
        let dir = std::env::current_dir().context("reading the current directory")?;
        let found = Workspace::discover_in(&dir)?;
        Ok(CURRENT.get_or_init(|| found))
    }

    /// A binary cargo built into this workspace's target directory.
    pub fn binary(&self, profile: Profile, name: &str) -> PathBuf {
        self.target.join(profile.dir()).join(name)
    }
}

/// A cargo build profile, as named in the target directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Dev,
    Release,
}

impl Profile {
    fn dir(self) -> &'static str {
        match self {
            Profile::Dev => "debug",
            Profile::Release => "release",
        }
    }
}

/// The workspace root of the current directory.
pub fn workspace_root() -> Result<PathBuf> {
    Ok(Workspace::current()?.root.clone())
}

/// Cargo's target directory for this workspace.
pub fn target_dir() -> Result<PathBuf> {
    Ok(Workspace::current()?.target.clone())
}

/// `seqrec` as built in release (or dev) by [`cargo`].
pub fn seqrec_binary(profile: Profile) -> Result<PathBuf> {
    Ok(Workspace::current()?.binary(profile, "seqrec"))
}

fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The cargo feature that compiles a GRU backend in (`None`: built in).
pub fn backend_feature(backend: &str) -> Option<&'static str> {
    match backend {
        "vulkan" => Some("seqrec-cli/vulkan"),
        "cuda" => Some("seqrec-cli/cuda"),
        "wgpu" => Some("seqrec-cli/wgpu"),
        _ => None,
    }
}

/// Runs cargo with `args` in the workspace, failing on a non-zero exit.
pub fn cargo(args: &[&str]) -> Result<()> {
    let status = Command::new(cargo_program())
        .args(args)
        .current_dir(workspace_root()?)
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

/// The data root: `arg`, else `$SEQREC_DATA_DIR`, else `datasets/` of the workspace.
pub fn data_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    match arg.or_else(|| std::env::var_os("SEQREC_DATA_DIR").map(PathBuf::from)) {
        Some(dir) => Ok(dir),
        None => Ok(workspace_root()?.join("datasets")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A two-line workspace in `dir` (no dependencies: `cargo metadata
    /// --no-deps` reads it without the registry).
    fn tiny_workspace(dir: &Path) {
        std::fs::create_dir_all(dir.join("src")).expect("src");
        std::fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        )
        .expect("Cargo.toml");
        std::fs::write(dir.join("src/lib.rs"), "").expect("lib.rs");
    }

    #[test]
    fn the_workspace_is_the_one_of_the_directory_not_of_this_binary() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("clone");
        tiny_workspace(&root);
        let found = Workspace::discover_in(&root.join("src")).expect("discover");
        let canonical = root.canonicalize().expect("canonical");
        assert_eq!(found.root, canonical);
        assert_eq!(
            found.binary(Profile::Release, "seqrec"),
            canonical.join("target/release/seqrec")
        );
        assert_ne!(found.root, Workspace::current().expect("this one").root);
    }

    #[test]
    fn a_configured_target_directory_is_honoured() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("clone");
        tiny_workspace(&root);
        let shared = tmp.path().join("shared-target");
        std::fs::create_dir_all(root.join(".cargo")).expect(".cargo");
        std::fs::write(
            root.join(".cargo/config.toml"),
            format!("[build]\ntarget-dir = {:?}\n", shared.display().to_string()),
        )
        .expect("config");
        let found = Workspace::discover_in(&root).expect("discover");
        // CARGO_TARGET_DIR, where the environment sets it, wins over the
        // config file, as in cargo.
        let expected = std::env::var_os("CARGO_TARGET_DIR").map_or(shared, PathBuf::from);
        assert_eq!(
            found.binary(Profile::Dev, "seqrec"),
            expected.join("debug/seqrec")
        );
    }

    #[test]
    fn outside_any_workspace_the_error_says_where_to_run() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let error = Workspace::discover_in(tmp.path()).expect_err("no workspace");
        assert!(
            format!("{error:#}").contains("inside the seqrec repository"),
            "{error:#}"
        );
    }
}
