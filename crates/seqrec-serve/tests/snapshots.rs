//! Snapshots: a start loads the newest snapshot of the model served and
//! applies only the log after it; what it gives equals a start without
//! one (users rebuilt from the log), after a clean stop, after a crash
//! that left events past the snapshot, after a deletion, and with a
//! damaged file (skipped).

mod common;

use common::{Server, post_events as post, top_unseen as top};
use seqrec_serve::{Access, Event, EventStore, Service, ServiceOptions, Start, load_model};
use serde_json::Value;
use std::path::Path;

fn options(snapshots: bool) -> ServiceOptions {
    ServiceOptions {
        snapshot_every: Some(5),
        snapshots,
        ..ServiceOptions::default()
    }
}

fn server(model: &Path, store: &Path, snapshots: bool) -> Server {
    Server::start_with(
        model,
        store,
        Access::default(),
        Start::WholeHistory,
        &options(snapshots),
    )
}

/// The answers for `users` from a service on `store` that ignores
/// snapshots (every user rebuilt from the log).
fn from_the_log(model: &Path, store: &Path, users: &[String]) -> Vec<Value> {
    let server = server(model, store, false);
    users.iter().map(|u| top(&server, u)).collect()
}

/// How a service on `store` starts: users in memory, events applied.
fn start(model: &Path, store: &Path) -> (usize, usize) {
    let loaded = load_model(model).unwrap_or_else(|e| panic!("{e}"));
    let opened = EventStore::open(store).unwrap_or_else(|e| panic!("{e}"));
    let (service, started) =
        Service::start_with(loaded, opened, Start::WholeHistory, &options(true))
            .unwrap_or_else(|e| panic!("{e}"));
    // Stopping without new events rewrites the same snapshot.
    drop(service);
    (started.resident_users, started.replayed)
}

#[test]
fn a_start_loads_the_snapshot_and_applies_only_the_events_after_it() {
    let (dir, model) = common::model_dir("gru");
    let store = dir.path().join("store");
    let (data_users, items) = common::known_ids(&model);
    let mut users: Vec<String> = data_users.into_iter().take(2).collect();
    users.extend(["s-a", "s-b", "s-c"].map(str::to_owned));
    let events: Vec<(String, String)> = (0..20)
        .map(|n| {
            (
                users[n % users.len()].clone(),
                items[(n * 3) % items.len()].clone(),
            )
        })
        .collect();
    let live = server(&model, &store, true);
    for chunk in events.chunks(3) {
        post(&live, chunk);
    }
    let before: Vec<Value> = users.iter().map(|u| top(&live, u)).collect();
    live.stop();
    let snapshots: Vec<_> = std::fs::read_dir(store.join("snapshots"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert!(snapshots[0].ends_with(".snap"), "{snapshots:?}");

    // A clean stop wrote a complete snapshot: every user warm, nothing to apply.
    assert_eq!(start(&model, &store), (users.len(), 0));
    let warm = server(&model, &store, true);
    assert_eq!(
        users.iter().map(|u| top(&warm, u)).collect::<Vec<_>>(),
        before
    );
    drop(warm);

    // A crash after the snapshot: events in the log past it. Only those
    // of users in the snapshot are applied at the start.
    {
        let mut opened = EventStore::open(&store).unwrap_or_else(|e| panic!("{e}"));
        opened
            .append(&[
                Event::new(users[2].clone(), items[1].clone(), None),
                Event::new("not-in-snapshot", items[2].clone(), None),
                Event::new(users[0].clone(), items[4].clone(), None),
            ])
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // (The first start rewrites the snapshot at its stop: the second
    // finds nothing left to apply.)
    assert_eq!(start(&model, &store), (users.len(), 2));
    assert_eq!(start(&model, &store), (users.len(), 0));
    let mut everyone = users.clone();
    everyone.push("not-in-snapshot".to_owned());
    let warm = server(&model, &store, true);
    let got: Vec<Value> = everyone.iter().map(|u| top(&warm, u)).collect();
    drop(warm);
    assert_eq!(got, from_the_log(&model, &store, &everyone));

    // A user deleted after the snapshot stays deleted.
    server(&model, &store, true).stop();
    EventStore::open(&store)
        .and_then(|mut s| s.delete_user("s-a"))
        .unwrap_or_else(|e| panic!("{e}"));
    let warm = server(&model, &store, true);
    assert_eq!(top(&warm, "s-a")["cold_start"], true);
    let got: Vec<Value> = everyone.iter().map(|u| top(&warm, u)).collect();
    drop(warm);
    assert_eq!(got, from_the_log(&model, &store, &everyone));
}

#[test]
fn a_damaged_snapshot_is_skipped() {
    let (dir, model) = common::model_dir("gru");
    let store = dir.path().join("store");
    let (users, items) = common::known_ids(&model);
    let live = server(&model, &store, true);
    post(
        &live,
        &[
            (users[0].clone(), items[0].clone()),
            ("d-a".to_owned(), items[1].clone()),
        ],
    );
    let want = [top(&live, &users[0]), top(&live, "d-a")];
    live.stop();
    let file = std::fs::read_dir(store.join("snapshots"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .next()
        .unwrap_or_else(|| panic!("no snapshot"))
        .path();
    let mut bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&file, bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(start(&model, &store).0, 0);
    let cold = server(&model, &store, true);
    assert_eq!([top(&cold, &users[0]), top(&cold, "d-a")], want);
}
