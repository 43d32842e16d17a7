//! Issue 21, items 7, 10, 13, 14, 15: the real binary against a hostile server over HTTP on
//! 127.0.0.1 (a proxy that listens, an API that redirects, lies about pages, sends escapes
//! in its errors or answers with a huge body). Nothing leaks, nothing reaches the terminal
//! raw, nothing runs forever.

use std::path::PathBuf;

use serde_json::json;

use crate::support::cli::{Run, orgops, run};
use crate::support::hostile::{Answer, Hostile, empty_list};
use crate::support::org;

const KEY: &str = "sk-admin-hostile-test-secret-0000";

/// The proxy variables reqwest would read, all cleared unless a test sets one.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
];

/// `orgops` pointed at `base_url` with [`KEY`], no proxy variables, its own lock directory.
fn against(base_url: &str, dir: &std::path::Path) -> assert_cmd::Command {
    let mut command = orgops();
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command
        .env("OPENAI_ADMIN_KEY", KEY)
        .env("OPENAI_BASE_URL", base_url)
        .env("ORGOPS_LOCK_DIR", dir.join("locks"));
    command
}

fn desired(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("orgops.yaml");
    std::fs::write(
        &path,
        "version: 1\npolicy:\n  unmanaged:\n    admin_api_keys: ignore\nusers:\n  - {email: ada@example.com, role: owner}\n",
    )
    .expect("write the desired state");
    path
}

/// Item 7: with `HTTP_PROXY`, `http_proxy` or `ALL_PROXY` set, a loopback base URL is still
/// reached directly: the proxy (which may be remote) never sees a request, so never the
/// `Authorization: Bearer sk-admin-...` header sent in clear over plain HTTP.
#[test]
fn a_loopback_base_url_bypasses_every_proxy_so_the_key_never_reaches_one() {
    let emu = org::start(org::ORG);
    let proxy = Hostile::serve(|_, _| {
        Answer::status(502, json!({"error": {"message": "proxy", "type": "proxy"}}))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    for var in ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        let out = run(against(&emu.url(), dir.path())
            .env("OPENAI_ADMIN_KEY", org::ADMIN_KEY)
            .env(var, proxy.url())
            .args(["plan", "-f"])
            .arg(&file));
        let seen = proxy.seen();
        let leaked: Vec<&str> = seen
            .iter()
            .filter_map(|s| s.headers.get("authorization").map(String::as_str))
            .collect();
        assert!(
            seen.is_empty(),
            "{var}: the proxy received {} request(s), with Authorization {leaked:?}",
            seen.len()
        );
        assert_eq!(out.code, 0, "{var}: {}", out.stderr);
    }
}

/// Item 10: the Admin API does not redirect. A redirect to another origin (here another
/// port; the same holds for `https` to `http`) is refused with a clear error, and the other
/// origin never sees a request (so never `OpenAI-Organization`).
#[test]
fn a_redirect_to_another_origin_is_refused_and_the_other_origin_sees_nothing() {
    let elsewhere = Hostile::serve(|_, _| empty_list());
    let target = elsewhere.url().to_string();
    let api = Hostile::serve(move |seen, _| {
        Answer::status(307, json!({})).header("location", &format!("{target}{}", seen.uri))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    let out = run(against(&api.api_url(), dir.path())
        .env("OPENAI_ORG_ID", "org-secret-tenant")
        .args(["plan", "-f"])
        .arg(&file));
    let seen = elsewhere.seen();
    assert!(
        seen.is_empty(),
        "the redirect was followed to {}: {} request(s), OpenAI-Organization {:?}",
        elsewhere.url(),
        seen.len(),
        seen.iter()
            .filter_map(|s| s.headers.get("openai-organization"))
            .collect::<Vec<_>>()
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("redirect") && out.stderr.contains(elsewhere.url()),
        "the error says what happened: {}",
        out.stderr
    );
}

/// What a hostile API puts in its error messages: ESC (a terminal title and a colour), BEL,
/// a C1 CSI and a right-to-left override.
const EVIL: &str = "bad \u{1b}]0;pwned\u{7} \u{1b}[31mred \u{9b}2J \u{202e}txt.exe";

fn raw_escapes(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c))
        .collect()
}

/// Item 13: API error text (message, type, code, param, and a non-JSON body) is escaped
/// once, where it enters: `plan`, `drift` and `export` print it as `\u{1b}`, never raw.
#[test]
fn api_error_text_reaches_stderr_escaped_in_plan_drift_and_export() {
    let enveloped = Hostile::serve(|_, _| {
        Answer::status(
            400,
            json!({"error": {"message": EVIL, "type": EVIL, "param": EVIL, "code": EVIL}}),
        )
    });
    let plain = Hostile::serve(|_, _| Answer {
        status: 403,
        headers: vec![("content-type".into(), "text/html".into())],
        body: EVIL.as_bytes().to_vec(),
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    for api in [&enveloped, &plain] {
        for command in [
            vec!["plan", "-f"],
            vec!["drift", "-f"],
            vec!["export"],
            vec!["audit"],
        ] {
            let mut cmd = against(&api.api_url(), dir.path());
            cmd.args(&command);
            if command.len() == 2 {
                cmd.arg(&file);
            }
            let out = run(&mut cmd);
            assert_eq!(out.code, 1, "{command:?}: {}", out.stderr);
            let raw = raw_escapes(&out.stderr);
            assert!(
                raw.is_empty(),
                "{command:?}: raw {raw:?} reached stderr: {:?}",
                out.stderr
            );
            assert!(
                out.stderr.contains("\\u{1b}]0;pwned\\u{7}")
                    && out.stderr.contains("\\u{202e}txt.exe"),
                "{command:?}: the message is shown, escaped: {}",
                out.stderr
            );
        }
    }
}

/// Pages `/organization/users` and `/organization/audit_logs` forever (a new cursor and
/// `has_more: true` every time), every other list empty. After `giving_up` pages of one
/// listing it says `has_more: false`, so an unbounded client ends too, eventually.
fn endless(giving_up: usize) -> Hostile {
    let pages = std::sync::atomic::AtomicUsize::new(0);
    Hostile::serve(move |seen, _| {
        let path = seen.path();
        if path.ends_with("/organization/users") || path.ends_with("/organization/audit_logs") {
            let n = pages.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let id = format!("cursor_{n}");
            Answer::json(json!({
                "object": "list", "data": [], "first_id": id, "last_id": id,
                "has_more": n < giving_up
            }))
        } else {
            empty_list()
        }
    })
}

/// Item 14: a server that keeps returning new cursors with `has_more: true` makes `plan`,
/// `drift` and `audit` stop with an error naming the route, after the documented maximum
/// of pages (10,000 per listing), not after whatever the server decides.
#[test]
fn endless_pagination_stops_with_an_error_naming_the_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    for (command, route) in [
        (vec!["plan", "-f"], "/organization/users"),
        (vec!["drift", "-f"], "/organization/users"),
        (
            vec!["audit", "--format", "ndjson"],
            "/organization/audit_logs",
        ),
    ] {
        let api = endless(12_000);
        let mut cmd = against(&api.api_url(), dir.path());
        cmd.args(&command);
        if command.len() == 2 {
            cmd.arg(&file);
        }
        let out: Run = run(&mut cmd);
        let pages = api
            .seen()
            .iter()
            .filter(|s| s.path().ends_with(route))
            .count();
        assert_eq!(
            out.code, 1,
            "{command:?} exited {} after {pages} pages of {route}: {}",
            out.code, out.stderr
        );
        assert!(
            out.stderr.contains(route) && out.stderr.contains("10000 pages"),
            "{command:?}: {}",
            out.stderr
        );
        assert_eq!(pages, 10_000, "{command:?}");
    }
}

/// Item 15: a response body over the documented cap (16 MiB) is refused with an error
/// naming the route and the cap, instead of being held in memory whole.
#[test]
fn a_response_over_the_size_cap_is_refused_naming_the_route() {
    let padding = "x".repeat(17 * 1024 * 1024);
    let body = json!({
        "object": "list", "data": [], "first_id": null, "last_id": null,
        "has_more": false, "padding": padding
    })
    .to_string()
    .into_bytes();
    let api = Hostile::serve(move |seen, _| {
        if seen.path().ends_with("/organization/users") {
            Answer {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.clone(),
            }
        } else {
            empty_list()
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    let out = run(against(&api.api_url(), dir.path())
        .args(["plan", "-f"])
        .arg(&file));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("/organization/users") && out.stderr.contains("16 MiB"),
        "{}",
        out.stderr
    );
}

/// Issue 22: an API error quotes the response's `x-request-id` (what OpenAI support asks
/// for); an envelope-less error quotes it too; the emulator's own errors carry one.
#[test]
fn an_api_error_quotes_the_request_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = desired(dir.path());
    for answer in [
        Answer::status(
            400,
            json!({"error": {"message": "nope", "type": "invalid_request_error", "param": null, "code": null}}),
        ),
        Answer::status(418, json!({"teapot": true})),
    ] {
        let api = Hostile::serve(move |_, _| answer.clone().header("x-request-id", "req_0123abcd"));
        let out = run(against(&api.api_url(), dir.path())
            .args(["plan", "-f"])
            .arg(&file));
        assert_eq!(out.code, 1, "{}", out.stdout);
        assert!(
            out.stderr.contains("(request id req_0123abcd)"),
            "{}",
            out.stderr
        );
    }
    let emu = org::start(org::ORG);
    let out = run(against(&emu.url(), dir.path())
        .env("OPENAI_ADMIN_KEY", org::ADMIN_KEY)
        .args(["audit", "--after", "audit_log-nope"]));
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stderr.contains("(request id req_"), "{}", out.stderr);
}
