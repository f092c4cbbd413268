//! Shared helpers of the runner (leaf module): atomic file writes, pretty
//! JSON, and the git commit results are stamped with.

use crate::RunnerError;
use serde::Serialize;
use std::path::Path;

/// Writes pretty JSON atomically (temporary file, then rename).
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RunnerError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| RunnerError::io(path, e))?;
    write_atomic(path, text.as_bytes())
}

/// Writes a file through a temporary sibling and a rename, so a killed run
/// never leaves half a file where a finished one is expected.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunnerError> {
    seqrec_core::fs::write_atomic(path, bytes).map_err(|e| RunnerError::io(path, e))
}

/// The commit the code was built from (`-dirty` with uncommitted changes
/// outside `results/`, which holds the runner's own output).
pub fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                ".",
                ":!results",
            ])
            .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        None => "unknown".to_owned(),
    }
}
