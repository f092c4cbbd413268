//! A user's top items: one scoring pass for many users, items excluded on
//! request, and the cold start of a user the service has never seen (the
//! recommendations of an empty state, flagged as such).

use crate::anonymous::scores_after;
use crate::error::ServeError;
use crate::online::OnlineModel;
use seqrec_core::ItemId;
use seqrec_runner::model_dir::{self, Recommendation};

/// A request for one user's top `k`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecommendRequest {
    pub user: String,
    pub k: usize,
    /// Leave out the items the user has consumed.
    pub exclude_seen: bool,
    /// Leave out these items (original ids; unknown ones are ignored).
    pub exclude: Vec<String>,
}

impl RecommendRequest {
    pub fn new(user: impl Into<String>, k: usize) -> Self {
        RecommendRequest {
            user: user.into(),
            k,
            ..RecommendRequest::default()
        }
    }
}

/// A user's recommendations.
#[derive(Clone, Debug, PartialEq)]
pub struct UserRecommendations {
    pub items: Vec<Recommendation>,
    /// The user is unknown (neither in the model's data nor created
    /// online): these are the recommendations of an empty state, and
    /// nothing was stored for them.
    pub cold_start: bool,
    /// The version of the model that ranked them
    /// ([`seqrec_runner::model_dir::LoadedModel::version`]).
    pub model_version: String,
}

impl OnlineModel {
    /// The `k` best items for `user` now.
    pub fn recommend(
        &mut self,
        user: &str,
        k: usize,
        exclude_seen: bool,
    ) -> Result<UserRecommendations, ServeError> {
        let request = RecommendRequest {
            exclude_seen,
            ..RecommendRequest::new(user, k)
        };
        let mut all = self.recommend_many(std::slice::from_ref(&request));
        all.pop()
            .unwrap_or_else(|| Err(ServeError::Scoring("no answer".to_owned())))
    }

    /// [`OnlineModel::recommend`] for several requests with one scoring
    /// pass (how the service answers concurrent reads and batch reads).
    pub fn recommend_many(
        &mut self,
        requests: &[RecommendRequest],
    ) -> Vec<Result<UserRecommendations, ServeError>> {
        let users: Vec<&str> = requests.iter().map(|r| r.user.as_str()).collect();
        let (rows, scores) = self.score_pass(&users);
        let items = self.model().scorer.as_scorer().catalogue_size();
        // An empty state scores the same for every unknown user: once.
        let mut cold: Option<Result<Vec<f32>, String>> = None;
        let mut answers = Vec::with_capacity(requests.len());
        for (request, row) in requests.iter().zip(rows) {
            let answer = match row {
                Ok(row) => {
                    let history = self.history(&request.user).unwrap_or_default();
                    Ok(self.top(
                        &scores[row * items..(row + 1) * items],
                        history,
                        request,
                        false,
                    ))
                }
                Err(ServeError::UnknownUser(_)) => {
                    let cold = cold.get_or_insert_with(|| {
                        scores_after(self.model(), &[]).map_err(|e| e.to_string())
                    });
                    match cold {
                        Ok(scores) => Ok(self.top(scores, &[], request, true)),
                        Err(e) => Err(ServeError::Scoring(e.clone())),
                    }
                }
                Err(e) => Err(e),
            };
            answers.push(answer);
        }
        self.users.evict_over_capacity();
        answers
    }

    /// The top of `scores` without the excluded items.
    fn top(
        &self,
        scores: &[f32],
        history: &[ItemId],
        request: &RecommendRequest,
        cold_start: bool,
    ) -> UserRecommendations {
        let model = self.model();
        let mut excluded: Vec<ItemId> = if request.exclude_seen {
            history.to_vec()
        } else {
            Vec::new()
        };
        excluded.extend(
            request
                .exclude
                .iter()
                .filter_map(|id| model.data.items.find(id))
                .map(|i| ItemId(i as u32)),
        );
        UserRecommendations {
            items: model_dir::top_items(
                scores,
                &excluded,
                request.k,
                true,
                &model.data.items,
                model.titles.as_ref(),
            ),
            cold_start,
            model_version: model.version.clone(),
        }
    }
}
