//! `seqrec serve` as a process: after `kill -9` and a restart every
//! accepted event is there and every user's recommendations are what they
//! were; SIGTERM shuts down cleanly; a bad model directory is one clear
//! error; a public address without a token is refused.

mod common;

use common::{assert_fails_with, assert_ok, generate_ml10m, seqrec};
use seqrec_serve::testing::{Response, request};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};

/// Starts `seqrec serve` on a free port; returns the child and its address.
fn start(model: &Path, store: &Path) -> (Child, SocketAddr) {
    common::start_serve(&[
        "--model".into(),
        model.into(),
        "--store".into(),
        store.into(),
    ])
}

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Response {
    let bytes = body.map(|b| serde_json::to_vec(b).expect("json"));
    request(addr, method, path, bytes.as_deref(), &[]).expect("a response")
}

fn recommendations(addr: SocketAddr, user: &str) -> Value {
    let r = call(
        addr,
        "GET",
        &format!("/v1/users/{user}/recommendations?k=10"),
        None,
    );
    assert_eq!(r.status, 200, "user {user}");
    r.json().expect("json")
}

#[test]
fn accepted_events_survive_kill_9_and_sigterm_is_graceful() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (root, cache) = (dir.path().join("data"), dir.path().join("cache"));
    generate_ml10m(&root, 60, 3000, &cache);
    let config = dir.path().join("settings.toml");
    std::fs::write(&config, "[gru]\nhidden = 8\nlanes = 8\nepochs = 1\n").expect("config");
    let model = dir.path().join("model");
    assert_ok(&seqrec(
        &[
            "--data-dir",
            &root.to_string_lossy(),
            "train",
            "--dataset",
            "ml-10m",
            "--method",
            "gru",
            "--config",
            &config.to_string_lossy(),
            "--out",
            &model.to_string_lossy(),
        ],
        &cache,
    ));
    let store = dir.path().join("store");
    let (mut server, addr) = start(&model, &store);
    let health = call(addr, "GET", "/v1/health", None);
    assert_eq!(health.status, 200);
    let items: Vec<String> = recommendations(addr, "5")["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["item"].as_str().unwrap_or_default().to_owned())
        .collect();
    // One event per request, as a website would send them.
    for (k, item) in items.iter().enumerate() {
        for user in ["5", "visitor"] {
            let r = call(
                addr,
                "POST",
                "/v1/events",
                Some(&json!({"events": [{"user": user, "item": item, "timestamp": 1_000 + k}]})),
            );
            assert_eq!(r.status, 200);
        }
    }
    let before: Vec<Value> = ["5", "visitor", "7"]
        .iter()
        .map(|u| recommendations(addr, u))
        .collect();
    server.kill().expect("kill -9");
    server.wait().expect("killed");

    let (mut server, addr) = start(&model, &store);
    let after: Vec<Value> = ["5", "visitor", "7"]
        .iter()
        .map(|u| recommendations(addr, u))
        .collect();
    assert_eq!(after, before, "recommendations after kill -9 and a restart");
    let metrics = call(addr, "GET", "/metrics", None);
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let stored = format!("seqrec_events_stored {}", 2 * items.len());
    assert!(text.contains(&stored), "{stored} in {text}");

    // SIGTERM: a clean exit.
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = server.wait().expect("exit");
    assert!(exit.success(), "SIGTERM exit: {exit:?}");

    // The store's directory records the model served, for a restart
    // without --model; a store that records none needs --model.
    assert_eq!(
        seqrec_serve::recorded_model(&store).expect("serving.json"),
        std::path::absolute(&model).ok()
    );
    let empty = dir.path().join("empty-store");
    let out = seqrec(&["serve", "--store", &empty.to_string_lossy()], &cache);
    assert_fails_with(&out, "records no model served");

    // A directory that is not a model: one clear error.
    let out = seqrec(
        &[
            "serve",
            "--model",
            &dir.path().join("nothing").to_string_lossy(),
        ],
        &cache,
    );
    assert_fails_with(&out, "nothing");

    // A public address without a token is refused before anything loads;
    // --insecure-no-auth lets it through (to the model check here).
    let public = |extra: &[&str]| {
        let mut args = vec!["serve", "--model", "no-such-model", "--addr", "0.0.0.0:0"];
        args.extend_from_slice(extra);
        seqrec(&args, &cache)
    };
    assert_fails_with(
        &public(&[]),
        "0.0.0.0:0 is not a loopback address and no token is set",
    );
    assert_fails_with(&public(&["--insecure-no-auth"]), "no-such-model");
    let token = dir.path().join("token");
    std::fs::write(&token, "a-token\n").expect("token file");
    let with_token = public(&["--admin-token-file", &token.to_string_lossy()]);
    assert_fails_with(&with_token, "no-such-model");
    assert_fails_with(
        &public(&["--auth-reads", "--insecure-no-auth"]),
        "--auth-reads needs a token",
    );

    // A model directory holding an older seqrec's store, no --store: a
    // clear refusal instead of users silently starting over.
    let old_model = dir.path().join("old-model");
    std::fs::create_dir_all(old_model.join("events")).expect("old store dir");
    std::fs::write(old_model.join("events/events.redb"), b"").expect("old store");
    let fresh = dir.path().join("fresh-store");
    let out = seqrec(
        &[
            "serve",
            "--model",
            &old_model.to_string_lossy(),
            "--store",
            &fresh.to_string_lossy(),
        ],
        &cache,
    );
    assert_fails_with(&out, "Pass --store");
    assert!(!fresh.exists(), "nothing is created when refusing");
}
