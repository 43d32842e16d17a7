//! What every kind must satisfy, checked through the real binary against the emulator.
//!
//! Destructiveness is decided once, by the kind: the JSON flag, the text rendering's verbs and
//! `(destructive)` marks, the markdown "Destructive changes" section (every line of which GitHub
//! colours: `-` or `!`) and the red nodes of the markdown's order graph (which shows only the
//! changes that wait or are waited for) must name the same changes.

use std::collections::{BTreeMap, BTreeSet};

use orgops::kinds::ResourceKind;

use serde_json::Value;

use crate::support::cli::{QUICKSTART, QUICKSTART_LIVE, orgops, run};
use crate::support::org::labelled_pem;

/// Verbs that take something away by themselves (`docs/plan.md`, "Honest verbs").
const DESTRUCTIVE_VERBS: &[&str] = &[
    "replace",
    "revoke",
    "deactivate",
    "remove",
    "delete",
    "unset",
    "archive",
];

/// `<symbol> <verb> <key>[  (note)]` -> (verb, key, note).
fn change_line(line: &str) -> Option<(String, String, String)> {
    let mut chars = line.chars();
    let symbol = chars.next()?;
    if !"+~-±!".contains(symbol) || chars.next() != Some(' ') {
        return None;
    }
    let rest = chars.as_str().trim_start();
    let (verb, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start();
    let (key, note) = match rest.split_once("  (") {
        Some((key, note)) => (key, note.trim_end_matches(')')),
        None => (rest, ""),
    };
    Some((verb.to_string(), key.to_string(), note.to_string()))
}

/// The keys each rendering presents as destructive: (json, text, markdown section, graph).
pub fn destructive_keys(
    plan_args: &[&str],
) -> (
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeSet<String>,
) {
    destructive_keys_in(&[], plan_args)
}

/// [`destructive_keys`], with `env` set (a live emulator's URL and key).
fn destructive_keys_in(
    env: &[(&str, &str)],
    plan_args: &[&str],
) -> (
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeSet<String>,
) {
    let run = |format: &str| {
        let mut args: Vec<&str> = plan_args.to_vec();
        args.extend(["--format", format]);
        let out = run(orgops().envs(env.iter().copied()).args(&args));
        assert!(
            out.code == 0 || out.code == 2 || out.code == 3,
            "{args:?} exited {}: {}",
            out.code,
            out.stderr
        );
        out.stdout
    };
    let json: Value = serde_json::from_str(&run("json")).expect("a JSON plan");
    let from_json: BTreeSet<String> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["destructive"] == Value::Bool(true))
        .filter_map(|c| c["key"].as_str().map(str::to_string))
        .collect();

    let text = run("text");
    let from_text: BTreeSet<String> = text
        .lines()
        .filter_map(change_line)
        .filter(|(verb, _, note)| {
            DESTRUCTIVE_VERBS.contains(&verb.as_str()) || note == "destructive"
        })
        .map(|(_, key, _)| key)
        .collect();

    let markdown = run("markdown");
    let mut from_section = BTreeSet::new();
    if let Some(start) = markdown.find("#### Destructive changes") {
        let section = &markdown[start..];
        let section = &section[..section[4..]
            .find("\n#### ")
            .map_or(section.len(), |e| e + 4)];
        for line in section.lines() {
            if let Some((_, key, _)) = change_line(line) {
                from_section.insert(key);
            }
        }
    }
    // Graph nodes are `n<i>`, `i` the change's position in the plan (the JSON's order).
    let keys: Vec<String> = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["key"].as_str().map(str::to_string))
        .collect();
    let mut drawn = BTreeSet::new();
    let mut red = BTreeSet::new();
    for line in markdown.lines().map(str::trim) {
        if let Some((node, _)) = line.split_once("[\"")
            && let Some(i) = node.strip_prefix('n').and_then(|i| i.parse::<usize>().ok())
        {
            drawn.insert(keys[i].clone());
        }
        if let Some(list) = line
            .strip_prefix("class ")
            .and_then(|l| l.strip_suffix(" destructive"))
        {
            red.extend(
                list.split(',')
                    .filter_map(|n| n.strip_prefix('n')?.parse::<usize>().ok())
                    .map(|i| keys[i].clone()),
            );
        }
    }
    // Every drawn destructive change is red, and only those.
    let drawn_destructive: BTreeSet<String> = drawn.intersection(&from_json).cloned().collect();
    assert_eq!(red, drawn_destructive, "the graph's red nodes");
    let from_graph = red;
    (from_json, from_text, from_section, from_graph)
}

#[test]
fn destructiveness_is_the_same_in_every_rendering() {
    let (json, text, markdown, graph) =
        destructive_keys(&["plan", "-f", QUICKSTART, "--emulator", QUICKSTART_LIVE]);
    // Written from the quickstart's files: what takes something away from someone.
    let expected: BTreeSet<String> = [
        // A lowered limit: requests start failing sooner.
        "project:Production/rate_limit:text-embedding-3-small",
        // An owner demoted to reader loses the organization's administration.
        "user:bob@acme.example",
        "project:Production/member:eve@acme.example",
        "invite:frank@acme.example",
        "project:Legacy Chatbot",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    assert_eq!(json, expected, "JSON `destructive`");
    assert_eq!(text, expected, "text verbs and `(destructive)` marks");
    assert_eq!(markdown, expected, "markdown's Destructive changes");
    // The graph draws the changes that wait or are waited for: here the demotion (it waits
    // for the grants of the same person).
    assert_eq!(
        graph,
        BTreeSet::from(["user:bob@acme.example".to_string()]),
        "the order graph's red nodes"
    );
}

// ------------------------------------------------------------------ every registered kind

/// What every document of the life below manages: everything, with live extras removed
/// (projects archived), so that after an apply the organization is the file.
const POLICY: &str = "version: 1
policy:
  unmanaged:
    users: remove
    invites: remove
    groups: remove
    group_members: remove
    roles: remove
    role_assignments: remove
    certificates: remove
    admin_api_keys: remove
    project_members: remove
    project_groups: remove
    project_roles: remove
    service_accounts: remove
    projects: archive
    project_api_keys: remove
    spend_alerts: remove
    external_keys: remove
    external_storage: remove
    workload_identity_providers: remove
    federation_rules: remove
    health_alert_rules: remove
    settings: remove
  max_removals: 100
";

/// Document A: the emulator's seed, and (with `Legacy` archived, see [`DOC_C`]) the file that
/// brings the organization back. Written from `docs/configuration.md`, one or more objects of
/// every kind; [`DOC_B`] changes each of them.
const DOC_A: &str = "users:
  - {email: root@x.example, role: owner}
  - {email: ann@x.example, role: owner, roles: [auditor]}
  - {email: bob@x.example, role: reader}
  - {email: cat@x.example, role: reader, roles: [gone]}
groups:
  - {name: eng, members: [ann@x.example, cat@x.example], roles: [auditor, gone]}
  - {name: old, members: [bob@x.example]}
roles:
  - {name: auditor, permissions: [api.organization.costs.read]}
  - {name: gone, permissions: [api.organization.usage.read]}
certificates:
  - {name: edge, file: a.pem, active: true}
  - {name: old-cert, file: old.pem}
admin_api_keys:
  - {name: ci-admin}
settings:
  data_retention: modified_abuse_monitoring
  spend_limit: {amount_cents: 500000}
  spend_alerts:
    - {threshold_cents: 100000, recipients: [fin@x.example]}
    - {threshold_cents: 200000, recipients: [cfo@x.example]}
  external_keys:
    - {name: k1, type: aws, kms_arn: 'arn:aws:kms:us-east-1:1:key/a', role_arn: 'arn:aws:iam::1:role/ekm', external_id: x1}
    - {name: k2, type: azure, tenant_id: t, vault_uri: 'https://v.vault.azure.net', key_name: k}
  workload_identity_providers:
    - name: github
      issuer: 'https://token.actions.githubusercontent.com'
      audience: 'https://github.com/acme'
      description: ''
      enabled: true
      federation_rules:
        - {name: main, project: Search, service_account: deploy, attribute_matchers: {repository: acme/infra}, enabled: true}
        - {name: old, project: Search, service_account: bot, attribute_matchers: {repository: acme/old}}
    - name: gitlab
      issuer: 'https://gitlab.com'
      audience: 'https://gitlab.com/acme'
      federation_rules:
        - {name: deploy, project: Search, service_account: deploy, attribute_matchers: {project_path: acme/app}}
  health_alert_rules:
    - {name: api-5xx, enabled: true, condition: {type: error_rate, threshold: 0.05, window_seconds: 300, status_class: 5xx, status_codes: [500]}, notifications: {email: {addresses: [oncall@x.example], enabled: true, org_owners: false, project_owners: false}, webhook: {enabled: false}}}
    - {name: cache, enabled: true, condition: {type: prompt_cache_hit_rate, threshold: 0.2}, notifications: {email: {enabled: false, org_owners: false, project_owners: false}, webhook: {enabled: false}}}
    - {name: fallback, enabled: true, condition: {type: service_tier_fallback_rate, threshold: 0.1, source_tier: fast}, notifications: {email: {enabled: false, org_owners: false, project_owners: false}, webhook: {enabled: false}}}
projects:
  - name: Search
    members:
      - {email: ann@x.example, role: owner, roles: [deployer, tmp]}
      - {email: bob@x.example, role: member}
      - {email: cat@x.example, role: member}
    groups:
      - {name: eng, role: member, roles: [deployer, tmp]}
      - {name: old, role: member}
    roles:
      - {name: deployer, permissions: [api.batch.write]}
      - {name: tmp, permissions: [api.batch.write]}
    service_accounts:
      - {name: bot, role: member}
      - {name: deploy, role: member}
    rate_limits:
      gpt-4o: {max_requests_per_1_minute: 500}
    certificates: [edge, old-cert]
    data_retention: zero_data_retention
    spend_limit: {amount_cents: 100000}
    model_permissions: {mode: allow_list, models: [gpt-4o]}
    hosted_tools: {web_search: false}
    service_tiers: {default: fast, enabled_tiers: [flex]}
    spend_alerts:
      - {threshold_cents: 50000, recipients: [ops@x.example]}
      - {threshold_cents: 60000, recipients: [ops@x.example]}
    external_key: k1
    external_storage: {type: aws, bucket: search-a, role_arn: 'arn:aws:iam::1:role/store'}
    api_keys: [k1, k2]
    health_alert_rules:
      - {name: tpm, enabled: true, condition: {type: rate_limit_utilization, metric: tpm, consecutive_minutes: 5, threshold: 0.9}, filters: {models: [gpt-4o]}, notifications: {email: {enabled: false, org_owners: false, project_owners: false}, webhook: {enabled: false}}}
      - {name: old-rule, enabled: true, condition: {type: prompt_cache_hit_rate, threshold: 0.3}, notifications: {email: {enabled: false, org_owners: false, project_owners: false}, webhook: {enabled: false}}}
  - name: Legacy
    members:
      - {email: ann@x.example, role: owner}
";

/// Document B: every kind of A created, updated and deleted (or set, updated and unset).
const DOC_B: &str = "users:
  - {email: root@x.example, role: owner}
  - {email: ann@x.example, role: reader, roles: [auditor, fresh]}
  - {email: bob@x.example, role: owner, roles: [auditor]}
  - {email: dan@x.example, role: reader}
groups:
  - {name: eng, members: [ann@x.example, bob@x.example], roles: [fresh]}
  - {name: new, members: [root@x.example], roles: [auditor]}
roles:
  - {name: auditor, permissions: [api.organization.costs.read, api.organization.usage.read], description: Reads costs}
  - {name: fresh, permissions: [api.organization.usage.read]}
certificates:
  - {name: edge, file: b.pem, active: true}
  - {name: spare, file: new.pem, active: true}
admin_api_keys:
  - {name: deploy-admin, expires_in_days: 30}
settings:
  data_retention: zero_data_retention
  spend_limit: {amount_cents: 400000}
  spend_alerts:
    - {threshold_cents: 100000, recipients: [fin@x.example], subject_prefix: '[org]'}
    - {threshold_cents: 300000, recipients: [cfo@x.example, fin@x.example]}
  external_keys:
    - {name: k1, type: aws, kms_arn: 'arn:aws:kms:us-east-1:1:key/b', role_arn: 'arn:aws:iam::1:role/ekm', external_id: x1}
    - {name: k3, type: oci, region: us-ashburn-1, vault_ocid: 'ocid1.vault.a', key_ocid: 'ocid1.key.a'}
  workload_identity_providers:
    - name: azure
      issuer: 'https://sts.windows.net/t/'
      audience: 'api://openai'
      federation_rules:
        - {name: aks, project: Fresh, service_account: ci, attribute_matchers: {sub: 'system:serviceaccount:ci:runner'}, permissions: {type: restricted, scopes: [api.model.request]}}
    - name: github
      issuer: 'https://token.actions.githubusercontent.com'
      audience: 'https://github.com/acme2'
      description: CI
      enabled: false
      federation_rules:
        - {name: main, project: Search, service_account: deploy, attribute_matchers: {repository: acme/infra, ref: refs/heads/main}, enabled: false}
        - {name: old, project: Search, service_account: bot2, attribute_matchers: {repository: acme/old}}
  health_alert_rules:
    - {name: api-5xx, enabled: false, condition: {type: error_rate, threshold: 0.1, window_seconds: 900, status_class: 5xx, status_codes: [503]}, notifications: {email: {addresses: [oncall@x.example], enabled: false, org_owners: true, project_owners: false}, webhook: {enabled: true}}}
    - {name: cache, enabled: true, condition: {type: rate_limit_utilization, metric: rpm, consecutive_minutes: 2, threshold: 0.8}, notifications: {email: {enabled: false, org_owners: false, project_owners: false}, webhook: {enabled: false}}}
    - {name: new-rule, enabled: true, condition: {type: service_tier_fallback_rate, threshold: 0.2, source_tier: fast}, filters: {service_tiers: [priority]}, notifications: {email: {enabled: false, org_owners: false, project_owners: false}, webhook: {enabled: false}}}
projects:
  - name: Search
    members:
      - {email: ann@x.example, role: member, roles: [deployer, fresh]}
      - {email: bob@x.example, role: owner, roles: [deployer]}
    groups:
      - {name: eng, role: owner, roles: [fresh]}
      - {name: new, role: member, roles: [deployer]}
    roles:
      - {name: deployer, permissions: [api.batch.write, api.fine_tuning.jobs.write], description: Ships}
      - {name: fresh, permissions: [api.batch.write]}
    service_accounts:
      - {name: bot2, role: owner}
      - {name: deploy, role: member}
    rate_limits:
      gpt-4o: {max_requests_per_1_minute: 400, max_tokens_per_1_minute: 20000}
    certificates: [spare]
    data_retention: none
    model_permissions: {mode: deny_list, models: [gpt-4o]}
    hosted_tools: {web_search: true, mcp: false}
    service_tiers: {default: scale, enabled_tiers: all}
    spend_alerts:
      - {threshold_cents: 50000, recipients: [ops@x.example], subject_prefix: '[search]'}
      - {threshold_cents: 70000, recipients: [ops@x.example]}
    api_keys: [k1]
    health_alert_rules:
      - {name: tpm, enabled: true, condition: {type: rate_limit_utilization, metric: tpm, consecutive_minutes: 10, threshold: 0.9}, filters: {models: [gpt-4o, gpt-4o-mini]}, notifications: {email: {enabled: false, org_owners: false, project_owners: false}, webhook: {enabled: false}}}
    external_key: k3
    external_storage: {type: aws, bucket: search-b, role_arn: 'arn:aws:iam::1:role/store'}
  - name: Legacy
    archived: true
  - name: Fresh
    members:
      - {email: bob@x.example, role: owner}
    groups:
      - {name: new, role: member}
    roles:
      - {name: runner, permissions: [api.batch.write]}
    service_accounts:
      - {name: ci, role: member}
    certificates: [edge]
    data_retention: zero_data_retention
    spend_limit: {amount_cents: 20000}
    model_permissions: {mode: allow_list, models: [gpt-4o]}
    hosted_tools: {code_interpreter: false}
    service_tiers: {default: fast, enabled_tiers: [flex]}
    spend_alerts:
      - {threshold_cents: 10000, recipients: [ops@x.example]}
    api_keys: []
    health_alert_rules:
      - {name: errors, enabled: true, condition: {type: error_rate, threshold: 0.02, window_seconds: 1800, status_class: all}, notifications: {email: {enabled: true, org_owners: false, project_owners: true}, webhook: {enabled: false}}}
    external_key: k1
    external_storage: {type: gcp, bucket: fresh, workload_identity_pool_id: p, workload_identity_project_number: '1', workload_identity_provider_id: w}
";

/// Document C: A again after B (an archived project stays archived).
fn doc_c() -> String {
    DOC_A.replace(
        "  - name: Legacy\n    members:\n      - {email: ann@x.example, role: owner}\n",
        "  - name: Legacy\n    archived: true\n",
    )
}

/// The admin key the runs authenticate with (owned by root, so never unmanaged).
const KEY: &str = "sk-admin-conformance";

/// Fields a state dump does not hold: written only when an object is created (an admin key's
/// lifetime and sink), or where the file names a local file (certificates are compared by
/// content, read over `/v1`).
const NOT_IN_STATE: &[&str] = &["file", "expires_in_days", "sink"];

/// Values that are the API's default, which the state dump leaves out (`docs/configuration.md`).
fn is_default(path: &str, value: &Value) -> bool {
    let field = path.rsplit('.').next().unwrap_or(path);
    let text = value
        .as_str()
        .map(str::to_string)
        .unwrap_or(value.to_string());
    match (field, text.as_str()) {
        ("currency", "USD") | ("interval", "month") => true,
        ("archived" | "active", "false") => true,
        ("data_retention", "organization_default") => true,
        // A description cleared is an empty one (the API has no null for it).
        ("description", "") => true,
        // The emulator's organization default (`emulator::rules`), which its dump leaves out.
        ("data_retention", "zero_data_retention") => path == "settings.data_retention",
        ("default", "standard") => path.contains(".service_tiers."),
        // A workload identity provider or rule enabled: the API's default.
        ("enabled", "true") if path.contains("workload_identity_providers") => true,
        (_, "true") => path.contains(".hosted_tools."),
        _ => false,
    }
}

/// The natural key of a list item: its name or email, or a spend alert's threshold and
/// recipients.
fn item_key(item: &serde_json::Map<String, Value>) -> String {
    for key in ["name", "email"] {
        if let Some(Value::String(s)) = item.get(key) {
            return s.to_lowercase();
        }
    }
    let mut recipients: Vec<String> = item
        .get("recipients")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default();
    recipients.sort();
    format!(
        "{}/{}",
        item.get("threshold_cents").unwrap_or(&Value::Null),
        recipients.join(",")
    )
}

/// A document (a desired-state file or a state dump) as facts, one string per object and
/// field, named by natural keys: compared as sets, a difference names the object and field.
fn facts(doc: &Value) -> BTreeSet<String> {
    fn walk(value: &Value, path: &str, out: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if NOT_IN_STATE.contains(&key.as_str())
                        || (path.is_empty() && (key == "policy" || key == "version"))
                    {
                        continue;
                    }
                    let at = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(v, &at, out);
                }
            }
            Value::Array(items) if items.iter().all(Value::is_object) => {
                for item in items.iter().filter_map(Value::as_object) {
                    let at = format!("{path}[{}]", item_key(item));
                    out.insert(at.clone());
                    walk(&Value::Object(item.clone()), &at, out);
                }
            }
            Value::Array(items) => {
                if items.is_empty() {
                    return;
                }
                let set: BTreeSet<String> = items
                    .iter()
                    .map(|v| v.as_str().map(str::to_lowercase).unwrap_or(v.to_string()))
                    .collect();
                out.insert(format!(
                    "{path}=[{}]",
                    set.into_iter().collect::<Vec<_>>().join(",")
                ));
            }
            Value::Null => {}
            scalar => {
                if !is_default(path, scalar) {
                    let text = scalar.as_str().map(str::to_string);
                    out.insert(format!("{path}={}", text.unwrap_or(scalar.to_string())));
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(doc, "", &mut out);
    out
}

/// The body of a GET (with the run's key).
fn fetch(url: &str) -> String {
    crate::apply::runtime().block_on(async {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(KEY)
            .send()
            .await
            .expect("a GET")
            .text()
            .await
            .expect("a body")
    })
}

/// What every organization holds, declared or not: the key in use, the default project.
const EVERY_ORGANIZATION: &[&str] = &[
    "admin_api_keys[orgops emulator key]",
    "admin_api_keys[orgops emulator key].name=orgops emulator key",
    "projects[default project]",
    "projects[default project].name=Default project",
];

/// A declared user who is not a member, as a file says it (`without`) and as the emulator
/// holds it: a pending invite (`with`).
const DAN_DECLARED: &[&str] = &[
    "users[dan@x.example]",
    "users[dan@x.example].email=dan@x.example",
    "users[dan@x.example].role=reader",
];
const DAN_INVITED: &[&str] = &[
    "invites[dan@x.example]",
    "invites[dan@x.example].email=dan@x.example",
    "invites[dan@x.example].role=reader",
    "invites[dan@x.example].status=pending",
];

/// One emulator and the directory of the files the life runs through.
struct Life {
    dir: tempfile::TempDir,
    emulator: orgops::emulator::RunningEmulator,
}

impl Life {
    fn start() -> Life {
        let dir = tempfile::tempdir().expect("tempdir");
        for label in ["a", "b", "old", "new"] {
            std::fs::write(dir.path().join(format!("{label}.pem")), labelled_pem(label))
                .expect("pem");
        }
        let seed = dir.path().join("a.yaml");
        std::fs::write(&seed, format!("{POLICY}{DOC_A}")).expect("seed");
        let (doc, pems) = orgops::emulator::seed::load_state_file(&seed).expect("seed loads");
        let emulator = orgops::emulator::start_in_background(
            doc,
            orgops::emulator::EmulatorOptions {
                certificate_pems: pems,
                admin_keys: vec![(KEY.to_string(), Some("root@x.example".to_string()))],
                ..orgops::emulator::EmulatorOptions::default()
            },
        )
        .expect("emulator starts");
        Life { dir, emulator }
    }

    fn env(&self) -> [(&'static str, String); 2] {
        [
            ("OPENAI_ADMIN_KEY", KEY.to_string()),
            ("OPENAI_BASE_URL", self.emulator.url()),
        ]
    }

    fn orgops(&self, args: &[&str]) -> crate::support::cli::Run {
        run(orgops()
            .current_dir(self.dir.path())
            .envs(self.env())
            .args(args))
    }

    /// Writes `name` holding `body` under the common policy.
    fn file(&self, name: &str, body: &str) -> String {
        std::fs::write(self.dir.path().join(name), format!("{POLICY}{body}")).expect("file");
        name.to_string()
    }

    /// `plan --detailed-exitcode` of `file` is empty.
    fn assert_converged(&self, file: &str, when: &str) {
        let plan = self.orgops(&["plan", "-f", file, "--detailed-exitcode"]);
        assert_eq!(
            plan.code, 0,
            "{when}: the plan of {file} is not empty:\n{}{}",
            plan.stdout, plan.stderr
        );
    }

    /// `orgops export`, then the export's plan is empty.
    fn assert_export_round_trips(&self, when: &str) {
        let out = format!("export-{}", when.replace(' ', "-"));
        std::fs::create_dir_all(self.dir.path().join(&out)).expect("dir");
        let file = format!("{out}/orgops.yaml");
        let export = self.orgops(&["export", "-o", &file]);
        assert_eq!(export.code, 0, "{when}: export: {}", export.stderr);
        let plan = self.orgops(&["plan", "-f", &file, "--detailed-exitcode"]);
        assert_eq!(
            plan.code,
            0,
            "{when}: the plan of the export is not empty:\n{}{}\nexport:\n{}",
            plan.stdout,
            plan.stderr,
            std::fs::read_to_string(self.dir.path().join(&file)).unwrap_or_default()
        );
    }

    /// The plan of `file`, as JSON, and the kinds it changes.
    fn plan_kinds(&self, file: &str) -> BTreeMap<String, usize> {
        let plan = self.orgops(&["plan", "-f", file, "--format", "json"]);
        assert_eq!(plan.code, 0, "plan {file}: {}", plan.stderr);
        let json: Value = serde_json::from_str(&plan.stdout).expect("a JSON plan");
        let mut kinds = BTreeMap::new();
        for change in json["changes"].as_array().expect("changes") {
            let kind = change["kind"].as_str().expect("kind").to_string();
            *kinds.entry(kind).or_default() += 1;
        }
        kinds
    }

    /// The kinds with a destructive change in the plan of `file`, checking that every
    /// rendering says the same.
    fn destructive_kinds(&self, file: &str) -> BTreeSet<String> {
        let path = self.dir.path().join(file);
        let path = path.to_str().expect("utf-8 path");
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (json, text, markdown, graph) = destructive_keys_in(&env, &["plan", "-f", path]);
        assert_eq!(text, json, "{file}: text verbs and marks against JSON");
        assert_eq!(markdown, json, "{file}: markdown's Destructive changes");
        assert!(graph.is_subset(&json), "{file}: the graph's red nodes");
        let plan = self.orgops(&["plan", "-f", file, "--format", "json"]);
        let plan: Value = serde_json::from_str(&plan.stdout).expect("a JSON plan");
        plan["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter(|c| c["destructive"] == Value::Bool(true))
            .filter_map(|c| c["kind"].as_str().map(str::to_string))
            .collect()
    }

    /// `orgops apply --auto-approve` of `file` succeeds.
    fn apply(&self, file: &str) {
        let applied = self.orgops(&["apply", "-f", file, "--auto-approve"]);
        assert_eq!(
            applied.code, 0,
            "apply {file}:\n{}{}",
            applied.stdout, applied.stderr
        );
    }

    /// The emulator's state as facts: `GET /_emulator/state`, and each certificate's content
    /// read over `/v1`.
    fn state_facts(&self) -> BTreeSet<String> {
        let text = fetch(&format!("{}/_emulator/state", self.emulator.base_url()));
        let state: Value = serde_saphyr::from_str(&text).expect("state parses");
        let mut out = facts(&state);
        // An archived project's children are not managed ("What a file manages"): it keeps
        // what it held, and only its being archived is compared.
        let archived: Vec<String> = out
            .iter()
            .filter_map(|f| f.strip_suffix(".archived=true").map(|p| format!("{p}.")))
            .collect();
        out.retain(|f| {
            archived.iter().all(|p| {
                f.strip_prefix(p.as_str())
                    .is_none_or(|rest| rest.starts_with("name=") || rest == "archived=true")
            })
        });
        let get = |path: &str| -> Value {
            serde_json::from_str(&fetch(&format!("{}{path}", self.emulator.url())))
                .expect("a /v1 answer")
        };
        let list = get("/organization/certificates?limit=100");
        for cert in list["data"].as_array().expect("certificates") {
            let id = cert["id"].as_str().expect("id");
            let full = get(&format!(
                "/organization/certificates/{id}?include[]=content"
            ));
            out.insert(format!(
                "certificates[{}].content={}",
                cert["name"].as_str().expect("name"),
                full["certificate_details"]["content"]
                    .as_str()
                    .expect("content")
                    .trim()
            ));
        }
        out
    }

    /// What `file` declares, as facts (certificate contents from their files).
    fn file_facts(&self, file: &str) -> BTreeSet<String> {
        let text = std::fs::read_to_string(self.dir.path().join(file)).expect("file");
        let doc: Value = serde_saphyr::from_str(&text).expect("YAML");
        let mut out = facts(&doc);
        for cert in doc["certificates"].as_array().into_iter().flatten() {
            let pem = std::fs::read_to_string(
                self.dir
                    .path()
                    .join(cert["file"].as_str().expect("certificate file")),
            )
            .expect("pem");
            out.insert(format!(
                "certificates[{}].content={}",
                cert["name"].as_str().expect("name"),
                pem.trim()
            ));
        }
        out
    }

    /// The emulator holds what `file` declares, but for `without` (declared, yet not what
    /// the API holds: a declared person who is not a member is invited) and `with` (held, yet
    /// not declared).
    fn assert_state(&self, file: &str, without: &[&str], with: &[&str]) {
        let mut want = self.file_facts(file);
        for fact in without {
            assert!(want.remove(*fact), "{file} does not declare {fact}");
        }
        want.extend(with.iter().chain(EVERY_ORGANIZATION).map(|f| f.to_string()));
        let got = self.state_facts();
        let missing: Vec<&String> = want.difference(&got).collect();
        let unexpected: Vec<&String> = got.difference(&want).collect();
        assert!(
            missing.is_empty() && unexpected.is_empty(),
            "after applying {file}, the emulator does not hold what it declares\n\
             missing: {missing:#?}\nunexpected: {unexpected:#?}"
        );
    }
}

/// Every registered kind lives through seed → export → plan empty, then A → B → C through
/// `orgops apply`, the plan empty and the emulator's state the file after each apply.
/// Registering a kind without a sample here fails this test, naming the kind.
#[test]
fn every_registered_kind_exports_creates_updates_and_deletes_through_apply() {
    let life = Life::start();
    life.assert_export_round_trips("seeded");
    let a = life.file("a.yaml", DOC_A);
    life.assert_converged(&a, "the seed planned as a file");

    let b = life.file("b.yaml", DOC_B);
    let c = life.file("c.yaml", &doc_c());
    let a_to_b = life.plan_kinds(&b);
    let mut destructive = life.destructive_kinds(&b);
    life.apply(&b);
    life.assert_converged(&b, "after B");
    life.assert_state(&b, DAN_DECLARED, DAN_INVITED);
    life.assert_export_round_trips("after B");

    let b_to_c = life.plan_kinds(&c);
    destructive.extend(life.destructive_kinds(&c));
    life.apply(&c);
    life.assert_converged(&c, "after C");
    life.assert_state(
        &c,
        &[
            // cat was removed by B: declared again, she is invited with her membership.
            "users[cat@x.example]",
            "users[cat@x.example].email=cat@x.example",
            "users[cat@x.example].role=reader",
            "users[cat@x.example].roles=[gone]",
            "projects[search].members[cat@x.example]",
            "projects[search].members[cat@x.example].email=cat@x.example",
            "projects[search].members[cat@x.example].role=member",
            "groups[eng].members=[ann@x.example,cat@x.example]",
            // A project API key cannot be created: k2, deleted by B, stays gone.
            "projects[search].api_keys=[k1,k2]",
        ],
        &[
            "invites[cat@x.example]",
            "invites[cat@x.example].email=cat@x.example",
            "invites[cat@x.example].projects[search]",
            "invites[cat@x.example].projects[search].name=Search",
            "invites[cat@x.example].projects[search].role=member",
            "invites[cat@x.example].role=reader",
            "invites[cat@x.example].status=pending",
            "groups[eng].members=[ann@x.example]",
            "projects[search].api_keys=[k1]",
            // Fresh, undeclared, is archived.
            "projects[fresh]",
            "projects[fresh].archived=true",
            "projects[fresh].name=Fresh",
            // Left out, not managed: a hosted tool, a rate-limit field, a principal's
            // custom roles keep their live values.
            "projects[search].hosted_tools.mcp=false",
            "projects[search].rate_limits.gpt-4o.max_tokens_per_1_minute=20000",
            "projects[search].members[bob@x.example].roles=[deployer]",
            "users[bob@x.example].roles=[auditor]",
        ],
    );
    life.assert_export_round_trips("after C");

    let unsampled: Vec<&str> = ResourceKind::ALL
        .iter()
        .map(|k| k.as_str())
        .filter(|k| !a_to_b.contains_key(*k))
        .collect();
    assert!(
        unsampled.is_empty(),
        "registered kinds with no change from A to B: give each objects in DOC_A and DOC_B \
         of tests/it/conformance.rs: {unsampled:?}\nA→B: {a_to_b:?}\nB→C: {b_to_c:?}"
    );
    // Written from docs/plan.md and docs/configuration.md: every kind whose change can take
    // something away has one in A→B or B→C, and every rendering said so (above).
    // Hosted tools have no destructive change (no delete; a tool turned off is not one),
    // model permissions only their `unset`, which these documents do not make, and a
    // project's external key none (putting a project on another key takes nothing away).
    let expected_destructive: BTreeSet<String> = ResourceKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .filter(|k| {
            k != "project_hosted_tools"
                && k != "project_model_permissions"
                && k != "project_external_key"
        })
        .collect();
    assert_eq!(
        destructive, expected_destructive,
        "kinds with a destructive change"
    );
}

/// Found by the suite: a certificate whose file changed is replaced by uploading the new one
/// and activating it wherever the old one is active *when the replace runs*. A deactivation
/// the same plan makes (the file takes the certificate out of a project) ran in parallel
/// with the replace, so the new certificate was sometimes activated in the project the file
/// takes it out of (the next plan deactivated it again). The replace waits for the
/// deactivations of the certificate it replaces.
#[test]
fn a_replaced_certificate_waits_for_its_deactivations() {
    let dir = tempfile::tempdir().expect("tempdir");
    for label in ["a", "b"] {
        std::fs::write(dir.path().join(format!("{label}.pem")), labelled_pem(label)).expect("pem");
    }
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("file");
    write(
        "live.yaml",
        "version: 1\nusers:\n  - {email: root@x.example, role: owner}\n\
         certificates:\n  - {name: edge, file: a.pem, active: true}\n\
         projects:\n  - {name: Search, certificates: [edge]}\n",
    );
    write(
        "orgops.yaml",
        "version: 1\npolicy: {unmanaged: {certificates: remove}}\n\
         certificates:\n  - {name: edge, file: b.pem}\n\
         projects:\n  - {name: Search, certificates: []}\n",
    );
    let plan = run(orgops().current_dir(dir.path()).args([
        "plan",
        "-f",
        "orgops.yaml",
        "--emulator",
        "live.yaml",
        "--format",
        "json",
        "--allow-removals",
    ]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan: Value = serde_json::from_str(&plan.stdout).expect("a JSON plan");
    let changes = plan["changes"].as_array().expect("changes");
    let id_of = |key: &str| {
        changes
            .iter()
            .find(|c| c["key"] == key)
            .map(|c| c["id"].clone())
            .unwrap_or_else(|| panic!("no change of {key}: {plan:#}"))
    };
    let deactivations = [
        id_of("project:Search/certificate:edge"),
        id_of("certificate:edge/scope:organization"),
    ];
    let replace = changes
        .iter()
        .find(|c| c["key"] == "certificate:edge")
        .expect("the replace");
    assert_eq!(replace["action"], "replace", "{plan:#}");
    for deactivation in &deactivations {
        assert!(
            replace["depends_on"]
                .as_array()
                .is_some_and(|d| d.contains(deactivation)),
            "the replace does not wait for {deactivation}: {replace:#}"
        );
    }
}
