//! The scoring pass: the catalogue's scores for several users at once
//! (one product with a GRU's output layer, one call of a baseline's
//! scorer), users not in memory first rebuilt from the event log.

use crate::error::ServeError;
use crate::online::{Fault, OnlineModel};
use seqrec_core::{Query, UserId};

impl OnlineModel {
    /// The catalogue's scores for `user` now.
    pub fn scores(&mut self, user: &str) -> Result<Vec<f32>, ServeError> {
        let mut all = self.scores_many(&[user]);
        all.pop()
            .unwrap_or_else(|| Err(ServeError::Scoring("no scores".to_owned())))
    }

    /// The scores of several users in one scoring pass, one result per
    /// user in order: an unknown user fails alone.
    pub fn scores_many(&mut self, users: &[&str]) -> Vec<Result<Vec<f32>, ServeError>> {
        let (rows, scores) = self.score_pass(users);
        let items = self.model().scorer.as_scorer().catalogue_size();
        let out = rows
            .into_iter()
            .map(|row| row.map(|r| scores[r * items..(r + 1) * items].to_vec()))
            .collect();
        self.users.evict_over_capacity();
        out
    }

    /// One scoring pass for `users`: for each, its row in the returned
    /// buffer (`catalogue_size` scores per row) or why it has none. The
    /// users scored stay in memory until the caller evicts.
    pub(crate) fn score_pass(
        &mut self,
        users: &[&str],
    ) -> (Vec<Result<usize, ServeError>>, Vec<f32>) {
        let mut rows: Vec<Result<usize, ServeError>> = Vec::with_capacity(users.len());
        let mut ready: Vec<&str> = Vec::with_capacity(users.len());
        for &user in users {
            let state = match self.load(user, false) {
                Ok(true) => self.ensure_hidden(user),
                Ok(false) => Err(ServeError::UnknownUser(user.to_owned())),
                Err(e) => Err(e),
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
        let model = self.shared_model();
        let scorer = model.scorer.as_scorer();
        let mut scores = vec![0.0f32; ready.len() * scorer.catalogue_size()];
        if ready.is_empty() {
            return (rows, scores);
        }
        let pass = match self.gru() {
            Some(gru) => {
                let mut states = Vec::with_capacity(ready.len() * gru.state_size());
                for user in &ready {
                    let hidden = self.users.get(user).and_then(|s| s.hidden.as_deref());
                    states.extend_from_slice(hidden.unwrap_or_default());
                }
                gru.scores_from_states(&states, &mut scores)
                    .map_err(ServeError::from)
            }
            None => {
                let queries: Vec<Query<'_>> = ready
                    .iter()
                    .filter_map(|user| self.users.get(user))
                    .map(|state| Query {
                        // A user created online has no row: beyond the data's users.
                        user: UserId(state.index.unwrap_or(u32::MAX)),
                        history: &state.history,
                        times: &state.times,
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
}
