//! [`OnlineModel`]: per-user state over a loaded model directory.

pub use crate::error::ServeError;
use seqrec_core::{ItemId, Part, Query, UserId};
use seqrec_models::GruScorer;
use seqrec_models::online::UserRow;
use seqrec_runner::model_dir::{LoadedModel, ModelScorer};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

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

/// One event: `user` consumed `item` (original ids), at `timestamp` (seconds;
/// absent: the time of the user's previous event, or 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub user: String,
    pub item: String,
    pub timestamp: Option<i64>,
    /// The sender's id of the event: a second event of the same user with
    /// the same id is a repeat (a retry), stored and applied once only.
    pub event_id: Option<String>,
}

impl Event {
    pub fn new(user: impl Into<String>, item: impl Into<String>, timestamp: Option<i64>) -> Self {
        Event {
            user: user.into(),
            item: item.into(),
            timestamp,
            event_id: None,
        }
    }

    /// This event with the sender's id `id`.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.event_id = Some(id.into());
        self
    }
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

/// One user's state.
#[derive(Clone, Debug)]
struct UserState {
    /// The user's index in the model's data (`None`: a user created online).
    index: Option<u32>,
    history: Vec<ItemId>,
    times: Vec<i64>,
    /// GRU: the hidden state after `history` (computed on first use).
    hidden: Option<Vec<f32>>,
}

/// Users' states over a loaded model; see the crate documentation.
#[derive(Debug)]
pub struct OnlineModel {
    /// Shared, so anonymous requests can score without the model lock.
    model: Arc<LoadedModel>,
    start: Start,
    /// Users touched so far (the others are still as in the data), by
    /// original id: a B-tree, so no hash order decides anything.
    users: BTreeMap<String, UserState>,
    /// Of `users`, those created online (not in the model's data): kept
    /// as users come and go, so counting users never scans them.
    created_online: usize,
    fault: Option<Fault>,
}

impl OnlineModel {
    pub fn new(model: LoadedModel, start: Start) -> Self {
        OnlineModel {
            model: Arc::new(model),
            start,
            users: BTreeMap::new(),
            created_online: 0,
            fault: None,
        }
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

    fn gru(&self) -> Option<&GruScorer> {
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
        Some(UserState {
            index: Some(index as u32),
            history: sequences.items(id)[..end].to_vec(),
            times: sequences.timestamps(id)[..end].to_vec(),
            hidden: None,
        })
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

    /// Whether the model knows `user` (from its data or created online).
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user) || self.model.data.users.find(user).is_some()
    }

    /// The user's state, created from the data or empty.
    fn state_mut(&mut self, user: &str) -> &mut UserState {
        if !self.users.contains_key(user) {
            let state = self.initial(user).unwrap_or(UserState {
                index: None,
                history: Vec::new(),
                times: Vec::new(),
                hidden: None,
            });
            if state.index.is_none() {
                self.created_online += 1;
            }
            self.users.insert(user.to_owned(), state);
        }
        match self.users.get_mut(user) {
            Some(state) => state,
            None => unreachable!("inserted above"),
        }
    }

    /// The GRU state of `user` after their history, replayed once.
    fn ensure_hidden(&mut self, user: &str) -> Result<(), ServeError> {
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
        let mut applied = Applied::default();
        let mut round: Vec<(String, ItemId, i64)> = Vec::new();
        // The users of `round`: a set, so a batch of n distinct users costs
        // n log n, not n² (a start-up replay is one batch of every event).
        let mut in_round: BTreeSet<&str> = BTreeSet::new();
        for event in events {
            applied.accepted += 1;
            self.state_mut(&event.user);
            let Some(item) = self.model.data.items.find(&event.item) else {
                applied.unknown_items += 1;
                continue;
            };
            if !in_round.insert(event.user.as_str()) {
                self.advance(&round)?;
                round.clear();
                in_round.clear();
                in_round.insert(event.user.as_str());
            }
            let previous = self.users[&event.user].times.last().copied();
            let time = event.timestamp.or(previous).unwrap_or(0);
            round.push((event.user.clone(), ItemId(item as u32), time));
        }
        self.advance(&round)?;
        Ok(applied)
    }

    /// One event each for distinct users: one GRU step for all of them.
    fn advance(&mut self, round: &[(String, ItemId, i64)]) -> Result<(), ServeError> {
        if round.is_empty() {
            return Ok(());
        }
        self.apply_fault()?;
        if self.gru().is_some() {
            for (user, _, _) in round {
                self.ensure_hidden(user)?;
            }
            let mut states = Vec::new();
            let mut rows = Vec::with_capacity(round.len());
            let mut items = Vec::with_capacity(round.len());
            for (user, item, _) in round {
                let state = &self.users[user];
                states.extend_from_slice(state.hidden.as_deref().unwrap_or_default());
                rows.push(self.user_row(state));
                items.push(item.0);
            }
            let next = match self.gru() {
                Some(gru) => gru.advance(&states, &rows, &items)?,
                None => unreachable!("checked above"),
            };
            let n = next.len() / round.len();
            for ((user, _, _), hidden) in round.iter().zip(next.chunks_exact(n)) {
                if let Some(state) = self.users.get_mut(user) {
                    state.hidden = Some(hidden.to_vec());
                }
            }
        }
        for (user, item, time) in round {
            if let Some(state) = self.users.get_mut(user) {
                state.history.push(*item);
                state.times.push(*time);
            }
        }
        Ok(())
    }

    /// The catalogue's scores for `user` now.
    pub fn scores(&mut self, user: &str) -> Result<Vec<f32>, ServeError> {
        let mut all = self.scores_many(&[user]);
        all.pop()
            .unwrap_or_else(|| Err(ServeError::Scoring("no scores".to_owned())))
    }

    /// The scores of several users in one scoring pass (one product with
    /// the GRU's output layer, one call of a baseline's scorer), one result
    /// per user in order: an unknown user fails alone.
    pub fn scores_many(&mut self, users: &[&str]) -> Vec<Result<Vec<f32>, ServeError>> {
        let (rows, scores) = self.score_pass(users);
        let items = self.model.scorer.as_scorer().catalogue_size();
        rows.into_iter()
            .map(|row| row.map(|r| scores[r * items..(r + 1) * items].to_vec()))
            .collect()
    }

    /// One scoring pass for `users`: for each, its row in the returned
    /// buffer (`catalogue_size` scores per row) or why it has none.
    pub(crate) fn score_pass(
        &mut self,
        users: &[&str],
    ) -> (Vec<Result<usize, ServeError>>, Vec<f32>) {
        let mut rows: Vec<Result<usize, ServeError>> = Vec::with_capacity(users.len());
        let mut ready: Vec<&str> = Vec::with_capacity(users.len());
        for &user in users {
            let state = if self.has_user(user) {
                self.state_mut(user);
                self.ensure_hidden(user)
            } else {
                Err(ServeError::UnknownUser(user.to_owned()))
            };
            rows.push(state.map(|()| {
                ready.push(user);
                ready.len() - 1
            }));
        }
        if self.fault == Some(Fault::PanicInScoring) {
            self.fault = None;
            panic!("injected fault");
        }
        let scorer = self.model.scorer.as_scorer();
        let mut scores = vec![0.0f32; ready.len() * scorer.catalogue_size()];
        if ready.is_empty() {
            return (rows, scores);
        }
        let pass = match self.gru() {
            Some(gru) => {
                let mut states = Vec::with_capacity(ready.len() * gru.state_size());
                for user in &ready {
                    states
                        .extend_from_slice(self.users[*user].hidden.as_deref().unwrap_or_default());
                }
                gru.scores_from_states(&states, &mut scores)
                    .map_err(ServeError::from)
            }
            None => {
                let queries: Vec<Query<'_>> = ready
                    .iter()
                    .map(|user| {
                        let state = &self.users[*user];
                        Query {
                            // A user created online has no row: beyond the data's users.
                            user: UserId(state.index.unwrap_or(u32::MAX)),
                            history: &state.history,
                            times: &state.times,
                        }
                    })
                    .collect();
                scorer
                    .score(&queries, &mut scores)
                    .map_err(ServeError::from)
            }
        };
        if let Err(e) = pass {
            for row in rows.iter_mut().filter(|r| r.is_ok()) {
                *row = Err(ServeError::Scoring(e.to_string()));
            }
        }
        (rows, scores)
    }

    /// Forgets what happened online to `user`: back to the data's state
    /// (or gone, for a user created online). Returns whether there was
    /// anything to forget.
    pub fn remove_user(&mut self, user: &str) -> bool {
        match self.users.remove(user) {
            Some(state) => {
                if state.index.is_none() {
                    self.created_online -= 1;
                }
                true
            }
            None => false,
        }
    }
}
