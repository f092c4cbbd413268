//! The service without its transport: the online model, the durable event
//! store, and the committer thread between them.
//!
//! Writes (events, user deletions, reloads) go through one committer
//! thread in arrival order. It takes every request waiting when it wakes
//! (no fixed sleep: under load, requests pile up while the previous group
//! is being fsynced), commits their events in one transaction, and only
//! then applies them to the model in one call, so the events of many
//! users advance in one batched GRU step per round and each user's events
//! apply in arrival order.
//!
//! Recommendation reads go through one reader thread the same way: it
//! takes every read waiting when it wakes and scores them in one pass
//! (one product with the output layer for all their users). While reads
//! arrive concurrently (the last pass had more than one), it also waits
//! for more, at most [`crate::reader::READ_WINDOW`] after the first was taken; a lone
//! client never waits. It locks the model only while it scores.

use crate::committer::{Committer, Job, Reloaded, Residency, build};
use crate::error::{ServeError, ServiceError};
use crate::metrics::Metrics;
use crate::online::{Applied, Event, OnlineModel, Start};
use crate::reader::{ReadReply, read_loop, score};
use crate::recommend::{RecommendRequest, UserRecommendations};
use crate::store::EventStore;
use crate::sync::{Gate, lock};
use seqrec_runner::model_dir::LoadedModel;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// The model, the store, the committer thread and the reader thread.
#[derive(Debug)]
pub struct Service {
    model: Arc<Mutex<OnlineModel>>,
    jobs: Mutex<Option<mpsc::SyncSender<Job>>>,
    reads: Mutex<Option<mpsc::SyncSender<(RecommendRequest, ReadReply)>>>,
    queue_capacity: usize,
    threads: Mutex<Vec<JoinHandle<()>>>,
    pub metrics: Arc<Metrics>,
    reload_gate: Arc<Gate>,
}

/// Reloads' builds wait while this is held (tests only: see
/// [`Service::hold_reloads`]).
#[doc(hidden)]
#[derive(Debug)]
pub struct HeldReloads(Arc<Gate>);

impl HeldReloads {
    /// Reload builds that have reached the gate since the service began.
    pub fn waiting(&self) -> usize {
        self.0.arrived()
    }
}

impl Drop for HeldReloads {
    fn drop(&mut self) {
        self.0.open();
    }
}

/// How a service runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Requests that may wait for the committer, and reads that may wait
    /// for the reader; one more is refused as busy (HTTP 503 with
    /// `Retry-After`) rather than queued without bound.
    pub queue_capacity: usize,
    /// The most user states kept in memory (`None`: no bound). Beyond it
    /// the least recently used leave memory; a user who comes back is
    /// rebuilt from the event log, so nothing is lost, only time.
    pub max_resident_users: Option<usize>,
    /// Take a snapshot of the users in memory after this many stored
    /// events (and at every clean stop), so a start begins warm and
    /// applies only the events after it (`None`: at clean stops only).
    pub snapshot_every: Option<u64>,
    /// Take snapshots at all (in `snapshots/` of the store's directory).
    pub snapshots: bool,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            queue_capacity: 4096,
            max_resident_users: None,
            snapshot_every: Some(100_000),
            snapshots: true,
        }
    }
}

/// What the health check reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// A worker thread has ended: requests cannot be answered.
    WorkerStopped,
}

impl Service {
    /// Serves `model` over the event log `store` (its users start after
    /// their whole history in the data, as `seqrec recommend` ranks, plus
    /// their stored events, applied when a user is first used) and starts
    /// the committer and the reader.
    pub fn start(
        model: LoadedModel,
        store: EventStore,
    ) -> Result<(Service, Reloaded), ServiceError> {
        Service::start_from(model, store, Start::WholeHistory)
    }

    /// [`Service::start`] with the data's users starting where `start`
    /// says (after their training events: their validation and test
    /// events can then be posted, as the state-equals-replay test does).
    pub fn start_from(
        model: LoadedModel,
        store: EventStore,
        start: Start,
    ) -> Result<(Service, Reloaded), ServiceError> {
        Service::start_with(model, store, start, &ServiceOptions::default())
    }

    /// [`Service::start_from`] with `options`.
    pub fn start_with(
        model: LoadedModel,
        store: EventStore,
        start: Start,
        options: &ServiceOptions,
    ) -> Result<(Service, Reloaded), ServiceError> {
        if options.queue_capacity == 0 {
            return Err(ServiceError::Load(
                "the queue capacity must be at least 1".into(),
            ));
        }
        if options.max_resident_users == Some(0) {
            return Err(ServiceError::Load(
                "the bound on users in memory must be at least 1".into(),
            ));
        }
        if options.snapshot_every == Some(0) {
            return Err(ServiceError::Load(
                "snapshots every 0 events: give at least 1, or none".into(),
            ));
        }
        let residency = Residency {
            start,
            capacity: options.max_resident_users,
            snapshot_dir: options.snapshots.then(|| store.dir().to_owned()),
            snapshot_every: options.snapshot_every,
        };
        let built = build(model, &residency, store.log())?;
        let (online, replayed) = (*built.online, built.reloaded);
        let metrics = Arc::new(Metrics::default());
        metrics.set_events_stored(store.len()?);
        let model = Arc::new(Mutex::new(online));
        let (tx, rx) = mpsc::sync_channel(options.queue_capacity);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(f)
                .map_err(|e| ServiceError::Load(format!("starting the {name} thread: {e}")))
        };
        let reload_gate = Arc::new(Gate::default());
        let committer = {
            let model = Arc::clone(&model);
            let metrics = Arc::clone(&metrics);
            let reload_gate = Arc::clone(&reload_gate);
            spawn(
                "seqrec-committer",
                Box::new(move || {
                    Committer {
                        model,
                        store,
                        metrics,
                        residency,
                        pending: None,
                        since_snapshot: 0,
                        writing: None,
                        reload_gate,
                    }
                    .run(rx)
                }),
            )?
        };
        let (read_tx, read_rx) = mpsc::sync_channel(options.queue_capacity);
        let reader = {
            let model = Arc::clone(&model);
            let metrics = Arc::clone(&metrics);
            spawn(
                "seqrec-reader",
                Box::new(move || read_loop(&model, &metrics, read_rx)),
            )?
        };
        Ok((
            Service {
                model,
                jobs: Mutex::new(Some(tx)),
                reads: Mutex::new(Some(read_tx)),
                queue_capacity: options.queue_capacity,
                threads: Mutex::new(vec![committer, reader]),
                metrics,
                reload_gate,
            },
            replayed,
        ))
    }

    fn send(&self, job: Job) -> Result<(), ServiceError> {
        match lock(&self.jobs).as_ref() {
            Some(tx) => {
                // Counted before it is sent: the committer may take it at once.
                self.metrics.queue_write(1);
                tx.try_send(job).map_err(|e| {
                    self.metrics.queue_write(-1);
                    self.refused(e)
                })
            }
            None => Err(ServiceError::Stopped),
        }
    }

    /// Why a queue refused a request: full (the caller may retry) or closed.
    fn refused<T>(&self, e: mpsc::TrySendError<T>) -> ServiceError {
        match e {
            mpsc::TrySendError::Full(_) => {
                self.metrics.add_refused_busy();
                ServiceError::Busy(self.queue_capacity)
            }
            mpsc::TrySendError::Disconnected(_) => ServiceError::Stopped,
        }
    }

    /// Stores `events` durably, then applies them.
    pub async fn add_events(&self, events: Vec<Event>) -> Result<Applied, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Events { events, reply })?;
        answer.await.map_err(|_| ServiceError::Stopped)?
    }

    /// Removes `user`'s events durably and forgets their state; whether
    /// the user was known.
    pub async fn delete_user(&self, user: String) -> Result<bool, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::DeleteUser { user, reply })?;
        answer.await.map_err(|_| ServiceError::Stopped)?
    }

    /// Replaces the model by `model`: it is prepared beside the committer
    /// (writes go on meanwhile) and swapped in whole; the old model answers
    /// until the swap, and no stored event is counted twice.
    pub async fn reload(&self, model: LoadedModel) -> Result<Reloaded, ServiceError> {
        let (reply, answer) = oneshot::channel();
        let back = match lock(&self.jobs).as_ref() {
            Some(tx) => tx.clone(),
            None => return Err(ServiceError::Stopped),
        };
        self.send(Job::Reload {
            model: Box::new(model),
            reply,
            back,
        })?;
        answer.await.map_err(|_| ServiceError::Stopped)?
    }

    /// Holds every reload's build (on its own thread) until the returned
    /// value is dropped: tests show that writes and reads go on meanwhile.
    #[doc(hidden)]
    pub fn hold_reloads(&self) -> HeldReloads {
        self.reload_gate.close();
        HeldReloads(Arc::clone(&self.reload_gate))
    }

    /// Whether the service can answer.
    pub fn health(&self) -> Health {
        let threads = lock(&self.threads);
        if threads.is_empty() || threads.iter().any(JoinHandle::is_finished) {
            Health::WorkerStopped
        } else {
            Health::Ok
        }
    }

    /// The model now, for work that needs no user state (anonymous
    /// requests): the lock is held only to clone a pointer.
    pub fn shared_model(&self) -> Arc<LoadedModel> {
        lock(&self.model).shared_model()
    }

    /// Runs `f` on the model (from a blocking context: it may score).
    pub fn with_model<T>(&self, f: impl FnOnce(&mut OnlineModel) -> T) -> T {
        f(&mut lock(&self.model))
    }

    /// A user's top items now, scored together with the reads that arrive
    /// with it.
    pub async fn recommend(
        &self,
        request: RecommendRequest,
    ) -> Result<UserRecommendations, ServiceError> {
        let (reply, answer) = oneshot::channel();
        match lock(&self.reads).as_ref() {
            Some(tx) => {
                self.metrics.queue_read(1);
                tx.try_send((request, reply)).map_err(|e| {
                    self.metrics.queue_read(-1);
                    self.refused(e)
                })?
            }
            None => return Err(ServiceError::Stopped),
        }
        Ok(answer.await.map_err(|_| ServiceError::Stopped)??)
    }

    /// Several users' top items in one scoring pass (a batch read; from a
    /// blocking context: it scores under the model lock).
    pub fn recommend_batch(
        &self,
        requests: &[RecommendRequest],
    ) -> Vec<Result<UserRecommendations, ServeError>> {
        score(&self.model, requests)
    }

    /// Stops taking requests and waits until every accepted write is
    /// committed and applied and every accepted read answered.
    pub fn shutdown(&self) {
        lock(&self.jobs).take();
        lock(&self.reads).take();
        for handle in lock(&self.threads).drain(..) {
            if handle.join().is_err() {
                tracing::error!("a service thread panicked");
            }
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.shutdown();
    }
}
