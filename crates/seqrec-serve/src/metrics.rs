//! The service's metrics, kept and rendered by `prometheus-client` (the
//! Prometheus project's Rust client) in the OpenMetrics text format at
//! `GET /metrics`. Names follow Prometheus' conventions: HTTP requests as
//! `http_requests_total` and `http_request_duration_seconds` with
//! `method`, `route` and `code` labels; the service's own as `seqrec_*`,
//! in base units, counters ending in `_total`; `seqrec_build_info` and
//! `seqrec_model_info` carry their facts as labels of a constant 1.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds of the latency buckets, in seconds (100 µs to 30 s).
const LATENCY_BUCKETS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];
/// Upper bounds of the group-size buckets (requests per pass).
const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    version: String,
    method: String,
    dataset: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn batches() -> Histogram {
    Histogram::new(BATCH_BUCKETS)
}

/// What the model reports at a scrape (read under its lock by the caller).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelState {
    pub users: usize,
    pub resident_users: usize,
    pub evictions: u64,
    pub version: String,
    pub method: String,
    pub dataset: String,
}

/// The metrics, shared by the handlers and the worker threads.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily<RouteLabels>,
    commit_groups: Histogram,
    commit_seconds: Histogram,
    apply_seconds: Histogram,
    read_batches: Histogram,
    events_stored: Gauge,
    refused_busy: Counter,
    queue_depth: Family<QueueLabels, Gauge>,
    reloads: Family<OutcomeLabels, Counter>,
    snapshots: Counter,
    snapshot_bytes: Gauge,
    snapshot_seconds: Histogram,
    users: Gauge,
    resident_users: Gauge,
    evictions: Gauge,
    model: Family<ModelLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::default(),
            requests: Family::default(),
            durations: Family::new_with_constructor(latency as fn() -> Histogram),
            commit_groups: batches(),
            commit_seconds: latency(),
            apply_seconds: latency(),
            read_batches: batches(),
            events_stored: Gauge::default(),
            refused_busy: Counter::default(),
            queue_depth: Family::default(),
            reloads: Family::default(),
            snapshots: Counter::default(),
            snapshot_bytes: Gauge::default(),
            snapshot_seconds: latency(),
            users: Gauge::default(),
            resident_users: Gauge::default(),
            evictions: Gauge::default(),
            model: Family::default(),
        };
        let r = &mut m.registry;
        r.register(
            "http_requests",
            "HTTP requests answered, by method, route and status code.",
            m.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route.",
            m.durations.clone(),
        );
        r.register(
            "seqrec_commit_group_requests",
            "Write requests per durable commit (group size).",
            m.commit_groups.clone(),
        );
        r.register(
            "seqrec_commit_duration_seconds",
            "Time to make one group of events durable (the fsynced transaction).",
            m.commit_seconds.clone(),
        );
        r.register(
            "seqrec_apply_duration_seconds",
            "Time to apply one committed group of events to the users' states.",
            m.apply_seconds.clone(),
        );
        r.register(
            "seqrec_read_batch_requests",
            "Recommendation reads per scoring pass (batch size).",
            m.read_batches.clone(),
        );
        r.register(
            "seqrec_events_stored",
            "Events in the durable store.",
            m.events_stored.clone(),
        );
        r.register(
            "seqrec_requests_refused_busy",
            "Requests refused with 503 because their queue was full.",
            m.refused_busy.clone(),
        );
        r.register(
            "seqrec_queue_depth",
            "Requests waiting for a worker thread, by queue.",
            m.queue_depth.clone(),
        );
        r.register(
            "seqrec_reloads",
            "Model reloads, by outcome.",
            m.reloads.clone(),
        );
        r.register(
            "seqrec_snapshots_written",
            "Snapshots of the users in memory written.",
            m.snapshots.clone(),
        );
        r.register(
            "seqrec_snapshot_bytes",
            "Size of the last snapshot written.",
            m.snapshot_bytes.clone(),
        );
        r.register(
            "seqrec_snapshot_write_duration_seconds",
            "Time to write one snapshot.",
            m.snapshot_seconds.clone(),
        );
        r.register(
            "seqrec_users",
            "Users known: the model's and those created online.",
            m.users.clone(),
        );
        r.register(
            "seqrec_resident_users",
            "Users whose state is in memory.",
            m.resident_users.clone(),
        );
        r.register(
            "seqrec_user_evictions",
            "Users whose state left memory under the bound since the model served was loaded (rebuilt from the store when used).",
            m.evictions.clone(),
        );
        r.register(
            "seqrec_model_info",
            "The model served: its version, method and dataset.",
            m.model.clone(),
        );
        r.register(
            "seqrec_build",
            "The seqrec build serving.",
            prometheus_client::metrics::info::Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            }),
        );
        // Both queues show from the start, at 0.
        let _ = m
            .queue_depth
            .get_or_create(&QueueLabels { queue: "writes" });
        let _ = m.queue_depth.get_or_create(&QueueLabels { queue: "reads" });
        m
    }

    /// One request answered: `route` is the route's pattern, not the path.
    pub fn observe_request(&self, method: &str, route: &str, code: u16, seconds: f64) {
        let (method, route) = (method.to_owned(), route.to_owned());
        self.durations
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                code,
            })
            .inc();
    }

    /// One commit group of `size` requests.
    pub fn observe_batch(&self, size: usize) {
        self.commit_groups.observe(size as f64);
    }

    /// One durable commit that took `seconds`.
    pub fn observe_commit(&self, seconds: f64) {
        self.commit_seconds.observe(seconds);
    }

    /// One committed group applied in `seconds`.
    pub fn observe_apply(&self, seconds: f64) {
        self.apply_seconds.observe(seconds);
    }

    /// One scoring pass over `size` recommendation reads.
    pub fn observe_read_batch(&self, size: usize) {
        self.read_batches.observe(size as f64);
    }

    fn queue(&self, queue: &'static str) -> Gauge {
        self.queue_depth.get_or_create_owned(&QueueLabels { queue })
    }

    /// Write requests queued (`+1`) or taken by the committer (`-n`).
    pub fn queue_write(&self, delta: i64) {
        self.queue("writes").inc_by(delta);
    }

    /// Reads queued (`+1`) or taken by the reader (`-n`).
    pub fn queue_read(&self, delta: i64) {
        self.queue("reads").inc_by(delta);
    }

    /// Write requests waiting for the committer now.
    pub fn queued_writes(&self) -> u64 {
        self.queue("writes").get().max(0) as u64
    }

    /// A request refused because its queue was full.
    pub fn add_refused_busy(&self) {
        self.refused_busy.inc();
    }

    pub fn add_events_stored(&self, n: u64) {
        self.events_stored.inc_by(n as i64);
    }

    pub fn set_events_stored(&self, n: u64) {
        self.events_stored.set(n as i64);
    }

    /// Events in the store, as counted.
    pub fn events_stored(&self) -> u64 {
        self.events_stored.get().max(0) as u64
    }

    /// A reload that ended `ok` or not.
    pub fn observe_reload(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// A snapshot of `bytes` bytes written in `seconds`.
    pub fn observe_snapshot(&self, seconds: f64, bytes: u64) {
        self.snapshots.inc();
        self.snapshot_bytes.set(bytes as i64);
        self.snapshot_seconds.observe(seconds);
    }

    /// The OpenMetrics text, with the model's figures as of now.
    pub fn render(&self, model: &ModelState) -> String {
        self.users.set(model.users as i64);
        self.resident_users.set(model.resident_users as i64);
        // A gauge: a reload starts a new model's count at 0.
        self.evictions.set(model.evictions as i64);
        let labels = ModelLabels {
            version: model.version.clone(),
            method: model.method.clone(),
            dataset: model.dataset.clone(),
        };
        if self.model.get(&labels).is_none() {
            // A reload: the former model's series goes.
            self.model.clear();
            self.model.get_or_create(&labels).set(1);
        }
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding the metrics failed");
        }
        out
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_conventional_names_and_cumulative_buckets() {
        let m = Metrics::default();
        m.observe_request("GET", "/v1/health", 200, 0.0003);
        m.observe_request("GET", "/v1/health", 200, 0.02);
        m.observe_request("POST", "/v1/events", 422, 0.001);
        m.observe_batch(3);
        m.set_events_stored(7);
        m.observe_reload(true);
        let state = ModelState {
            users: 5,
            version: "abc".into(),
            method: "gru".into(),
            dataset: "ml-100k".into(),
            ..ModelState::default()
        };
        let text = m.render(&state);
        for line in [
            "http_requests_total{method=\"GET\",route=\"/v1/health\",code=\"200\"} 2",
            "http_requests_total{method=\"POST\",route=\"/v1/events\",code=\"422\"} 1",
            // 0.0003 falls in le=0.0005 and above, 0.02 in le=0.025 and above.
            "http_request_duration_seconds_bucket{le=\"0.00025\",method=\"GET\",route=\"/v1/health\"} 0",
            "http_request_duration_seconds_bucket{le=\"0.0005\",method=\"GET\",route=\"/v1/health\"} 1",
            "http_request_duration_seconds_bucket{le=\"0.025\",method=\"GET\",route=\"/v1/health\"} 2",
            "http_request_duration_seconds_count{method=\"GET\",route=\"/v1/health\"} 2",
            "seqrec_commit_group_requests_bucket{le=\"2.0\"} 0",
            "seqrec_commit_group_requests_bucket{le=\"4.0\"} 1",
            "seqrec_events_stored 7",
            "seqrec_users 5",
            "seqrec_reloads_total{outcome=\"ok\"} 1",
            "seqrec_model_info{version=\"abc\",method=\"gru\",dataset=\"ml-100k\"} 1",
            "seqrec_queue_depth{queue=\"writes\"} 0",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert!(text.contains("seqrec_build_info{version=\""), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
        // A reload to another model replaces the info series.
        let text = m.render(&ModelState {
            version: "def".into(),
            ..state
        });
        assert!(text.contains("seqrec_model_info{version=\"def\""), "{text}");
        assert!(!text.contains("version=\"abc\""), "{text}");
    }
}
