//! The JSON Schema (`schema/orgops.schema.json`, draft 2020-12), embedded and compiled once.
//!
//! The schema runs before the typed parse because it reports every error at once (serde
//! stops at the first) and because it catches what serde-saphyr lets through, such as a
//! plain `42` where a string belongs. Each error is turned into a located diagnostic: the
//! instance path is looked up in the file's [`SourceMap`]; an unknown key points at the key
//! itself, and unknown keys and bad enum values get a did-you-mean hint.

use std::sync::{LazyLock, OnceLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use super::diagnostics::{Diagnostic, did_you_mean};
use super::source_map::{SourceMap, escape_segment};

/// The published schema text.
pub const SCHEMA_TEXT: &str = include_str!("../../schema/orgops.schema.json");

/// The schema as a JSON value.
pub static SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str(SCHEMA_TEXT)
        .expect("the embedded schema is valid JSON (a unit test proves it)")
});

static VALIDATOR: LazyLock<jsonschema::Validator> = LazyLock::new(|| compile(&SCHEMA));

fn compile(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .expect("the embedded schema compiles (a unit test proves it)")
}

/// Whether `value` passes the whole schema (no error is described: the caller that needs
/// them runs [`check_with_faults`]).
pub fn is_valid(value: &Value) -> bool {
    VALIDATOR.is_valid(value)
}

/// The root keys of `schema` whose lists the loader may check one item at a time. Doing so is exact when the root's own keywords only look at each property
/// on its own and the list's schema says nothing but `type: array` and `items`: then the
/// document passes if and only if the document with that list empty passes and every item
/// passes `items` alone. Any array-level constraint (`minItems`, `maxItems`, `uniqueItems`,
/// `contains`, `prefixItems`, `unevaluatedItems`, a `$ref`...) or a root keyword that looks
/// at several properties together (`allOf`, `dependentSchemas`, `unevaluatedProperties`...)
/// keeps the list whole.
pub fn streamable_lists(schema: &Value) -> Vec<&str> {
    const ROOT_KEYWORDS: &[&str] = &[
        "$schema",
        "$id",
        "$defs",
        "$comment",
        "title",
        "description",
        "type",
        "properties",
        "additionalProperties",
        "required",
    ];
    const LIST_KEYWORDS: &[&str] = &["type", "items", "description", "title", "$comment"];
    let Some(root) = schema.as_object() else {
        return Vec::new();
    };
    if root.keys().any(|k| !ROOT_KEYWORDS.contains(&k.as_str())) {
        return Vec::new();
    }
    let Some(properties) = root.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .filter(|(_, list)| {
            list.as_object().is_some_and(|list| {
                list.keys().all(|k| LIST_KEYWORDS.contains(&k.as_str()))
                    && list.get("type") == Some(&Value::from("array"))
                    && list.get("items").is_some_and(Value::is_object)
            })
        })
        .map(|(key, _)| key.as_str())
        .collect()
}

/// The validator of the items of the root list `key`, compiled on first use (`None` when
/// that list is not checked item by item, see [`streamable_lists`]).
fn item_validator(key: &str) -> Option<&'static jsonschema::Validator> {
    static STREAMABLE: LazyLock<Vec<&'static str>> = LazyLock::new(|| streamable_lists(&SCHEMA));
    static VALIDATORS: [OnceLock<jsonschema::Validator>; 8] = [const { OnceLock::new() }; 8];
    let index = STREAMABLE.iter().position(|k| *k == key)?;
    let cell = VALIDATORS.get(index)?;
    Some(cell.get_or_init(|| {
        // The item's schema as a document of its own, with the definitions it refers to.
        let mut schema = SCHEMA
            .pointer(&format!("/properties/{}/items", escape_segment(key)))
            .cloned()
            .unwrap_or(Value::Bool(false));
        if let (Value::Object(item), Some(defs)) = (&mut schema, SCHEMA.get("$defs")) {
            item.insert("$defs".into(), defs.clone());
        }
        compile(&schema)
    }))
}

/// Whether the root list `key` is checked item by item ([`item_is_valid`]).
pub fn streams(key: &str) -> bool {
    item_validator(key).is_some()
}

/// Whether `item` passes the schema of the items of the root list `key` (`false` for a list
/// that is not checked item by item).
pub fn item_is_valid(key: &str, item: &Value) -> bool {
    item_validator(key).is_some_and(|v| v.is_valid(item))
}

/// Every schema violation in `value`, located in `file` through `map`.
pub fn check(value: &Value, file: &str, map: &SourceMap) -> Vec<Diagnostic> {
    check_with_faults(value, file, map)
        .into_iter()
        .map(|(diagnostic, _)| diagnostic)
        .collect()
}

/// The node a schema error is about, so the loader can set it aside and still check the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The value at this JSON pointer violates the schema.
    Value(String),
    /// The key at this JSON pointer is not allowed; the object around it is otherwise fine.
    UnknownKey(String),
}

/// Like [`check`], each diagnostic with the node it is about.
pub fn check_with_faults(value: &Value, file: &str, map: &SourceMap) -> Vec<(Diagnostic, Fault)> {
    let mut diagnostics = Vec::new();
    for error in VALIDATOR.iter_errors(value) {
        let pointer = error.instance_path().as_str().to_string();
        let node_schema = schema_at_in(value, &pointer);
        let mut value_errors = Vec::new();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = property_names(node_schema);
                for key in unexpected {
                    let key_pointer = format!("{pointer}/{}", escape_segment(key));
                    let at = map.key(&key_pointer);
                    let hint = did_you_mean(key, known.iter().map(String::as_str)).or_else(|| {
                        (!known.is_empty())
                            .then(|| format!("allowed keys here: {}", known.join(", ")))
                    });
                    diagnostics.push((
                        Diagnostic::error(
                            file,
                            at,
                            format!("unknown key `{key}`{}", describe(&pointer)),
                        )
                        .with_hint(hint),
                        Fault::UnknownKey(key_pointer),
                    ));
                }
            }
            // A quoted number in a numeric enum (`version: "1"`) is reported once, by the
            // type error above.
            ValidationErrorKind::Enum { options }
                if value_at(value, &pointer)
                    .and_then(Value::as_str)
                    .is_some_and(|text| {
                        options.as_array().is_some_and(|list| {
                            list.iter().any(|o| {
                                o.as_f64()
                                    .is_some_and(|n| text.trim().parse::<f64>() == Ok(n))
                            })
                        })
                    }) => {}
            ValidationErrorKind::Enum { options } => {
                let allowed: Vec<String> = options
                    .as_array()
                    .map(|list| list.iter().map(plain).collect())
                    .unwrap_or_default();
                let hint = match value_at(value, &pointer) {
                    Some(Value::String(given)) => {
                        did_you_mean(given, allowed.iter().map(String::as_str))
                    }
                    _ => None,
                };
                let given = value_at(value, &pointer).map(plain).unwrap_or_default();
                value_errors.push(
                    Diagnostic::error(
                        file,
                        map.value(&pointer),
                        format!(
                            "`{given}` is not one of: {}{}",
                            allowed.join(", "),
                            describe(&pointer)
                        ),
                    )
                    .with_hint(hint),
                );
            }
            ValidationErrorKind::Required { property } => {
                value_errors.push(Diagnostic::error(
                    file,
                    map.value(&pointer),
                    format!(
                        "missing required key `{}`{}",
                        plain(property),
                        describe(&pointer)
                    ),
                ));
            }
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(single) => article(&single.to_string()),
                    TypeKind::Multiple(set) => set
                        .into_iter()
                        .map(|t| article(&t.to_string()))
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                let found_value = value_at(value, &pointer);
                let found = found_value.map(type_name).unwrap_or("nothing");
                // `version: "1"`: a quoted number is a string to YAML.
                let quoted_number = match found_value {
                    Some(Value::String(text)) if expects_number(kind) => {
                        text.trim().parse::<f64>().is_ok().then(|| text.clone())
                    }
                    _ => None,
                };
                let diagnostic = match quoted_number {
                    Some(text) => Diagnostic::error(
                        file,
                        map.value(&pointer),
                        format!(
                            "expected {expected}, found the string \"{text}\"{}: write a number, not a string",
                            describe(&pointer)
                        ),
                    )
                    .with_hint(Some(format!("remove the quotes: `{}`", text.trim()))),
                    None => Diagnostic::error(
                        file,
                        map.value(&pointer),
                        format!("expected {expected}, found {found}{}", describe(&pointer)),
                    ),
                };
                value_errors.push(diagnostic);
            }
            ValidationErrorKind::Pattern { .. } if pointer_is_email(node_schema) => {
                let given = value_at(value, &pointer).map(plain).unwrap_or_default();
                value_errors.push(Diagnostic::error(
                    file,
                    map.value(&pointer),
                    format!("`{given}` is not an email address{}", describe(&pointer)),
                ));
            }
            // The project's `not: {required: [residency, geography]}`.
            ValidationErrorKind::Not { .. }
                if value_at(value, &pointer).is_some_and(|p| {
                    p.get("residency").is_some() && p.get("geography").is_some()
                }) =>
            {
                value_errors.push(
                    Diagnostic::error(
                        file,
                        map.key(&format!("{pointer}/geography")),
                        format!(
                            "`geography` and `residency` together{}: the API takes one (\"Do not provide both\")",
                            describe(&pointer)
                        ),
                    )
                    .with_hint(Some(
                        "keep `residency` (geography is deprecated) and remove `geography`".into(),
                    )),
                );
            }
            ValidationErrorKind::MinProperties { .. }
            | ValidationErrorKind::MaxProperties { .. }
                if pointer.ends_with("/sink") =>
            {
                value_errors.push(
                    Diagnostic::error(
                        file,
                        map.value(&pointer),
                        "a sink takes exactly one of `file` or `command`",
                    )
                    .with_hint(Some("e.g. `sink: { file: keys/ci.key }`".into())),
                );
            }
            _ => {
                value_errors.push(Diagnostic::error(
                    file,
                    map.value(&pointer),
                    format!("{}{}", error.masked(), describe(&pointer)),
                ));
            }
        }
        diagnostics.extend(
            value_errors
                .into_iter()
                .map(|d| (d, Fault::Value(pointer.clone()))),
        );
    }
    diagnostics
}

/// ` (at users[0].role)`: where in the document, in the notation docs/configuration.md uses.
fn describe(pointer: &str) -> String {
    if pointer.is_empty() {
        return String::new();
    }
    let mut path = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
        }
    }
    format!(" (at {path})")
}

fn expects_number(kind: &TypeKind) -> bool {
    let numeric = |t: String| t == "integer" || t == "number";
    match kind {
        TypeKind::Single(single) => numeric(single.to_string()),
        TypeKind::Multiple(set) => set.into_iter().any(|t| numeric(t.to_string())),
    }
}

fn article(kind: &str) -> String {
    match kind {
        "integer" | "array" | "object" => format!("an {kind}"),
        "null" => "null".to_string(),
        other => format!("a {other}"),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A value as the user would write it (strings without quotes).
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn value_at<'v>(root: &'v Value, pointer: &str) -> Option<&'v Value> {
    root.pointer(pointer)
}

fn pointer_is_email(schema: Option<&Value>) -> bool {
    schema.and_then(|s| s.get("pattern")) == SCHEMA.pointer("/$defs/email/pattern")
}

fn resolve(schema: &Value) -> &Value {
    let mut current = schema;
    // References are local (`#/$defs/...`) and never cyclic in this schema; bound the chase anyway.
    for _ in 0..8 {
        match current
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(target) => match SCHEMA.pointer(target) {
                Some(next) => current = next,
                None => break,
            },
            None => break,
        }
    }
    current
}

/// The (resolved) sub-schema that describes the node at `pointer`, if the path is declared.
pub fn schema_at(pointer: &str) -> Option<&'static Value> {
    schema_at_in(&Value::Null, pointer)
}

/// Like [`schema_at`], choosing among a value's shapes (`oneOf`: an external key's `aws`,
/// `gcp`, ... fields) by what `document` holds at each step: the branch whose `type` is the
/// instance's, else the first one with a structure.
pub fn schema_at_in(document: &Value, pointer: &str) -> Option<&'static Value> {
    let mut current = resolve(&SCHEMA);
    let mut instance = Some(document);
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        current = object_branch(current, instance);
        let next = if let Some(items) = current.get("items") {
            items
        } else if let Some(property) = current.get("properties").and_then(|p| p.get(&segment)) {
            property
        } else {
            current
                .get("additionalProperties")
                .filter(|a| a.is_object())?
        };
        instance = instance.and_then(|v| match v {
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            Value::Object(map) => map.get(&segment),
            _ => None,
        });
        current = resolve(next);
    }
    Some(object_branch(current, instance))
}

/// Of a value of several shapes (`oneOf`/`anyOf`: a name or a mapping, a provider's
/// fields), the branch with a structure to descend into whose `type` constant is the
/// instance's `type` when it has one; any other schema as it is.
fn object_branch(schema: &'static Value, instance: Option<&Value>) -> &'static Value {
    if schema.get("properties").is_some() || schema.get("items").is_some() {
        return schema;
    }
    let structured: Vec<&'static Value> = ["oneOf", "anyOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array))
        .flatten()
        .map(|b| object_branch(resolve(b), instance))
        .filter(|b| b.get("properties").is_some() || b.get("items").is_some())
        .collect();
    let wanted = instance.and_then(|v| v.get("type"));
    structured
        .iter()
        .find(|b| wanted.is_some() && b.pointer("/properties/type/const") == wanted)
        .or(structured.first())
        .copied()
        .unwrap_or(schema)
}

fn property_names(schema: Option<&Value>) -> Vec<String> {
    schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_yaml(text: &str) -> Vec<Diagnostic> {
        let value: Value = serde_saphyr::from_str(text).expect("test YAML parses");
        check(&value, "t.yaml", &SourceMap::build(text))
    }

    #[test]
    fn schema_compiles_and_accepts_an_empty_document() {
        assert!(VALIDATOR.is_valid(&serde_json::json!({})));
        assert!(schema_at("/projects/0/rate_limits/gpt-4o").is_some());
        assert!(schema_at("/projects/0/nope").is_none());
    }

    #[test]
    fn every_root_list_is_checked_item_by_item_unless_the_list_itself_is_constrained() {
        let lists = streamable_lists(&SCHEMA);
        assert_eq!(
            lists,
            [
                "users",
                "groups",
                "roles",
                "certificates",
                "admin_api_keys",
                "projects",
                "invites"
            ]
        );
        assert!(lists.iter().all(|list| streams(list)));
        assert!(!streams("settings") && !streams("policy") && !streams("nope"));
        let user = serde_json::json!({"email": "a@x.example", "role": "owner"});
        assert!(item_is_valid("users", &user));
        assert!(!item_is_valid(
            "users",
            &serde_json::json!({"email": "a@x.example"})
        ));
        assert!(!item_is_valid("groups", &user));
        // An array-level keyword an empty stand-in would pass keeps that list whole; a root
        // keyword that looks at properties together keeps every list whole.
        for keyword in [
            "minItems",
            "maxItems",
            "uniqueItems",
            "contains",
            "prefixItems",
        ] {
            let mut schema = SCHEMA.clone();
            schema["properties"]["users"][keyword] = serde_json::json!(1);
            let lists = streamable_lists(&schema);
            assert!(
                !lists.contains(&"users") && lists.contains(&"projects"),
                "{keyword}"
            );
        }
        let mut schema = SCHEMA.clone();
        schema["allOf"] = serde_json::json!([{"required": ["users"]}]);
        assert!(streamable_lists(&schema).is_empty());
    }

    #[test]
    fn unknown_key_points_at_the_key_with_a_hint() {
        let diagnostics =
            check_yaml("users:\n  - email: a@x.example\n    role: owner\n    roels: []\n");
        assert_eq!(diagnostics.len(), 1);
        let d = &diagnostics[0];
        assert_eq!((d.line, d.column, d.width), (4, 5, 5));
        assert_eq!(d.message, "unknown key `roels` (at users[0])");
        assert_eq!(d.hint.as_deref(), Some("did you mean `roles`?"));
    }

    #[test]
    fn bad_enum_value_gets_did_you_mean() {
        let diagnostics = check_yaml("users:\n  - email: a@x.example\n    role: ownr\n");
        assert_eq!(
            diagnostics[0].message,
            "`ownr` is not one of: owner, reader (at users[0].role)"
        );
        assert_eq!(
            diagnostics[0].hint.as_deref(),
            Some("did you mean `owner`?")
        );
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (3, 11));
    }

    #[test]
    fn a_number_where_a_string_belongs_is_caught() {
        let diagnostics = check_yaml("groups:\n  - name: 42\n");
        assert_eq!(
            diagnostics[0].message,
            "expected a string, found an integer (at groups[0].name)"
        );
        assert_eq!((diagnostics[0].line, diagnostics[0].column), (2, 11));
    }

    #[test]
    fn every_error_is_reported() {
        let diagnostics = check_yaml("users:\n  - role: owner\n  - email: nope\n    role: admin\n");
        let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
    }
}
