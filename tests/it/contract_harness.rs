//! Tests of the OpenAPI contract harness itself (`support::openapi`): path matching, schema
//! selection per status, the OpenAPI 3.1 quirks, and a proof on the spec's own examples.

use serde_json::{Value, json};

use crate::support::openapi::{self, Spec, spec};
use crate::support::{assert_valid_request, assert_valid_response};

/// Spec examples that contradict their own schema, with the violation each one has. These are
/// bugs in the upstream spec (reference §8), not in the harness: the test below fails if an entry
/// starts validating (the spec was fixed, remove the entry) or fails for another reason.
const EXAMPLE_BUGS: &[(&str, &str, &str)] = &[
    // The example predates `expires_at` becoming required on `AdminApiKey`.
    (
        "GET",
        "/organization/admin_api_keys/{key_id}",
        "\"expires_at\" is a required property",
    ),
    // Group examples add `"object": "group"` and omit the required `group_type`.
    (
        "GET",
        "/organization/groups",
        "\"group_type\" is a required property",
    ),
    (
        "POST",
        "/organization/groups",
        "\"group_type\" is a required property",
    ),
    (
        "GET",
        "/organization/projects/{project_id}/groups",
        "\"group_type\" is a required property",
    ),
    (
        "POST",
        "/organization/projects/{project_id}/groups",
        "\"group_type\" is a required property",
    ),
    // Invite examples predate `projects` becoming required on `Invite`.
    (
        "GET",
        "/organization/invites",
        "\"projects\" is a required property",
    ),
    (
        "GET",
        "/organization/invites/{invite_id}",
        "\"projects\" is a required property",
    ),
    // Role-assignment list examples omit the required (nullable) `assignment_sources`.
    (
        "GET",
        "/organization/groups/{group_id}/roles",
        "\"assignment_sources\" is a required property",
    ),
    (
        "GET",
        "/organization/users/{user_id}/roles",
        "\"assignment_sources\" is a required property",
    ),
    (
        "GET",
        "/projects/{project_id}/groups/{group_id}/roles",
        "\"assignment_sources\" is a required property",
    ),
    (
        "GET",
        "/projects/{project_id}/users/{user_id}/roles",
        "\"assignment_sources\" is a required property",
    ),
];

/// Response examples that are not JSON (trailing commas, reference §8).
const UNPARSABLE_EXAMPLES: &[(&str, &str)] = &[
    ("GET", "/organization/audit_logs"),
    ("GET", "/organization/certificates"),
    ("POST", "/organization/certificates/activate"),
    ("POST", "/organization/certificates/deactivate"),
    ("GET", "/organization/projects/{project_id}/certificates"),
    (
        "POST",
        "/organization/projects/{project_id}/certificates/activate",
    ),
    (
        "POST",
        "/organization/projects/{project_id}/certificates/deactivate",
    ),
];

fn template_of(method: &str, path: &str) -> Option<String> {
    spec()
        .operation(method, path)
        .map(|operation| operation.template.clone())
}

fn project_list() -> Value {
    json!({
        "object": "list",
        "data": [{
            "id": "proj_abc",
            "object": "organization.project",
            "name": "Project example",
            "created_at": 1711471533,
            "archived_at": null,
            "status": "active"
        }],
        "first_id": "proj_abc",
        "last_id": "proj_abc",
        "has_more": false
    })
}

fn error_envelope() -> Value {
    json!({"error": {
        "message": "No such user: user_x",
        "type": "invalid_request_error",
        "param": null,
        "code": null
    }})
}

fn errors_of(result: Result<(), Vec<String>>) -> Vec<String> {
    match result {
        Ok(()) => panic!("expected the body to be rejected"),
        Err(errors) => errors,
    }
}

#[test]
fn parameters_match_any_segment_and_give_the_template_and_route() {
    let operation = spec()
        .operation("GET", "/organization/projects/proj_abc/users/user_1")
        .expect("a project user path is in the spec");
    assert_eq!(
        operation.template,
        "/organization/projects/{project_id}/users/{user_id}"
    );
    assert_eq!(operation.method, "GET");
    assert_eq!(operation.operation_id, "retrieve-project-user");
    assert_eq!(
        operation.route(),
        "GET /organization/projects/{project_id}/users/{user_id}"
    );
}

#[test]
fn the_v1_prefix_query_string_and_method_case_are_optional() {
    let expected = Some("/organization/projects/{project_id}/users/{user_id}".to_owned());
    for (method, path) in [
        ("GET", "/v1/organization/projects/proj_abc/users/user_1"),
        ("get", "/organization/projects/proj_abc/users/user_1"),
        (
            "Get",
            "/v1/organization/projects/proj_abc/users/user_1?limit=2",
        ),
    ] {
        assert_eq!(template_of(method, path), expected, "{method} {path}");
    }
    assert_eq!(
        spec().path_template("/v1/organization/users"),
        Some("/organization/users")
    );
    // `/v1` is a prefix segment, not a string prefix.
    assert_eq!(spec().path_template("/v1organization/users"), None);
}

#[test]
fn literal_segments_beat_parameters() {
    assert_eq!(
        template_of("POST", "/v1/organization/certificates/activate").as_deref(),
        Some("/organization/certificates/activate")
    );
    assert_eq!(
        template_of("POST", "/organization/certificates/deactivate").as_deref(),
        Some("/organization/certificates/deactivate")
    );
    assert_eq!(
        template_of("GET", "/organization/certificates/cert_abc").as_deref(),
        Some("/organization/certificates/{certificate_id}")
    );
    assert_eq!(
        template_of(
            "POST",
            "/organization/projects/proj_1/certificates/activate"
        )
        .as_deref(),
        Some("/organization/projects/{project_id}/certificates/activate")
    );
    // The path is matched first, like a router: GET on the literal `activate` path is not
    // silently routed to `GET {certificate_id}`.
    assert!(
        spec()
            .operation("GET", "/organization/certificates/activate")
            .is_none()
    );
}

#[test]
fn unknown_paths_and_methods_match_nothing() {
    for (method, path) in [
        ("GET", "/organization/nothing"),
        ("GET", "/v2/organization/users"),
        ("GET", "/organization/users/user_1/extra/deep"),
        ("GET", "/organization/users/"),
        ("GET", "/v1"),
        ("GET", ""),
        ("PATCH", "/organization/users/user_1"),
        ("PUT", "/organization/projects"),
    ] {
        assert!(
            spec().operation(method, path).is_none(),
            "{method} {path} should match no operation"
        );
    }
}

#[test]
fn every_operation_of_the_spec_is_found_from_a_concrete_path() {
    let mut count = 0;
    for operation in spec().operations() {
        let concrete: Vec<String> = operation
            .template
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "id_1".to_owned()
                } else {
                    segment.to_owned()
                }
            })
            .collect();
        let path = format!("/v1{}", concrete.join("/"));
        let found = spec()
            .operation(&operation.method, &path)
            .unwrap_or_else(|| panic!("{} {path} matched nothing", operation.method));
        assert_eq!(found.route(), operation.route(), "for {path}");
        count += 1;
    }
    // Reference §11: the subset has 119 operations.
    assert_eq!(count, 119);
}

#[test]
fn a_valid_project_list_passes_and_a_string_boolean_fails_at_has_more() {
    assert_valid_response("GET", "/v1/organization/projects", 200, &project_list());

    let mut body = project_list();
    body["has_more"] = json!("false");
    let errors = errors_of(openapi::validate_response(
        "GET",
        "/v1/organization/projects",
        200,
        &body,
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("/has_more: "), "{errors:?}");
    assert!(errors[0].contains("boolean"), "{errors:?}");
}

#[test]
fn every_violation_is_reported_with_its_instance_path() {
    let mut body = project_list();
    body["object"] = json!("organization.project");
    body["data"][0]["created_at"] = json!("yesterday");
    body.as_object_mut()
        .expect("the fixture is an object")
        .remove("has_more");
    let errors = errors_of(openapi::validate_response(
        "GET",
        "/organization/projects",
        200,
        &body,
    ));
    assert_eq!(errors.len(), 3, "{errors:?}");
    for expected in ["/object: ", "/data/0/created_at: ", "(root): "] {
        assert!(
            errors.iter().any(|error| error.starts_with(expected)),
            "no error at {expected} in {errors:?}"
        );
    }
    assert!(
        errors
            .iter()
            .any(|error| error.contains("\"has_more\" is a required property")),
        "{errors:?}"
    );
}

#[test]
fn nullable_fields_accept_null_and_still_check_the_non_null_type() {
    let mut body = project_list();
    body["first_id"] = Value::Null;
    body["last_id"] = Value::Null;
    body["data"][0]["name"] = Value::Null;
    body["data"][0]["archived_at"] = Value::Null;
    assert_valid_response("GET", "/organization/projects", 200, &body);

    body["data"][0]["archived_at"] = json!(1711471600);
    assert_valid_response("GET", "/organization/projects", 200, &body);

    body["first_id"] = json!(5);
    let errors = errors_of(openapi::validate_response(
        "GET",
        "/organization/projects",
        200,
        &body,
    ));
    assert!(errors[0].starts_with("/first_id: "), "{errors:?}");
}

#[test]
fn unknown_fields_are_accepted_because_the_spec_allows_them() {
    let mut body = project_list();
    body["next"] = json!("cursor");
    body["data"][0]["residency_note"] = json!({"anything": [1, 2]});
    assert_valid_response("GET", "/organization/projects", 200, &body);
}

#[test]
fn constants_written_as_enums_are_enforced() {
    let mut body = project_list();
    body["data"][0]["object"] = json!("project");
    let errors = errors_of(openapi::validate_response(
        "GET",
        "/organization/projects",
        200,
        &body,
    ));
    assert!(errors[0].starts_with("/data/0/object: "), "{errors:?}");
}

#[test]
fn undeclared_error_statuses_require_the_full_error_envelope() {
    for status in [401, 404, 409, 500] {
        assert_valid_response(
            "GET",
            "/v1/organization/users/user_x",
            status,
            &error_envelope(),
        );
    }
    for key in ["message", "type", "param", "code"] {
        let mut body = error_envelope();
        body["error"]
            .as_object_mut()
            .expect("the fixture is an object")
            .remove(key);
        let errors = errors_of(openapi::validate_response(
            "GET",
            "/organization/users/user_x",
            404,
            &body,
        ));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("/error: ")
                && errors[0].contains(&format!("\"{key}\" is a required property")),
            "{errors:?}"
        );
    }
    // A body without the `error` wrapper is not the envelope.
    assert!(
        openapi::validate_response(
            "DELETE",
            "/organization/users/user_x",
            404,
            &json!({"message": "no"})
        )
        .is_err()
    );
}

#[test]
fn declared_error_statuses_use_their_own_schema() {
    let location = spec()
        .response_schema("POST", "/organization/projects/proj_default", 400)
        .expect("the modify-project operation declares 400");
    assert_eq!(location.reason, "response 400");
    assert_valid_response(
        "POST",
        "/organization/projects/proj_default",
        400,
        &error_envelope(),
    );
    assert!(
        openapi::validate_response(
            "POST",
            "/organization/projects/proj_default",
            400,
            &json!({"error": "bad"})
        )
        .is_err()
    );
}

#[test]
fn rate_limited_responses_use_too_many_requests_whether_declared_or_not() {
    // `GET /organization/audit_logs` declares 429 as a `$ref` to the component response; the
    // project list does not declare 429 at all.
    let declared = spec()
        .response_schema("GET", "/organization/audit_logs", 429)
        .expect("audit logs declare 429");
    assert_eq!(
        declared.pointer,
        "/components/responses/TooManyRequests/content/application~1json/schema"
    );
    let undeclared = spec()
        .response_schema("GET", "/organization/projects", 429)
        .expect("an undeclared 429 falls back to TooManyRequests");
    assert_eq!(undeclared.pointer, declared.pointer);
    for path in ["/organization/audit_logs", "/organization/projects"] {
        assert_valid_response("GET", path, 429, &error_envelope());
        assert!(openapi::validate_response("GET", path, 429, &json!({})).is_err());
    }
}

#[test]
fn an_undeclared_success_status_or_unknown_operation_is_an_error() {
    let errors = errors_of(openapi::validate_response(
        "POST",
        "/organization/projects",
        201,
        &json!({}),
    ));
    assert_eq!(
        errors,
        ["POST /organization/projects declares no response 201 (declared: 200)"]
    );
    let errors = errors_of(openapi::validate_response(
        "GET",
        "/organization/widgets",
        200,
        &json!({}),
    ));
    assert_eq!(
        errors,
        ["no operation GET /organization/widgets in the spec"]
    );
}

#[test]
fn request_bodies_are_checked_against_the_request_schema() {
    assert_valid_request(
        "POST",
        "/v1/organization/projects",
        &json!({"name": "Alpha"}),
    );
    assert_valid_request(
        "POST",
        "/v1/organization/projects",
        &json!({"name": "Alpha", "external_key_id": null}),
    );
    let errors = errors_of(openapi::validate_request(
        "POST",
        "/organization/projects",
        &json!({}),
    ));
    assert_eq!(errors, ["(root): \"name\" is a required property"]);
    let errors = errors_of(openapi::validate_request(
        "POST",
        "/organization/projects",
        &json!({"name": 5}),
    ));
    assert!(errors[0].starts_with("/name: "), "{errors:?}");

    // Archive takes no body: none is fine, one is a client bug.
    assert_valid_request(
        "POST",
        "/organization/projects/proj_1/archive",
        &Value::Null,
    );
    let errors = errors_of(openapi::validate_request(
        "POST",
        "/organization/projects/proj_1/archive",
        &json!({}),
    ));
    assert!(errors[0].contains("declares no request body"), "{errors:?}");
}

#[test]
fn unparsable_examples_are_exactly_the_known_ones() {
    let examples = spec().response_examples();
    let mut unparsable: Vec<(String, String)> = examples
        .unparsable
        .iter()
        .map(|example| {
            assert!(!example.error.is_empty());
            (example.method.clone(), example.template.clone())
        })
        .collect();
    unparsable.sort();
    let mut expected: Vec<(String, String)> = UNPARSABLE_EXAMPLES
        .iter()
        .map(|(method, template)| ((*method).to_owned(), (*template).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(unparsable, expected);
    // The modify-project example has an empty response.
    assert_eq!(
        examples.without_response,
        [(
            "POST".to_owned(),
            "/organization/projects/{project_id}".to_owned()
        )]
    );
    assert_eq!(
        examples.parsed.len() + examples.unparsable.len() + examples.without_response.len(),
        119
    );
}

#[test]
fn every_spec_example_validates_against_its_own_schema_or_is_a_known_spec_bug() {
    let examples = openapi::examples();
    assert!(examples.len() >= 100, "only {} examples", examples.len());
    let mut problems = Vec::new();
    let mut known_bugs_seen = Vec::new();
    for (method, template, status, body) in &examples {
        let result = openapi::validate_response(method, template, *status, body);
        let known = EXAMPLE_BUGS
            .iter()
            .find(|(bug_method, bug_template, _)| bug_method == method && bug_template == template);
        match (result, known) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => problems.push(format!(
                "{method} {template}: listed as a spec bug but validates; remove it from EXAMPLE_BUGS"
            )),
            (Err(errors), None) => problems.push(format!("{method} {template}: {errors:?}")),
            (Err(errors), Some((_, _, expected))) => {
                if errors.iter().all(|error| error.contains(expected)) {
                    known_bugs_seen.push((method.as_str(), template.as_str()));
                } else {
                    problems.push(format!(
                        "{method} {template}: expected only `{expected}`, got {errors:?}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(
        known_bugs_seen.len(),
        EXAMPLE_BUGS.len(),
        "every listed spec bug must be one of the parsed examples"
    );
}

/// Component "object" examples that contradict their schema: the same upstream spec bugs as in
/// [`EXAMPLE_BUGS`] (reference §8).
const COMPONENT_EXAMPLE_BUGS: &[(&str, &str)] = &[
    ("AdminApiKey", "\"expires_at\" is a required property"),
    ("GroupListResource", "\"group_type\" is a required property"),
    (
        "ProjectGroupListResource",
        "\"group_type\" is a required property",
    ),
];

#[test]
fn every_component_object_example_validates_against_its_schema_or_is_a_known_spec_bug() {
    let examples = spec().component_examples();
    // 54 component schemas carry an "object" example, all valid JSON.
    assert_eq!(examples.len(), 54);
    let mut problems = Vec::new();
    let mut known_bugs_seen = 0;
    for (name, parsed) in &examples {
        let body = match parsed {
            Ok(body) => body,
            Err(error) => {
                problems.push(format!("{name}: not JSON: {error}"));
                continue;
            }
        };
        let known = COMPONENT_EXAMPLE_BUGS
            .iter()
            .find(|(bug_name, _)| bug_name == name);
        match (spec().validate_component(name, body), known) {
            (Ok(()), None) => {}
            (Ok(()), Some(_)) => problems.push(format!(
                "{name}: listed as a spec bug but validates; remove it from COMPONENT_EXAMPLE_BUGS"
            )),
            (Err(errors), None) => problems.push(format!("{name}: {errors:?}")),
            (Err(errors), Some((_, expected))) => {
                if errors.iter().all(|error| error.contains(expected)) {
                    known_bugs_seen += 1;
                } else {
                    problems.push(format!(
                        "{name}: expected only `{expected}`, got {errors:?}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(known_bugs_seen, COMPONENT_EXAMPLE_BUGS.len());
}

#[test]
fn component_validation_rejects_a_wrong_body_and_an_unknown_name() {
    let errors = errors_of(spec().validate_component("Project", &json!({"id": "proj_1"})));
    assert!(
        errors
            .iter()
            .any(|error| error.contains("\"object\" is a required property")),
        "{errors:?}"
    );
    let errors = errors_of(spec().validate_component("Widget", &json!({})));
    assert_eq!(errors, ["the spec has no components.schemas.Widget"]);
}

#[test]
fn a_broken_spec_is_an_error_not_a_panic() {
    let error = Spec::from_yaml("paths: [").expect_err("unclosed flow sequence");
    assert!(error.to_string().starts_with("not valid YAML: "), "{error}");
    let error = Spec::from_yaml("openapi: 3.1.0\n").expect_err("no paths");
    assert_eq!(error.to_string(), "the document has no `paths` object");
}
