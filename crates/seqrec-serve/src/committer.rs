//! The committer thread: every write (events, user deletions, reloads) in
//! arrival order. It takes every request waiting when it wakes, commits
//! their events in one durable transaction, then applies them to the model
//! in one call; a failure or panic while applying rebuilds the users
//! concerned from the store, so memory always equals a replay of it.

use crate::error::{ServeError, ServiceError, StoreError};
use crate::metrics::Metrics;
use crate::online::{Applied, Event, OnlineModel, Start};
use crate::store::EventStore;
use crate::sync::{catch, lock};
use seqrec_runner::model_dir::LoadedModel;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

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
pub(crate) type EventsReply = oneshot::Sender<Result<Applied, ServiceError>>;

pub(crate) enum Job {
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

/// Replays `events` into a fresh online model of `model`.
pub(crate) fn replay(
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

pub(crate) struct Committer {
    pub(crate) model: Arc<Mutex<OnlineModel>>,
    pub(crate) store: EventStore,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) start: Start,
    pub(crate) diverged: Arc<AtomicBool>,
}

impl Committer {
    pub(crate) fn run(mut self, rx: mpsc::Receiver<Job>) {
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
        let offered: Vec<Event> = jobs.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
        let fresh = match self.store.append(&offered) {
            Ok(fresh) => fresh,
            Err(e) => {
                let message = e.to_string();
                for (_, reply) in jobs {
                    let _ = reply.send(Err(ServiceError::Store(StoreError::Database {
                        path: self.store.path().to_owned(),
                        message: message.clone(),
                    })));
                }
                return;
            }
        };
        let all: Vec<Event> = offered
            .into_iter()
            .zip(&fresh)
            .filter_map(|(event, new)| new.then_some(event))
            .collect();
        self.metrics.add_events_stored(all.len() as u64);
        let mut model = lock(&self.model);
        // Per request: its repeats (an event id the user sent before:
        // neither stored nor applied) and, of its new events, those whose
        // item the model does not know.
        let mut is_new = fresh.iter();
        let counts: Vec<(usize, usize)> = jobs
            .iter()
            .map(|(events, _)| {
                events.iter().zip(is_new.by_ref()).fold(
                    (0, 0),
                    |(repeats, unknown), (event, new)| match new {
                        false => (repeats + 1, unknown),
                        true => (
                            repeats,
                            unknown + usize::from(!model.knows_item(&event.item)),
                        ),
                    },
                )
            })
            .collect();
        // The events are durable from here on: whatever happens, memory
        // must come to equal a replay of the store, and the answer must not
        // invite a retry that would store them twice.
        let applying = &all;
        let result = match catch(move || model.apply(applying)) {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(panic) => Err(format!("panic: {panic}")),
        };
        let result = result.or_else(|error| {
            tracing::error!(events = all.len(), %error, "applying stored events failed part-way; rebuilding their users from the store");
            self.rebuild_users(&all)
        });
        for ((events, reply), (duplicates, unknown_items)) in jobs.into_iter().zip(counts) {
            let answer = match &result {
                Ok(()) => Ok(Applied {
                    accepted: events.len() - duplicates,
                    duplicates,
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
