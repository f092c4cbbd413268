//! Who may call which route: bearer tokens per kind of route, checked
//! in constant time, and the middleware that applies them and counts
//! every request in the metrics.

use super::*;

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
        (_, "/v1/health" | "/v1/health/live" | "/v1/health/ready") => RouteClass::Open,
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
                .kind("admin-disabled")
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
pub(super) async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let class = route_class(&method, &route);
    let response = match refusal(&app.access, class, request.headers()) {
        Some(refused) => refused,
        None => next.run(request).await,
    };
    app.service.metrics.observe_request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}
