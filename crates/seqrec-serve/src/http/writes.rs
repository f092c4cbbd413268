//! Writes: events, deleting a user, reloading the model.

use super::schema::{DeletedOut, EventsIn, EventsOut, Problem, ReloadIn, ReloadOut};
use super::*;

/// Stores events durably, then applies them.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    request_body = EventsIn,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Durable and applied", body = EventsOut),
        (status = 400, description = "Malformed JSON", body = Problem),
        (status = 401, description = "A token is needed", body = Problem),
        (status = 421, description = "A user belongs to another partition", body = Problem),
        (status = 422, description = "A malformed event (nothing stored)", body = Problem),
        (status = 503, description = "Busy (Retry-After) or shutting down", body = Problem),
    )
)]
pub(super) async fn add_events(
    State(app): State<Arc<App>>,
    body: Result<Json<EventsIn>, JsonRejection>,
) -> Result<Json<EventsOut>, ApiError> {
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
    Ok(Json(EventsOut {
        accepted: applied.accepted,
        duplicates: applied.duplicates,
        unknown_items: applied.unknown_items,
    }))
}

/// Removes a user's stored events, event ids and state durably.
#[utoipa::path(
    delete,
    path = "/v1/users/{user}",
    tag = "admin",
    params(("user" = String, Path, description = "The user's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = DeletedOut),
        (status = 403, description = "Admin routes are off", body = Problem),
        (status = 404, description = "The service does not know the user", body = Problem),
        (status = 421, description = "The user belongs to another partition", body = Problem),
    )
)]
pub(super) async fn delete_user(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
) -> Result<Json<DeletedOut>, ApiError> {
    check_id("user", &user)?;
    app.check_owner("user", &user)?;
    if app.service.delete_user(user.clone()).await? {
        Ok(Json(DeletedOut {
            user,
            deleted: true,
        }))
    } else {
        Err(ServeError::UnknownUser(user).into())
    }
}

/// Loads a model directory and swaps it in (writes go on meanwhile).
#[utoipa::path(
    post,
    path = "/v1/admin/reload",
    tag = "admin",
    request_body(content = Option<ReloadIn>, description = "Empty: reload the model being served"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Swapped in", body = ReloadOut),
        (status = 409, description = "Another reload is being prepared", body = Problem),
        (status = 415, description = "A body that is not JSON", body = Problem),
        (status = 422, description = "The directory does not load (the model served is unchanged)", body = Problem),
    )
)]
pub(super) async fn reload(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<ReloadOut>, ApiError> {
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
        Ok((dir, reloaded)) => Ok(Json(ReloadOut {
            model: dir.display().to_string(),
            log_position: reloaded.log_position,
            resident_users: reloaded.resident_users,
            replayed: reloaded.replayed,
            skipped_unknown_items: reloaded.skipped_unknown_items,
        })),
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
