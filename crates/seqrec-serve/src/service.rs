//! The service without its transport: the online model, the durable event
//! store, and the committer thread between them.
//!
//! Writes (events, user deletions, reloads) go through one committer
//! thread in arrival order. It takes every request waiting when it wakes
//! (no fixed sleep: under load, requests pile up while the previous group
//! is being fsynced), commits their events in one transaction, and only
//! then applies them to the model in one call, so the events of many
//! users advance in one batched GRU step per round and each user's events
//! apply in arrival order. Reads lock the model only while they score.

use crate::metrics::Metrics;
use crate::online::{Applied, Event, OnlineModel, ServeError, Start};
use crate::store::{EventStore, StoreError};
use seqrec_runner::model_dir::{LoadedModel, Recommendation};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
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

/// The model, the store and the committer thread.
#[derive(Debug)]
pub struct Service {
    model: Arc<Mutex<OnlineModel>>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    pub metrics: Arc<Metrics>,
}

/// Locks a mutex, recovering from a panic of another holder (the state a
/// panicking scorer leaves is still a consistent model: it mutates only
/// after scoring succeeded).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Replays `events` into a fresh online model of `model`.
fn replay(model: LoadedModel, events: &[Event]) -> Result<(OnlineModel, Reloaded), ServeError> {
    let mut online = OnlineModel::new(model, Start::WholeHistory);
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
    /// Opens the store, replays its events into `model`, and starts the
    /// committer.
    pub fn start(
        model: LoadedModel,
        store: EventStore,
    ) -> Result<(Service, Reloaded), ServiceError> {
        let events: Vec<Event> = store.events()?.into_iter().map(|(_, e)| e).collect();
        let (online, replayed) = replay(model, &events)?;
        let metrics = Arc::new(Metrics::default());
        metrics.set_events_stored(events.len() as u64);
        let model = Arc::new(Mutex::new(online));
        let (tx, rx) = mpsc::channel();
        let committer = {
            let model = Arc::clone(&model);
            let metrics = Arc::clone(&metrics);
            std::thread::Builder::new()
                .name("seqrec-committer".to_owned())
                .spawn(move || {
                    Committer {
                        model,
                        store,
                        metrics,
                    }
                    .run(rx)
                })
                .map_err(|e| ServiceError::Load(format!("starting the committer: {e}")))?
        };
        Ok((
            Service {
                model,
                jobs: Mutex::new(Some(tx)),
                committer: Mutex::new(Some(committer)),
                metrics,
            },
            replayed,
        ))
    }

    fn send(&self, job: Job) -> Result<(), ServiceError> {
        match lock(&self.jobs).as_ref() {
            Some(tx) => tx.send(job).map_err(|_| ServiceError::Stopped),
            None => Err(ServiceError::Stopped),
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

    /// Runs `f` on the model (from a blocking context: it may score).
    pub fn with_model<T>(&self, f: impl FnOnce(&mut OnlineModel) -> T) -> T {
        f(&mut lock(&self.model))
    }

    /// `user`'s top `k` now.
    pub fn recommend(
        &self,
        user: &str,
        k: usize,
        exclude_seen: bool,
    ) -> Result<Vec<Recommendation>, ServeError> {
        self.with_model(|m| m.recommend(user, k, exclude_seen))
    }

    /// Stops taking writes and waits until every accepted write is
    /// committed and applied.
    pub fn shutdown(&self) {
        lock(&self.jobs).take();
        if let Some(handle) = lock(&self.committer).take()
            && handle.join().is_err()
        {
            tracing::error!("the committer thread panicked");
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
}

impl Committer {
    fn run(mut self, rx: mpsc::Receiver<Job>) {
        // Ends when the service drops its sender and every job is done.
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            group.extend(rx.try_iter());
            self.metrics.observe_batch(group.len());
            let mut pending = Vec::new();
            for job in group {
                match job {
                    Job::Events { events, reply } => pending.push((events, reply)),
                    other => {
                        self.commit_events(std::mem::take(&mut pending));
                        self.other(other);
                    }
                }
            }
            self.commit_events(pending);
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
        let mut model = lock(&self.model);
        let unknown: Vec<usize> = jobs
            .iter()
            .map(|(events, _)| events.iter().filter(|e| !model.knows_item(&e.item)).count())
            .collect();
        let result = model.apply(&all);
        drop(model);
        for ((events, reply), unknown_items) in jobs.into_iter().zip(unknown) {
            let answer = match &result {
                Ok(_) => Ok(Applied {
                    accepted: events.len(),
                    unknown_items,
                }),
                Err(e) => Err(ServiceError::Serve(ServeError::Scoring(e.to_string()))),
            };
            let _ = reply.send(answer);
        }
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
                        Ok(replay(*model, &events)?)
                    })
                    .map(|(online, reloaded)| {
                        *lock(&self.model) = online;
                        reloaded
                    });
                let _ = reply.send(answer);
            }
        }
    }
}
