//! Users partitioned over three `seqrec serve` replicas on loopback, a
//! client routing each user to its owner with the service's own hash; one
//! replica killed with `kill -9` and restarted: nothing acknowledged is
//! lost. Then the retraining loop: a replica's store exported, a model
//! trained on the export, served over the same store: the exported events
//! are in the model's data and are not applied a second time.

mod common;

use common::{assert_ok, generate_ml10m, seqrec};
use seqrec_serve::partition::Partition;
use seqrec_serve::testing::{Response, request};
use seqrec_serve::{OnlineModel, Start, load_model};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;

fn start(model: &Path, store: &Path, partition: &str) -> (Child, SocketAddr) {
    common::start_serve(&[
        "--model".into(),
        model.into(),
        "--store".into(),
        store.into(),
        "--partition".into(),
        partition.into(),
    ])
}

fn call(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Response {
    let bytes = body.map(|b| serde_json::to_vec(b).expect("json"));
    request(addr, method, path, bytes.as_deref(), &[]).expect("a response")
}

fn top(addr: SocketAddr, user: &str) -> Value {
    let r = call(
        addr,
        "GET",
        &format!("/v1/users/{user}/recommendations?k=10"),
        None,
    );
    assert_eq!(r.status, 200, "{user}: {:?}", r.json());
    let mut v = r.json().expect("json");
    v.as_object_mut().map(|o| o.remove("model_version"));
    v
}

#[test]
fn three_partitions_survive_kill_9_and_an_export_trains_a_model_that_counts_nothing_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (root, cache) = (dir.path().join("data"), dir.path().join("cache"));
    generate_ml10m(&root, 60, 3000, &cache);
    let model = dir.path().join("model");
    let train = |dataset: &str, method: &str, out: &Path| {
        assert_ok(&seqrec(
            &[
                "--data-dir",
                &root.to_string_lossy(),
                "train",
                "--dataset",
                dataset,
                "--method",
                method,
                "--out",
                &out.to_string_lossy(),
            ],
            &cache,
        ));
    };
    train("ml-10m", "item-knn", &model);
    let items: Vec<String> = {
        let loaded = load_model(&model).expect("model");
        (0..20)
            .map(|i| loaded.data.items.label(i).expect("item").into_owned())
            .collect()
    };
    let stores: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("store-{i}")))
        .collect();
    let mut replicas: Vec<(Child, SocketAddr)> = (0..3)
        .map(|i| start(&model, &stores[i], &format!("{i}/3")))
        .collect();
    let owner = |user: &str| Partition { index: 0, count: 3 }.owner_of(user) as usize;
    let users: Vec<String> = (0..24).map(|n| format!("visitor-{n}")).collect();
    let mut acknowledged = [0u64; 3];
    for round in 0..8 {
        for (n, user) in users.iter().enumerate() {
            let item = &items[(n * 3 + round * 7) % items.len()];
            let body =
                json!({"events": [{"user": user, "item": item, "timestamp": 1_000 + round}]});
            let i = owner(user);
            let r = call(replicas[i].1, "POST", "/v1/events", Some(&body));
            assert_eq!(r.status, 200, "{user}: {:?}", r.json());
            acknowledged[i] += 1;
        }
    }
    assert!(acknowledged.iter().all(|&n| n > 0), "{acknowledged:?}");
    // A request sent to the wrong replica: 421 naming the owner.
    let user = &users[0];
    let wrong = (owner(user) + 1) % 3;
    let r = call(
        replicas[wrong].1,
        "GET",
        &format!("/v1/users/{user}/recommendations"),
        None,
    );
    assert_eq!(r.status, 421, "{:?}", r.json());
    assert_eq!(r.json().expect("json")["owner"], owner(user));
    let before: Vec<Value> = users.iter().map(|u| top(replicas[owner(u)].1, u)).collect();

    // kill -9 one replica and start it again on its store.
    let victim = owner(&users[1]);
    replicas[victim].0.kill().expect("kill -9");
    replicas[victim].0.wait().expect("killed");
    replicas[victim] = start(&model, &stores[victim], &format!("{victim}/3"));
    let after: Vec<Value> = users.iter().map(|u| top(replicas[owner(u)].1, u)).collect();
    assert_eq!(after, before);
    for (i, (child, addr)) in replicas.iter_mut().enumerate() {
        let health = call(*addr, "GET", "/metrics", None);
        let text = String::from_utf8_lossy(&health.body).into_owned();
        assert!(
            text.contains(&format!("seqrec_events_stored {}", acknowledged[i])),
            "replica {i}: {acknowledged:?}\n{text}"
        );
        child.kill().expect("stop");
        child.wait().expect("stopped");
    }

    // The retraining loop on replica 0's store: export, train, serve.
    let table = dir.path().join("export.csv");
    assert_ok(&seqrec(
        &[
            "serve",
            "export",
            "--store",
            &stores[0].to_string_lossy(),
            "--out",
            &table.to_string_lossy(),
        ],
        &cache,
    ));
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("export.csv.export.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(manifest["events"], acknowledged[0]);
    let retrained = dir.path().join("retrained");
    train(&table.to_string_lossy(), "item-knn", &retrained);
    let loaded = load_model(&retrained).expect("retrained model");
    assert_eq!(loaded.saved.log_position, manifest["log_position"].as_u64());
    let data_users = loaded.data.users.len();
    let mut offline = OnlineModel::new(loaded, Start::WholeHistory);
    let (mut server, addr) = start(&retrained, &stores[0], "0/3");
    // Every stored event is in the model's data: the users are as the
    // data leaves them, none counted or applied again.
    let health = call(addr, "GET", "/v1/health", None).json().expect("json");
    assert_eq!(health["users"], data_users);
    for user in users.iter().filter(|u| owner(u) == 0) {
        let want = offline.recommend(user, 10, false).expect("offline");
        let got = top(addr, user);
        let got_items: Vec<&str> = got["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["item"].as_str().unwrap_or_default())
            .collect();
        let want_items: Vec<&str> = want.items.iter().map(|r| r.item.as_str()).collect();
        assert_eq!(got_items, want_items, "{user}");
    }
    let before: Vec<Value> = users
        .iter()
        .filter(|u| owner(u) == 0)
        .map(|u| top(addr, u))
        .collect();
    server.kill().expect("stop");
    server.wait().expect("stopped");

    // Retention: the events the retrained model's data holds may go, no
    // further; its users are unchanged.
    let position = manifest["log_position"].as_u64().expect("a position");
    let prune = |before: u64| {
        seqrec(
            &[
                "serve",
                "prune",
                "--store",
                &stores[0].to_string_lossy(),
                "--before",
                &before.to_string(),
                "--model",
                &retrained.to_string_lossy(),
            ],
            &cache,
        )
    };
    let refused = prune(position + 1);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("passes the log position"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_ok(&prune(position));
    let (mut server, addr) = start(&retrained, &stores[0], "0/3");
    let after: Vec<Value> = users
        .iter()
        .filter(|u| owner(u) == 0)
        .map(|u| top(addr, u))
        .collect();
    assert_eq!(after, before);
    // Every event was below the position: the store is empty now.
    let metrics = call(addr, "GET", "/metrics", None);
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(text.contains("seqrec_events_stored 0"), "{text}");
    server.kill().expect("stop");
    server.wait().expect("stopped");
}
