//! The book's Getting-started page cannot drift from the CLI: every shell
//! block is marked `sh,ci` (run here, each line must succeed) or
//! `sh,not-run` (too long or needing data or installation; each `seqrec`
//! line's subcommand and flags must still exist, checked against its
//! `--help`). An unmarked block fails the test.

mod common;

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shell blocks of a Markdown page: (info string, lines).
fn shell_blocks(markdown: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<String>)> = None;
    for line in markdown.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_owned(), Vec::new())),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some((_, lines)), None) => lines.push(line.to_owned()),
            (None, None) => {}
        }
    }
    blocks
        .into_iter()
        .filter(|(info, _)| info == "sh" || info.starts_with("sh,"))
        .collect()
}

/// The `seqrec` invocations of a block, as argument lists.
fn seqrec_lines(lines: &[String]) -> Vec<Vec<String>> {
    lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| l.starts_with("seqrec "))
        .map(|l| {
            assert!(
                !l.contains(['"', '\'', '$', '|', '>', '\\']),
                "keep the book's CI commands free of shell syntax: {l}"
            );
            l.split_whitespace().skip(1).map(str::to_owned).collect()
        })
        .collect()
}

/// `seqrec <subcommand…> --help` for the words before the first flag.
fn help_of(args: &[String], cache: &Path) -> String {
    let mut words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .take_while(|a| !a.starts_with('-'))
        .collect();
    words.push("--help");
    let out = common::seqrec(&words, cache);
    common::assert_ok(&out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn getting_started_commands_run_or_say_why_not() {
    let page = repository().join("docs/book/src/getting-started.md");
    let markdown = std::fs::read_to_string(&page).expect("getting-started.md");
    let blocks = shell_blocks(&markdown);
    assert!(blocks.len() >= 4, "the page has its shell blocks");
    let work = tempfile::tempdir().expect("temporary directory");
    let cache = work.path().join("cache");
    // The commands are written for the repository root: presets are read
    // from configs/ and runs compared with results/ (never written).
    for dir in ["configs", "results"] {
        std::os::unix::fs::symlink(repository().join(dir), work.path().join(dir))
            .expect("link into the repository");
    }
    let mut ran = 0;
    for (info, lines) in &blocks {
        match info.as_str() {
            "sh,ci" => {
                let commands = seqrec_lines(lines);
                assert_eq!(
                    commands.len(),
                    lines.iter().filter(|l| !l.trim().is_empty()).count(),
                    "a CI block holds seqrec commands only: {lines:?}"
                );
                for args in commands {
                    let out = std::process::Command::new(env!("CARGO_BIN_EXE_seqrec"))
                        .args(&args)
                        .current_dir(work.path())
                        .env("SEQREC_CACHE_DIR", &cache)
                        .env_remove("RUST_LOG")
                        .output()
                        .expect("seqrec runs");
                    assert!(
                        out.status.success(),
                        "`seqrec {}` failed: {}",
                        args.join(" "),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    ran += 1;
                }
            }
            "sh,not-run" => {
                for args in seqrec_lines(lines) {
                    let help = help_of(&args, &cache);
                    for flag in args.iter().filter(|a| a.starts_with("--")) {
                        assert!(
                            help.contains(flag.as_str()),
                            "`seqrec {}`: {flag} is not in its --help",
                            args.join(" ")
                        );
                    }
                }
            }
            other => panic!(
                "a shell block marked `{other}` in {}: mark it `sh,ci` (run by this test) or `sh,not-run`",
                page.display()
            ),
        }
    }
    assert!(ran >= 3, "only {ran} commands ran");
    let results = work.path().join("runs/ci-first-look/table.md");
    assert!(results.exists(), "the CI preset wrote its table");
}

#[test]
fn unmarked_and_marked_blocks_are_told_apart() {
    let page = "text\n```sh,ci\nseqrec devices\n```\n```sh\necho\n```\n```text\nx\n```\n";
    let blocks = shell_blocks(page);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].0, "sh,ci");
    assert_eq!(seqrec_lines(&blocks[0].1), vec![vec!["devices".to_owned()]]);
    assert_eq!(blocks[1].0, "sh");
}
