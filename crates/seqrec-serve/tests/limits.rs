//! Requests that would cost the service more than they are worth are
//! refused with a clear 422 before any work: an anonymous sequence longer
//! than the cap (each item is a GRU step), ids longer than the cap (kept
//! in memory and in the store for every event). Nothing is stored. Queues
//! to the worker threads are bounded: a full one answers 503 with
//! `Retry-After`, and nothing waits without bound.

mod common;

use common::{Server, json};
use seqrec_serve::http::MAX_ID_BYTES;
use seqrec_serve::{Access, MAX_ANONYMOUS_ITEMS, ServiceOptions, Start};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn anonymous_sequences_and_ids_have_limits() {
    let (dir, model) = common::model_dir("gru");
    let item = common::first_item(&model);
    let server = Server::start(&model, &dir.path().join("store"), Access::default());
    let anonymous = |n: usize| {
        let body = json!({ "items": vec![item.clone(); n], "k": 5 });
        server.request(
            "POST",
            "/v1/recommendations",
            Some(body.to_string().as_bytes()),
        )
    };
    assert_eq!(anonymous(MAX_ANONYMOUS_ITEMS).status, 200);
    let r = anonymous(MAX_ANONYMOUS_ITEMS + 1);
    assert_eq!(r.status, 422, "{:?}", json(&r));
    assert_eq!(
        json(&r)["error"],
        format!(
            "{} items given; an anonymous sequence may have at most {MAX_ANONYMOUS_ITEMS}",
            MAX_ANONYMOUS_ITEMS + 1
        )
    );
    let long = "u".repeat(MAX_ID_BYTES + 1);
    let body =
        json!({ "events": [{ "user": "ok", "item": item }, { "user": long, "item": item }] });
    let r = server.request("POST", "/v1/events", Some(body.to_string().as_bytes()));
    assert_eq!(r.status, 422, "{:?}", json(&r));
    assert_eq!(
        json(&r)["error"],
        format!(
            "events[1].user: {} bytes; ids may have at most {MAX_ID_BYTES}",
            MAX_ID_BYTES + 1
        )
    );
    let r = server.request("GET", &format!("/v1/users/{long}/recommendations"), None);
    assert_eq!(r.status, 422, "{:?}", json(&r));
    let body = json!({ "items": [&long] });
    let r = server.request(
        "POST",
        "/v1/recommendations",
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 422, "{:?}", json(&r));
    // Nothing of the refused write was stored: not even its valid event.
    let r = server.request("GET", "/v1/users/ok/recommendations", None);
    assert_eq!(json(&r)["cold_start"], true, "{:?}", json(&r));
    let exact = "v".repeat(MAX_ID_BYTES);
    let body = json!({ "events": [{ "user": exact, "item": item }] });
    let r = server.request("POST", "/v1/events", Some(body.to_string().as_bytes()));
    assert_eq!(r.status, 200, "{:?}", json(&r));
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let (dir, model) = common::model_dir("pop");
    let item = common::first_item(&model);
    let options = ServiceOptions {
        queue_capacity: 1,
        ..ServiceOptions::default()
    };
    let server = std::sync::Arc::new(Server::start_with(
        &model,
        &dir.path().join("store"),
        Access::default(),
        Start::WholeHistory,
        &options,
    ));
    let post = {
        let server = std::sync::Arc::clone(&server);
        move |user: &str| {
            let body = json!({ "events": [{ "user": user, "item": item }] });
            server.request("POST", "/v1/events", Some(body.to_string().as_bytes()))
        }
    };
    let stored = |server: &Server| server.app.service.metrics.events_stored();
    // Hold the model: the committer stores the first write, then waits
    // for the model to apply it; the second write waits in the queue.
    let hold = common::hold_model(&server.app);
    let first = {
        let post = post.clone();
        std::thread::spawn(move || post("first").status)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored(&server) < 1 {
        assert!(
            Instant::now() < deadline,
            "the first write was never stored"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = {
        let post = post.clone();
        std::thread::spawn(move || post("second").status)
    };
    while server.app.service.metrics.queued_writes() < 1 {
        assert!(
            Instant::now() < deadline,
            "the second write was never queued"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The queue (capacity 1) is full: a third write is refused at once.
    let r = post("third");
    assert_eq!(r.status, 503, "{:?}", json(&r));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(
        json(&r)["error"]
            .as_str()
            .is_some_and(|e| e.contains("busy")),
        "{:?}",
        json(&r)
    );
    drop(hold);
    assert_eq!(first.join().unwrap_or(0), 200);
    assert_eq!(second.join().unwrap_or(0), 200);
    assert_eq!(post("fourth").status, 200);
    let metrics = server.app.service.metrics.render(&Default::default());
    for line in [
        "seqrec_requests_refused_busy_total 1",
        "seqrec_queue_depth{queue=\"writes\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}
