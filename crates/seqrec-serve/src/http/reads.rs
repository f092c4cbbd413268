//! Recommendation reads: a user's top items (items excluded on request,
//! a cold start for an unknown user), a batch of users in one scoring
//! pass, and the top items after an anonymous sequence.

use super::schema::{
    AnonymousIn, AnonymousOut, BatchIn, BatchOut, ItemOut, Problem, RecommendQuery,
    RecommendationsOut,
};
use super::*;

/// A user's top `k` now.
#[utoipa::path(
    get,
    path = "/v1/users/{user}/recommendations",
    tag = "recommendations",
    params(("user" = String, Path, description = "The user's id"), RecommendQuery),
    responses(
        (status = 200, description = "The user's top items (an unknown user: a cold start)", body = RecommendationsOut),
        (status = 400, description = "A bad query or k", body = Problem),
        (status = 421, description = "The user belongs to another partition", body = Problem),
        (status = 422, description = "An id over 256 bytes, or too many exclusions", body = Problem),
        (status = 503, description = "Busy or shutting down", body = Problem),
    )
)]
pub(super) async fn user_recommendations(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
    query: Result<Query<RecommendQuery>, QueryRejection>,
) -> Result<Json<RecommendationsOut>, ApiError> {
    let Query(q) = query?;
    check_k(q.k)?;
    check_id("user", &user)?;
    app.check_owner("user", &user)?;
    let exclude: Vec<String> = q
        .exclude
        .iter()
        .flat_map(|list| list.split(','))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect();
    check_exclude(&exclude)?;
    let request = RecommendRequest {
        user: user.clone(),
        k: q.k,
        exclude_seen: q.exclude_seen,
        exclude,
    };
    let answer = app.service.recommend(request).await?;
    Ok(Json(user_out(&user, answer)))
}

/// The most items one request may exclude.
pub const MAX_EXCLUDED: usize = 1000;

fn check_exclude(exclude: &[String]) -> Result<(), ApiError> {
    if exclude.len() > MAX_EXCLUDED {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("exclude: {} items; at most {MAX_EXCLUDED}", exclude.len()),
        ));
    }
    for (i, id) in exclude.iter().enumerate() {
        check_id(&format!("exclude[{i}]"), id)?;
    }
    Ok(())
}

fn items_out(list: Vec<seqrec_runner::model_dir::Recommendation>) -> Vec<ItemOut> {
    list.into_iter()
        .map(|r| ItemOut {
            item: r.item,
            score: r.score,
            title: r.title,
        })
        .collect()
}

fn user_out(user: &str, answer: UserRecommendations) -> RecommendationsOut {
    RecommendationsOut {
        user: user.to_owned(),
        items: items_out(answer.items),
        model_version: answer.model_version,
        cold_start: answer.cold_start.then_some(true),
    }
}

/// The most users of one batch read.
pub const MAX_BATCH_USERS: usize = 1000;

/// Several users' top items in one scoring pass.
#[utoipa::path(
    post,
    path = "/v1/recommendations:batch",
    tag = "recommendations",
    request_body = BatchIn,
    responses(
        (status = 200, description = "One result per user, in order, each as the single read answers it", body = BatchOut),
        (status = 421, description = "A user belongs to another partition", body = Problem),
        (status = 422, description = "No users, more than 1,000, or a bad id", body = Problem),
    )
)]
pub(super) async fn batch_recommendations(
    State(app): State<Arc<App>>,
    body: Result<Json<BatchIn>, JsonRejection>,
) -> Result<Json<BatchOut>, ApiError> {
    let Json(body) = body?;
    check_k(body.k)?;
    if body.users.is_empty() || body.users.len() > MAX_BATCH_USERS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "users: {} given; a batch has 1 to {MAX_BATCH_USERS}",
                body.users.len()
            ),
        ));
    }
    for (i, user) in body.users.iter().enumerate() {
        check_id(&format!("users[{i}]"), user)?;
        app.check_owner(&format!("users[{i}]"), user)?;
    }
    let requests: Vec<RecommendRequest> = body
        .users
        .iter()
        .map(|user| RecommendRequest {
            exclude_seen: body.exclude_seen,
            ..RecommendRequest::new(user.clone(), body.k)
        })
        .collect();
    blocking(move || {
        let answers = app.service.recommend_batch(&requests);
        let mut results = Vec::with_capacity(answers.len());
        for (request, answer) in requests.iter().zip(answers) {
            results.push(user_out(&request.user, answer?));
        }
        Ok(Json(BatchOut { results }))
    })
    .await
}

/// The top items after an anonymous sequence (nothing stored).
#[utoipa::path(
    post,
    path = "/v1/recommendations",
    tag = "recommendations",
    request_body = AnonymousIn,
    responses(
        (status = 200, description = "The top items", body = AnonymousOut),
        (status = 422, description = "More than 1,000 items, or a bad id", body = Problem),
    )
)]
pub(super) async fn anonymous_recommendations(
    State(app): State<Arc<App>>,
    body: Result<Json<AnonymousIn>, JsonRejection>,
) -> Result<Json<AnonymousOut>, ApiError> {
    let Json(body) = body?;
    check_k(body.k)?;
    // `recommend_anonymous` refuses a sequence over its cap.
    for (i, item) in body.items.iter().enumerate() {
        check_id(&format!("items[{i}]"), item)?;
    }
    let model = app.service.shared_model();
    blocking(move || {
        let list = crate::recommend_anonymous(&model, &body.items, body.k)?;
        Ok(Json(AnonymousOut {
            items: items_out(list),
            model_version: model.version.clone(),
        }))
    })
    .await
}
