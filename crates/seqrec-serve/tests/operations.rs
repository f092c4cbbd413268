//! What an orchestrator sees: the liveness and readiness probes, readiness
//! withdrawn once shutdown begins, and a drain that gives up after its
//! timeout instead of waiting for ever on a stuck request; request ids and
//! the per-request time limit.

mod common;

use common::{Server, hold_model, json, request};
use seqrec_serve::{Access, App, Drain, EventStore, HttpOptions, Service, load_model};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A service on `model` with a fresh store in `dir`, and `http` limits.
fn app(model: &Path, dir: &Path, http: HttpOptions) -> Arc<App> {
    let loaded = load_model(model).unwrap_or_else(|e| panic!("{e}"));
    let store = EventStore::open(&dir.join("store")).unwrap_or_else(|e| panic!("{e}"));
    let (service, _) = Service::start(loaded, store).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(App::new(service, Access::default(), model.to_owned()).with_http(http))
}

#[test]
fn probes_say_live_and_ready_and_readiness_ends_with_the_drain() {
    let (dir, model) = common::model_dir("pop");
    let server = Server::start(&model, &dir.path().join("store"), Access::one_token("t"));
    // Open to probes even with a token.
    let probe = |path: &str| {
        let r = request(server.addr, "GET", path, None, &[]);
        (
            r.status,
            json(&r)["status"].as_str().unwrap_or("").to_owned(),
        )
    };
    assert_eq!(probe("/v1/health/live"), (200, "ok".to_owned()));
    assert_eq!(probe("/v1/health/ready"), (200, "ready".to_owned()));
    server.app.start_draining();
    assert_eq!(probe("/v1/health/ready"), (503, "draining".to_owned()));
    assert_eq!(probe("/v1/health/live"), (200, "ok".to_owned()));
    assert_eq!(probe("/v1/health").0, 200);
}

#[test]
fn a_drain_stuck_on_a_request_ends_at_its_timeout() {
    let (dir, model) = common::model_dir("pop");
    let app = app(&model, dir.path(), HttpOptions::default());
    let server = Server::serve_app(Arc::clone(&app), Some(Duration::from_millis(500)));
    // With the model held, a read cannot be answered.
    let hold = hold_model(&app);
    let addr = server.addr;
    let stuck = std::thread::spawn(move || {
        seqrec_serve::testing::request(addr, "GET", "/v1/users/x/recommendations", None, &[])
    });
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(server.stop_draining(), Drain::TimedOut);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the drain took {:?}",
        started.elapsed()
    );
    assert!(app.is_draining());
    drop(hold);
    let _ = stuck.join();
}

#[test]
fn requests_carry_ids_and_a_slow_one_ends_at_the_request_timeout() {
    let (dir, model) = common::model_dir("pop");
    let http = HttpOptions {
        request_timeout: Duration::from_millis(300),
        max_in_flight: 8,
    };
    let app = app(&model, dir.path(), http);
    let server = Server::serve_app(Arc::clone(&app), Some(Duration::from_secs(5)));
    let addr = server.addr;
    // An id is made for every request, different each time, or the
    // caller's is kept.
    let a = request(addr, "GET", "/v1/health", None, &[]);
    let b = request(addr, "GET", "/v1/nowhere", None, &[]);
    let (ida, idb) = (a.header("x-request-id"), b.header("x-request-id"));
    assert!(
        ida.is_some() && idb.is_some() && ida != idb,
        "{ida:?} {idb:?}"
    );
    let mine = request(
        addr,
        "GET",
        "/v1/health",
        None,
        &[("x-request-id", "trace-42")],
    );
    assert_eq!(mine.header("x-request-id"), Some("trace-42"));
    // A method a route does not take: a problem document, `Allow` kept.
    let r = request(addr, "PUT", "/v1/health", None, &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(json(&r)["type"], "urn:seqrec:problem:method-not-allowed");
    assert!(
        r.header("allow").is_some_and(|a| a.contains("GET")),
        "{:?}",
        r.headers
    );
    // A read that cannot be answered (the model is held) ends at the
    // request timeout with 503 `timeout`.
    let hold = hold_model(&app);
    let started = Instant::now();
    let r = request(addr, "GET", "/v1/users/x/recommendations", None, &[]);
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{:?}", json(&r));
    assert_eq!(json(&r)["type"], "urn:seqrec:problem:timeout");
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(20),
        "{took:?}"
    );
    drop(hold);
    let metrics = app.service.metrics.render(&Default::default());
    assert!(
        metrics.contains("route=\"/v1/users/{user}/recommendations\",code=\"503\"} 1"),
        "{metrics}"
    );
    assert_eq!(server.stop_draining(), Drain::Complete);
}

#[test]
fn every_route_is_in_the_openapi_document_and_every_documented_route_answers() {
    let (dir, model) = common::model_dir("pop");
    let server = Server::start(&model, &dir.path().join("store"), Access::default());
    let r = server.request("GET", "/v1/openapi.json", None);
    assert_eq!(r.status, 200);
    let doc = json(&r);
    assert_eq!(
        doc["openapi"].as_str().map(|v| &v[..2]),
        Some("3."),
        "{doc}"
    );
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap_or_else(|| panic!("{doc}")) {
        for method in item.as_object().map(|o| o.keys()).into_iter().flatten() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let mut want: Vec<(String, String)> = [
        ("GET", "/v1/health"),
        ("GET", "/v1/health/live"),
        ("GET", "/v1/health/ready"),
        ("POST", "/v1/events"),
        ("GET", "/v1/users/{user}/recommendations"),
        ("DELETE", "/v1/users/{user}"),
        ("POST", "/v1/recommendations"),
        ("POST", "/v1/recommendations:batch"),
        ("POST", "/v1/admin/reload"),
        ("GET", "/metrics"),
        ("GET", "/v1/openapi.json"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    want.sort();
    assert_eq!(documented, want);
    // Each documented operation is routed (no `no-such-route`, no 405).
    for (method, path) in &documented {
        let path = path.replace("{user}", "someone");
        let body = (method == "POST" && path != "/v1/admin/reload").then_some(b"{}".as_slice());
        let r = request(server.addr, method, &path, body, &[]);
        let kind = r
            .json()
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_owned));
        assert_ne!(r.status, 405, "{method} {path}");
        assert_ne!(
            kind.as_deref(),
            Some("urn:seqrec:problem:no-such-route"),
            "{method} {path}"
        );
    }
    // Undocumented paths are not routed.
    let r = server.request("GET", "/v1/nothing", None);
    assert_eq!(json(&r)["type"], "urn:seqrec:problem:no-such-route");
    // The bodies are described by their types.
    for schema in [
        "RecommendationsOut",
        "EventsIn",
        "EventsOut",
        "Problem",
        "BatchIn",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
}
