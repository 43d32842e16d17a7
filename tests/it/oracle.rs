//! The plan proven against something that is not itself.
//!
//! - **Scope soundness**: for random (live, desired) pairs, the plan made after the minimal
//!   read (`ReadScope::for_document`) equals, byte for byte, the plan made after reading
//!   everything (`ReadScope::everything()`). This is what makes the minimal read safe.
//! - **End-state oracle**: [`expected_facts`] computes, from (live, desired) alone and from
//!   `docs/configuration.md` (not from `plan/`), the organization that must exist after an
//!   apply; the test applies over HTTP and compares the emulator's full state
//!   (`GET /_emulator/state`) with it, fact by fact. Settings are compared as the API
//!   answers them: [`api_settings`] reads every settings kind (data retention, spend limits,
//!   spend alerts, model and hosted-tool permissions, service tiers, user-owned project API keys) of the
//!   organization and every project with plain `GET`s over `/v1` before and after apply, and
//!   [`expected_settings`] says, from the docs, what must hold after.
//!
//! The generator covers users, invites (pending, expired, accepted), custom roles, groups
//! (members, roles), admin API keys, projects (create, archive, the default project, rate
//! limits) and every project child kind, each list absent, empty or filled, and every
//! policy value; from a separate random stream, the settings singletons, organization and
//! project spend alerts (overlapping natural keys, recipients in another case, subject
//! prefixes) and project API keys, with every `settings`, `spend_alerts` and
//! `project_api_keys` policy. Certificates are not generated (their PEM files live outside the document);
//! `plan` unit tests cover them.

use crate::support::Fields;
use std::collections::{BTreeMap, BTreeSet};

use orgops::emulator::{self, EmulatorOptions, rules::DEFAULT_PROJECT_NAME};
use orgops::live::{self, NoProgress, ReadScope};
use orgops::model::{
    AdminApiKey, Document, Group, Invite, InviteProject, InviteStatus, ManagedList, OrgRole,
    Project, ProjectGroup, ProjectMember, ProjectRole, RateLimit, Role, ServiceAccount,
    UnmanagedAction, UnmanagedProjectAction, User, normalize_email,
};
use orgops::plan::{self, PlanOptions};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::apply::{desired_state, emulator_state, runtime, test_client};

const EMAILS: usize = 6;
const PERMISSIONS: [&str; 2] = ["api.organization.costs.read", "api.organization.usage.read"];

fn email(i: usize) -> String {
    format!("u{i}@x.example")
}

fn some<'a, T>(rng: &mut StdRng, items: &'a [T], p: f64) -> Vec<&'a T> {
    items.iter().filter(|_| rng.random_bool(p)).collect()
}

fn project_role(rng: &mut StdRng) -> ProjectRole {
    if rng.random_bool(0.3) {
        ProjectRole::Owner
    } else {
        ProjectRole::Member
    }
}

fn action(rng: &mut StdRng) -> UnmanagedAction {
    match rng.random_range(0..3) {
        0 => UnmanagedAction::Report,
        1 => UnmanagedAction::Remove,
        _ => UnmanagedAction::Ignore,
    }
}

/// A list of the desired side: absent (not managed), empty, or `fill`ed.
fn list<T>(rng: &mut StdRng, fill: impl FnOnce(&mut StdRng) -> Vec<T>) -> ManagedList<T> {
    match rng.random_range(0..10) {
        0..=2 => ManagedList::default(),
        3..=4 => ManagedList::managed(Vec::new()),
        _ => ManagedList::managed(fill(rng)),
    }
}

fn names(rng: &mut StdRng, pool: &[String], p: f64) -> Vec<String> {
    some(rng, pool, p).into_iter().cloned().collect()
}

fn roles_of(rng: &mut StdRng, pool: &[String], desired: bool) -> ManagedList<String> {
    if desired {
        list(rng, |rng| names(rng, pool, 0.4))
    } else {
        names(rng, pool, 0.4).into()
    }
}

/// One side of a scenario, over a small universe so both sides overlap. The live side writes
/// every list; the desired side leaves lists out or writes them empty at random, and
/// references only what it declares (so it validates).
fn side(rng: &mut StdRng, desired: bool) -> Document {
    let mut doc = Document::default();
    let manage = |rng: &mut StdRng| !desired || rng.random_bool(0.75);

    if manage(rng) {
        doc.roles = some(rng, &["r0", "r1"], 0.6)
            .into_iter()
            .map(|name| Role {
                name: name.to_string(),
                permissions: names(rng, &PERMISSIONS.map(String::from), 0.5)
                    .into_iter()
                    .chain([PERMISSIONS[0].to_string()])
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                description: None,
            })
            .collect();
    }
    let role_pool: Vec<String> = doc.roles.iter().map(|r| r.name.clone()).collect();

    if manage(rng) {
        let mut users = vec![User {
            email: email(0),
            role: OrgRole::Owner,
            roles: roles_of(rng, &role_pool, desired),
        }];
        for i in 1..EMAILS {
            if rng.random_bool(0.6) {
                let role = if rng.random_bool(0.2) {
                    OrgRole::Owner
                } else {
                    OrgRole::Reader
                };
                users.push(User {
                    email: email(i),
                    role,
                    roles: roles_of(rng, &role_pool, desired),
                });
            }
        }
        doc.users = users.into();
    }
    let user_pool: Vec<String> = doc.users.iter().map(|u| u.email.clone()).collect();

    if manage(rng) {
        doc.groups = some(rng, &["g0", "g1", "g2"], 0.6)
            .into_iter()
            .map(|name| Group {
                name: name.to_string(),
                members: if desired {
                    list(rng, |rng| names(rng, &user_pool, 0.4))
                } else {
                    names(rng, &user_pool, 0.4).into()
                },
                roles: roles_of(rng, &role_pool, desired),
            })
            .collect();
    }
    let group_pool: Vec<String> = doc.groups.iter().map(|g| g.name.clone()).collect();

    if manage(rng) {
        doc.admin_api_keys = some(rng, &["k0", "k1"], 0.5)
            .into_iter()
            .map(|name| AdminApiKey {
                name: name.to_string(),
                expires_in_days: None,
                sink: None,
            })
            .collect();
    }

    if manage(rng) {
        let mut projects = Vec::new();
        for p in 0..4 {
            if !rng.random_bool(0.6) {
                continue;
            }
            let name = format!("p{p}");
            let archived = desired && rng.random_bool(0.15);
            let own_roles: Vec<String> = if rng.random_bool(0.5) {
                vec!["pr0".to_string()]
            } else {
                vec![]
            };
            let roles = if desired {
                list(rng, |_| {
                    own_roles.iter().map(|r| project_custom_role(r)).collect()
                })
            } else {
                own_roles.iter().map(|r| project_custom_role(r)).collect()
            };
            let role_names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
            let members_fill = |rng: &mut StdRng| -> Vec<ProjectMember> {
                some(rng, &user_pool, 0.4)
                    .into_iter()
                    .map(|e| ProjectMember {
                        email: e.clone(),
                        role: project_role(rng),
                        roles: roles_of(rng, &role_names, desired),
                    })
                    .collect()
            };
            let groups_fill = |rng: &mut StdRng| -> Vec<ProjectGroup> {
                some(rng, &group_pool, 0.4)
                    .into_iter()
                    .map(|g| ProjectGroup {
                        name: g.clone(),
                        role: project_role(rng),
                        roles: roles_of(rng, &role_names, desired),
                    })
                    .collect()
            };
            let accounts_fill = |rng: &mut StdRng| -> Vec<ServiceAccount> {
                some(rng, &["sa0", "sa1"], 0.5)
                    .into_iter()
                    .map(|n| ServiceAccount {
                        name: n.to_string(),
                        role: project_role(rng),
                        sink: None,
                        key_spend_limit: None,
                    })
                    .collect()
            };
            let (members, groups, service_accounts) = if desired {
                (
                    list(rng, members_fill),
                    list(rng, groups_fill),
                    list(rng, accounts_fill),
                )
            } else {
                (
                    members_fill(rng).into(),
                    groups_fill(rng).into(),
                    accounts_fill(rng).into(),
                )
            };
            projects.push(Project {
                name,
                archived,
                residency: None,
                external_key_id: None,
                members,
                groups,
                roles,
                service_accounts,
                rate_limits: rate_limits(rng),
                certificates: ManagedList::default(),
                ..Default::default()
            });
        }
        if desired && rng.random_bool(0.3) {
            projects.push(Project {
                name: DEFAULT_PROJECT_NAME.to_string(),
                archived: false,
                residency: None,
                external_key_id: None,
                members: ManagedList::default(),
                groups: ManagedList::default(),
                roles: ManagedList::default(),
                service_accounts: ManagedList::default(),
                rate_limits: rate_limits(rng),
                certificates: ManagedList::default(),
                ..Default::default()
            });
        }
        doc.projects = projects.into();
    }

    if !desired {
        // People who are not members: pending, expired and accepted invites.
        let members: BTreeSet<String> = user_pool.iter().cloned().collect();
        let project_names: Vec<String> = doc.projects.iter().map(|p| p.name.clone()).collect();
        for i in 1..EMAILS {
            if members.contains(&email(i)) || !rng.random_bool(0.5) {
                continue;
            }
            let status = match rng.random_range(0..3) {
                0 => InviteStatus::Pending,
                1 => InviteStatus::Expired,
                _ => InviteStatus::Accepted,
            };
            doc.invites.push(Invite {
                email: email(i),
                role: OrgRole::Reader,
                status,
                projects: some(rng, &project_names, 0.3)
                    .into_iter()
                    .map(|name| InviteProject {
                        name: name.clone(),
                        role: ProjectRole::Member,
                    })
                    .collect(),
            });
        }
    }
    doc
}

fn project_custom_role(name: &str) -> Role {
    Role {
        name: name.to_string(),
        permissions: vec!["api.fine_tuning.jobs.write".into()],
        description: None,
    }
}

/// Values well below the emulator's catalogue defaults, so a declared value always shows.
fn rate_limits(rng: &mut StdRng) -> BTreeMap<String, RateLimit> {
    let mut out = BTreeMap::new();
    if rng.random_bool(0.4) {
        out.insert(
            "gpt-4o".to_string(),
            RateLimit {
                max_requests_per_1_minute: Some(rng.random_range(100..1000)),
                ..RateLimit::default()
            },
        );
    }
    out
}

/// A random (live seed, desired) pair with random policies.
pub(crate) fn scenario(seed: u64) -> (Document, Document) {
    let mut rng = StdRng::seed_from_u64(seed);
    let live = side(&mut rng, false);
    let mut desired = side(&mut rng, true);
    let u = &mut desired.policy.unmanaged;
    u.users = action(&mut rng);
    u.invites = action(&mut rng);
    u.groups = action(&mut rng);
    u.group_members = action(&mut rng);
    u.roles = action(&mut rng);
    u.role_assignments = action(&mut rng);
    u.admin_api_keys = action(&mut rng);
    u.project_members = action(&mut rng);
    u.project_groups = action(&mut rng);
    u.project_roles = action(&mut rng);
    u.service_accounts = action(&mut rng);
    u.projects = match rng.random_range(0..3) {
        0 => UnmanagedProjectAction::Report,
        1 => UnmanagedProjectAction::Archive,
        _ => UnmanagedProjectAction::Ignore,
    };
    // The settings kinds and project API keys, from their own stream so the cases above
    // stay what they were.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5e77_1295);
    let mut live = live;
    settings(&mut rng, &mut live, false);
    settings(&mut rng, &mut desired, true);
    let u = &mut desired.policy.unmanaged;
    u.settings = match rng.random_range(0..4) {
        0 => None,
        1 => Some(UnmanagedAction::Report),
        2 => Some(UnmanagedAction::Remove),
        _ => Some(UnmanagedAction::Ignore),
    };
    u.project_api_keys = action(&mut rng);
    (live, desired)
}

/// Settings singletons (absent or one of a few values) on the organization and every active
/// project but the default one, and project API keys (live: owned by the first member).
fn settings(rng: &mut StdRng, doc: &mut Document, desired: bool) {
    use orgops::kinds::{
        Currency, DataRetention, HostedTools, Interval, ModelPermissions, PermissionMode,
        SpendLimit,
    };
    let limit = |rng: &mut StdRng| SpendLimit {
        amount_cents: rng.random_range(1..4u64) * 100,
        currency: Currency::Usd,
        interval: Interval::Month,
        recipients: match rng.random_range(0..3u8) {
            0 => vec!["Ops@Example.com".to_string()],
            1 => vec!["ops@example.com".to_string(), "cfo@example.com".to_string()],
            _ => Vec::new(),
        },
        subject_prefix: rng.random_bool(0.2).then(|| "[cap]".to_string()),
    };
    let tool = |rng: &mut StdRng| rng.random_bool(0.5).then(|| rng.random_bool(0.5));
    if rng.random_bool(0.5) {
        doc.settings.set("spend_limit", Some(limit(rng)));
    }
    if rng.random_bool(0.3) {
        doc.settings.set(
            "data_retention",
            Some(DataRetention::ModifiedAbuseMonitoring),
        );
    }
    doc.settings.set_list("spend_alerts", &alerts(rng, desired));
    for p in doc
        .projects
        .iter_mut()
        .filter(|p| !p.archived && p.name != DEFAULT_PROJECT_NAME)
    {
        let retention = match rng.random_range(0..4) {
            0 => Some(DataRetention::None),
            1 => Some(DataRetention::ZeroDataRetention),
            2 => Some(DataRetention::OrganizationDefault),
            _ => None,
        };
        p.set("data_retention", retention);
        let spend_limit = rng.random_bool(0.4).then(|| limit(rng));
        p.set("spend_limit", spend_limit);
        let permissions = rng.random_bool(0.4).then(|| ModelPermissions {
            mode: if rng.random_bool(0.5) {
                PermissionMode::AllowList
            } else {
                PermissionMode::DenyList
            },
            models: names(rng, &["gpt-4o".to_string(), "gpt-4o-mini".to_string()], 0.5),
        });
        p.set("model_permissions", permissions);
        let tools = rng.random_bool(0.4).then(|| HostedTools {
            file_search: tool(rng),
            web_search: tool(rng),
            image_generation: tool(rng),
            mcp: tool(rng),
            code_interpreter: tool(rng),
        });
        p.set("hosted_tools", tools);
        let tiers = rng.random_bool(0.4).then(|| {
            use orgops::kinds::service_tiers::{
                AllTiers, DefaultTier, EnabledTiers, OptionalTier, ServiceTiers,
            };
            ServiceTiers {
                default: [None, Some(DefaultTier::Standard), Some(DefaultTier::Fast)]
                    [rng.random_range(0..3)],
                enabled_tiers: match rng.random_range(0..4) {
                    0 => None,
                    1 => Some(EnabledTiers::All(AllTiers::All)),
                    2 => Some(EnabledTiers::Only(Vec::new())),
                    _ => Some(EnabledTiers::Only(
                        [
                            OptionalTier::Flex,
                            OptionalTier::Fast,
                            OptionalTier::Ultrafast,
                        ]
                        .into_iter()
                        .filter(|_| rng.random_bool(0.5))
                        .collect(),
                    )),
                },
            }
        });
        p.set("service_tiers", tiers);
        p.set_list("spend_alerts", &alerts(rng, desired));
        let keys = ["k0", "k1", "k2"].map(String::from);
        if desired {
            p.set_list("api_keys", &list(rng, |rng| names(rng, &keys, 0.5)));
        } else if !p.members.is_empty() {
            p.set_list("api_keys", &names(rng, &keys, 0.5).into());
        }
    }
}

/// Spend alerts of one scope: distinct natural keys (threshold, recipients) from a small pool
/// so live and file overlap; recipients sometimes in another case (compared case-insensitively),
/// a subject prefix sometimes. Live: absent or filled; the file: absent, empty or filled.
fn alerts(rng: &mut StdRng, desired: bool) -> ManagedList<orgops::kinds::SpendAlert> {
    use orgops::kinds::{Currency, Interval, SpendAlert};
    let pool: [(u64, &[&str]); 4] = [
        (0, &["ops@x.example"]),
        (100_000, &["ops@x.example"]),
        (100_000, &["fin@x.example", "ops@x.example"]),
        (2_500_000, &["cfo@x.example"]),
    ];
    let fill = |rng: &mut StdRng| -> Vec<SpendAlert> {
        let mut out = Vec::new();
        for (threshold, recipients) in &pool {
            if !rng.random_bool(0.5) {
                continue;
            }
            let recipients = recipients
                .iter()
                .map(|r| {
                    if desired && rng.random_bool(0.3) {
                        r.to_uppercase()
                    } else {
                        r.to_string()
                    }
                })
                .collect();
            out.push(SpendAlert {
                threshold_cents: *threshold,
                currency: Currency::Usd,
                interval: Interval::Month,
                recipients,
                subject_prefix: rng.random_bool(0.3).then(|| "[ops]".to_string()),
            });
        }
        out
    };
    if desired {
        list(rng, fill)
    } else if rng.random_bool(0.5) {
        fill(rng).into()
    } else {
        ManagedList::default()
    }
}

fn plan_options() -> PlanOptions {
    PlanOptions {
        allow_removals: true,
        ..PlanOptions::default()
    }
}

/// The plan after the minimal read and after reading everything, as JSON.
fn plans_by_scope(seed: u64) -> (String, String) {
    let (live, desired) = scenario(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let state = desired_state(dir.path(), &desired);
    let emulator =
        emulator::start_in_background(live, EmulatorOptions::default()).expect("emulator starts");
    let client = test_client(&emulator);
    runtime().block_on(async {
        let mut out = Vec::new();
        for scope in [ReadScope::for_document(&state.doc), ReadScope::everything()] {
            let live = live::read(&client, &scope, &NoProgress)
                .await
                .expect("live read");
            let plan = plan::plan(&state.doc, &live, &plan_options()).expect("plannable");
            out.push(orgops::render::json::render(&plan));
        }
        (out.remove(0), out.remove(0))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The minimal read is safe: it never changes the plan.
    #[test]
    fn the_minimal_read_plans_exactly_what_a_full_read_plans(seed in any::<u64>()) {
        let (minimal, everything) = plans_by_scope(seed);
        if minimal != everything {
            let diff = similar::TextDiff::from_lines(&everything, &minimal)
                .unified_diff()
                .header("after reading everything", "after the minimal read")
                .to_string();
            prop_assert!(false, "seed {seed}: the scope changed the plan:\n{diff}");
        }
    }
}

/// The declared-empty list of the issue, by hand: 14 live members, `members: []` and
/// `project_members: remove` revoke all 14, whichever scope was read.
#[test]
fn a_declared_empty_member_list_under_remove_revokes_every_live_member() {
    let mut live = Document::default();
    let mut members = Vec::new();
    let mut users = vec![User {
        email: email(0),
        role: OrgRole::Owner,
        roles: ManagedList::default(),
    }];
    for i in 1..=14 {
        users.push(User {
            email: email(i),
            role: OrgRole::Reader,
            roles: ManagedList::default(),
        });
        members.push(ProjectMember {
            email: email(i),
            role: ProjectRole::Member,
            roles: ManagedList::default(),
        });
    }
    live.users = users.into();
    live.projects = vec![Project {
        name: "Search".into(),
        archived: false,
        residency: None,
        external_key_id: None,
        members: members.into(),
        groups: ManagedList::default(),
        roles: ManagedList::default(),
        service_accounts: ManagedList::default(),
        rate_limits: BTreeMap::new(),
        certificates: ManagedList::default(),
        ..Default::default()
    }]
    .into();
    let mut desired = Document::default();
    desired.policy.unmanaged.project_members = UnmanagedAction::Remove;
    desired.policy.max_removals = Some(20);
    desired.projects = vec![Project {
        members: ManagedList::managed(vec![]),
        ..live.projects[0].clone()
    }]
    .into();
    let dir = tempfile::tempdir().expect("tempdir");
    let state = desired_state(dir.path(), &desired);
    let emulator =
        emulator::start_in_background(live, EmulatorOptions::default()).expect("emulator starts");
    let client = test_client(&emulator);
    let plan = runtime().block_on(async {
        let live = live::read(&client, &ReadScope::for_document(&state.doc), &NoProgress)
            .await
            .expect("live read");
        plan::plan(&state.doc, &live, &PlanOptions::default()).expect("plannable")
    });
    let revoked: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.action == plan::Action::Revoke)
        .map(|c| c.key.as_str())
        .collect();
    assert_eq!(revoked.len(), 14, "{revoked:?}");
    assert!(plan.refusals.is_empty());
}

// ------------------------------------------------------------------ the end-state oracle

/// Facts about an organization, one string each, compared as sets: a difference names the
/// exact object and field.
type Facts = BTreeSet<String>;

fn role_list(roles: &BTreeSet<String>) -> String {
    roles.iter().cloned().collect::<Vec<_>>().join(",")
}

/// What the emulator holds, as facts.
fn facts_of(org: &Document) -> Facts {
    let mut f = Facts::new();
    for u in org.users.iter() {
        let e = normalize_email(&u.email);
        f.insert(format!("user:{e} role={}", u.role.as_str()));
        let roles: BTreeSet<String> = u.roles.iter().cloned().collect();
        f.insert(format!("user:{e} roles=[{}]", role_list(&roles)));
    }
    for i in org
        .invites
        .iter()
        .filter(|i| i.status == InviteStatus::Pending)
    {
        let mut projects: Vec<String> = i
            .projects
            .iter()
            .map(|p| format!("{}:{}", p.name, p.role.as_str()))
            .collect();
        projects.sort();
        f.insert(format!(
            "invite:{} role={} projects=[{}]",
            normalize_email(&i.email),
            i.role.as_str(),
            projects.join(",")
        ));
    }
    for r in org.roles.iter() {
        let perms: BTreeSet<String> = r.permissions.iter().cloned().collect();
        f.insert(format!(
            "role:{} permissions=[{}]",
            r.name,
            role_list(&perms)
        ));
    }
    for g in org.groups.iter() {
        f.insert(format!("group:{}", g.name));
        for m in g.members.iter() {
            f.insert(format!("group:{}/member:{}", g.name, normalize_email(m)));
        }
        let roles: BTreeSet<String> = g.roles.iter().cloned().collect();
        f.insert(format!("group:{} roles=[{}]", g.name, role_list(&roles)));
    }
    for k in org.admin_api_keys.iter() {
        f.insert(format!("admin_api_key:{}", k.name));
    }
    for p in org.projects.iter() {
        f.insert(format!("project:{} archived={}", p.name, p.archived));
        if p.archived {
            continue;
        }
        for m in p.members.iter() {
            let roles: BTreeSet<String> = m.roles.iter().cloned().collect();
            f.insert(format!(
                "project:{}/member:{} role={} roles=[{}]",
                p.name,
                normalize_email(&m.email),
                m.role.as_str(),
                role_list(&roles)
            ));
        }
        for g in p.groups.iter() {
            let roles: BTreeSet<String> = g.roles.iter().cloned().collect();
            f.insert(format!(
                "project:{}/group:{} role={} roles=[{}]",
                p.name,
                g.name,
                g.role.as_str(),
                role_list(&roles)
            ));
        }
        for r in p.roles.iter() {
            f.insert(format!("project:{}/role:{}", p.name, r.name));
        }
        for s in p.service_accounts.iter() {
            f.insert(format!(
                "project:{}/service_account:{} role={}",
                p.name,
                s.name,
                s.role.as_str()
            ));
        }
    }
    f
}

/// Declared rate-limit values, checked separately (the state dump writes a rate limit only
/// where it differs from the catalogue default, so undeclared models are not facts).
fn rate_limit_facts(org: &Document, only: &BTreeSet<(String, String)>) -> Facts {
    let mut f = Facts::new();
    for p in org.projects.iter() {
        for (model, limit) in &p.rate_limits {
            if only.contains(&(p.name.clone(), model.clone())) {
                for (field, value) in limit.fields() {
                    if let Some(v) = value {
                        f.insert(format!("project:{}/rate_limit:{model} {field}={v}", p.name));
                    }
                }
            }
        }
    }
    f
}

/// Keep a live extra under `policy`? (`report` and `ignore` keep it, `remove` does not.)
fn keeps(policy: UnmanagedAction) -> bool {
    policy != UnmanagedAction::Remove
}

/// A managed role set: the declared roles plus the live extras the policy keeps; an
/// unmanaged one stays as it was live.
fn role_set(
    declared: Option<&ManagedList<String>>,
    live: &[String],
    policy: UnmanagedAction,
) -> BTreeSet<String> {
    match declared {
        Some(d) if d.is_managed() => {
            let mut out: BTreeSet<String> = d.iter().cloned().collect();
            if keeps(policy) {
                out.extend(live.iter().cloned());
            }
            out
        }
        _ => live.iter().cloned().collect(),
    }
}

/// The organization that must exist after applying `desired` to `live`, written from
/// `docs/configuration.md` ("What a file manages", "Unmanaged objects", "Invites"), without
/// any of `plan/`'s code. `key_in_use` names the admin key the run authenticates with, which
/// is in use, never unmanaged.
fn expected_after(live: &Document, desired: &Document, key_in_use: &str) -> Document {
    let policy = &desired.policy.unmanaged;
    let mut out = Document::default();

    // Custom roles: declared (with declared permissions) plus the extras the policy keeps.
    let mut roles: BTreeMap<String, Role> = BTreeMap::new();
    if desired.roles.is_managed() {
        if keeps(policy.roles) {
            roles.extend(live.roles.iter().map(|r| (r.name.clone(), r.clone())));
        }
        roles.extend(desired.roles.iter().map(|r| (r.name.clone(), r.clone())));
    } else {
        roles.extend(live.roles.iter().map(|r| (r.name.clone(), r.clone())));
    }
    let role_alive = |r: &String| roles.contains_key(r);

    // Members: invites never make members, so membership is the live one minus removals.
    let declared_user = |e: &str| {
        desired
            .users
            .iter()
            .find(|u| normalize_email(&u.email) == e)
    };
    let mut users: BTreeMap<String, User> = BTreeMap::new();
    for u in live.users.iter() {
        let e = normalize_email(&u.email);
        let d = declared_user(&e);
        if desired.users.is_managed() && d.is_none() && !keeps(policy.users) {
            continue;
        }
        let mut user = u.clone();
        if let Some(d) = d {
            user.role = d.role;
        }
        let roles = role_set(d.map(|d| &d.roles), &u.roles, policy.role_assignments);
        user.roles = roles.into_iter().filter(|r| role_alive(r)).collect();
        users.insert(e, user);
    }
    let member = |e: &str| users.contains_key(&normalize_email(e));

    // Projects.
    let declared_project = |n: &str| desired.projects.iter().find(|p| p.name == n);
    let mut projects: BTreeMap<String, Project> = BTreeMap::new();
    for p in live.projects.iter() {
        let mut project = p.clone();
        match declared_project(&p.name) {
            Some(d) if d.archived => project.archived = true,
            Some(_) => {}
            None if desired.projects.is_managed()
                && policy.projects == UnmanagedProjectAction::Archive
                && p.name != DEFAULT_PROJECT_NAME =>
            {
                project.archived = true
            }
            None => {}
        }
        projects.insert(p.name.clone(), project);
    }
    for d in desired.projects.iter() {
        if !projects.contains_key(&d.name) && !d.archived && d.name != DEFAULT_PROJECT_NAME {
            projects.insert(
                d.name.clone(),
                Project {
                    members: ManagedList::default(),
                    groups: ManagedList::default(),
                    roles: ManagedList::default(),
                    service_accounts: ManagedList::default(),
                    rate_limits: BTreeMap::new(),
                    ..d.clone()
                },
            );
        }
    }

    // Groups.
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    if !desired.groups.is_managed() || keeps(policy.groups) {
        groups.extend(live.groups.iter().map(|g| (g.name.clone(), g.clone())));
    }
    for d in desired.groups.iter() {
        let live_group = live.groups.iter().find(|g| g.name == d.name);
        let live_members: Vec<String> = live_group
            .map(|g| g.members.iter().map(|m| normalize_email(m)).collect())
            .unwrap_or_default();
        let live_roles: Vec<String> = live_group.map(|g| g.roles.to_vec()).unwrap_or_default();
        let members = match d.members.is_managed() {
            true => {
                let mut m: BTreeSet<String> =
                    d.members.iter().map(|m| normalize_email(m)).collect();
                if keeps(policy.group_members) {
                    m.extend(live_members);
                }
                m
            }
            false => live_members.into_iter().collect(),
        };
        let roles = role_set(Some(&d.roles), &live_roles, policy.role_assignments);
        groups.insert(
            d.name.clone(),
            Group {
                name: d.name.clone(),
                members: members.into_iter().collect(),
                roles: roles.into_iter().collect(),
            },
        );
    }
    for g in groups.values_mut() {
        g.members.retain(|m| member(m));
        g.roles.retain(|r| role_alive(r));
    }

    // Children of every active project after apply.
    for (name, project) in projects.iter_mut() {
        if project.archived {
            continue;
        }
        let d = declared_project(name).filter(|d| !d.archived);
        let live_p = live.projects.iter().find(|p| &p.name == name);

        // Custom project roles.
        let mut p_roles: BTreeMap<String, Role> = BTreeMap::new();
        let live_roles: Vec<Role> = live_p.map(|p| p.roles.to_vec()).unwrap_or_default();
        match d {
            Some(d) if d.roles.is_managed() => {
                if keeps(policy.project_roles) {
                    p_roles.extend(live_roles.iter().map(|r| (r.name.clone(), r.clone())));
                }
                p_roles.extend(d.roles.iter().map(|r| (r.name.clone(), r.clone())));
            }
            _ => p_roles.extend(live_roles.iter().map(|r| (r.name.clone(), r.clone()))),
        }

        // Members.
        let live_members: Vec<ProjectMember> =
            live_p.map(|p| p.members.to_vec()).unwrap_or_default();
        let mut members: BTreeMap<String, ProjectMember> = BTreeMap::new();
        let managed = d.is_some_and(|d| d.members.is_managed());
        for m in &live_members {
            let e = normalize_email(&m.email);
            let declared =
                d.and_then(|d| d.members.iter().find(|dm| normalize_email(&dm.email) == e));
            if managed && declared.is_none() && !keeps(policy.project_members) {
                continue;
            }
            let mut pm = m.clone();
            pm.email = e.clone();
            if let Some(dm) = declared {
                pm.role = dm.role;
            }
            pm.roles = role_set(
                declared.map(|dm| &dm.roles),
                &m.roles,
                policy.role_assignments,
            )
            .into_iter()
            .collect();
            members.insert(e, pm);
        }
        if let Some(d) = d.filter(|d| d.members.is_managed()) {
            for dm in d.members.iter() {
                let e = normalize_email(&dm.email);
                if !members.contains_key(&e) && member(&e) {
                    members.insert(
                        e.clone(),
                        ProjectMember {
                            email: e,
                            role: dm.role,
                            roles: dm.roles.iter().cloned().collect(),
                        },
                    );
                }
            }
        }
        members.retain(|e, _| member(e));
        for m in members.values_mut() {
            m.roles.retain(|r| p_roles.contains_key(r));
        }

        // Groups with access.
        let live_groups: Vec<ProjectGroup> = live_p.map(|p| p.groups.to_vec()).unwrap_or_default();
        let mut p_groups: BTreeMap<String, ProjectGroup> = BTreeMap::new();
        let managed = d.is_some_and(|d| d.groups.is_managed());
        for g in &live_groups {
            let declared = d.and_then(|d| d.groups.iter().find(|dg| dg.name == g.name));
            if managed && declared.is_none() && !keeps(policy.project_groups) {
                continue;
            }
            let mut pg = g.clone();
            if let Some(dg) = declared {
                pg.role = dg.role;
            }
            pg.roles = role_set(
                declared.map(|dg| &dg.roles),
                &g.roles,
                policy.role_assignments,
            )
            .into_iter()
            .collect();
            p_groups.insert(g.name.clone(), pg);
        }
        if let Some(d) = d.filter(|d| d.groups.is_managed()) {
            for dg in d.groups.iter() {
                p_groups
                    .entry(dg.name.clone())
                    .or_insert_with(|| ProjectGroup {
                        name: dg.name.clone(),
                        role: dg.role,
                        roles: dg.roles.iter().cloned().collect(),
                    });
            }
        }
        p_groups.retain(|g, _| groups.contains_key(g));
        for g in p_groups.values_mut() {
            g.roles.retain(|r| p_roles.contains_key(r));
        }

        // Service accounts.
        let live_accounts: Vec<ServiceAccount> = live_p
            .map(|p| p.service_accounts.to_vec())
            .unwrap_or_default();
        let mut accounts: BTreeMap<String, ServiceAccount> = BTreeMap::new();
        match d {
            Some(d) if d.service_accounts.is_managed() => {
                if keeps(policy.service_accounts) {
                    accounts.extend(live_accounts.iter().map(|s| (s.name.clone(), s.clone())));
                }
                accounts.extend(
                    d.service_accounts
                        .iter()
                        .map(|s| (s.name.clone(), s.clone())),
                );
            }
            _ => accounts.extend(live_accounts.iter().map(|s| (s.name.clone(), s.clone()))),
        }

        project.roles = p_roles.into_values().collect();
        project.members = members.into_values().collect();
        project.groups = p_groups.into_values().collect();
        project.service_accounts = accounts.into_values().collect();
    }

    // Admin API keys.
    let mut keys: BTreeSet<String> = BTreeSet::new();
    if !desired.admin_api_keys.is_managed() || keeps(policy.admin_api_keys) {
        keys.extend(live.admin_api_keys.iter().map(|k| k.name.clone()));
    }
    keys.extend(
        live.admin_api_keys
            .iter()
            .filter(|k| k.name == key_in_use)
            .map(|k| k.name.clone()),
    );
    keys.extend(desired.admin_api_keys.iter().map(|k| k.name.clone()));

    // Invites: the lifecycle of declared users who are not members.
    let mut invites: Vec<Invite> = Vec::new();
    let live_invite = |e: &str| {
        let rank = |i: &Invite| match i.status {
            InviteStatus::Pending => 0,
            InviteStatus::Expired => 1,
            InviteStatus::Accepted => 2,
        };
        live.invites
            .iter()
            .filter(|i| normalize_email(&i.email) == e)
            .min_by_key(|i| rank(i))
    };
    for u in desired.users.iter() {
        let e = normalize_email(&u.email);
        if member(&e) {
            continue;
        }
        let carried: Vec<InviteProject> = desired
            .projects
            .iter()
            .filter(|p| !p.archived && p.name != DEFAULT_PROJECT_NAME)
            .filter(|p| projects.get(&p.name).is_some_and(|lp| !lp.archived))
            .flat_map(|p| {
                p.members
                    .iter()
                    .filter(|m| normalize_email(&m.email) == e)
                    .map(|m| InviteProject {
                        name: p.name.clone(),
                        role: m.role,
                    })
            })
            .collect();
        invites.push(Invite {
            email: e,
            role: u.role,
            status: InviteStatus::Pending,
            projects: carried,
        });
    }
    let declared_emails: BTreeSet<String> = desired
        .users
        .iter()
        .map(|u| normalize_email(&u.email))
        .collect();
    let mut seen = BTreeSet::new();
    for i in live.invites.iter() {
        let e = normalize_email(&i.email);
        if !seen.insert(e.clone()) || (desired.users.is_managed() && declared_emails.contains(&e)) {
            continue;
        }
        let Some(chosen) = live_invite(&e) else {
            continue;
        };
        if chosen.status != InviteStatus::Pending {
            continue;
        }
        if desired.users.is_managed() && !keeps(policy.invites) {
            continue;
        }
        invites.push(chosen.clone());
    }

    out.users = users.into_values().collect();
    out.roles = roles.into_values().collect();
    out.groups = groups.into_values().collect();
    out.projects = projects.into_values().collect();
    out.admin_api_keys = keys
        .into_iter()
        .map(|name| AdminApiKey {
            name,
            expires_in_days: None,
            sink: None,
        })
        .collect();
    out.invites = invites;
    out
}

// ------------------------------------------------------------------ settings, read over /v1

/// One scope's settings as the API answers them (read with plain HTTP GETs, not orgops's
/// live reader): the organization (`None`) or a project.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ScopeSettings {
    retention: String,
    /// Cents; `None`: no limit (the API answers 404).
    spend_limit: Option<u64>,
    /// (mode, models); "not configured" reads as a deny list of nothing (the docs).
    models: (String, BTreeSet<String>),
    tools: BTreeMap<String, bool>,
    /// (threshold cents, recipients lower-cased and sorted) → subject prefix.
    alerts: BTreeMap<(u64, Vec<String>), Option<String>>,
    /// User-owned project API keys: name → owner email (service-account keys go with their
    /// account and are not compared).
    user_keys: BTreeMap<String, String>,
    /// Service tiers: (default, enabled: `all` or the tiers sorted, comma-separated); `None`
    /// for the organization (a project setting).
    tiers: Option<(String, String)>,
}

/// `enabled_tiers` as the API answers it: `all`, or the tiers sorted and comma-separated.
fn enabled_words(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(all) => all.clone(),
        other => {
            let mut tiers: Vec<&str> = other
                .as_array()
                .expect("enabled_tiers")
                .iter()
                .map(|t| t.as_str().expect("tier"))
                .collect();
            tiers.sort_unstable();
            tiers.dedup();
            tiers.join(",")
        }
    }
}

const TOOLS: [&str; 5] = [
    "file_search",
    "web_search",
    "image_generation",
    "mcp",
    "code_interpreter",
];

impl ScopeSettings {
    /// A project the plan creates: every setting at the API's default, as the docs give
    /// them (`organization_default`; no limit; a deny list of nothing; every tool enabled).
    fn new_project() -> ScopeSettings {
        ScopeSettings {
            retention: "organization_default".into(),
            spend_limit: None,
            models: ("deny_list".into(), BTreeSet::new()),
            tools: TOOLS.iter().map(|t| (t.to_string(), true)).collect(),
            alerts: BTreeMap::new(),
            user_keys: BTreeMap::new(),
            tiers: Some(("standard".into(), String::new())),
        }
    }

    fn facts(&self, scope: &str) -> Facts {
        let mut f = Facts::new();
        f.insert(format!("{scope} data_retention={}", self.retention));
        f.insert(format!("{scope} spend_limit={:?}", self.spend_limit));
        f.insert(format!(
            "{scope} model_permissions={} [{}]",
            self.models.0,
            role_list(&self.models.1)
        ));
        for (tool, on) in &self.tools {
            f.insert(format!("{scope} hosted_tools.{tool}={on}"));
        }
        if let Some((default, enabled)) = &self.tiers {
            f.insert(format!("{scope} service_tiers={default} [{enabled}]"));
        }
        for ((threshold, recipients), prefix) in &self.alerts {
            f.insert(format!(
                "{scope} spend_alert:{threshold}/{} subject_prefix={prefix:?}",
                recipients.join(",")
            ));
        }
        for (key, owner) in &self.user_keys {
            f.insert(format!("{scope} api_key:{key} owner={owner}"));
        }
        f
    }
}

/// The emulator and one plain HTTP client for the settings reads of one case (building a
/// client per request costs more than the request; one per case keeps its pool on the case's
/// runtime).
type V1<'a> = (&'a emulator::RunningEmulator, &'a reqwest::Client);

/// `GET` over `/v1` with the emulator's key; `None` on a 404.
async fn v1_get((emulator, http): V1<'_>, path: &str) -> Option<serde_json::Value> {
    let resp = http
        .get(format!("{}{path}", emulator.url()))
        .bearer_auth(emulator.admin_key())
        .send()
        .await
        .expect("request reaches the emulator");
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return None;
    }
    assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
    Some(resp.json().await.expect("JSON"))
}

/// Every item of a list endpoint (100 per page, `after` the last id).
async fn v1_list(emulator: V1<'_>, path: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page_path = match &after {
            Some(a) => format!("{path}{sep}limit=100&after={a}"),
            None => format!("{path}{sep}limit=100"),
        };
        let page = v1_get(emulator, &page_path).await.expect("list");
        let data = page["data"].as_array().cloned().unwrap_or_default();
        after = data.last().and_then(|d| d["id"].as_str()).map(String::from);
        out.extend(data);
        if page["has_more"] != serde_json::Value::Bool(true) || after.is_none() {
            return out;
        }
    }
}

fn alerts_of(list: &[serde_json::Value]) -> BTreeMap<(u64, Vec<String>), Option<String>> {
    list.iter()
        .map(|a| {
            let channel = &a["notification_channel"];
            let mut recipients: Vec<String> = channel["recipients"]
                .as_array()
                .expect("recipients")
                .iter()
                .map(|r| normalize_email(r.as_str().expect("recipient")))
                .collect();
            recipients.sort();
            recipients.dedup();
            (
                (
                    a["threshold_amount"].as_u64().expect("threshold"),
                    recipients,
                ),
                channel["subject_prefix"].as_str().map(String::from),
            )
        })
        .collect()
}

/// The settings of the organization (key `None`) and of every active project, by name.
async fn api_settings(emulator: V1<'_>) -> BTreeMap<Option<String>, ScopeSettings> {
    let mut out = BTreeMap::new();
    let org_retention = v1_get(emulator, "/organization/data_retention")
        .await
        .expect("organization data retention");
    out.insert(
        None,
        ScopeSettings {
            retention: org_retention["type"].as_str().expect("type").into(),
            spend_limit: v1_get(emulator, "/organization/spend_limit")
                .await
                .map(|l| l["threshold_amount"].as_u64().expect("amount")),
            models: ("deny_list".into(), BTreeSet::new()),
            tools: BTreeMap::new(),
            alerts: alerts_of(&v1_list(emulator, "/organization/spend_alerts").await),
            user_keys: BTreeMap::new(),
            tiers: None,
        },
    );
    for project in v1_list(emulator, "/organization/projects").await {
        let name = project["name"].as_str().expect("name").to_string();
        let base = format!(
            "/organization/projects/{}",
            project["id"].as_str().expect("id")
        );
        let get = |what: &str| {
            let path = format!("{base}/{what}");
            async move { v1_get(emulator, &path).await }
        };
        let retention = get("data_retention").await.expect("project data retention");
        let models = get("model_permissions").await.expect("model permissions");
        let tools = get("hosted_tool_permissions").await.expect("hosted tools");
        let tiers = get("service_tier_settings").await.expect("service tiers");
        let keys = v1_list(emulator, &format!("{base}/api_keys")).await;
        out.insert(
            Some(name),
            ScopeSettings {
                retention: retention["type"].as_str().expect("type").into(),
                spend_limit: get("spend_limit")
                    .await
                    .map(|l| l["threshold_amount"].as_u64().expect("amount")),
                models: (
                    models["mode"].as_str().expect("mode").into(),
                    models["model_ids"]
                        .as_array()
                        .expect("model_ids")
                        .iter()
                        .map(|m| m.as_str().expect("model").to_string())
                        .collect(),
                ),
                tools: TOOLS
                    .iter()
                    .map(|t| {
                        let on = tools[*t]["enabled"].as_bool().expect("enabled");
                        (t.to_string(), on)
                    })
                    .collect(),
                tiers: Some((
                    tiers["default"].as_str().expect("default").into(),
                    enabled_words(&tiers["enabled_tiers"]),
                )),
                alerts: alerts_of(&v1_list(emulator, &format!("{base}/spend_alerts")).await),
                user_keys: keys
                    .iter()
                    .filter(|k| k["owner"]["type"] == "user")
                    .map(|k| {
                        (
                            k["name"].as_str().expect("key name").to_string(),
                            normalize_email(k["owner"]["user"]["email"].as_str().expect("email")),
                        )
                    })
                    .collect(),
            },
        );
    }
    out
}

/// A scope's alerts after apply (docs: "Settings", `policy.unmanaged.spend_alerts`): a
/// written list is what must exist (matched by threshold and recipients, the subject prefix
/// updated in place) plus the live extras the policy keeps; a list left out is untouched.
fn expected_alerts(
    before: &BTreeMap<(u64, Vec<String>), Option<String>>,
    declared: &ManagedList<orgops::kinds::SpendAlert>,
    policy: UnmanagedAction,
) -> BTreeMap<(u64, Vec<String>), Option<String>> {
    if !declared.is_managed() {
        return before.clone();
    }
    let mut out = if keeps(policy) {
        before.clone()
    } else {
        BTreeMap::new()
    };
    for a in declared.iter() {
        let mut recipients: Vec<String> = a.recipients.iter().map(|r| normalize_email(r)).collect();
        recipients.sort();
        recipients.dedup();
        out.insert((a.threshold_cents, recipients), a.subject_prefix.clone());
    }
    out
}

/// The settings that must hold after applying `desired`, from the settings read before and
/// `docs/configuration.md` ("Settings", `policy.unmanaged.settings`, `project_api_keys`,
/// `spend_alerts`): a written value is set; a value left out is unset under `settings:
/// remove` where the API has a delete (spend limits, model permissions) and otherwise kept;
/// hosted tools manage only the tools written; projects the file does not declare (or
/// archives) keep everything. A user-owned key goes with its owner when the owner leaves the
/// organization (docs/emulator.md, "Cascades on user removal"): `members` are the emails of
/// the organization after apply, as the oracle expects them.
fn expected_settings(
    before: &BTreeMap<Option<String>, ScopeSettings>,
    desired: &Document,
    members: &BTreeSet<String>,
    after_projects: impl Iterator<Item = Option<String>>,
) -> BTreeMap<Option<String>, ScopeSettings> {
    let policy = &desired.policy.unmanaged;
    let unset = policy.settings == Some(UnmanagedAction::Remove);
    let mut out = BTreeMap::new();
    for scope in after_projects {
        let mut s = before
            .get(&scope)
            .cloned()
            .unwrap_or_else(ScopeSettings::new_project);
        s.user_keys.retain(|_, owner| members.contains(owner));
        match &scope {
            None => {
                let d = &desired.settings;
                if let Some(r) = d.get::<orgops::kinds::DataRetention>("data_retention") {
                    s.retention = r.as_str().to_string();
                }
                match &d.get::<orgops::kinds::SpendLimit>("spend_limit") {
                    Some(l) => s.spend_limit = Some(l.amount_cents),
                    None if unset => s.spend_limit = None,
                    None => {}
                }
                s.alerts = expected_alerts(&s.alerts, &d.list("spend_alerts"), policy.spend_alerts);
            }
            Some(name) => {
                let Some(p) = desired
                    .projects
                    .iter()
                    .find(|p| &p.name == name && !p.archived)
                else {
                    out.insert(scope, s);
                    continue;
                };
                if let Some(r) = p.get::<orgops::kinds::DataRetention>("data_retention") {
                    s.retention = r.as_str().to_string();
                }
                match &p.get::<orgops::kinds::SpendLimit>("spend_limit") {
                    Some(l) => s.spend_limit = Some(l.amount_cents),
                    None if unset => s.spend_limit = None,
                    None => {}
                }
                match &p.get::<orgops::kinds::ModelPermissions>("model_permissions") {
                    Some(m) => {
                        let mode = match m.mode {
                            orgops::kinds::PermissionMode::AllowList => "allow_list",
                            orgops::kinds::PermissionMode::DenyList => "deny_list",
                        };
                        s.models = (mode.into(), m.models.iter().cloned().collect());
                    }
                    None if unset => s.models = ("deny_list".into(), BTreeSet::new()),
                    None => {}
                }
                if let Some(h) = &p.get::<orgops::kinds::HostedTools>("hosted_tools") {
                    for (tool, value) in [
                        ("file_search", h.file_search),
                        ("web_search", h.web_search),
                        ("image_generation", h.image_generation),
                        ("mcp", h.mcp),
                        ("code_interpreter", h.code_interpreter),
                    ] {
                        if let Some(on) = value {
                            s.tools.insert(tool.to_string(), on);
                        }
                    }
                }
                // Service tiers: the fields written are set; no delete, so nothing unsets.
                if let (Some(t), Some((default, enabled))) = (
                    p.get::<orgops::kinds::service_tiers::ServiceTiers>("service_tiers"),
                    &mut s.tiers,
                ) {
                    if let Some(d) = t.default {
                        *default = serde_json::to_value(d)
                            .expect("tier")
                            .as_str()
                            .expect("tier")
                            .into();
                    }
                    if let Some(e) = &t.enabled_tiers {
                        *enabled = enabled_words(&serde_json::to_value(e).expect("tiers"));
                    }
                }
                s.alerts = expected_alerts(&s.alerts, &p.list("spend_alerts"), policy.spend_alerts);
                let api_keys = p.list::<String>("api_keys");
                if api_keys.is_managed() && !keeps(policy.project_api_keys) {
                    let keep: BTreeSet<&String> = api_keys.iter().collect();
                    s.user_keys.retain(|k, _| keep.contains(k));
                }
            }
        }
        out.insert(scope, s);
    }
    out
}

fn settings_facts(settings: &BTreeMap<Option<String>, ScopeSettings>) -> Facts {
    settings
        .iter()
        .flat_map(|(scope, s)| {
            let name = match scope {
                None => "settings".to_string(),
                Some(p) => format!("project:{p}"),
            };
            s.facts(&name)
        })
        .collect()
}

/// Applies one scenario and compares the emulator's whole state with the oracle.
fn end_state_matches_the_oracle(seed: u64) -> Result<(), TestCaseError> {
    let (live, desired) = scenario(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let state = desired_state(dir.path(), &desired);
    let emulator = emulator::start_in_background(live.clone(), EmulatorOptions::default())
        .expect("emulator starts");
    let client = test_client(&emulator);
    let rt = runtime();
    let before = rt.block_on(emulator_state(emulator.base_url()));
    let http = reqwest::Client::new();
    let settings_before = rt.block_on(api_settings((&emulator, &http)));
    let report = rt.block_on(crate::apply::apply(&client, &state)).1;
    prop_assert!(
        report.all_succeeded(),
        "seed {seed}: apply failed: {:?}",
        crate::apply::failures(&report)
    );
    let after = rt.block_on(emulator_state(emulator.base_url()));
    let settings_after = rt.block_on(api_settings((&emulator, &http)));
    // The seed as the emulator holds it (the default project, the key in use) is the live
    // side the oracle starts from.
    // The emulator's only admin key (EmulatorOptions::default()) is the one the run uses.
    let expected = expected_after(&before, &desired, "orgops emulator key");
    let members: BTreeSet<String> = expected
        .users
        .iter()
        .map(|u| normalize_email(&u.email))
        .collect();
    let settings_expected = expected_settings(
        &settings_before,
        &desired,
        &members,
        settings_after.keys().cloned(),
    );
    let declared_limits: BTreeSet<(String, String)> = desired
        .projects
        .iter()
        .filter(|p| !p.archived)
        .flat_map(|p| p.rate_limits.keys().map(|m| (p.name.clone(), m.clone())))
        .collect();
    let (want, got) = (
        facts_of(&expected)
            .union(&rate_limit_facts(&desired, &declared_limits))
            .cloned()
            .chain(settings_facts(&settings_expected))
            .collect::<Facts>(),
        facts_of(&after)
            .union(&rate_limit_facts(&after, &declared_limits))
            .cloned()
            .chain(settings_facts(&settings_after))
            .collect::<Facts>(),
    );
    let missing: Vec<&String> = want.difference(&got).collect();
    let unexpected: Vec<&String> = got.difference(&want).collect();
    prop_assert!(
        missing.is_empty() && unexpected.is_empty(),
        "seed {seed}: the organization after apply is not the one the docs promise\n\
         missing: {missing:#?}\nunexpected: {unexpected:#?}\ndesired:\n{}",
        crate::apply::yaml(&desired)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// After apply, the organization is the one an independent reading of the docs says.
    #[test]
    fn after_apply_the_organization_is_what_the_docs_promise(seed in any::<u64>()) {
        end_state_matches_the_oracle(seed)?;
    }
}

// ------------------------------------------------------------------ the rule, as a user runs it

/// A live org whose project `Search` has 14 members besides its owner.
fn fourteen_members_live() -> String {
    let mut live = String::from("version: 1\nusers:\n  - {email: u0@x.example, role: owner}\n");
    for i in 1..=14 {
        live.push_str(&format!("  - {{email: u{i}@x.example, role: reader}}\n"));
    }
    live.push_str("projects:\n  - name: Search\n    members:\n");
    for i in 1..=14 {
        live.push_str(&format!(
            "      - {{email: u{i}@x.example, role: member}}\n"
        ));
    }
    live
}

/// `orgops plan` on a declared-empty member list under `remove` plans the 14 revocations, and
/// `max_removals` refuses them (exit 3) until raised.
#[test]
fn plan_revokes_a_declared_empty_member_list_and_max_removals_gates_it() {
    use crate::support::cli::{orgops, run};
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("live.yaml"), fourteen_members_live()).expect("live");
    let desired = "version: 1\npolicy:\n  unmanaged:\n    project_members: remove\nprojects:\n  - name: Search\n    members: []\n";
    std::fs::write(dir.path().join("orgops.yaml"), desired).expect("desired");
    let plan = |extra: &[&str]| {
        run(orgops()
            .current_dir(dir.path())
            .args(["plan", "-f", "orgops.yaml", "--emulator", "live.yaml"])
            .args(extra))
    };
    let refused = plan(&[]);
    assert_eq!(refused.code, 3, "{}\n{}", refused.stdout, refused.stderr);
    let shown = format!("{}{}", refused.stdout, refused.stderr);
    assert!(shown.contains("removes 14"), "{shown}");
    let allowed = plan(&["--max-removals", "14", "--format", "json"]);
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    let json: serde_json::Value = serde_json::from_str(&allowed.stdout).expect("json");
    let revokes = json["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] == "revoke" && c["kind"] == "project_member")
        .count();
    assert_eq!(revokes, 14, "{}", allowed.stdout);

    // Left out, the list is not managed: nothing read, nothing planned or reported.
    std::fs::write(
        dir.path().join("orgops.yaml"),
        "version: 1\npolicy:\n  unmanaged:\n    project_members: remove\nprojects:\n  - name: Search\n",
    )
    .expect("desired");
    let absent = plan(&["--detailed-exitcode"]);
    assert_eq!(absent.code, 0, "{}\n{}", absent.stdout, absent.stderr);
}

/// A `remove` for a kind the file never writes can never act: validate says where.
#[test]
fn validate_warns_of_a_policy_that_can_never_act() {
    use crate::support::cli::{orgops, run};
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("orgops.yaml"),
        "version: 1\npolicy:\n  unmanaged:\n    project_members: remove\n    groups: remove\nprojects:\n  - name: Search\n    members: []\n",
    )
    .expect("desired");
    let out = run(orgops()
        .current_dir(dir.path())
        .args(["validate", "-f", "orgops.yaml"]));
    assert_eq!(out.code, 0, "warnings do not fail: {}", out.stderr);
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(
        shown.contains("orgops.yaml:5:13: warning: policy.unmanaged.groups can never act"),
        "{shown}"
    );
    assert!(!shown.contains("project_members can never act"), "{shown}");
}

/// Every kind's policy is checked, from the kinds (the hand-kept list missed spend alerts):
/// a `remove` for spend alerts with no `spend_alerts` list anywhere can never act.
#[test]
fn validate_warns_of_every_kinds_policy_that_can_never_act() {
    use crate::support::cli::{orgops, run};
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("orgops.yaml"),
        "version: 1\npolicy:\n  unmanaged:\n    spend_alerts: remove\n    project_api_keys: remove\nprojects:\n  - name: Search\n    api_keys: []\n",
    )
    .expect("desired");
    let out = run(orgops()
        .current_dir(dir.path())
        .args(["validate", "-f", "orgops.yaml"]));
    assert_eq!(out.code, 0, "warnings do not fail: {}", out.stderr);
    let shown = format!("{}{}", out.stdout, out.stderr);
    assert!(
        shown.contains("orgops.yaml:4:19: warning: policy.unmanaged.spend_alerts can never act"),
        "{shown}"
    );
    assert!(!shown.contains("project_api_keys can never act"), "{shown}");
}
