//! `cargo xtask bench serve --soak`: the service under mixed load with
//! crashes. 64 clients (each on a keep-alive connection) mix reads and
//! single-event writes over a store that already holds a million users,
//! for 60 s, while the server is killed with SIGKILL at random moments and
//! started again. A write is retried with the same event id until it is
//! acknowledged (how a careful client behaves), so at the end every
//! acknowledged event must be in the store exactly once, and nothing else
//! beyond what was attempted. The server's resident memory is sampled
//! throughout and must stay under the stated bound.

use crate::load::{Connection, Pick, free_port, known_items};
use crate::serve_process::ServeProcess;
use anyhow::{Context, Result, bail};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The soak's settings (from `cargo xtask bench serve --soak ...`).
#[derive(Clone, Debug)]
pub(crate) struct Soak {
    pub(crate) clients: usize,
    pub(crate) seconds: u64,
    pub(crate) users: usize,
    pub(crate) max_resident_users: usize,
    pub(crate) rss_bound_mib: f64,
    pub(crate) seed: u64,
}

/// `seqrec serve` as the soak runs it.
fn spawn(
    seqrec: &Path,
    model: &Path,
    store: &Path,
    addr: SocketAddr,
    soak: &Soak,
) -> Result<ServeProcess> {
    let extra = [
        "--max-resident-users".to_owned(),
        soak.max_resident_users.to_string(),
    ];
    ServeProcess::start(seqrec, model, store, addr, &extra)
}

/// The readiness probe.
const READY: &str = "/v1/health/ready";

/// VmRSS of `pid`, in MiB (NaN when it cannot be read).
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The store's starting users: one event each, imported from a table.
fn seed_users(
    seqrec: &Path,
    store: &Path,
    dir: &Path,
    items: &[String],
    users: usize,
) -> Result<()> {
    let table = dir.join("users.csv");
    let mut text = String::with_capacity(users * 40);
    text.push_str("user,item,timestamp,event_id,seq\n");
    for n in 0..users {
        text.push_str(&format!(
            "soak-{n},{},{n},seed-{n},{n}\n",
            items[n % items.len()]
        ));
    }
    std::fs::write(&table, text)?;
    let started = Instant::now();
    let status = Command::new(seqrec)
        .args(["serve", "import", "--store"])
        .arg(store)
        .arg("--table")
        .arg(&table)
        .status()
        .context("running seqrec serve import")?;
    if !status.success() {
        bail!("seqrec serve import failed");
    }
    eprintln!(
        "{users} users imported in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What one client did.
#[derive(Default)]
struct ClientLog {
    read_latencies: Vec<u32>,
    write_latencies: Vec<u32>,
    /// Event ids acknowledged (200), and every id ever sent.
    acknowledged: Vec<String>,
    attempted: Vec<String>,
    failures: u64,
}

fn client(addr: SocketAddr, id: usize, soak: &Soak, items: &[String], end: Instant) -> ClientLog {
    let mut log = ClientLog::default();
    let mut pick = Pick::new(soak.seed * 1000 + id as u64 + 1);
    let mut connection: Option<Connection> = None;
    let mut sequence = 0u64;
    // A write not yet acknowledged is retried with the same event id.
    let mut pending: Option<(String, Vec<u8>)> = None;
    while Instant::now() < end {
        let write = pending.is_some() || pick.below(2) == 0;
        let (method, path, body) = if write {
            let (event_id, body) = pending.take().unwrap_or_else(|| {
                let user = pick.below(soak.users);
                let item = &items[pick.below(items.len())];
                sequence += 1;
                let event_id = format!("c{id}-{sequence}");
                let body = serde_json::to_vec(&serde_json::json!({
                    "events": [{"user": format!("soak-{user}"), "item": item, "event_id": event_id}]
                }))
                .unwrap_or_default();
                log.attempted.push(event_id.clone());
                (event_id, body)
            });
            pending = Some((event_id, body.clone()));
            ("POST", "/v1/events".to_owned(), Some(body))
        } else {
            let user = pick.below(soak.users);
            (
                "GET",
                format!("/v1/users/soak-{user}/recommendations?k=10"),
                None,
            )
        };
        if connection.is_none() {
            connection = Connection::open(addr).ok();
        }
        let Some(c) = connection.as_mut() else {
            log.failures += 1;
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let sent = Instant::now();
        match c.request(method, &path, body.as_deref()) {
            Ok(r) if r.status == 200 => {
                let micros = sent.elapsed().as_micros().min(u32::MAX as u128) as u32;
                if write {
                    if let Some((event_id, _)) = pending.take() {
                        log.acknowledged.push(event_id);
                    }
                    log.write_latencies.push(micros);
                } else {
                    log.read_latencies.push(micros);
                }
            }
            Ok(_) => log.failures += 1,
            Err(_) => {
                // The server went away: reconnect (and retry a write).
                log.failures += 1;
                connection = None;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    log
}

fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

/// The event ids in the store (an export of it, with the server stopped).
fn stored_ids(seqrec: &Path, store: &Path, dir: &Path) -> Result<Vec<String>> {
    let table = dir.join("export.csv");
    let status = Command::new(seqrec)
        .args(["serve", "export", "--store"])
        .arg(store)
        .arg("--out")
        .arg(&table)
        .stderr(Stdio::null())
        .status()
        .context("running seqrec serve export")?;
    if !status.success() {
        bail!("seqrec serve export failed");
    }
    let text = std::fs::read_to_string(&table)?;
    // user,item,timestamp,event_id,seq (no field here needs quotes).
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(3).map(str::to_owned))
        .collect())
}

pub(crate) fn run(seqrec: &Path, model: &Path, workdir: &Path, soak: &Soak) -> Result<()> {
    let dir = workdir.join("soak");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = dir.join("store");
    let addr = free_port()?;
    let items = {
        let mut server = spawn(seqrec, model, &dir.join("probe-store"), addr, soak)?;
        server.wait_until(READY)?;
        let items = known_items(addr)?;
        let _ = server.child.kill();
        let _ = server.child.wait();
        items
    };
    seed_users(seqrec, &store, &dir, &items, soak.users)?;
    let mut first = spawn(seqrec, model, &store, addr, soak)?;
    let first_ready = first.wait_until(READY)?;
    let server = Arc::new(Mutex::new(first));
    let started = Instant::now();
    let end = started + Duration::from_secs(soak.seconds);
    let done = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (server, done, peak) = (
            Arc::clone(&server),
            Arc::clone(&done),
            Arc::clone(&peak_rss),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let pid = server.lock().map(|s| s.pid()).unwrap_or(0);
                let rss = rss_mib(pid);
                if rss.is_finite() {
                    peak.fetch_max(rss as u64, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let killer = {
        let (server, done) = (Arc::clone(&server), Arc::clone(&done));
        let (seqrec, model, store, soak) = (
            seqrec.to_owned(),
            model.to_owned(),
            store.clone(),
            soak.clone(),
        );
        std::thread::spawn(move || -> Result<Vec<f64>> {
            let mut pick = Pick::new(soak.seed);
            let mut restarts = Vec::new();
            loop {
                let wait = Duration::from_millis(5_000 + pick.below(10_000) as u64);
                if Instant::now() + wait + Duration::from_secs(5) >= end
                    || done.load(Ordering::Relaxed)
                {
                    return Ok(restarts);
                }
                std::thread::sleep(wait);
                let mut guard = server
                    .lock()
                    .map_err(|_| anyhow::anyhow!("server lock poisoned"))?;
                guard.child.kill().context("kill -9")?;
                guard.child.wait()?;
                let mut next = spawn(&seqrec, &model, &store, addr, &soak)?;
                let took = next.wait_until(READY)?;
                eprintln!(
                    "killed and restarted: ready again in {:.2} s",
                    took.as_secs_f64()
                );
                restarts.push(took.as_secs_f64());
                *guard = next;
            }
        })
    };
    let logs: Vec<ClientLog> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..soak.clients)
            .map(|id| {
                let items = &items;
                scope.spawn(move || client(addr, id, soak, items, end))
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let restarts = killer
        .join()
        .map_err(|_| anyhow::anyhow!("the killer thread panicked"))??;
    // A clean stop at the end (SIGTERM), then the store is checked.
    {
        let mut guard = server
            .lock()
            .map_err(|_| anyhow::anyhow!("server lock poisoned"))?;
        guard.terminate();
        guard.child.wait()?;
    }
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let stored = stored_ids(seqrec, &store, &dir)?;
    let stored_set: BTreeSet<&str> = stored.iter().map(String::as_str).collect();
    let duplicates = stored.len() - stored_set.len();
    let acknowledged: BTreeSet<&str> = logs
        .iter()
        .flat_map(|l| l.acknowledged.iter().map(String::as_str))
        .collect();
    let attempted: BTreeSet<&str> = logs
        .iter()
        .flat_map(|l| l.attempted.iter().map(String::as_str))
        .collect();
    let lost: Vec<&&str> = acknowledged
        .iter()
        .filter(|id| !stored_set.contains(**id))
        .take(5)
        .collect();
    let foreign = stored_set
        .iter()
        .filter(|id| !id.starts_with("seed-") && !attempted.contains(**id))
        .count();
    let unacknowledged_stored = stored_set
        .iter()
        .filter(|id| !id.starts_with("seed-") && !acknowledged.contains(**id))
        .count();
    let mut reads: Vec<u32> = logs
        .iter()
        .flat_map(|l| l.read_latencies.iter().copied())
        .collect();
    let mut writes: Vec<u32> = logs
        .iter()
        .flat_map(|l| l.write_latencies.iter().copied())
        .collect();
    reads.sort_unstable();
    writes.sort_unstable();
    let peak = peak_rss.load(Ordering::Relaxed) as f64;
    let failures: u64 = logs.iter().map(|l| l.failures).sum();
    let restart_mean = restarts.iter().sum::<f64>() / restarts.len().max(1) as f64;
    let restart_max = restarts.iter().copied().fold(0.0f64, f64::max);
    let report = format!(
        "| figure | value |\n|---|---:|\n\
         | reads/s | {:.0} |\n| read p99 | {:.1} ms |\n\
         | acknowledged writes/s | {:.0} |\n| write p99 | {:.1} ms |\n\
         | kill -9 and restarts | {} |\n| ready again after a kill (mean / max) | {:.2} s / {:.2} s |\n\
         | first start ({}-user store, no snapshot) | {:.2} s |\n\
         | peak server memory (VmRSS) | {peak:.0} MiB (bound {:.0} MiB) |\n\
         | requests failed or cut by a kill (retried) | {failures} |\n\
         | writes acknowledged / in the store / stored but not acknowledged | {} / {} / {unacknowledged_stored} |\n\
         | acknowledged writes missing from the store | {} |\n| events stored twice | {duplicates} |\n\n\
         {} clients, {elapsed:.0} s, {} users (`--max-resident-users {}`), {}; {} CPUs; `cargo xtask bench serve --soak`\n",
        reads.len() as f64 / elapsed,
        quantile(&reads, 0.99),
        writes.len() as f64 / elapsed,
        quantile(&writes, 0.99),
        restarts.len(),
        restart_mean,
        restart_max,
        soak.users,
        first_ready.as_secs_f64(),
        soak.rss_bound_mib,
        acknowledged.len(),
        stored_set
            .iter()
            .filter(|id| !id.starts_with("seed-"))
            .count(),
        lost.len(),
        soak.clients,
        soak.users,
        soak.max_resident_users,
        model
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    println!("{report}");
    std::fs::write(workdir.join("soak.md"), &report)?;
    if !lost.is_empty() || duplicates > 0 || foreign > 0 {
        bail!(
            "the store does not match the acknowledged writes: missing {lost:?}, {duplicates} stored twice, {foreign} never sent"
        );
    }
    if peak > soak.rss_bound_mib {
        bail!(
            "the server's memory reached {peak:.0} MiB, over the bound of {:.0} MiB",
            soak.rss_bound_mib
        );
    }
    if restarts.is_empty() {
        bail!("the soak was too short to kill the server even once");
    }
    Ok(())
}
