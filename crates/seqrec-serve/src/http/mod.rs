//! The HTTP API (axum): JSON in and out, every error a problem document
//! (RFC 9457) with the status that says what went wrong.

use crate::error::ServeError;
use crate::error::ServiceError;
use crate::online::Event;
use crate::recommend::{RecommendRequest, UserRecommendations};
use crate::service::Service;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

mod access;
mod layers;
mod reads;
pub mod schema;
mod status;
mod writes;

pub use access::Access;
use access::guard;
pub use layers::HttpOptions;

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
        )
        .kind("id-too-long"));
    }
    Ok(())
}

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    pub service: Service,
    pub access: Access,
    /// The model directory a reload without a body loads: the one the
    /// service started with, then the last one a reload named.
    model_dir: Mutex<PathBuf>,
    /// Set once shutdown has begun: the readiness probe then says no.
    draining: std::sync::atomic::AtomicBool,
    /// Request time limit and requests in flight.
    pub http: HttpOptions,
    /// Where the model directory being served is recorded (in the store's
    /// directory), so a restart can serve the model a reload left.
    serving_file: Option<PathBuf>,
    /// The users this replica owns (`None`: all).
    partition: Option<crate::partition::Partition>,
}

/// The file in a store's directory naming the model directory served.
pub const SERVING_FILE: &str = "serving.json";

/// The model directory a store's directory records as served, if any.
pub fn recorded_model(store_dir: &std::path::Path) -> Result<Option<PathBuf>, String> {
    let path = store_dir.join(SERVING_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match value.get("model").and_then(Value::as_str) {
        Some(model) => Ok(Some(PathBuf::from(model))),
        None => Err(format!("{}: no \"model\" string", path.display())),
    }
}

impl App {
    pub fn new(service: Service, access: Access, model_dir: PathBuf) -> App {
        App {
            service,
            access,
            model_dir: Mutex::new(model_dir),
            draining: std::sync::atomic::AtomicBool::new(false),
            http: HttpOptions::default(),
            serving_file: None,
            partition: None,
        }
    }

    /// This app serving the users of `partition` only: requests about
    /// other users are answered 421 with the partition that owns them.
    pub fn with_partition(mut self, partition: crate::partition::Partition) -> App {
        self.partition = Some(partition);
        self
    }

    /// 421 unless this replica owns `user` (`what` says where it was).
    fn check_owner(&self, what: &str, user: &str) -> Result<(), ApiError> {
        match self.partition {
            Some(p) if !p.owns(user) => {
                let owner = p.owner_of(user);
                let mut error = ApiError::new(
                    StatusCode::MISDIRECTED_REQUEST,
                    format!(
                        "{what}: user `{user}` belongs to partition {owner}/{}; this replica serves {p}",
                        p.count
                    ),
                );
                error.owner = Some(owner);
                Err(error)
            }
            _ => Ok(()),
        }
    }

    /// Records the model directory served in `store_dir` now and after
    /// every successful reload.
    pub fn record_in(mut self, store_dir: &std::path::Path) -> Result<App, String> {
        self.serving_file = Some(store_dir.join(SERVING_FILE));
        self.record(&self.model_dir())?;
        Ok(self)
    }

    /// Writes the serving file (a whole new file renamed over the old one,
    /// so a crash leaves the old or the new, never half).
    fn record(&self, model: &std::path::Path) -> Result<(), String> {
        let Some(path) = &self.serving_file else {
            return Ok(());
        };
        let absolute = std::path::absolute(model).unwrap_or_else(|_| model.to_owned());
        let text = json!({ "model": absolute.to_string_lossy() }).to_string();
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// This app with the HTTP layer's limits set to `http`.
    pub fn with_http(mut self, http: HttpOptions) -> App {
        self.http = http;
        self
    }

    /// Marks the service as shutting down (`/v1/health/ready` answers 503).
    pub fn start_draining(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(std::sync::atomic::Ordering::SeqCst)
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
            .map_err(|e| ServiceError::Load(e.to_string()))
            .and_then(|loaded| loaded)
            .inspect_err(|_| self.service.metrics.observe_reload(false))?;
        let reloaded = self.service.reload(model).await;
        self.service.metrics.observe_reload(reloaded.is_ok());
        let reloaded = reloaded?;
        *self.model_dir.lock().unwrap_or_else(|p| p.into_inner()) = dir.clone();
        if let Err(e) = self.record(&dir) {
            tracing::warn!(error = %e, "could not record the model served: a restart without --model would serve the former one");
        }
        Ok((dir, reloaded))
    }
}

/// An error response: an RFC 9457 problem document
/// (`application/problem+json`) whose `type` names the kind of error,
/// stable across versions (`urn:seqrec:problem:<kind>`), with the message
/// in `detail` and, as before, in `error`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
    /// A misdirected request: the partition that owns the user.
    owner: Option<u32>,
}

/// The kind of error a status means where nothing more precise is known.
pub(super) fn kind_of(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad-request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        413 => "body-too-large",
        421 => "wrong-partition",
        415 => "unsupported-media-type",
        422 => "invalid-input",
        503 => "unavailable",
        _ => "internal-error",
    }
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind: kind_of(status),
            message: message.into(),
            owner: None,
        }
    }

    /// The same error with a more precise kind.
    pub fn kind(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:seqrec:problem:{}", self.kind),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.message,
            "error": self.message,
        });
        if let Some(owner) = self.owner {
            body["owner"] = json!(owner);
        }
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
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
        let error = ApiError::new(r.status(), r.body_text());
        match r.status().as_u16() {
            400 | 422 => error.kind("invalid-json"),
            _ => error,
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, r.body_text()).kind("invalid-query")
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let (status, kind) = match &e {
            ServiceError::Serve(ServeError::UnknownUser(_)) => {
                (StatusCode::NOT_FOUND, "unknown-user")
            }
            ServiceError::Serve(ServeError::TooManyItems { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "too-many-items")
            }
            ServiceError::Serve(ServeError::Scoring(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "scoring-failed")
            }
            ServiceError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ServiceError::Stopped => (StatusCode::SERVICE_UNAVAILABLE, "shutting-down"),
            ServiceError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store-failed"),
            ServiceError::Load(_) => (StatusCode::INTERNAL_SERVER_ERROR, "model-load-failed"),
            ServiceError::ReloadInProgress => (StatusCode::CONFLICT, "reload-in-progress"),
            ServiceError::Table { .. } | ServiceError::Io { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal-error")
            }
        };
        ApiError::new(status, e.to_string()).kind(kind)
    }
}

impl From<ServeError> for ApiError {
    fn from(e: ServeError) -> Self {
        ServiceError::Serve(e).into()
    }
}

/// The API's description; the paths come from the handlers' annotations.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "seqrec serve", description = "Online next-item recommendation over a seqrec model directory."),
    components(schemas(schema::Problem)),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every route with its handler, and the OpenAPI document they make: a
/// route exists only through its annotated handler, so none can be left
/// out of the document.
fn routes() -> (Router<Arc<App>>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    use utoipa_axum::{router::OpenApiRouter, routes};
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(status::health))
        .routes(routes!(status::live))
        .routes(routes!(status::ready))
        .routes(routes!(writes::add_events))
        .routes(routes!(reads::user_recommendations))
        .routes(routes!(writes::delete_user))
        .routes(routes!(reads::anonymous_recommendations))
        .routes(routes!(reads::batch_recommendations))
        .routes(routes!(writes::reload))
        .routes(routes!(status::metrics))
        .routes(routes!(status::openapi))
        .split_for_parts()
}

/// The OpenAPI document as served (built once).
pub fn openapi_json() -> String {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| routes().1.to_pretty_json().unwrap_or_default())
        .clone()
}

/// The routes, with the body limit, access control and metrics.
pub fn router(app: Arc<App>) -> Router {
    routes()
        .0
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Outermost last: ids and the access log see everything; the guard
        // refuses before any work and counts every answer, timeouts too.
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            app.http.max_in_flight.max(1),
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            app.http.request_timeout,
        ))
        .layer(middleware::from_fn(layers::problem_for_bare_errors))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(layers::request_span)
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(
            layers::SequentialIds::default(),
        ))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route").kind("no-such-route")
}

/// Runs blocking model work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
}

fn default_k() -> usize {
    20
}

fn check_k(k: usize) -> Result<(), ApiError> {
    if k == 0 || k > MAX_K {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("k must be between 1 and {MAX_K}, not {k}"),
        )
        .kind("invalid-k"));
    }
    Ok(())
}
