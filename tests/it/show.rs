//! `orgops show PLAN`: a saved plan rendered byte for byte as `plan` printed it, the saved
//! format documented by `schema/saved-plan.schema.json`, and a malformed or edited saved plan
//! refused as `apply --plan` refuses it.

use serde_json::Value;

use crate::support::cli::{QUICKSTART, QUICKSTART_LIVE, orgops, root, run, save_quickstart_plan};

pub(crate) fn schema_errors(schema_file: &str, instance: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema").join(schema_file)).expect("schema file"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// `plan --format F --out p.json` then `show p.json --format F`: the same bytes, for every
/// format, for a plan with every verb and unmanaged objects and for an empty one.
#[test]
fn show_renders_a_saved_plan_exactly_as_plan_printed_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (label, file, state) in [
        ("quickstart", QUICKSTART, QUICKSTART_LIVE),
        ("empty", "examples/enterprise", "examples/enterprise"),
        // Every settings verb (set, update, unset, `? no longer managed`, a pruned key).
        (
            "settings",
            "examples/enterprise",
            "examples/enterprise-live/live.yaml",
        ),
    ] {
        for format in ["text", "markdown", "json"] {
            let saved = dir.path().join(format!("{label}-{format}.json"));
            let plan = run(orgops()
                .args(["plan", "-f", file, "--emulator", state, "--format", format])
                .arg("--out")
                .arg(&saved));
            assert_eq!(plan.code, 0, "{label}: {}", plan.stderr);
            let show = run(orgops().args(["show", "--format", format]).arg(&saved));
            assert_eq!(show.code, 0, "{label}: {}", show.stderr);
            assert_eq!(show.stdout, plan.stdout, "{label} {format}");
            assert!(!show.stdout.is_empty());

            let document: Value =
                serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved"))
                    .expect("JSON");
            let errors = schema_errors("saved-plan.schema.json", &document);
            assert!(errors.is_empty(), "{label}: {errors:#?}");
            if format == "json" {
                let shown: Value = serde_json::from_str(&show.stdout).expect("show JSON");
                let errors = schema_errors("plan.schema.json", &shown);
                assert!(errors.is_empty(), "{label}: {errors:#?}");
            }
        }
    }
}

/// The schema is not a rubber stamp: a saved plan missing its fingerprint, or with an
/// unknown action, does not validate.
#[test]
fn the_saved_plan_schema_rejects_what_orgops_would_not_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = save_quickstart_plan(dir.path());
    let document: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved")).expect("JSON");
    let mut no_fingerprint = document.clone();
    no_fingerprint
        .as_object_mut()
        .expect("object")
        .remove("desired_fingerprint");
    assert!(!schema_errors("saved-plan.schema.json", &no_fingerprint).is_empty());
    let mut bad_action = document;
    bad_action["changes"][0]["action"] = Value::from("obliterate");
    assert!(!schema_errors("saved-plan.schema.json", &bad_action).is_empty());
}

/// An unreadable saved plan, and one whose `before` was edited: `show` refuses it with the
/// message `apply --plan` gives, and exits 1 as apply does.
#[test]
fn show_refuses_a_tampered_or_unreadable_plan_as_apply_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = save_quickstart_plan(dir.path());
    let mut document: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved")).expect("JSON");
    let index = document["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .position(|c| c["action"] == "update" && c["before"].is_object())
        .expect("an update with a before");
    // Make the demotion look harmless: edit what live "had".
    document["changes"][index]["before"]["role"] = Value::from("reader");
    let tampered = dir.path().join("tampered.json");
    std::fs::write(
        &tampered,
        serde_json::to_string_pretty(&document).expect("JSON"),
    )
    .expect("write");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"format_version\": 1, \"changes\": [").expect("write");

    // apply runs on a copy: were it to accept the plan, its sinks would write beside it.
    let copy = crate::drift::copy_example(QUICKSTART, dir.path());
    for file in [&tampered, &garbage] {
        let show = run(orgops().arg("show").arg(file));
        let apply = run(orgops()
            .args(["apply", "--emulator", QUICKSTART_LIVE, "-f"])
            .arg(&copy)
            .arg("--plan")
            .arg(file));
        assert_eq!(show.code, 1, "{}", show.stderr);
        assert_eq!(apply.code, 1, "{}", apply.stderr);
        assert!(show.stdout.is_empty(), "{}", show.stdout);
        let refusal = |stderr: &str| {
            stderr
                .lines()
                .find(|l| l.starts_with("error:"))
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(refusal(&show.stderr), refusal(&apply.stderr));
        assert!(!refusal(&show.stderr).is_empty(), "{}", show.stderr);
    }
    let show = run(orgops().arg("show").arg(&tampered));
    assert!(
        show.stderr.contains("do not match their fingerprint"),
        "{}",
        show.stderr
    );
}

/// The saved-plan schema repeats the plan schema's definitions (kinds, actions, operation
/// types, unmanaged objects, ...): a kind added to one and not the other would make every
/// saved plan with it invalid. They must stay equal.
#[test]
fn the_saved_plan_schema_shares_the_plan_schema_definitions() {
    let read = |name: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(root().join("schema").join(name)).expect("schema file"),
        )
        .expect("schema is JSON")
    };
    let plan = read("plan.schema.json");
    let saved = read("saved-plan.schema.json");
    let shared: Vec<&String> = saved["$defs"]
        .as_object()
        .expect("$defs")
        .keys()
        .filter(|k| plan["$defs"].get(k.as_str()).is_some())
        .collect();
    assert!(shared.len() >= 5, "{shared:?}");
    for name in shared {
        assert_eq!(saved["$defs"][name], plan["$defs"][name], "$defs/{name}");
    }
    assert_eq!(
        saved["$defs"]["saved_change"]["properties"]["op"]["properties"]["type"]["enum"],
        plan["$defs"]["change"]["properties"]["operation"]["properties"]["type"]["enum"],
        "operation types"
    );
}

/// Issue 21 item 11: everything `show` prints is covered by the integrity check. A saved plan
/// whose display was edited (bob's demotion shown as `role: reader -> reader`, an unmanaged
/// object or a waiting invite hidden, a target dropped) is refused by `show` (exit 1) and by
/// `apply --plan`, which never applies the real change behind the doctored display.
#[test]
fn a_saved_plan_whose_display_was_edited_is_refused_by_show_and_apply() {
    let dir = tempfile::tempdir().expect("temp dir");
    let saved = save_quickstart_plan(dir.path());
    let original: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("saved")).expect("JSON");
    let bob = original["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .position(|c| c["key"] == "user:bob@acme.example" && c["action"] == "update")
        .expect("bob's demotion");
    let mut edits: Vec<(&str, Value)> = Vec::new();
    let mut harmless = original.clone();
    harmless["changes"][bob]["fields"][0]["before"] = Value::from("reader");
    edits.push(("fields", harmless));
    let mut hidden = original.clone();
    hidden["unmanaged"]
        .as_array_mut()
        .expect("unmanaged")
        .remove(0);
    edits.push(("unmanaged", hidden));
    let mut no_waiting = original.clone();
    no_waiting["waiting"]
        .as_array_mut()
        .expect("waiting")
        .clear();
    edits.push(("waiting", no_waiting));
    let mut reassuring = original.clone();
    reassuring["refusals"] = serde_json::json!([{
        "rule": "protect", "message": "nothing to see", "objects": [], "override": "none"
    }]);
    edits.push(("refusals", reassuring));

    let copy = crate::drift::copy_example(QUICKSTART, dir.path());
    for (what, document) in edits {
        let doctored = dir.path().join(format!("doctored-{what}.json"));
        std::fs::write(
            &doctored,
            serde_json::to_string_pretty(&document).expect("JSON"),
        )
        .expect("write");
        let show = run(orgops().arg("show").arg(&doctored));
        assert_eq!(
            show.code, 1,
            "{what}: show accepted a doctored plan:\n{}",
            show.stdout
        );
        assert!(show.stdout.is_empty(), "{what}: {}", show.stdout);
        let apply = run(orgops()
            .args(["apply", "--emulator", QUICKSTART_LIVE, "-f"])
            .arg(&copy)
            .arg("--plan")
            .arg(&doctored));
        assert_eq!(
            apply.code, 1,
            "{what}: apply accepted a doctored plan:\n{}\n{}",
            apply.stdout, apply.stderr
        );
        assert!(
            show.stderr.contains("edited") && apply.stderr.contains("edited"),
            "{what}: {}\n{}",
            show.stderr,
            apply.stderr
        );
    }
}
