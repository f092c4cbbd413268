//! `seqrec tune` as a user runs it: a worker killed with SIGKILL in the
//! middle of a trial, then the same command again, finishes the study with
//! every trial number once; bad search spaces are one clear error.

mod common;

use common::{assert_fails_with, assert_ok, seqrec};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const CONFIG: &str = r#"
[options.synthetic]
seed = 7
users = 60
items = 150
events = 3000
min_events_per_user = 20
activity_spread = 0.6
group_size = 4
genres = 8
tastes_per_user = 2
taste_strength = 0.7
continue_run = 0.4
repeat = 0.0
popularity_exponent = 0.9
same_timestamp = 0.2
mean_gap_seconds = 3600.0

[gru]
hidden = 16
lanes = 8
epochs = 6
learning_rate = 0.005

[tune]
trials = 4
sampler = "random"
seed = 2

[tune.space.gru]
learning_rate = { type = "float", min = 1e-3, max = 3e-2, scale = "log" }
"#;

fn tune_args<'a>(config: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "tune",
        "--dataset",
        "synthetic-movielens",
        "--method",
        "gru",
        "--config",
        config,
        "--out",
        out,
        "--no-refit",
    ]
}

/// `(number, state, attempts)` of each row of `trials.csv`.
fn rows(out: &Path) -> Vec<(u64, String, u32)> {
    let csv = std::fs::read_to_string(out.join("trials.csv")).expect("trials.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let attempts = header
        .iter()
        .position(|h| *h == "attempts")
        .expect("attempts column");
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            (
                cells[0].parse().expect("number"),
                cells[1].to_owned(),
                cells[attempts].parse().expect("attempts"),
            )
        })
        .collect()
}

#[test]
fn a_worker_killed_mid_trial_then_restarted_finishes_the_study_with_no_number_lost_or_doubled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tune.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let out = dir.path().join("out");
    let (config_s, out_s) = (config.to_string_lossy(), out.to_string_lossy());
    let cache = dir.path().join("cache");
    let mut child = Command::new(env!("CARGO_BIN_EXE_seqrec"))
        .arg("-v")
        .args(tune_args(&config_s, &out_s))
        .env("SEQREC_CACHE_DIR", &cache)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("seqrec starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut seen = String::new();
    let mut started = false;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("stderr line");
        seen.push_str(&line);
        seen.push('\n');
        // Trial 2 is claimed (written to the store) before this line.
        if line.contains("trial started") && line.contains("trial=2") {
            started = true;
            break;
        }
    }
    assert!(started, "trial 2 never started: {seen}");
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success());
    let before = rows(&out);
    assert_eq!(
        before.len(),
        2,
        "two trials finished before the kill: {before:?}"
    );

    let done = seqrec(&tune_args(&config_s, &out_s), &cache);
    assert_ok(&done);
    let after = rows(&out);
    assert_eq!(
        after.iter().map(|r| r.0).collect::<Vec<_>>(),
        [0, 1, 2, 3],
        "every number once: {after:?}"
    );
    assert!(after.iter().all(|r| r.1 == "complete"), "{after:?}");
    // Trial 2 ran again under its number; the others ran once.
    let attempts: Vec<u32> = after.iter().map(|r| r.2).collect();
    assert_eq!(attempts, [1, 1, 2, 1]);
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(stdout.contains("4 trials: 4 complete"), "{stdout}");
}

#[test]
fn bad_search_spaces_are_one_clear_error_naming_the_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    let cases = [
        (
            "learning_rate = { type = \"float\", min = 1e-3, max = 3e-2, scale = \"log\" }",
            "learning_rate = { type = \"float\", min = 0.0, max = 3e-2, scale = \"log\" }",
            "min > 0",
        ),
        (
            "learning_rate = { type = \"float\", min = 1e-3, max = 3e-2, scale = \"log\" }",
            "hiden = { type = \"int\", min = 8, max = 64 }",
            "has no key `hiden`",
        ),
        (
            "sampler = \"random\"",
            "sampler = \"annealing\"",
            "annealing",
        ),
    ];
    for (from, to, needle) in cases {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, CONFIG.replace(from, to)).expect("config");
        let run = seqrec(
            &tune_args(&config.to_string_lossy(), &out.to_string_lossy()),
            &cache,
        );
        assert_fails_with(&run, needle);
        assert_fails_with(&run, "bad.toml");
    }
    // POP has nothing to tune.
    let config = dir.path().join("tune.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let (config_s, out_s) = (config.to_string_lossy(), out.to_string_lossy());
    let mut args = tune_args(&config_s, &out_s);
    args[4] = "pop";
    assert_fails_with(&seqrec(&args, &cache), "POP has no hyperparameters");
}

/// A throw-away PostgreSQL cluster on 127.0.0.1, stopped when dropped. As
/// root (CI), it runs as the `postgres` user: PostgreSQL refuses root.
struct Cluster {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
    runner: Vec<String>,
}

impl Cluster {
    /// `None` (with a loud notice) where PostgreSQL is not installed; in CI
    /// (`CI` or `SEQREC_REQUIRE_POSTGRES`) that is a failure.
    fn start() -> Option<Cluster> {
        let Some(bin) = postgres_bin() else {
            let required = std::env::var_os("CI").is_some()
                || std::env::var_os("SEQREC_REQUIRE_POSTGRES").is_some();
            assert!(
                !required,
                "PostgreSQL (initdb, pg_ctl) is required here (`apt-get install postgresql`)"
            );
            // Straight to the stderr handle: the harness captures
            // `eprintln!` of passing tests, and this must be seen.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"\n!!!!!!!! POSTGRESQL TEST NOT RUN: no initdb/pg_ctl found (apt-get install postgresql) !!!!!!!!\n\n",
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let runner: Vec<String> = if root {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown to postgres failed");
            vec![
                "runuser".into(),
                "-u".into(),
                "postgres".into(),
                "--".into(),
            ]
        } else {
            Vec::new()
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let cluster = Cluster {
            dir,
            bin,
            port,
            runner,
        };
        let data = cluster.dir.path().join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            cluster.port,
            cluster.dir.path().display()
        );
        let log = cluster.dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
        Some(cluster)
    }

    /// `tool` of the cluster's PostgreSQL, as the user that owns it.
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        match self.runner.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&program);
                c
            }
            None => Command::new(&program),
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(tool)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("PostgreSQL tool runs");
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data.to_string_lossy(), "-m", "immediate", "stop"])
            .output();
    }
}

/// The directory of `initdb` and `pg_ctl`: Debian's newest
/// `/usr/lib/postgresql/N/bin`, else the PATH.
fn postgres_bin() -> Option<std::path::PathBuf> {
    let mut versions: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((n, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").is_file() && p.join("pg_ctl").is_file())
    })
}

/// Starts `seqrec -v tune ...` and returns it with its stderr lines.
fn spawn_worker(
    args: &[&str],
    cache: &Path,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_seqrec"))
        .arg("-v")
        .args(args)
        .env("SEQREC_CACHE_DIR", cache)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("seqrec starts");
    let stderr = child.stderr.take().expect("stderr");
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (child, receive)
}

/// Waits (at most two minutes) for a line containing every needle.
fn wait_for(lines: &std::sync::mpsc::Receiver<String>, needles: &[&str]) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut seen = String::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                if needles.iter().all(|n| line.contains(n)) {
                    return line;
                }
                seen.push_str(&line);
                seen.push('\n');
            }
            Err(_) => break,
        }
    }
    panic!("no line with {needles:?}; saw:\n{seen}");
}

#[test]
fn two_workers_share_a_postgresql_study_and_one_killed_mid_trial_loses_nothing() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("tune.toml");
    std::fs::write(&config, CONFIG.replace("trials = 4", "trials = 8")).expect("config");
    let url = cluster.url();
    let cache = dir.path().join("cache");
    let (config_s, url_s) = (config.to_string_lossy().into_owned(), url.clone());
    let worker = |out: &str| -> Vec<String> {
        let mut args: Vec<String> = tune_args(&config_s, out)
            .into_iter()
            .map(str::to_owned)
            .collect();
        args.extend([
            "--storage".into(),
            url_s.clone(),
            "--study".into(),
            "shared".into(),
            "--heartbeat-timeout".into(),
            "2s".into(),
        ]);
        args
    };
    let (out_a, out_b) = (dir.path().join("a"), dir.path().join("b"));
    let args_a = worker(&out_a.to_string_lossy());
    let args_b = worker(&out_b.to_string_lossy());
    let (mut a, lines_a) = spawn_worker(
        &args_a.iter().map(String::as_str).collect::<Vec<_>>(),
        &cache,
    );
    wait_for(&lines_a, &["trial started"]);
    let (mut b, lines_b) = spawn_worker(
        &args_b.iter().map(String::as_str).collect::<Vec<_>>(),
        &cache,
    );
    wait_for(&lines_b, &["trial started"]);
    // A's next claim: kill it with the trial in the middle of its fit.
    let line = wait_for(&lines_a, &["trial started"]);
    a.kill().expect("SIGKILL");
    let _ = a.wait();
    let killed: String = line
        .split("trial=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("trial number")
        .to_owned();
    let status = b.wait().expect("worker b ends");
    assert!(status.success(), "worker b failed");
    // B finished the study; rebuild its outputs from the store.
    let out = dir.path().join("report");
    let mut report = worker(&out.to_string_lossy());
    report.push("--report".into());
    assert_ok(&seqrec(
        &report.iter().map(String::as_str).collect::<Vec<_>>(),
        &cache,
    ));
    let trials = rows(&out);
    assert_eq!(
        trials.iter().map(|r| r.0).collect::<Vec<_>>(),
        (0..8).collect::<Vec<u64>>(),
        "{trials:?}"
    );
    assert!(trials.iter().all(|r| r.1 == "complete"), "{trials:?}");
    let killed: u64 = killed.parse().expect("number");
    for (number, _, attempts) in &trials {
        let expected = if *number == killed { 2 } else { 1 };
        assert_eq!(*attempts, expected, "trial {number}: {trials:?}");
    }
}
