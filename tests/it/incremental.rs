//! Incremental reads (`plan --snapshot FILE`, docs/plan.md): after random out-of-band
//! changes made over HTTP against the emulator, the plan read from a snapshot and the audit
//! log equals the plan of a full read, and every reason to fall back to a full read is said.

use proptest::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

use ::orgops::emulator::RunningEmulator as Emu;

use crate::support::cli::run;
use crate::support::org::{self, call, orgops, send_with_key};

/// The organization with every kind the incremental read covers, shared with
/// scripts/sdk_incremental.py.
const STATE: &str = include_str!("../fixtures/incremental/live.yaml");

/// One out-of-band change, with indices that pick its objects among the live ones.
#[derive(Debug, Clone)]
enum Change {
    UserRole(u8, bool),
    RemoveUser(u8),
    AddProjectMember(u8, u8),
    RemoveProjectMember(u8, u8),
    ProjectMemberRole(u8, u8, bool),
    CreateGroup,
    RenameGroup(u8),
    DeleteGroup(u8),
    AddGroupMember(u8, u8),
    RemoveGroupMember(u8, u8),
    AssignUserRole(u8, u8),
    UnassignUserRole(u8),
    AssignGroupRole(u8, u8),
    UnassignGroupRole(u8),
    CreateProject,
    RenameProject(u8),
    ArchiveProject(u8),
    CreateServiceAccount(u8),
    DeleteServiceAccount(u8),
    OrgRetention(u8),
    ProjectRetention(u8, u8),
    CreateOrgRole,
    DeleteOrgRole(u8),
    CreateProjectRole(u8),
    AssignProjectMemberRole(u8, u8),
    AddProjectGroup(u8, u8),
    RemoveProjectGroup(u8, u8),
    /// An invite to a project, accepted by the person.
    InviteAccepted(u8),
}

fn change() -> impl Strategy<Value = Change> {
    let i = any::<u8>;
    prop_oneof![
        (i(), any::<bool>()).prop_map(|(a, b)| Change::UserRole(a, b)),
        i().prop_map(Change::RemoveUser),
        (i(), i()).prop_map(|(a, b)| Change::AddProjectMember(a, b)),
        (i(), i()).prop_map(|(a, b)| Change::RemoveProjectMember(a, b)),
        (i(), i(), any::<bool>()).prop_map(|(a, b, c)| Change::ProjectMemberRole(a, b, c)),
        Just(Change::CreateGroup),
        i().prop_map(Change::RenameGroup),
        i().prop_map(Change::DeleteGroup),
        (i(), i()).prop_map(|(a, b)| Change::AddGroupMember(a, b)),
        (i(), i()).prop_map(|(a, b)| Change::RemoveGroupMember(a, b)),
        (i(), i()).prop_map(|(a, b)| Change::AssignUserRole(a, b)),
        i().prop_map(Change::UnassignUserRole),
        (i(), i()).prop_map(|(a, b)| Change::AssignGroupRole(a, b)),
        i().prop_map(Change::UnassignGroupRole),
        Just(Change::CreateProject),
        i().prop_map(Change::RenameProject),
        i().prop_map(Change::ArchiveProject),
        i().prop_map(Change::CreateServiceAccount),
        i().prop_map(Change::DeleteServiceAccount),
        i().prop_map(Change::OrgRetention),
        (i(), i()).prop_map(|(a, b)| Change::ProjectRetention(a, b)),
        Just(Change::CreateOrgRole),
        i().prop_map(Change::DeleteOrgRole),
        i().prop_map(Change::CreateProjectRole),
        (i(), i()).prop_map(|(a, b)| Change::AssignProjectMemberRole(a, b)),
        (i(), i()).prop_map(|(a, b)| Change::AddProjectGroup(a, b)),
        (i(), i()).prop_map(|(a, b)| Change::RemoveProjectGroup(a, b)),
        i().prop_map(Change::InviteAccepted),
    ]
}

fn list(emu: &Emu, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    call(emu, Method::GET, &format!("{path}{sep}limit=100"), None)["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn pick(items: &[Value], at: u8) -> Option<&Value> {
    (!items.is_empty()).then(|| &items[at as usize % items.len()])
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

fn active_projects(emu: &Emu) -> Vec<Value> {
    list(emu, "/organization/projects")
        .into_iter()
        .filter(|p| p["status"] == json!("active"))
        .collect()
}

/// People other than the key's owner (who must stay an owner).
fn people(emu: &Emu) -> Vec<Value> {
    list(emu, "/organization/users")
        .into_iter()
        .filter(|u| u["email"] != json!(org::ACTOR))
        .collect()
}

fn org_role_ids(emu: &Emu) -> Vec<Value> {
    list(emu, "/organization/roles")
        .into_iter()
        .filter(|r| r["predefined_role"] != json!(true))
        .collect()
}

/// Makes `change` over `/v1` as another admin; an answer other than 2xx (a change the API
/// refuses) changes nothing and is ignored.
fn apply(emu: &Emu, change: &Change, n: usize) {
    let send = |method: Method, path: String, body: Option<Value>| {
        let (st, ans) = send_with_key(emu, org::ADMIN_KEY, method.clone(), &path, body);
        if std::env::var_os("DEBUG_INC").is_some() {
            eprintln!("{method} {path} {st} {ans}");
        }
    };
    let projects = active_projects(emu);
    let users = people(emu);
    let groups = list(emu, "/organization/groups");
    let roles = org_role_ids(emu);
    match *change {
        Change::UserRole(u, owner) => {
            if let Some(u) = pick(&users, u) {
                let role = if owner { "owner" } else { "reader" };
                send(
                    Method::POST,
                    format!("/organization/users/{}", id(u)),
                    Some(json!({"role": role})),
                );
            }
        }
        Change::RemoveUser(u) => {
            if let Some(u) = pick(&users, u) {
                send(
                    Method::DELETE,
                    format!("/organization/users/{}", id(u)),
                    None,
                );
            }
        }
        Change::AddProjectMember(p, u) => {
            if let (Some(p), Some(u)) = (pick(&projects, p), pick(&users, u)) {
                send(
                    Method::POST,
                    format!("/organization/projects/{}/users", id(p)),
                    Some(json!({"user_id": id(u), "role": "member"})),
                );
            }
        }
        Change::RemoveProjectMember(p, u) | Change::ProjectMemberRole(p, u, _) => {
            let Some(p) = pick(&projects, p) else { return };
            let members = list(emu, &format!("/organization/projects/{}/users", id(p)));
            let Some(m) = pick(&members, u) else { return };
            let path = format!("/organization/projects/{}/users/{}", id(p), id(m));
            match change {
                Change::ProjectMemberRole(_, _, owner) => {
                    let role = if *owner { "owner" } else { "member" };
                    send(Method::POST, path, Some(json!({"role": role})));
                }
                _ => send(Method::DELETE, path, None),
            }
        }
        Change::CreateGroup => send(
            Method::POST,
            "/organization/groups".into(),
            Some(json!({"name": format!("g{n}")})),
        ),
        Change::RenameGroup(g) => {
            if let Some(g) = pick(&groups, g) {
                send(
                    Method::POST,
                    format!("/organization/groups/{}", id(g)),
                    Some(json!({"name": format!("renamed{n}")})),
                );
            }
        }
        Change::DeleteGroup(g) => {
            if let Some(g) = pick(&groups, g) {
                send(
                    Method::DELETE,
                    format!("/organization/groups/{}", id(g)),
                    None,
                );
            }
        }
        Change::AddGroupMember(g, u) => {
            if let (Some(g), Some(u)) = (pick(&groups, g), pick(&users, u)) {
                send(
                    Method::POST,
                    format!("/organization/groups/{}/users", id(g)),
                    Some(json!({"user_id": id(u)})),
                );
            }
        }
        Change::RemoveGroupMember(g, u) => {
            let Some(g) = pick(&groups, g) else { return };
            let members = list(emu, &format!("/organization/groups/{}/users", id(g)));
            if let Some(m) = pick(&members, u) {
                send(
                    Method::DELETE,
                    format!("/organization/groups/{}/users/{}", id(g), id(m)),
                    None,
                );
            }
        }
        Change::AssignUserRole(u, r) => {
            if let (Some(u), Some(r)) = (pick(&users, u), pick(&roles, r)) {
                send(
                    Method::POST,
                    format!("/organization/users/{}/roles", id(u)),
                    Some(json!({"role_id": id(r)})),
                );
            }
        }
        Change::UnassignUserRole(u) => {
            let Some(u) = pick(&users, u) else { return };
            for r in &roles {
                send(
                    Method::DELETE,
                    format!("/organization/users/{}/roles/{}", id(u), id(r)),
                    None,
                );
            }
        }
        Change::AssignGroupRole(g, r) => {
            if let (Some(g), Some(r)) = (pick(&groups, g), pick(&roles, r)) {
                send(
                    Method::POST,
                    format!("/organization/groups/{}/roles", id(g)),
                    Some(json!({"role_id": id(r)})),
                );
            }
        }
        Change::UnassignGroupRole(g) => {
            let Some(g) = pick(&groups, g) else { return };
            for r in &roles {
                send(
                    Method::DELETE,
                    format!("/organization/groups/{}/roles/{}", id(g), id(r)),
                    None,
                );
            }
        }
        Change::CreateProject => send(
            Method::POST,
            "/organization/projects".into(),
            Some(json!({"name": format!("p{n}")})),
        ),
        Change::RenameProject(p) => {
            if let Some(p) = pick(&projects, p) {
                send(
                    Method::POST,
                    format!("/organization/projects/{}", id(p)),
                    Some(json!({"name": format!("project{n}")})),
                );
            }
        }
        Change::ArchiveProject(p) => {
            if let Some(p) = pick(&projects, p) {
                send(
                    Method::POST,
                    format!("/organization/projects/{}/archive", id(p)),
                    None,
                );
            }
        }
        Change::CreateServiceAccount(p) => {
            if let Some(p) = pick(&projects, p) {
                send(
                    Method::POST,
                    format!("/organization/projects/{}/service_accounts", id(p)),
                    Some(json!({"name": format!("sa{n}")})),
                );
            }
        }
        Change::DeleteServiceAccount(p) => {
            let Some(p) = pick(&projects, p) else { return };
            let accounts = list(
                emu,
                &format!("/organization/projects/{}/service_accounts", id(p)),
            );
            if let Some(a) = pick(&accounts, 0) {
                send(
                    Method::DELETE,
                    format!(
                        "/organization/projects/{}/service_accounts/{}",
                        id(p),
                        id(a)
                    ),
                    None,
                );
            }
        }
        Change::OrgRetention(v) => {
            let values = ["zero_data_retention", "modified_abuse_monitoring"];
            send(
                Method::POST,
                "/organization/data_retention".into(),
                Some(json!({"retention_type": values[v as usize % values.len()]})),
            );
        }
        Change::ProjectRetention(p, v) => {
            let values = ["organization_default", "none", "zero_data_retention"];
            if let Some(p) = pick(&projects, p) {
                send(
                    Method::POST,
                    format!("/organization/projects/{}/data_retention", id(p)),
                    Some(json!({"retention_type": values[v as usize % values.len()]})),
                );
            }
        }
        Change::CreateOrgRole => send(
            Method::POST,
            "/organization/roles".into(),
            Some(
                json!({"role_name": format!("r{n}"), "permissions": ["api.organization.usage.read"]}),
            ),
        ),
        Change::DeleteOrgRole(r) => {
            if let Some(r) = pick(&roles, r) {
                send(
                    Method::DELETE,
                    format!("/organization/roles/{}", id(r)),
                    None,
                );
            }
        }
        Change::CreateProjectRole(p) => {
            if let Some(p) = pick(&projects, p) {
                send(
                    Method::POST,
                    format!("/projects/{}/roles", id(p)),
                    Some(
                        json!({"role_name": format!("pr{n}"), "permissions": ["api.batch.write"]}),
                    ),
                );
            }
        }
        Change::AssignProjectMemberRole(p, u) => {
            let Some(p) = pick(&projects, p) else { return };
            let members = list(emu, &format!("/organization/projects/{}/users", id(p)));
            let project_roles: Vec<Value> = list(emu, &format!("/projects/{}/roles", id(p)))
                .into_iter()
                .filter(|r| r["predefined_role"] != json!(true))
                .collect();
            if let (Some(m), Some(r)) = (pick(&members, u), pick(&project_roles, u)) {
                send(
                    Method::POST,
                    format!("/projects/{}/users/{}/roles", id(p), id(m)),
                    Some(json!({"role_id": id(r)})),
                );
            }
        }
        Change::AddProjectGroup(p, g) => {
            if let (Some(p), Some(g)) = (pick(&projects, p), pick(&groups, g)) {
                send(
                    Method::POST,
                    format!("/organization/projects/{}/groups", id(p)),
                    Some(json!({"group_id": id(g), "role": "role-api-project-member"})),
                );
            }
        }
        Change::InviteAccepted(p) => {
            let Some(p) = pick(&projects, p) else { return };
            let email = format!("new{n}@example.com");
            send(
                Method::POST,
                "/organization/invites".into(),
                Some(json!({"email": email, "role": "reader",
                            "projects": [{"id": id(p), "role": "member"}]})),
            );
            crate::support::control::call(
                emu.base_url(),
                Method::POST,
                "invites/accept",
                Some(json!({"email": email})),
            );
        }
        Change::RemoveProjectGroup(p, g) => {
            let Some(p) = pick(&projects, p) else { return };
            let access = list(emu, &format!("/organization/projects/{}/groups", id(p)));
            if let Some(a) = pick(&access, g) {
                let group = a["group_id"].as_str().unwrap_or_default();
                send(
                    Method::DELETE,
                    format!("/organization/projects/{}/groups/{group}", id(p)),
                    None,
                );
            }
        }
    }
}

/// `plan --format json` with extra arguments: the plan and stderr.
fn plan(emu: &Emu, file: &std::path::Path, extra: &[&str]) -> (Value, String) {
    let out = run(orgops(emu)
        .args(["plan", "--format", "json", "-f"])
        .arg(file)
        .args(extra));
    // 3: a safety gate refused the plan (still printed, and compared).
    assert!(
        out.code == 0 || out.code == 3,
        "{}{}",
        out.stdout,
        out.stderr
    );
    (
        serde_json::from_str(&out.stdout).expect("JSON plan"),
        out.stderr,
    )
}

/// The seeded organization, its export as the desired state (so every list is read), and a
/// first snapshot taken after one audited write (a snapshot of an empty audit log has no
/// position to read from).
fn setup() -> (
    Emu,
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
) {
    let emu = org::start(STATE);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("org.yaml");
    let out = run(orgops(&emu).args(["export", "-o"]).arg(&file));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(&file).expect("export");
    let text = text.replacen(
        "policy:\n  unmanaged:\n",
        "policy:\n  unmanaged:\n    settings: report\n",
        1,
    );
    assert!(text.contains("settings: report"), "{text}");
    std::fs::write(&file, text).expect("write");
    let bob = org::user_id(&emu, "bob@example.com");
    call(
        &emu,
        Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "reader"})),
    );
    let snapshot = dir.path().join("snapshot.json");
    let (_, stderr) = plan(
        &emu,
        &file,
        &["--snapshot", snapshot.to_str().unwrap_or_default()],
    );
    assert!(stderr.contains("full read: no snapshot"), "{stderr}");
    (emu, dir, file, snapshot)
}

const CASES: u32 = 24;

proptest! {
    // 24 random sequences of 1 to 4 changes; the plans are compared after every change.
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn the_incremental_plan_equals_the_full_read_plan(changes in prop::collection::vec(change(), 1..5)) {
        let (emu, dir, file, snapshot) = setup();
        let snap = snapshot.to_str().unwrap_or_default().to_string();
        // The first snapshot, kept: a full read at the end is compared with it.
        let first = dir.path().join("first.json");
        std::fs::copy(&snapshot, &first).expect("copy");
        for (n, change) in changes.iter().enumerate() {
            apply(&emu, change, n);
            let (incremental, stderr) = plan(&emu, &file, &["--snapshot", &snap]);
            prop_assert!(stderr.contains("note: incremental read"), "after {:?}: {}", change, stderr);
            let (full, _) = plan(&emu, &file, &[]);
            prop_assert_eq!(&incremental, &full, "after {:?} (of {:?})", change, changes);
        }
        // Every list the events of the whole sequence did not name is as the first snapshot
        // kept it: the comparison of a full read never cries wolf.
        let (_, stderr) = plan(&emu, &file, &["--snapshot", first.to_str().unwrap_or_default(), "--full"]);
        prop_assert!(stderr.contains("note: full read: --full"), "{}", stderr);
        prop_assert!(!stderr.contains("warning: the full read found"), "after {:?}: {}", changes, stderr);
    }
}

/// A small organization behind a gateway (whose reported organization and refusals the
/// test controls), its export, and a first snapshot after one audited write.
struct Fallback {
    emu: Emu,
    gateway: crate::support::hostile::Gateway,
    _dir: tempfile::TempDir,
    file: std::path::PathBuf,
    snapshot: std::path::PathBuf,
}

impl Fallback {
    fn new() -> Fallback {
        let emu = org::start(org::ORG);
        let gateway = crate::support::hostile::Gateway::serve(emu.base_url(), &["/v1"], "org-AAA");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("org.yaml");
        std::fs::write(&file, org::ORG).expect("write");
        let snapshot = dir.path().join("snapshot.json");
        let f = Fallback {
            emu,
            gateway,
            _dir: dir,
            file,
            snapshot,
        };
        f.touch();
        let stderr = f.plan(&[]);
        assert!(
            stderr.contains("note: full read: no snapshot at"),
            "{stderr}"
        );
        f
    }

    /// One audited write that changes nothing the file manages differently.
    fn touch(&self) {
        let bob = org::user_id(&self.emu, "bob@example.com");
        call(
            &self.emu,
            Method::POST,
            &format!("/organization/users/{bob}"),
            Some(json!({"role": "reader"})),
        );
    }

    /// `plan --snapshot` through the gateway with `extra` arguments: stderr (exit 0).
    fn plan(&self, extra: &[&str]) -> String {
        let out = run(crate::support::cli::orgops()
            .env("OPENAI_ADMIN_KEY", org::ADMIN_KEY)
            .env("OPENAI_BASE_URL", format!("{}/v1", self.gateway.url()))
            .args(["plan", "-f"])
            .arg(&self.file)
            .arg("--snapshot")
            .arg(&self.snapshot)
            .args(extra));
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        out.stderr
    }

    /// Rewrites the snapshot through `edit`, resealed with the organization's key (as the
    /// holder of the admin key could; [`Fallback::reseal`] with another key is anyone else).
    fn forge(&self, edit: impl FnOnce(&mut orgops::live::snapshot::Snapshot)) {
        self.reseal(edit, &admin_derived_key(org::ADMIN_KEY));
    }

    fn reseal(
        &self,
        edit: impl FnOnce(&mut orgops::live::snapshot::Snapshot),
        key: &orgops::live::snapshot::SnapshotKey,
    ) {
        let bytes = std::fs::read(&self.snapshot).expect("snapshot");
        let mut snapshot =
            orgops::live::snapshot::Snapshot::open(&bytes, &admin_derived_key(org::ADMIN_KEY))
                .expect("a snapshot");
        edit(&mut snapshot);
        std::fs::write(&self.snapshot, snapshot.seal(key).expect("sealed")).expect("write");
    }
}

/// The signing key as docs/plan.md defines it, derived here independently of orgops:
/// HMAC-SHA256 keyed with the admin key over `orgops snapshot key v1`.
fn admin_derived_key(admin_key: &str) -> orgops::live::snapshot::SnapshotKey {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(admin_key.as_bytes()).expect("key");
    mac.update(b"orgops snapshot key v1");
    orgops::live::snapshot::SnapshotKey::from_bytes(mac.finalize().into_bytes().into())
}

/// The one line a plan says about its read.
pub fn read_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("note: full read") || l.starts_with("note: incremental read"))
        .unwrap_or_default()
}

#[test]
fn a_valid_snapshot_is_read_incrementally_and_full_forces_a_full_read() {
    let f = Fallback::new();
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with("note: incremental read: 0 audit-log event(s)"),
        "{stderr}"
    );
    let stderr = f.plan(&["--full"]);
    assert_eq!(read_line(&stderr), "note: full read: --full", "{stderr}");
    // --full wrote a fresh snapshot: the next plan reads from it.
    assert!(read_line(&f.plan(&[])).starts_with("note: incremental read"));
}

#[test]
fn an_old_snapshot_means_a_full_read() {
    let f = Fallback::new();
    f.forge(|s| s.taken_at -= 2 * 86_400);
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with(
            "note: full read: the snapshot is 48 h old, more than --snapshot-max-age (24 h)"
        ),
        "{stderr}"
    );
    f.forge(|s| s.taken_at -= 3 * 3600);
    let stderr = f.plan(&["--snapshot-max-age", "2h"]);
    assert!(
        read_line(&stderr).contains("more than --snapshot-max-age (2 h 0 min)"),
        "{stderr}"
    );
    assert!(
        read_line(&f.plan(&["--snapshot-max-age", "2h"])).starts_with("note: incremental read")
    );
}

#[test]
fn a_snapshot_of_another_organization_means_a_full_read() {
    let f = Fallback::new();
    f.gateway.report("org-BBB");
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with("note: full read: the snapshot is of another organization"),
        "{stderr}"
    );
    assert!(read_line(&stderr).contains("org-AAA"), "{stderr}");
}

#[test]
fn a_snapshot_of_another_orgops_version_means_a_full_read() {
    let f = Fallback::new();
    f.forge(|s| s.orgops_version = "0.0.1".into());
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with("note: full read: the snapshot was written by orgops 0.0.1"),
        "{stderr}"
    );
}

#[test]
fn a_position_the_audit_log_no_longer_holds_means_a_full_read() {
    let f = Fallback::new();
    // As after the log's retention dropped the event the snapshot stands at.
    f.forge(|s| {
        if let Some(c) = s.cursor.as_mut() {
            c.id = "audit_log-gone".into();
        }
    });
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with(
            "note: full read: the audit log no longer reaches the snapshot's position"
        ),
        "{stderr}"
    );
}

#[test]
fn an_audit_log_that_cannot_be_read_means_a_full_read() {
    let f = Fallback::new();
    // Audit logging turned off: the API refuses the log.
    f.gateway.refuse("/organization/audit_logs", 403);
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with("note: full read: the audit log could not be read in full"),
        "{stderr}"
    );
    // And the snapshot written then has no position: the next read is full too.
    assert!(
        stderr.contains("the next read is a full one too"),
        "{stderr}"
    );
}

#[test]
fn a_paging_error_in_the_audit_log_means_a_full_read() {
    let f = Fallback::new();
    // More than a page of events since the snapshot, and the second page fails.
    for _ in 0..101 {
        f.touch();
    }
    f.gateway.refuse("after=", 500);
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with("note: full read: the audit log could not be read in full"),
        "{stderr}"
    );
}

#[test]
fn a_snapshot_of_an_empty_audit_log_means_a_full_read() {
    let emu = org::start(org::ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("org.yaml");
    std::fs::write(&file, org::ORG).expect("write");
    let snapshot = dir.path().join("s.json");
    let plan = || {
        let out = run(orgops(&emu)
            .args(["plan", "-f"])
            .arg(&file)
            .arg("--snapshot")
            .arg(&snapshot));
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stderr
    };
    plan();
    let stderr = plan();
    assert!(
        read_line(&stderr)
            .starts_with("note: full read: the audit log was empty when the snapshot was taken"),
        "{stderr}"
    );
}

#[test]
fn a_damaged_or_foreign_snapshot_is_refused_and_read_in_full() {
    let f = Fallback::new();
    // One character of the sealed content changed.
    let mut envelope: Value =
        serde_json::from_slice(&std::fs::read(&f.snapshot).expect("snapshot")).expect("JSON");
    let sealed = envelope["sealed"].as_str().expect("sealed").to_string();
    let flipped = if sealed.ends_with("A=") { "B=" } else { "A=" };
    envelope["sealed"] = json!(format!("{}{flipped}", &sealed[..sealed.len() - 2]));
    std::fs::write(&f.snapshot, envelope.to_string()).expect("write");
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).contains(
            "not sealed with this organization's key (written by someone without it, damaged"
        ),
        "{stderr}"
    );
    std::fs::write(&f.snapshot, "{\"users\": []}").expect("write");
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).contains("not an orgops snapshot"),
        "{stderr}"
    );
    // A list of a kind whose pages are not what it reads.
    f.plan(&[]);
    f.forge(|s| {
        if let Some(list) = s.lists.first_mut() {
            list.pages = vec![json!("not a page")];
        }
    });
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).contains("list does not decode"),
        "{stderr}"
    );
    // The error quotes the file: escaped.
    f.plan(&[]);
    f.forge(|s| {
        if let Some(list) = s.lists.first_mut() {
            list.pages = vec![json!("\u{1b}[31mred")];
        }
    });
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).contains("list does not decode"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    // The terminal never sees what the file held unescaped.
    f.forge(|s| s.orgops_version = "\u{1b}[31mred".into());
    let stderr = f.plan(&[]);
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn a_snapshot_resealed_without_the_organizations_key_is_refused() {
    let f = Fallback::new();
    // Someone who can write the snapshot but holds neither the admin key nor
    // ORGOPS_SNAPSHOT_KEY: they seal what they like with what they have.
    let theirs = admin_derived_key("sk-admin-someone-else");
    f.reseal(|s| s.lists.retain(|l| l.kind.as_str() != "user"), &theirs);
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with(
            "note: full read: the snapshot is not sealed with this organization's key"
        ),
        "{stderr}"
    );
    // The key's value is never what it says.
    assert!(!stderr.contains(org::ADMIN_KEY), "{stderr}");
    // Sealed with our key (by the test's own derivation from the docs), it is read.
    f.forge(|_| {});
    assert!(read_line(&f.plan(&[])).starts_with("note: incremental read"));
}

#[test]
fn orgops_snapshot_key_signs_instead_of_the_admin_key_and_must_be_long() {
    let f = Fallback::new();
    let secret = "a-dedicated-snapshot-secret-of-40-chars!";
    let run = |key: Option<&str>| {
        let mut cmd = crate::support::cli::orgops();
        cmd.env("OPENAI_ADMIN_KEY", org::ADMIN_KEY)
            .env("OPENAI_BASE_URL", format!("{}/v1", f.gateway.url()))
            .args(["plan", "-f"])
            .arg(&f.file)
            .arg("--snapshot")
            .arg(&f.snapshot);
        if let Some(key) = key {
            cmd.env("ORGOPS_SNAPSHOT_KEY", key);
        }
        run(&mut cmd)
    };
    // Written with the admin key's: the dedicated key does not verify it.
    let out = run(Some(secret));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        read_line(&out.stderr).contains("not sealed"),
        "{}",
        out.stderr
    );
    let out = run(Some(secret));
    assert!(
        read_line(&out.stderr).starts_with("note: incremental read"),
        "{}",
        out.stderr
    );
    let out = run(None);
    assert!(
        read_line(&out.stderr).contains("not sealed"),
        "{}",
        out.stderr
    );
    let out = run(Some("s3cr3t-tiny"));
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ORGOPS_SNAPSHOT_KEY is shorter than 32 characters"),
        "{}",
        out.stderr
    );
    // The value is never echoed (a distinctive one, so that its absence means something).
    assert!(!out.stderr.contains("s3cr3t-tiny"), "{}", out.stderr);
}

#[test]
fn a_full_read_is_due_after_full_read_every() {
    let f = Fallback::new();
    f.forge(|s| s.full_read_at -= 2 * 3600);
    let stderr = f.plan(&["--full-read-every", "1h"]);
    assert!(
        read_line(&stderr).starts_with(
            "note: full read: the last full read was 2 h 0 min ago, more than --full-read-every (1 h 0 min)"
        ),
        "{stderr}"
    );
    // It agreed with the snapshot: nothing to warn about, and the next read is incremental.
    assert!(!stderr.contains("warning:"), "{stderr}");
    assert!(read_line(&f.plan(&["--full-read-every", "1h"])).starts_with("note: incremental read"));
    // Incremental reads carry the full read's time on: the default (1 d) comes due too.
    f.forge(|s| s.full_read_at -= 86_400 + 60);
    assert!(read_line(&f.plan(&[])).contains("more than --full-read-every (24 h)"));
}

/// One request to the emulator's control plane (`/_emulator/...`): its JSON answer.
fn control(emu: &Emu, method: Method, path: &str, body: Option<Value>) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut req =
            reqwest::Client::new().request(method, format!("{}/_emulator/{path}", emu.base_url()));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("control plane");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.expect("JSON")
    })
}

/// Sets the emulator's audit logging on or off (`/_emulator/audit_logging`).
fn audit_logging(emu: &Emu, enabled: bool) {
    control(
        emu,
        Method::POST,
        "audit_logging",
        Some(json!({ "enabled": enabled })),
    );
}

#[test]
fn a_persons_change_re_reads_that_person_not_the_list_of_everyone() {
    let f = Fallback::new();
    let bob = org::user_id(&f.emu, "bob@example.com");
    control(&f.emu, Method::POST, "stats/reset", None);
    call(
        &f.emu,
        Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "owner"})),
    );
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).contains("1 object(s) re-read by id"),
        "{stderr}"
    );
    let stats = control(&f.emu, Method::GET, "stats", None);
    let by_route = &stats["by_route"];
    assert_eq!(
        by_route["GET /organization/users/{user_id}"],
        json!(1),
        "{stats}"
    );
    assert!(by_route.get("GET /organization/users").is_none(), "{stats}");
    // Removed: the person read by id is gone, and leaves the list.
    call(
        &f.emu,
        Method::DELETE,
        &format!("/organization/users/{bob}"),
        None,
    );
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).contains("1 object(s) re-read by id"),
        "{stderr}"
    );
    let snapshot = std::fs::read(&f.snapshot).expect("snapshot");
    let snapshot =
        orgops::live::snapshot::Snapshot::open(&snapshot, &admin_derived_key(org::ADMIN_KEY))
            .expect("opens");
    let people = snapshot
        .lists
        .iter()
        .find(|l| l.kind.as_str() == "user")
        .expect("the people list");
    assert!(!people.items().is_empty());
    assert!(
        people.items().iter().all(|u| u["id"] != json!(bob)),
        "bob left the kept list of people"
    );
    // Two people changed in an organization whose people fit one page: the page is cheaper.
    for email in ["carol@example.com", "ada@example.com"] {
        let id = org::user_id(&f.emu, email);
        call(
            &f.emu,
            Method::POST,
            &format!("/organization/users/{id}"),
            Some(json!({"role": "owner"})),
        );
    }
    control(&f.emu, Method::POST, "stats/reset", None);
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).contains("0 object(s) re-read by id"),
        "{stderr}"
    );
    let stats = control(&f.emu, Method::GET, "stats", None);
    assert_eq!(
        stats["by_route"]["GET /organization/users"],
        json!(1),
        "{stats}"
    );
}

#[test]
fn audit_logging_turned_off_is_found_by_the_next_full_read_and_reads_stay_full_until_one_agrees() {
    let f = Fallback::new();
    assert!(read_line(&f.plan(&[])).starts_with("note: incremental read"));
    // An admin turns audit logging off, then a person's role changes: no event says so.
    audit_logging(&f.emu, false);
    let bob = org::user_id(&f.emu, "bob@example.com");
    call(
        &f.emu,
        Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "owner"})),
    );
    // What no event shows, an incremental read cannot see (docs/plan.md says so)...
    assert!(read_line(&f.plan(&[])).starts_with("note: incremental read: 0 audit-log event(s)"));
    // ...the periodic full read finds it, and says what it means.
    let stderr = f.plan(&["--full"]);
    assert!(
        stderr.contains(
            "warning: the full read found 1 list(s) changed that no audit-log event since the \
             snapshot named (user): audit logging may be off"
        ),
        "{stderr}"
    );
    // Until a full read agrees with the snapshot before it, every read is full.
    let stderr = f.plan(&[]);
    assert!(
        read_line(&stderr).starts_with(
            "note: full read: the last full read found 1 list(s) changed that no audit-log event named"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("warning:"), "{stderr}");
    audit_logging(&f.emu, true);
    f.touch();
    assert!(read_line(&f.plan(&[])).starts_with("note: incremental read"));
}

#[test]
fn snapshot_dir_keeps_one_file_per_organization_and_refuses_a_linked_directory() {
    let emu = org::start(org::ORG);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("org.yaml");
    std::fs::write(&file, org::ORG).expect("write");
    let cache = dir.path().join("cache");
    let plan = |at: &std::path::Path| {
        run(orgops(&emu)
            .args(["plan", "-f"])
            .arg(&file)
            .arg("--snapshot-dir")
            .arg(at))
    };
    let bob = org::user_id(&emu, "bob@example.com");
    call(
        &emu,
        Method::POST,
        &format!("/organization/users/{bob}"),
        Some(json!({"role": "reader"})),
    );
    control(&emu, Method::POST, "stats/reset", None);
    let out = plan(&cache);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        read_line(&out.stderr).starts_with("note: full read: no snapshot at"),
        "{}",
        out.stderr
    );
    // The one audit-log request that names the organization is also the full read's
    // position: the log is asked once.
    let stats = control(&emu, Method::GET, "stats", None);
    assert_eq!(
        stats["by_route"]["GET /organization/audit_logs"],
        json!(1),
        "{stats}"
    );
    let files: Vec<_> = std::fs::read_dir(&cache)
        .expect("the directory was made")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with(".snapshot.json"), "{files:?}");
    let out = plan(&cache);
    assert!(
        read_line(&out.stderr).starts_with("note: incremental read"),
        "{}",
        out.stderr
    );
    // A directory that is a link (a restored cache can hold one) is refused: the snapshot
    // would be written wherever it points.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&cache, &link).expect("symlink");
    let out = plan(&link);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("not a directory (a symbolic link or a file)"),
        "{}",
        out.stderr
    );
}

#[test]
fn snapshot_dir_with_an_audit_log_that_refuses_reads_in_full_and_keeps_nothing() {
    let f = Fallback::new();
    let dir = f._dir.path().join("snapshots");
    f.gateway.refuse("/organization/audit_logs", 403);
    let out = run(crate::support::cli::orgops()
        .env("OPENAI_ADMIN_KEY", org::ADMIN_KEY)
        .env("OPENAI_BASE_URL", format!("{}/v1", f.gateway.url()))
        .args(["plan", "-f"])
        .arg(&f.file)
        .arg("--snapshot-dir")
        .arg(&dir));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        read_line(&out.stderr).starts_with("note: full read: the audit log cannot be read (")
            && read_line(&out.stderr).ends_with("so no snapshot is read or kept"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
}

/// The spec's `AuditLogEventType` values.
fn spec_event_types() -> std::collections::BTreeSet<String> {
    let path = crate::support::cli::root().join(crate::support::openapi::SPEC_FILE);
    let text = std::fs::read_to_string(path).expect("the spec");
    let start = text
        .find("    AuditLogEventType:")
        .expect("AuditLogEventType");
    let enum_at = start + text[start..].find("enum:").expect("its enum");
    text[enum_at..]
        .lines()
        .skip(1)
        .map_while(|l| l.trim().strip_prefix("- "))
        .map(|s| s.trim().to_string())
        .collect()
}

#[test]
fn every_event_type_a_kind_declares_is_one_the_api_sends() {
    let spec = spec_event_types();
    assert!(
        spec.contains("role.assignment.created") && spec.len() > 50,
        "{spec:?}"
    );
    let mut declared = 0;
    for &kind in orgops::kinds::ResourceKind::ALL {
        for event in orgops::kinds::incremental::revealing_events(kind)
            .unwrap_or_default()
            .keys()
        {
            declared += 1;
            assert!(
                spec.contains(*event),
                "{kind} declares {event}, not in the spec"
            );
        }
    }
    assert!(declared > 20, "{declared}");
}

#[test]
fn the_emulator_records_spec_event_types_for_the_changes_it_is_sent() {
    let spec = spec_event_types();
    let emu = org::start(STATE);
    // Project 0 is the default project (no members, no service accounts).
    let all = [
        Change::UserRole(1, true),
        Change::AddProjectMember(1, 3),
        Change::ProjectMemberRole(1, 0, true),
        Change::RemoveProjectMember(1, 0),
        Change::CreateGroup,
        Change::RenameGroup(0),
        Change::AddGroupMember(0, 3),
        Change::RemoveGroupMember(0, 0),
        Change::AssignUserRole(3, 1),
        Change::UnassignUserRole(3),
        Change::AssignGroupRole(1, 1),
        Change::UnassignGroupRole(1),
        Change::CreateProject,
        Change::RenameProject(2),
        Change::CreateServiceAccount(1),
        Change::DeleteServiceAccount(1),
        Change::OrgRetention(1),
        Change::ProjectRetention(1, 2),
        Change::CreateOrgRole,
        Change::CreateProjectRole(1),
        Change::AssignProjectMemberRole(1, 0),
        Change::AddProjectGroup(2, 1),
        Change::RemoveProjectGroup(2, 0),
        Change::DeleteOrgRole(0),
        Change::DeleteGroup(0),
        Change::ArchiveProject(3),
        Change::RemoveUser(0),
        Change::InviteAccepted(1),
    ];
    for (n, change) in all.iter().enumerate() {
        apply(&emu, change, n);
    }
    let events = list(&emu, "/organization/audit_logs");
    let types: std::collections::BTreeSet<String> = events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect();
    for t in &types {
        assert!(
            spec.contains(t),
            "the emulator recorded {t}, not in the spec"
        );
    }
    // Each change was recorded (most as one event).
    assert!(
        events.len() >= all.len() - 2,
        "{} events: {types:?}",
        events.len()
    );
    for t in [
        "user.updated",
        "user.added",
        "user.deleted",
        "group.created",
        "group.updated",
        "group.deleted",
        "role.assignment.created",
        "role.assignment.deleted",
        "project.created",
        "project.updated",
        "project.archived",
        "service_account.created",
        "service_account.deleted",
        "organization.updated",
        "role.created",
        "role.deleted",
        "invite.sent",
        "invite.accepted",
    ] {
        assert!(types.contains(t), "no {t} among {types:?}");
    }
}
