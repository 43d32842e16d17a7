//! OpenAPI contract harness: checks request and response bodies against the official Admin API
//! subset in `openapi/openai-admin.openapi.yaml`.
//!
//! The emulator's contract suite drives every served operation and hands each response to
//! [`validate_response`]; a body that violates the spec fails the suite. The spec is loaded once
//! per test binary and validators are compiled lazily, once per schema.
//!
//! How the spec is turned into JSON Schema (OpenAPI 3.1 is a superset of draft 2020-12):
//! - The whole document is registered as one draft 2020-12 resource under [`SPEC_URI`]. A
//!   validator is a single `{"$ref": "<SPEC_URI>#<pointer to the schema inside the spec>"}`, so
//!   every `#/components/schemas/...` reference inside the schema resolves against the spec
//!   document itself, exactly as OpenAPI tools resolve it.
//! - `x-` extensions (`x-oaiMeta`, `x-stainless-const`), `discriminator` and `example` are not
//!   JSON Schema keywords and are ignored as unknown keywords; nullable values are already written
//!   as `anyOf [..., {type: 'null'}]`.
//! - Formats are annotations only (`format: unixtime` is custom and must not fail validation).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::{Draft, Registry, Validator};
use serde_json::Value;

/// The base URI the spec document is registered under in the schema registry.
pub const SPEC_URI: &str = "urn:orgops:openai-admin-openapi";

/// The spec file, relative to the crate root.
pub const SPEC_FILE: &str = "openapi/openai-admin.openapi.yaml";

/// The HTTP methods OpenAPI allows as keys of a path item.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The one spec of this repository, parsed on first use.
static SPEC: LazyLock<Spec> = LazyLock::new(|| {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC_FILE);
    // The spec is a file of this repository; the whole harness is meaningless without it.
    Spec::load(&file).unwrap_or_else(|error| panic!("cannot load {}: {error}", file.display()))
});

/// The repository's OpenAPI spec, loaded once.
pub fn spec() -> &'static Spec {
    &SPEC
}

/// One operation of the spec: a method on a path template.
#[derive(Debug)]
pub struct Operation {
    /// Upper-case HTTP method, e.g. `GET`.
    pub method: String,
    /// The spec's path template, e.g. `/organization/projects/{project_id}/users/{user_id}`.
    pub template: String,
    /// The spec's `operationId`, e.g. `list-project-users` (empty if the spec has none).
    pub operation_id: String,
    /// The operation object as written in the spec.
    pub definition: Value,
}

impl Operation {
    /// The route name the emulator counts requests under: `"GET /organization/users"`.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// The response statuses the spec declares for this operation, e.g. `["200", "429"]`.
    pub fn declared_statuses(&self) -> Vec<String> {
        self.definition
            .get("responses")
            .and_then(Value::as_object)
            .map(|responses| responses.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The success status the spec declares (the lowest `2xx`), used for the examples.
    pub fn success_status(&self) -> Option<u16> {
        self.declared_statuses()
            .iter()
            .filter_map(|status| status.parse::<u16>().ok())
            .filter(|status| (200..300).contains(status))
            .min()
    }

    /// The spec's `x-oaiMeta.examples.response` text for this operation, if any.
    fn response_example_text(&self) -> Option<&str> {
        self.definition
            .pointer("/x-oaiMeta/examples/response")
            .and_then(Value::as_str)
    }
}

/// One segment of a path template.
#[derive(Debug)]
enum Segment {
    Literal(String),
    Parameter,
}

/// A path template split for matching, with its operations by lower-case method.
#[derive(Debug)]
struct PathTemplate {
    template: String,
    segments: Vec<Segment>,
    operations: BTreeMap<String, Operation>,
}

impl PathTemplate {
    /// Whether `segments` (a concrete path) fits this template; if so, which of its segments are
    /// literals (`true`), so that the most literal template can be preferred.
    fn literal_profile(&self, segments: &[&str]) -> Option<Vec<bool>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        self.segments
            .iter()
            .zip(segments)
            .map(|(template_segment, segment)| match template_segment {
                Segment::Literal(literal) => (literal == segment).then_some(true),
                Segment::Parameter => (!segment.is_empty()).then_some(false),
            })
            .collect()
    }
}

/// The schema a body is checked against, found in the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaLocation {
    /// JSON pointer to the schema inside the spec document.
    pub pointer: String,
    /// Why this schema applies, for error messages (e.g. `response 200`, `undeclared 404 →
    /// ErrorResponse`).
    pub reason: String,
}

/// An example from the spec's `x-oaiMeta`, parsed as JSON.
#[derive(Debug, Clone)]
pub struct ResponseExample {
    /// Upper-case HTTP method.
    pub method: String,
    /// The spec's path template.
    pub template: String,
    /// The operation's declared success status.
    pub status: u16,
    /// The example body.
    pub body: Value,
}

/// An `x-oaiMeta` response example that is not valid JSON (the spec has several, e.g. trailing
/// commas).
#[derive(Debug, Clone)]
pub struct UnparsableExample {
    pub method: String,
    pub template: String,
    /// The JSON parser's message.
    pub error: String,
}

/// Every operation's `x-oaiMeta` response example, split by whether it parses as JSON.
#[derive(Debug, Clone, Default)]
pub struct ResponseExamples {
    pub parsed: Vec<ResponseExample>,
    pub unparsable: Vec<UnparsableExample>,
    /// Operations whose example has no (or an empty) response body, e.g. `POST
    /// /organization/projects/{project_id}`.
    pub without_response: Vec<(String, String)>,
}

/// Why the spec could not be loaded.
#[derive(Debug)]
pub struct SpecError(String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

/// A parsed OpenAPI document ready to match paths and validate bodies.
pub struct Spec {
    document: Value,
    templates: Vec<PathTemplate>,
    registry: Registry<'static>,
    /// Compiled validators by schema pointer (a pointer is determined by template, method and
    /// status, and several statuses share one, e.g. every undeclared error uses ErrorResponse).
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl fmt::Debug for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spec")
            .field("templates", &self.templates.len())
            .finish_non_exhaustive()
    }
}

impl Spec {
    /// Reads and parses an OpenAPI YAML file.
    pub fn load(file: &Path) -> Result<Spec, SpecError> {
        let text = std::fs::read_to_string(file)
            .map_err(|error| SpecError(format!("cannot read: {error}")))?;
        Spec::from_yaml(&text)
    }

    /// Parses an OpenAPI YAML document.
    pub fn from_yaml(text: &str) -> Result<Spec, SpecError> {
        let document: Value = serde_saphyr::from_str(text)
            .map_err(|error| SpecError(format!("not valid YAML: {error}")))?;
        Spec::from_document(document)
    }

    /// Builds the path index and the schema registry from a parsed OpenAPI document.
    pub fn from_document(document: Value) -> Result<Spec, SpecError> {
        let paths = document
            .get("paths")
            .and_then(Value::as_object)
            .ok_or_else(|| SpecError("the document has no `paths` object".to_owned()))?;
        let mut templates = Vec::with_capacity(paths.len());
        for (template, item) in paths {
            let segments = split_path(template)
                .into_iter()
                .map(|segment| {
                    if segment.starts_with('{') && segment.ends_with('}') {
                        Segment::Parameter
                    } else {
                        Segment::Literal(segment.to_owned())
                    }
                })
                .collect();
            let operations = METHODS
                .iter()
                .filter_map(|method| {
                    let definition = item.get(*method)?;
                    Some((
                        (*method).to_owned(),
                        Operation {
                            method: method.to_ascii_uppercase(),
                            template: template.clone(),
                            operation_id: definition
                                .get("operationId")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            definition: definition.clone(),
                        },
                    ))
                })
                .collect();
            templates.push(PathTemplate {
                template: template.clone(),
                segments,
                operations,
            });
        }
        let registry = Registry::new()
            .draft(Draft::Draft202012)
            .add(SPEC_URI, document.clone())
            .and_then(|builder| builder.prepare())
            .map_err(|error| SpecError(format!("cannot register the spec as a schema: {error}")))?;
        Ok(Spec {
            document,
            templates,
            registry,
            validators: Mutex::new(HashMap::new()),
        })
    }

    /// Every operation of the spec, in the spec's path order, then by method name.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.templates
            .iter()
            .flat_map(|template| template.operations.values())
    }

    /// The path template a concrete request path belongs to, e.g.
    /// `/v1/organization/projects/proj_abc` → `/organization/projects/{project_id}`.
    ///
    /// The `/v1` prefix and a query string are optional. Where several templates fit, the one
    /// whose first differing segment is a literal wins, so `/organization/certificates/activate`
    /// is the `activate` path and not `{certificate_id}`.
    pub fn path_template(&self, path: &str) -> Option<&str> {
        self.match_path(path).map(|found| found.template.as_str())
    }

    /// The operation serving `method` (any case) on a concrete request path (see
    /// [`Spec::path_template`]). A method the matched path does not declare gives `None`; the
    /// path is matched first, as an HTTP router does.
    pub fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        self.match_path(path)?
            .operations
            .get(&method.to_ascii_lowercase())
    }

    fn match_path(&self, path: &str) -> Option<&PathTemplate> {
        let path = path.split_once('?').map_or(path, |(path, _query)| path);
        let path = match path.strip_prefix("/v1") {
            Some(rest) if rest.starts_with('/') => rest,
            _ => path,
        };
        let segments = split_path(path);
        self.templates
            .iter()
            .filter_map(|template| {
                template
                    .literal_profile(&segments)
                    .map(|profile| (profile, template))
            })
            // `Vec<bool>` orders lexicographically with `true` (literal) above `false`.
            .max_by(|(left, _), (right, _)| left.cmp(right))
            .map(|(_, template)| template)
    }

    /// The schema a response body with `status` must satisfy.
    ///
    /// The declared status wins, then `default`; an undeclared `429` uses
    /// `components.responses.TooManyRequests`, and any other undeclared `4xx`/`5xx` uses
    /// `components.schemas.ErrorResponse` (the API answers every error with the envelope). An
    /// undeclared success status is an error: the server answers a status the spec does not allow.
    pub fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
    ) -> Result<SchemaLocation, String> {
        let operation = self
            .operation(method, path)
            .ok_or_else(|| format!("no operation {} {path} in the spec", method.to_uppercase()))?;
        let status_key = status.to_string();
        let operation_pointer = format!(
            "/paths/{}/{}",
            escape_pointer(&operation.template),
            operation.method.to_ascii_lowercase()
        );
        let responses = operation.definition.get("responses");
        let declared = [status_key.as_str(), "default"]
            .into_iter()
            .find_map(|key| {
                responses
                    .and_then(|responses| responses.get(key))
                    .map(|response| (key, response))
            });
        let (response_pointer, response, reason) = match declared {
            Some((key, response)) => (
                format!("{operation_pointer}/responses/{key}"),
                response,
                format!("response {key}"),
            ),
            None if status == 429 => (
                "/components/responses/TooManyRequests".to_owned(),
                self.document
                    .pointer("/components/responses/TooManyRequests")
                    .ok_or("the spec has no components.responses.TooManyRequests")?,
                "undeclared 429 → TooManyRequests".to_owned(),
            ),
            None if status >= 400 => {
                let pointer = "/components/schemas/ErrorResponse";
                if self.document.pointer(pointer).is_none() {
                    return Err("the spec has no components.schemas.ErrorResponse".to_owned());
                }
                return Ok(SchemaLocation {
                    pointer: pointer.to_owned(),
                    reason: format!("undeclared {status} → ErrorResponse"),
                });
            }
            None => {
                return Err(format!(
                    "{} declares no response {status} (declared: {})",
                    operation.route(),
                    operation.declared_statuses().join(", ")
                ));
            }
        };
        // A response may itself be a reference to `#/components/responses/...`.
        let (response_pointer, response) = self.follow_ref(response_pointer, response)?;
        let schema_pointer = format!("{response_pointer}/content/application~1json/schema");
        if response
            .pointer("/content/application~1json/schema")
            .is_none()
        {
            return Err(format!(
                "{} {reason} has no application/json schema",
                operation.route()
            ));
        }
        Ok(SchemaLocation {
            pointer: schema_pointer,
            reason,
        })
    }

    /// The schema a request body must satisfy, or `None` if the operation takes no body.
    pub fn request_schema(
        &self,
        method: &str,
        path: &str,
    ) -> Result<Option<SchemaLocation>, String> {
        let operation = self
            .operation(method, path)
            .ok_or_else(|| format!("no operation {} {path} in the spec", method.to_uppercase()))?;
        let Some(request_body) = operation.definition.get("requestBody") else {
            return Ok(None);
        };
        let body_pointer = format!(
            "/paths/{}/{}/requestBody",
            escape_pointer(&operation.template),
            operation.method.to_ascii_lowercase()
        );
        let (body_pointer, request_body) = self.follow_ref(body_pointer, request_body)?;
        if request_body
            .pointer("/content/application~1json/schema")
            .is_none()
        {
            return Err(format!(
                "{} has a request body without an application/json schema",
                operation.route()
            ));
        }
        Ok(Some(SchemaLocation {
            pointer: format!("{body_pointer}/content/application~1json/schema"),
            reason: "request body".to_owned(),
        }))
    }

    /// Follows a local `$ref` on a response or request-body object (one level is all OpenAPI
    /// allows there in practice; a chain is followed to a bound to survive a cyclic spec).
    fn follow_ref<'a>(
        &'a self,
        mut pointer: String,
        mut object: &'a Value,
    ) -> Result<(String, &'a Value), String> {
        for _ in 0..8 {
            let Some(reference) = object.get("$ref").and_then(Value::as_str) else {
                return Ok((pointer, object));
            };
            let target = reference
                .strip_prefix('#')
                .ok_or_else(|| format!("non-local reference {reference} at {pointer}"))?;
            object = self
                .document
                .pointer(target)
                .ok_or_else(|| format!("unresolvable reference {reference} at {pointer}"))?;
            pointer = target.to_owned();
        }
        Err(format!("reference chain too long at {pointer}"))
    }

    /// The compiled validator for the schema at `pointer`, compiled on first use.
    fn validator(&self, pointer: &str) -> Result<Arc<Validator>, String> {
        // A poisoned lock only means another test panicked while holding it; the map is still a
        // valid cache.
        let mut validators = self
            .validators
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(validator) = validators.get(pointer) {
            return Ok(Arc::clone(validator));
        }
        let schema =
            serde_json::json!({ "$ref": format!("{SPEC_URI}#{}", encode_fragment(pointer)) });
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .with_registry(&self.registry)
            .should_validate_formats(false)
            .build(&schema)
            .map_err(|error| format!("cannot compile the schema at {pointer}: {error}"))?;
        let validator = Arc::new(validator);
        validators.insert(pointer.to_owned(), Arc::clone(&validator));
        Ok(validator)
    }

    /// Validates `body` against the schema at `location`; every violation is one message,
    /// `"<instance path>: <message>"`, with `(root)` for the body itself.
    pub fn validate_at(&self, location: &SchemaLocation, body: &Value) -> Result<(), Vec<String>> {
        let validator = self
            .validator(&location.pointer)
            .map_err(|error| vec![error])?;
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|error| {
                let path = error.instance_path().to_string();
                let path = if path.is_empty() { "(root)" } else { &path };
                format!("{path}: {error}")
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Validates a response body; see [`Spec::response_schema`] for which schema applies.
    pub fn validate_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), Vec<String>> {
        let location = self
            .response_schema(method, path, status)
            .map_err(|error| vec![error])?;
        self.validate_at(&location, body)
    }

    /// Validates a request body. An operation without a declared request body accepts only
    /// `null` (no body): sending one where the spec has none is a client bug.
    pub fn validate_request(
        &self,
        method: &str,
        path: &str,
        body: &Value,
    ) -> Result<(), Vec<String>> {
        match self
            .request_schema(method, path)
            .map_err(|error| vec![error])?
        {
            Some(location) => self.validate_at(&location, body),
            None if body.is_null() => Ok(()),
            None => Err(vec![format!(
                "{} {path} declares no request body, but one was given",
                method.to_uppercase()
            )]),
        }
    }

    /// Validates `body` against `components.schemas.<name>`.
    pub fn validate_component(&self, name: &str, body: &Value) -> Result<(), Vec<String>> {
        let pointer = format!("/components/schemas/{}", escape_pointer(name));
        if self.document.pointer(&pointer).is_none() {
            return Err(vec![format!("the spec has no components.schemas.{name}")]);
        }
        let location = SchemaLocation {
            pointer,
            reason: format!("component {name}"),
        };
        self.validate_at(&location, body)
    }

    /// Every component schema's `x-oaiMeta.example` (the "object" examples of the API
    /// reference): `(schema name, parsed body or the JSON parser's message)`.
    pub fn component_examples(&self) -> Vec<(String, Result<Value, String>)> {
        let Some(schemas) = self
            .document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
        else {
            return Vec::new();
        };
        schemas
            .iter()
            .filter_map(|(name, schema)| {
                let text = schema.pointer("/x-oaiMeta/example")?.as_str()?;
                let parsed = serde_json::from_str(text).map_err(|error| error.to_string());
                Some((name.clone(), parsed))
            })
            .collect()
    }

    /// Every operation's `x-oaiMeta.examples.response`, parsed as JSON where it parses.
    pub fn response_examples(&self) -> ResponseExamples {
        let mut examples = ResponseExamples::default();
        for operation in self.operations() {
            let text = operation.response_example_text().map(str::trim);
            let (Some(text), Some(status)) = (
                text.filter(|text| !text.is_empty()),
                operation.success_status(),
            ) else {
                examples
                    .without_response
                    .push((operation.method.clone(), operation.template.clone()));
                continue;
            };
            match serde_json::from_str::<Value>(text) {
                Ok(body) => examples.parsed.push(ResponseExample {
                    method: operation.method.clone(),
                    template: operation.template.clone(),
                    status,
                    body,
                }),
                Err(error) => examples.unparsable.push(UnparsableExample {
                    method: operation.method.clone(),
                    template: operation.template.clone(),
                    error: error.to_string(),
                }),
            }
        }
        examples
    }
}

/// Splits a path into its segments, without the leading slash.
fn split_path(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

/// Percent-encodes a JSON pointer for use as a URI fragment (RFC 6901 §6): path templates
/// contain `{` and `}`, which a URI may not.
fn encode_fragment(pointer: &str) -> String {
    let mut fragment = String::with_capacity(pointer.len());
    for byte in pointer.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            fragment.push(char::from(byte));
        } else {
            fragment.push_str(&format!("%{byte:02X}"));
        }
    }
    fragment
}

/// Escapes a key for use as a JSON pointer token (RFC 6901).
fn escape_pointer(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Validates a response body of `method path` with `status` against the repository's spec.
pub fn validate_response(
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Result<(), Vec<String>> {
    spec().validate_response(method, path, status, body)
}

/// Validates a request body of `method path` against the repository's spec.
pub fn validate_request(method: &str, path: &str, body: &Value) -> Result<(), Vec<String>> {
    spec().validate_request(method, path, body)
}

/// The spec's response examples that parse as JSON: `(method, template, status, body)`.
/// [`Spec::response_examples`] also lists the ones that do not parse.
pub fn examples() -> Vec<(String, String, u16, Value)> {
    spec()
        .response_examples()
        .parsed
        .into_iter()
        .map(|example| {
            (
                example.method,
                example.template,
                example.status,
                example.body,
            )
        })
        .collect()
}
