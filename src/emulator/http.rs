//! HTTP plumbing shared by every endpoint family: the error envelope, authentication, query
//! and body extraction, and the three pagination styles.
//!
//! - Errors: [`ApiError`] renders `{"error": {"message", "type", "param", "code"}}` with all
//!   four keys present (nullable ones as `null`), as `ErrorResponse` requires.
//! - Query: [`QueryParams`] accepts `name=v`, `name[]=v` (arrays, as the SDK sends them) and
//!   `name[key]=v` (objects such as `effective_at[gte]=`).
//! - Bodies: [`JsonBody`] parses JSON whatever the content type says and answers 400 with
//!   the envelope on anything unparsable or not a JSON object, and on any field the body type
//!   does not have ([`ApiError::unrecognized`], the API's "Unrecognized request argument
//!   supplied"), at any depth. A route that takes its body as a raw `Value` lists its fields
//!   with [`reject_unknown`] instead.
//! - Pagination: [`paginate`] walks an `IndexMap` from a cursor in either order; [`list_a`]
//!   builds the `first_id/last_id/has_more` envelope (style A), [`list_b`] the opaque `next`
//!   envelope (style B). Usage/costs pages (style C) are built by their routes.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// An API error: status plus the four `Error` fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub error_type: &'static str,
    pub param: Option<String>,
    pub code: Option<String>,
}

pub type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            error_type,
            param: None,
            code: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }
    /// 400 naming the offending parameter.
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self::bad_request(message).with_param(param)
    }
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("No such {what}: '{id}'"),
        )
        .with_code("not_found")
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_request_error", message)
    }
    /// A name already in use; the status is decided in `rules::DUPLICATE_NAME_STATUS`.
    pub fn duplicate(param: &str, message: impl Into<String>) -> Self {
        Self::new(
            super::rules::DUPLICATE_NAME_STATUS,
            "invalid_request_error",
            message,
        )
        .with_param(param)
    }
    /// The API's refusal of a body field it does not know (`path` is dotted when nested:
    /// `notification_channel.typo`).
    pub fn unrecognized(path: &str) -> Self {
        Self::invalid_param(
            path,
            format!("Unrecognized request argument supplied: {path}"),
        )
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
            .with_code("invalid_api_key")
    }
    pub fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "requests",
            "Rate limit reached for requests",
        )
        .with_code("rate_limit_exceeded")
    }
    pub fn server_error(status: StatusCode) -> Self {
        Self::new(
            status,
            "server_error",
            "The server had an error while processing your request. Sorry about that!",
        )
    }
    pub fn with_param(mut self, param: &str) -> Self {
        self.param = Some(param.to_string());
        self
    }
    pub fn with_code(mut self, code: &str) -> Self {
        self.code = Some(code.to_string());
        self
    }
    pub fn body(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        }})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}

/// A 200 JSON response.
pub fn ok(value: Value) -> ApiResult {
    Ok(Json(value).into_response())
}

// ---------------------------------------------------------------------------------------
// Query strings

/// Decoded query pairs, in order. `name[]` keys are stored as arrays of `name`; `name[key]`
/// keys as members of the object `name`.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    scalars: BTreeMap<String, Vec<String>>,
    objects: BTreeMap<String, BTreeMap<String, String>>,
}

fn percent_decode(raw: &str) -> Result<String, ApiError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request("Malformed percent-encoding in the query string")
                    })?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("The query string is not valid UTF-8"))
}

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut params = QueryParams::default();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(k)?;
            let value = percent_decode(v)?;
            if let Some(name) = key.strip_suffix("[]") {
                params
                    .scalars
                    .entry(name.to_string())
                    .or_default()
                    .push(value);
            } else if let Some((name, rest)) = key.split_once('[')
                && let Some(member) = rest.strip_suffix(']')
            {
                params
                    .objects
                    .entry(name.to_string())
                    .or_default()
                    .insert(member.to_string(), value);
            } else {
                params.scalars.entry(key).or_default().push(value);
            }
        }
        Ok(params)
    }

    /// The last value given for `name` (as `name=` or `name[]=`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.scalars
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value of an array parameter, from `name=v` and `name[]=v` alike. An audit-log
    /// style name given with its literal `[]` is accepted too.
    pub fn list(&self, name: &str) -> Vec<String> {
        let bare = name.strip_suffix("[]").unwrap_or(name);
        self.scalars.get(bare).cloned().unwrap_or_default()
    }

    /// `name[member]=v`.
    pub fn object_member(&self, name: &str, member: &str) -> Option<&str> {
        self.objects
            .get(name)
            .and_then(|o| o.get(member))
            .map(String::as_str)
    }

    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::invalid_param(
                        name,
                        format!("Invalid '{name}': expected an integer, got '{v}'"),
                    )
                })
            })
            .transpose()
    }

    pub fn object_int(&self, name: &str, member: &str) -> Result<Option<i64>, ApiError> {
        self.object_member(name, member)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::invalid_param(
                        &format!("{name}[{member}]"),
                        format!("Invalid '{name}[{member}]': expected an integer, got '{v}'"),
                    )
                })
            })
            .transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.get(name)
            .map(|v| match v {
                "true" | "True" | "1" => Ok(true),
                "false" | "False" | "0" => Ok(false),
                other => Err(ApiError::invalid_param(
                    name,
                    format!("Invalid '{name}': expected a boolean, got '{other}'"),
                )),
            })
            .transpose()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        QueryParams::parse(parts.uri.query())
    }
}

// ---------------------------------------------------------------------------------------
// Bodies

/// A JSON request body of type `T`. The content type is not checked (the body is what it
/// is); a field `T` does not have, a missing or a malformed body is a 400.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Like [`JsonBody`] but an empty body is `None` (operations whose body is optional).
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub Option<T>);

async fn body_bytes(req: Request) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|_| ApiError::bad_request("Could not read the request body"))
}

/// Parses a JSON body, turning serde's complaint into a 400 that names the field. Every
/// request body of the API is a JSON object: anything else (an array, which serde would map
/// onto a struct's fields by position, a string, a number, `null`) is a 400 before any field
/// is looked at. A field `T` would ignore (serde's default) is refused first, as the API
/// does, so a misspelled field a client sends fails here as it would there.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "We could not parse the JSON body of your request: the body is empty. (HINT: send a JSON object.)",
        ));
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object. (HINT: send `{...}` with the documented fields.)",
        ));
    }
    let mut unknown: Option<String> = None;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_ignored::deserialize(&mut deserializer, |path| {
        unknown.get_or_insert_with(|| path.to_string());
    })
    .and_then(|value| deserializer.end().map(|()| value));
    if let Some(path) = unknown {
        return Err(ApiError::unrecognized(&path));
    }
    parsed.map_err(|e| {
        let text = e.to_string();
        let mut err = ApiError::bad_request(format!(
            "We could not parse the JSON body of your request: {text}"
        ));
        // serde names the field in "missing field `x`" / "unknown variant ..., expected ..."
        if let Some(field) = text
            .split('`')
            .nth(1)
            .filter(|_| text.starts_with("missing field"))
        {
            err = err.with_param(field);
        }
        err
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req).await?;
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(OptionalJsonBody(None));
        }
        parse_json(&bytes).map(|v| OptionalJsonBody(Some(v)))
    }
}

/// For a body taken as a raw object: the first field not in `known` is refused
/// ([`ApiError::unrecognized`]); `prefix` names where the object sits (`"provider."`, or
/// `""` for the body itself).
pub fn reject_unknown(
    body: &serde_json::Map<String, Value>,
    known: &[&str],
    prefix: &str,
) -> Result<(), ApiError> {
    match body.keys().find(|k| !known.contains(&k.as_str())) {
        Some(field) => Err(ApiError::unrecognized(&format!("{prefix}{field}"))),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------
// Pagination

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// The documented limit range and default of one list operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSpec {
    pub min: usize,
    pub max: usize,
    pub default: usize,
}

/// 1–100, default 20: users, invites, projects, project users/service accounts/API keys,
/// certificates, audit logs, admin API keys.
pub const LIMIT_1_100_20: LimitSpec = LimitSpec {
    min: 1,
    max: 100,
    default: 20,
};
/// Rate limits: default 100 (no range stated; 1–100 chosen).
pub const LIMIT_RATE_LIMITS: LimitSpec = LimitSpec {
    min: 1,
    max: 100,
    default: 100,
};
/// Groups and group users: 0–1000, default 100.
pub const LIMIT_0_1000_100: LimitSpec = LimitSpec {
    min: 0,
    max: 1000,
    default: 100,
};
/// Roles (org and project): 0–1000, default 1000.
pub const LIMIT_0_1000_1000: LimitSpec = LimitSpec {
    min: 0,
    max: 1000,
    default: 1000,
};
/// Role assignments: 0–1000, no default stated (100 chosen).
pub const LIMIT_ROLE_ASSIGNMENTS: LimitSpec = LimitSpec {
    min: 0,
    max: 1000,
    default: 100,
};
/// Project groups: 0–100, default 20.
pub const LIMIT_0_100_20: LimitSpec = LimitSpec {
    min: 0,
    max: 100,
    default: 20,
};

/// A parsed page request: cursor, size and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<String>,
    pub before: Option<String>,
    pub order: Order,
}

/// Which of the optional query parameters an operation accepts.
#[derive(Debug, Clone, Copy)]
pub struct PageParams {
    pub limit: LimitSpec,
    /// `Some(default)` when the operation takes `order`.
    pub order: Option<Order>,
    pub before: bool,
    /// Style B: `after` carries an opaque `next` token (raw ids are accepted too).
    pub opaque_cursor: bool,
}

impl PageRequest {
    pub fn from_query(q: &QueryParams, params: PageParams) -> Result<Self, ApiError> {
        let limit = match q.int("limit")? {
            None => params.limit.default,
            Some(n) if n >= params.limit.min as i64 && n <= params.limit.max as i64 => n as usize,
            Some(n) => {
                return Err(ApiError::invalid_param(
                    "limit",
                    format!(
                        "Invalid 'limit': {n}. Limit must be between {} and {}.",
                        params.limit.min, params.limit.max
                    ),
                ));
            }
        };
        let order = match (params.order, q.get("order")) {
            (Some(_), Some("asc")) => Order::Asc,
            (Some(_), Some("desc")) => Order::Desc,
            (Some(_), Some(other)) => {
                return Err(ApiError::invalid_param(
                    "order",
                    format!("Invalid 'order': '{other}'. Expected 'asc' or 'desc'."),
                ));
            }
            (Some(default), None) => default,
            (None, _) => Order::Asc,
        };
        let decode = |raw: &str| {
            if params.opaque_cursor {
                decode_cursor(raw)
            } else {
                raw.to_string()
            }
        };
        // An empty `after=` is what some clients send for "from the start".
        let after = q.get("after").filter(|s| !s.is_empty()).map(decode);
        let before = if params.before {
            q.get("before").filter(|s| !s.is_empty()).map(decode)
        } else {
            None
        };
        if after.is_some() && before.is_some() {
            return Err(ApiError::bad_request(
                "Only one of 'after' and 'before' may be given",
            ));
        }
        Ok(PageRequest {
            limit,
            after,
            before,
            order,
        })
    }
}

const CURSOR_PREFIX: &str = "cursor:";

/// Style B `next` token for an object key.
pub fn encode_cursor(key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{key}"))
}

/// The key inside a `next` token; anything that is not one of ours is taken as a raw id
/// (the spec text for some style-B lists says `after` is "the ID of the last ...").
pub fn decode_cursor(raw: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix(CURSOR_PREFIX).map(str::to_string))
        .unwrap_or_else(|| raw.to_string())
}

/// One page of a collection.
#[derive(Debug)]
pub struct Page<'a, V> {
    pub items: Vec<(&'a String, &'a V)>,
    pub has_more: bool,
}

/// Pages through `map` (insertion order = creation order) keeping only items that pass
/// `keep`. `after`/`before` must name a key of `map` (else 400); the cursor item itself need
/// not pass the filter. `before` returns the `limit` items closest to the cursor, still in
/// the requested order. O(cursor position) with a filter, O(limit) without one from the
/// front.
pub fn paginate<'a, V>(
    map: &'a IndexMap<String, V>,
    keep: impl Fn(&V) -> bool,
    req: &PageRequest,
) -> Result<Page<'a, V>, ApiError> {
    let n = map.len();
    let position = |cursor: &str, param: &str| {
        map.get_index_of(cursor).ok_or_else(|| {
            ApiError::invalid_param(
                param,
                format!("Invalid '{param}': no object with id '{cursor}' in this list"),
            )
        })
    };
    // Indices in the requested order, as a start/step walk.
    let walk = |from: Option<usize>| -> Box<dyn Iterator<Item = usize>> {
        match req.order {
            Order::Asc => Box::new(from.map_or(0, |p| p + 1)..n),
            Order::Desc => Box::new((0..from.unwrap_or(n)).rev()),
        }
    };
    if let Some(before) = &req.before {
        let p = position(before, "before")?;
        // Items before the cursor in the requested order, nearest first.
        let preceding: Box<dyn Iterator<Item = usize>> = match req.order {
            Order::Asc => Box::new((0..p).rev()),
            Order::Desc => Box::new(p + 1..n),
        };
        let mut picked: Vec<usize> = Vec::new();
        let mut has_more = false;
        for i in preceding {
            let (_, v) = map.get_index(i).expect("index below len");
            if !keep(v) {
                continue;
            }
            if picked.len() == req.limit {
                has_more = true;
                break;
            }
            picked.push(i);
        }
        picked.reverse();
        let items = picked
            .into_iter()
            .map(|i| map.get_index(i).expect("index below len"))
            .collect();
        return Ok(Page { items, has_more });
    }
    let start = req
        .after
        .as_deref()
        .map(|a| position(a, "after"))
        .transpose()?;
    let mut items = Vec::with_capacity(req.limit.min(n));
    let mut has_more = false;
    for i in walk(start) {
        let (k, v) = map.get_index(i).expect("index below len");
        if !keep(v) {
            continue;
        }
        if items.len() == req.limit {
            has_more = true;
            break;
        }
        items.push((k, v));
    }
    Ok(Page { items, has_more })
}

/// Style A envelope: `{"object": "list", "data", "first_id", "last_id", "has_more"}`; the
/// ids are the first/last item's `id`.
pub fn list_a(data: Vec<Value>, has_more: bool) -> Value {
    let first_id = data
        .first()
        .and_then(|v| v.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    let last_id = data
        .last()
        .and_then(|v| v.get("id"))
        .cloned()
        .unwrap_or(Value::Null);
    json!({"object": "list", "data": data, "first_id": first_id, "last_id": last_id, "has_more": has_more})
}

/// Style B envelope: `{"object": "list", "data", "has_more", "next"}`; `next` is the opaque
/// cursor after `last_key` when more items follow.
pub fn list_b(data: Vec<Value>, has_more: bool, last_key: Option<&str>) -> Value {
    let next = match (has_more, last_key) {
        (true, Some(k)) => Value::String(encode_cursor(k)),
        _ => Value::Null,
    };
    json!({"object": "list", "data": data, "has_more": has_more, "next": next})
}

/// Helper for a whole style-A list: paginate and render each item.
pub fn page_a<V>(
    map: &IndexMap<String, V>,
    keep: impl Fn(&V) -> bool,
    req: &PageRequest,
    render: impl Fn(&V) -> Value,
) -> Result<Value, ApiError> {
    let page = paginate(map, keep, req)?;
    Ok(list_a(
        page.items.iter().map(|(_, v)| render(v)).collect(),
        page.has_more,
    ))
}

/// Helper for a whole style-B list.
pub fn page_b<V>(
    map: &IndexMap<String, V>,
    keep: impl Fn(&V) -> bool,
    req: &PageRequest,
    render: impl Fn(&String, &V) -> Value,
) -> Result<Value, ApiError> {
    let page = paginate(map, keep, req)?;
    let last = page.items.last().map(|(k, _)| k.as_str());
    let data = page.items.iter().map(|(k, v)| render(k, v)).collect();
    Ok(list_b(data, page.has_more, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(n: usize) -> IndexMap<String, usize> {
        (0..n).map(|i| (format!("id{i}"), i)).collect()
    }

    fn req(limit: usize, after: Option<&str>, before: Option<&str>, order: Order) -> PageRequest {
        PageRequest {
            limit,
            after: after.map(str::to_string),
            before: before.map(str::to_string),
            order,
        }
    }

    fn values(p: &Page<'_, usize>) -> Vec<usize> {
        p.items.iter().map(|(_, v)| **v).collect()
    }

    #[test]
    fn walks_forward_and_backward_in_both_orders() {
        let m = map(5);
        let p = paginate(&m, |_| true, &req(2, None, None, Order::Asc)).expect("page");
        assert_eq!((values(&p), p.has_more), (vec![0, 1], true));
        let p = paginate(&m, |_| true, &req(2, Some("id3"), None, Order::Asc)).expect("page");
        assert_eq!((values(&p), p.has_more), (vec![4], false));
        let p = paginate(&m, |_| true, &req(2, None, None, Order::Desc)).expect("page");
        assert_eq!((values(&p), p.has_more), (vec![4, 3], true));
        let p = paginate(&m, |_| true, &req(2, Some("id1"), None, Order::Desc)).expect("page");
        assert_eq!((values(&p), p.has_more), (vec![0], false));
        let p = paginate(&m, |_| true, &req(2, None, Some("id3"), Order::Asc)).expect("page");
        assert_eq!((values(&p), p.has_more), (vec![1, 2], true));
        let p = paginate(&m, |_| true, &req(2, None, Some("id1"), Order::Desc)).expect("page");
        assert_eq!((values(&p), p.has_more), (vec![3, 2], true));
    }

    #[test]
    fn filter_and_exact_boundary() {
        let m = map(6);
        let p = paginate(&m, |v| v % 2 == 0, &req(3, None, None, Order::Asc)).expect("page");
        assert_eq!((values(&p), p.has_more), (vec![0, 2, 4], false));
    }

    #[test]
    fn unknown_cursor_is_400() {
        let m = map(2);
        let err = paginate(&m, |_| true, &req(2, Some("nope"), None, Order::Asc))
            .expect_err("unknown cursor");
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.param.as_deref(), Some("after"));
    }

    #[test]
    fn query_accepts_arrays_and_objects() {
        let q = QueryParams::parse(Some(
            "emails%5B%5D=a%40x.com&emails=b%40x.com&effective_at%5Bgte%5D=5&limit=3",
        ))
        .expect("parse");
        assert_eq!(q.list("emails"), vec!["a@x.com", "b@x.com"]);
        assert_eq!(q.list("emails[]"), vec!["a@x.com", "b@x.com"]);
        assert_eq!(q.object_int("effective_at", "gte").expect("int"), Some(5));
        assert_eq!(q.int("limit").expect("int"), Some(3));
        assert!(q.int("missing").expect("absent").is_none());
    }

    #[test]
    fn limit_out_of_range_is_400() {
        let params = PageParams {
            limit: LIMIT_1_100_20,
            order: None,
            before: false,
            opaque_cursor: false,
        };
        let q = QueryParams::parse(Some("limit=101")).expect("parse");
        let err = PageRequest::from_query(&q, params).expect_err("out of range");
        assert_eq!(err.param.as_deref(), Some("limit"));
        let q = QueryParams::parse(Some("limit=0")).expect("parse");
        assert!(PageRequest::from_query(&q, params).is_err());
        let q = QueryParams::parse(None).expect("parse");
        assert_eq!(
            PageRequest::from_query(&q, params).expect("default").limit,
            20
        );
    }

    #[test]
    fn opaque_cursor_round_trips_and_accepts_raw_ids() {
        assert_eq!(decode_cursor(&encode_cursor("group_1")), "group_1");
        assert_eq!(decode_cursor("group_1"), "group_1");
    }

    #[test]
    fn error_envelope_has_all_four_keys() {
        let body = ApiError::bad_request("nope").body();
        let inner = body["error"].as_object().expect("object");
        for key in ["message", "type", "param", "code"] {
            assert!(inner.contains_key(key), "{key}");
        }
        assert!(inner["param"].is_null());
    }
}
