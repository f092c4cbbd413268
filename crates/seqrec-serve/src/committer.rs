//! The committer thread: every write (events, user deletions, reloads) in
//! arrival order. It takes every request waiting when it wakes, commits
//! their events in one durable transaction, then applies them to the model
//! in one call. The log is the truth: should applying fail or panic, the
//! users concerned leave memory and are rebuilt from the log when next
//! used, so memory never differs from a replay of the log. A reload builds
//! the new model on a thread of its own and swaps it in here, so writes
//! never wait for it.

use crate::error::ServiceError;
use crate::metrics::Metrics;
use crate::online::{Applied, Event, OnlineModel, Start};
use crate::snapshot;
use crate::store::{Deleted, EventLog, EventStore, Stored};
use crate::sync::{Gate, catch, lock};
use seqrec_runner::model_dir::LoadedModel;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// How a model was brought up to date with the log (at start or reload).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Users whose state was put in memory before the swap (from a
    /// snapshot); every other user is rebuilt from the log when first used.
    pub resident_users: usize,
    /// Stored events applied to those users before the swap.
    pub replayed: usize,
    /// Of those, events whose item the model does not know (kept in the
    /// log, skipped by the state).
    pub skipped_unknown_items: usize,
    /// The model's log position: stored events numbered below it are in
    /// its data and never applied.
    pub log_position: u64,
    /// The log position of the snapshot the users in memory came from.
    pub snapshot_position: Option<u64>,
}

/// Where the answer to a write of events goes.
pub(crate) type EventsReply = oneshot::Sender<Result<Applied, ServiceError>>;
type ReloadReply = oneshot::Sender<Result<Reloaded, ServiceError>>;

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
        reply: ReloadReply,
        /// Where the built model comes back (as a [`Job::Swap`]).
        back: mpsc::SyncSender<Job>,
    },
    Swap {
        built: Result<Built, ServiceError>,
        reply: ReloadReply,
    },
}

/// How user states are kept in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Residency {
    pub(crate) start: Start,
    /// The most users in memory (`None`: no bound).
    pub(crate) capacity: Option<usize>,
    /// The store's directory, where snapshots go (`None`: none taken).
    pub(crate) snapshot_dir: Option<PathBuf>,
    /// Events stored between two snapshots (`None`: only at shutdown).
    pub(crate) snapshot_every: Option<u64>,
}

/// A model built for serving, and how far the log was applied to it.
pub(crate) struct Built {
    pub(crate) online: Box<OnlineModel>,
    pub(crate) reloaded: Reloaded,
    /// The log position up to which its users in memory are current.
    caught_up: Option<u64>,
}

/// The online model of `model` over `log`: the users counted, those of the
/// model's newest snapshot in memory and brought up to date with the log.
pub(crate) fn build(
    model: LoadedModel,
    residency: &Residency,
    log: EventLog,
) -> Result<Built, ServiceError> {
    let mut online =
        OnlineModel::over_log(model, residency.start, log.clone(), residency.capacity)?;
    let mut reloaded = Reloaded {
        log_position: online.log_position(),
        ..Reloaded::default()
    };
    let mut caught_up = None;
    let loaded = residency
        .snapshot_dir
        .as_deref()
        .and_then(|dir| snapshot::load_into(&mut online, dir, &log));
    if let Some(loaded) = loaded {
        let tail = log.events_from(loaded.position)?;
        caught_up = Some(tail.last().map_or(loaded.position, |(seq, _)| seq + 1));
        let applied = online.apply_stored(&tail, true)?;
        reloaded.snapshot_position = Some(loaded.position);
        reloaded.replayed = applied.accepted;
        reloaded.skipped_unknown_items = applied.unknown_items;
        tracing::info!(
            users = loaded.users,
            position = loaded.position,
            tail = tail.len(),
            "snapshot loaded"
        );
    }
    reloaded.resident_users = online.resident_users();
    Ok(Built {
        online: Box::new(online),
        reloaded,
        caught_up,
    })
}

/// A change to the log the committer made while a reload was building:
/// the new model learns of it at the swap.
pub(crate) enum Change {
    Stored {
        user: String,
        previous: Option<u64>,
        commit: u64,
    },
    Deleted {
        user: String,
        deleted: Deleted,
        commit: u64,
    },
}

pub(crate) struct Committer {
    pub(crate) model: Arc<Mutex<OnlineModel>>,
    pub(crate) store: EventStore,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) residency: Residency,
    /// Set while a reload builds: the changes it must learn of.
    pub(crate) pending: Option<Vec<Change>>,
    /// Events stored since the last snapshot.
    pub(crate) since_snapshot: u64,
    /// The snapshot being written, if any.
    pub(crate) writing: Option<JoinHandle<()>>,
    /// Closed by a test to hold reloads' builds.
    pub(crate) reload_gate: Arc<Gate>,
}

impl Committer {
    pub(crate) fn run(mut self, rx: mpsc::Receiver<Job>) {
        // Ends when every sender (the service's, a building reload's) is
        // gone and every job is done.
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
            let due = self.residency.snapshot_every;
            if due.is_some_and(|every| self.since_snapshot >= every) {
                self.snapshot(false);
            }
        }
        // A clean stop: the next start begins from here, warm.
        if self.residency.snapshot_dir.is_some() {
            self.snapshot(true);
        }
    }

    /// Takes a snapshot of the users in memory: encoded under the model
    /// lock (states and log position agree), written by a thread of its
    /// own (`wait`: here), one at a time.
    fn snapshot(&mut self, wait: bool) {
        let Some(dir) = self.residency.snapshot_dir.clone() else {
            return;
        };
        if let Some(writing) = self.writing.take() {
            if !wait && !writing.is_finished() {
                self.writing = Some(writing);
                return;
            }
            let _ = writing.join();
        }
        let (bytes, version, users) = {
            let model = lock(&self.model);
            let bytes = snapshot::encode(
                &model,
                self.store.log().store_id(),
                self.store.position(),
                self.store.commits(),
            );
            (bytes, model.model().version.clone(), model.resident_users())
        };
        self.since_snapshot = 0;
        let metrics = Arc::clone(&self.metrics);
        let write = move || {
            let path = snapshot::path_of(&dir, &version);
            let started = std::time::Instant::now();
            match snapshot::write(&path, &bytes) {
                Ok(()) => {
                    metrics.observe_snapshot(started.elapsed().as_secs_f64(), bytes.len() as u64);
                    tracing::debug!(path = %path.display(), users, bytes = bytes.len(), "snapshot written");
                    snapshot::remove_others(&dir, &version);
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "could not write a snapshot (starts will be colder)")
                }
            }
        };
        if wait {
            write();
            return;
        }
        match std::thread::Builder::new()
            .name("seqrec-snapshot".to_owned())
            .spawn(write)
        {
            Ok(handle) => self.writing = Some(handle),
            Err(e) => tracing::warn!(error = %e, "could not start the snapshot thread"),
        }
    }

    /// One transaction for the events of all `jobs`, then one `apply`.
    fn commit_events(&mut self, jobs: Vec<(Vec<Event>, EventsReply)>) {
        if jobs.is_empty() {
            return;
        }
        let offered: Vec<Event> = jobs.iter().flat_map(|(e, _)| e.iter().cloned()).collect();
        let started = std::time::Instant::now();
        let appended = self.store.append(&offered);
        self.metrics.observe_commit(started.elapsed().as_secs_f64());
        let stored = match appended {
            Ok(stored) => stored,
            Err(e) => {
                let message = e.to_string();
                for (_, reply) in jobs {
                    let _ = reply.send(Err(ServiceError::Store(
                        crate::error::StoreError::Database {
                            path: self.store.path().to_owned(),
                            message: message.clone(),
                        },
                    )));
                }
                return;
            }
        };
        let commit = self.store.commits();
        let new = stored.iter().filter(|s| s.is_new()).count();
        self.metrics.add_events_stored(new as u64);
        self.since_snapshot += new as u64;
        let mut model = lock(&self.model);
        let mut all: Vec<(u64, Event)> = Vec::with_capacity(offered.len());
        for (event, outcome) in offered.iter().zip(&stored) {
            if let Stored::New { seq, previous } = *outcome {
                model.note_stored(&event.user, previous);
                if let Some(changes) = &mut self.pending {
                    changes.push(Change::Stored {
                        user: event.user.clone(),
                        previous,
                        commit,
                    });
                }
                all.push((seq, event.clone()));
            }
        }
        // Per request: its repeats (an event id the user sent before:
        // neither stored nor applied) and, of its new events, those whose
        // item the model does not know.
        let mut outcomes = stored.iter();
        let counts: Vec<(usize, usize)> = jobs
            .iter()
            .map(|(events, _)| {
                events.iter().zip(outcomes.by_ref()).fold(
                    (0, 0),
                    |(repeats, unknown), (event, outcome)| match outcome {
                        Stored::Repeat => (repeats + 1, unknown),
                        Stored::New { .. } => (
                            repeats,
                            unknown + usize::from(!model.knows_item(&event.item)),
                        ),
                    },
                )
            })
            .collect();
        // The events are durable from here on: should applying them fail,
        // their users leave memory and are rebuilt from the log when next
        // used, and the answer must not invite a retry that would store
        // them twice.
        let applying = &all;
        let started = std::time::Instant::now();
        let applied = catch(|| model.apply_stored(applying, false));
        self.metrics.observe_apply(started.elapsed().as_secs_f64());
        let outcome = match applied {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(panic) => Some(format!("panic: {panic}")),
        };
        if let Some(error) = outcome {
            let users: BTreeSet<&str> = all.iter().map(|(_, e)| e.user.as_str()).collect();
            tracing::error!(events = all.len(), users = users.len(), %error, "applying stored events failed; their users will be rebuilt from the log when next used");
            for user in users {
                model.forget_state(user);
            }
        }
        drop(model);
        for ((events, reply), (duplicates, unknown_items)) in jobs.into_iter().zip(counts) {
            let _ = reply.send(Ok(Applied {
                accepted: events.len() - duplicates,
                duplicates,
                unknown_items,
            }));
        }
    }

    fn other(&mut self, job: Job) {
        match job {
            Job::Events { .. } => {}
            Job::DeleteUser { user, reply } => {
                let answer = self.delete_user(&user);
                if let Ok(len) = self.store.len() {
                    self.metrics.set_events_stored(len);
                }
                let _ = reply.send(answer);
            }
            Job::Reload { model, reply, back } => {
                if self.pending.is_some() {
                    let _ = reply.send(Err(ServiceError::ReloadInProgress));
                    return;
                }
                self.pending = Some(Vec::new());
                let residency = self.residency.clone();
                let log = self.store.log();
                let gate = Arc::clone(&self.reload_gate);
                let spawned = std::thread::Builder::new()
                    .name("seqrec-reload".to_owned())
                    .spawn(move || {
                        gate.wait_open();
                        let built =
                            catch(|| build(*model, &residency, log)).unwrap_or_else(|panic| {
                                Err(ServiceError::Load(format!(
                                    "building the model panicked: {panic}"
                                )))
                            });
                        // The committer outlives this thread: it holds a
                        // job channel open until this send.
                        let _ = back.send(Job::Swap { built, reply });
                    });
                if let Err(e) = spawned {
                    self.pending = None;
                    tracing::error!(error = %e, "could not start a reload thread");
                }
            }
            Job::Swap { built, reply } => {
                let changes = self.pending.take().unwrap_or_default();
                let answer = built.and_then(|mut built| {
                    self.catch_up(&mut built, changes)?;
                    *lock(&self.model) = *built.online;
                    Ok(built.reloaded)
                });
                let _ = reply.send(answer);
            }
        }
    }

    fn delete_user(&mut self, user: &str) -> Result<bool, ServiceError> {
        let deleted = self.store.delete_user(user)?;
        let mut model = lock(&self.model);
        let known = deleted.events > 0 || model.has_user(user)?;
        model.note_deleted(user, deleted);
        if let Some(changes) = &mut self.pending {
            changes.push(Change::Deleted {
                user: user.to_owned(),
                deleted,
                commit: self.store.commits(),
            });
        }
        Ok(known)
    }

    /// Tells a model built beside this thread what changed in the log
    /// since its users were counted, and applies the events its users in
    /// memory lack.
    fn catch_up(&self, built: &mut Built, changes: Vec<Change>) -> Result<(), ServiceError> {
        let online = &mut built.online;
        let reloaded = &mut built.reloaded;
        for change in changes {
            match change {
                Change::Stored {
                    user,
                    previous,
                    commit,
                } if commit > online.counted_at => online.note_stored(&user, previous),
                Change::Deleted {
                    user,
                    deleted,
                    commit,
                } if commit > online.counted_at => online.note_deleted(&user, deleted),
                _ => {}
            }
        }
        if let Some(from) = built.caught_up {
            let tail = self.store.log().events_from(from)?;
            let applied = online.apply_stored(&tail, true)?;
            reloaded.replayed += applied.accepted;
            reloaded.skipped_unknown_items += applied.unknown_items;
        }
        reloaded.resident_users = online.resident_users();
        Ok(())
    }
}
