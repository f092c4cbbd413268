//! `cargo xtask setup-cuda`: makes burn's `cuda` feature build offline.
//!
//! burn 0.22's `cuda` feature needs `cubecl-llvm`, whose build dependency
//! `tracel-llvm-bundler` downloads an LLVM 23.1 bundle from GitHub unless
//! `<data-local-dir>/tracel/tracel-llvm-23.1.0-4/` already holds one with the
//! marker file `.tracel-llvm-installed` (read its `build.rs`). The same LLVM
//! is published on PyPI as static libraries with a working `llvm-config`
//! (`mlc-llvm-static` and `mlc-llvm-static-extra-targets`, which adds
//! NVPTX), so this command installs those two wheels with pip (hash-checked)
//! into a tools folder, links the bundler's folder to them and writes the
//! marker. `cubecl-llvm`'s build script then runs that `llvm-config`
//! (a Python script) and compiles a C++ shim against its headers.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The bundle version `cubecl-llvm` 0.11 asks for (`tracel-llvm-bundler`'s
/// own version; a test checks it against `Cargo.lock`).
pub const BUNDLER_VERSION: &str = "23.1.0-4";
/// The marker the bundler looks for before downloading.
const BUNDLER_MARKER: &str = ".tracel-llvm-installed";
/// The LLVM release of the wheels; `llvm-config --version` must start with it.
const LLVM_SERIES: &str = "23.1";

/// A wheel pinned by version and by the SHA-256 of its Linux x86-64 build.
#[derive(Debug, Clone, Copy)]
struct Wheel {
    name: &'static str,
    version: &'static str,
    sha256_linux_x86_64: &'static str,
}

const WHEELS: [Wheel; 2] = [
    Wheel {
        name: "mlc-llvm-static",
        version: "23.1.1.post0",
        sha256_linux_x86_64: "dcfec888abfaa418be77d41af585805f31463584cf9c90582992c00f392c1ac5",
    },
    Wheel {
        name: "mlc-llvm-static-extra-targets",
        version: "23.1.1.post0",
        sha256_linux_x86_64: "c36e834d9a4e9cf9759f27fece65711ece7a2fc2b5a96dbb15d66f5e9e787929",
    },
];

#[derive(Debug, clap::Args)]
pub struct SetupCudaArgs {
    /// Where the wheels are installed (default: seqrec/tools in the user's data directory).
    #[arg(long)]
    tools_dir: Option<PathBuf>,
    /// The Python interpreter whose pip installs the wheels.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Replace an LLVM folder of the bundler that this command did not make.
    #[arg(long)]
    force: bool,
    /// Change nothing: report whether the cuda feature can build.
    #[arg(long)]
    check: bool,
}

/// `<data-local-dir>`: where `tracel-llvm-bundler` looks (`dirs::data_local_dir`).
fn data_local_dir() -> Result<PathBuf> {
    dirs::data_local_dir().context(
        "cannot tell this user's data directory (set XDG_DATA_HOME or HOME): the LLVM bundle lives under it",
    )
}

/// The folder `tracel-llvm-bundler` installs its LLVM into.
pub fn bundle_dir(data_local: &Path) -> PathBuf {
    data_local
        .join("tracel")
        .join(format!("tracel-llvm-{BUNDLER_VERSION}"))
}

/// The LLVM prefix inside an installed `mlc-llvm-static` (bin/, lib/, include/).
fn wheel_prefix(install_dir: &Path) -> PathBuf {
    install_dir.join("mlc_llvm_static").join("static")
}

fn install_dir(tools: &Path) -> PathBuf {
    tools.join(format!("mlc-llvm-static-{}", WHEELS[0].version))
}

/// pip's requirements: exact versions, and hashes where the platform's wheel is known.
fn requirements(pin_hashes: bool) -> String {
    WHEELS
        .iter()
        .map(|w| {
            if pin_hashes {
                format!(
                    "{}=={} --hash=sha256:{}\n",
                    w.name, w.version, w.sha256_linux_x86_64
                )
            } else {
                format!("{}=={}\n", w.name, w.version)
            }
        })
        .collect()
}

/// What `llvm-config` in `prefix` reports, or why it cannot run.
fn llvm_config(prefix: &Path, arg: &str) -> Result<String> {
    let tool = prefix.join("bin").join("llvm-config");
    let out = Command::new(&tool)
        .arg(arg)
        .output()
        .with_context(|| format!("running {} (it is a Python 3 script)", tool.display()))?;
    if !out.status.success() {
        bail!(
            "{} {arg} failed: {}",
            tool.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The LLVM in `prefix` is the release the bundler expects and targets NVPTX.
fn verify_llvm(prefix: &Path) -> Result<String> {
    let version = llvm_config(prefix, "--version")?;
    if !version.starts_with(LLVM_SERIES) {
        bail!(
            "{} holds LLVM {version}; cubecl-llvm needs {LLVM_SERIES}.x",
            prefix.display()
        );
    }
    let targets = llvm_config(prefix, "--targets-built")?;
    if !targets.split_whitespace().any(|t| t == "NVPTX") {
        bail!(
            "the LLVM in {} has no NVPTX target (targets: {targets}); is mlc-llvm-static-extra-targets installed?",
            prefix.display()
        );
    }
    Ok(version)
}

/// How the bundler's folder stands.
#[derive(Debug, PartialEq, Eq)]
enum BundleState {
    /// Nothing there.
    Missing,
    /// A link to `prefix` with the marker: ready.
    LinkedHere,
    /// Some other complete installation (the real bundle, or another link).
    OtherInstalled,
    /// Something without the marker (an interrupted download, say).
    Incomplete,
}

fn bundle_state(bundle: &Path, prefix: &Path) -> BundleState {
    if std::fs::symlink_metadata(bundle).is_err() {
        return BundleState::Missing;
    }
    if !bundle.join(BUNDLER_MARKER).exists() {
        return BundleState::Incomplete;
    }
    let ours = std::fs::read_link(bundle)
        .ok()
        .and_then(|target| target.canonicalize().ok())
        .zip(prefix.canonicalize().ok())
        .is_some_and(|(a, b)| a == b);
    if ours {
        BundleState::LinkedHere
    } else {
        BundleState::OtherInstalled
    }
}

/// Points the bundler's folder at `prefix` and writes the marker there.
/// Returns what it did, for the summary.
fn link_bundle(bundle: &Path, prefix: &Path, force: bool) -> Result<String> {
    match bundle_state(bundle, prefix) {
        BundleState::LinkedHere => {
            return Ok(format!(
                "{} already points to {}",
                bundle.display(),
                prefix.display()
            ));
        }
        BundleState::OtherInstalled if !force => {
            return Ok(format!(
                "{} already holds an installed LLVM bundle (not made by this command); left as it is (--force replaces it)",
                bundle.display()
            ));
        }
        BundleState::Incomplete if !force => bail!(
            "{} exists but has no {BUNDLER_MARKER} (an interrupted download?); remove it or pass --force",
            bundle.display()
        ),
        BundleState::Missing => {}
        BundleState::OtherInstalled | BundleState::Incomplete => remove_path(bundle)?,
    }
    if let Some(parent) = bundle.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    symlink_dir(prefix, bundle)?;
    let marker = bundle.join(BUNDLER_MARKER);
    std::fs::write(&marker, b"").with_context(|| format!("writing {}", marker.display()))?;
    Ok(format!(
        "linked {} -> {} and wrote {BUNDLER_MARKER}",
        bundle.display(),
        prefix.display()
    ))
}

fn remove_path(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
    .with_context(|| format!("removing {}", path.display()))
}

#[cfg(unix)]
fn symlink_dir(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link)
        .with_context(|| format!("linking {} -> {}", link.display(), target.display()))
}

#[cfg(not(unix))]
fn symlink_dir(_target: &Path, _link: &Path) -> Result<()> {
    bail!("setup-cuda links folders and supports Linux only (CUDA builds elsewhere are not tested)")
}

/// Whether the C++ compiler and the system libraries LLVM links are there.
/// Returns warnings (a `cargo check` needs only g++; a build also links).
fn toolchain_warnings() -> Result<Vec<String>> {
    let gxx = Command::new("g++").arg("--version").output();
    if !gxx.is_ok_and(|o| o.status.success()) {
        bail!(
            "g++ was not found: cubecl-llvm compiles a C++ shim against LLVM's headers (Debian/Ubuntu: apt-get install g++)"
        );
    }
    let mut warnings = Vec::new();
    for (lib, package) in [("libzstd.so", "libzstd-dev"), ("libz.so", "zlib1g-dev")] {
        let out = Command::new("gcc")
            .arg(format!("-print-file-name={lib}"))
            .output();
        // gcc prints the bare name back when it cannot find the file.
        let found = out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim().contains('/'));
        if !found {
            warnings.push(format!(
                "{lib} was not found: linking a cuda build needs it (Debian/Ubuntu: apt-get install {package}); `cargo check --features cuda` works without it"
            ));
        }
    }
    Ok(warnings)
}

/// Fails with the command to run when a `--features cuda` build would try
/// to download LLVM (used before building with that feature).
pub fn ensure_ready() -> Result<()> {
    let bundle = bundle_dir(&data_local_dir()?);
    if !bundle.join(BUNDLER_MARKER).exists() {
        bail!(
            "building with the cuda feature needs LLVM {LLVM_SERIES} in {} (cubecl-llvm would download it from GitHub): run `cargo xtask setup-cuda` first",
            bundle.display()
        );
    }
    Ok(())
}

pub fn run(args: SetupCudaArgs) -> Result<()> {
    let data_local = data_local_dir()?;
    let tools = args
        .tools_dir
        .clone()
        .unwrap_or_else(|| data_local.join("seqrec").join("tools"));
    let install = install_dir(&tools);
    let prefix = wheel_prefix(&install);
    let bundle = bundle_dir(&data_local);
    let warnings = toolchain_warnings()?;

    if args.check {
        let state = bundle_state(&bundle, &prefix);
        println!("LLVM bundle folder: {} ({state:?})", bundle.display());
        for w in &warnings {
            println!("warning: {w}");
        }
        return match state {
            BundleState::LinkedHere => {
                let version = verify_llvm(&bundle)?;
                println!("ready: LLVM {version} with NVPTX; `--features cuda` builds offline");
                Ok(())
            }
            BundleState::OtherInstalled => {
                println!("ready: an LLVM bundle installed by other means");
                Ok(())
            }
            BundleState::Missing | BundleState::Incomplete => {
                bail!("not set up: run `cargo xtask setup-cuda`")
            }
        };
    }

    let installed = match verify_llvm(&prefix) {
        Ok(version) => {
            println!("LLVM {version} already installed in {}", install.display());
            false
        }
        Err(_) => {
            pip_install(&args.python, &install)?;
            true
        }
    };
    let version = verify_llvm(&prefix)?;
    let linked = link_bundle(&bundle, &prefix, args.force)?;
    println!("setup-cuda:");
    if installed {
        println!(
            "  installed {} into {}",
            WHEELS
                .iter()
                .map(|w| format!("{}=={}", w.name, w.version))
                .collect::<Vec<_>>()
                .join(", "),
            install.display()
        );
    }
    println!(
        "  LLVM {version} with the NVPTX target, llvm-config at {}",
        prefix.join("bin/llvm-config").display()
    );
    println!("  {linked}");
    for w in &warnings {
        println!("  warning: {w}");
    }
    println!(
        "  next: cargo build --release -p seqrec-cli --features cuda (no network needed; running needs an NVIDIA driver, see docs/book/src/gpus.md)"
    );
    Ok(())
}

fn pip_install(python: &str, install: &Path) -> Result<()> {
    let pin_hashes = cfg!(all(target_os = "linux", target_arch = "x86_64"));
    if !pin_hashes {
        println!(
            "warning: only the Linux x86-64 wheels' SHA-256 are pinned; installing by version alone"
        );
    }
    std::fs::create_dir_all(install).with_context(|| format!("creating {}", install.display()))?;
    let requirements_file = install.join("requirements.txt");
    std::fs::write(&requirements_file, requirements(pin_hashes))
        .with_context(|| format!("writing {}", requirements_file.display()))?;
    println!(
        "installing the LLVM wheels (about 92 MB) with {python} -m pip into {}",
        install.display()
    );
    let mut pip = Command::new(python);
    pip.args(["-m", "pip", "install", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--upgrade", "--target"])
        .arg(install)
        .arg("--requirement")
        .arg(&requirements_file);
    if pin_hashes {
        pip.arg("--require-hashes");
    }
    let status = pip
        .status()
        .with_context(|| format!("running {python} -m pip (is Python 3 with pip installed?)"))?;
    if !status.success() {
        bail!(
            "pip could not install the LLVM wheels into {} (needs access to PyPI)",
            install.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundle folder's version is the one cubecl-llvm's build uses.
    #[test]
    fn bundler_version_matches_the_lock_file() {
        let lock = std::fs::read_to_string(
            crate::process::workspace_root()
                .expect("workspace")
                .join("Cargo.lock"),
        )
        .expect("Cargo.lock");
        let entry = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"tracel-llvm-bundler\""))
            .expect("tracel-llvm-bundler is in Cargo.lock");
        assert!(
            entry.contains(&format!("version = \"{BUNDLER_VERSION}\"")),
            "Cargo.lock has another tracel-llvm-bundler: {entry}"
        );
    }

    #[test]
    fn requirements_pin_versions_and_hashes() {
        let pinned = requirements(true);
        assert_eq!(pinned.lines().count(), 2);
        for line in pinned.lines() {
            assert!(line.contains("==23.1.1.post0 --hash=sha256:"), "{line}");
            let hash = line.rsplit(':').next().unwrap_or_default();
            assert_eq!(hash.len(), 64);
        }
        assert!(!requirements(false).contains("--hash"));
    }

    #[cfg(unix)]
    #[test]
    fn linking_writes_the_marker_and_respects_other_installs() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let prefix = tmp.path().join("tools/static");
        std::fs::create_dir_all(prefix.join("bin")).expect("prefix");
        let bundle = tmp.path().join("share/tracel/tracel-llvm-x");
        assert_eq!(bundle_state(&bundle, &prefix), BundleState::Missing);
        link_bundle(&bundle, &prefix, false).expect("link");
        assert_eq!(bundle_state(&bundle, &prefix), BundleState::LinkedHere);
        assert!(
            prefix.join(BUNDLER_MARKER).exists(),
            "marker written through the link"
        );
        // A second run changes nothing.
        let again = link_bundle(&bundle, &prefix, false).expect("relink");
        assert!(again.contains("already points"), "{again}");

        // A real bundle someone installed is left alone without --force.
        let other = tmp.path().join("share/tracel/tracel-llvm-y");
        std::fs::create_dir_all(&other).expect("other");
        std::fs::write(other.join(BUNDLER_MARKER), b"").expect("marker");
        let said = link_bundle(&other, &prefix, false).expect("left alone");
        assert!(said.contains("left as it is"), "{said}");
        assert!(std::fs::symlink_metadata(&other).expect("meta").is_dir());
        link_bundle(&other, &prefix, true).expect("forced");
        assert_eq!(bundle_state(&other, &prefix), BundleState::LinkedHere);

        // A half-finished download is refused without --force.
        let partial = tmp.path().join("share/tracel/tracel-llvm-z");
        std::fs::create_dir_all(&partial).expect("partial");
        let err = link_bundle(&partial, &prefix, false).expect_err("incomplete");
        assert!(err.to_string().contains("--force"), "{err}");
    }

    #[test]
    fn bundle_dir_is_where_the_bundler_looks() {
        let dir = bundle_dir(Path::new("/home/u/.local/share"));
        assert_eq!(
            dir,
            Path::new("/home/u/.local/share/tracel/tracel-llvm-23.1.0-4")
        );
    }
}
