//! A user error of `cargo xtask` reads as one message, whatever
//! `RUST_BACKTRACE` says.

#[test]
fn a_user_error_is_one_line_without_a_backtrace() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["fetch-data", "--datasets", "ml-1b"])
        .env("RUST_BACKTRACE", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("xtask runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: `ml-1b` is not in "), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
}
