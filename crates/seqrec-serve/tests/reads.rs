//! What a reader can ask for beyond a plain top k: items left out on
//! request, and many users in one batch read, each answered as a single
//! read would be (an unknown user as a cold start); and a write repeated
//! with the same event id is applied once.

mod common;

use common::{Server, item_ids, json, known_ids, model_dir};
use seqrec_serve::Access;
use serde_json::{Value, json};

fn get(server: &Server, path: &str) -> Value {
    let r = server.request("GET", path, None);
    assert_eq!(r.status, 200, "{path}: {:?}", json(&r));
    json(&r)
}

#[test]
fn excluded_items_are_left_out_and_the_next_ones_move_up() {
    let (dir, model) = model_dir("gru");
    let (users, _) = known_ids(&model);
    let server = Server::start(&model, &dir.path().join("store"), Access::default());
    let user = &users[0];
    let seven = item_ids(&get(
        &server,
        &format!("/v1/users/{user}/recommendations?k=7"),
    ));
    let excluded = [
        seven[0].clone(),
        seven[3].clone(),
        "no-such-item".to_owned(),
    ];
    let path = format!(
        "/v1/users/{user}/recommendations?k=5&exclude={}",
        excluded.join(",")
    );
    let want: Vec<String> = seven
        .iter()
        .filter(|i| !excluded.contains(i))
        .take(5)
        .cloned()
        .collect();
    assert_eq!(item_ids(&get(&server, &path)), want);
    let too_many = vec!["1"; 1001].join(",");
    let r = server.request(
        "GET",
        &format!("/v1/users/{user}/recommendations?exclude={too_many}"),
        None,
    );
    assert_eq!(r.status, 422, "{:?}", json(&r));
}

#[test]
fn a_batch_read_answers_each_user_as_a_single_read_would() {
    let (dir, model) = model_dir("gru");
    let (users, items) = known_ids(&model);
    let server = Server::start(&model, &dir.path().join("store"), Access::default());
    let events = json!({"events": [
        {"user": "visitor", "item": items[2]},
        {"user": users[1], "item": items[3]},
    ]});
    let r = server.request("POST", "/v1/events", Some(events.to_string().as_bytes()));
    assert_eq!(r.status, 200);
    let asked = [users[0].as_str(), "visitor", "stranger", users[1].as_str()];
    let batch = json!({"users": asked, "k": 6, "exclude_seen": true});
    let r = server.request(
        "POST",
        "/v1/recommendations:batch",
        Some(batch.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{:?}", json(&r));
    let results = json(&r)["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), asked.len());
    for (user, result) in asked.iter().zip(&results) {
        let single = get(
            &server,
            &format!("/v1/users/{user}/recommendations?k=6&exclude_seen=true"),
        );
        // Scored in a pass of four rather than one: the same items, scores
        // equal up to the rounding of a product of another shape.
        assert_eq!(item_ids(result), item_ids(&single), "{user}");
        assert_eq!(result["user"], single["user"]);
        assert_eq!(result.get("cold_start"), single.get("cold_start"), "{user}");
        let scores = |v: &Value| -> Vec<f64> {
            v["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| i["score"].as_f64().unwrap_or(f64::NAN))
                .collect()
        };
        for (a, b) in scores(result).iter().zip(scores(&single)) {
            assert!((a - b).abs() <= 1e-6, "{user}: {a} vs {b}");
        }
    }
    assert_eq!(results[2]["cold_start"], true);
    for bad in [json!({"users": []}), json!({"users": vec!["u"; 1001]})] {
        let r = server.request(
            "POST",
            "/v1/recommendations:batch",
            Some(bad.to_string().as_bytes()),
        );
        assert_eq!(r.status, 422, "{:?}", json(&r));
    }
}

#[test]
fn a_repeated_event_id_is_answered_but_stored_and_applied_once() {
    let (dir, model) = model_dir("gru");
    let (_, items) = known_ids(&model);
    let store = dir.path().join("store");
    let post = |server: &Server, events: Value| {
        let body = json!({ "events": events });
        let r = server.request("POST", "/v1/events", Some(body.to_string().as_bytes()));
        assert_eq!(r.status, 200, "{:?}", json(&r));
        json(&r)
    };
    let server = Server::start(&model, &store, Access::default());
    let first = json!([
        {"user": "ann", "item": items[1], "event_id": "e1"},
        {"user": "ann", "item": items[2], "event_id": "e2"},
    ]);
    assert_eq!(
        post(&server, first.clone()),
        json!({"accepted": 2, "duplicates": 0, "unknown_items": 0})
    );
    let once = get(&server, "/v1/users/ann/recommendations?k=8");
    // A retry of the whole request, and a repeat inside one request: the
    // same id of another user is not a repeat.
    assert_eq!(
        post(&server, first),
        json!({"accepted": 0, "duplicates": 2, "unknown_items": 0})
    );
    let again = json!([
        {"user": "ann", "item": items[3], "event_id": "e3"},
        {"user": "ann", "item": items[3], "event_id": "e3"},
        {"user": "bob", "item": items[3], "event_id": "e3"},
    ]);
    assert_eq!(
        post(&server, again),
        json!({"accepted": 2, "duplicates": 1, "unknown_items": 0})
    );
    let metrics = server.app.service.metrics.render(&Default::default());
    assert!(metrics.contains("seqrec_events_stored 4"), "{metrics}");
    let after = get(&server, "/v1/users/ann/recommendations?k=8");
    server.stop();
    // Ids outlive a restart.
    let server = Server::start(&model, &store, Access::default());
    assert_eq!(get(&server, "/v1/users/ann/recommendations?k=8"), after);
    assert_eq!(
        post(
            &server,
            json!([{"user": "ann", "item": items[1], "event_id": "e1"}])
        ),
        json!({"accepted": 0, "duplicates": 1, "unknown_items": 0})
    );
    assert_ne!(once, after, "e3 moved ann's state");
    // Deleting a user forgets their ids: the same id is new again.
    assert_eq!(server.request("DELETE", "/v1/users/ann", None).status, 200);
    assert_eq!(
        post(
            &server,
            json!([{"user": "ann", "item": items[1], "event_id": "e1"}])
        ),
        json!({"accepted": 1, "duplicates": 0, "unknown_items": 0})
    );
}

#[test]
fn every_recommendation_names_the_model_version_that_ranked_it() {
    let (dir, model) = model_dir("pop");
    let other = dir.path().join("other");
    common::train_model("item-knn", &other);
    let (users, items) = known_ids(&model);
    let version = |dir: &std::path::Path| {
        seqrec_serve::load_model(dir)
            .unwrap_or_else(|e| panic!("{e}"))
            .version
    };
    let (first, second) = (version(&model), version(&other));
    assert_eq!(first.len(), 16, "{first}");
    assert_ne!(first, second);
    let server = Server::start(&model, &dir.path().join("store"), Access::default());
    let versions = |server: &Server| {
        let single = get(server, &format!("/v1/users/{}/recommendations", users[0]));
        let cold = get(server, "/v1/users/nobody/recommendations");
        let batch = {
            let body = json!({"users": [users[0], "nobody"]}).to_string();
            let r = server.request("POST", "/v1/recommendations:batch", Some(body.as_bytes()));
            json(&r)
        };
        let anonymous = {
            let body = json!({"items": [items[0]]}).to_string();
            json(&server.request("POST", "/v1/recommendations", Some(body.as_bytes())))
        };
        [
            single["model_version"].clone(),
            cold["model_version"].clone(),
            batch["results"][0]["model_version"].clone(),
            batch["results"][1]["model_version"].clone(),
            anonymous["model_version"].clone(),
        ]
    };
    assert!(
        versions(&server).iter().all(|v| v == &json!(first)),
        "{:?}",
        versions(&server)
    );
    let body = json!({"model": other}).to_string();
    let r = server.request("POST", "/v1/admin/reload", Some(body.as_bytes()));
    assert_eq!(r.status, 200, "{:?}", json(&r));
    assert!(
        versions(&server).iter().all(|v| v == &json!(second)),
        "{:?}",
        versions(&server)
    );
}
