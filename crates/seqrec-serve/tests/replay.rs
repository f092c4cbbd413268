//! State equals replay through the HTTP API, on real data (ml-100k), for
//! all nine methods: for every user, posting their validation and test
//! events one at a time to `POST /v1/events` and asking
//! `GET /v1/users/{user}/recommendations` after each gives the offline
//! scorer's top 20 at that position (scores within 1e-6; items whose
//! scores differ by rounding alone may trade places); a user with no new
//! events gets exactly `seqrec recommend`'s list. Users are replayed by
//! several client threads at once (each user's events in order), so reads
//! share scoring passes and events share commits, as under real load.
//! Models are small (few epochs) to keep CI time low.

mod common;

use common::{Server, json};
use seqrec_core::{ItemId, Part, Query, UserId};
use seqrec_data::{DatasetName, LoadRequest, load};
use seqrec_runner::model_dir::{self, Recommendation, TrainSpec};
use seqrec_runner::{Compute, Method};
use seqrec_serve::{Access, Start};
use serde_json::{Value, json};

const TOP: usize = 20;

/// Client threads replaying users at once.
const CLIENTS: usize = 8;

/// What one position of one user must answer.
struct Expected {
    /// The offline scores of the whole catalogue at that position.
    row: Vec<f32>,
    want: Vec<Recommendation>,
    /// The event that follows (original item id, timestamp).
    next: (String, i64),
}

/// `(item, score)` of a recommendation answer.
fn answer_items(v: &Value) -> Vec<(String, f32)> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {v}"))
        .iter()
        .map(|i| {
            (
                i["item"].as_str().unwrap_or_default().to_owned(),
                i["score"].as_f64().unwrap_or(f64::NAN) as f32,
            )
        })
        .collect()
}

fn recommendations(server: &Server, user: &str) -> Vec<(String, f32)> {
    let r = server.request(
        "GET",
        &format!("/v1/users/{user}/recommendations?k={TOP}"),
        None,
    );
    assert_eq!(r.status, 200, "user {user}: {:?}", json(&r));
    answer_items(&json(&r))
}

fn post_event(server: &Server, user: &str, item: &str, timestamp: Option<i64>) -> Value {
    let mut event = json!({"user": user, "item": item});
    if let Some(t) = timestamp {
        event["timestamp"] = json!(t);
    }
    let body = serde_json::to_vec(&json!({ "events": [event] })).unwrap_or_default();
    let r = server.request("POST", "/v1/events", Some(&body));
    assert_eq!(r.status, 200, "{:?}", json(&r));
    json(&r)
}

#[test]
fn online_state_through_http_equals_offline_replay_for_every_method() {
    let Some(data_dir) = seqrec_data::testing::movielens_data_dir() else {
        return;
    };
    let mut request = LoadRequest::new(&data_dir);
    request.cache_dir = None;
    let name = DatasetName::parse("ml-100k").unwrap_or_else(|e| panic!("{e}"));
    let data = load(&name, &request).unwrap_or_else(|e| panic!("{e}"));
    let titles = seqrec_data::read_titles(&name, &data_dir).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let methods = [
        "pop",
        "item-knn",
        "decay-knn",
        "bpr-mf",
        "seq-mf",
        "gru",
        "linear-user-gru",
        "rectified-user-gru",
        "attentional-user-gru",
    ];
    for method in methods {
        let method = Method::parse(method).unwrap_or_else(|e| panic!("{e}"));
        let mut spec = TrainSpec {
            method,
            gru: seqrec_models::GruParams {
                hidden: 16,
                lanes: 32,
                epochs: 1,
                ..Default::default()
            },
            baselines: Default::default(),
            seed: 7,
            compute: Compute::default(),
            cancel: Default::default(),
            log_position: None,
        };
        spec.baselines.bpr_mf.sgd.epochs = 2;
        spec.baselines.seq_mf.sgd.epochs = 2;
        let out = dir.path().join(method.name());
        model_dir::train(&spec, &data, &request.options, titles.as_ref(), &out, None)
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let open = || {
            let saved = model_dir::read_saved(&out).unwrap_or_else(|e| panic!("{e}"));
            model_dir::open(&out, saved, Compute::default()).unwrap_or_else(|e| panic!("{e}"))
        };
        let stores = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));

        // A training user with no new events: exactly `recommend`'s list.
        let loaded = open();
        let user = data.users.label(3).unwrap_or_default().into_owned();
        let offline = model_dir::recommend(
            loaded.scorer.as_scorer(),
            &loaded.data,
            &user,
            TOP,
            false,
            loaded.titles.as_ref(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let server = Server::start(&out, &stores.path().join("whole"), Access::default());
        let got = recommendations(&server, &user);
        let want: Vec<(String, f32)> = offline.iter().map(|r| (r.item.clone(), r.score)).collect();
        assert_eq!(got, want, "{method}: user {user} with no new events");
        server.stop();

        // The offline answer at every validation and test position.
        let reference = open();
        let scorer = reference.scorer.as_scorer();
        let split = &data.split;
        let items = scorer.catalogue_size();
        let mut expected: Vec<(String, Vec<Expected>)> = Vec::new();
        for u in 0..split.users() {
            let id = UserId(u as u32);
            let label = data.users.label(u).unwrap_or_default().into_owned();
            let sequence: &[ItemId] = split.sequences().items(id);
            let times = split.sequences().timestamps(id);
            let first = split.range(id, Part::Train).end;
            // All positions at once (the scorer runs a user's growing
            // histories as one pass, as the evaluator does).
            let queries: Vec<Query<'_>> = (first..sequence.len())
                .map(|p| Query {
                    user: id,
                    history: &sequence[..p],
                    times: &times[..p],
                })
                .collect();
            let mut offline = vec![0f32; queries.len() * items];
            scorer
                .score(&queries, &mut offline)
                .unwrap_or_else(|e| panic!("{e}"));
            let positions = (first..sequence.len())
                .zip(offline.chunks_exact(items))
                .map(|(p, row)| Expected {
                    row: row.to_vec(),
                    want: model_dir::top_items(
                        row,
                        &sequence[..p],
                        TOP,
                        false,
                        &data.items,
                        reference.titles.as_ref(),
                    ),
                    next: (
                        data.items
                            .label(sequence[p].index())
                            .unwrap_or_default()
                            .into_owned(),
                        times[p],
                    ),
                })
                .collect();
            expected.push((label, positions));
        }

        // Replayed through HTTP by several clients at once, each user's
        // events in order.
        let server = Server::start_from(
            &out,
            &stores.path().join("replay"),
            Access::default(),
            Start::TrainingHistory,
        );
        let checked: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..CLIENTS)
                .map(|client| {
                    let (server, expected, data) = (&server, &expected, &data);
                    scope.spawn(move || {
                        let mut checked = 0usize;
                        for (label, positions) in expected.iter().skip(client).step_by(CLIENTS) {
                            for (p, e) in positions.iter().enumerate() {
                                let got = recommendations(server, label);
                                // The same list; the one freedom is the order
                                // of items whose scores differ by float rounding
                                // alone (the online step and the offline replay
                                // sum in different orders): two items may trade
                                // places only when their offline scores are
                                // within 2e-6.
                                assert_eq!(got.len(), e.want.len(), "{method}: user {label} at {p}");
                                for ((item, score), b) in got.iter().zip(&e.want) {
                                    let index = data
                                        .items
                                        .find(item)
                                        .unwrap_or_else(|| panic!("{item}"));
                                    let offline = e.row[index];
                                    let theirs = e.row[data.items.find(&b.item).unwrap_or(index)];
                                    assert!(
                                        *item == b.item || (offline - theirs).abs() <= 2e-6,
                                        "{method}: user {label}, new event {p}: online {got:?}, offline {:?}",
                                        e.want
                                    );
                                    assert!(
                                        (score - offline).abs() <= 1e-6,
                                        "{method}: user {label}, new event {p}, item {item}: online {score}, offline {offline}"
                                    );
                                }
                                let applied = post_event(server, label, &e.next.0, Some(e.next.1));
                                assert_eq!(applied, json!({"accepted": 1, "duplicates": 0, "unknown_items": 0}));
                                checked += 1;
                            }
                        }
                        checked
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join()
                        .unwrap_or_else(|_| panic!("{method}: a client failed"))
                })
                .sum()
        });
        assert!(checked > 5000, "{method}: only {checked} positions");
        // Unknown items are counted and change nothing; new users work.
        let before = recommendations(&server, "1");
        let applied = post_event(&server, "1", "no-such-item", None);
        assert_eq!(
            applied,
            json!({"accepted": 1, "duplicates": 0, "unknown_items": 1})
        );
        post_event(&server, "new-user", "50", None);
        assert_eq!(recommendations(&server, "1"), before, "{method}");
        assert_eq!(recommendations(&server, "new-user").len(), TOP, "{method}");
        // An unknown user: the recommendations of an empty state, flagged.
        let r = server.request("GET", "/v1/users/nobody/recommendations", None);
        assert_eq!(r.status, 200, "{method}");
        assert_eq!(json(&r)["cold_start"], true, "{method}");
        let empty = server.request(
            "POST",
            "/v1/recommendations",
            Some(json!({"items": [], "k": TOP}).to_string().as_bytes()),
        );
        // Items only: an empty history gives the kNN methods no neighbour
        // to score by (every score is ln 0, written as null).
        let ids =
            |v: &Value| -> Vec<String> { answer_items(v).into_iter().map(|(i, _)| i).collect() };
        assert_eq!(ids(&json(&r)), ids(&json(&empty)), "{method}");
        // Reads shared scoring passes: the metrics saw passes of several.
        let metrics = server.request("GET", "/metrics", None);
        let text = String::from_utf8_lossy(&metrics.body).into_owned();
        let single = metric(&text, "seqrec_read_batch_requests_bucket{le=\"1.0\"}");
        let passes = metric(&text, "seqrec_read_batch_requests_count");
        assert!(
            passes > 0.0 && single < passes,
            "{method}: every one of {passes} scoring passes had one read"
        );
        server.stop();
    }
}

/// The value of the metric line starting with `name`.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}
