//! The service's Prometheus metrics, rendered in the text format at
//! `GET /metrics`: requests by route and status, latency histograms by
//! route, events stored, users, and the committer's group sizes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Upper bounds of the group-size buckets (requests per commit).
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Cumulative counts per bucket bound, then +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], value: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; bounds.len()];
        }
        for (c, &b) in self.counts.iter_mut().zip(bounds) {
            if value <= b {
                *c += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str, bounds: &[f64]) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (c, b) in self.counts.iter().zip(bounds) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {c}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Counters and histograms, shared by the handlers and the committer.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    batches: Mutex<Histogram>,
    read_batches: Mutex<Histogram>,
    events_stored: AtomicU64,
    refused_busy: AtomicU64,
    /// Requests waiting for the committer and for the reader.
    queued_writes: AtomicU64,
    queued_reads: AtomicU64,
    snapshots_written: AtomicU64,
    snapshot_bytes: AtomicU64,
    /// The last snapshot's write time, in microseconds.
    snapshot_micros: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// One request to `route` (the route's pattern, not the raw path).
    pub fn observe_request(&self, route: &str, status: u16, seconds: f64) {
        *lock(&self.requests)
            .entry((route.to_owned(), status))
            .or_default() += 1;
        lock(&self.latency)
            .entry(route.to_owned())
            .or_default()
            .observe(&LATENCY_BUCKETS, seconds);
    }

    /// One commit group of `size` requests.
    pub fn observe_batch(&self, size: usize) {
        lock(&self.batches).observe(&BATCH_BUCKETS, size as f64);
    }

    /// One scoring pass over `size` recommendation reads.
    pub fn observe_read_batch(&self, size: usize) {
        lock(&self.read_batches).observe(&BATCH_BUCKETS, size as f64);
    }

    /// Write requests queued (`+1`) or taken by the committer (`-n`).
    pub fn queue_write(&self, delta: i64) {
        add_signed(&self.queued_writes, delta);
    }

    /// Reads queued (`+1`) or taken by the reader (`-n`).
    pub fn queue_read(&self, delta: i64) {
        add_signed(&self.queued_reads, delta);
    }

    /// Write requests waiting for the committer now.
    pub fn queued_writes(&self) -> u64 {
        self.queued_writes.load(Ordering::SeqCst)
    }

    /// A request refused because its queue was full.
    pub fn add_refused_busy(&self) {
        self.refused_busy.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot of `bytes` bytes written in `seconds`.
    pub fn observe_snapshot(&self, seconds: f64, bytes: u64) {
        self.snapshots_written.fetch_add(1, Ordering::Relaxed);
        self.snapshot_bytes.store(bytes, Ordering::Relaxed);
        self.snapshot_micros
            .store((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    pub fn add_events_stored(&self, n: u64) {
        self.events_stored.fetch_add(n, Ordering::Relaxed);
    }

    pub fn set_events_stored(&self, n: u64) {
        self.events_stored.store(n, Ordering::Relaxed);
    }

    /// The Prometheus text format; `users` is read by the caller.
    pub fn render(&self, users: usize) -> String {
        let mut out = String::new();
        out.push_str("# HELP seqrec_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE seqrec_requests_total counter\n");
        for ((route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "seqrec_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str("# HELP seqrec_request_seconds Request latency by route.\n");
        out.push_str("# TYPE seqrec_request_seconds histogram\n");
        for (route, h) in lock(&self.latency).iter() {
            let labels = format!("route=\"{}\"", escape(route));
            h.render(
                &mut out,
                "seqrec_request_seconds",
                &labels,
                &LATENCY_BUCKETS,
            );
        }
        out.push_str("# HELP seqrec_commit_group_requests Write requests per durable commit (micro-batch size).\n");
        out.push_str("# TYPE seqrec_commit_group_requests histogram\n");
        lock(&self.batches).render(&mut out, "seqrec_commit_group_requests", "", &BATCH_BUCKETS);
        out.push_str("# HELP seqrec_read_batch_requests Recommendation reads per scoring pass (micro-batch size).\n");
        out.push_str("# TYPE seqrec_read_batch_requests histogram\n");
        lock(&self.read_batches).render(&mut out, "seqrec_read_batch_requests", "", &BATCH_BUCKETS);
        let simple = [
            (
                "seqrec_events_stored",
                "gauge",
                "Events in the durable store.",
                "",
                self.events_stored.load(Ordering::Relaxed),
            ),
            (
                "seqrec_requests_refused_busy_total",
                "counter",
                "Requests refused with 503 because their queue was full.",
                "",
                self.refused_busy.load(Ordering::Relaxed),
            ),
            (
                "seqrec_queue_depth",
                "gauge",
                "Requests waiting for a worker thread.",
                "{queue=\"writes\"}",
                self.queued_writes(),
            ),
            (
                "seqrec_queue_depth",
                "",
                "",
                "{queue=\"reads\"}",
                self.queued_reads.load(Ordering::SeqCst),
            ),
            (
                "seqrec_snapshots_written_total",
                "counter",
                "Snapshots of the users in memory written.",
                "",
                self.snapshots_written.load(Ordering::Relaxed),
            ),
            (
                "seqrec_snapshot_bytes",
                "gauge",
                "Size of the last snapshot written.",
                "",
                self.snapshot_bytes.load(Ordering::Relaxed),
            ),
            (
                "seqrec_users",
                "gauge",
                "Users known (the model's and those created online).",
                "",
                users as u64,
            ),
        ];
        for (name, kind, help, labels, value) in simple {
            // A second series of a metric repeats no HELP/TYPE lines.
            if !kind.is_empty() {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            }
            let _ = writeln!(out, "{name}{labels} {value}");
        }
        out
    }
}

/// Adds a signed amount to a gauge that never goes below zero.
fn add_signed(gauge: &AtomicU64, delta: i64) {
    if delta >= 0 {
        gauge.fetch_add(delta as u64, Ordering::SeqCst);
    } else {
        let _ = gauge.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
            Some(v.saturating_sub(delta.unsigned_abs()))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_request("/v1/health", 200, 0.0003);
        m.observe_request("/v1/health", 200, 0.02);
        m.observe_request("/v1/events", 422, 0.001);
        m.observe_batch(3);
        m.set_events_stored(7);
        let text = m.render(5);
        assert!(text.contains("seqrec_requests_total{route=\"/v1/health\",status=\"200\"} 2"));
        assert!(text.contains("seqrec_requests_total{route=\"/v1/events\",status=\"422\"} 1"));
        // 0.0003 falls in le=0.0005 and above, 0.02 in le=0.025 and above.
        assert!(
            text.contains("seqrec_request_seconds_bucket{route=\"/v1/health\",le=\"0.00025\"} 0")
        );
        assert!(
            text.contains("seqrec_request_seconds_bucket{route=\"/v1/health\",le=\"0.0005\"} 1")
        );
        assert!(
            text.contains("seqrec_request_seconds_bucket{route=\"/v1/health\",le=\"0.025\"} 2")
        );
        assert!(text.contains("seqrec_request_seconds_count{route=\"/v1/health\"} 2"));
        assert!(text.contains("seqrec_commit_group_requests_bucket{le=\"2\"} 0"));
        assert!(text.contains("seqrec_commit_group_requests_bucket{le=\"4\"} 1"));
        assert!(text.contains("seqrec_events_stored 7"));
        assert!(text.contains("seqrec_users 5"));
    }
}
