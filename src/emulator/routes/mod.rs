//! The `/v1` router, assembled from one `router()` per endpoint family file, wrapped in the
//! one middleware every API request goes through (accounting, latency, auth, rate limit,
//! faults), plus the `/_emulator` control plane.
//!
//! To add a family: write `routes/<family>.rs` with `pub fn router() -> Router<AppState>`
//! (paths relative to `/v1`, spec templates such as `/organization/groups/{group_id}`), and
//! merge it in `api_routes`. Handlers take [`Actor`] to attribute audit events.

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::AppState;
use super::faults::{FaultKind, FaultTiming};
use super::http::ApiError;

pub mod admin_api_keys;
pub mod audit_logs;
pub mod certificates;
pub mod data_retention;
pub mod external_keys;
pub mod external_storage;
pub mod group_users;
pub mod groups;
pub mod health_alert_rules;
pub mod invites;
pub mod permissions;
pub mod project_api_keys;
pub mod project_groups;
pub mod project_users;
pub mod projects;
pub mod rate_limits;
pub mod role_assignments;
pub mod roles;
pub mod service_accounts;
pub mod service_tiers;
pub mod spend;
pub mod usage;
pub mod users;
pub mod workload_identity;

/// Every `/v1` endpoint family, before the middleware.
fn api_routes() -> Router<AppState> {
    Router::new()
        .merge(users::router())
        .merge(invites::router())
        .merge(projects::router())
        .merge(project_users::router())
        .merge(service_accounts::router())
        .merge(project_api_keys::router())
        .merge(rate_limits::router())
        .merge(admin_api_keys::router())
        .merge(audit_logs::router())
        .merge(usage::router())
        .merge(groups::router())
        .merge(group_users::router())
        .merge(roles::router())
        .merge(role_assignments::router())
        .merge(project_groups::router())
        .merge(certificates::router())
        .merge(data_retention::router())
        .merge(service_tiers::router())
        .merge(external_keys::router())
        .merge(external_storage::router())
        .merge(workload_identity::router())
        .merge(health_alert_rules::router())
        .merge(permissions::router())
        .merge(spend::router())
}

/// The complete application.
pub fn router(state: AppState) -> Router {
    let v1 = api_routes()
        // `route_layer` so the middleware sees the matched route template.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            api_middleware,
        ))
        .fallback(unknown_route)
        .method_not_allowed_fallback(unknown_route);
    Router::new()
        .nest("/v1", v1)
        .nest("/_emulator", super::control::router())
        // Outermost, so no extractor ever sees such a path (axum's own rejection is text).
        .layer(middleware::from_fn(utf8_path))
        // Around everything, so every answer has one, refusals and unknown routes included.
        .layer(middleware::from_fn_with_state(state.clone(), request_id))
        .with_state(state)
}

/// Every response carries an `x-request-id`, as the API's do (`req_` and 32 hex digits):
/// the one thing support asks for, quoted by orgops's API errors. Counted per emulator, so
/// a run's ids are the same each time.
async fn request_id(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let n = app
        .responses
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut response = next.run(req).await;
    if let Ok(id) = HeaderValue::from_str(&format!("req_{:016x}{n:016x}", app.seed)) {
        response.headers_mut().insert("x-request-id", id);
    }
    response
}

/// A path that is not UTF-8 once percent-decoded (`/organization/users/%FF`) is a 400 in
/// the API's error envelope, before routing.
async fn utf8_path(req: Request, next: Next) -> Response {
    if percent_decodes_to_utf8(req.uri().path()) {
        next.run(req).await
    } else {
        ApiError::bad_request("Invalid URL: the path is not valid UTF-8 once percent-decoded")
            .into_response()
    }
}

fn percent_decodes_to_utf8(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

async fn unknown_route(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("Invalid URL ({method} {})", uri.path()),
    )
}

/// The user behind a request: the admin key used and its owner. Available to every `/v1`
/// handler (the middleware has authenticated the request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub key_id: String,
    /// (user id, email) of the key's owner, when it has one.
    pub owner: Option<(String, String)>,
}

impl Actor {
    /// The `AuditLogActor` object for events this actor causes.
    pub fn audit_json(&self) -> Value {
        let mut api_key = json!({"id": self.key_id, "type": "user"});
        if let Some((id, email)) = &self.owner {
            api_key["user"] = json!({"id": id, "email": email});
        }
        json!({"type": "api_key", "api_key": api_key})
    }
    /// The owner's user id (for `created_by` fields).
    pub fn user_id(&self) -> Option<String> {
        self.owner.as_ref().map(|(id, _)| id.clone())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Actor {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("You didn't provide an API key."))
    }
}

/// Method + spec path template, e.g. `GET /organization/projects/{project_id}/users`.
pub fn route_template(method: &Method, matched: &str) -> String {
    let path = matched.strip_prefix("/v1").unwrap_or(matched);
    format!("{method} {path}")
}

fn authenticate(app: &AppState, req: &Request) -> Result<Actor, ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(header) = header else {
        return Err(ApiError::unauthorized(
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ));
    };
    let token = header.strip_prefix("Bearer ").map(str::trim).unwrap_or("");
    let mut org = app.org();
    let key_id = org.admin_keys_by_value.get(token).cloned();
    let Some(key_id) = key_id else {
        // Never echo the key back (it is a secret even when wrong).
        return Err(ApiError::unauthorized("Incorrect API key provided."));
    };
    let now = super::state::now();
    let Some(key) = org.admin_keys.get_mut(&key_id) else {
        return Err(ApiError::unauthorized("Incorrect API key provided."));
    };
    if key.expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::unauthorized("The API key has expired."));
    }
    key.last_used_at = Some(now);
    let owner_id = key.owner_user_id.clone();
    let owner = owner_id.and_then(|id| org.users.get(&id).map(|u| (u.id.clone(), u.email.clone())));
    Ok(Actor { key_id, owner })
}

/// Accounting, latency, auth, rate limit and fault injection for one `/v1` request; every
/// response it lets through names the organization (`openai-organization`), as the API's do.
async fn api_middleware(
    State(app): State<AppState>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    let organization = HeaderValue::from_str(&app.organization_id).ok();
    let mut response = serve_api(app, matched, req, next).await;
    if let Some(organization) = organization {
        response
            .headers_mut()
            .insert("openai-organization", organization);
    }
    response
}

async fn serve_api(app: AppState, matched: MatchedPath, mut req: Request, next: Next) -> Response {
    let route = route_template(req.method(), matched.as_str());
    app.faults.count(&route);
    let settings = app.faults.settings();
    if settings.latency_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(settings.latency_ms)).await;
    }
    let actor = match authenticate(&app, &req) {
        Ok(actor) => actor,
        Err(e) => return e.into_response(),
    };
    if let Err(wait) = app.faults.take_token(&route) {
        let mut response = ApiError::rate_limited().into_response();
        if settings.retry_after
            && let Ok(v) = HeaderValue::from_str(&wait.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    req.extensions_mut().insert(actor);
    let is_write = req.method() != Method::GET && req.method() != Method::HEAD;
    match app.faults.decide(is_write) {
        None => next.run(req).await,
        Some(fault) => {
            if fault.timing == FaultTiming::AfterApply {
                // The write happens; the client just never learns so.
                let _ = next.run(req).await;
            }
            match fault.kind {
                FaultKind::Status(code) => {
                    let status =
                        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    ApiError::server_error(status).into_response()
                }
                FaultKind::Drop => drop_connection(),
            }
        }
    }
}

/// Marker payload of the unwind that drops a connection.
struct DroppedConnection;

/// Closes the client's connection without any response. axum serves each connection on its
/// own task; unwinding out of it (with `resume_unwind`, which skips the panic hook, so
/// nothing is printed) ends that task and closes the socket, exactly what a client sees
/// when a load balancer drops a connection. No lock is held here.
fn drop_connection() -> Response {
    std::panic::resume_unwind(Box::new(DroppedConnection))
}

/// Builds the `project` field of audit events: actions through admin keys are attributed
/// to the default project (documented in the reference, §3.16).
pub fn audit_project(org: &super::state::OrgState) -> Option<(String, String)> {
    org.projects
        .values()
        .find(|p| p.is_default)
        .map(|p| (p.id.clone(), p.name.clone()))
}

/// Appends an audit event caused by `actor`.
pub fn audit(
    org: &mut super::state::OrgState,
    actor: &Actor,
    event_type: &str,
    resource_id: &str,
    details: Value,
) {
    let project = audit_project(org);
    org.record(
        event_type,
        actor.audit_json(),
        resource_id,
        project,
        details,
    );
}
