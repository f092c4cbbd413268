//! Runs the Python test suite (`tests/python/`, pytest) against the
//! extension module this build compiled, so `cargo test` covers the Python
//! package with the very artefacts (profile, features, dependencies) of the
//! Rust tests.
//!
//! The interpreter is `$SEQREC_PYTHON` (a virtual environment with numpy
//! and pytest; `.ci/run` makes one), else `python3` if it has both. Without
//! one this prints a loud `PYTHON TESTS NOT RUN` notice and passes; under
//! CI (`CI` or `SEQREC_REQUIRE_PYTHON` set) it fails. The real-data rule of
//! `seqrec_data::testing` applies too.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The extension module cargo built for this test (the package's cdylib,
/// beside the test binary in `target/<profile>/deps`).
fn extension_module() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let deps = exe
        .parent()
        .unwrap_or_else(|| panic!("{} has no parent", exe.display()));
    let name = if cfg!(target_os = "windows") {
        "seqrec_py.dll"
    } else if cfg!(target_os = "macos") {
        "libseqrec_py.dylib"
    } else {
        "libseqrec_py.so"
    };
    let path = deps.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// The package as Python imports it: `python/seqrec/` plus the module.
fn stage(module: &Path) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-package");
    let package = root.join("seqrec");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&package).unwrap_or_else(|e| panic!("{}: {e}", package.display()));
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/seqrec");
    for entry in std::fs::read_dir(&source).unwrap_or_else(|e| panic!("{}: {e}", source.display()))
    {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.is_file() {
            let target = package.join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
    let suffix = if cfg!(target_os = "windows") {
        "pyd"
    } else {
        "abi3.so"
    };
    let target = package.join(format!("_seqrec.{suffix}"));
    std::fs::copy(module, &target).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
    root
}

/// An interpreter with numpy and pytest, or None (after the notice).
fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("SEQREC_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let usable = Command::new(&candidate)
        .args(["-c", "import numpy, pytest"])
        .output()
        .is_ok_and(|o| o.status.success());
    if usable {
        return Some(candidate);
    }
    let message = format!(
        "PYTHON TESTS NOT RUN: {} cannot import numpy and pytest; set SEQREC_PYTHON to a virtual environment's python with both",
        candidate.display()
    );
    if std::env::var_os("CI").is_some() || std::env::var_os("SEQREC_REQUIRE_PYTHON").is_some() {
        panic!("{message}");
    }
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("\n!!!!!!!! {message} !!!!!!!!\n\n").as_bytes());
    None
}

#[test]
fn the_python_suite_passes() {
    let Some(python) = python() else { return };
    let Some(data_dir) = seqrec_data::testing::movielens_data_dir() else {
        return;
    };
    let package = stage(&extension_module());
    // The `seqrec` binary of this build, for the tests that compare with the CLI.
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("{}", exe.display()));
    let cli = profile_dir.join(if cfg!(windows) {
        "seqrec.exe"
    } else {
        "seqrec"
    });
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python-split-cache");
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
    let status = Command::new(&python)
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"])
        .arg(&tests)
        .env("PYTHONPATH", &package)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("SEQREC_DATA_DIR", &data_dir)
        .env("SEQREC_CACHE_DIR", &cache)
        .env("SEQREC_CLI", &cli)
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(status.success(), "the Python suite failed ({status})");
}
