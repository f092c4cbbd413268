//! The HTTP API end to end on 127.0.0.1: routes, state equal to the
//! in-process model, durability across a restart, reload, bad input,
//! access control, metrics, and random input at every route.

mod common;

use common::{Server, item_ids, json, known_ids, model_dir, request};
use seqrec_serve::{Access, Event, OnlineModel, Start, load_model};
use serde_json::{Value, json};

fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn events_and_recommendations_equal_the_in_process_model_and_survive_a_restart() {
    let (dir, model) = model_dir("gru");
    let store = dir.path().join("store");
    let (users, items) = known_ids(&model);
    let server = Server::start(&model, &store, Access::default());

    let health = server.request("GET", "/v1/health", None);
    assert_eq!(health.status, 200);
    let h = json(&health);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["method"], "gru");
    assert_eq!(h["dataset"], "synthetic-movielens");
    assert_eq!(h["users"], 40);
    let catalogue = h["items"].as_u64().unwrap_or_default();
    assert!(catalogue > 0);

    // Two requests: a known user and a new one; one unknown item.
    let first = json!({"events": [
        {"user": users[0], "item": items[1], "timestamp": 10},
        {"user": "new-user", "item": items[2]},
        {"user": "new-user", "item": "no-such-item"},
    ]});
    let r = server.request("POST", "/v1/events", Some(&body(&first)));
    assert_eq!(r.status, 200, "{:?}", json(&r));
    assert_eq!(
        json(&r),
        json!({"accepted": 3, "duplicates": 0, "unknown_items": 1})
    );
    let second = json!({"events": [{"user": "new-user", "item": items[3]}]});
    let r = server.request("POST", "/v1/events", Some(&body(&second)));
    assert_eq!(
        json(&r),
        json!({"accepted": 1, "duplicates": 0, "unknown_items": 0})
    );

    // The same events applied in process give the same lists.
    let mut reference = OnlineModel::new(
        load_model(&model).unwrap_or_else(|e| panic!("{e}")),
        Start::WholeHistory,
    );
    reference
        .apply(&[
            Event::new(users[0].clone(), items[1].clone(), Some(10)),
            Event::new("new-user", items[2].clone(), None),
            Event::new("new-user", "no-such-item", None),
            Event::new("new-user", items[3].clone(), None),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut before = Vec::new();
    for user in [users[0].as_str(), "new-user", users[1].as_str()] {
        let r = server.request(
            "GET",
            &format!("/v1/users/{user}/recommendations?k=7&exclude_seen=true"),
            None,
        );
        assert_eq!(r.status, 200);
        let v = json(&r);
        assert_eq!(v["user"], user);
        let want: Vec<String> = reference
            .recommend(user, 7, true)
            .unwrap_or_else(|e| panic!("{e}"))
            .items
            .into_iter()
            .map(|r| r.item)
            .collect();
        assert_eq!(item_ids(&v), want, "user {user}");
        before.push(v);
    }
    let anonymous = server.request(
        "POST",
        "/v1/recommendations",
        Some(&body(&json!({"items": [items[4], items[5]], "k": 5}))),
    );
    assert_eq!(anonymous.status, 200);
    assert_eq!(item_ids(&json(&anonymous)).len(), 5);
    // An unknown user: a cold start, the recommendations of an empty state.
    let r = server.request("GET", "/v1/users/nobody/recommendations?k=5", None);
    assert_eq!(r.status, 200);
    assert_eq!(json(&r)["cold_start"], true);
    let empty = server.request(
        "POST",
        "/v1/recommendations",
        Some(&body(&json!({"items": [], "k": 5}))),
    );
    assert_eq!(item_ids(&json(&r)), item_ids(&json(&empty)));
    assert!(before.iter().all(|v| v.get("cold_start").is_none()));

    // Restart on the same store: the same answers.
    server.stop();
    let server = Server::start(&model, &store, Access::default());
    for (user, want) in [users[0].as_str(), "new-user", users[1].as_str()]
        .into_iter()
        .zip(&before)
    {
        let r = server.request(
            "GET",
            &format!("/v1/users/{user}/recommendations?k=7&exclude_seen=true"),
            None,
        );
        assert_eq!(&json(&r), want, "user {user} after a restart");
    }

    // Reload swaps in the (same) model: users are rebuilt from the store
    // when first used, so nothing changes.
    let r = server.request("POST", "/v1/admin/reload", None);
    assert_eq!(r.status, 200, "{:?}", json(&r));
    assert_eq!(json(&r)["log_position"], 0);
    let r = server.request(
        "GET",
        "/v1/users/new-user/recommendations?k=7&exclude_seen=true",
        None,
    );
    assert_eq!(json(&r), before[1]);

    // Deleting a user is durable.
    assert_eq!(
        server.request("DELETE", "/v1/users/new-user", None).status,
        200
    );
    let cold = |server: &Server, user: &str| {
        let r = server.request("GET", &format!("/v1/users/{user}/recommendations"), None);
        assert_eq!(r.status, 200);
        json(&r)["cold_start"] == true
    };
    assert!(cold(&server, "new-user"));
    assert_eq!(
        server.request("DELETE", "/v1/users/new-user", None).status,
        404
    );
    server.stop();
    let server = Server::start(&model, &store, Access::default());
    assert!(cold(&server, "new-user"));
    let metrics = server.request("GET", "/metrics", None);
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(text.contains("seqrec_events_stored 1"), "{text}");
    assert!(text.contains("seqrec_users 40"), "{text}");
    assert!(
        text.contains(
            "http_requests_total{method=\"GET\",route=\"/v1/users/{user}/recommendations\",code=\"200\"} 1"
        ),
        "{text}"
    );
}

#[test]
fn bad_input_gets_a_json_error_and_changes_nothing() {
    let (dir, model) = model_dir("pop");
    let (_, items) = known_ids(&model);
    let server = Server::start(&model, &dir.path().join("store"), Access::default());
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "POST",
            "/v1/events",
            b"{not json".to_vec(),
            400,
            "invalid-json",
        ),
        (
            "POST",
            "/v1/events",
            body(&json!({"events": [{"user": "u1", "item": items[0]}, {"user": "u1"}]})),
            422,
            "invalid-json",
        ),
        (
            "POST",
            "/v1/events",
            body(&json!({"events": [{"user": "u1", "item": 5}]})),
            422,
            "invalid-json",
        ),
        (
            "POST",
            "/v1/events",
            body(&json!({"events": [{"user": "", "item": items[0]}]})),
            422,
            "invalid-input",
        ),
        (
            "POST",
            "/v1/events",
            vec![b' '; 2 << 20],
            413,
            "body-too-large",
        ),
        (
            "POST",
            "/v1/recommendations",
            body(&json!({"items": [], "k": 1001})),
            400,
            "invalid-k",
        ),
        ("POST", "/v1/nowhere", b"{}".to_vec(), 404, "no-such-route"),
    ];
    for (method, path, payload, want, kind) in cases {
        let r = server.request(method, path, Some(&payload));
        assert_eq!(r.status, want, "{method} {path}");
        if want != 413 || !r.body.is_empty() {
            // An RFC 9457 problem document with a stable type.
            let v = json(&r);
            assert_eq!(r.header("content-type"), Some("application/problem+json"));
            assert_eq!(
                v["type"],
                format!("urn:seqrec:problem:{kind}"),
                "{method} {path}: {v}"
            );
            assert_eq!(v["status"], want);
            assert!(v["title"].is_string() && v["detail"].is_string(), "{v}");
            assert_eq!(v["error"], v["detail"]);
        }
    }
    for query in ["k=1001", "k=0", "k=many", "exclude_seen=maybe"] {
        let r = server.request(
            "GET",
            &format!("/v1/users/u1/recommendations?{query}"),
            None,
        );
        assert_eq!(r.status, 400, "{query}");
        assert!(json(&r)["error"].is_string());
    }
    // The rejected requests stored and applied nothing.
    let r = server.request("GET", "/v1/users/u1/recommendations", None);
    assert_eq!(json(&r)["cold_start"], true);
    let metrics =
        String::from_utf8_lossy(&server.request("GET", "/metrics", None).body).into_owned();
    assert!(metrics.contains("seqrec_events_stored 0"), "{metrics}");
}

#[test]
fn tokens_guard_events_and_admin_separately_and_optionally_reads() {
    let (dir, model) = model_dir("pop");
    let (_, items) = known_ids(&model);
    let events = body(&json!({"events": [{"user": "u1", "item": items[0]}]}));
    for auth_reads in [false, true] {
        let access = Access {
            events_token: Some("events-token".to_owned()),
            admin_token: Some("admin-token".to_owned()),
            auth_reads,
        };
        let store = dir.path().join(format!("store-{auth_reads}"));
        let server = Server::start(&model, &store, access);
        let call = |method: &str, path: &str, body: Option<&[u8]>, headers: &[(&str, &str)]| {
            request(server.addr, method, path, body, headers)
        };
        let post =
            |headers: &[(&str, &str)]| call("POST", "/v1/events", Some(&events), headers).status;
        let refused = call("POST", "/v1/events", Some(&events), &[]);
        assert_eq!(refused.status, 401);
        assert_eq!(
            refused.header("www-authenticate"),
            Some("Bearer realm=\"seqrec\"")
        );
        assert_eq!(post(&[("Authorization", "Bearer wrong-token!")]), 401);
        assert_eq!(post(&[("Authorization", "events-token")]), 401);
        assert_eq!(post(&[("Authorization", "Bearer events-token")]), 200);
        // The scheme's name in any case (RFC 7235).
        assert_eq!(post(&[("Authorization", "bearer events-token")]), 200);
        assert_eq!(post(&[("Authorization", "BEARER admin-token")]), 200);
        let read = |headers: &[(&str, &str)]| {
            call("GET", "/v1/users/u1/recommendations", None, headers).status
        };
        assert_eq!(read(&[]), if auth_reads { 401 } else { 200 });
        assert_eq!(read(&[("Authorization", "Bearer events-token")]), 200);
        assert_eq!(read(&[("Authorization", "Bearer admin-token")]), 200);
        // The events token grants no admin route.
        for (method, path) in [("POST", "/v1/admin/reload"), ("DELETE", "/v1/users/u1")] {
            let with = |token: &str| {
                call(
                    method,
                    path,
                    None,
                    &[("Authorization", &format!("Bearer {token}"))],
                )
                .status
            };
            assert_eq!(call(method, path, None, &[]).status, 401, "{path}");
            assert_eq!(with("events-token"), 401, "{path}");
            assert_eq!(with("admin-token"), 200, "{path}");
        }
        assert_eq!(server.request("GET", "/v1/health", None).status, 200);
    }
    // An events token alone: the admin routes are off, not open.
    let access = Access {
        events_token: Some("events-token".to_owned()),
        admin_token: None,
        auth_reads: false,
    };
    let server = Server::start(&model, &dir.path().join("store-events-only"), access);
    let r = request(
        server.addr,
        "POST",
        "/v1/admin/reload",
        None,
        &[("Authorization", "Bearer events-token")],
    );
    assert_eq!(r.status, 403, "{:?}", json(&r));
}

#[test]
fn reload_takes_no_body_or_json_and_remembers_the_model_it_loaded() {
    let (dir, model) = model_dir("pop");
    let other = dir.path().join("other-model");
    common::train_model("item-knn", &other);
    let store = dir.path().join("store");
    let server = Server::start(&model, &store, Access::default());
    let recorded = || seqrec_serve::recorded_model(&store).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recorded(), std::path::absolute(&model).ok());
    let method_served = || json(&server.request("GET", "/v1/health", None))["method"].clone();
    let reload = |body: Option<&[u8]>, headers: &[(&str, &str)]| {
        request(server.addr, "POST", "/v1/admin/reload", body, headers)
    };
    // A JSON body sent as text is refused, not read as "no body".
    let named = body(&json!({ "model": other }));
    let r = reload(Some(&named), &[("Content-Type", "text/plain")]);
    assert_eq!(r.status, 415, "{:?}", json(&r));
    assert_eq!(method_served(), "pop");
    // A model directory that does not load: the answer names no path.
    let missing = body(&json!({ "model": dir.path().join("nowhere") }));
    let r = reload(Some(&missing), &[]);
    assert_eq!(r.status, 422, "{:?}", json(&r));
    let message = json(&r)["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        !message.contains("nowhere") && !message.contains('/'),
        "{message}"
    );
    assert_eq!(method_served(), "pop");
    // JSON naming another model: served, and remembered by the next
    // reload without a body.
    let r = reload(
        Some(&named),
        &[("Content-Type", "application/json; charset=utf-8")],
    );
    assert_eq!(r.status, 200, "{:?}", json(&r));
    assert_eq!(method_served(), "item-knn");
    let r = reload(None, &[]);
    assert_eq!(r.status, 200, "{:?}", json(&r));
    assert_eq!(json(&r)["model"], other.display().to_string());
    assert_eq!(method_served(), "item-knn");
    // The store's directory records it, for a restart without --model.
    assert_eq!(recorded(), std::path::absolute(&other).ok());
}

/// Random bytes and random JSON at every route for a few seconds: every
/// answer is a well-formed response below 500, and the service still
/// answers afterwards.
#[test]
fn random_input_at_every_route_never_breaks_the_service() {
    let (dir, model) = model_dir("item-knn");
    let (_, items) = known_ids(&model);
    let server = Server::start(&model, &dir.path().join("store"), Access::default());
    let routes = [
        ("GET", "/v1/health"),
        ("POST", "/v1/events"),
        ("GET", "/v1/users/u1/recommendations?k=3"),
        ("GET", "/v1/users/%FF%00/recommendations"),
        ("DELETE", "/v1/users/u1"),
        ("POST", "/v1/recommendations"),
        ("POST", "/v1/admin/reload"),
        ("GET", "/metrics"),
        ("PUT", "/v1/events"),
    ];
    let mut rng = seqrec_core::SeqRng::new(99);
    let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
    let atoms = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e300),
        json!("x"),
        json!(items[0]),
        json!([]),
        json!({}),
    ];
    let started = std::time::Instant::now();
    let mut sent = 0;
    while started.elapsed().as_secs() < 5 && sent < 600 {
        let (method, path) = routes[pick(routes.len())];
        let payload: Vec<u8> = match pick(3) {
            0 => (0..pick(64)).map(|_| pick(256) as u8).collect(),
            1 => {
                let event = json!({
                    "user": atoms[pick(atoms.len())],
                    "item": atoms[pick(atoms.len())],
                    "timestamp": atoms[pick(atoms.len())],
                });
                body(
                    &json!({"events": [event], "items": atoms[pick(atoms.len())], "k": atoms[pick(atoms.len())]}),
                )
            }
            _ => body(
                &json!({"events": atoms[pick(atoms.len())], "model": atoms[pick(atoms.len())]}),
            ),
        };
        let r = server.request(method, path, Some(&payload));
        assert!(
            r.status < 500,
            "{method} {path}: {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        sent += 1;
    }
    assert!(sent > 50, "only {sent} requests in the time");
    assert_eq!(server.request("GET", "/v1/health", None).status, 200);
}
