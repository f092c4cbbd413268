//! Online use of a trained GRU: each user's hidden state lives on the host
//! and advances by one cell step per new event, so recommending after every
//! event costs one step and one scoring pass instead of a replay of the
//! history. Several users advance together (one lane each), as a service
//! batches concurrent requests.
//!
//! A user the model was not trained on has no row in the user embedding;
//! the user-based cells then see a zero user embedding (no user signal,
//! only the sequence), which the standard GRU never reads anyway.

use crate::{GruError, GruScorer};
use burn::tensor::{Tensor, TensorData};
use seqrec_core::{ItemId, Query, UserId};

/// The user embedding row of one user, or none for a user the model has not seen.
pub type UserRow = Option<u32>;

fn backend(e: impl std::fmt::Debug) -> GruError {
    GruError::Backend(format!("{e:?}"))
}

impl GruScorer {
    /// The hidden size n: a user's state is `n` floats (zeros before the
    /// first event).
    pub fn state_size(&self) -> usize {
        self.model().hidden()
    }

    /// Advances `states` (`[k × n]`, row-major, one row per user) by one
    /// event each: user `users[r]` consumed catalogue item `items[r]`.
    /// Returns the new states in the same layout.
    pub fn advance(
        &self,
        states: &[f32],
        users: &[UserRow],
        items: &[u32],
    ) -> Result<Vec<f32>, GruError> {
        let model = self.model();
        let (n, k) = (model.hidden(), items.len());
        if states.len() != k * n || users.len() != k {
            return Err(GruError::Backend(format!(
                "advance: {} state values, {} users and {k} items for hidden size {n}",
                states.len(),
                users.len()
            )));
        }
        if let Some(bad) = items.iter().find(|&&i| i as usize >= model.items()) {
            return Err(GruError::Backend(format!(
                "advance: item {bad} outside the catalogue of {}",
                model.items()
            )));
        }
        let known = model.users();
        // The standard GRU has no user embedding and ignores who the user is.
        if known > 0
            && let Some(bad) = users.iter().flatten().find(|&&u| u as usize >= known)
        {
            return Err(GruError::Backend(format!(
                "advance: user row {bad} outside the {known} users of the model"
            )));
        }
        if k == 0 {
            return Ok(Vec::new());
        }
        let device = self.device();
        let h = Tensor::<2>::from_data(TensorData::new(states.to_vec(), [k, n]), device);
        let e_i = model.embed_items(items, device);
        let e_v = if known == 0 {
            None
        } else {
            let rows: Vec<u32> = users.iter().map(|u| u.unwrap_or(0)).collect();
            let embedded = model.embed_users(&rows, device);
            match embedded {
                Some(e) if users.iter().any(Option::is_none) => {
                    let keep: Vec<f32> = users.iter().map(|u| f32::from(u.is_some())).collect();
                    Some(e * Tensor::<2>::from_data(TensorData::new(keep, [k, 1]), device))
                }
                other => other,
            }
        };
        let cell = &model.cell;
        let precision = self.precision();
        let next = cell.step_projected(
            &cell.step_weights(precision),
            h,
            cell.project(e_i, e_v, precision),
        );
        next.into_data().try_to_vec::<f32>().map_err(backend)
    }

    /// The scores of every catalogue item after `states` (`[k × n]`), into
    /// `scores` (`[k × items]`): what the scorer gives after the history
    /// that led to each state.
    pub fn scores_from_states(&self, states: &[f32], scores: &mut [f32]) -> Result<(), GruError> {
        let model = self.model();
        let (n, items) = (model.hidden(), model.items());
        let k = states.len() / n.max(1);
        if states.len() != k * n || scores.len() != k * items {
            return Err(GruError::Backend(format!(
                "scores_from_states: {} state values and {} score slots for hidden size {n} and {items} items",
                states.len(),
                scores.len()
            )));
        }
        if let Some(host) = self.host_output() {
            return host.scores(states, scores, self.precision().host_rounding());
        }
        let h = Tensor::<2>::from_data(TensorData::new(states.to_vec(), [k, n]), self.device());
        let values = model
            .logits(h, self.precision())
            .into_data()
            .try_to_vec::<f32>()
            .map_err(backend)?;
        scores.copy_from_slice(&values);
        Ok(())
    }

    /// The state of training user `user` after `history` (the offline
    /// scorer's path: the same numbers as scoring that history).
    pub fn state_after(
        &self,
        user: UserId,
        history: &[ItemId],
        times: &[i64],
    ) -> Result<Vec<f32>, GruError> {
        let query = Query {
            user,
            history,
            times,
        };
        self.states(&[query])
            .into_data()
            .try_to_vec::<f32>()
            .map_err(backend)
    }

    /// The user embedding rows of `users` (for callers that hold indices).
    pub fn user_rows(&self, users: &[u32]) -> Vec<UserRow> {
        let known = self.model().users();
        users
            .iter()
            .map(|&u| ((u as usize) < known).then_some(u))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GruCellConfig, GruModelConfig, UserIntegration};
    use burn::tensor::Device;
    use seqrec_core::{Scorer, SeqRng};

    /// Stepping event by event from a zero state gives the scorer's scores
    /// after every prefix of the history, for every variant, on the host
    /// and the burn output path; a user outside the embedding is refused,
    /// and `None` means a zero user embedding.
    #[test]
    fn stepping_equals_scoring_the_whole_history() {
        let device = Device::flex();
        let (items, n, users) = (29, 5, 3);
        for integration in [
            UserIntegration::None,
            UserIntegration::Linear,
            UserIntegration::Rectified,
            UserIntegration::Attentional,
        ] {
            let config = GruModelConfig::new(
                items,
                users,
                GruCellConfig::new(n).with_integration(integration),
            );
            for host in [true, false] {
                let model = config.init(&device, &mut SeqRng::new(11));
                let scorer = GruScorer::new("gru", model, device.clone(), host);
                let history: Vec<ItemId> =
                    (0..8).map(|i| ItemId((i * 5 + 2) % items as u32)).collect();
                let times = [0i64; 8];
                let user = 2u32;
                let mut state = vec![0f32; scorer.state_size()];
                for t in 0..=history.len() {
                    let mut online = vec![0f32; items];
                    scorer
                        .scores_from_states(&state, &mut online)
                        .unwrap_or_else(|e| panic!("{e}"));
                    let query = Query {
                        user: UserId(user),
                        history: &history[..t],
                        times: &times[..t],
                    };
                    let mut offline = vec![0f32; items];
                    scorer
                        .score(&[query], &mut offline)
                        .unwrap_or_else(|e| panic!("{e}"));
                    for (a, b) in online.iter().zip(&offline) {
                        assert!(
                            (a - b).abs() < 1e-6,
                            "{integration:?} host={host} t={t}: {a} vs {b}"
                        );
                    }
                    if t < history.len() {
                        state = scorer
                            .advance(&state, &[Some(user)], &[history[t].0])
                            .unwrap_or_else(|e| panic!("{e}"));
                    }
                }
                if integration != UserIntegration::None {
                    assert!(scorer.advance(&state, &[Some(users as u32)], &[0]).is_err());
                }
                assert!(scorer.advance(&state, &[None], &[items as u32]).is_err());
                // Two lanes at once: the same as each alone.
                let both = scorer
                    .advance(
                        &[state.clone(), state.clone()].concat(),
                        &[Some(1), None],
                        &[3, 3],
                    )
                    .unwrap_or_else(|e| panic!("{e}"));
                let alone = scorer
                    .advance(&state, &[None], &[3])
                    .unwrap_or_else(|e| panic!("{e}"));
                for (a, b) in both[n..].iter().zip(&alone) {
                    assert!((a - b).abs() < 1e-6, "{integration:?}");
                }
                if integration != UserIntegration::None {
                    // A zero user embedding differs from user 1's.
                    assert_ne!(&both[..n], &both[n..], "{integration:?}");
                }
            }
        }
    }
}
