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

use crate::metrics::Metrics;
use crate::online::RecommendRequest;
use crate::online::{Applied, Event, OnlineModel, ServeError, Start};
use crate::reader::{ReadReply, read_loop};
use crate::store::{EventStore, StoreError};
use crate::sync::{catch, lock};
use seqrec_runner::model_dir::{LoadedModel, Recommendation};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use thiserror::Error;
use tokio::sync::oneshot;

/// What a request to the service can fail with.
#[derive(Debug, Error)]
pub enum ServiceError {
    #[error(transparent)]
    Serve(#[from] ServeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the service is shutting down")]
    Stopped,
    #[error("the service is busy: {0} requests are already waiting; retry shortly")]
    Busy(usize),
    #[error("loading the model: {0}")]
    Load(String),
}

/// What a reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reloaded {
    /// Stored events replayed into the new model.
    pub replayed: usize,
    /// Of those, events whose item the new model does not know (kept in
    /// the store, skipped by the state).
    pub skipped_unknown_items: usize,
}

/// Where the answer to a write of events goes.
type EventsReply = oneshot::Sender<Result<Applied, ServiceError>>;

enum Job {
    Events {
        events: Vec<Event>,
        reply: EventsReply,
    },
    DeleteUser {
        user: String,
        reply: oneshot::Sender<Result<bool, ServiceError>>,
    },
    Reload {
        model: Box<LoadedModel>,
        reply: oneshot::Sender<Result<Reloaded, ServiceError>>,
    },
}

/// The model, the store, the committer thread and the reader thread.
#[derive(Debug)]
pub struct Service {
    model: Arc<Mutex<OnlineModel>>,
    jobs: Mutex<Option<mpsc::SyncSender<Job>>>,
    reads: Mutex<Option<mpsc::SyncSender<(RecommendRequest, ReadReply)>>>,
    queue_capacity: usize,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Set when stored events could not be applied even by rebuilding
    /// their users from the store: memory then differs from a replay of
    /// the store, which the health check reports until a reload or restart.
    diverged: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
}

/// How a service runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Requests that may wait for the committer, and reads that may wait
    /// for the reader; one more is refused as busy (HTTP 503 with
    /// `Retry-After`) rather than queued without bound.
    pub queue_capacity: usize,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            queue_capacity: 4096,
        }
    }
}

/// What the health check reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// A worker thread has ended: requests cannot be answered.
    WorkerStopped,
    /// Some users' state in memory differs from a replay of the store.
    Diverged,
}

/// Replays `events` into a fresh online model of `model`.
fn replay(
    model: LoadedModel,
    start: Start,
    events: &[Event],
) -> Result<(OnlineModel, Reloaded), ServeError> {
    let mut online = OnlineModel::new(model, start);
    let applied = online.apply(events)?;
    Ok((
        online,
        Reloaded {
            replayed: applied.accepted,
            skipped_unknown_items: applied.unknown_items,
        },
    ))
}

impl Service {
    /// Opens the store, replays its events into `model` (its users start
    /// after their whole history in the data, as `seqrec recommend` ranks),
    /// and starts the committer and the reader.
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
        let events: Vec<Event> = store.events()?.into_iter().map(|(_, e)| e).collect();
        let (online, replayed) = replay(model, start, &events)?;
        let metrics = Arc::new(Metrics::default());
        metrics.set_events_stored(events.len() as u64);
        let model = Arc::new(Mutex::new(online));
        let (tx, rx) = mpsc::sync_channel(options.queue_capacity);
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(f)
                .map_err(|e| ServiceError::Load(format!("starting the {name} thread: {e}")))
        };
        let diverged = Arc::new(AtomicBool::new(false));
        let committer = {
            let model = Arc::clone(&model);
            let metrics = Arc::clone(&metrics);
            let diverged = Arc::clone(&diverged);
            spawn(
                "seqrec-committer",
                Box::new(move || {
                    Committer {
                        model,
                        store,
                        metrics,
                        start,
                        diverged,
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
                diverged,
                metrics,
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

    /// Replaces the model by `model`, with the stored events replayed into
    /// it; the old model answers reads until the swap.
    pub async fn reload(&self, model: LoadedModel) -> Result<Reloaded, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.send(Job::Reload {
            model: Box::new(model),
            reply,
        })?;
        answer.await.map_err(|_| ServiceError::Stopped)?
    }

    /// Whether the service can answer, and answers what a replay of its
    /// store would.
    pub fn health(&self) -> Health {
        let threads = lock(&self.threads);
        if threads.is_empty() || threads.iter().any(JoinHandle::is_finished) {
            Health::WorkerStopped
        } else if self.diverged.load(Ordering::SeqCst) {
            Health::Diverged
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

    /// `user`'s top `k` now, scored together with the reads that arrive
    /// with it.
    pub async fn recommend(
        &self,
        user: String,
        k: usize,
        exclude_seen: bool,
    ) -> Result<Vec<Recommendation>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        let request = RecommendRequest {
            user,
            k,
            exclude_seen,
        };
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

struct Committer {
    model: Arc<Mutex<OnlineModel>>,
    store: EventStore,
    metrics: Arc<Metrics>,
    start: Start,
    diverged: Arc<AtomicBool>,
}

impl Committer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        // Ends when the service drops its sender and every job is done.
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            group.extend(rx.try_iter());
            self.metrics.queue_write(-(group.len() as i64));
            self.metrics.observe_batch(group.len());
            let mut pending = Vec::new();
            for job in group {
                match job {
                    Job::Events { events, reply } => pending.push((events, reply)),
                    other => {
                        let pending = std::mem::take(&mut pending);
                        if let Err(panic) = catch(|| self.commit_events(pending)) {
                            tracing::error!(%panic, "committing events panicked");
                        }
                        // A panic drops the job's reply: its caller gets an
                        // error, and the committer goes on.
                        if let Err(panic) = catch(|| self.other(other)) {
                            tracing::error!(%panic, "a write job panicked");
                        }
                    }
                }
            }
            if let Err(panic) = catch(|| self.commit_events(pending)) {
                tracing::error!(%panic, "committing events panicked");
            }
        }
    }

    /// One transaction for the events of all `jobs`, then one `apply`.
    fn commit_events(&mut self, jobs: Vec<(Vec<Event>, EventsReply)>) {
        if jobs.is_empty() {
            return;
        }
        let all: Vec<Event> = jobs.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
        if let Err(e) = self.store.append(&all) {
            let message = e.to_string();
            for (_, reply) in jobs {
                let _ = reply.send(Err(ServiceError::Store(StoreError::Database {
                    path: self.store.path().to_owned(),
                    message: message.clone(),
                })));
            }
            return;
        }
        self.metrics.add_events_stored(all.len() as u64);
        let unknown: Vec<usize> = {
            let model = lock(&self.model);
            jobs.iter()
                .map(|(events, _)| events.iter().filter(|e| !model.knows_item(&e.item)).count())
                .collect()
        };
        // The events are durable from here on: whatever happens, memory
        // must come to equal a replay of the store, and the answer must not
        // invite a retry that would store them twice.
        let result = match catch(|| lock(&self.model).apply(&all)) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(format!("panic: {panic}")),
        };
        let result = result.or_else(|error| {
            tracing::error!(events = all.len(), %error, "applying stored events failed part-way; rebuilding their users from the store");
            self.rebuild_users(&all)
        });
        for ((events, reply), unknown_items) in jobs.into_iter().zip(unknown) {
            let answer = match &result {
                Ok(()) => Ok(Applied {
                    accepted: events.len(),
                    unknown_items,
                }),
                Err(e) => Err(ServiceError::Serve(ServeError::Scoring(format!(
                    "the events are stored (do not send them again) but could not be applied: {e}"
                )))),
            };
            let _ = reply.send(answer);
        }
    }

    /// Puts the users of `events` back to their data state and replays
    /// each one's stored events (per-user index), so a failed `apply`
    /// leaves no user half-advanced. Users are independent, so this equals
    /// a replay of the whole store for them. When even this fails, the
    /// users are left at their data state and the service reports that
    /// memory has diverged from the store.
    fn rebuild_users(&mut self, events: &[Event]) -> Result<(), String> {
        let users: BTreeSet<&str> = events.iter().map(|e| e.user.as_str()).collect();
        let mut stored: Vec<(u64, Event)> = Vec::new();
        for user in &users {
            match self.store.events_of(user) {
                Ok(list) => stored.extend(list),
                Err(e) => return Err(self.diverge(&users, e.to_string())),
            }
        }
        stored.sort_by_key(|(seq, _)| *seq);
        let stored: Vec<Event> = stored.into_iter().map(|(_, e)| e).collect();
        let outcome = catch(|| {
            let mut model = lock(&self.model);
            for user in &users {
                model.remove_user(user);
            }
            model.apply(&stored)
        });
        match outcome {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(self.diverge(&users, e.to_string())),
            Err(panic) => Err(self.diverge(&users, format!("panic: {panic}"))),
        }
    }

    /// Leaves `users` at their data state and marks memory as diverged.
    fn diverge(&mut self, users: &BTreeSet<&str>, error: String) -> String {
        let mut model = lock(&self.model);
        for user in users {
            model.remove_user(user);
        }
        drop(model);
        self.diverged.store(true, Ordering::SeqCst);
        tracing::error!(users = users.len(), %error, "could not rebuild users from the store: their state in memory lacks stored events until a reload or restart");
        error
    }

    fn other(&mut self, job: Job) {
        match job {
            Job::Events { .. } => {}
            Job::DeleteUser { user, reply } => {
                let answer = self
                    .store
                    .delete_user(&user)
                    .map_err(ServiceError::from)
                    .map(|removed| {
                        let mut model = lock(&self.model);
                        let known = model.has_user(&user);
                        model.remove_user(&user);
                        known || removed > 0
                    });
                if let Ok(len) = self.store.len() {
                    self.metrics.set_events_stored(len);
                }
                let _ = reply.send(answer);
            }
            Job::Reload { model, reply } => {
                let answer = self
                    .store
                    .events()
                    .map_err(ServiceError::from)
                    .and_then(|events| {
                        let events: Vec<Event> = events.into_iter().map(|(_, e)| e).collect();
                        Ok(replay(*model, self.start, &events)?)
                    })
                    .map(|(online, reloaded)| {
                        *lock(&self.model) = online;
                        // A whole replay: memory equals the store again.
                        self.diverged.store(false, Ordering::SeqCst);
                        reloaded
                    });
                let _ = reply.send(answer);
            }
        }
    }
}
