//! The one error type of the Admin API client.
//!
//! Every variant names the request that failed (method and route template, never a full URL
//! with IDs or a header) and its `Display` ends with what to do about it. Server-provided text
//! is scrubbed of the admin key before it is stored (see `Client::redact`), so no variant can
//! carry the key.

use std::time::Duration;

/// Everything that can go wrong talking to the Admin API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with the documented error envelope
    /// `{"error": {"message", "type", "param", "code"}}`.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// A non-success status without a decodable error envelope (a proxy page, say).
    #[error("{method} {route} failed: HTTP {status}{request}: {body_excerpt}. {hint}", hint = hint(*status))]
    Http {
        status: u16,
        body_excerpt: String,
        method: String,
        route: String,
        /// ` (request id req_...)` when the response had an `x-request-id`, else empty
        /// (`request_label`).
        request: String,
    },
    /// An attempt exceeded the per-attempt timeout and retries (if any) were exhausted.
    #[error(
        "{method} {route} timed out after {after:?}. Check the network or OPENAI_BASE_URL, or retry later."
    )]
    Timeout {
        method: String,
        route: String,
        after: Duration,
    },
    /// The request could not be sent or its response not read (DNS, connect, TLS, reset).
    #[error("{method} {route} failed: {message}. Check the network and OPENAI_BASE_URL.")]
    Transport {
        method: String,
        route: String,
        message: String,
    },
    /// The TLS handshake failed: the server's certificate is not trusted (or TLS itself could
    /// not be agreed). Not retried: certificates do not change between attempts.
    #[error(transparent)]
    Tls(Box<TlsError>),
    /// Nothing listens at the base URL (connection refused): not retried, since waiting
    /// does not start a server.
    #[error(
        "{method} {route}: cannot connect to {base_url}: connection refused (not retried). Is \
         the server running, and is OPENAI_BASE_URL right?"
    )]
    Refused {
        method: String,
        route: String,
        /// The base URL without credentials.
        base_url: String,
    },
    /// A 404 from a base URL whose path does not end in `/v1`: the URL, not the object, is
    /// wrong (the usual mistake is `http://host:port` for `http://host:port/v1`).
    #[error(
        "{method} {route} failed: HTTP 404 from {base_url}: the base URL must end in /v1. Set \
         OPENAI_BASE_URL={suggestion}"
    )]
    BaseUrl {
        method: String,
        route: String,
        base_url: String,
        suggestion: String,
    },
    /// The server redirected to another origin (or kept redirecting): not followed, not
    /// retried.
    #[error("{method} {route}: {message}")]
    Redirect {
        method: String,
        route: String,
        message: String,
    },
    /// The response body was larger than the client reads (`MAX_RESPONSE_BYTES`).
    #[error(
        "{method} {route}: the response is larger than {limit_mib} MiB, the most orgops reads \
         from one response (an Admin API page is far smaller); it was not read. Check \
         OPENAI_BASE_URL, or retry later"
    )]
    TooLarge {
        method: String,
        route: String,
        limit_mib: usize,
    },
    /// A listing that did not end within the most pages orgops reads from one listing.
    #[error(
        "{route}: the listing did not end after {pages} pages, the most orgops reads from one \
         listing (a million objects at 100 a page); the server keeps answering has_more with \
         new cursors. It was stopped: if the organization really holds that much, narrow the \
         query (audit: --since, --until or --limit); otherwise the server is misbehaving"
    )]
    TooManyPages { route: String, pages: usize },
    /// A success response whose body does not decode.
    #[error(
        "{method} {route}: unexpected response body: {message}. The API may have changed; please report this."
    )]
    Decode {
        method: String,
        route: String,
        message: String,
    },
    /// A list endpoint broke its pagination contract; reading on could hide or repeat objects.
    #[error(
        "{route}: pagination broken: {reason}. The listing was stopped so no object is missed or counted twice; retry later."
    )]
    Pagination { route: String, reason: String },
    /// A create whose outcome is unknown: the request may have landed (5xx, timeout, dropped
    /// connection). It was NOT retried. Re-read the live state before trying again, or the
    /// object may be created twice.
    #[error(
        "{method} {route}: outcome unknown ({cause}); the create may or may not have happened. Re-read the live state before retrying."
    )]
    Ambiguous {
        method: String,
        route: String,
        cause: String,
    },
    /// The client could not be configured (missing key, unsafe base URL, ...).
    #[error("{0}")]
    Config(String),
}

/// A failed TLS handshake, what it means and what to do ([`Error::Tls`]).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {route}: {base_url}: {problem} ({detail}; not retried). {advice}.")]
pub struct TlsError {
    pub method: String,
    pub route: String,
    /// The base URL without credentials.
    pub base_url: String,
    pub problem: &'static str,
    /// TLS's own words (`invalid peer certificate: UnknownIssuer`).
    pub detail: String,
    pub advice: &'static str,
}

/// A decoded error envelope and the request it answered.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{method} {route} failed: HTTP {status} {error_type}{code}{request}: {message}{param}. {hint}",
    // The API's messages end with a full stop; the hint's sentence brings its own.
    message = message.trim_end_matches('.'),
    code = code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
    request = request_label(request_id.as_deref()),
    param = param.as_deref().map(|p| format!(" [param: {p}]")).unwrap_or_default(),
    hint = hint(*status))]
pub struct ApiError {
    pub status: u16,
    /// The envelope's `type` (e.g. `invalid_request_error`).
    pub error_type: String,
    pub code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub method: String,
    /// The spec's path template, e.g. `/organization/projects/{project_id}/users`.
    pub route: String,
    /// The response's `x-request-id` (escaped), what OpenAI support asks for.
    pub request_id: Option<String>,
}

/// ` (request id req_...)`, or nothing without one: how an error quotes the request.
pub fn request_label(request_id: Option<&str>) -> String {
    request_id
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

impl Error {
    /// An item of a `GET` listing of `route` that is not the `what` orgops reads (quoted).
    pub fn unexpected(route: &str, what: &str, item: &serde_json::Value) -> Error {
        Error::Decode {
            method: "GET".into(),
            route: route.into(),
            message: format!("unexpected {what}: {item}"),
        }
    }

    /// True for a create whose outcome is unknown: the caller must re-read before retrying.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, Error::Ambiguous { .. })
    }

    /// The HTTP status, for errors that have one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::Http { status, .. } => Some(*status),
            Error::BaseUrl { .. } => Some(404),
            _ => None,
        }
    }

    /// True when the server said the object does not exist (useful for "already gone").
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// What to do, by status.
fn hint(status: u16) -> &'static str {
    match status {
        400 => "The API rejected the request; check the value named above",
        401 => "Check OPENAI_ADMIN_KEY: it must be a valid organization admin key (sk-admin-...)",
        403 => {
            "The admin key may not do this; check its owner's role, and that OPENAI_ORG_ID (if set) names the key's organization"
        }
        404 => "The object does not exist (any more); re-run plan to see the current state",
        409 => "The object changed concurrently or already exists; re-run plan",
        429 => {
            "The API kept rate-limiting this request until the retry deadline; wait a few minutes and run again, or lower the concurrency"
        }
        500..=599 => "The API failed and retries were exhausted; retry later",
        _ => "Unexpected status; retry later or report it",
    }
}

/// The error envelope the Admin API uses.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ErrorEnvelope {
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ErrorBody {
    pub message: Option<String>,
    #[serde(rename = "type")]
    pub error_type: Option<String>,
    pub param: Option<String>,
    pub code: Option<serde_json::Value>,
}

/// The first characters of a body, on one line, for error messages.
pub(crate) fn excerpt(body: &str) -> String {
    const MAX: usize = 200;
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".to_string();
    }
    match flat.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_says_what_failed_and_what_to_do() {
        let err = Error::Api(Box::new(ApiError {
            status: 401,
            error_type: "invalid_request_error".into(),
            code: Some("invalid_api_key".into()),
            message: "Incorrect API key provided".into(),
            param: None,
            method: "GET".into(),
            route: "/organization/users".into(),
            request_id: Some("req_123".into()),
        }));
        let text = err.to_string();
        assert!(text.starts_with(
            "GET /organization/users failed: HTTP 401 invalid_request_error (invalid_api_key) (request id req_123)"
        ), "{text}");
        assert!(text.contains("Check OPENAI_ADMIN_KEY"), "{text}");
    }

    #[test]
    fn excerpt_is_one_line_and_bounded() {
        let long = "x ".repeat(500);
        let cut = excerpt(&long);
        assert!(cut.chars().count() <= 201);
        assert!(!cut.contains('\n'));
        assert_eq!(excerpt("  \n "), "(empty body)");
    }
}
