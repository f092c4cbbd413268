//! The health check and the Prometheus metrics.

use super::*;

pub(super) async fn health(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let app2 = Arc::clone(&app);
    blocking(move || {
        let (status, code, detail) = match app2.service.health() {
            crate::Health::Ok => ("ok", StatusCode::OK, None),
            crate::Health::WorkerStopped => (
                "unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
                Some("a worker thread has stopped: requests cannot be answered; restart the service"),
            ),
            crate::Health::Diverged => (
                "diverged",
                StatusCode::SERVICE_UNAVAILABLE,
                Some("stored events could not be applied: some users' state lacks them until a reload or restart (see the log)"),
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
