//! The written command reference (docs/book/src/reference/commands.md) is what the CLI
//! prints: every command's help, generated from clap's definitions, so the
//! two cannot drift apart.

mod common;

#[test]
fn the_command_reference_is_what_the_cli_prints() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seqrec"))
        .arg("help-markdown")
        .env_remove("SEQREC_CACHE_DIR")
        .output()
        .expect("seqrec runs");
    common::assert_ok(&out);
    let printed = String::from_utf8(out.stdout).expect("UTF-8");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/book/src/reference/commands.md");
    let written = std::fs::read_to_string(&path).expect("docs/book/src/reference/commands.md");
    assert!(
        printed.contains("## `seqrec serve export`") && printed.contains("## `seqrec tune`"),
        "the reference lists the commands"
    );
    assert!(
        printed == written,
        "docs/book/src/reference/commands.md differs from the CLI's help: run `cargo run -p seqrec-cli -- help-markdown > docs/book/src/reference/commands.md`"
    );
}
