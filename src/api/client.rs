//! [`Client`]: configuration, authentication and the retrying request loop every endpoint
//! method goes through.
//!
//! - The admin key comes from `OPENAI_ADMIN_KEY` only ([`ClientConfig::from_env`]) or from a
//!   caller that already holds it (tests, `--emulator`); it lives in a [`Secret`] whose
//!   `Debug`/`Display` print `[redacted]`, goes out only in an `Authorization` header marked
//!   sensitive, and is scrubbed from any server text kept in an error.
//! - The base URL comes from `OPENAI_BASE_URL` (default `https://api.openai.com/v1`); plain
//!   HTTP is refused unless the host is loopback, so the key never crosses a network in clear.
//! - Every attempt goes through the shared [`RateController`]. What is retried depends on the
//!   [`RequestKind`]: reads and idempotent writes retry on 429, 5xx, timeouts and transport
//!   errors; creates retry only when the request surely never landed (429, connect failure)
//!   and otherwise fail with [`Error::Ambiguous`], so the caller re-reads before retrying.
//!   A refused connection is never retried ([`Error::Refused`]: nothing listens there), nor
//!   a failed TLS handshake ([`Error::Tls`]: an untrusted certificate stays untrusted), and
//!   a 404 from a base URL not ending in `/v1` says so ([`Error::BaseUrl`]).
//! - A loopback base URL is reached directly, whatever `HTTP_PROXY`/`ALL_PROXY` say: over
//!   plain HTTP a proxy would read the key. An `https://` base URL may go through a proxy
//!   (a `CONNECT` tunnel: the proxy sees only ciphertext).
//! - The Admin API does not redirect: a redirect to another origin (scheme, host or port) is
//!   refused ([`Error::Redirect`]), so no header goes elsewhere; at most
//!   [`MAX_REDIRECTS`] same-origin hops are followed.
//! - A response body over [`MAX_RESPONSE_BYTES`] is refused ([`Error::TooLarge`]) as it
//!   arrives, never held whole.
//! - Text from the server (error messages, types, codes, bodies, cursors) is escaped where
//!   it enters ([`crate::text::escape::text`]): no error can carry a raw ESC, C1 or
//!   bidirectional control to a terminal, wherever it is printed.
//! - The organization the server reports (the `openai-organization` response header, which
//!   the API returns on every response; reference §1) is recorded
//!   ([`Client::reported_organization`]): what a saved plan is bound to.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::error::{ApiError, Error, ErrorEnvelope, TlsError, excerpt, request_label};
use super::pagination::PageObserver;
use super::ratelimit::{Feedback, Limits, RateController};

/// The default base URL, as the official SDK names it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The largest response body read (16 MiB). The largest Admin API page (1,000 roles or
/// groups) is well under 2 MiB; a body past this is refused as it arrives.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Same-origin redirects followed before giving up (the Admin API does not redirect).
pub const MAX_REDIRECTS: usize = 3;

/// The response header naming the organization a request was served for.
const ORGANIZATION_HEADER: &str = "openai-organization";

/// A secret string (the admin key, a one-time key returned by a create). Prints as
/// `[redacted]`; read it only with [`Secret::expose`], and only to hand it to its sink.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret value. Never print, log or serialize it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// HMAC-SHA256 of `message` keyed with `key` (any length), for the keys derived from the admin
/// key and what they sign.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use hmac::Mac as _;
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Empty; lets wire structs holding a secret decode tolerantly.
impl Default for Secret {
    fn default() -> Self {
        Secret(String::new())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How to reach the API. `Debug` is safe: the key is a [`Secret`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// e.g. `https://api.openai.com/v1` or `http://127.0.0.1:PORT/v1`.
    pub base_url: String,
    pub admin_key: Secret,
    /// Sent as `OpenAI-Organization` when set.
    pub organization: Option<String>,
    pub limits: Limits,
}

impl ClientConfig {
    /// A config with default limits and no organization header.
    pub fn new(base_url: impl Into<String>, admin_key: Secret) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            admin_key,
            organization: None,
            limits: Limits::default(),
        }
    }

    /// Reads `OPENAI_ADMIN_KEY` (required), `OPENAI_BASE_URL` and `OPENAI_ORG_ID`.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any variable source (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let key = lookup("OPENAI_ADMIN_KEY")
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty());
        let Some(key) = key else {
            return Err(Error::Config(
                "OPENAI_ADMIN_KEY is not set: export an organization admin key (sk-admin-...), \
                 or use --emulator STATE to run against a local emulator seeded from STATE"
                    .to_string(),
            ));
        };
        let base_url = lookup("OPENAI_BASE_URL")
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let organization = lookup("OPENAI_ORG_ID")
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty());
        Ok(ClientConfig {
            base_url,
            admin_key: Secret::new(key),
            organization,
            limits: Limits::default(),
        })
    }
}

/// How a request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    /// A GET: retried on 429, 5xx, timeouts and transport errors.
    Read,
    /// An update, delete, archive, activation, rate-limit update: repeating it is harmless, so
    /// it is retried like a read.
    Idempotent,
    /// A create (or add/assign): retried only on 429 and connect failures; any other failure
    /// whose outcome is unknown becomes [`Error::Ambiguous`].
    Create,
}

/// The Admin API client. Cheap to clone; clones share the connection pool, the rate-limit
/// controller and the request counter.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    observer: Option<Arc<dyn PageObserver>>,
}

struct Inner {
    http: reqwest::Client,
    /// Without trailing slash.
    base_url: String,
    auth: HeaderValue,
    organization: Option<HeaderValue>,
    key: Secret,
    controller: Arc<RateController>,
    attempts: AtomicU64,
    /// The organization the server reported (`openai-organization`).
    reported: std::sync::Mutex<Reported>,
}

/// What the server said about its organization so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Reported {
    #[default]
    Nothing,
    One(String),
    /// Two responses named two organizations.
    Conflict(String, String),
}

/// The organization the server reported on its responses ([`Client::reported_organization`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportedOrganization {
    /// No response carried `openai-organization`.
    Unknown,
    /// Every response that named one named this one (escaped for display already).
    Id(String),
    /// Two responses named two organizations: the caller must not trust either.
    Conflict(String, String),
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("admin_key", &self.inner.key)
            .finish_non_exhaustive()
    }
}

/// One request, described by its route template (the rate-limit unit, and what errors name).
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    /// The spec's path template, e.g. `/organization/projects/{project_id}/users`.
    pub route: &'static str,
    /// The concrete path, IDs percent-encoded (see [`seg`]).
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub kind: RequestKind,
}

impl Call {
    pub fn get(route: &'static str, path: String) -> Self {
        Call {
            method: Method::GET,
            route,
            path,
            query: Vec::new(),
            body: None,
            kind: RequestKind::Read,
        }
    }
    pub fn post(
        route: &'static str,
        path: String,
        kind: RequestKind,
        body: serde_json::Value,
    ) -> Self {
        Call {
            method: Method::POST,
            route,
            path,
            query: Vec::new(),
            body: Some(body),
            kind,
        }
    }
    pub fn delete(route: &'static str, path: String) -> Self {
        Call {
            method: Method::DELETE,
            route,
            path,
            query: Vec::new(),
            body: None,
            kind: RequestKind::Idempotent,
        }
    }
    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }
}

/// Percent-encodes one path segment (server IDs are opaque strings).
pub(crate) fn seg(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// What one attempt produced.
enum Attempt {
    Response {
        status: StatusCode,
        headers: HeaderMap,
        body: Vec<u8>,
    },
    /// Failed before any byte could have reached the server.
    NotSent(String),
    /// Nothing listens there: the connection was refused.
    Refused,
    /// The TLS handshake failed (an untrusted, expired or misnamed certificate): nothing was
    /// sent, and trying again cannot help.
    Tls(TlsFailure),
    /// Failed after the request may have been sent.
    Lost(String),
    TimedOut,
    /// The server redirected to another origin (or too often): not followed.
    Redirected(String),
    /// The body grew past [`MAX_RESPONSE_BYTES`].
    TooLarge {
        status: StatusCode,
    },
}

impl Client {
    /// Builds a client; refuses a non-HTTPS base URL unless its host is loopback.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let base_url = check_base_url(&config.base_url)?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.admin_key.expose()))
            .map_err(|_| {
                Error::Config(
                    "OPENAI_ADMIN_KEY contains characters not allowed in an HTTP header".into(),
                )
            })?;
        auth.set_sensitive(true);
        let organization = match &config.organization {
            Some(org) => Some(HeaderValue::from_str(org).map_err(|_| {
                Error::Config(format!(
                    "OPENAI_ORG_ID is not a valid header value: {org:?}"
                ))
            })?),
            None => None,
        };
        let mut http = reqwest::Client::builder()
            .user_agent(concat!("orgops/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10).min(config.limits.attempt_timeout))
            .redirect(reqwest::redirect::Policy::custom(same_origin_only));
        if is_loopback(&base_url) {
            // Plain HTTP is allowed only here; a proxy (HTTP_PROXY, ALL_PROXY) would read the
            // key in clear, and may be on another machine.
            http = http.no_proxy();
        }
        let http = http
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base_url,
                auth,
                organization,
                key: config.admin_key,
                controller: RateController::new(config.limits),
                attempts: AtomicU64::new(0),
                reported: std::sync::Mutex::new(Reported::Nothing),
            }),
            observer: None,
        })
    }

    /// The base URL requests go to (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// A 32-byte key for `label`, derived from the admin key: HMAC-SHA256 keyed with the
    /// admin key over the label. What orgops seals with it (a snapshot) only a holder of the
    /// admin key can open or seal, and the key itself never leaves the client.
    pub fn derived_key(&self, label: &str) -> [u8; 32] {
        hmac_sha256(self.inner.key.expose().as_bytes(), label.as_bytes())
    }

    /// HTTP attempts made so far by this client and its clones (retries included).
    pub fn attempts(&self) -> u64 {
        self.inner.attempts.load(Ordering::Relaxed)
    }

    /// The shared rate-limit controller (for diagnostics).
    pub fn controller(&self) -> &Arc<RateController> {
        &self.inner.controller
    }

    /// A clone that reports every fetched list page to `observer` (progress displays).
    pub fn with_page_observer(&self, observer: Arc<dyn PageObserver>) -> Client {
        Client {
            inner: self.inner.clone(),
            observer: Some(observer),
        }
    }

    pub(crate) fn page_observer(&self) -> Option<&dyn PageObserver> {
        self.observer.as_deref()
    }

    /// The organization the server reported on its successful responses so far (the
    /// `openai-organization` header), escaped for display.
    pub fn reported_organization(&self) -> ReportedOrganization {
        match &*self.reported_lock() {
            Reported::Nothing => ReportedOrganization::Unknown,
            Reported::One(id) => ReportedOrganization::Id(id.clone()),
            Reported::Conflict(a, b) => ReportedOrganization::Conflict(a.clone(), b.clone()),
        }
    }

    fn reported_lock(&self) -> std::sync::MutexGuard<'_, Reported> {
        // The value is replaced whole under the lock: a poisoned one is still consistent.
        self.inner
            .reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the organization a successful response names.
    fn record_organization(&self, headers: &HeaderMap) {
        let Some(value) = headers.get(ORGANIZATION_HEADER) else {
            return;
        };
        let raw = String::from_utf8_lossy(value.as_bytes());
        let id = self.outside(raw.trim());
        if id.is_empty() {
            return;
        }
        let mut reported = self.reported_lock();
        let next = match &*reported {
            Reported::Nothing => Reported::One(id),
            Reported::One(first) if *first == id => return,
            Reported::One(first) => Reported::Conflict(first.clone(), id),
            Reported::Conflict(..) => return,
        };
        *reported = next;
    }

    /// Whether an admin key's `redacted_value` (e.g. `sk-admin...def`) could be the key in
    /// use: the visible prefix and suffix must both match. The key itself never leaves here.
    pub fn key_matches_redacted(&self, redacted: &str) -> bool {
        redacted_matches(self.inner.key.expose(), redacted)
    }

    /// Replaces every occurrence of the admin key in server-provided text.
    pub(crate) fn redact(&self, text: &str) -> String {
        let key = self.inner.key.expose();
        if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, "[redacted]")
        }
    }

    /// Server-provided text as an error may keep it: the key redacted, then every control,
    /// C1, line-separator and bidirectional character escaped (`\u{1b}`), once, here where
    /// it enters, so no printer of an error has to remember to.
    pub(crate) fn outside(&self, text: &str) -> String {
        crate::text::escape::text(&self.redact(text)).into_owned()
    }

    /// Sends `call` with retries and decodes a 2xx body (200 and 201 alike) into `T`.
    pub(crate) async fn execute<T: DeserializeOwned>(&self, call: &Call) -> Result<T, Error> {
        let body = self.execute_raw(call).await?;
        decode(call, &body)
    }

    async fn execute_raw(&self, call: &Call) -> Result<Vec<u8>, Error> {
        let controller = &self.inner.controller;
        let limits = controller.limits().clone();
        let route_key = format!("{} {}", call.method, call.route);
        let deadline = Instant::now() + limits.request_deadline;
        let mut failures = 0u32;
        let mut last_error: Option<Error> = None;
        loop {
            let Some(slot) = controller.acquire(&route_key, deadline).await else {
                return Err(last_error.unwrap_or_else(|| Error::Timeout {
                    method: call.method.to_string(),
                    route: call.route.to_string(),
                    after: limits.request_deadline,
                }));
            };
            self.inner.attempts.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let outcome =
                match tokio::time::timeout(limits.attempt_timeout, self.attempt(call)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Attempt::TimedOut,
                };
            drop(slot);
            let retry_error = match outcome {
                Attempt::Response {
                    status,
                    headers,
                    body,
                } => {
                    if status.is_success() {
                        controller.feedback(&route_key, Feedback::Ok, started);
                        self.record_organization(&headers);
                        return Ok(body);
                    }
                    let error = self.status_error(call, status, &headers, &body);
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        // Rate-limited means not processed: every kind may retry. Waiting
                        // happens in `acquire`, which gives up at the deadline.
                        controller.feedback(
                            &route_key,
                            Feedback::RateLimited(retry_after(&headers)),
                            started,
                        );
                        last_error = Some(error);
                        continue;
                    }
                    controller.feedback(&route_key, Feedback::Ok, started);
                    if status == StatusCode::NOT_FOUND && !self.base_path_ends_in_v1() {
                        return Err(Error::BaseUrl {
                            method: call.method.to_string(),
                            route: call.route.to_string(),
                            base_url: self.shown_base_url(),
                            suggestion: v1_url(&self.shown_base_url()),
                        });
                    }
                    if !status.is_server_error() {
                        return Err(error);
                    }
                    if call.kind == RequestKind::Create {
                        return Err(ambiguous(call, format!("HTTP {}", status.as_u16())));
                    }
                    error
                }
                Attempt::Tls(failure) => {
                    return Err(Error::Tls(Box::new(TlsError {
                        method: call.method.to_string(),
                        route: call.route.to_string(),
                        base_url: self.shown_base_url(),
                        problem: failure.problem,
                        detail: failure.detail,
                        advice: failure.advice,
                    })));
                }
                Attempt::Refused => {
                    return Err(Error::Refused {
                        method: call.method.to_string(),
                        route: call.route.to_string(),
                        base_url: self.shown_base_url(),
                    });
                }
                Attempt::Redirected(message) => {
                    return Err(Error::Redirect {
                        method: call.method.to_string(),
                        route: call.route.to_string(),
                        message: self.outside(&message),
                    });
                }
                Attempt::TooLarge { status } => {
                    if call.kind == RequestKind::Create && status.is_success() {
                        return Err(ambiguous(
                            call,
                            format!(
                                "the answer was over the {} MiB cap",
                                MAX_RESPONSE_BYTES >> 20
                            ),
                        ));
                    }
                    return Err(Error::TooLarge {
                        method: call.method.to_string(),
                        route: call.route.to_string(),
                        limit_mib: MAX_RESPONSE_BYTES >> 20,
                    });
                }
                Attempt::NotSent(message) => Error::Transport {
                    method: call.method.to_string(),
                    route: call.route.to_string(),
                    message: self.outside(&message),
                },
                Attempt::Lost(message) => {
                    if call.kind == RequestKind::Create {
                        return Err(ambiguous(call, self.outside(&message)));
                    }
                    Error::Transport {
                        method: call.method.to_string(),
                        route: call.route.to_string(),
                        message: self.outside(&message),
                    }
                }
                Attempt::TimedOut => {
                    if call.kind == RequestKind::Create {
                        return Err(ambiguous(
                            call,
                            format!("no answer within {:?}", limits.attempt_timeout),
                        ));
                    }
                    Error::Timeout {
                        method: call.method.to_string(),
                        route: call.route.to_string(),
                        after: limits.attempt_timeout,
                    }
                }
            };
            failures += 1;
            if failures >= limits.max_attempts.max(1) {
                return Err(retry_error);
            }
            tracing::debug!(method = %call.method, route = call.route, failures, "retrying after: {retry_error}");
            controller.feedback(
                &route_key,
                Feedback::Failed(controller.backoff(failures)),
                started,
            );
            last_error = Some(retry_error);
        }
    }

    /// Whether the base URL's path ends in `/v1`, as the Admin API's does.
    fn base_path_ends_in_v1(&self) -> bool {
        reqwest::Url::parse(&self.inner.base_url)
            .is_ok_and(|url| url.path().trim_end_matches('/').ends_with("/v1"))
    }

    /// The base URL for messages: without user or password, should it carry any.
    fn shown_base_url(&self) -> String {
        match reqwest::Url::parse(&self.inner.base_url) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.as_str().trim_end_matches('/').to_string()
            }
            Err(_) => self.inner.base_url.clone(),
        }
    }

    async fn attempt(&self, call: &Call) -> Attempt {
        let url = format!("{}{}", self.inner.base_url, call.path);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), &url)
            .header(AUTHORIZATION, self.inner.auth.clone());
        if let Some(org) = &self.inner.organization {
            request = request.header("OpenAI-Organization", org.clone());
        }
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            // A connect error means no connection was established, so nothing was sent.
            Err(e) if e.is_connect() && is_refused(&e) => return Attempt::Refused,
            Err(e) if let Some(failure) = tls_failure(&e) => return Attempt::Tls(failure),
            Err(e) if e.is_connect() || e.is_builder() => return Attempt::NotSent(describe(e)),
            Err(e) if e.is_redirect() => return Attempt::Redirected(redirect_refusal(e)),
            Err(e) => return Attempt::Lost(describe(e)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        // Bounded: a declared length over the cap is refused before any byte is read, an
        // undeclared one as soon as the body grows past it.
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Attempt::TooLarge { status };
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Attempt::TooLarge { status };
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Attempt::Lost(describe(e)),
            }
        }
        Attempt::Response {
            status,
            headers,
            body,
        }
    }

    fn status_error(
        &self,
        call: &Call,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Error {
        let text = String::from_utf8_lossy(body);
        // What OpenAI support asks for; bounded and escaped like any server text.
        let request_id = headers
            .get("x-request-id")
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .take(128)
                    .collect::<String>()
            })
            .filter(|id| !id.is_empty())
            .map(|id| self.outside(&id));
        let envelope: Option<ErrorEnvelope> = serde_json::from_slice(body).ok();
        match envelope.and_then(|e| e.error) {
            Some(err) if err.message.is_some() || err.error_type.is_some() => {
                Error::Api(Box::new(ApiError {
                    status: status.as_u16(),
                    error_type: self.outside(err.error_type.as_deref().unwrap_or("error")),
                    code: err.code.and_then(|c| match c {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(self.outside(&s)),
                        other => Some(self.outside(&other.to_string())),
                    }),
                    message: self.outside(err.message.as_deref().unwrap_or("(no message)")),
                    param: err.param.map(|p| self.outside(&p)),
                    method: call.method.to_string(),
                    route: call.route.to_string(),
                    request_id,
                }))
            }
            _ => Error::Http {
                status: status.as_u16(),
                body_excerpt: self.outside(&excerpt(&text)),
                method: call.method.to_string(),
                route: call.route.to_string(),
                request: request_label(request_id.as_deref()),
            },
        }
    }
}

fn ambiguous(call: &Call, cause: String) -> Error {
    Error::Ambiguous {
        method: call.method.to_string(),
        route: call.route.to_string(),
        cause,
    }
}

/// Why a TLS handshake failed, in words for the error message.
struct TlsFailure {
    problem: &'static str,
    /// TLS's own words (`invalid peer certificate: UnknownIssuer`).
    detail: String,
    advice: &'static str,
}

/// The TLS failure among `error`'s causes, if any. hyper-rustls hands rustls's error up
/// inside an `io::Error` (itself inside another), whose `source()` skips what it wraps: the
/// errors they wrap are looked at too.
fn tls_failure(error: &reqwest::Error) -> Option<TlsFailure> {
    fn find<'e>(error: &'e (dyn std::error::Error + 'static)) -> Option<&'e rustls::Error> {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(tls) = find(inner)
        {
            return Some(tls);
        }
        error.source().and_then(find)
    }
    std::error::Error::source(error)
        .and_then(find)
        .map(describe_tls)
}

fn describe_tls(error: &rustls::Error) -> TlsFailure {
    use rustls::CertificateError as Cert;
    let untrusted = "If a proxy or a private certificate authority signs it, add that \
                     authority's certificate to the operating system's trust store (on Linux, \
                     SSL_CERT_FILE may name a PEM bundle that holds it); otherwise check \
                     OPENAI_BASE_URL";
    let (problem, advice) = match error {
        rustls::Error::InvalidCertificate(Cert::Expired | Cert::ExpiredContext { .. }) => (
            "the server's TLS certificate has expired",
            "Check the system clock, and that OPENAI_BASE_URL names the server you mean",
        ),
        rustls::Error::InvalidCertificate(Cert::NotValidYet | Cert::NotValidYetContext { .. }) => (
            "the server's TLS certificate is not valid yet",
            "Check the system clock, and that OPENAI_BASE_URL names the server you mean",
        ),
        rustls::Error::InvalidCertificate(
            Cert::NotValidForName | Cert::NotValidForNameContext { .. },
        ) => (
            "the server's TLS certificate is not valid for this host name",
            "Check OPENAI_BASE_URL: its host must be a name the certificate lists",
        ),
        rustls::Error::InvalidCertificate(_) => {
            ("the server's TLS certificate is not trusted", untrusted)
        }
        _ => (
            "the TLS handshake failed",
            "Check OPENAI_BASE_URL (an https:// URL of a TLS server) and any proxy in between",
        ),
    };
    TlsFailure {
        problem,
        detail: error.to_string(),
        advice,
    }
}

/// Whether a connect error is a refused connection (nothing listens on that port).
fn is_refused(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A transport error's message with its causes (e.g. "error sending request: connection
/// refused"), without the URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn decode<T: DeserializeOwned>(call: &Call, body: &[u8]) -> Result<T, Error> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        method: call.method.to_string(),
        route: call.route.to_string(),
        // serde quotes what it could not decode (`unknown variant ...`): server text.
        message: crate::text::escape::text(&e.to_string()).into_owned(),
    })
}

/// Why a redirect was refused: [`same_origin_only`]'s reason, or reqwest's.
fn redirect_refusal(error: reqwest::Error) -> String {
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RedirectRefused>() {
            return refused.to_string();
        }
        source = cause.source();
    }
    describe(error)
}

/// A redirect the client does not follow.
#[derive(Debug, thiserror::Error)]
enum RedirectRefused {
    #[error(
        "the server redirected to another origin, {to} (from {from}); the Admin API does not \
         redirect, so it was not followed and no header went there. Check OPENAI_BASE_URL"
    )]
    CrossOrigin { from: String, to: String },
    #[error(
        "the server redirected more than {MAX_REDIRECTS} times; the Admin API does not \
         redirect. Check OPENAI_BASE_URL"
    )]
    TooMany,
}

/// The redirect policy: same origin (scheme, host and port) only, at most
/// [`MAX_REDIRECTS`] hops. reqwest would follow any redirect, to plain HTTP or to another
/// host, with every header but `Authorization` (`OpenAI-Organization` among them).
fn same_origin_only(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    let first = attempt.previous().first().map(|u| u.origin());
    if first.as_ref() != Some(&attempt.url().origin()) {
        let shown = |url: &reqwest::Url| {
            let mut url = url.clone();
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.as_str().to_string()
        };
        let refused = RedirectRefused::CrossOrigin {
            from: attempt.previous().first().map(shown).unwrap_or_default(),
            to: shown(attempt.url()),
        };
        return attempt.error(refused);
    }
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error(RedirectRefused::TooMany);
    }
    attempt.follow()
}

/// Whether `base_url` (already checked) names a loopback host.
fn is_loopback(base_url: &str) -> bool {
    reqwest::Url::parse(base_url).is_ok_and(|url| loopback_host(&url))
}

fn loopback_host(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `Retry-After-Ms` (milliseconds) wins over `Retry-After` (seconds). An HTTP-date
/// `Retry-After` is not understood and falls back to backoff.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let value = headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    if let Some(ms) = number("retry-after-ms") {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    number("retry-after").map(Duration::from_secs_f64)
}

/// The base URL a 404 suggests: a last path segment naming another API version (`/v2`,
/// `/v1beta`) becomes `/v1`; otherwise `/v1` is appended.
fn v1_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if let Some((head, last)) = base.rsplit_once('/')
        && !head.ends_with('/')
        && last.len() > 1
        && last.starts_with('v')
        && last[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        return format!("{head}/v1");
    }
    format!("{base}/v1")
}

/// Normalises the base URL and refuses plain HTTP to anything but loopback.
fn check_base_url(raw: &str) -> Result<String, Error> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("OPENAI_BASE_URL {raw:?} is not a valid URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !loopback_host(&url) {
                return Err(Error::Config(format!(
                    "refusing plain-HTTP base URL {raw:?}: the admin key would travel unencrypted. \
                     Use https://, or http:// only to a loopback address (127.0.0.1, ::1, localhost)"
                )));
            }
        }
        other => {
            return Err(Error::Config(format!(
                "OPENAI_BASE_URL {raw:?} has unsupported scheme {other:?}; use https://"
            )));
        }
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "OPENAI_BASE_URL {raw:?} must not carry a query or fragment"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// See [`Client::key_matches_redacted`].
fn redacted_matches(key: &str, redacted: &str) -> bool {
    let (prefix, suffix) = match redacted
        .split_once("...")
        .or_else(|| redacted.split_once('…'))
    {
        Some((prefix, suffix)) => (prefix, suffix.trim_start_matches(['.', '*', '…'])),
        None => match redacted.find('*') {
            Some(star) => (&redacted[..star], redacted[star..].trim_start_matches('*')),
            None => return false,
        },
    };
    if prefix.is_empty() && suffix.is_empty() {
        return false;
    }
    key.len() >= prefix.len() + suffix.len() && key.starts_with(prefix) && key.ends_with(suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let secret = Secret::new("sk-admin-very-secret");
        assert_eq!(format!("{secret:?} {secret}"), "[redacted] [redacted]");
        let config = ClientConfig::new("https://api.openai.com/v1", secret);
        assert!(!format!("{config:?}").contains("very-secret"));
    }

    #[test]
    fn env_lookup_reads_the_sdk_names() {
        let vars = |name: &str| match name {
            "OPENAI_ADMIN_KEY" => Some("sk-admin-x".to_string()),
            "OPENAI_ORG_ID" => Some("org_1".to_string()),
            _ => None,
        };
        let config = ClientConfig::from_lookup(vars).expect("configured");
        assert_eq!(config.base_url, DEFAULT_BASE_URL);
        assert_eq!(config.organization.as_deref(), Some("org_1"));
        assert_eq!(config.admin_key.expose(), "sk-admin-x");
        let missing = ClientConfig::from_lookup(|_| None).expect_err("no key");
        assert!(missing.to_string().contains("OPENAI_ADMIN_KEY is not set"));
    }

    #[test]
    fn base_url_must_be_https_unless_loopback() {
        assert_eq!(
            check_base_url("https://api.openai.com/v1/").expect("https ok"),
            "https://api.openai.com/v1"
        );
        assert!(check_base_url("http://127.0.0.1:8080/v1").is_ok());
        assert!(check_base_url("http://[::1]:8080/v1").is_ok());
        assert!(check_base_url("http://localhost:1/v1").is_ok());
        let refused = check_base_url("http://api.example.com/v1").expect_err("plain http refused");
        assert!(refused.to_string().contains("refusing plain-HTTP"));
        assert!(check_base_url("http://10.0.0.1/v1").is_err());
        assert!(check_base_url("ftp://x/v1").is_err());
        assert!(check_base_url("not a url").is_err());
    }

    #[test]
    fn the_v1_url_replaces_another_version() {
        assert_eq!(v1_url("http://h:1/v2"), "http://h:1/v1");
        assert_eq!(v1_url("http://h:1/api/v1beta/"), "http://h:1/api/v1");
        assert_eq!(v1_url("http://h:1"), "http://h:1/v1");
        assert_eq!(v1_url("http://h:1/openai"), "http://h:1/openai/v1");
        assert_eq!(v1_url("http://v2"), "http://v2/v1");
    }

    #[test]
    fn redacted_value_matching() {
        let key = "sk-admin-abcdefghijklmnop";
        assert!(redacted_matches(key, "sk-admin...nop"));
        assert!(redacted_matches(key, "sk-admin-ab****mnop"));
        assert!(!redacted_matches(key, "sk-admin...xyz"));
        assert!(!redacted_matches(key, "..."));
        assert!(!redacted_matches(
            key,
            "sk-admin-abcdefghijklmnop-no-marker"
        ));
    }

    #[test]
    fn retry_after_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
        headers.insert("retry-after-ms", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("proj_abc-1.x~"), "proj_abc-1.x~");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }
}
