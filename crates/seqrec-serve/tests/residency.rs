//! Memory as a cache over the event log: a bound on the users kept in
//! memory changes no answer, a start applies no stored event up front,
//! a model trained on an export of the log applies only the events after
//! its position, and events written while a reload builds are counted
//! once.

mod common;

use common::{Server, json, post_events as post, top_unseen as top};
use seqrec_serve::{Access, Event, EventStore, OnlineModel, ServiceOptions, Start, load_model};
use serde_json::Value;

fn user_count(server: &Server) -> u64 {
    let r = server.request("GET", "/v1/health", None);
    json(&r)["users"]
        .as_u64()
        .unwrap_or_else(|| panic!("{:?}", json(&r)))
}

/// Events of data users and new users, interleaved: `rounds` each.
fn events(model: &std::path::Path, rounds: usize) -> (Vec<String>, Vec<(String, String)>) {
    let (data_users, items) = common::known_ids(model);
    let mut users: Vec<String> = data_users.into_iter().take(3).collect();
    users.extend(["new-a", "new-b", "new-c"].map(str::to_owned));
    let events = (0..rounds * users.len())
        .map(|n| {
            (
                users[n % users.len()].clone(),
                items[(n * 7) % items.len()].clone(),
            )
        })
        .collect();
    (users, events)
}

#[test]
fn a_bound_on_users_in_memory_changes_no_answer() {
    let (dir, model) = common::model_dir("gru");
    let (users, events) = events(&model, 4);
    let free = Server::start(&model, &dir.path().join("free"), Access::default());
    let bounded = Server::start_with(
        &model,
        &dir.path().join("bounded"),
        Access::default(),
        Start::WholeHistory,
        &ServiceOptions {
            max_resident_users: Some(2),
            ..ServiceOptions::default()
        },
    );
    // One event per request, reads in between: users leave memory and come
    // back many times on the bounded service.
    for (n, event) in events.iter().enumerate() {
        for server in [&free, &bounded] {
            post(server, std::slice::from_ref(event));
        }
        if n % 4 == 3 {
            let user = &users[(n * 5) % users.len()];
            assert_eq!(top(&free, user), top(&bounded, user), "{user} after {n}");
        }
    }
    for user in &users {
        assert_eq!(top(&free, user), top(&bounded, user), "{user}");
    }
    let (resident, evictions) = bounded
        .app
        .service
        .with_model(|m| (m.resident_users(), m.evictions()));
    assert!(resident <= 2, "{resident} users in memory");
    assert!(evictions > 10, "only {evictions} evictions");
    assert_eq!(user_count(&free), user_count(&bounded));
}

#[test]
fn a_start_applies_no_stored_event_up_front() {
    let (dir, model) = common::model_dir("gru");
    let store = dir.path().join("store");
    let (users, events) = events(&model, 3);
    let server = Server::start(&model, &store, Access::default());
    post(&server, &events);
    let before: Vec<Value> = users.iter().map(|u| top(&server, u)).collect();
    let count = user_count(&server);
    server.stop();
    let loaded = load_model(&model).unwrap_or_else(|e| panic!("{e}"));
    let opened = EventStore::open(&store).unwrap_or_else(|e| panic!("{e}"));
    // Without a snapshot (tests/snapshots.rs has those).
    let options = ServiceOptions {
        snapshots: false,
        ..ServiceOptions::default()
    };
    let (service, started) =
        seqrec_serve::Service::start_with(loaded, opened, Start::WholeHistory, &options)
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((started.resident_users, started.replayed), (0, 0));
    assert_eq!(service.with_model(|m| m.resident_users()), 0);
    drop(service);
    let server = Server::start(&model, &store, Access::default());
    assert_eq!(user_count(&server), count);
    let after: Vec<Value> = users.iter().map(|u| top(&server, u)).collect();
    assert_eq!(before, after);
}

#[test]
fn a_model_trained_up_to_a_log_position_applies_only_the_later_events() {
    let (dir, model) = common::model_dir("pop");
    let (_, items) = common::known_ids(&model);
    let mut store = EventStore::open(&dir.path().join("store")).unwrap_or_else(|e| panic!("{e}"));
    // x: three events (0, 1, 3); y: one (2), before the position.
    store
        .append(&[
            Event::new("x", items[0].clone(), None),
            Event::new("x", items[1].clone(), None),
            Event::new("y", items[2].clone(), None),
            Event::new("x", items[3].clone(), None),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut loaded = load_model(&model).unwrap_or_else(|e| panic!("{e}"));
    loaded.saved.log_position = Some(3);
    let data_users = loaded.data.users.len();
    let mut online = OnlineModel::over_log(loaded, Start::WholeHistory, store.log(), None)
        .unwrap_or_else(|e| panic!("{e}"));
    // y's only event is in the model's data (were it kept there): not a
    // user created online.
    assert_eq!(online.user_count(), data_users + 1);
    assert!(!online.has_user("y").unwrap_or_else(|e| panic!("{e}")));
    let got = online
        .recommend("x", 20, true)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut expected = OnlineModel::new(
        load_model(&model).unwrap_or_else(|e| panic!("{e}")),
        Start::WholeHistory,
    );
    expected
        .apply(&[Event::new("x", items[3].clone(), None)])
        .unwrap_or_else(|e| panic!("{e}"));
    let want = expected
        .recommend("x", 20, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, want);
    // Only item 3 is excluded as seen: items 0 and 1 may be recommended.
    let ids: Vec<&str> = got.items.iter().map(|r| r.item.as_str()).collect();
    assert!(!ids.contains(&items[3].as_str()));
    assert!(ids.contains(&items[0].as_str()) || ids.contains(&items[1].as_str()));
}

#[test]
fn events_written_while_reloads_build_are_counted_once() {
    let (dir, model) = common::model_dir("gru");
    let store = dir.path().join("store");
    let (users, events) = events(&model, 6);
    let server = std::sync::Arc::new(Server::start(&model, &store, Access::default()));
    let writer = {
        let server = std::sync::Arc::clone(&server);
        let events = events.clone();
        std::thread::spawn(move || {
            for event in &events {
                post(&server, std::slice::from_ref(event));
            }
        })
    };
    let mut swapped = 0;
    while !writer.is_finished() {
        let r = server.request("POST", "/v1/admin/reload", None);
        match r.status {
            200 => swapped += 1,
            // Another reload still building.
            409 => {}
            other => panic!("reload: {other} {:?}", json(&r)),
        }
    }
    writer
        .join()
        .unwrap_or_else(|_| panic!("the writer panicked"));
    assert!(swapped > 0);
    let live: Vec<Value> = users.iter().map(|u| top(&server, u)).collect();
    let count = user_count(&server);
    match std::sync::Arc::try_unwrap(server) {
        Ok(server) => server.stop(),
        Err(_) => panic!("the server is still shared"),
    }
    let fresh = Server::start(&model, &store, Access::default());
    assert_eq!(user_count(&fresh), count);
    let replayed: Vec<Value> = users.iter().map(|u| top(&fresh, u)).collect();
    assert_eq!(live, replayed);
}

#[test]
fn preloading_every_user_in_batched_rounds_equals_rebuilding_them_one_by_one() {
    let (dir, model) = common::model_dir("gru");
    let store = dir.path().join("store");
    let (users, events) = events(&model, 4);
    let server = Server::start(&model, &store, Access::default());
    post(&server, &events);
    server.stop();
    let opened = EventStore::open(&store).unwrap_or_else(|e| panic!("{e}"));
    let open = || {
        let loaded = load_model(&model).unwrap_or_else(|e| panic!("{e}"));
        OnlineModel::over_log(loaded, Start::WholeHistory, opened.log(), None)
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let (mut lazy, mut preloaded) = (open(), open());
    let applied = preloaded.preload().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(applied.accepted, events.len());
    // Every user with stored events is in memory now (the data's others are not).
    assert_eq!(preloaded.resident_users(), users.len());
    for user in &users {
        let want = lazy
            .recommend(user, 10, true)
            .unwrap_or_else(|e| panic!("{e}"));
        let got = preloaded
            .recommend(user, 10, true)
            .unwrap_or_else(|e| panic!("{e}"));
        let ids = |r: &seqrec_serve::UserRecommendations| -> Vec<String> {
            r.items.iter().map(|i| i.item.clone()).collect()
        };
        assert_eq!(ids(&got), ids(&want), "{user}");
        for (g, w) in got.items.iter().zip(&want.items) {
            assert!(
                (g.score - w.score).abs() <= 1e-5 * w.score.abs().max(1.0),
                "{user}: {g:?} {w:?}"
            );
        }
    }
}

#[test]
fn writes_and_reads_go_on_while_a_reload_builds() {
    let (dir, model) = common::model_dir("gru");
    let store = dir.path().join("store");
    let (users, events) = events(&model, 4);
    let server = std::sync::Arc::new(Server::start(&model, &store, Access::default()));
    let (first, rest) = events.split_at(events.len() / 2);
    post(&server, first);
    let held = server.app.service.hold_reloads();
    let reload = {
        let server = std::sync::Arc::clone(&server);
        std::thread::spawn(move || server.request("POST", "/v1/admin/reload", None).status)
    };
    // The reload is building (held at the gate): a second one is refused,
    // and every write and read is answered meanwhile.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while held.waiting() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the reload never began to build"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let r = server.request("POST", "/v1/admin/reload", None);
    assert_eq!(r.status, 409, "{:?}", r.json());
    for event in rest {
        post(&server, std::slice::from_ref(event));
    }
    let during: Vec<Value> = users.iter().map(|u| top(&server, u)).collect();
    assert!(
        !reload.is_finished(),
        "the reload did not wait for the gate"
    );
    drop(held);
    assert_eq!(reload.join().unwrap_or(0), 200);
    // Swapped in with what was written meanwhile, each event once.
    let after: Vec<Value> = users.iter().map(|u| top(&server, u)).collect();
    assert_eq!(after, during);
    let count = user_count(&server);
    match std::sync::Arc::try_unwrap(server) {
        Ok(server) => server.stop(),
        Err(_) => panic!("the server is still shared"),
    }
    let fresh = Server::start(&model, &store, Access::default());
    assert_eq!(user_count(&fresh), count);
    let replayed: Vec<Value> = users.iter().map(|u| top(&fresh, u)).collect();
    assert_eq!(replayed, after);
}
