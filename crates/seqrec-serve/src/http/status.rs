//! The health checks (the full one, and the liveness and readiness
//! probes an orchestrator polls), the metrics and the API's own document.

use super::schema::{HealthOut, ProbeOut};
use super::*;

/// Whether the service can answer, and what it serves.
#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "operations",
    responses(
        (status = 200, description = "Serving", body = HealthOut),
        (status = 503, description = "A worker thread has stopped", body = HealthOut),
    )
)]
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
            let body = HealthOut {
                status: status.to_owned(),
                method: saved.method.name().to_owned(),
                dataset: saved.dataset.clone(),
                users: m.user_count(),
                items: m.model().data.items.len(),
                detail: detail.map(str::to_owned),
            };
            (code, Json(body)).into_response()
        }))
    })
    .await
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String))
)]
pub(super) async fn metrics(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let app2 = Arc::clone(&app);
    let state = blocking(move || {
        Ok(app2.service.with_model(|m| crate::metrics::ModelState {
            users: m.user_count(),
            resident_users: m.resident_users(),
            evictions: m.evictions(),
            version: m.model().version.clone(),
            method: m.model().saved.method.name().to_owned(),
            dataset: m.model().saved.dataset.clone(),
        }))
    })
    .await?;
    let text = app.service.metrics.render(&state);
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

/// Liveness: the process answers and its worker threads run (a restart
/// would help otherwise). Never touches the model.
#[utoipa::path(
    get,
    path = "/v1/health/live",
    tag = "operations",
    responses(
        (status = 200, description = "Alive", body = ProbeOut),
        (status = 503, description = "A worker thread has stopped", body = ProbeOut),
    )
)]
pub(super) async fn live(State(app): State<Arc<App>>) -> Response {
    match app.service.health() {
        crate::Health::WorkerStopped => probe(StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        crate::Health::Ok => probe(StatusCode::OK, "ok"),
    }
}

/// A probe's answer.
fn probe(code: StatusCode, status: &str) -> Response {
    let body = ProbeOut {
        status: status.to_owned(),
    };
    (code, Json(body)).into_response()
}

/// Readiness: the model is loaded (the port opens only after that) and
/// the service is not shutting down.
#[utoipa::path(
    get,
    path = "/v1/health/ready",
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = ProbeOut),
        (status = 503, description = "Draining or unavailable", body = ProbeOut),
    )
)]
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
    probe(code, status)
}

/// The API's OpenAPI 3.1 document, generated from the handlers' types.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object))
)]
pub(super) async fn openapi(State(app): State<Arc<App>>) -> Response {
    let _ = &app;
    (
        [(header::CONTENT_TYPE, "application/json")],
        super::openapi_json(),
    )
        .into_response()
}
