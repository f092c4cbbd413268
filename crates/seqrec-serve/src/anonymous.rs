//! Recommendations after an anonymous sequence of items: no user, nothing
//! stored. They need the model alone, never the users' states, so they run
//! without the model lock and cannot hold up other requests.

use crate::error::ServeError;
use seqrec_core::{ItemId, Query, UserId};
use seqrec_runner::model_dir::{self, LoadedModel, ModelScorer, Recommendation};

/// The most items an anonymous sequence may have: each costs a GRU step.
pub const MAX_ANONYMOUS_ITEMS: usize = 1000;

/// The `k` best items after `items` (original ids; unknown ones are
/// skipped), ranked as the model ranks a user with no row of their own.
pub fn recommend_anonymous(
    model: &LoadedModel,
    items: &[String],
    k: usize,
) -> Result<Vec<Recommendation>, ServeError> {
    if items.len() > MAX_ANONYMOUS_ITEMS {
        return Err(ServeError::TooManyItems {
            given: items.len(),
            max: MAX_ANONYMOUS_ITEMS,
        });
    }
    let history: Vec<ItemId> = items
        .iter()
        .filter_map(|i| model.data.items.find(i))
        .map(|i| ItemId(i as u32))
        .collect();
    let scores = scores_after(model, &history)?;
    Ok(model_dir::top_items(
        &scores,
        &history,
        k,
        false,
        &model.data.items,
        model.titles.as_ref(),
    ))
}

/// The catalogue's scores after `history`, for a user with no row of their
/// own (an empty `history`: a cold start).
pub(crate) fn scores_after(
    model: &LoadedModel,
    history: &[ItemId],
) -> Result<Vec<f32>, ServeError> {
    let scorer = model.scorer.as_scorer();
    let mut scores = vec![0.0f32; scorer.catalogue_size()];
    match &model.scorer {
        ModelScorer::Gru(gru) => {
            let mut hidden = vec![0.0f32; gru.state_size()];
            for item in history {
                hidden = gru.advance(&hidden, &[None], &[item.0])?;
            }
            gru.scores_from_states(&hidden, &mut scores)?;
        }
        ModelScorer::Baseline(_) => {
            let times = vec![0i64; history.len()];
            let query = Query {
                user: UserId(u32::MAX),
                history,
                times: &times,
            };
            scorer.score(&[query], &mut scores)?;
        }
    }
    Ok(scores)
}
