//! What wraps every route: a request id (taken from `x-request-id` or
//! made here, and returned), an access log line per request (tower-http's
//! trace layer at info level, in a span `request` with method, uri and
//! id), a time
//! limit per request (tower-http) and a limit on requests in flight
//! (tower); error answers those layers make without a body become problem
//! documents like every other error.

use super::{ApiError, kind_of};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Body as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tower_http::request_id::{MakeRequestId, RequestId};

/// Limits of the HTTP layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    /// The longest a request may take; then 503 (`timeout`).
    pub request_timeout: Duration,
    /// Requests processed at once; more wait for a turn (within their
    /// timeout).
    pub max_in_flight: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            request_timeout: Duration::from_secs(30),
            max_in_flight: 1024,
        }
    }
}

/// Request ids `<start>-<n>`: the process's start time (ms, hex) and a
/// counter, unique per process and ordered by arrival.
#[derive(Clone, Debug)]
pub(super) struct SequentialIds {
    start: u64,
    next: Arc<AtomicU64>,
}

impl Default for SequentialIds {
    fn default() -> Self {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        SequentialIds {
            start,
            next: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl MakeRequestId for SequentialIds {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:x}-{n}", self.start))
            .ok()
            .map(RequestId::new)
    }
}

/// The span of one request in the access log.
pub(super) fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        target: "seqrec_serve::access",
        "request",
        method = %request.method(),
        uri = %request.uri(),
        id,
    )
}

/// An error status with an empty body (a timeout, a method the route does
/// not take) becomes a problem document; its headers (`Allow`) stay.
pub(super) async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let bare = (status.is_client_error() || status.is_server_error())
        && response.body().size_hint().exact() == Some(0);
    if !bare {
        return response;
    }
    let error = match status {
        StatusCode::SERVICE_UNAVAILABLE => ApiError::new(
            status,
            "the request took longer than the service's request timeout",
        )
        .kind("timeout"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(status, "this route does not take that method")
        }
        _ => ApiError::new(status, status.canonical_reason().unwrap_or("error"))
            .kind(kind_of(status)),
    };
    let (mut parts, _) = response.into_parts();
    let (problem, body) = error.into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(problem.headers);
    Response::from_parts(parts, body)
}
