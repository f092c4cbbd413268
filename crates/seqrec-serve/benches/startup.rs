//! Start-up of `seqrec serve` at scale: a store of 1,000,000 users and
//! 10,000,000 events (10 each) under a GRU of hidden size 100. Measures,
//! each start in a fresh process (so its peak memory is its own):
//! - a cold start: open the store and count the users (no snapshot; every
//!   user is rebuilt from the store when first used);
//! - a warm start: the same plus loading the snapshot of all 1,000,000
//!   users written at the previous clean stop, and applying the events
//!   after it (none here).
//!
//! Run with `cargo bench -p seqrec-serve --bench startup` (sizes:
//! `SEQREC_BENCH_USERS`, `SEQREC_BENCH_EVENTS_PER_USER`). The store, the
//! model and the snapshot are kept in `target/bench-startup/` between
//! runs; the figures go to stdout and `target/bench-startup/startup.md`.

#![allow(clippy::print_stdout)] // A benchmark reports on stdout.
use seqrec_data::{DatasetName, LoadRequest, load};
use seqrec_runner::model_dir::{self, TrainSpec};
use seqrec_runner::{Compute, Method};
use seqrec_serve::{Event, EventStore, Service, ServiceOptions, Start, load_model};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-startup")
}

/// VmHWM (peak resident memory) of this process, in MiB.
fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn model(dir: &Path) {
    if dir.join("model.toml").exists() {
        return;
    }
    let mut request = LoadRequest::new("datasets");
    request.cache_dir = None;
    request.options.synthetic = Some(
        toml::from_str(&seqrec_data::testing::tiny_synthetic(500, 2000, 20_000))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let name = DatasetName::parse("synthetic-movielens").unwrap_or_else(|e| panic!("{e}"));
    let data = load(&name, &request).unwrap_or_else(|e| panic!("{e}"));
    let spec = TrainSpec {
        method: Method::parse("gru").unwrap_or_else(|e| panic!("{e}")),
        gru: seqrec_models::GruParams {
            hidden: 100,
            epochs: 1,
            ..Default::default()
        },
        baselines: Default::default(),
        seed: 3,
        compute: Compute::default(),
        cancel: Default::default(),
        log_position: None,
    };
    model_dir::train(&spec, &data, &request.options, None, dir, None)
        .unwrap_or_else(|e| panic!("{e}"));
}

fn options(snapshots: bool) -> ServiceOptions {
    ServiceOptions {
        snapshots,
        snapshot_every: None,
        ..ServiceOptions::default()
    }
}

/// One measured start in this process; prints `seconds peak_mib users`.
fn measure(mode: &str) {
    let root = root();
    let loaded = load_model(&root.join("model")).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let store = EventStore::open(&root.join("store")).unwrap_or_else(|e| panic!("{e}"));
    let (service, ready) =
        Service::start_with(loaded, store, Start::WholeHistory, &options(mode == "warm"))
            .unwrap_or_else(|e| panic!("{e}"));
    let seconds = started.elapsed().as_secs_f64();
    let users = service.with_model(|m| m.user_count());
    println!(
        "{seconds:.3} {:.0} {} {}",
        peak_mib(),
        ready.resident_users,
        users
    );
    // Exit without the clean stop's snapshot (measured separately).
    std::process::exit(0);
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    if let Some(mode) = args.next().filter(|m| m == "cold" || m == "warm") {
        measure(&mode);
        return;
    }
    let users = env_number("SEQREC_BENCH_USERS", 1_000_000);
    let per_user = env_number("SEQREC_BENCH_EVENTS_PER_USER", 10);
    let root = root();
    std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
    model(&root.join("model"));
    let items: Vec<String> = {
        let loaded = load_model(&root.join("model")).unwrap_or_else(|e| panic!("{e}"));
        (0..loaded.data.items.len())
            .filter_map(|i| loaded.data.items.label(i).map(|l| l.into_owned()))
            .collect()
    };
    let store_dir = root.join("store");
    let want = (users * per_user) as u64;
    let have = EventStore::open(&store_dir)
        .and_then(|s| s.len())
        .unwrap_or(0);
    if have != want {
        let _ = std::fs::remove_dir_all(&store_dir);
        let mut store = EventStore::open(&store_dir).unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut batch = Vec::with_capacity(100_000);
        for n in 0..want as usize {
            // xorshift: a fixed, seeded item sequence.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let item = &items[(state % items.len() as u64) as usize];
            batch.push(Event::new(
                format!("u{}", n % users),
                item.clone(),
                Some(n as i64),
            ));
            if batch.len() == 100_000 {
                store.append(&batch).unwrap_or_else(|e| panic!("{e}"));
                batch.clear();
            }
        }
        store.append(&batch).unwrap_or_else(|e| panic!("{e}"));
        println!(
            "store written: {want} events of {users} users in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    // Every user in memory, then a clean stop writes the snapshot.
    let snapshot_seconds = {
        let loaded = load_model(&root.join("model")).unwrap_or_else(|e| panic!("{e}"));
        let store = EventStore::open(&store_dir).unwrap_or_else(|e| panic!("{e}"));
        let (service, _) = Service::start_with(loaded, store, Start::WholeHistory, &options(true))
            .unwrap_or_else(|e| panic!("{e}"));
        let started = Instant::now();
        service
            .with_model(|m| m.preload())
            .unwrap_or_else(|e| panic!("{e}"));
        println!(
            "preloaded every user in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        drop(service);
        started.elapsed().as_secs_f64()
    };
    let snapshot_bytes = std::fs::read_dir(store_dir.join("snapshots"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0);
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let run = |mode: &str| {
        let out = Command::new(&exe)
            .arg(mode)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let fields: Vec<String> = text.split_whitespace().map(str::to_owned).collect();
        assert!(
            fields.len() == 4,
            "{mode}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        fields
    };
    let cold = run("cold");
    let warm = run("warm");
    let machine = format!(
        "{} CPUs, {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::env::consts::ARCH
    );
    let report = format!(
        "| start | seconds | peak memory (MiB) | users in memory | users |\n|---|---:|---:|---:|---:|\n\
         | cold (no snapshot) | {} | {} | {} | {} |\n| warm (snapshot of every user) | {} | {} | {} | {} |\n\n\
         {users} users, {want} events, GRU hidden 100; snapshot {:.0} MiB written at the clean stop in {snapshot_seconds:.1} s; {machine}; \
         `cargo bench -p seqrec-serve --bench startup`\n",
        cold[0],
        cold[1],
        cold[2],
        cold[3],
        warm[0],
        warm[1],
        warm[2],
        warm[3],
        snapshot_bytes as f64 / (1 << 20) as f64,
    );
    print!("{report}");
    std::fs::write(root.join("startup.md"), report).unwrap_or_else(|e| panic!("{e}"));
}
