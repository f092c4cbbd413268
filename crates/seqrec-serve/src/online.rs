//! [`OnlineModel`]: per-user state over a loaded model directory.

pub use crate::error::ServeError;
use crate::error::StoreError;
use crate::residents::{Residents, UserState};
use crate::store::{Deleted, EventLog};
use seqrec_core::{ItemId, Part, UserId};
use seqrec_models::GruScorer;
use seqrec_models::online::UserRow;
use seqrec_runner::model_dir::{LoadedModel, ModelScorer};
use std::collections::BTreeSet;
use std::sync::Arc;

pub use crate::event::Event;

/// Where the users of the model's data start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// After their whole sequence in the data (training, validation and
    /// test events): what `seqrec recommend` ranks after.
    WholeHistory,
    /// After their training events only, so the validation and test events
    /// can be replayed online (how the state-equals-replay tests run).
    TrainingHistory,
}

/// What [`OnlineModel::apply`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events taken (all of them, repeats aside).
    pub accepted: usize,
    /// Events whose `event_id` the user had sent before: not stored or
    /// applied again.
    pub duplicates: usize,
    /// Events whose item the model does not know: kept by the caller's
    /// store, but they change no state.
    pub unknown_items: usize,
}

/// A fault to inject, for tests of how the service survives one: the next
/// `apply` fails (or panics) after `after_rounds` rounds have advanced, so
/// some of its events are applied and others are not; `PanicInScoring`
/// panics in the next scoring pass.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    FailInApply { after_rounds: usize },
    PanicInApply { after_rounds: usize },
    PanicInScoring,
}

/// Users' states over a loaded model; see the crate documentation.
#[derive(Debug)]
pub struct OnlineModel {
    /// Shared, so anonymous requests can score without the model lock.
    model: Arc<LoadedModel>,
    start: Start,
    /// The users in memory (a cache over `log`, when there is one).
    pub(crate) users: Residents,
    /// The event log users not in memory are rebuilt from (`None`: events
    /// applied directly, all users kept in memory).
    log: Option<EventLog>,
    /// Stored events numbered below this are in the model's data already
    /// (it was trained on an export of the log up to here).
    from: u64,
    /// Users created online (not in the model's data), counted as they
    /// come and go, so counting users never scans them.
    created_online: usize,
    /// The log's commits `created_online` was counted at: later stores
    /// and deletions are news to it (see the committer's reload).
    pub(crate) counted_at: u64,
    pub(crate) fault: Option<Fault>,
}

/// Stored events applied at a time by [`OnlineModel::preload`].
const PRELOAD_CHUNK: usize = 1 << 20;

/// Where a stored event is from: its arrival number, when it has one.
pub(crate) type Logged<'a> = (Option<u64>, &'a Event);

impl OnlineModel {
    /// Users' states over `model` with every user kept in memory; events
    /// are given to [`OnlineModel::apply`] directly.
    pub fn new(model: LoadedModel, start: Start) -> Self {
        OnlineModel {
            model: Arc::new(model),
            start,
            users: Residents::new(None),
            log: None,
            from: 0,
            created_online: 0,
            counted_at: 0,
            fault: None,
        }
    }

    /// Users' states over `model` and the event log `log`: a user is their
    /// data state plus their stored events numbered from the model's log
    /// position on, built from the log when first used. At most `capacity`
    /// users stay in memory (`None`: no bound); the least recently used
    /// leave first and are rebuilt when used again. Counting the users
    /// created online reads the log's user index once.
    pub fn over_log(
        model: LoadedModel,
        start: Start,
        log: EventLog,
        capacity: Option<usize>,
    ) -> Result<Self, StoreError> {
        let from = model.saved.log_position.unwrap_or(0);
        let mut created_online = 0;
        let counted_at = log.for_each_user(|user, last| {
            if last >= from && model.data.users.find(user).is_none() {
                created_online += 1;
            }
        })?;
        Ok(OnlineModel {
            model: Arc::new(model),
            start,
            users: Residents::new(capacity),
            log: Some(log),
            from,
            created_online,
            counted_at,
            fault: None,
        })
    }

    /// Where the data's users start.
    pub fn start(&self) -> Start {
        self.start
    }

    /// The first arrival number of the log this model applies (earlier
    /// events are in its data).
    pub fn log_position(&self) -> u64 {
        self.from
    }

    /// Users in memory now.
    pub fn resident_users(&self) -> usize {
        self.users.len()
    }

    /// Users evicted from memory so far.
    pub fn evictions(&self) -> u64 {
        self.users.evictions()
    }

    /// Arms `fault` (tests only).
    #[doc(hidden)]
    pub fn inject_fault(&mut self, fault: Fault) {
        self.fault = Some(fault);
    }

    /// Fires an armed apply fault once its rounds have passed.
    fn apply_fault(&mut self) -> Result<(), ServeError> {
        match self.fault {
            Some(Fault::FailInApply { after_rounds: 0 }) => {
                self.fault = None;
                Err(ServeError::Scoring("injected fault".to_owned()))
            }
            Some(Fault::PanicInApply { after_rounds: 0 }) => {
                self.fault = None;
                panic!("injected fault")
            }
            Some(
                Fault::FailInApply {
                    after_rounds: ref mut n,
                }
                | Fault::PanicInApply {
                    after_rounds: ref mut n,
                },
            ) => {
                *n -= 1;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub fn model(&self) -> &LoadedModel {
        &self.model
    }

    /// The model, to use without holding this state (anonymous requests).
    pub fn shared_model(&self) -> Arc<LoadedModel> {
        Arc::clone(&self.model)
    }

    pub(crate) fn gru(&self) -> Option<&GruScorer> {
        match &self.model.scorer {
            ModelScorer::Gru(g) => Some(g.as_ref()),
            ModelScorer::Baseline(_) => None,
        }
    }

    /// The state of `user` as the data leaves it (`None`: not in the data).
    fn initial(&self, user: &str) -> Option<UserState> {
        let data = &self.model.data;
        let index = data.users.find(user)?;
        let id = UserId(index as u32);
        let split = &data.split;
        let sequences = split.sequences();
        let end = match self.start {
            Start::WholeHistory => sequences.len(id),
            Start::TrainingHistory => split.range(id, Part::Train).end,
        };
        Some(UserState::new(
            Some(index as u32),
            sequences.items(id)[..end].to_vec(),
            sequences.timestamps(id)[..end].to_vec(),
        ))
    }

    /// The items `user` has consumed so far (`None`: no state in memory).
    pub(crate) fn history(&self, user: &str) -> Option<&[ItemId]> {
        self.users.get(user).map(|s| s.history.as_slice())
    }

    /// Whether the model's catalogue has `item` (an original id).
    pub fn knows_item(&self, item: &str) -> bool {
        self.model.data.items.find(item).is_some()
    }

    /// Users known: the data's and those created online.
    pub fn user_count(&self) -> usize {
        self.model.data.users.len() + self.created_online
    }

    /// Whether the model knows `user`: from its data, created online, or
    /// with stored events it applies.
    pub fn has_user(&self, user: &str) -> Result<bool, StoreError> {
        if self.users.get(user).is_some() || self.model.data.users.find(user).is_some() {
            return Ok(true);
        }
        match &self.log {
            Some(log) => Ok(!log.events_of(user, self.from)?.is_empty()),
            None => Ok(false),
        }
    }

    /// A stored event of `user` that was new: counts a user created online
    /// when the user had no event this model applies before (`previous`:
    /// the arrival number of their last stored event before it).
    pub(crate) fn note_stored(&mut self, user: &str, previous: Option<u64>) {
        let had_none = previous.is_none_or(|p| p < self.from);
        if had_none && self.model.data.users.find(user).is_none() {
            self.created_online += 1;
        }
    }

    /// `user`'s stored events were deleted: forgets their state and counts
    /// them out if they were created online.
    pub(crate) fn note_deleted(&mut self, user: &str, deleted: Deleted) {
        self.users.remove(user);
        let counted = deleted.last_seq.is_some_and(|last| last >= self.from);
        if counted && self.model.data.users.find(user).is_none() {
            self.created_online -= 1;
        }
    }

    /// Drops `user`'s state from memory (with a log: it is rebuilt from
    /// the log when next used).
    pub(crate) fn forget_state(&mut self, user: &str) {
        self.users.remove(user);
    }

    /// Puts `user`'s state in memory if it is not there: their data state
    /// plus their stored events from the log. `create`: a user with
    /// neither gets an empty state (`false`: `Ok(false)` and nothing
    /// changes).
    pub(crate) fn load(&mut self, user: &str, create: bool) -> Result<bool, ServeError> {
        if self.users.touch(user).is_some() {
            return Ok(true);
        }
        let stored = match &self.log {
            Some(log) => log
                .events_of(user, self.from)
                .map_err(|e| ServeError::Scoring(e.to_string()))?,
            None => Vec::new(),
        };
        let initial = self.initial(user);
        if initial.is_none() && stored.is_empty() && !create {
            return Ok(false);
        }
        let state = initial.unwrap_or_else(|| UserState::new(None, Vec::new(), Vec::new()));
        if self.log.is_none() && state.index.is_none() {
            self.created_online += 1;
        }
        self.users.insert(user, state);
        if !stored.is_empty() {
            let events: Vec<Logged<'_>> = stored.iter().map(|(s, e)| (Some(*s), e)).collect();
            if let Err(e) = self.apply_logged(&events, true) {
                // Never leave a half-built user in memory.
                self.users.remove(user);
                return Err(e);
            }
        }
        Ok(true)
    }

    /// The GRU state of `user` after their history, replayed once.
    pub(crate) fn ensure_hidden(&mut self, user: &str) -> Result<(), ServeError> {
        let Some(gru) = self.gru() else {
            return Ok(());
        };
        let n = gru.state_size();
        let Some(state) = self.users.get(user) else {
            return Ok(());
        };
        if state.hidden.is_some() {
            return Ok(());
        }
        let hidden = match state.index {
            // A user of the data: their history through the offline scorer's path.
            Some(index) if !state.history.is_empty() => {
                gru.state_after(UserId(index), &state.history, &state.times)?
            }
            _ => vec![0.0; n],
        };
        if let Some(state) = self.users.get_mut(user) {
            state.hidden = Some(hidden);
        }
        Ok(())
    }

    /// The model's user row for a GRU step.
    fn user_row(&self, state: &UserState) -> UserRow {
        match (self.gru(), state.index) {
            (Some(gru), Some(index)) => gru.user_rows(&[index])[0],
            _ => None,
        }
    }

    /// Applies `events` in order; users not in the model are created.
    /// Events of different users advance together, in rounds of at most
    /// one event per user, so each user's events apply in arrival order.
    pub fn apply(&mut self, events: &[Event]) -> Result<Applied, ServeError> {
        let logged: Vec<Logged<'_>> = events.iter().map(|e| (None, e)).collect();
        let applied = self.apply_logged(&logged, true);
        self.users.evict_over_capacity();
        applied
    }

    /// Applies stored events (with their arrival numbers): an event this
    /// model has already (numbered below its log position, or in a user's
    /// state already, as a user rebuilt from the log has them) is skipped.
    /// `resident_only`: events of users not in memory are skipped too
    /// (the log has them for when those users are next used).
    pub(crate) fn apply_stored(
        &mut self,
        events: &[(u64, Event)],
        resident_only: bool,
    ) -> Result<Applied, ServeError> {
        let logged: Vec<Logged<'_>> = events
            .iter()
            .filter(|(_, e)| !resident_only || self.users.get(&e.user).is_some())
            .map(|(s, e)| (Some(*s), e))
            .collect();
        let applied = self.apply_logged(&logged, true);
        self.users.evict_over_capacity();
        applied
    }

    /// Puts every user with stored events in memory, applying the whole
    /// log from the model's position in batched rounds (far faster than
    /// rebuilding users one by one; what a warm-up before a snapshot
    /// does). Users in memory already keep their state and get only what
    /// they lack. Ignores the bound on users in memory until the end.
    pub fn preload(&mut self) -> Result<Applied, ServeError> {
        let Some(log) = self.log.clone() else {
            return Ok(Applied::default());
        };
        let mut total = Applied::default();
        let mut next = self.from;
        loop {
            let chunk = log
                .events_in(next, PRELOAD_CHUNK)
                .map_err(|e| ServeError::Scoring(e.to_string()))?;
            let Some((last, _)) = chunk.last() else {
                break;
            };
            next = last + 1;
            self.preload_chunk(&chunk, &mut total)?;
        }
        self.users.evict_over_capacity();
        Ok(total)
    }

    fn preload_chunk(
        &mut self,
        chunk: &[(u64, Event)],
        total: &mut Applied,
    ) -> Result<(), ServeError> {
        let logged: Vec<Logged<'_>> = chunk.iter().map(|(s, e)| (Some(*s), e)).collect();
        let applied = self.apply_logged(&logged, false)?;
        total.accepted += applied.accepted;
        total.unknown_items += applied.unknown_items;
        Ok(())
    }

    /// `rebuild`: a user not in memory is rebuilt from the log first;
    /// otherwise they start from their data state (the caller applies
    /// every one of their stored events).
    fn apply_logged(
        &mut self,
        events: &[Logged<'_>],
        rebuild: bool,
    ) -> Result<Applied, ServeError> {
        let mut applied = Applied::default();
        let mut round: Vec<(String, ItemId, i64, Option<u64>)> = Vec::new();
        // The users of `round`: a set, so a batch of n distinct users costs
        // n log n, not n² (a start-up replay is one batch of every event).
        let mut in_round: BTreeSet<&str> = BTreeSet::new();
        for &(seq, event) in events {
            applied.accepted += 1;
            if seq.is_some_and(|s| s < self.from) {
                continue;
            }
            if rebuild {
                self.load(&event.user, true)?;
            } else if self.users.get(&event.user).is_none() {
                let state = self
                    .initial(&event.user)
                    .unwrap_or_else(|| UserState::new(None, Vec::new(), Vec::new()));
                self.users.insert(&event.user, state);
            }
            let Some(state) = self.users.get_mut(&event.user) else {
                continue;
            };
            if seq.is_some_and(|s| state.has_applied(s)) {
                continue;
            }
            let Some(item) = self.model.data.items.find(&event.item) else {
                applied.unknown_items += 1;
                state.mark_applied(seq);
                continue;
            };
            if !in_round.insert(event.user.as_str()) {
                self.advance(&round)?;
                round.clear();
                in_round.clear();
                in_round.insert(event.user.as_str());
            }
            let previous = self
                .users
                .get(&event.user)
                .and_then(|s| s.times.last().copied());
            let time = event.timestamp.or(previous).unwrap_or(0);
            round.push((event.user.clone(), ItemId(item as u32), time, seq));
        }
        self.advance(&round)?;
        Ok(applied)
    }

    /// One event each for distinct users: one GRU step for all of them.
    fn advance(&mut self, round: &[(String, ItemId, i64, Option<u64>)]) -> Result<(), ServeError> {
        if round.is_empty() {
            return Ok(());
        }
        self.apply_fault()?;
        if self.gru().is_some() {
            for (user, ..) in round {
                self.ensure_hidden(user)?;
            }
            let mut states = Vec::new();
            let mut rows = Vec::with_capacity(round.len());
            let mut items = Vec::with_capacity(round.len());
            for (user, item, ..) in round {
                let Some(state) = self.users.get(user) else {
                    return Err(ServeError::Scoring(format!(
                        "user `{user}` left memory mid-step"
                    )));
                };
                states.extend_from_slice(state.hidden.as_deref().unwrap_or_default());
                rows.push(self.user_row(state));
                items.push(item.0);
            }
            let next = match self.gru() {
                Some(gru) => gru.advance(&states, &rows, &items)?,
                None => unreachable!("checked above"),
            };
            let n = next.len() / round.len();
            for ((user, ..), hidden) in round.iter().zip(next.chunks_exact(n)) {
                if let Some(state) = self.users.get_mut(user) {
                    state.hidden = Some(hidden.to_vec());
                }
            }
        }
        for (user, item, time, seq) in round {
            if let Some(state) = self.users.get_mut(user) {
                state.history.push(*item);
                state.times.push(*time);
                state.mark_applied(*seq);
            }
        }
        Ok(())
    }

    /// Forgets what happened online to `user`: back to the data's state
    /// (or gone, for a user created online). Returns whether there was
    /// anything to forget.
    pub fn remove_user(&mut self, user: &str) -> bool {
        match self.users.remove(user) {
            Some(state) => {
                if self.log.is_none() && state.index.is_none() {
                    self.created_online -= 1;
                }
                true
            }
            None => false,
        }
    }
}
