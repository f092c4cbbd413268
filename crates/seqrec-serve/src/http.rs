//! The HTTP API (axum): JSON in and out, every error a JSON object
//! `{"error": …}` with the status that says what went wrong.

use crate::online::{Event, ServeError};
use crate::service::{Service, ServiceError};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The largest request body taken.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The largest `k` of a recommendation request.
pub const MAX_K: usize = 1000;
/// The longest user or item id taken, in bytes (ids are kept in memory
/// and in the store for every event).
pub const MAX_ID_BYTES: usize = 256;

/// An id within [`MAX_ID_BYTES`], or a 422 naming where it was.
fn check_id(what: &str, id: &str) -> Result<(), ApiError> {
    if id.len() > MAX_ID_BYTES {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "{what}: {} bytes; ids may have at most {MAX_ID_BYTES}",
                id.len()
            ),
        ));
    }
    Ok(())
}

/// Who may call which route. Tokens go in `Authorization: Bearer <token>`.
#[derive(Clone, Debug, Default)]
pub struct Access {
    /// With it, `POST /v1/events` needs this token (or the admin token).
    pub events_token: Option<String>,
    /// With it, the admin routes (reload, deleting a user) need this
    /// token. Without it, while an events token is set, they are off.
    pub admin_token: Option<String>,
    /// Reads (recommendations, metrics) need one of the tokens too.
    pub auth_reads: bool,
}

impl Access {
    /// One token for every guarded route.
    pub fn one_token(token: impl Into<String>) -> Access {
        let token = token.into();
        Access {
            events_token: Some(token.clone()),
            admin_token: Some(token),
            auth_reads: false,
        }
    }

    /// Whether any route needs a token.
    pub fn guarded(&self) -> bool {
        self.events_token.is_some() || self.admin_token.is_some()
    }
}

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    pub service: Service,
    pub access: Access,
    /// The model directory a reload without a body loads: the one the
    /// service started with, then the last one a reload named.
    model_dir: Mutex<PathBuf>,
}

impl App {
    pub fn new(service: Service, access: Access, model_dir: PathBuf) -> App {
        App {
            service,
            access,
            model_dir: Mutex::new(model_dir),
        }
    }

    /// The model directory being served.
    pub fn model_dir(&self) -> PathBuf {
        self.model_dir
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Loads `dir` (default: [`App::model_dir`]) and swaps it in with the
    /// stored events replayed; on success `dir` becomes the model
    /// directory later reloads use.
    pub async fn reload(
        &self,
        dir: Option<PathBuf>,
    ) -> Result<(PathBuf, crate::Reloaded), ServiceError> {
        let dir = dir.unwrap_or_else(|| self.model_dir());
        let load_from = dir.clone();
        let model = tokio::task::spawn_blocking(move || crate::load_model(&load_from))
            .await
            .map_err(|e| ServiceError::Load(e.to_string()))??;
        let reloaded = self.service.reload(model).await?;
        *self.model_dir.lock().unwrap_or_else(|p| p.into_inner()) = dir.clone();
        Ok((dir, reloaded))
    }
}

/// A JSON error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Busy or shutting down: a client may try again (elsewhere).
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        ApiError::new(r.status(), r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, r.body_text())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::Serve(ServeError::UnknownUser(_)) => StatusCode::NOT_FOUND,
            ServiceError::Serve(ServeError::TooManyItems { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ServiceError::Stopped | ServiceError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<ServeError> for ApiError {
    fn from(e: ServeError) -> Self {
        ServiceError::Serve(e).into()
    }
}

/// The routes, with the body limit, access control and metrics.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/events", post(add_events))
        .route(
            "/v1/users/{user}/recommendations",
            get(user_recommendations),
        )
        .route("/v1/users/{user}", delete(delete_user))
        .route("/v1/recommendations", post(anonymous_recommendations))
        .route("/v1/admin/reload", post(reload))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .with_state(app)
}

/// Equal strings, compared in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer token of a request (the scheme's name in any case, as
/// RFC 7235 says).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// What a route does, for access control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RouteClass {
    /// Health checks: always open.
    Open,
    Read,
    Events,
    Admin,
}

fn route_class(method: &Method, route: &str) -> RouteClass {
    match (method, route) {
        (_, "/v1/health") => RouteClass::Open,
        (&Method::POST, "/v1/events") => RouteClass::Events,
        (&Method::POST, "/v1/admin/reload") | (&Method::DELETE, _) => RouteClass::Admin,
        _ => RouteClass::Read,
    }
}

/// `None` when `headers` may call a route of `class`; else the refusal.
fn refusal(access: &Access, class: RouteClass, headers: &HeaderMap) -> Option<Response> {
    let given = bearer(headers);
    let matches = |token: &Option<String>| {
        token
            .as_deref()
            .zip(given)
            .is_some_and(|(want, given)| constant_time_eq(given.as_bytes(), want.as_bytes()))
    };
    let admin = matches(&access.admin_token);
    let allowed = match class {
        RouteClass::Open => true,
        _ if !access.guarded() => true,
        RouteClass::Read => !access.auth_reads || admin || matches(&access.events_token),
        RouteClass::Events => admin || matches(&access.events_token),
        RouteClass::Admin if access.admin_token.is_none() => {
            return Some(
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "admin routes are off: the service has no admin token",
                )
                .into_response(),
            );
        }
        RouteClass::Admin => admin,
    };
    if allowed {
        return None;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this route needs `Authorization: Bearer <token>` with a token that grants it",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"seqrec\""),
    );
    Some(response)
}

/// Access control, then the request, then its metrics.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let class = route_class(request.method(), &route);
    let response = match refusal(&app.access, class, request.headers()) {
        Some(refused) => refused,
        None => next.run(request).await,
    };
    app.service.metrics.observe_request(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

/// Runs blocking model work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

async fn health(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
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

/// One event of `POST /v1/events`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventIn {
    user: String,
    item: String,
    #[serde(default)]
    timestamp: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsIn {
    events: Vec<EventIn>,
}

async fn add_events(
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
        events.push(Event::new(e.user, e.item, e.timestamp));
    }
    let applied = app.service.add_events(events).await?;
    Ok(Json(json!({
        "accepted": applied.accepted,
        "unknown_items": applied.unknown_items,
    })))
}

fn default_k() -> usize {
    20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendQuery {
    #[serde(default = "default_k")]
    k: usize,
    #[serde(default)]
    exclude_seen: bool,
}

fn check_k(k: usize) -> Result<(), ApiError> {
    if k == 0 || k > MAX_K {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("k must be between 1 and {MAX_K}, not {k}"),
        ));
    }
    Ok(())
}

fn items_json(list: &[seqrec_runner::model_dir::Recommendation]) -> Vec<Value> {
    list.iter()
        .map(|r| json!({ "item": r.item, "score": r.score, "title": r.title }))
        .collect()
}

async fn user_recommendations(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
    query: Result<Query<RecommendQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query?;
    check_k(q.k)?;
    check_id("user", &user)?;
    let list = app
        .service
        .recommend(user.clone(), q.k, q.exclude_seen)
        .await?;
    Ok(Json(json!({ "user": user, "items": items_json(&list) })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnonymousIn {
    items: Vec<String>,
    #[serde(default = "default_k")]
    k: usize,
}

async fn anonymous_recommendations(
    State(app): State<Arc<App>>,
    body: Result<Json<AnonymousIn>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body?;
    check_k(body.k)?;
    if body.items.len() > crate::MAX_ANONYMOUS_ITEMS {
        return Err(ServeError::TooManyItems {
            given: body.items.len(),
            max: crate::MAX_ANONYMOUS_ITEMS,
        }
        .into());
    }
    for (i, item) in body.items.iter().enumerate() {
        check_id(&format!("items[{i}]"), item)?;
    }
    let model = app.service.shared_model();
    blocking(move || {
        let list = crate::recommend_anonymous(&model, &body.items, body.k)?;
        Ok(Json(json!({ "items": items_json(&list) })))
    })
    .await
}

async fn delete_user(
    State(app): State<Arc<App>>,
    Path(user): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id("user", &user)?;
    if app.service.delete_user(user.clone()).await? {
        Ok(Json(json!({ "user": user, "deleted": true })))
    } else {
        Err(ServeError::UnknownUser(user).into())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReloadIn {
    /// Another model directory (default: the one being served).
    #[serde(default)]
    model: Option<PathBuf>,
}

async fn reload(
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
            "replayed": reloaded.replayed,
            "skipped_unknown_items": reloaded.skipped_unknown_items,
        }))),
        // The details (paths, file contents) stay in the server's log.
        Err(ServiceError::Load(e)) => {
            tracing::error!(error = %e, "reload refused: the model directory could not be loaded");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the model directory could not be loaded (the server's log says why); the model being served is unchanged",
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Result<Response, ApiError> {
    let app2 = Arc::clone(&app);
    let users = blocking(move || Ok(app2.service.with_model(|m| m.user_count()))).await?;
    let text = app.service.metrics.render(users);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
