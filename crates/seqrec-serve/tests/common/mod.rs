//! Shared by the HTTP tests: a small model trained on synthetic data, a
//! server on 127.0.0.1 in this process, and a plain HTTP/1.1 client.
#![allow(dead_code)]

use seqrec_data::{DatasetName, LoadRequest, load};
use seqrec_runner::model_dir::{self, TrainSpec};
use seqrec_runner::{Compute, Method};
use seqrec_serve::{Access, App, Drain, EventStore, Service, ServiceOptions, Start, load_model};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Trains `method` on a small synthetic MovieLens-like set into `out`.
pub fn train_model(method: &str, out: &Path) {
    let mut request = LoadRequest::new("datasets");
    request.cache_dir = None;
    request.options.synthetic = Some(
        toml::from_str(&seqrec_data::testing::tiny_synthetic(40, 60, 1200))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let name = DatasetName::parse("synthetic-movielens").unwrap_or_else(|e| panic!("{e}"));
    let data = load(&name, &request).unwrap_or_else(|e| panic!("{e}"));
    let method = Method::parse(method).unwrap_or_else(|e| panic!("{e}"));
    let spec = TrainSpec {
        method,
        gru: seqrec_models::GruParams {
            hidden: 8,
            lanes: 8,
            epochs: 1,
            ..Default::default()
        },
        baselines: Default::default(),
        seed: 3,
        compute: Compute::default(),
        cancel: Default::default(),
        log_position: None,
    };
    model_dir::train(&spec, &data, &request.options, None, out, None)
        .unwrap_or_else(|e| panic!("{method}: {e}"));
}

/// A server running on its own runtime thread.
pub struct Server {
    pub addr: SocketAddr,
    /// The service inside (to inject faults, for instance).
    pub app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Drain>>,
}

impl Server {
    pub fn start(model: &Path, store: &Path, access: Access) -> Server {
        Server::start_from(model, store, access, Start::WholeHistory)
    }

    /// A server whose data users start where `start` says.
    pub fn start_from(model: &Path, store: &Path, access: Access, start: Start) -> Server {
        Server::start_with(model, store, access, start, &ServiceOptions::default())
    }

    /// A server with `options`.
    pub fn start_with(
        model: &Path,
        store: &Path,
        access: Access,
        start: Start,
        options: &ServiceOptions,
    ) -> Server {
        let loaded = load_model(model).unwrap_or_else(|e| panic!("{e}"));
        let store_dir = store;
        let store = EventStore::open(store).unwrap_or_else(|e| panic!("{e}"));
        let (service, _) =
            Service::start_with(loaded, store, start, options).unwrap_or_else(|e| panic!("{e}"));
        let app = Arc::new(
            App::new(service, access, model.to_owned())
                .record_in(store_dir)
                .unwrap_or_else(|e| panic!("{e}")),
        );
        Server::serve_app(app, None)
    }

    /// Serves `app` (built by the caller), with `drain_timeout` for its
    /// shutdown.
    pub fn serve_app(app: Arc<App>, drain_timeout: Option<Duration>) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let inside = Arc::clone(&app);
        let thread = std::thread::spawn(move || {
            let shutdown = async {
                let _ = stopped.await;
            };
            let drain = runtime
                .block_on(seqrec_serve::serve_draining(
                    listener,
                    app,
                    shutdown,
                    drain_timeout,
                ))
                .unwrap_or_else(|e| panic!("{e}"));
            // A drain that timed out may leave work behind: do not wait.
            runtime.shutdown_background();
            drain
        });
        Server {
            addr,
            app: inside,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Graceful shutdown: returns once every accepted write is durable.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Shuts down; how the drain ended.
    pub fn stop_draining(mut self) -> Drain {
        self.shutdown()
            .unwrap_or_else(|| panic!("the server was stopped already"))
    }

    fn shutdown(&mut self) -> Option<Drain> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take().map(|t| {
            t.join()
                .unwrap_or_else(|_| panic!("the server thread panicked"))
        })
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Response {
        request(self.addr, method, path, body, &[])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Posts `(user, item)` events in one request; panics unless 200.
pub fn post_events(server: &Server, events: &[(String, String)]) {
    let body = serde_json::json!({
        "events": events
            .iter()
            .map(|(u, i)| serde_json::json!({"user": u, "item": i}))
            .collect::<Vec<_>>()
    });
    let r = server.request("POST", "/v1/events", Some(body.to_string().as_bytes()));
    assert_eq!(r.status, 200, "{:?}", json(&r));
}

/// A user's top 10 without the items they consumed; panics unless 200.
pub fn top_unseen(server: &Server, user: &str) -> Value {
    let r = server.request(
        "GET",
        &format!("/v1/users/{user}/recommendations?k=10&exclude_seen=true"),
        None,
    );
    assert_eq!(r.status, 200, "{user}: {:?}", json(&r));
    json(&r)
}

/// The model lock held on another thread until dropped, so that requests
/// needing the model wait: how the tests make a request stuck.
pub struct ModelHold {
    release: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Takes the model lock of `app`; returns once it is held.
pub fn hold_model(app: &Arc<App>) -> ModelHold {
    let (held, is_held) = std::sync::mpsc::channel::<()>();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let app = Arc::clone(app);
    let thread = std::thread::spawn(move || {
        app.service.with_model(|_| {
            let _ = held.send(());
            // Until the sender is dropped.
            let _ = wait.recv();
        })
    });
    is_held
        .recv()
        .unwrap_or_else(|_| panic!("the holder never took the model"));
    ModelHold {
        release: Some(release),
        thread: Some(thread),
    }
}

impl Drop for ModelHold {
    fn drop(&mut self) {
        self.release.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub use seqrec_serve::testing::Response;

/// One request; panics on a transport failure.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    headers: &[(&str, &str)],
) -> Response {
    seqrec_serve::testing::request(addr, method, path, body, headers)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// The body as JSON; panics otherwise.
pub fn json(r: &Response) -> Value {
    r.json().unwrap_or_else(|e| panic!("{e}"))
}

/// A temporary directory with a trained model in `model/`.
pub fn model_dir(method: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = dir.path().join("model");
    train_model(method, &model);
    (dir, model)
}

/// The ids (original) of the model's first users and items.
pub fn known_ids(model: &Path) -> (Vec<String>, Vec<String>) {
    let loaded = load_model(model).unwrap_or_else(|e| panic!("{e}"));
    let users = (0..loaded.data.users.len().min(5))
        .map(|i| loaded.data.users.label(i).unwrap_or_default().into_owned())
        .collect();
    let items = (0..loaded.data.items.len().min(10))
        .map(|i| loaded.data.items.label(i).unwrap_or_default().into_owned())
        .collect();
    (users, items)
}

/// The item ids of a recommendation answer, in order.
pub fn item_ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {v}"))
        .iter()
        .map(|i| i["item"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The original id of the model's first item.
pub fn first_item(model: &Path) -> String {
    load_model(model)
        .unwrap_or_else(|e| panic!("{e}"))
        .data
        .items
        .label(0)
        .unwrap_or_else(|| panic!("no items"))
        .into_owned()
}
