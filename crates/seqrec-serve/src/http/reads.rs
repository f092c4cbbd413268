//! Recommendation reads: a user's top items (items excluded on request,
//! a cold start for an unknown user), a batch of users in one scoring
//! pass, and the top items after an anonymous sequence.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecommendQuery {
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    exclude_seen: bool,
    /// Item ids to leave out, comma-separated.
    #[serde(default)]
    exclude: Option<String>,
}

pub(super) async fn user_recommendations(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
    query: Result<Query<RecommendQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(user_json(&user, &answer)))
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

fn user_json(user: &str, answer: &UserRecommendations) -> Value {
    let mut body = json!({
        "user": user,
        "items": items_json(&answer.items),
        "model_version": answer.model_version,
    });
    if answer.cold_start {
        body["cold_start"] = json!(true);
    }
    body
}

/// The most users of one batch read.
pub const MAX_BATCH_USERS: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchIn {
    users: Vec<String>,
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    exclude_seen: bool,
}

pub(super) async fn batch_recommendations(
    State(app): State<Arc<App>>,
    body: Result<Json<BatchIn>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
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
            results.push(user_json(&request.user, &answer?));
        }
        Ok(Json(json!({ "results": results })))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AnonymousIn {
    items: Vec<String>,
    #[serde(default = "default_k")]
    k: usize,
}

pub(super) async fn anonymous_recommendations(
    State(app): State<Arc<App>>,
    body: Result<Json<AnonymousIn>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    check_k(body.k)?;
    // `recommend_anonymous` refuses a sequence over its cap.
    for (i, item) in body.items.iter().enumerate() {
        check_id(&format!("items[{i}]"), item)?;
    }
    let model = app.service.shared_model();
    blocking(move || {
        let list = crate::recommend_anonymous(&model, &body.items, body.k)?;
        Ok(Json(json!({
            "items": items_json(&list),
            "model_version": model.version,
        })))
    })
    .await
}
