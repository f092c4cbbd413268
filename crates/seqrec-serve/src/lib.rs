//! Online recommendation from a self-contained model directory: every user
//! has a state that advances with each new event (a GRU's hidden state by
//! one cell step, a baseline's history), so a recommendation after each
//! event costs one step and one scoring pass, not a replay.
//!
//! Layers, bottom to top:
//! - [`OnlineModel`] (`online.rs`), the core, independent of any transport:
//!   apply events, ask for a user's top items, or for the top items after
//!   an anonymous sequence. Its results equal the offline scorer's at the
//!   same position of a user's sequence (tested on real data for every
//!   method).
//! - [`EventStore`] (`store.rs`): the durable event log (redb).
//! - [`Service`] (`service.rs`): model + store + the committer thread that
//!   commits events in groups before applying them in arrival order.
//! - [`http`]: the HTTP API on axum; [`metrics`]: its Prometheus metrics.
//!
//! ```no_run
//! use seqrec_serve::{Event, OnlineModel, Start};
//! # fn demo(model: seqrec_runner::model_dir::LoadedModel) -> Result<(), seqrec_serve::ServeError> {
//! let mut online = OnlineModel::new(model, Start::WholeHistory);
//! online.apply(&[Event::new("42", "318", Some(1_700_000_000))])?;
//! for r in online.recommend("42", 10, true)?.items {
//!     println!("{} {:?} {:.4}", r.item, r.title, r.score);
//! }
//! # Ok(()) }
//! ```

mod anonymous;
mod committer;
mod error;
mod event;
pub mod export;
pub mod http;
pub mod metrics;
mod online;
pub mod partition;
mod reader;
mod recommend;
mod residents;
mod scoring;
mod service;
mod snapshot;
mod store;
mod sync;
#[doc(hidden)]
pub mod testing;

pub use anonymous::{MAX_ANONYMOUS_ITEMS, recommend_anonymous};
pub use committer::Reloaded;
pub use error::{ServeError, ServiceError, StoreError};
pub use http::{Access, App, HttpOptions, recorded_model};
pub use online::{Applied, Event, Fault, OnlineModel, Start};
pub use recommend::{RecommendRequest, UserRecommendations};
pub use service::{Health, Service, ServiceOptions};
pub use store::EventStore;

use seqrec_models::Backend;
use seqrec_runner::Compute;
use seqrec_runner::model_dir::{self, LoadedModel};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

/// Loads a self-contained model directory for serving (GRUs score on the
/// CPU backend `flex`).
pub fn load_model(dir: &Path) -> Result<LoadedModel, ServiceError> {
    let saved = model_dir::read_saved(dir).map_err(|e| ServiceError::Load(e.to_string()))?;
    if !model_dir::is_self_contained(&saved) {
        return Err(ServiceError::Load(format!(
            "{}: written by an older seqrec (format {}), it needs its dataset to load; serve needs a self-contained model: train it again with `seqrec train`",
            dir.display(),
            saved.format
        )));
    }
    model_dir::open(dir, saved, Compute::on(Backend::Flex))
        .map_err(|e| ServiceError::Load(e.to_string()))
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops taking
/// connections, finishes the requests in flight, and waits until every
/// accepted write is durable and applied.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_draining(listener, app, shutdown, None)
        .await
        .map(|_| ())
}

/// How a drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drain {
    /// Every request in flight was answered and every accepted write is
    /// durable and applied.
    Complete,
    /// The drain timeout passed first: the answers still owed were
    /// abandoned (their writes, if stored, are durable; others were never
    /// acknowledged).
    TimedOut,
}

/// [`serve`], giving the drain at most `drain_timeout` after `shutdown`
/// resolves (`None`: as long as it takes). From the moment shutdown
/// begins, `/v1/health/ready` answers 503. After [`Drain::TimedOut`] a
/// worker thread may still be busy: the caller should not wait for it
/// (drop the runtime with `shutdown_background`, or exit).
pub async fn serve_draining(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain_timeout: Option<std::time::Duration>,
) -> std::io::Result<Drain> {
    let (begun, begun_rx) = tokio::sync::oneshot::channel::<()>();
    let marker = Arc::clone(&app);
    let shutdown = async move {
        shutdown.await;
        marker.start_draining();
        let _ = begun.send(());
    };
    let serving = axum::serve(listener, http::router(Arc::clone(&app)))
        .with_graceful_shutdown(shutdown)
        .into_future();
    tokio::pin!(serving);
    // The deadline starts when shutdown begins (or when the server ends by
    // itself, which is an error or a finished drain).
    let mut ended = false;
    tokio::select! {
        result = &mut serving => {
            result?;
            ended = true;
        }
        Ok(()) = begun_rx => {}
    }
    let deadline = drain_timeout.map(|limit| tokio::time::Instant::now() + limit);
    let timed_out = |what: &str| {
        tracing::warn!(timeout = ?drain_timeout, "drain timeout: {what}");
        Ok(Drain::TimedOut)
    };
    if !ended && within(deadline, &mut serving).await.transpose()?.is_none() {
        return timed_out("requests still in flight were abandoned");
    }
    let service = Arc::clone(&app);
    let stopping = tokio::task::spawn_blocking(move || service.service.shutdown());
    match within(deadline, stopping).await {
        Some(_) => Ok(Drain::Complete),
        None => {
            timed_out("the writer had not finished; accepted writes already stored are durable")
        }
    }
}

/// `future`'s output, or `None` when `deadline` (if any) passes first.
async fn within<T>(
    deadline: Option<tokio::time::Instant>,
    future: impl Future<Output = T>,
) -> Option<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}
