//! `cargo xtask bench serve`: requests/s and latency of `seqrec serve` (a
//! separate release process) under a load generator on 127.0.0.1
//! (`load.rs`), for recommendation reads and for durable one-event writes,
//! at several numbers of concurrent clients. Server and clients share the
//! machine's cores, as they would on one box.

use crate::load::{self, Budget, Connection, LoadFigures, free_port, known_items};
use crate::process::{Profile, cargo, data_dir, seqrec_binary, target_dir};
use crate::serve_process::ServeProcess;
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ServeBench {
    /// Concurrent clients, each on its own keep-alive connection.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    clients: Vec<usize>,
    /// Measured seconds per cell (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// At most this many measured requests per cell.
    #[arg(long, default_value_t = 200_000)]
    max_requests: usize,
    /// The method served (trained once into the work folder).
    #[arg(long, default_value = "gru")]
    method: String,
    /// The dataset it is trained on.
    #[arg(long, default_value = "ml-latest-small")]
    dataset: String,
    /// The GRU's hidden size.
    #[arg(long, default_value_t = 100)]
    hidden: usize,
    /// Users the load spreads over (created by events before the reads).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// HTTP worker threads of the server (default: its own, the CPU count).
    #[arg(long)]
    server_threads: Option<usize>,
    /// Data root (else $SEQREC_DATA_DIR, else datasets/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Where the model, stores and report go (default target/bench-serve).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Instead of the table: the soak (mixed reads and writes over a
    /// store of `--soak-users` users, the server killed with SIGKILL at
    /// random moments and restarted; checks the store against the
    /// acknowledged writes and the memory against `--rss-bound-mib`).
    #[arg(long)]
    soak: bool,
    #[arg(long, default_value_t = 64)]
    pub(crate) soak_clients: usize,
    #[arg(long, default_value_t = 60)]
    pub(crate) soak_seconds: u64,
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) soak_users: usize,
    /// The server's bound on users in memory during the soak.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) max_resident_users: usize,
    /// The most resident memory the server may reach during the soak.
    #[arg(long, default_value_t = 2048.0)]
    pub(crate) rss_bound_mib: f64,
}

/// The server process, stopped when dropped.
struct Server(ServeProcess);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl Server {
    fn addr(&self) -> SocketAddr {
        self.0.addr
    }
}

fn start_server(
    seqrec: &Path,
    model: &Path,
    store: &Path,
    threads: Option<usize>,
) -> Result<Server> {
    let _ = std::fs::remove_dir_all(store);
    let extra: Vec<String> = threads
        .map(|t| vec!["--threads".to_owned(), t.to_string()])
        .unwrap_or_default();
    let mut server = Server(ServeProcess::start(
        seqrec,
        model,
        store,
        free_port()?,
        &extra,
    )?);
    server.0.wait_until("/v1/health")?;
    Ok(server)
}

/// Trains the served model once (reused by later runs).
fn model(seqrec: &Path, args: &ServeBench, workdir: &Path) -> Result<PathBuf> {
    let out = workdir.join(format!(
        "model-{}-{}-h{}",
        args.method, args.dataset, args.hidden
    ));
    if out.join("model.toml").exists() {
        return Ok(out);
    }
    std::fs::create_dir_all(workdir)?;
    let config = workdir.join("train.toml");
    std::fs::write(&config, format!("[gru]\nhidden = {}\n", args.hidden))?;
    eprintln!(
        "training {} on {} into {} ...",
        args.method,
        args.dataset,
        out.display()
    );
    let status = Command::new(seqrec)
        .arg("--data-dir")
        .arg(data_dir(args.data_dir.clone())?)
        .args([
            "train",
            "--dataset",
            &args.dataset,
            "--method",
            &args.method,
        ])
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .status()
        .context("running seqrec train")?;
    if !status.success() {
        bail!("seqrec train failed");
    }
    Ok(out)
}

fn event_body(user: usize, item: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "events": [{"user": format!("bench-{user}"), "item": item}]
    }))
    .unwrap_or_default()
}

/// One row of the report.
#[derive(Debug, serde::Serialize)]
struct Row {
    route: &'static str,
    #[serde(flatten)]
    figures: LoadFigures,
    /// Mean requests per scoring pass (reads) or per commit (writes), from
    /// the server's `/metrics` (warm-up included).
    mean_batch: f64,
}

impl Row {
    /// A measured row, with the batch histogram `batches` of `server`'s
    /// metrics; logged as it is made.
    fn of(
        route: &'static str,
        figures: LoadFigures,
        server: &Server,
        batches: &str,
    ) -> Result<Row> {
        let mean_batch = mean_batch(server.addr(), batches)?;
        report(route, &figures, mean_batch);
        Ok(Row {
            route,
            figures,
            mean_batch,
        })
    }
}

/// The mean of the histogram `name` in the server's `/metrics`.
fn mean_batch(addr: SocketAddr, name: &str) -> Result<f64> {
    let mut c = Connection::open(addr)?;
    let r = c.request("GET", "/metrics", None)?;
    let text = String::from_utf8_lossy(&r.body).into_owned();
    let value = |suffix: &str| -> Option<f64> {
        let key = format!("{name}_{suffix} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .and_then(|v| v.trim().parse().ok())
    };
    match (value("sum"), value("count")) {
        (Some(sum), Some(count)) if count > 0.0 => Ok(sum / count),
        _ => bail!("no {name} histogram in /metrics"),
    }
}

pub fn run(args: ServeBench) -> Result<()> {
    let workdir = match &args.workdir {
        Some(dir) => dir.clone(),
        None => target_dir()?.join("bench-serve"),
    };
    cargo(&["build", "--release", "--quiet", "-p", "seqrec-cli"])?;
    let seqrec = seqrec_binary(Profile::Release)?;
    let model = model(&seqrec, &args, &workdir)?;
    if args.soak {
        let soak = crate::bench_soak::Soak {
            clients: args.soak_clients,
            seconds: args.soak_seconds,
            users: args.soak_users,
            max_resident_users: args.max_resident_users,
            rss_bound_mib: args.rss_bound_mib,
            seed: 2017,
        };
        return crate::bench_soak::run(&seqrec, &model, &workdir, &soak);
    }
    let budget = Budget {
        warmup: Duration::from_secs(1),
        measure: Duration::from_secs(args.seconds),
        max_requests: args.max_requests,
    };
    let users = args.users.max(1);
    let mut rows = Vec::new();
    for &clients in &args.clients {
        // Reads: users created by one request of events first.
        let server = start_server(&seqrec, &model, &workdir.join("store"), args.server_threads)?;
        let items = known_items(server.addr())?;
        let events: Vec<serde_json::Value> = (0..users)
            .map(|u| serde_json::json!({"user": format!("bench-{u}"), "item": items[u % items.len()]}))
            .collect();
        let mut c = Connection::open(server.addr())?;
        let r = c.request(
            "POST",
            "/v1/events",
            Some(&serde_json::to_vec(
                &serde_json::json!({ "events": events }),
            )?),
        )?;
        if r.status != 200 {
            bail!("creating the users answered {}", r.status);
        }
        let figures = load::run(server.addr(), clients, budget, |pick| {
            let user = pick.below(users);
            (
                "GET",
                format!("/v1/users/bench-{user}/recommendations?k=20"),
                None,
            )
        })?;
        rows.push(Row::of(
            "GET /v1/users/{user}/recommendations",
            figures,
            &server,
            "seqrec_read_batch_requests",
        )?);
        drop(server);

        // Writes: one event per request, durable before the answer.
        let server = start_server(&seqrec, &model, &workdir.join("store"), args.server_threads)?;
        let figures = load::run(server.addr(), clients, budget, |pick| {
            let user = pick.below(users);
            let item = &items[pick.below(items.len())];
            (
                "POST",
                "/v1/events".to_owned(),
                Some(event_body(user, item)),
            )
        })?;
        rows.push(Row::of(
            "POST /v1/events (one event)",
            figures,
            &server,
            "seqrec_commit_group_requests",
        )?);
    }
    let markdown = table(&rows, &args);
    println!("{markdown}");
    std::fs::write(workdir.join("serve.md"), &markdown)?;
    let json = serde_json::json!({
        "benchmark": "serve",
        "method": args.method,
        "dataset": args.dataset,
        "hidden": args.hidden,
        "users": users,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "rows": rows,
    });
    std::fs::write(
        workdir.join("serve.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!("written {}/serve.md and serve.json", workdir.display());
    Ok(())
}

fn report(what: &str, f: &LoadFigures, mean_batch: f64) {
    eprintln!(
        "{what}, {} clients: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms ({} requests, {} errors, {mean_batch:.1} per batch)",
        f.clients, f.requests_per_second, f.p50_ms, f.p99_ms, f.requests, f.errors
    );
}

fn table(rows: &[Row], args: &ServeBench) -> String {
    let mut out = format!(
        "`seqrec serve`, {} (hidden {}) on {}, {} cores shared by server and load generator\n\n",
        args.method,
        args.hidden,
        args.dataset,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    out.push_str(
        "| route | clients | requests/s | p50 ms | p99 ms | errors | requests per scoring pass / commit |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let f = &r.figures;
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.1} |\n",
            r.route, f.clients, f.requests_per_second, f.p50_ms, f.p99_ms, f.errors, r.mean_batch
        ));
    }
    out
}
