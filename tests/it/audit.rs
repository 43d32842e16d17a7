//! The audit log as a query: the emulator's `GET /organization/audit_logs` filters and
//! paging (checked against the OpenAPI subset), and `orgops audit` run for real against an
//! emulator another admin (or an apply) changed over `/v1`.

use orgops::emulator::RunningEmulator;
use serde_json::{Value, json};

use crate::support::cli::{Run, run};
use crate::support::contract_client::ContractClient;
use crate::support::org::{self, ACTOR, ORG};

// ---------------------------------------------------------------------------------------
// The emulator's filters (item 6)

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["id"].as_str().expect("an id").to_string())
        .collect()
}

/// Ten events with known times (t = 1000, 1100, ... oldest first), known actors and known
/// projects: returns them oldest first as (id, type).
async fn ten_events(c: &ContractClient) -> (Vec<(String, String)>, Value) {
    let users = c.get("/organization/users?limit=100").await;
    let id_of = |email: &str| {
        users["data"]
            .as_array()
            .expect("users")
            .iter()
            .find(|u| u["email"] == email)
            .and_then(|u| u["id"].as_str())
            .expect("a member")
            .to_string()
    };
    let (bob, carol) = (id_of("bob@example.com"), id_of("carol@example.com"));
    let mut project_ids = Vec::new();
    for name in ["P1", "P2", "P3"] {
        let p = c
            .post("/organization/projects", json!({"name": name}))
            .await;
        project_ids.push(p["id"].as_str().expect("id").to_string());
    }
    let group = c.post("/organization/groups", json!({"name": "ml"})).await;
    let group_id = group["id"].as_str().expect("id").to_string();
    for user in [&bob, &carol] {
        c.post(
            &format!("/organization/groups/{group_id}/users"),
            json!({"user_id": user}),
        )
        .await;
    }
    c.post(
        &format!("/organization/groups/{group_id}"),
        json!({"name": "ml-platform"}),
    )
    .await;
    for project in &project_ids[..2] {
        c.post_empty(&format!("/organization/projects/{project}/archive"))
            .await;
    }
    c.post(
        &format!("/organization/projects/{}", project_ids[2]),
        json!({"name": "P3b"}),
    )
    .await;
    // Times, and the group's events done by bob in a dashboard session, in project P3.
    let mut org = c.emu.state().org();
    assert_eq!(org.audit_log.len(), 10, "ten mutations, ten events");
    let mut events = Vec::new();
    for (i, event) in org.audit_log.values_mut().enumerate() {
        event.effective_at = 1_000 + 100 * i as i64;
        if event.event_type.starts_with("group.") {
            event.actor = json!({"type": "session", "session": {
                "user": {"id": bob, "email": "bob@example.com"}, "ip_address": "127.0.0.1"}});
            event.project = Some((project_ids[2].clone(), "P3".to_string()));
        }
        events.push((event.id.clone(), event.event_type.clone()));
    }
    let context = json!({"bob": bob, "group": group_id, "projects": project_ids});
    (events, context)
}

/// Newest first: the ids of `events` (oldest first) whose index passes `keep`.
fn newest_first(events: &[(String, String)], keep: impl Fn(usize, &str) -> bool) -> Vec<String> {
    events
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, (_, ty))| keep(*i, ty))
        .map(|(_, (id, _))| id.clone())
        .collect()
}

#[tokio::test]
async fn emulator_audit_log_honours_every_filter_and_cursor() {
    let c = ContractClient::start(ORG);
    let (events, ctx) = ten_events(&c).await;
    let all = newest_first(&events, |_, _| true);
    let get = |query: String| {
        let c = &c;
        async move { c.get(&format!("/organization/audit_logs?{query}")).await }
    };
    // No filter: everything, newest first; first_id/last_id name the ends of the page.
    let page = get("limit=100".into()).await;
    assert_eq!(ids(&page), all);
    assert_eq!(page["first_id"], json!(all[0]));
    assert_eq!(page["last_id"], json!(all[9]));
    assert_eq!(page["has_more"], json!(false));

    // limit: 1–100, default 20; a short page says has_more.
    let page = get("limit=3".into()).await;
    assert_eq!(ids(&page), all[..3]);
    assert_eq!(page["has_more"], json!(true));
    for bad in ["limit=0", "limit=101", "limit=ten"] {
        c.fails(
            reqwest::Method::GET,
            &format!("/organization/audit_logs?{bad}"),
            None,
            400,
        )
        .await;
    }
    // after: the next page, strictly after the cursor, to the end.
    assert_eq!(c.collect("/organization/audit_logs", 3).await.len(), 10);
    let page = get(format!("limit=3&after={}", all[2])).await;
    assert_eq!(ids(&page), all[3..6]);
    assert_eq!(page["has_more"], json!(true));
    let page = get(format!("limit=4&after={}", all[5])).await;
    assert_eq!(ids(&page), all[6..10]);
    assert_eq!(page["has_more"], json!(false));
    // before: the page just before the cursor (newer events), still newest first.
    let page = get(format!("limit=3&before={}", all[6])).await;
    assert_eq!(ids(&page), all[3..6]);
    assert_eq!(page["has_more"], json!(true));
    let page = get(format!("limit=5&before={}", all[3])).await;
    assert_eq!(ids(&page), all[..3]);
    assert_eq!(page["has_more"], json!(false));
    c.fails(
        reqwest::Method::GET,
        &format!(
            "/organization/audit_logs?after={}&before={}",
            all[1], all[5]
        ),
        None,
        400,
    )
    .await;
    c.fails(
        reqwest::Method::GET,
        "/organization/audit_logs?after=audit_log-nope",
        None,
        400,
    )
    .await;

    // effective_at[gt|gte|lt|lte] (t = 1000 + 100 i), alone and together.
    let at = |i: usize| 1_000 + 100 * i as i64;
    for (query, keep) in [
        (
            "effective_at[gt]=1400",
            Box::new(|i: usize| at(i) > 1400) as Box<dyn Fn(usize) -> bool>,
        ),
        ("effective_at[gte]=1400", Box::new(|i| at(i) >= 1400)),
        ("effective_at[lt]=1400", Box::new(|i| at(i) < 1400)),
        ("effective_at[lte]=1400", Box::new(|i| at(i) <= 1400)),
        (
            "effective_at[gte]=1200&effective_at[lt]=1500",
            Box::new(|i| (1200..1500).contains(&at(i))),
        ),
        (
            "effective_at[gt]=1200&effective_at[lte]=1500",
            Box::new(|i| at(i) > 1200 && at(i) <= 1500),
        ),
    ] {
        let page = get(format!("{query}&limit=100")).await;
        assert_eq!(ids(&page), newest_first(&events, |i, _| keep(i)), "{query}");
    }
    c.fails(
        reqwest::Method::GET,
        "/organization/audit_logs?effective_at[gte]=yesterday",
        None,
        400,
    )
    .await;

    // event_types[]: any of the values; the bare name is accepted too.
    let page =
        get("event_types[]=project.created&event_types[]=group.created&limit=100".into()).await;
    assert_eq!(
        ids(&page),
        newest_first(&events, |_, t| t == "project.created"
            || t == "group.created")
    );
    let page = get("event_types=project.archived&limit=100".into()).await;
    assert_eq!(
        ids(&page),
        newest_first(&events, |_, t| t == "project.archived")
    );

    // actor_emails[] (case-insensitive) and actor_ids[] (user id or admin key id).
    let by_bob = newest_first(&events, |_, t| t.starts_with("group."));
    let page = get("actor_emails[]=BOB@example.com&limit=100".into()).await;
    assert_eq!(ids(&page), by_bob);
    let page = get(format!(
        "actor_ids[]={}&limit=100",
        ctx["bob"].as_str().expect("bob")
    ))
    .await;
    assert_eq!(ids(&page), by_bob);
    let newest = &page["data"][0];
    assert_eq!(newest["actor"]["type"], "session");
    let key_event = get(format!("limit=1&after={}", all[0])).await;
    let key_id = key_event["data"][0]["actor"]["api_key"]["id"]
        .as_str()
        .expect("an admin key id")
        .to_string();
    let page = get(format!("actor_ids[]={key_id}&limit=100")).await;
    assert_eq!(
        ids(&page),
        newest_first(&events, |_, t| !t.starts_with("group."))
    );
    let page = get(format!(
        "actor_ids[]={key_id}&actor_ids[]={}&limit=100",
        ctx["bob"].as_str().expect("bob")
    ))
    .await;
    assert_eq!(ids(&page), all, "any of the actors");
    let page = get("actor_emails[]=nobody@example.com".into()).await;
    assert_eq!(ids(&page), Vec::<String>::new());

    // tenant_only: only tenant-scoped events (the emulator records none), and then every
    // event type asked for must be tenant-scoped.
    let page = get("tenant_only=true&limit=100".into()).await;
    assert_eq!(ids(&page), Vec::<String>::new());
    c.fails(
        reqwest::Method::GET,
        "/organization/audit_logs?tenant_only=true&event_types[]=project.created",
        None,
        400,
    )
    .await;

    // project_ids[]: the project an event is associated with (not what it is about).
    let p3 = ctx["projects"][2].as_str().expect("P3").to_string();
    let page = get(format!("project_ids[]={p3}&limit=100")).await;
    assert_eq!(ids(&page), by_bob);
    assert_eq!(page["data"][0]["project"], json!({"id": p3, "name": "P3"}));

    // resource_ids[]: what the event is about.
    let page = get(format!("resource_ids[]={p3}&limit=100")).await;
    assert_eq!(
        ids(&page),
        newest_first(&events, |i, _| i == 2 || i == 9),
        "P3 created, then renamed"
    );
    let group = ctx["group"].as_str().expect("group");
    let page = get(format!(
        "resource_ids[]={group}&resource_ids[]={p3}&limit=100"
    ))
    .await;
    assert_eq!(ids(&page).len(), 6, "four group events and two about P3");

    // Different filters must all match; the cursor pages within the filtered list.
    let page = get(
        "event_types[]=group.updated&actor_emails[]=bob@example.com&effective_at[gte]=1500&limit=1"
            .to_string(),
    )
    .await;
    assert_eq!(ids(&page), vec![events[6].0.clone()]);
    assert_eq!(page["has_more"], json!(true));
    let page = get(format!(
        "event_types[]=group.updated&actor_emails[]=bob@example.com&effective_at[gte]=1500&limit=1&after={}",
        events[6].0
    ))
    .await;
    assert_eq!(ids(&page), vec![events[5].0.clone()]);
    assert_eq!(page["has_more"], json!(false));
}

// ---------------------------------------------------------------------------------------
// `orgops audit` (item 5)

fn audit(emu: &RunningEmulator, args: &[&str]) -> Run {
    run(org::orgops(emu).arg("audit").args(args))
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The `id` of each event, in order.
fn event_ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect()
}

/// Audit-log requests the emulator answered since the last reset.
fn audit_requests(emu: &RunningEmulator) -> u64 {
    emu.state().faults.stats().by_route["GET /organization/audit_logs"]
}

fn reset_stats(emu: &RunningEmulator) {
    emu.state().faults.reset_stats();
}

#[test]
fn audit_after_apply_lists_exactly_the_projects_it_created_with_the_actor() {
    let emu = org::start(ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orgops.yaml");
    std::fs::write(
        &file,
        format!(
            "{ORG}  - name: Atlas\n  - name: Borealis\npolicy:\n  unmanaged:\n    admin_api_keys: ignore\n"
        ),
    )
    .expect("write");
    // Another admin's change before the apply: not the apply's.
    org::call(
        &emu,
        reqwest::Method::POST,
        "/organization/groups",
        Some(json!({"name": "before"})),
    );
    let applied = run(org::orgops(&emu)
        .args(["apply", "--auto-approve", "-f"])
        .arg(&file));
    assert_eq!(applied.code, 0, "{}\n{}", applied.stdout, applied.stderr);

    let out = audit(
        &emu,
        &[
            "--since",
            "1d",
            "--type",
            "project.created",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let events: Vec<Value> = serde_json::from_str(&out.stdout).expect("one JSON array");
    let mut created: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "project.created");
            (
                e["project.created"]["data"]["name"]
                    .as_str()
                    .expect("name")
                    .to_string(),
                e["project.created"]["id"].as_str().expect("id").to_string(),
                e["actor"]["api_key"]["user"]["email"]
                    .as_str()
                    .expect("the actor")
                    .to_string(),
            )
        })
        .collect();
    created.sort();
    assert_eq!(
        created,
        vec![
            (
                "Atlas".to_string(),
                org::project_id(&emu, "Atlas"),
                ACTOR.to_string()
            ),
            (
                "Borealis".to_string(),
                org::project_id(&emu, "Borealis"),
                ACTOR.to_string()
            ),
        ]
    );

    // The same as a table: time, actor, event, the object by its orgops key.
    let out = audit(&emu, &["--since", "1d", "--type", "project.created"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.stdout);
    assert!(lines[0].starts_with("TIME") && lines[0].contains("OBJECT"));
    let mut objects: Vec<&str> = lines[1..]
        .iter()
        .map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            assert!(cols[0].ends_with('Z') && cols[0].contains('T'), "{l}");
            assert_eq!(&cols[1..3], [ACTOR, "project.created"], "{l}");
            cols[3]
        })
        .collect();
    objects.sort();
    assert_eq!(objects, ["project:Atlas", "project:Borealis"]);
}

#[test]
fn audit_pages_through_three_pages_and_streams_ndjson_newest_first() {
    let emu = org::start(ORG);
    for i in 0..7 {
        org::call(
            &emu,
            reqwest::Method::POST,
            "/organization/groups",
            Some(json!({"name": format!("g{i}")})),
        );
    }
    let expected: Vec<String> = org::call(
        &emu,
        reqwest::Method::GET,
        "/organization/audit_logs?limit=100&event_types[]=group.created",
        None,
    )["data"]
        .as_array()
        .map(|events| event_ids(events))
        .expect("data");
    assert_eq!(expected.len(), 7);
    reset_stats(&emu);
    let out = audit(
        &emu,
        &[
            "--type",
            "group.created",
            "--page-size",
            "2",
            "--format",
            "ndjson",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let got: Vec<String> = event_ids(&json_lines(&out.stdout));
    assert_eq!(got, expected, "every event once, newest first");
    assert_eq!(audit_requests(&emu), 4, "2 + 2 + 2 + 1 events");
    assert_eq!(
        emu.state().faults.stats().total,
        4,
        "no other read: the filters name no name"
    );

    // --limit stops paging: 3 events cost 2 requests of 2, and say how to continue.
    reset_stats(&emu);
    let out = audit(
        &emu,
        &[
            "--type",
            "group.created",
            "--page-size",
            "2",
            "--limit",
            "3",
            "--format",
            "ndjson",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first: Vec<String> = event_ids(&json_lines(&out.stdout));
    assert_eq!(first, expected[..3]);
    assert_eq!(audit_requests(&emu), 2);
    assert!(
        out.stderr
            .contains(&format!("continue with --after {}", expected[2])),
        "{}",
        out.stderr
    );
    let rest = audit(
        &emu,
        &[
            "--type",
            "group.created",
            "--after",
            &expected[2],
            "--format",
            "ndjson",
        ],
    );
    let rest: Vec<String> = event_ids(&json_lines(&rest.stdout));
    assert_eq!(rest, expected[3..]);

    // --before: the events newer than one, oldest first, paging towards the newest with the
    // API's `before` cursor (here 4 events: 2 pages of 2).
    reset_stats(&emu);
    let out = audit(
        &emu,
        &[
            "--type",
            "group.created",
            "--page-size",
            "2",
            "--before",
            &expected[4],
            "--format",
            "ndjson",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let newer: Vec<String> = event_ids(&json_lines(&out.stdout));
    let mut oldest_first = expected[..4].to_vec();
    oldest_first.reverse();
    assert_eq!(newer, oldest_first);
    assert_eq!(audit_requests(&emu), 2);
    // With --limit: the oldest ones, and how to continue.
    let out = audit(
        &emu,
        &[
            "--type",
            "group.created",
            "--before",
            &expected[4],
            "--limit",
            "1",
            "--format",
            "ndjson",
        ],
    );
    let first: Vec<Value> = json_lines(&out.stdout);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["id"], json!(expected[3]));
    assert!(
        out.stderr
            .contains(&format!("continue with --before {}", expected[3])),
        "{}",
        out.stderr
    );
}

#[test]
fn audit_resolves_names_with_a_minimal_read_and_names_objects_by_their_keys() {
    let emu = org::start(ORG);
    let bob = org::user_id(&emu, "bob@example.com");
    let search = org::project_id(&emu, "Search");
    let group = org::call(
        &emu,
        reqwest::Method::POST,
        "/organization/groups",
        Some(json!({"name": "ml"})),
    )["id"]
        .as_str()
        .expect("id")
        .to_string();
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/groups/{group}/users"),
        Some(json!({"user_id": bob})),
    );
    org::call(
        &emu,
        reqwest::Method::POST,
        &format!("/organization/projects/{search}"),
        Some(json!({"name": "Search"})),
    );

    // --object group:NAME reads the groups (one request) and nothing else but the log.
    reset_stats(&emu);
    let out = audit(&emu, &["--object", "group:ml", "--format", "ndjson"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let types: Vec<Value> = json_lines(&out.stdout)
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(types, [json!("group.updated"), json!("group.created")]);
    let stats = emu.state().faults.stats();
    assert_eq!(
        stats.by_route.keys().collect::<Vec<_>>(),
        ["GET /organization/audit_logs", "GET /organization/groups"]
    );
    assert_eq!(stats.total, 2);

    // --object project:NAME, --object with an id, --actor by email: the same events.
    for args in [
        vec!["--object", "project:Search"],
        vec!["--object", search.as_str()],
        vec!["--object", "project:Search", "--actor", "ADA@example.com"],
    ] {
        let out = audit(&emu, &[args.as_slice(), &["--format", "ndjson"]].concat());
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        let events = json_lines(&out.stdout);
        assert_eq!(events.len(), 1, "{args:?}: {}", out.stdout);
        assert_eq!(events[0]["type"], "project.updated");
    }
    let out = audit(
        &emu,
        &["--object", "project:Search", "--actor", "bob@example.com"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "No audit events match.\n");

    // A list read to resolve a filter also names the objects: read once.
    reset_stats(&emu);
    let out = audit(&emu, &["--object", "project:Search"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("project.updated"), "{}", out.stdout);
    assert!(out.stdout.contains("project:Search"), "{}", out.stdout);
    let stats = emu.state().faults.stats();
    assert_eq!(stats.by_route["GET /organization/projects"], 1);
    assert_eq!(stats.total, 2);

    // The table names the group membership by its orgops key.
    let out = audit(&emu, &["--type", "group.updated"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("group:ml/member:bob@example.com"),
        "{}",
        out.stdout
    );
}

#[test]
fn audit_bad_input_is_a_clear_error_with_exit_1() {
    let emu = org::start(ORG);
    for (args, message) in [
        (
            vec!["--since", "yesterday"],
            "--since: \"yesterday\" is not a valid time: expected a duration back from now such as 30m",
        ),
        (vec!["--until", "7x"], "--until: \"7x\": unknown unit 'x'"),
        (
            vec!["--since", "2026-02-30"],
            "--since: \"2026-02-30\" is not a valid time",
        ),
        (vec!["--since", "1d", "--until", "2d"], "is after --until"),
        (
            vec!["--project", "Serch"],
            "no project named \"Serch\" in the organization (did you mean \"Search\"?)",
        ),
        (
            vec!["--object", "user:nobody@example.com"],
            "no user named \"nobody@example.com\"",
        ),
        (vec!["--object", "widget:x"], "unknown kind \"widget\""),
        (
            vec!["--type", "tenant.metadata.updated", "--type", "user.added"],
            "query them in separate runs",
        ),
    ] {
        let out = audit(&emu, &args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stdout);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: "),
            "{args:?}: {}",
            out.stderr
        );
    }
    // An event type the API does not have is refused before any call, with a did-you-mean
    // (the API answers 400 to it; it used to be sent, with a warning).
    let calls = emu.state().faults.stats().total;
    let out = audit(&emu, &["--type", "project.create"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "error: --type \"project.create\" is not an audit event type of the API (did you mean \"project.created\"?)"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(
        emu.state().faults.stats().total,
        calls,
        "an unknown --type reached the API"
    );
    let out = audit(&emu, &["--type", "project.created"]);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    // Tenant-scoped types are asked for with tenant_only (the emulator records none).
    let out = audit(&emu, &["--type", "tenant.metadata.updated"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "No audit events match.\n");
    // An API refusal (an unknown cursor) is an error too.
    let out = audit(&emu, &["--after", "audit_log-nope"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains("reading the audit log"),
        "{}",
        out.stderr
    );
}

#[test]
fn audit_escapes_what_the_api_sends() {
    let emu = org::start(ORG);
    org::call(
        &emu,
        reqwest::Method::POST,
        "/organization/projects",
        Some(json!({"name": "Evil\u{1b}[2J\u{9b}31m\u{202e}"})),
    );
    for format in ["text", "json", "ndjson"] {
        let out = audit(&emu, &["--type", "project.created", "--format", format]);
        assert_eq!(out.code, 0, "{format}: {}", out.stderr);
        assert!(
            !out.stdout
                .chars()
                .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
            "{format}: raw control characters: {:?}",
            out.stdout
        );
        if format == "text" {
            assert!(
                out.stdout
                    .contains("project:Evil\\u{1b}[2J\\u{9b}31m\\u{202e}"),
                "{}",
                out.stdout
            );
        } else {
            // Still the same JSON string.
            let text = out.stdout.trim_start_matches('[');
            assert!(
                text.contains("Evil\\u001b[2J\\u009b31m\\u202e"),
                "{}",
                out.stdout
            );
        }
    }
}

#[test]
fn audit_text_table_names_each_kind_by_its_orgops_key() {
    let emu = org::start(ORG);
    let post = |path: &str, body: Value| org::call(&emu, reqwest::Method::POST, path, Some(body));
    let bob = org::user_id(&emu, "bob@example.com");
    let carol = org::user_id(&emu, "carol@example.com");
    let search = org::project_id(&emu, "Search");
    post("/organization/projects", json!({"name": "Atlas"}));
    let ml = post("/organization/groups", json!({"name": "ml"}))["id"]
        .as_str()
        .expect("id")
        .to_string();
    post(
        &format!("/organization/groups/{ml}/users"),
        json!({"user_id": bob}),
    );
    let role = post(
        "/organization/roles",
        json!({"role_name": "auditor", "permissions": ["api.groups.read"]}),
    )["id"]
        .as_str()
        .expect("id")
        .to_string();
    post(
        &format!("/organization/users/{bob}/roles"),
        json!({"role_id": role}),
    );
    post(
        &format!("/organization/projects/{search}/groups"),
        json!({"group_id": ml, "role": "role-api-project-member"}),
    );
    post(
        &format!("/organization/projects/{search}/users"),
        json!({"user_id": carol, "role": "member"}),
    );
    let reviewer = post(
        &format!("/projects/{search}/roles"),
        json!({"role_name": "reviewer", "permissions": []}),
    )["id"]
        .as_str()
        .expect("id")
        .to_string();
    post(
        &format!("/projects/{search}/users/{carol}/roles"),
        json!({"role_id": reviewer}),
    );
    post(
        "/organization/invites",
        json!({"email": "dan@example.com", "role": "reader"}),
    );
    // Fixed times, so the table is the same on every run.
    for (i, event) in emu.state().org().audit_log.values_mut().enumerate() {
        event.effective_at = 1_764_500_000 + 60 * i as i64;
    }
    let out = audit(&emu, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout);
}
