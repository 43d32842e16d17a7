//! Enterprise scale (issue 14): `export` makes the requests the org needs and no more.
//!
//! Per-principal role-assignment lists (one request per user, group or project member) are
//! read only where a custom role exists to be assigned; the tests count requests per route
//! on the emulator, as `plan::a_plan_makes_exactly_the_minimum_requests` does for plan.

use std::collections::BTreeMap;

use crate::plan::Generated;
use crate::support::cli::run;
use crate::support::org;

fn by_route(stats: &serde_json::Value) -> BTreeMap<String, u64> {
    serde_json::from_value(stats["by_route"].clone()).expect("by_route")
}

/// Requests per route since the emulator started or was last reset (and resets it).
fn take_requests(emu: &orgops::emulator::RunningEmulator) -> BTreeMap<String, u64> {
    let base = emu.base_url();
    let stats = crate::support::control::call(base, reqwest::Method::GET, "stats", None);
    crate::support::control::call(base, reqwest::Method::POST, "stats/reset", None);
    by_route(&stats)
}

/// An org without custom roles exports with the plan's own requests, plus the one roles
/// list that says there are none: no per-user or per-member role lists.
#[test]
fn an_export_without_custom_roles_makes_the_plans_minimum_requests() {
    let org = Generated::start(
        "users=250,projects=4,project_members=130,groups=3,group_members=120,service_accounts=2",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let exported = dir.path().join("orgops.yaml");
    org.control(reqwest::Method::POST, "stats/reset");
    let export = run(org.orgops().args(["export", "-o"]).arg(&exported));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let export_requests = by_route(&org.control(reqwest::Method::GET, "stats"));

    org.control(reqwest::Method::POST, "stats/reset");
    let plan = run(org
        .orgops()
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&exported));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan_requests = by_route(&org.control(reqwest::Method::GET, "stats"));

    // Besides the plan's own reads, export reads what it needs to decide what to leave out
    // of the file: the org roles list (no custom roles: no per-principal role lists), and
    // once per project the lists and settings it writes only where they hold something
    // (rate limits that differ from the common value, settings away from their defaults,
    // API keys, spend alerts, health alert rules), and the org's spend limit, alerts,
    // customer-managed keys, external storage, workload identity providers and health alert
    // rules. Nothing per principal.
    let projects = plan_requests["GET /organization/projects/{project_id}/groups"];
    let mut expected = plan_requests.clone();
    expected.insert("GET /organization/roles".to_string(), 1);
    for route in [
        "/organization/spend_limit",
        "/organization/spend_alerts",
        "/organization/external_keys",
        "/organization/external_storage",
        "/organization/workload_identity_providers",
        "/organization/health/alert_rules",
    ] {
        expected.insert(format!("GET {route}"), 1);
    }
    let decision_lists = [
        "rate_limits",
        "api_keys",
        "spend_alerts",
        "data_retention",
        "spend_limit",
        "model_permissions",
        "hosted_tool_permissions",
        "service_tier_settings",
        "health/alert_rules",
    ];
    for kind in decision_lists {
        expected.insert(
            format!("GET /organization/projects/{{project_id}}/{kind}"),
            projects,
        );
    }
    assert_eq!(
        export_requests, expected,
        "export requests per route differ from the plan's plus what export reads to decide"
    );
    let (export_total, plan_total): (u64, u64) =
        (export_requests.values().sum(), plan_requests.values().sum());
    // One request per project per decision read: a constant factor of the projects, never
    // of the people.
    assert_eq!(
        export_total,
        plan_total + 7 + decision_lists.len() as u64 * projects
    );
    // The API rate-limits each route on its own, so against it the busiest route sets how
    // long a run takes: the export's is no busier than the plan's.
    assert_eq!(
        export_requests.values().max(),
        plan_requests.values().max(),
        "export's busiest route is busier than the plan's: {export_requests:?}"
    );
    assert!(
        !export.stderr.contains("role assignments"),
        "nothing to announce: {}",
        export.stderr
    );
}

const WITH_PROJECT_ROLE: &str = r#"
version: 1
users:
  - {email: ada@example.com, role: owner}
  - {email: bo@example.com, role: reader}
  - {email: cy@example.com, role: reader}
  - {email: di@example.com, role: reader}
groups:
  - {name: platform, members: [bo@example.com]}
projects:
  - name: Plain
    members:
      - {email: bo@example.com, role: member}
      - {email: cy@example.com, role: member}
  - name: Custom
    roles:
      - {name: deployer, permissions: [api.batch.write]}
    members:
      - {email: bo@example.com, role: member, roles: [deployer]}
      - {email: cy@example.com, role: member}
      - {email: di@example.com, role: owner}
"#;

/// Only the members of the project that has a custom role get their assignment list read,
/// announced first; the export keeps the assignment and plans empty.
#[test]
fn an_export_reads_member_roles_only_in_projects_with_custom_roles() {
    let emu = org::start(WITH_PROJECT_ROLE);
    let dir = tempfile::tempdir().expect("temp dir");
    let exported = dir.path().join("orgops.yaml");
    let export = run(org::orgops(&emu).args(["export", "-o"]).arg(&exported));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let requests = take_requests(&emu);
    assert_eq!(
        requests.get("GET /projects/{project_id}/users/{user_id}/roles"),
        Some(&3),
        "one list per member of Custom only: {requests:#?}"
    );
    assert_eq!(
        requests.get("GET /organization/users/{user_id}/roles"),
        None,
        "no org custom role, no per-user lists: {requests:#?}"
    );
    assert_eq!(
        requests.get("GET /organization/groups/{group_id}/roles"),
        None
    );
    assert!(
        export.stderr.contains("3 project members (3 requests"),
        "the note says what is read before it starts: {}",
        export.stderr
    );
    let text = std::fs::read_to_string(&exported).expect("export");
    assert!(text.contains("deployer"), "{text}");

    let plan = run(org::orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&exported));
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
}

/// With an org-level custom role every user's and group's list is read; with
/// `--skip-role-assignments` none is, the `roles` lists are left out of the file (so it does
/// not manage them) and its plan is still empty.
#[test]
fn skip_role_assignments_reads_no_per_principal_list_and_manages_none() {
    let state = WITH_PROJECT_ROLE.replace(
        "groups:\n",
        "roles:\n  - {name: billing, permissions: [api.organization.costs.read]}\ngroups:\n",
    );
    let state = state.replace(
        "{email: ada@example.com, role: owner}",
        "{email: ada@example.com, role: owner, roles: [billing]}",
    );
    let emu = org::start(&state);
    let dir = tempfile::tempdir().expect("temp dir");

    let full = dir.path().join("full.yaml");
    let export = run(org::orgops(&emu).args(["export", "-o"]).arg(&full));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let requests = take_requests(&emu);
    assert_eq!(
        requests.get("GET /organization/users/{user_id}/roles"),
        Some(&4),
        "{requests:#?}"
    );
    assert_eq!(
        requests.get("GET /organization/groups/{group_id}/roles"),
        Some(&1)
    );
    assert!(
        export
            .stderr
            .contains("4 users, 1 group, 3 project members (8 requests"),
        "{}",
        export.stderr
    );
    assert!(
        std::fs::read_to_string(&full)
            .expect("export")
            .contains("billing")
    );

    let skipped = dir.path().join("skipped.yaml");
    let export = run(org::orgops(&emu)
        .args(["export", "--skip-role-assignments", "-o"])
        .arg(&skipped));
    assert_eq!(export.code, 0, "{}", export.stderr);
    let requests = take_requests(&emu);
    for route in [
        "GET /organization/users/{user_id}/roles",
        "GET /organization/groups/{group_id}/roles",
        "GET /projects/{project_id}/users/{user_id}/roles",
    ] {
        assert_eq!(requests.get(route), None, "{route}: {requests:#?}");
    }
    assert!(
        export
            .stderr
            .contains("left out the custom-role assignments of 8 principals"),
        "{}",
        export.stderr
    );
    let doc: orgops::model::Document =
        serde_saphyr::from_str(&std::fs::read_to_string(&skipped).expect("export"))
            .expect("export parses");
    assert!(doc.users.iter().all(|u| !u.roles.is_managed()));
    assert!(
        doc.projects
            .iter()
            .flat_map(|p| &p.members)
            .all(|m| !m.roles.is_managed())
    );
    assert!(
        doc.roles.iter().any(|r| r.name == "billing"),
        "roles themselves stay"
    );

    let plan = run(org::orgops(&emu)
        .args(["plan", "--detailed-exitcode", "-f"])
        .arg(&skipped));
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
}

/// The size cap on desired-state files is an option (`--max-file-size`, or
/// `ORGOPS_MAX_FILE_SIZE`): a file over it is refused, located, with a hint naming the option;
/// the default admits a 100,000-user export (about 39 MB), so a 17 MiB file loads.
#[test]
fn the_file_size_cap_is_an_option_and_the_default_admits_large_exports() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    let mut text = String::from("version: 1\nusers:\n");
    for i in 0..40 {
        text.push_str(&format!(
            "  - {{email: user{i:04}@example.com, role: reader}}\n"
        ));
    }
    std::fs::write(&file, &text).expect("write");

    let small = run(crate::support::cli::orgops()
        .args(["validate", "--max-file-size", "1KiB", "-f"])
        .arg(&file));
    assert_eq!(small.code, 1, "{}", small.stderr);
    assert!(
        small.stderr.contains("over the 1024-byte limit")
            && small.stderr.contains("--max-file-size"),
        "{}",
        small.stderr
    );
    let by_env = run(crate::support::cli::orgops()
        .env("ORGOPS_MAX_FILE_SIZE", "1024")
        .args(["validate", "-f"])
        .arg(&file));
    assert_eq!(by_env.code, 1, "{}", by_env.stderr);
    assert!(
        by_env.stderr.contains("over the 1024-byte limit"),
        "{}",
        by_env.stderr
    );
    let bad = run(crate::support::cli::orgops()
        .args(["validate", "--max-file-size", "lots", "-f"])
        .arg(&file));
    assert_eq!(bad.code, 1, "a usage error: {}", bad.stderr);

    // Over the old fixed 16 MiB cap, well under the new default (mostly a comment, so the
    // debug build parses it quickly).
    let big = dir.path().join("big.yaml");
    let mut text = String::with_capacity(18 << 20);
    text.push_str("version: 1\nusers: [{email: ada@example.com, role: owner}]\n");
    let line = format!("#{}\n", "x".repeat(1023));
    while text.len() < 17 << 20 {
        text.push_str(&line);
    }
    std::fs::write(&big, &text).expect("write");
    let loaded = run(crate::support::cli::orgops()
        .args(["validate", "-f"])
        .arg(&big));
    assert_eq!(loaded.code, 0, "{}", loaded.stderr);
}

/// `plan` starts the organization's lists while the file loads (issue 14), before it knows
/// the file is valid: with a file that turns out invalid only at its end, the users and
/// projects lists were already requested (the read is then dropped, and the plan exits 1 with
/// the file's error). A plan that read only after loading would make no request at all.
#[test]
fn plan_starts_the_organization_lists_while_the_file_loads() {
    let org = Generated::start("users=5,projects=1,project_members=2");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("orgops.yaml");
    let mut text =
        String::from("version: 1\nusers:\n  - email: owner@example.com\n    role: owner\n");
    // Long enough that loading it takes far longer than a request to start.
    for i in 0..5_000 {
        text.push_str(&format!(
            "  - email: user{i:06}@example.com\n    role: reader\n"
        ));
    }
    text.push_str("projects:\n  - name: Late\n    members:\n      - email: nobody@example.com\n        role: member\n");
    std::fs::write(&file, &text).expect("write");

    org.control(reqwest::Method::POST, "stats/reset");
    let plan = run(org.orgops().args(["plan", "-f"]).arg(&file));
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(
        plan.stderr.contains("nobody@example.com"),
        "{}",
        plan.stderr
    );
    let requests = by_route(&org.control(reqwest::Method::GET, "stats"));
    for route in ["GET /organization/users", "GET /organization/projects"] {
        assert!(
            requests.contains_key(route),
            "{route} was not requested while the file loaded: {requests:?}"
        );
    }
    // Nothing that needs the file's contents: no project's own lists.
    assert!(
        !requests.keys().any(|route| route.contains("{project_id}")),
        "{requests:?}"
    );
}
