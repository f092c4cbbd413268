//! Writes: events, deleting a user, reloading the model.

use super::*;

/// One event of `POST /v1/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventIn {
    user: String,
    item: String,
    #[serde(default)]
    timestamp: Option<i64>,
    /// The sender's id of the event: a repeat of a user's id is answered
    /// (counted in `duplicates`) but never stored or applied twice.
    #[serde(default)]
    event_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsIn {
    events: Vec<EventIn>,
}

pub(super) async fn add_events(
    State(app): State<Arc<App>>,
    body: Result<Json<EventsIn>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    let mut events = Vec::with_capacity(body.events.len());
    for (i, e) in body.events.into_iter().enumerate() {
        for (field, value) in [("user", &e.user), ("item", &e.item)] {
            if value.is_empty() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("events[{i}].{field}: must not be empty"),
                ));
            }
            check_id(&format!("events[{i}].{field}"), value)?;
        }
        app.check_owner(&format!("events[{i}]"), &e.user)?;
        let mut event = Event::new(e.user, e.item, e.timestamp);
        if let Some(id) = e.event_id {
            if id.is_empty() {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("events[{i}].event_id: must not be empty"),
                ));
            }
            check_id(&format!("events[{i}].event_id"), &id)?;
            event = event.with_id(id);
        }
        events.push(event);
    }
    let applied = app.service.add_events(events).await?;
    Ok(Json(json!({
        "accepted": applied.accepted,
        "duplicates": applied.duplicates,
        "unknown_items": applied.unknown_items,
    })))
}

pub(super) async fn delete_user(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id("user", &user)?;
    app.check_owner("user", &user)?;
    if app.service.delete_user(user.clone()).await? {
        Ok(Json(json!({ "user": user, "deleted": true })))
    } else {
        Err(ServeError::UnknownUser(user).into())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReloadIn {
    /// Another model directory (default: the one being served).
    #[serde(default)]
    model: Option<PathBuf>,
}

pub(super) async fn reload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // Only an empty body means "the model being served": a body that is
    // not declared JSON is refused, never taken for no body.
    let requested = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let json_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| {
                let t = t.trim().to_ascii_lowercase();
                t == "application/json" || t.ends_with("+json")
            });
        if !json_type {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON (`Content-Type: application/json`), or empty to reload the model being served",
            ));
        }
        serde_json::from_slice::<ReloadIn>(&body)
            .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("body: {e}")))?
            .model
    };
    match app.reload(requested).await {
        Ok((dir, reloaded)) => Ok(Json(json!({
            "model": dir.display().to_string(),
            "log_position": reloaded.log_position,
            "resident_users": reloaded.resident_users,
            "replayed": reloaded.replayed,
            "skipped_unknown_items": reloaded.skipped_unknown_items,
        }))),
        // The details (paths, file contents) stay in the server's log.
        Err(ServiceError::Load(e)) => {
            tracing::error!(error = %e, "reload refused: the model directory could not be loaded");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the model directory could not be loaded (the server's log says why); the model being served is unchanged",
            )
            .kind("model-load-failed"))
        }
        Err(e) => Err(e.into()),
    }
}
