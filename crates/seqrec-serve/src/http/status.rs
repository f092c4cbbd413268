//! The health checks (the full one, and the liveness and readiness
//! probes an orchestrator polls) and the Prometheus metrics.

use super::*;

pub(super) async fn health(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let app2 = Arc::clone(&app);
    blocking(move || {
        let (status, code, detail) = match app2.service.health() {
            crate::Health::Ok => ("ok", StatusCode::OK, None),
            crate::Health::WorkerStopped => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                Some(
                    "a worker thread has stopped: requests cannot be answered; restart the service",
                ),
            ),
        };
        Ok(app2.service.with_model(|m| {
            let saved = &m.model().saved;
            let mut body = json!({
                "status": status,
                "method": saved.method.name(),
                "dataset": saved.dataset,
                "users": m.user_count(),
                "items": m.model().data.items.len(),
            });
            if let Some(detail) = detail {
                body["detail"] = json!(detail);
            }
            (code, Json(body)).into_response()
        }))
    })
    .await
}

pub(super) async fn metrics(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let app2 = Arc::clone(&app);
    let users = blocking(move || Ok(app2.service.with_model(|m| m.user_count()))).await?;
    let text = app.service.metrics.render(users);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// Liveness: the process answers and its worker threads run (a restart
/// would help otherwise). Never touches the model.
pub(super) async fn live(State(app): State<Arc<App>>) -> Response {
    match app.service.health() {
        crate::Health::WorkerStopped => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable" })),
        )
            .into_response(),
        _ => Json(json!({ "status": "ok" })).into_response(),
    }
}

/// Readiness: the model is loaded (the port opens only after that) and
/// the service is not shutting down.
pub(super) async fn ready(State(app): State<Arc<App>>) -> Response {
    let status = if app.is_draining() {
        "draining"
    } else {
        match app.service.health() {
            crate::Health::Ok => "ready",
            crate::Health::WorkerStopped => "unavailable",
        }
    };
    let code = if status == "ready" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(json!({ "status": status }))).into_response()
}
