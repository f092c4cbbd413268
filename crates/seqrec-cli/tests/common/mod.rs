//! Running the `seqrec` binary as a user does, shared by the CLI tests.

#![allow(dead_code)] // Each test file uses its own subset.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `seqrec args` with its own cache directory and no RUST_LOG, with
/// `RUST_BACKTRACE=1` as many users have it (errors must still be one message).
pub fn seqrec(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_seqrec"))
        .args(args)
        .env("SEQREC_CACHE_DIR", cache)
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("seqrec runs")
}

/// Fails with the run's stderr unless it succeeded.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON object a successful run printed.
pub fn json_of(out: &Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

/// Fails unless the run failed with `needle` in its stderr, as one clear
/// error: no panic, no backtrace.
pub fn assert_fails_with(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(needle),
        "expected a failure containing `{needle}`, got: {err}"
    );
    assert!(
        !err.contains("panicked") && !err.to_lowercase().contains("backtrace"),
        "a user error must not panic or print a backtrace: {err}"
    );
    assert_eq!(out.status.code(), Some(1), "{err}");
}

/// Generates an ML-10M-shaped `ratings.dat` (synthetic-movielens preset)
/// under `root/ml-10M100K/`, so `--data-dir root --dataset ml-10m` reads it.
pub fn generate_ml10m(root: &Path, users: usize, events: usize, cache: &Path) {
    let file = root.join("ml-10M100K/ratings.dat");
    let (users, events) = (users.to_string(), events.to_string());
    let out = seqrec(
        &[
            "data",
            "generate",
            "--preset",
            "synthetic-movielens",
            "--format",
            "movielens-dat",
            "--users",
            &users,
            "--events",
            &events,
            "--out",
            &file.to_string_lossy(),
        ],
        cache,
    );
    assert_ok(&out);
}

/// Starts `seqrec serve ARGS --addr 127.0.0.1:0 --threads 2` and waits
/// for the address it prints; its stderr keeps being drained.
pub fn start_serve(args: &[std::ffi::OsString]) -> (std::process::Child, std::net::SocketAddr) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_seqrec"))
        .arg("serve")
        .args(args)
        .args(["--addr", "127.0.0.1:0", "--threads", "2"])
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("seqrec serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("seqrec serve printed its address")
            .expect("stderr line");
        if let Some(rest) = line.split("http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            break addr.parse().expect("an address");
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}
