//! Requests that would cost the service more than they are worth are
//! refused with a clear 422 before any work: an anonymous sequence longer
//! than the cap (each item is a GRU step), ids longer than the cap (kept
//! in memory and in the store for every event). Nothing is stored.

mod common;

use common::{Server, json};
use seqrec_serve::http::MAX_ID_BYTES;
use seqrec_serve::{Access, MAX_ANONYMOUS_ITEMS, load_model};
use serde_json::json;

#[test]
fn anonymous_sequences_and_ids_have_limits() {
    let (dir, model) = common::model_dir("gru");
    let item = load_model(&model)
        .unwrap_or_else(|e| panic!("{e}"))
        .data
        .items
        .label(0)
        .unwrap_or_else(|| panic!("no items"))
        .into_owned();
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
    assert_eq!(r.status, 404, "{:?}", json(&r));
    let exact = "v".repeat(MAX_ID_BYTES);
    let body = json!({ "events": [{ "user": exact, "item": item }] });
    let r = server.request("POST", "/v1/events", Some(body.to_string().as_bytes()));
    assert_eq!(r.status, 200, "{:?}", json(&r));
}
