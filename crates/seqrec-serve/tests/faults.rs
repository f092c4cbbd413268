//! Faults inside the service: a failure or a panic while stored events are
//! being applied, and a panic while scoring. The service keeps answering,
//! its health check tells the truth, and memory equals a replay of the
//! store (no user is left half-advanced, no answer invites a retry that
//! would store events twice).

mod common;

use common::{Server, json};
use seqrec_serve::{Access, Fault, load_model};
use serde_json::{Value, json};

fn items(model: &std::path::Path, n: usize) -> Vec<String> {
    let loaded = load_model(model).unwrap_or_else(|e| panic!("{e}"));
    (0..n)
        .map(|i| {
            loaded
                .data
                .items
                .label(i)
                .unwrap_or_else(|| panic!("item {i}"))
                .into_owned()
        })
        .collect()
}

fn post_events(server: &Server, events: &[(&str, &str)]) -> (u16, Value) {
    let body = json!({
        "events": events
            .iter()
            .map(|(u, i)| json!({ "user": u, "item": i }))
            .collect::<Vec<_>>()
    });
    let r = server.request("POST", "/v1/events", Some(body.to_string().as_bytes()));
    (r.status, json(&r))
}

fn top(server: &Server, user: &str) -> Value {
    let r = server.request(
        "GET",
        &format!("/v1/users/{user}/recommendations?k=10"),
        None,
    );
    assert_eq!(r.status, 200, "{user}: {:?}", json(&r));
    json(&r)["items"].clone()
}

fn health(server: &Server) -> (u16, String) {
    let r = server.request("GET", "/v1/health", None);
    (
        r.status,
        json(&r)["status"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn a_failure_or_panic_while_applying_leaves_memory_equal_to_the_store() {
    let (dir, model) = common::model_dir("gru");
    let store = dir.path().join("store");
    let it = items(&model, 6);
    let users = ["anna", "ben", "cleo"];
    let server = Server::start(&model, &store, Access::default());
    assert_eq!(post_events(&server, &[("anna", &it[0])]).0, 200);
    // Two events of anna and one each of ben and cleo: two rounds. The
    // first round advances, then the fault strikes.
    let group = [
        ("anna", it[1].as_str()),
        ("ben", it[2].as_str()),
        ("anna", it[3].as_str()),
        ("cleo", it[4].as_str()),
    ];
    for fault in [
        Fault::FailInApply { after_rounds: 1 },
        Fault::PanicInApply { after_rounds: 1 },
    ] {
        server.app.service.with_model(|m| m.inject_fault(fault));
        let (status, body) = post_events(&server, &group);
        // Stored and then applied by rebuilding the users from the store:
        // a success, so no client sends the events again.
        assert_eq!(status, 200, "{fault:?}: {body}");
        assert_eq!(body["accepted"], 4, "{fault:?}");
        assert_eq!(health(&server), (200, "ok".to_owned()), "{fault:?}");
    }
    // The committer survived: later writes work.
    assert_eq!(post_events(&server, &[("ben", &it[5])]).0, 200);
    let live: Vec<Value> = users.iter().map(|u| top(&server, u)).collect();
    server.stop();
    // A fresh service replays the store: the same answers.
    let replayed = Server::start(&model, &store, Access::default());
    let fresh: Vec<Value> = users.iter().map(|u| top(&replayed, u)).collect();
    assert_eq!(live, fresh);
}

#[test]
fn a_panic_while_scoring_fails_those_reads_only() {
    let (dir, model) = common::model_dir("gru");
    let it = items(&model, 2);
    let server = Server::start(&model, &dir.path().join("store"), Access::default());
    assert_eq!(post_events(&server, &[("dora", &it[0])]).0, 200);
    let before = top(&server, "dora");
    server
        .app
        .service
        .with_model(|m| m.inject_fault(Fault::PanicInScoring));
    let r = server.request("GET", "/v1/users/dora/recommendations?k=10", None);
    assert_eq!(r.status, 500, "{:?}", json(&r));
    assert!(
        json(&r)["error"]
            .as_str()
            .is_some_and(|e| e.contains("internal error while scoring")),
        "{:?}",
        json(&r)
    );
    // The reader thread lives on and the health check says so.
    assert_eq!(top(&server, "dora"), before);
    assert_eq!(health(&server), (200, "ok".to_owned()));
    assert_eq!(post_events(&server, &[("dora", &it[1])]).0, 200);
}
