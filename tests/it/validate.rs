//! `orgops validate` and the loader behind it: examples, located errors in every format,
//! multi-file merges, hostile input, and the agreement of the schema, the model and the docs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use orgops::config::{self, LoadMode, schema};
use orgops::model::Document;
use proptest::prelude::*;
use serde_json::Value;

use crate::support::cli::{orgops, root};
use crate::support::config::generate_org;

/// Runs `orgops validate` with `args`; returns (exit code, stdout, stderr).
fn validate(args: &[&str]) -> (i32, String, String) {
    let output = orgops()
        .arg("validate")
        .args(args)
        .output()
        .expect("orgops runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

/// The `FILE:LINE:COL: error:` lines of a human rendering.
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(": error: ")).collect()
}

fn assert_located_failure(file: &str, stderr: &str, code: i32) {
    assert_eq!(code, 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors = error_lines(stderr);
    assert!(!errors.is_empty(), "no error line in: {stderr}");
    for line in errors {
        let rest = line
            .strip_prefix(&format!("{file}:"))
            .unwrap_or_else(|| panic!("`{line}` does not start with {file}:"));
        let mut parts = rest.splitn(3, ':');
        let line_no: usize = parts
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a line number");
        let column: usize = parts.next().and_then(|p| p.parse().ok()).expect("a column");
        assert!(line_no >= 1 && column >= 1, "{line}");
    }
}

#[test]
fn quickstart_example_is_valid() {
    let (code, stdout, stderr) = validate(&["-f", "examples/quickstart/orgops.yaml"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "ok: 5 users, 2 groups, 3 projects (examples/quickstart/orgops.yaml)\n"
    );
}

#[test]
fn enterprise_example_directory_is_valid() {
    let (code, _, stderr) = validate(&["-f", "examples/enterprise"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stderr,
        "ok: 25 users, 3 groups, 5 projects (5 files in examples/enterprise)\n"
    );
    let state =
        config::load(&root().join("examples/enterprise"), LoadMode::Desired).expect("valid");
    let names: Vec<&str> = state.doc.projects.iter().map(|p| p.name.as_str()).collect();
    // Files merge in file-name order: analytics, payments, sandbox (two projects, in
    // canonical order), support.
    assert_eq!(
        names,
        [
            "Analytics",
            "Payments",
            "Hackathon 2024",
            "Sandbox",
            "Support Assistant"
        ]
    );
    assert!(state.certificate_pems["globex-gateway"].starts_with("-----BEGIN CERTIFICATE-----"));
    let at = &state.declared_at["projects/Payments"];
    assert!(at.file.ends_with("project-payments.yaml"), "{at:?}");
}

#[test]
fn ten_mistakes_give_ten_located_errors_in_one_run() {
    let file = "tests/fixtures/config/invalid/ten-mistakes.yaml";
    let (code, stdout, stderr) = validate(&["-f", file]);
    assert_located_failure(file, &stderr, code);
    assert_eq!(stdout, "");
    assert_eq!(error_lines(&stderr).len(), 10, "{stderr}");
    insta::assert_snapshot!("ten_mistakes_human", stderr);
}

/// Schema and semantic mistakes in one file: both phases run, every problem shows in one run,
/// sorted by line, and a value the schema refuses is not reported again by a semantic check.
#[test]
fn schema_and_semantic_mistakes_are_reported_in_one_run() {
    let file = "tests/fixtures/config/invalid/schema-and-semantic.yaml";
    let (code, stdout, stderr) = validate(&["-f", file]);
    assert_located_failure(file, &stderr, code);
    assert_eq!(stdout, "");
    let errors: Vec<&str> = error_lines(&stderr)
        .into_iter()
        .map(|l| l.strip_prefix(&format!("{file}:")).unwrap_or(l))
        .collect();
    assert_eq!(
        errors,
        [
            "8:13: error: role `billing-viewr` is not declared",
            "10:11: error: `admin` is not one of: owner, reader (at users[2].role)",
            "11:12: error: duplicate user `ALICE@acme.example` (first declared at tests/fixtures/config/invalid/schema-and-semantic.yaml:4:12)",
            "15:54: error: user `frank@acme.example` is not declared",
            "16:5: error: unknown key `colour` (at groups[0])",
            "21:18: error: expected an array, found a string (at roles[1].permissions)",
            "26:15: error: `admin` is not one of: owner, member (at projects[0].members[0].role)",
            "27:16: error: user `grace@acme.example` is not declared",
            "29:11: error: duplicate project `Search` (first declared at tests/fixtures/config/invalid/schema-and-semantic.yaml:23:11)",
            "31:15: error: expected a boolean, found a string (at projects[2].archived)",
        ],
        "{stderr}"
    );
    insta::assert_snapshot!("schema_and_semantic_human", stderr);
}

/// A value the schema refuses is not reported a second time by a semantic check: the only
/// owner's misspelled role does not also make "0 owners", and a user whose entry failed the
/// schema is still declared for the group that lists it.
#[test]
fn a_value_refused_by_the_schema_is_not_also_a_semantic_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(
        dir.path(),
        "orgops.yaml",
        "users:\n  - email: ann@x.example\n    role: ownr\n  - {email: bo@x.example, role: reader}\ngroups:\n  - name: g\n    members: [ann@x.example]\nprojects:\n  - name: A\n  - name: A\n",
    );
    let file = path.display().to_string();
    let (code, _, stderr) = validate(&["-f", &file]);
    assert_located_failure(&file, &stderr, code);
    let errors: Vec<&str> = error_lines(&stderr)
        .into_iter()
        .map(|l| l.strip_prefix(&format!("{file}:")).unwrap_or(l))
        .collect();
    assert_eq!(
        errors,
        [
            "3:11: error: `ownr` is not one of: owner, reader (at users[0].role)",
            &format!("10:11: error: duplicate project `A` (first declared at {file}:9:11)"),
        ],
        "{stderr}"
    );
}

/// A directory: every file's schema and semantic problems in one run. A file that is not
/// even YAML hides its declarations, so no reference is called undeclared then.
#[test]
fn every_file_of_a_directory_is_checked_in_one_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(
        dir.path(),
        "a.yaml",
        "users:\n  - {email: ann@x.example, role: owner}\n  - {email: bo@x.example, role: boss}\n",
    )
    .display()
    .to_string();
    let b = write(
        dir.path(),
        "b.yaml",
        "groups:\n  - name: g\n    members: [bo@x.example, cy@x.example]\nprojects:\n  - {name: P}\n  - {name: P}\n",
    )
    .display()
    .to_string();
    let dir_arg = dir.path().display().to_string();
    let (code, _, stderr) = validate(&["-f", &dir_arg]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        error_lines(&stderr),
        [
            format!("{a}:3:33: error: `boss` is not one of: owner, reader (at users[1].role)"),
            format!("{b}:3:29: error: user `cy@x.example` is not declared"),
            format!("{b}:6:12: error: duplicate project `P` (first declared at {b}:5:12)"),
        ],
        "{stderr}"
    );
    let c = write(dir.path(), "c.yaml", "users: [\n")
        .display()
        .to_string();
    let (code, _, stderr) = validate(&["-f", &dir_arg]);
    assert_eq!(code, 1, "{stderr}");
    let errors = error_lines(&stderr);
    assert_eq!(errors.len(), 3, "{stderr}");
    assert!(
        errors[0].starts_with(&format!("{a}:3:33: error: `boss`")),
        "{stderr}"
    );
    assert!(
        errors[1].starts_with(&format!("{b}:6:12: error: duplicate project")),
        "{stderr}"
    );
    assert!(errors[2].starts_with(&format!("{c}:")), "{stderr}");
}

#[test]
fn semantic_mistakes_are_all_reported() {
    let file = "tests/fixtures/config/invalid/semantic-mistakes.yaml";
    let (code, _, stderr) = validate(&["-f", file]);
    assert_located_failure(file, &stderr, code);
    insta::assert_snapshot!("semantic_mistakes_human", stderr);
    for expected in [
        "project `Serch` is not declared",
        "duplicate user `ALICE@acme.example` (first declared at tests/fixtures/config/invalid/semantic-mistakes.yaml:8:12)",
        "role `biling-viewer` is not declared",
        "user `carol@acme.example` is not declared",
        "certificate `mtls`: cannot read the file",
        "role `reviewer` is not declared in project `Search`",
        "group `ml-platform` is not declared",
        "certificate `mtls2` is not declared",
        "sink file `keys/` names a directory",
        "`invites` is only allowed in an emulator seed",
        "the file declares 1 owner but the organization must keep at least 2",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert_eq!(error_lines(&stderr).len(), 11);
}

#[test]
fn github_format_prints_annotations() {
    let file = "tests/fixtures/config/invalid/ten-mistakes.yaml";
    let (code, stdout, _) = validate(&["-f", file, "--format", "github"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{stdout}");
    assert_eq!(
        lines[0],
        "::error file=tests/fixtures/config/invalid/ten-mistakes.yaml,line=4,col=3::unknown key `max_removal` (at policy) (help: did you mean `max_removals`?)"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with(&format!("::error file={file},line=")))
    );
}

#[test]
fn json_format_prints_a_sorted_list() {
    let (code, stdout, _) = validate(&[
        "-f",
        "tests/fixtures/config/invalid/ten-mistakes.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let list: Vec<Value> = serde_json::from_str(&stdout).expect("JSON list");
    assert_eq!(list.len(), 10);
    let lines: Vec<u64> = list
        .iter()
        .map(|d| d["line"].as_u64().expect("line"))
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    assert_eq!(
        list[2]["message"],
        "`ownr` is not one of: owner, reader (at users[0].role)"
    );
    assert_eq!(list[2]["hint"], "did you mean `owner`?");
    assert_eq!(
        (list[2]["line"].as_u64(), list[2]["column"].as_u64()),
        (Some(9), Some(11))
    );
    assert_eq!(list[2]["severity"], "error");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path
}

#[test]
fn a_directory_merges_and_references_cross_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "org.yaml",
        "version: 1\nusers:\n  - {email: Ann@x.example, role: owner}\n",
    );
    write(
        dir.path(),
        "search.yml",
        "projects:\n  - name: Search\n    members: [{email: ann@X.example, role: owner}]\n",
    );
    write(dir.path(), "notes.txt", "not yaml: [");
    let state = config::load(dir.path(), LoadMode::Desired).expect("valid merge");
    assert_eq!(state.files.len(), 2);
    assert_eq!(
        state.doc.users[0].email, "ann@x.example",
        "emails are normalised"
    );
    assert_eq!(state.doc.projects[0].members[0].email, "ann@x.example");
}

#[test]
fn a_duplicate_across_files_names_both_places() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "a.yaml",
        "users:\n  - {email: ann@x.example, role: owner}\n",
    );
    write(
        dir.path(),
        "b.yaml",
        "version: 1\nusers:\n  - email: ANN@x.example\n    role: reader\n",
    );
    let dir_arg = dir.path().display().to_string();
    let (code, _, stderr) = validate(&["-f", &dir_arg]);
    assert_eq!(code, 1);
    let a = dir.path().join("a.yaml").display().to_string();
    let b = dir.path().join("b.yaml").display().to_string();
    assert!(
        stderr.starts_with(&format!(
            "{b}:3:12: error: duplicate user `ANN@x.example` (first declared at {a}:2:13)"
        )),
        "{stderr}"
    );
}

#[test]
fn policy_in_two_files_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "a.yaml", "policy: {min_owners: 0}\n");
    write(dir.path(), "b.yaml", "policy:\n  max_removals: 1\n");
    let diagnostics = config::load(dir.path(), LoadMode::Desired).expect_err("refused");
    let items = diagnostics.items();
    assert_eq!(items.len(), 1);
    assert!(items[0].file.ends_with("b.yaml"));
    assert!(
        items[0].message.contains("also at") && items[0].message.contains("a.yaml:1:1"),
        "{}",
        items[0].message
    );
}

#[test]
fn invites_are_seed_only() {
    let text = "users:\n  - {email: a@x.example, role: owner}\ninvites:\n  - {email: B@x.example, role: reader}\n";
    let seed = config::parse_str(text, "seed", LoadMode::Seed).expect("a seed may hold invites");
    assert_eq!(seed.invites[0].email, "b@x.example");
    let refused = config::parse_str(text, "seed", LoadMode::Desired).expect_err("refused");
    assert_eq!(refused.items()[0].line, 3);
}

/// Hostile or broken input: each gets a located error and exit 1, never a panic.
#[test]
fn bad_input_gets_a_located_error_and_exit_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bomb = String::from("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (level, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{previous}"); 9].join(", ");
        bomb.push_str(&format!("{level}: &{level} [{refs}]\n"));
    }
    bomb.push_str("users: *i\n");
    let deep = format!("users:\n  - {}{}\n", "{a: ".repeat(100), "}".repeat(100));
    let huge = format!(
        "users:\n{}",
        "  - {email: x@y.example, role: reader}\n".repeat(450_000)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("malformed.yaml", b"users:\n  - email: [a@x.example\n    role: owner\n".to_vec()),
        ("tabs.yaml", b"users:\n\t- email: a@x.example\n".to_vec()),
        ("wrong-types.yaml", b"users: {email: a@x.example}\nprojects: 3\n".to_vec()),
        ("scalar.yaml", b"just a string\n".to_vec()),
        ("billion-laughs.yaml", bomb.into_bytes()),
        ("deep.yaml", deep.into_bytes()),
        ("invalid-utf8.yaml", b"users:\n  - email: \xc3\x28@x.example\n".to_vec()),
        ("empty.yaml", Vec::new()),
        ("huge.yaml", huge.into_bytes()),
        ("duplicate-key.yaml", b"version: 1\nversion: 1\n".to_vec()),
        ("duplicate-model.yaml", b"projects:\n  - name: A\n    rate_limits:\n      gpt-4o: {max_requests_per_1_minute: 1}\n      gpt-4o: {max_requests_per_1_minute: 2}\n".to_vec()),
        ("two-docs.yaml", b"version: 1\n---\nversion: 1\n".to_vec()),
        ("float-for-int.yaml", b"policy: {max_removals: 1e3}\n".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write case");
        let file = path.display().to_string();
        // The old fixed cap, given explicitly: the default (64 MiB) would parse the 16 MiB
        // file in full, which takes a while in a debug build.
        let (code, _, stderr) = validate(&["--max-file-size", "16MiB", "-f", &file]);
        assert_located_failure(&file, &stderr, code);
        if name == "invalid-utf8.yaml" {
            assert!(
                stderr.starts_with(&format!("{file}:2:12: error: file is not valid UTF-8")),
                "{stderr}"
            );
        }
        let expected = match name {
            "billion-laughs.yaml" => "aliases expand beyond the limit",
            "deep.yaml" => "nesting is deeper than 32 levels",
            "duplicate-model.yaml" => "duplicate mapping key: gpt-4o",
            "float-for-int.yaml" => "expected a whole number",
            "two-docs.yaml" => "one YAML document",
            "huge.yaml" => "over the 16777216-byte limit",
            "empty.yaml" => "file is empty",
            _ => ": error: ",
        };
        assert!(
            stderr.contains(expected),
            "{name}: `{expected}` not in {stderr}"
        );
        if name == "billion-laughs.yaml" || name == "deep.yaml" || name == "duplicate-model.yaml" {
            assert!(
                !stderr.starts_with(&format!("{file}:1:1:")),
                "{name} is located past the start: {stderr}"
            );
        }
    }
    let (code, _, stderr) = validate(&["-f", "does/not/exist.yaml"]);
    assert_located_failure("does/not/exist.yaml", &stderr, code);
    let empty_dir = tempfile::tempdir().expect("temp dir");
    let empty = empty_dir.path().display().to_string();
    let (code, _, stderr) = validate(&["-f", &empty]);
    assert_located_failure(&empty, &stderr, code);
}

/// Every diagnostic of a refused input points inside the input.
fn assert_in_bounds(text: &str, result: Result<Document, config::Diagnostics>) {
    if let Err(diagnostics) = result {
        assert!(diagnostics.has_errors());
        let lines = text.lines().count().max(1) + 1;
        for d in diagnostics.items() {
            assert!(
                d.line >= 1 && d.line <= lines,
                "{d:?} outside {lines} lines"
            );
            assert!(d.column >= 1, "{d:?}");
        }
    }
}

fn quickstart() -> String {
    std::fs::read_to_string(root().join("examples/quickstart/orgops.yaml")).expect("quickstart")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}|[-:{}\\[\\]&*!|>'\" \n\ta-z0-9]{0,300}") {
        assert_in_bounds(&text, config::parse_str(&text, "fuzz.yaml", LoadMode::Seed));
    }

    #[test]
    fn mutated_valid_yaml_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3, "[-:{}\\[\\]&*#\" \na-z0-9]{0,4}"), 1..6)
    ) {
        let mut text = quickstart();
        for (at, kind, insert) in edits {
            let chars: Vec<char> = text.chars().collect();
            let i = at.index(chars.len());
            let (head, tail): (String, String) = (chars[..i].iter().collect(), chars[i..].iter().collect());
            text = match kind {
                0 => format!("{head}{insert}{tail}"),
                1 => format!("{head}{}", tail.chars().skip(insert.len() + 1).collect::<String>()),
                _ => format!("{head}{insert}{}", tail.chars().skip(insert.chars().count()).collect::<String>()),
            };
        }
        assert_in_bounds(&text, config::parse_str(&text, "mutated.yaml", LoadMode::Seed));
    }

    #[test]
    fn random_bytes_on_disk_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bytes.yaml");
        std::fs::write(&path, &bytes).expect("write");
        if let Err(diagnostics) = config::load(&path, LoadMode::Desired) {
            prop_assert!(diagnostics.items().iter().all(|d| d.line >= 1 && d.column >= 1));
        }
    }
}

// ---- schema, model and docs agreement ----

/// Valid documents: the examples and the valid fixtures, as (name, JSON value, is_seed).
fn valid_documents() -> Vec<(String, Value)> {
    let mut files = vec![root().join("examples/quickstart/orgops.yaml")];
    for dir in ["examples/enterprise", "tests/fixtures/config/valid"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
            .expect("fixture dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            let value: Value = serde_saphyr::from_str(&text).expect("valid YAML");
            (path.display().to_string(), value)
        })
        .collect()
}

fn schema_valid(value: &Value) -> bool {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema::SCHEMA)
        .expect("schema compiles");
    validator.is_valid(value)
}

#[test]
fn every_example_and_fixture_satisfies_schema_and_model() {
    let documents = valid_documents();
    assert!(documents.len() >= 7);
    for (name, value) in &documents {
        assert!(schema_valid(value), "{name} fails the schema");
        serde_json::from_value::<Document>(value.clone())
            .unwrap_or_else(|e| panic!("{name} fails the model: {e}"));
    }
    config::load(
        &root().join("tests/fixtures/config/valid/every-key-seed.yaml"),
        LoadMode::Seed,
    )
    .expect("seed loads");
}

/// Every object node of every valid document: an extra key is refused by schema and model.
#[test]
fn an_unknown_key_is_refused_by_both_schema_and_model() {
    let mut object_kinds = BTreeSet::new();
    for (name, value) in valid_documents() {
        let mut pointers = Vec::new();
        collect_objects(&value, String::new(), &mut pointers);
        for pointer in pointers {
            let node_schema = schema::schema_at_in(&value, &pointer).expect("declared path");
            let Some(properties) = node_schema.get("properties") else {
                continue;
            };
            object_kinds.insert(
                properties
                    .as_object()
                    .map(|p| p.keys().cloned().collect::<Vec<_>>().join(",")),
            );
            let mut mutated = value.clone();
            let target = mutated
                .pointer_mut(&pointer)
                .and_then(Value::as_object_mut)
                .expect("object");
            target.insert("zz_not_a_key".into(), Value::from(1));
            assert!(
                !schema_valid(&mutated),
                "{name}{pointer}: schema accepts an unknown key"
            );
            // The model refuses it, or keeps it as a field no kind owns, which the kinds
            // refuse (settings and projects hold the kinds' own fields as data).
            let refused = match serde_json::from_value::<Document>(mutated) {
                Err(_) => true,
                Ok(doc) => !orgops::kinds::unknown_fields(&doc).is_empty(),
            };
            assert!(refused, "{name}{pointer}: model accepts an unknown key");
        }
    }
    let unexercised: Vec<_> = object_schemas()
        .difference(&object_kinds)
        .cloned()
        .collect();
    assert!(
        unexercised.is_empty(),
        "object types of the schema no valid document exercises: {unexercised:?}"
    );
}

fn collect_objects(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            out.push(pointer.clone());
            for (key, child) in map {
                collect_objects(
                    child,
                    format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_objects(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The distinct property sets of the schema's object types.
fn object_schemas() -> BTreeSet<Option<String>> {
    let mut out = BTreeSet::new();
    let root_props = schema::SCHEMA["properties"]
        .as_object()
        .expect("root properties");
    out.insert(Some(
        root_props.keys().cloned().collect::<Vec<_>>().join(","),
    ));
    // Every object shape: the `$defs` and the branches of a value of several shapes
    // (`oneOf`/`anyOf`), wherever they sit.
    fn shapes(node: &Value, out: &mut BTreeSet<Option<String>>) {
        match node {
            Value::Object(map) => {
                if let Some(props) = map.get("properties").and_then(Value::as_object) {
                    out.insert(Some(props.keys().cloned().collect::<Vec<_>>().join(",")));
                }
                map.values().for_each(|child| shapes(child, out));
            }
            Value::Array(items) => items.iter().for_each(|child| shapes(child, out)),
            _ => {}
        }
    }
    shapes(&schema::SCHEMA["$defs"], &mut out);
    for prop in root_props.values() {
        shapes(prop, &mut out);
    }
    out
}

/// Every property path of the schema in docs notation (`projects[].members[].email`).
fn schema_paths() -> BTreeSet<String> {
    fn walk(node: &Value, path: String, out: &mut BTreeSet<String>, depth: usize) {
        assert!(depth < 12, "schema nesting runs away at {path}");
        let node = resolve(node);
        if let Some(items) = node.get("items") {
            walk(items, format!("{path}[]"), out, depth + 1);
        }
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            for (key, child) in props {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                out.insert(child_path.clone());
                walk(child, child_path, out, depth + 1);
            }
        }
        if let Some(extra) = node.get("additionalProperties").filter(|a| a.is_object()) {
            walk(extra, format!("{path}.<model>"), out, depth + 1);
        }
        // A value of several shapes (`api_keys` entries: a name or a mapping).
        for branches in ["oneOf", "anyOf"] {
            for branch in node
                .get(branches)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(branch, path.clone(), out, depth + 1);
            }
        }
    }
    fn resolve(node: &Value) -> &Value {
        match node
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
        {
            Some(target) => resolve(schema::SCHEMA.pointer(target).expect("ref resolves")),
            None => node,
        }
    }
    let mut out = BTreeSet::new();
    walk(&schema::SCHEMA, String::new(), &mut out, 0);
    out
}

#[test]
fn every_schema_property_is_documented() {
    let docs = std::fs::read_to_string(root().join("docs/configuration.md")).expect("docs");
    let paths = schema_paths();
    assert!(paths.len() > 80, "{}", paths.len());
    let missing: Vec<&String> = paths
        .iter()
        .filter(|p| !docs.contains(&format!("`{p}`")))
        .collect();
    assert!(missing.is_empty(), "undocumented keys: {missing:?}");
}

#[test]
fn every_schema_property_is_exercised_by_a_valid_document() {
    fn walk(
        value: &Value,
        path: String,
        out: &mut BTreeSet<String>,
        parent_is_map_of_models: bool,
    ) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    let segment = if parent_is_map_of_models {
                        "<model>".to_string()
                    } else {
                        key.clone()
                    };
                    let child_path = if path.is_empty() {
                        segment
                    } else {
                        format!("{path}.{segment}")
                    };
                    out.insert(child_path.clone());
                    walk(child, child_path, out, key == "rate_limits");
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|i| walk(i, format!("{path}[]"), out, false)),
            _ => {}
        }
    }
    let mut used = BTreeSet::new();
    for (_, value) in valid_documents() {
        walk(&value, String::new(), &mut used, false);
    }
    let unused: Vec<String> = schema_paths()
        .into_iter()
        .filter(|p| !used.contains(p) && !p.ends_with(".<model>"))
        .collect();
    assert!(
        unused.is_empty(),
        "schema keys no valid document uses (so the model is untested on them): {unused:?}"
    );
}

#[test]
fn ten_thousand_users_validate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(dir.path(), "big.yaml", &generate_org(10_000, 100));
    let state = config::load(&path, LoadMode::Desired).expect("generated org is valid");
    assert_eq!(state.doc.users.len(), 10_000);
    assert_eq!(state.doc.projects.len(), 100);
}

/// A name declared twice in a named list (customer-managed keys, workload identity
/// providers and the rules of one, health alert rules of one scope) is a located error.
#[test]
fn a_name_declared_twice_in_a_named_list_is_a_located_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(
        &file,
        r#"version: 1
users:
  - {email: ada@example.com, role: owner}
settings:
  external_keys:
    - {name: k, type: aws, kms_arn: a, role_arn: r, external_id: e}
    - {name: k, type: aws, kms_arn: b, role_arn: r, external_id: e}
  workload_identity_providers:
    - name: gh
      issuer: https://token.actions.githubusercontent.com
      audience: a
      federation_rules:
        - {name: ci, project: P, service_account: s, attribute_matchers: {ref: main}}
        - {name: ci, project: P, service_account: s, attribute_matchers: {ref: main}}
    - {name: gh, issuer: 'https://token.actions.githubusercontent.com', audience: a}
  health_alert_rules:
    - {name: h, condition: {type: error_rate, threshold: 0.1, window_seconds: 300}}
    - {name: h, condition: {type: error_rate, threshold: 0.2, window_seconds: 300}}
projects:
  - name: P
    service_accounts:
      - {name: s, role: member}
"#,
    )
    .expect("write");
    let out = crate::support::cli::run(
        crate::support::cli::orgops()
            .args(["validate", "-f"])
            .arg(&file),
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    for (line, what) in [
        (7, "external key \"k\" is declared twice"),
        (
            14,
            "federation rule \"ci\" of provider \"gh\" is declared twice",
        ),
        (15, "workload identity provider \"gh\" is declared twice"),
        (18, "health alert rule \"h\" is declared twice"),
    ] {
        assert!(
            out.stderr.contains(&format!("orgops.yaml:{line}:")) && out.stderr.contains(what),
            "line {line}: {what}\n{}",
            out.stderr
        );
    }
}
