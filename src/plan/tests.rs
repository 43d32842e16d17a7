//! Planner tests: every verb and policy, each safety gate, the invite lifecycle, alias
//! normalisation, ordering, determinism, convergence (through `simulate`), the saved plan,
//! and snapshots of the three renderings of one rich example. Property tests at the end.

use serde_json::{Value, json};

use super::saved::{self, OrgIdentity, StaleReason};
use super::simulate::simulate;
use super::*;
use crate::live::{IdIndex, LiveState};
use crate::model::Document;
use crate::render;

fn doc(value: Value) -> Document {
    serde_json::from_value(value).expect("test document is valid")
}

fn live(value: Value) -> LiveState {
    LiveState {
        org: doc(value),
        ..LiveState::default()
    }
}

fn run(desired: &Document, live: &LiveState) -> Plan {
    plan(desired, live, &PlanOptions::default()).expect("plan orders")
}

fn actions(plan: &Plan) -> Vec<(Action, &str)> {
    plan.changes
        .iter()
        .map(|c| (c.action, c.key.as_str()))
        .collect()
}

fn rules(plan: &Plan) -> Vec<RefusalRule> {
    plan.refusals.iter().map(|r| r.rule).collect()
}

fn position(plan: &Plan, id: &str) -> usize {
    plan.changes
        .iter()
        .position(|c| c.id.0 == id)
        .unwrap_or_else(|| panic!("no change {id} in {:#?}", actions(plan)))
}

/// Plan, apply in the simulator, plan again: nothing left to do.
fn assert_converges(desired: &Document, before: &LiveState) {
    let first = plan(
        desired,
        before,
        &PlanOptions {
            allow_removals: true,
            ..Default::default()
        },
    )
    .expect("plan");
    let after = simulate(before, &first);
    let second = plan(
        desired,
        &after,
        &PlanOptions {
            allow_removals: true,
            ..Default::default()
        },
    )
    .expect("plan");
    assert!(
        second.changes.is_empty(),
        "second plan not empty: {:#?}",
        actions(&second)
    );
}

// ---------------------------------------------------------------- the rich example

fn rich_desired() -> Document {
    doc(json!({
        "policy": {
            "unmanaged": { "users": "report", "invites": "remove", "project_members": "remove",
                           "groups": "remove", "certificates": "remove", "projects": "archive" },
            "protect": { "users": ["root@acme.example"] },
            "min_owners": 1
        },
        "users": [
            { "email": "root@acme.example", "role": "owner" },
            { "email": "Alice@Acme.example", "role": "owner", "roles": ["billing-viewer"] },
            { "email": "bob@acme.example", "role": "reader" },
            { "email": "carol@acme.example", "role": "reader", "roles": ["billing-viewer"] },
            { "email": "dan@acme.example", "role": "reader" },
            { "email": "erin@acme.example", "role": "owner" }
        ],
        "groups": [{ "name": "ml-platform", "members": ["alice@acme.example", "bob@acme.example", "carol@acme.example"],
                     "roles": ["billing-viewer"] }],
        "roles": [{ "name": "billing-viewer", "permissions": ["api.organization.costs.read", "api.organization.usage.read"],
                    "description": "Sees costs" }],
        "certificates": [{ "name": "acme-mtls-2027", "file": "certs/acme-2027.pem", "active": true }],
        "projects": [
            { "name": "Search",
              "members": [{ "email": "bob@acme.example", "role": "owner" },
                          { "email": "carol@acme.example", "role": "member", "roles": ["Reviewer"] }],
              "groups": [{ "name": "ml-platform", "role": "owner" }],
              "roles": [{ "name": "Reviewer", "permissions": ["api.model.read"] }],
              "service_accounts": [{ "name": "ci", "role": "member", "sink": { "file": "ci.key" } }],
              "rate_limits": { "gpt-4o": { "max_requests_per_1_minute": 800 } },
              "certificates": ["acme-mtls-2027"] },
            { "name": "Labs", "members": [{ "email": "alice@acme.example", "role": "owner" }],
              "rate_limits": { "gpt-4o-mini": { "max_tokens_per_1_minute": 100000 } } },
            { "name": "Legacy", "archived": true }
        ]
    }))
}

fn rich_live() -> LiveState {
    let mut state = live(json!({
        "users": [
            { "email": "root@acme.example", "role": "owner" },
            { "email": "alice@acme.example", "role": "owner", "roles": ["role_billing"] },
            { "email": "bob@acme.example", "role": "owner" },
            { "email": "erin@acme.example", "role": "reader" },
            { "email": "mallory@acme.example", "role": "reader" }
        ],
        "invites": [
            { "email": "dan@acme.example", "role": "reader", "status": "expired" },
            { "email": "stale@acme.example", "role": "reader", "status": "pending" },
            { "email": "old@acme.example", "role": "reader", "status": "accepted" }
        ],
        "groups": [
            { "name": "ml-platform", "members": ["alice@acme.example", "mallory@acme.example"] },
            { "name": "interns" }
        ],
        "roles": [{ "name": "billing-viewer", "permissions": ["api.organization.costs.read"] }],
        "certificates": [{ "name": "acme-mtls-2024", "file": "", "active": true }],
        "projects": [
            { "name": "Default project" },
            { "name": "Search",
              "members": [{ "email": "bob@acme.example", "role": "member", "roles": ["role-api-project-member"] },
                          { "email": "mallory@acme.example", "role": "member" }],
              "groups": [{ "name": "ml-platform", "role": "member" }],
              // Every project has a row per model the organization can use.
              "rate_limits": { "gpt-4o": { "max_requests_per_1_minute": 500, "max_tokens_per_1_minute": 30000 },
                               "gpt-4o-mini": { "max_tokens_per_1_minute": 150000 } },
              "certificates": ["acme-mtls-2024"] },
            { "name": "Legacy" },
            { "name": "Sandbox" },
            { "name": "Old", "archived": true }
        ]
    }));
    state.ids.set(
        crate::kinds::keys::refs::role("billing-viewer"),
        "role_billing".into(),
    );
    state.default_project = Some("Default project".into());
    state.key_owner = Some("ROOT@acme.example".into());
    state
}

#[test]
fn rich_example_shows_every_verb_in_a_valid_order() {
    let p = run(&rich_desired(), &rich_live());
    let seen: std::collections::BTreeSet<Action> = p.changes.iter().map(|c| c.action).collect();
    for action in [
        Action::Create,
        Action::Invite,
        Action::Reinvite,
        Action::Grant,
        Action::Activate,
        Action::Adopt,
        Action::Update,
        Action::Revoke,
        Action::Deactivate,
        Action::Delete,
        Action::Archive,
    ] {
        assert!(seen.contains(&action), "no {action} in {:#?}", actions(&p));
    }
    assert!(!p.is_refused(), "{:#?}", p.refusals);
    // Reported, not changed: the undeclared member mallory and her group membership.
    assert_eq!(
        p.unmanaged
            .iter()
            .map(|u| u.key.as_str())
            .collect::<Vec<_>>(),
        vec![
            "user:mallory@acme.example",
            "group:ml-platform/member:mallory@acme.example"
        ]
    );
    // Invited carol's project membership rides on the invite, not as a separate grant.
    let invite = p
        .changes
        .iter()
        .find(|c| c.key == "invite:carol@acme.example")
        .expect("carol invited");
    assert_eq!(
        invite.after.as_ref().expect("after")["projects"],
        json!([{ "name": "Search", "role": "member" }])
    );
    assert!(
        p.changes
            .iter()
            .all(|c| c.key != "project:Search/member:carol@acme.example")
    );
    assert_order_is_valid(&p);
    assert_converges(&rich_desired(), &rich_live());
}

#[test]
fn rich_example_renderings() {
    let p = run(&rich_desired(), &rich_live());
    insta::assert_snapshot!("rich_text", render::text::render(&p, false));
    insta::assert_snapshot!("rich_markdown", render::markdown::render(&p));
    insta::assert_snapshot!("rich_json", render::json::render(&p));
}

#[test]
fn colour_only_when_asked() {
    let p = run(&rich_desired(), &rich_live());
    assert!(!render::text::render(&p, false).contains('\x1b'));
    assert!(render::text::render(&p, true).contains("\x1b[32m+ create"));
}

// ---------------------------------------------------------------- ordering

/// Every dependency appears earlier; removals of a parent come after its children's.
fn assert_order_is_valid(p: &Plan) {
    let at: std::collections::BTreeMap<&ChangeId, usize> = p
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.id, i))
        .collect();
    for (i, c) in p.changes.iter().enumerate() {
        for d in &c.depends_on {
            let j = at
                .get(d)
                .unwrap_or_else(|| panic!("{} depends on missing {d}", c.id));
            assert!(*j < i, "{} runs before its dependency {d}", c.id);
        }
    }
    for (i, parent) in p
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| c.action.is_removal())
    {
        for (j, child) in p.changes.iter().enumerate() {
            if child.key.starts_with(&format!("{}/", parent.key)) {
                assert!(
                    j < i,
                    "{} removed before its child change {}",
                    parent.id,
                    child.id
                );
            }
        }
    }
}

#[test]
fn grant_comes_before_the_revocation_it_replaces() {
    let desired = doc(json!({
        "policy": { "unmanaged": { "role_assignments": "remove" } },
        "users": [{ "email": "a@x.example", "role": "reader", "roles": ["new-role"] }],
        "roles": [{ "name": "new-role", "permissions": [] }, { "name": "old-role", "permissions": [] }]
    }));
    let state = live(json!({
        "users": [{ "email": "a@x.example", "role": "reader", "roles": ["old-role"] }],
        "roles": [{ "name": "new-role", "permissions": [] }, { "name": "old-role", "permissions": [] }]
    }));
    let p = run(&desired, &state);
    let grant = position(&p, "user_role:grant:user:a@x.example/role:new-role");
    let revoke = position(&p, "user_role:revoke:user:a@x.example/role:old-role");
    assert!(grant < revoke);
    assert!(p.changes[revoke].depends_on.contains(&p.changes[grant].id));
    assert_converges(&desired, &state);
}

#[test]
fn certificate_is_deactivated_everywhere_before_deletion_and_uploaded_before_activation() {
    let desired = doc(json!({
        "policy": { "unmanaged": { "certificates": "remove" } },
        "certificates": [{ "name": "new", "file": "new.pem", "active": true }],
        "projects": [{ "name": "P", "certificates": ["new"] }]
    }));
    let state = live(json!({
        "certificates": [{ "name": "old", "file": "", "active": true }],
        "projects": [{ "name": "P", "certificates": ["old"] }, { "name": "Undeclared", "certificates": ["old"] }]
    }));
    let mut state = state;
    state.org.policy = Default::default();
    let p = run(&desired, &state);
    let delete = position(&p, "certificate:delete:certificate:old");
    for id in [
        "certificate_activation:deactivate:certificate:old/scope:organization",
        "certificate_activation:deactivate:project:P/certificate:old",
        "certificate_activation:deactivate:project:Undeclared/certificate:old",
    ] {
        assert!(position(&p, id) < delete, "{id} after delete");
    }
    let upload = position(&p, "certificate:create:certificate:new");
    assert!(
        upload
            < position(
                &p,
                "certificate_activation:activate:certificate:new/scope:organization"
            )
    );
    assert!(
        upload
            < position(
                &p,
                "certificate_activation:activate:project:P/certificate:new"
            )
    );
    assert_converges(&desired, &state);
}

#[test]
fn a_project_declared_archived_is_archived_without_touching_its_children() {
    // Archiving ends every access at once; its children are not managed (the read scope
    // never lists them), whatever lists and policies the file writes.
    let desired = doc(json!({
        "policy": { "unmanaged": { "project_members": "remove", "service_accounts": "remove" } },
        "users": [{ "email": "a@x.example", "role": "owner" }],
        "projects": [{ "name": "Old", "archived": true, "members": [], "service_accounts": [] }]
    }));
    let state = live(json!({
        "users": [{ "email": "a@x.example", "role": "owner" }],
        "projects": [{ "name": "Old", "members": [{ "email": "a@x.example", "role": "owner" }],
                       "service_accounts": [{ "name": "bot", "role": "member" }] }]
    }));
    let p = run(&desired, &state);
    assert_eq!(actions(&p), vec![(Action::Archive, "project:Old")]);
    assert!(p.unmanaged.is_empty());
}

#[test]
fn demotion_waits_for_promotion() {
    let desired = doc(json!({ "users": [
        { "email": "a@x.example", "role": "reader" }, { "email": "b@x.example", "role": "owner" } ] }));
    let state = live(json!({ "users": [
        { "email": "a@x.example", "role": "owner" }, { "email": "b@x.example", "role": "reader" } ] }));
    let p = run(&desired, &state);
    assert!(!p.is_refused(), "one owner all along: {:?}", p.refusals);
    assert!(
        position(&p, "user:update:user:b@x.example") < position(&p, "user:update:user:a@x.example")
    );
}

// ---------------------------------------------------------------- invites

fn one_user(role: &str) -> Document {
    doc(
        json!({ "users": [{ "email": "new@x.example", "role": role }],
                "projects": [{ "name": "P", "members": [{ "email": "new@x.example", "role": "member" }] }] }),
    )
}

fn with_invite(status: &str, role: &str, projects: Value) -> LiveState {
    live(json!({ "projects": [{ "name": "P" }],
                 "invites": [{ "email": "NEW@x.example", "role": role, "status": status, "projects": projects }] }))
}

#[test]
fn missing_member_is_invited_with_project_memberships() {
    let p = run(
        &one_user("reader"),
        &live(json!({ "projects": [{ "name": "P" }] })),
    );
    assert_eq!(actions(&p), vec![(Action::Invite, "invite:new@x.example")]);
    assert_eq!(
        p.changes[0].op,
        Operation::from(crate::kinds::invite::Op::SendInvite {
            email: "new@x.example".into(),
            role: crate::model::OrgRole::Reader,
            projects: vec![crate::model::InviteProject {
                name: "P".into(),
                role: crate::model::ProjectRole::Member
            }],
        })
    );
}

#[test]
fn invite_to_a_new_project_waits_for_the_project() {
    let p = run(&one_user("reader"), &LiveState::default());
    assert_eq!(
        actions(&p),
        vec![
            (Action::Create, "project:P"),
            (Action::Invite, "invite:new@x.example")
        ]
    );
    assert_eq!(p.changes[1].depends_on, vec![p.changes[0].id.clone()]);
}

#[test]
fn matching_pending_invite_is_satisfied() {
    let state = with_invite(
        "pending",
        "reader",
        json!([{ "name": "P", "role": "member" }]),
    );
    assert!(run(&one_user("reader"), &state).is_empty());
}

#[test]
fn expired_invite_is_sent_again() {
    let state = with_invite(
        "expired",
        "reader",
        json!([{ "name": "P", "role": "member" }]),
    );
    let p = run(&one_user("reader"), &state);
    assert_eq!(
        actions(&p),
        vec![(Action::Reinvite, "invite:new@x.example")]
    );
    assert!(!p.changes[0].destructive);
    assert_converges(&one_user("reader"), &state);
}

#[test]
fn mismatched_invite_is_replaced() {
    for state in [
        with_invite(
            "pending",
            "owner",
            json!([{ "name": "P", "role": "member" }]),
        ),
        with_invite("pending", "reader", json!([])),
    ] {
        let p = run(&one_user("reader"), &state);
        assert_eq!(actions(&p), vec![(Action::Replace, "invite:new@x.example")]);
        assert!(p.changes[0].destructive);
        assert!(!p.changes[0].fields.is_empty());
        assert_converges(&one_user("reader"), &state);
    }
}

#[test]
fn accepted_invites_are_never_deleted() {
    let desired = doc(json!({ "policy": { "unmanaged": { "invites": "remove" } } }));
    let state = live(
        json!({ "invites": [{ "email": "gone@x.example", "role": "reader", "status": "accepted" }] }),
    );
    let p = run(&desired, &state);
    assert!(p.is_empty() && p.unmanaged.is_empty());
}

#[test]
fn unmanaged_invites_follow_policy() {
    let state = live(
        json!({ "invites": [{ "email": "who@x.example", "role": "reader", "status": "pending" }] }),
    );
    // Invites are managed with `users`: a file that writes no `users` list reports none.
    assert!(run(&Document::default(), &state).unmanaged.is_empty());
    let report = run(&doc(json!({ "users": [] })), &state);
    assert!(report.is_empty());
    assert_eq!(report.unmanaged[0].key, "invite:who@x.example");
    let remove = run(
        &doc(json!({ "policy": { "unmanaged": { "invites": "remove" } }, "users": [] })),
        &state,
    );
    assert_eq!(
        actions(&remove),
        vec![(Action::Delete, "invite:who@x.example")]
    );
    let ignore = run(
        &doc(json!({ "policy": { "unmanaged": { "invites": "ignore" } }, "users": [] })),
        &state,
    );
    assert!(ignore.is_empty() && ignore.unmanaged.is_empty());
}

#[test]
fn invited_users_group_memberships_and_roles_wait_for_acceptance() {
    let desired = doc(json!({
        "users": [{ "email": "new@x.example", "role": "reader", "roles": ["r"] }],
        "roles": [{ "name": "r", "permissions": [] }],
        "groups": [{ "name": "g", "members": ["new@x.example"] }]
    }));
    let state =
        live(json!({ "roles": [{ "name": "r", "permissions": [] }], "groups": [{ "name": "g" }] }));
    let p = run(&desired, &state);
    assert_eq!(actions(&p), vec![(Action::Invite, "invite:new@x.example")]);
    assert_eq!(
        p.changes[0].after.as_ref().expect("after")["deferred"],
        json!(["group:g/member:new@x.example", "user:new@x.example/role:r"])
    );
    assert_converges(&desired, &state);
}

// ---------------------------------------------------------------- normalisation

#[test]
fn aliases_ids_and_email_case_give_no_change() {
    let desired = doc(json!({
        "users": [{ "email": "Bob@X.example", "role": "reader", "roles": ["viewer"] }],
        "roles": [{ "name": "viewer", "permissions": ["b", "a"], "description": "" }],
        "projects": [{ "name": "P",
            "members": [{ "email": "BOB@x.example", "role": "member", "roles": ["Reviewer"] }],
            "roles": [{ "name": "Reviewer", "permissions": ["x"] }],
            "groups": [{ "name": "g", "role": "owner" }] }],
        "groups": [{ "name": "g", "members": ["bob@X.EXAMPLE"] }]
    }));
    let mut state = live(json!({
        "users": [{ "email": "bob@x.example", "role": "reader", "roles": ["role_viewer_id", "reader"] }],
        "roles": [{ "name": "viewer", "permissions": ["a", "b", "a"] }],
        "projects": [{ "name": "P",
            "members": [{ "email": "bob@x.example", "role": "member", "roles": ["role-api-project-member", "role_rev_id"] }],
            "roles": [{ "name": "Reviewer", "permissions": ["x"] }],
            "groups": [{ "name": "g", "role": "owner", "roles": ["role-api-project-owner"] }] }],
        "groups": [{ "name": "g", "members": ["Bob@x.example"] }]
    }));
    state.ids.set(
        crate::kinds::keys::refs::role("viewer"),
        "role_viewer_id".into(),
    );
    state.ids.set(
        crate::kinds::keys::refs::project_role("P", "Reviewer"),
        "role_rev_id".into(),
    );
    let p = run(&desired, &state);
    assert!(p.is_empty(), "{:#?}", actions(&p));
    assert!(p.unmanaged.is_empty(), "{:#?}", p.unmanaged);
}

// ---------------------------------------------------------------- rate limits

#[test]
fn rate_limits_manage_only_given_fields_and_use_honest_verbs() {
    let desired = doc(json!({ "projects": [{ "name": "P",
        "rate_limits": { "m": { "max_requests_per_1_minute": 10 } } }] }));
    let state = live(json!({ "projects": [{ "name": "P",
        "rate_limits": { "m": { "max_requests_per_1_minute": 5, "max_tokens_per_1_minute": 99 },
                         "other": { "max_requests_per_1_minute": 1 } } }] }));
    let p = run(&desired, &state);
    assert_eq!(
        actions(&p),
        vec![(Action::Update, "project:P/rate_limit:m")]
    );
    let c = &p.changes[0];
    assert_eq!(c.before, Some(json!({ "max_requests_per_1_minute": 5 })));
    assert_eq!(c.fields.len(), 1);
    match c.op.decode::<crate::kinds::rate_limit::Op>() {
        Ok(crate::kinds::rate_limit::Op::UpdateRateLimit { fields, .. }) => {
            assert_eq!(
                fields.keys().collect::<Vec<_>>(),
                vec!["max_requests_per_1_minute"]
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    // Not managed before (baseline without it): adopt.
    let baseline = doc(json!({ "projects": [{ "name": "P" }] }));
    let adopt = plan(
        &desired,
        &state,
        &PlanOptions {
            baseline: Some(baseline),
            ..Default::default()
        },
    )
    .expect("plan");
    assert_eq!(
        actions(&adopt),
        vec![(Action::Adopt, "project:P/rate_limit:m")]
    );
    // Already equal: nothing.
    let same = live(
        json!({ "projects": [{ "name": "P", "rate_limits": { "m": { "max_requests_per_1_minute": 10 } } }] }),
    );
    assert!(run(&desired, &same).is_empty());
    // New project: adopted once the project exists.
    let new = run(&desired, &LiveState::default());
    assert_eq!(
        actions(&new),
        vec![
            (Action::Create, "project:P"),
            (Action::Adopt, "project:P/rate_limit:m")
        ]
    );
}

#[test]
fn rate_limit_for_an_unknown_model_is_refused() {
    let desired = doc(
        json!({ "projects": [{ "name": "P", "rate_limits": { "nope": { "max_requests_per_1_minute": 1 } } }] }),
    );
    let p = run(&desired, &live(json!({ "projects": [{ "name": "P" }] })));
    assert_eq!(rules(&p), vec![RefusalRule::UnknownRateLimit]);
    assert_eq!(
        p.refusals[0].objects,
        vec!["project:P/rate_limit:nope".to_string()]
    );
}

/// Issue 23 item 2: a project the plan creates gets the rate-limit rows every project has; a
/// model no live project lists would fail at apply after the project is created, so the
/// plan refuses it whole (the live projects' lists are what is known).
#[test]
fn rate_limit_for_an_unknown_model_of_a_created_project_is_refused() {
    let desired = doc(
        json!({ "projects": [{ "name": "P", "rate_limits": { "nope": { "max_requests_per_1_minute": 1 } } }] }),
    );
    let known = live(
        json!({ "projects": [{ "name": "Default project", "rate_limits": { "m": { "max_requests_per_1_minute": 10 } } }] }),
    );
    let p = run(&desired, &known);
    assert_eq!(rules(&p), vec![RefusalRule::UnknownRateLimit]);
    assert_eq!(
        p.refusals[0].objects,
        vec!["project:P/rate_limit:nope".to_string()]
    );
    // A model some project lists is fine.
    let desired = doc(
        json!({ "projects": [{ "name": "P", "rate_limits": { "m": { "max_requests_per_1_minute": 1 } } }] }),
    );
    assert!(run(&desired, &known).refusals.is_empty());
}

// ---------------------------------------------------------------- unmanaged policies

#[test]
fn unmanaged_users_report_remove_ignore() {
    let state = live(
        json!({ "users": [{ "email": "a@x.example", "role": "owner" },
                                       { "email": "b@x.example", "role": "reader" }] }),
    );
    let base = json!({ "users": [{ "email": "a@x.example", "role": "owner" }] });
    let with = |policy: &str| {
        let mut d = base.clone();
        d["policy"] = json!({ "unmanaged": { "users": policy } });
        run(&doc(d), &state)
    };
    let report = with("report");
    assert!(report.is_empty());
    assert_eq!(report.unmanaged[0].key, "user:b@x.example");
    assert_eq!(
        actions(&with("remove")),
        vec![(Action::Remove, "user:b@x.example")]
    );
    let ignore = with("ignore");
    assert!(ignore.is_empty() && ignore.unmanaged.is_empty());
}

#[test]
fn unmanaged_children_of_declared_parents_follow_their_kind_policy() {
    let desired = doc(json!({
        "policy": { "unmanaged": { "project_members": "remove", "project_groups": "remove", "project_roles": "remove",
                                   "service_accounts": "remove", "group_members": "remove", "role_assignments": "remove",
                                   "roles": "remove", "admin_api_keys": "remove", "groups": "remove" },
                    "max_removals": 100 },
        "users": [{ "email": "a@x.example", "role": "owner", "roles": [] }],
        "roles": [],
        "admin_api_keys": [],
        "groups": [{ "name": "g", "members": [], "roles": [] }],
        "projects": [{ "name": "P", "members": [], "groups": [], "roles": [], "service_accounts": [] }]
    }));
    let state = live(json!({
        "users": [{ "email": "a@x.example", "role": "owner", "roles": ["r"] }],
        "roles": [{ "name": "r", "permissions": [] }],
        "groups": [{ "name": "g", "members": ["a@x.example"], "roles": ["r"] }, { "name": "h" }],
        "admin_api_keys": [{ "name": "k" }],
        "projects": [{ "name": "P", "members": [{ "email": "a@x.example", "role": "owner" }],
                       "groups": [{ "name": "h", "role": "member" }], "roles": [{ "name": "pr", "permissions": [] }],
                       "service_accounts": [{ "name": "s", "role": "member" }] }]
    }));
    let p = run(&desired, &state);
    let mut got: Vec<(Action, &str)> = actions(&p);
    got.sort();
    assert_eq!(
        got,
        vec![
            (Action::Revoke, "group:g/member:a@x.example"),
            (Action::Revoke, "group:g/role:r"),
            (Action::Revoke, "project:P/group:h"),
            (Action::Revoke, "project:P/member:a@x.example"),
            (Action::Revoke, "user:a@x.example/role:r"),
            (Action::Delete, "admin_api_key:k"),
            (Action::Delete, "group:h"),
            (Action::Delete, "project:P/role:pr"),
            (Action::Delete, "project:P/service_account:s"),
            (Action::Delete, "role:r"),
        ]
    );
    assert!(!p.is_refused());
    assert_order_is_valid(&p);
    assert!(
        position(&p, "project_group:revoke:project:P/group:h")
            < position(&p, "group:delete:group:h")
    );
    assert!(
        position(&p, "user_role:revoke:user:a@x.example/role:r")
            < position(&p, "role:delete:role:r")
    );
    assert_converges(&desired, &state);
}

#[test]
fn projects_report_archive_ignore_and_never_the_default_or_archived() {
    let state = {
        let mut s = live(
            json!({ "projects": [{ "name": "Default" }, { "name": "X" }, { "name": "Gone", "archived": true }] }),
        );
        s.default_project = Some("Default".into());
        s
    };
    let with = |policy: &str| {
        run(
            &doc(json!({ "policy": { "unmanaged": { "projects": policy } }, "projects": [] })),
            &state,
        )
    };
    let report = with("report");
    assert_eq!(
        report
            .unmanaged
            .iter()
            .map(|u| u.key.as_str())
            .collect::<Vec<_>>(),
        vec!["project:X"]
    );
    assert_eq!(
        actions(&with("archive")),
        vec![(Action::Archive, "project:X")]
    );
    let ignore = with("ignore");
    assert!(ignore.is_empty() && ignore.unmanaged.is_empty());
}

#[test]
fn projects_create_update_and_refuse_what_the_api_cannot_do() {
    let desired = doc(json!({ "projects": [
        { "name": "New", "residency": "EU_STORAGE_PROCESSING" },
        { "name": "Keyed", "external_key_id": "k2" },
        { "name": "Moved", "residency": "EU_STORAGE_PROCESSING" },
        { "name": "Old" } ] }));
    let state = live(json!({ "projects": [
        { "name": "Keyed", "external_key_id": "k1" },
        { "name": "Moved", "residency": "US_STORAGE_PROCESSING" },
        { "name": "Old", "archived": true } ] }));
    let p = run(&desired, &state);
    assert_eq!(
        actions(&p),
        vec![
            (Action::Update, "project:Keyed"),
            (Action::Create, "project:New")
        ]
    );
    assert_eq!(
        rules(&p),
        vec![RefusalRule::Unarchive, RefusalRule::Immutable]
    );
}

// ---------------------------------------------------------------- safety gates

#[test]
fn protect_refuses_removal_demotion_and_archive() {
    let desired = doc(json!({
        "policy": { "unmanaged": { "users": "remove", "groups": "remove", "service_accounts": "remove" },
                    "protect": { "users": ["Keep@x.example", "boss@x.example"], "projects": ["Prod"], "groups": ["core"],
                                 "service_accounts": [{ "project": "Ops", "name": "deploy" }] } },
        "users": [{ "email": "boss@x.example", "role": "reader" }, { "email": "z@x.example", "role": "owner" }],
        "groups": [],
        "projects": [{ "name": "Prod", "archived": true }, { "name": "Ops", "service_accounts": [] }]
    }));
    let state = live(json!({
        "users": [{ "email": "keep@x.example", "role": "reader" }, { "email": "boss@x.example", "role": "owner" },
                  { "email": "z@x.example", "role": "owner" }],
        "groups": [{ "name": "core" }],
        "projects": [{ "name": "Prod" }, { "name": "Ops", "service_accounts": [{ "name": "deploy", "role": "owner" }] }]
    }));
    let p = run(&desired, &state);
    assert_eq!(rules(&p), vec![RefusalRule::Protect]);
    assert_eq!(
        p.refusals[0].objects,
        vec![
            "group:core",
            "project:Ops/service_account:deploy",
            "project:Prod",
            "user:boss@x.example",
            "user:keep@x.example"
        ]
    );
    assert!(p.refusals[0].override_hint.contains("policy.protect"));
}

#[test]
fn key_owner_is_never_removed_or_demoted() {
    let mut state = live(
        json!({ "users": [{ "email": "me@x.example", "role": "owner" }, { "email": "o@x.example", "role": "owner" }] }),
    );
    state.key_owner = Some("Me@x.example".into());
    let demote = doc(
        json!({ "users": [{ "email": "me@x.example", "role": "reader" }, { "email": "o@x.example", "role": "owner" }] }),
    );
    assert_eq!(rules(&run(&demote, &state)), vec![RefusalRule::KeyOwner]);
    let remove = doc(json!({ "policy": { "unmanaged": { "users": "remove" } },
                             "users": [{ "email": "o@x.example", "role": "owner" }] }));
    let p = run(&remove, &state);
    assert_eq!(rules(&p), vec![RefusalRule::KeyOwner]);
    assert_eq!(p.refusals[0].objects, vec!["user:me@x.example"]);
}

#[test]
fn min_owners_refuses_losing_owners() {
    let state = live(
        json!({ "users": [{ "email": "a@x.example", "role": "owner" }, { "email": "b@x.example", "role": "owner" }] }),
    );
    let desired = doc(json!({ "policy": { "min_owners": 2 },
        "users": [{ "email": "a@x.example", "role": "owner" }, { "email": "b@x.example", "role": "reader" }] }));
    let p = run(&desired, &state);
    assert_eq!(rules(&p), vec![RefusalRule::MinOwners]);
    assert_eq!(p.refusals[0].objects, vec!["user:b@x.example"]);
    let relaxed = doc(json!({ "policy": { "min_owners": 1 },
        "users": [{ "email": "a@x.example", "role": "owner" }, { "email": "b@x.example", "role": "reader" }] }));
    assert!(!run(&relaxed, &state).is_refused());
}

#[test]
fn max_removals_counts_destructive_changes_and_can_be_overridden() {
    let users: Vec<Value> = (0..4)
        .map(|i| json!({ "email": format!("u{i}@x.example"), "role": "reader" }))
        .collect();
    let state = live(json!({ "users": users }));
    let desired = doc(
        json!({ "policy": { "unmanaged": { "users": "remove" }, "max_removals": 3, "min_owners": 0 }, "users": [] }),
    );
    let p = run(&desired, &state);
    assert_eq!(rules(&p), vec![RefusalRule::MaxRemovals]);
    assert_eq!(p.refusals[0].objects.len(), 4);
    assert!(p.refusals[0].override_hint.contains("--allow-removals"));
    let allowed = plan(
        &desired,
        &state,
        &PlanOptions {
            allow_removals: true,
            ..Default::default()
        },
    )
    .expect("plan");
    assert!(!allowed.is_refused());
    let raised = plan(
        &desired,
        &state,
        &PlanOptions {
            max_removals: Some(4),
            ..Default::default()
        },
    )
    .expect("plan");
    assert!(!raised.is_refused());
}

#[test]
fn default_project_gets_no_members_and_is_never_archived() {
    let mut state = live(
        json!({ "users": [{ "email": "a@x.example", "role": "owner" }], "projects": [{ "name": "Default" }] }),
    );
    state.default_project = Some("Default".into());
    let desired = doc(
        json!({ "users": [{ "email": "a@x.example", "role": "owner" }],
        "projects": [{ "name": "Default", "members": [{ "email": "a@x.example", "role": "member" }],
                       "service_accounts": [{ "name": "s", "role": "member" }] }] }),
    );
    let p = run(&desired, &state);
    assert_eq!(rules(&p), vec![RefusalRule::DefaultProject]);
    assert!(p.changes.is_empty(), "{:#?}", actions(&p));
    let archive = doc(json!({ "projects": [{ "name": "Default", "archived": true }] }));
    assert_eq!(
        rules(&run(&archive, &state)),
        vec![RefusalRule::DefaultProject]
    );
}

// ---------------------------------------------------------------- other verbs

#[test]
fn project_group_role_change_is_one_update_and_roles_update_in_place() {
    let desired = doc(json!({ "groups": [{ "name": "g" }],
        "roles": [{ "name": "r", "permissions": ["a", "c"], "description": "new" }],
        "projects": [{ "name": "P", "groups": [{ "name": "g", "role": "owner" }],
                       "service_accounts": [{ "name": "s", "role": "owner" }],
                       "members": [{ "email": "m@x.example", "role": "owner" }] }],
        "users": [{ "email": "m@x.example", "role": "reader" }] }));
    let state = live(json!({ "groups": [{ "name": "g" }],
        "roles": [{ "name": "r", "permissions": ["a", "b"] }],
        "users": [{ "email": "m@x.example", "role": "reader" }],
        "projects": [{ "name": "P", "groups": [{ "name": "g", "role": "member" }],
                       "service_accounts": [{ "name": "s", "role": "member" }],
                       "members": [{ "email": "m@x.example", "role": "member" }] }] }));
    let p = run(&desired, &state);
    let mut got = actions(&p);
    got.sort();
    assert_eq!(
        got,
        vec![
            (Action::Update, "project:P/group:g"),
            (Action::Update, "project:P/member:m@x.example"),
            (Action::Update, "project:P/service_account:s"),
            (Action::Update, "role:r"),
        ]
    );
    let role = p
        .changes
        .iter()
        .find(|c| c.key == "role:r")
        .expect("role update");
    assert_eq!(
        role.fields
            .iter()
            .map(|f| f.field.as_str())
            .collect::<Vec<_>>(),
        vec!["permissions", "description"]
    );
    assert_converges(&desired, &state);
}

#[test]
fn service_accounts_get_a_key_only_when_a_sink_is_declared() {
    let desired = doc(json!({ "projects": [{ "name": "P", "service_accounts": [
        { "name": "with", "role": "member", "sink": { "command": ["vault", "write"] } },
        { "name": "without", "role": "member" } ] }] }));
    let p = run(&desired, &live(json!({ "projects": [{ "name": "P" }] })));
    let with_key: Vec<bool> = p
        .changes
        .iter()
        .map(
            |c| match c.op.decode::<crate::kinds::service_account::Op>() {
                Ok(crate::kinds::service_account::Op::CreateServiceAccount {
                    with_key, ..
                }) => with_key,
                other => panic!("unexpected {other:?}"),
            },
        )
        .collect();
    assert_eq!(with_key, vec![true, false]);
    // The sink itself never enters the plan.
    assert!(!render::json::render(&p).contains("vault"));
}

#[test]
fn a_roleless_service_account_gets_its_declared_role() {
    // Created with `create_service_account_only`, the account's live role is `none`, which
    // the live read shows as `member` and flags; the plan must still set the role.
    let desired = doc(json!({ "projects": [{ "name": "P", "service_accounts": [
        { "name": "bot", "role": "member" } ] }] }));
    let mut state = live(json!({ "projects": [{ "name": "P", "service_accounts": [
        { "name": "bot", "role": "member" } ] }] }));
    assert!(
        run(&desired, &state).is_empty(),
        "a member account is satisfied"
    );
    state
        .roleless_service_accounts
        .insert(("P".to_string(), "bot".to_string()));
    let p = run(&desired, &state);
    assert_eq!(p.changes.len(), 1, "{:?}", p.changes);
    assert_eq!(p.changes[0].action, Action::Update);
    assert!(matches!(
        p.changes[0]
            .op
            .decode::<crate::kinds::service_account::Op>(),
        Ok(crate::kinds::service_account::Op::UpdateServiceAccount {
            role: crate::model::ProjectRole::Member,
            ..
        })
    ));
    assert_eq!(
        p.changes[0].before.as_ref().map(|b| b["role"].clone()),
        Some(json!("none"))
    );
}

// ---------------------------------------------------------------- determinism

fn shuffled(mut d: Document, seed: u64) -> Document {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    d.users.shuffle(&mut rng);
    d.groups.shuffle(&mut rng);
    d.roles.shuffle(&mut rng);
    d.invites.shuffle(&mut rng);
    d.certificates.shuffle(&mut rng);
    d.projects.shuffle(&mut rng);
    for p in &mut d.projects {
        p.members.shuffle(&mut rng);
        p.groups.shuffle(&mut rng);
        p.certificates.shuffle(&mut rng);
    }
    for g in &mut d.groups {
        g.members.shuffle(&mut rng);
    }
    d
}

#[test]
fn same_inputs_give_identical_bytes_whatever_the_list_order() {
    let reference = run(&rich_desired(), &rich_live());
    let texts = |p: &Plan| {
        (
            render::text::render(p, true),
            render::markdown::render(p),
            render::json::render(p),
        )
    };
    let expected = texts(&reference);
    for seed in 0..8 {
        let mut state = rich_live();
        state.org = shuffled(state.org, seed + 100);
        let p = run(&shuffled(rich_desired(), seed), &state);
        assert_eq!(texts(&p), expected, "seed {seed}");
    }
}

// ---------------------------------------------------------------- renderings

#[test]
fn json_rendering_validates_against_the_schema() {
    let schema: Value = serde_json::from_str(include_str!("../../schema/plan.schema.json"))
        .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let refused = {
        let state = live(json!({ "users": [{ "email": "a@x.example", "role": "owner" }] }));
        run(
            &doc(json!({ "policy": { "unmanaged": { "users": "remove" }, "min_owners": 1 } })),
            &state,
        )
    };
    for p in [run(&rich_desired(), &rich_live()), Plan::default(), refused] {
        let value = render::json::to_value(&p);
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // The schema's enums are the code's enums.
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("enum")
            .iter()
            .map(|s| s.as_str().expect("string").to_string())
            .collect()
    };
    let kinds: Vec<String> = ResourceKind::ALL
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    assert_eq!(strings(&schema["$defs"]["kind"]["enum"]), kinds);
    let acts: Vec<String> = Action::ALL.iter().map(|a| a.as_str().to_string()).collect();
    assert_eq!(strings(&schema["$defs"]["action"]["enum"]), acts);
    // An invented value is rejected: the schema is not vacuous.
    let mut bad = render::json::to_value(&run(&rich_desired(), &rich_live()));
    bad["changes"][0]["action"] = json!("destroy");
    assert!(!validator.is_valid(&bad));
}

fn huge_plan() -> Plan {
    let users: Vec<Value> =
        (0..3000).map(|i| json!({ "email": format!("user{i:05}@very-long-domain-name.example"), "role": "reader" })).collect();
    let members: Vec<Value> = (0..3000)
        .map(|i| json!({ "email": format!("user{i:05}@very-long-domain-name.example"), "role": "member" }))
        .collect();
    let desired =
        doc(json!({ "users": users.clone(), "projects": [{ "name": "Big", "members": members }] }));
    run(
        &desired,
        &live(json!({ "users": users, "projects": [{ "name": "Big" }] })),
    )
}

#[test]
fn markdown_is_cut_gracefully_at_the_comment_limit() {
    let p = huge_plan();
    assert_eq!(p.changes.len(), 3000);
    let md = render::markdown::render(&p);
    assert!(md.chars().count() <= render::markdown::MAX_CHARS);
    assert!(md.starts_with("### orgops plan"));
    assert!(
        md.contains("| **total** | **3,000** |"),
        "the summary table is always complete"
    );
    let note = md
        .lines()
        .rev()
        .find(|l| l.contains("left out"))
        .expect("a note says what was cut");
    let shown = md.matches("\n+ grant project:Big/member:").count();
    assert!(
        note.contains(&format!(
            "{} changes left out",
            crate::text::words::thousands(3000 - shown as u64)
        )),
        "{note}"
    );
    assert!(
        md.matches("<details>").count() == md.matches("</details>").count(),
        "sections are closed"
    );
    assert_eq!(md.matches("```").count() % 2, 0, "code fences are closed");
    // A small limit still fits and still says so.
    let small = render::markdown::render_with_limit(&p, 5_000);
    assert!(small.chars().count() <= 5_000);
    assert!(small.contains("left out"));
    // A plan that fits is not cut.
    assert!(!render::markdown::render(&run(&rich_desired(), &rich_live())).contains("left out"));
}

// ---------------------------------------------------------------- saved plans

fn org() -> OrgIdentity {
    OrgIdentity::from_base_url("https://api.openai.com/v1", Some("org-1"))
}

#[test]
fn saved_plan_round_trips_and_is_fresh_against_the_same_state() {
    let (desired, state) = (rich_desired(), rich_live());
    let p = run(&desired, &state);
    let saved = saved::save(&p, &desired, &state, org());
    let text = saved::to_json(&saved);
    let back = saved::from_json(&text).expect("reads back");
    assert_eq!(back, saved);
    assert_eq!(saved::changes(&back), p.changes);
    assert_eq!(saved::check_stale(&back, &state, &desired, &org()), Ok(()));
    assert!(saved::from_json("{\"format_version\": 1}").is_err());
    assert_eq!(org().endpoint, "https://api.openai.com/v1");
}

#[test]
fn stale_saved_plans_are_refused_with_a_typed_reason() {
    let (desired, state) = (rich_desired(), rich_live());
    let saved = saved::save(&run(&desired, &state), &desired, &state, org());
    let reason = |r: Result<(), saved::Staleness>| r.expect_err("stale").reason;

    let mut changed = state.clone();
    changed
        .org
        .projects
        .iter_mut()
        .find(|p| p.name == "Search")
        .expect("Search")
        .rate_limits
        .insert(
            "gpt-4o".into(),
            crate::model::RateLimit {
                max_requests_per_1_minute: Some(600),
                ..Default::default()
            },
        );
    let err = saved::check_stale(&saved, &changed, &desired, &org()).expect_err("live changed");
    assert_eq!(err.reason, StaleReason::LiveChanged);
    assert_eq!(
        err.objects,
        vec!["project:Search/rate_limit:gpt-4o".to_string()]
    );

    let mut recreated = state.clone();
    recreated.ids.set(
        crate::kinds::keys::refs::role("billing-viewer"),
        "role_other".into(),
    );
    assert_eq!(
        reason(saved::check_stale(&saved, &recreated, &desired, &org())),
        StaleReason::LiveChanged
    );

    // A live change no saved change depends on does not make the plan stale.
    let mut unrelated = state.clone();
    unrelated.org.users.push(crate::model::User {
        email: "new@acme.example".into(),
        role: crate::model::OrgRole::Reader,
        roles: vec![].into(),
    });
    assert_eq!(
        saved::check_stale(&saved, &unrelated, &desired, &org()),
        Ok(())
    );

    let mut other_desired = desired.clone();
    other_desired.users.pop();
    assert_eq!(
        reason(saved::check_stale(&saved, &state, &other_desired, &org())),
        StaleReason::DesiredChanged
    );
    // Same desired state in another order and case is the same state.
    let mut reordered = shuffled(desired.clone(), 7);
    reordered
        .users
        .iter_mut()
        .for_each(|u| u.email = u.email.to_uppercase());
    assert_eq!(
        saved::check_stale(&saved, &state, &reordered, &org()),
        Ok(())
    );

    let elsewhere = OrgIdentity::from_base_url("http://user:pw@127.0.0.1:8080/v1/", None);
    assert_eq!(elsewhere.endpoint, "http://127.0.0.1:8080/v1");
    // Another host, another organization, another path, or an organization on one side
    // only: all another organization.
    for other in [
        elsewhere,
        OrgIdentity::from_base_url("https://api.openai.com/v1", Some("org-2")),
        OrgIdentity::from_base_url("https://api.openai.com/other/v1", Some("org-1")),
        OrgIdentity::from_base_url("https://api.openai.com/v1", None),
    ] {
        assert_eq!(
            reason(saved::check_stale(&saved, &state, &desired, &other)),
            StaleReason::OtherOrg,
            "{other:?}"
        );
    }

    let mut old = saved.clone();
    old.orgops_version = "0.0.0".into();
    assert_eq!(
        reason(saved::check_stale(&old, &state, &desired, &org())),
        StaleReason::VersionMismatch
    );
}

// ---------------------------------------------------------------- properties

mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::model::{
        Certificate, Group, Invite, InviteProject, InviteStatus, OrgRole, Project, ProjectGroup,
        ProjectMember, ProjectRole, RateLimit, Role, ServiceAccount, User,
    };

    const EMAILS: [&str; 5] = [
        "a@x.example",
        "b@x.example",
        "c@x.example",
        "d@x.example",
        "e@x.example",
    ];
    const PROJECTS: [&str; 3] = ["P1", "P2", "P3"];
    const GROUPS: [&str; 2] = ["g1", "g2"];
    const ROLES: [&str; 2] = ["r1", "r2"];
    const CERTS: [&str; 2] = ["c1", "c2"];
    const MODELS: [&str; 2] = ["m1", "m2"];

    fn subset<T: Clone + std::fmt::Debug>(items: &'static [T]) -> impl Strategy<Value = Vec<T>> {
        proptest::sample::subsequence(items.to_vec(), 0..=items.len())
    }

    fn org_role() -> impl Strategy<Value = OrgRole> {
        prop_oneof![Just(OrgRole::Owner), Just(OrgRole::Reader)]
    }

    fn project_role() -> impl Strategy<Value = ProjectRole> {
        prop_oneof![Just(ProjectRole::Owner), Just(ProjectRole::Member)]
    }

    fn users() -> impl Strategy<Value = Vec<User>> {
        proptest::collection::vec((org_role(), subset(&ROLES)), EMAILS.len()).prop_flat_map(
            |specs| {
                subset(&EMAILS).prop_map(move |emails| {
                    emails
                        .iter()
                        .enumerate()
                        .map(|(i, e)| User {
                            email: e.to_string(),
                            role: specs[i].0,
                            roles: specs[i].1.iter().map(|r| r.to_string()).collect(),
                        })
                        .collect()
                })
            },
        )
    }

    fn project(live: bool) -> impl Strategy<Value = Project> {
        (
            proptest::sample::select(PROJECTS.to_vec()),
            proptest::collection::vec((project_role(), subset(&["pr1"])), EMAILS.len()),
            subset(&EMAILS),
            proptest::collection::vec(project_role(), GROUPS.len()),
            subset(&GROUPS),
            subset(&["pr1", "pr2"]),
            proptest::collection::vec(project_role(), 2),
            subset(&["s1", "s2"]),
            proptest::collection::vec(0u64..3, MODELS.len()),
            subset(&CERTS),
        )
            .prop_map(
                move |(
                    name,
                    member_specs,
                    emails,
                    group_roles,
                    groups,
                    roles,
                    sa_roles,
                    sas,
                    limits,
                    certs,
                )| Project {
                    fields: Default::default(),
                    name: name.to_string(),
                    archived: false,
                    residency: None,
                    geography: None,
                    external_key_id: None,
                    members: emails
                        .iter()
                        .enumerate()
                        .map(|(i, e)| ProjectMember {
                            email: e.to_string(),
                            role: member_specs[i].0,
                            roles: member_specs[i].1.iter().map(|r| r.to_string()).collect(),
                        })
                        .collect(),
                    groups: groups
                        .iter()
                        .enumerate()
                        .map(|(i, g)| ProjectGroup {
                            name: g.to_string(),
                            role: group_roles[i],
                            roles: vec![].into(),
                        })
                        .collect(),
                    roles: roles
                        .iter()
                        .map(|r| Role {
                            name: r.to_string(),
                            permissions: vec![],
                            description: None,
                        })
                        .collect(),
                    service_accounts: sas
                        .iter()
                        .enumerate()
                        .map(|(i, s)| ServiceAccount {
                            name: s.to_string(),
                            role: sa_roles[i],
                            sink: None,
                            key_spend_limit: None,
                        })
                        .collect(),
                    // Live projects have a row for every model; the file manages some of them.
                    rate_limits: MODELS
                        .iter()
                        .zip(&limits)
                        .filter(|(_, v)| live || **v > 0)
                        .map(|(m, v)| {
                            (
                                m.to_string(),
                                RateLimit {
                                    max_requests_per_1_minute: Some(*v),
                                    ..Default::default()
                                },
                            )
                        })
                        .collect(),
                    certificates: certs.iter().map(|c| c.to_string()).collect(),
                },
            )
    }

    fn projects(live: bool) -> impl Strategy<Value = Vec<Project>> {
        proptest::collection::vec(project(live), 0..4).prop_map(|mut ps| {
            let mut seen = std::collections::BTreeSet::new();
            ps.retain(|p| seen.insert(p.name.clone()));
            ps
        })
    }

    fn groups() -> impl Strategy<Value = Vec<Group>> {
        (
            subset(&GROUPS),
            proptest::collection::vec((subset(&EMAILS), subset(&ROLES)), GROUPS.len()),
        )
            .prop_map(|(names, specs)| {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, g)| Group {
                        name: g.to_string(),
                        members: specs[i].0.iter().map(|e| e.to_string()).collect(),
                        roles: specs[i].1.iter().map(|r| r.to_string()).collect(),
                    })
                    .collect()
            })
    }

    fn roles() -> impl Strategy<Value = Vec<Role>> {
        (
            subset(&ROLES),
            proptest::collection::vec(subset(&["p.a", "p.b", "p.c"]), ROLES.len()),
        )
            .prop_map(|(names, perms)| {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, r)| Role {
                        name: r.to_string(),
                        permissions: perms[i].iter().map(|p| p.to_string()).collect(),
                        description: None,
                    })
                    .collect()
            })
    }

    fn certificates() -> impl Strategy<Value = Vec<Certificate>> {
        (
            subset(&CERTS),
            proptest::collection::vec(any::<bool>(), CERTS.len()),
        )
            .prop_map(|(names, active)| {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Certificate {
                        name: c.to_string(),
                        file: format!("{c}.pem"),
                        active: active[i],
                        pem: None,
                    })
                    .collect()
            })
    }

    fn invites() -> impl Strategy<Value = Vec<Invite>> {
        proptest::collection::vec(
            (
                proptest::sample::select(EMAILS.to_vec()),
                org_role(),
                prop_oneof![
                    Just(InviteStatus::Pending),
                    Just(InviteStatus::Expired),
                    Just(InviteStatus::Accepted)
                ],
                subset(&PROJECTS),
            ),
            0..3,
        )
        .prop_map(|specs| {
            specs
                .into_iter()
                .map(|(e, role, status, ps)| Invite {
                    email: e.to_string(),
                    role,
                    status,
                    projects: ps
                        .iter()
                        .map(|p| InviteProject {
                            name: p.to_string(),
                            role: ProjectRole::Member,
                        })
                        .collect(),
                })
                .collect()
        })
    }

    fn policy() -> impl Strategy<Value = crate::model::Policy> {
        use crate::model::{UnmanagedAction as U, UnmanagedProjectAction as P};
        let action = || prop_oneof![Just(U::Report), Just(U::Remove), Just(U::Ignore)];
        (
            (
                action(),
                action(),
                action(),
                action(),
                action(),
                action(),
                action(),
            ),
            (action(), action(), action(), action(), action()),
            prop_oneof![Just(P::Report), Just(P::Archive), Just(P::Ignore)],
        )
            .prop_map(|((a, b, c, d, e, f, g), (h, i, j, k, l), projects)| {
                crate::model::Policy {
                    unmanaged: crate::model::Unmanaged {
                        users: a,
                        invites: b,
                        groups: c,
                        group_members: d,
                        roles: e,
                        role_assignments: f,
                        certificates: g,
                        admin_api_keys: h,
                        project_members: i,
                        project_groups: j,
                        project_roles: k,
                        service_accounts: l,
                        projects,
                        project_api_keys: crate::model::UnmanagedAction::Report,
                        spend_alerts: crate::model::UnmanagedAction::Report,
                        external_keys: crate::model::UnmanagedAction::Report,
                        external_storage: crate::model::UnmanagedAction::Report,
                        workload_identity_providers: crate::model::UnmanagedAction::Report,
                        federation_rules: crate::model::UnmanagedAction::Report,
                        health_alert_rules: crate::model::UnmanagedAction::Report,
                        settings: None,
                    },
                    min_owners: Some(0),
                    ..Default::default()
                }
            })
    }

    /// A file that validates: references point at declared things.
    fn desired() -> impl Strategy<Value = Document> {
        (
            users(),
            groups(),
            roles(),
            certificates(),
            projects(false),
            policy(),
        )
            .prop_map(
                |(users, mut groups, roles, certificates, mut projects, policy)| {
                    let emails: Vec<String> = users.iter().map(|u| u.email.clone()).collect();
                    let role_names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
                    let certs: Vec<String> = certificates.iter().map(|c| c.name.clone()).collect();
                    let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
                    let mut users = users;
                    for u in &mut users {
                        u.roles.retain(|r| role_names.contains(r));
                    }
                    for g in &mut groups {
                        g.members.retain(|m| emails.contains(m));
                        g.roles.retain(|r| role_names.contains(r));
                    }
                    for p in &mut projects {
                        p.members.retain(|m| emails.contains(&m.email));
                        let project_roles: Vec<String> =
                            p.roles.iter().map(|r| r.name.clone()).collect();
                        for m in &mut p.members {
                            m.roles.retain(|r| project_roles.contains(r));
                        }
                        p.groups.retain(|g| group_names.contains(&g.name));
                        p.certificates.retain(|c| certs.contains(c));
                    }
                    Document {
                        policy,
                        users: users.into(),
                        groups: groups.into(),
                        roles: roles.into(),
                        certificates: certificates.into(),
                        projects: projects.into(),
                        ..Document::default()
                    }
                },
            )
    }

    fn live_state() -> impl Strategy<Value = LiveState> {
        (
            users(),
            groups(),
            roles(),
            certificates(),
            projects(true),
            invites(),
            proptest::collection::vec(any::<bool>(), 3),
        )
            .prop_map(
                |(users, groups, roles, certificates, projects, invites, archived)| {
                    let mut projects = projects;
                    for (p, a) in projects.iter_mut().zip(archived) {
                        // Archived projects have no children.
                        if a && p.name == "P3" {
                            *p = Project {
                                archived: true,
                                ..Project {
                                    name: p.name.clone(),
                                    ..p.clone()
                                }
                            };
                            p.members.clear();
                            p.groups.clear();
                            p.service_accounts.clear();
                            p.certificates.clear();
                        }
                    }
                    LiveState {
                        org: Document {
                            users: users.into(),
                            groups: groups.into(),
                            roles: roles.into(),
                            certificates: certificates.into(),
                            projects: projects.into(),
                            invites,
                            ..Document::default()
                        },
                        ids: IdIndex::default(),
                        key_owner: None,
                        default_project: None,
                        ..LiveState::default()
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn order_respects_every_edge_and_removals_run_in_reverse(d in desired(), l in live_state()) {
            let p = plan(&d, &l, &PlanOptions::default()).expect("no cycle");
            assert_order_is_valid(&p);
            let ids: std::collections::BTreeSet<&ChangeId> = p.changes.iter().map(|c| &c.id).collect();
            prop_assert_eq!(ids.len(), p.changes.len(), "ids are unique");
        }

        #[test]
        fn plans_are_identical_whatever_the_input_order(d in desired(), l in live_state(), seed in 0u64..1000) {
            let p = plan(&d, &l, &PlanOptions::default()).expect("plan");
            let mut l2 = l.clone();
            l2.org = shuffled(l2.org, seed + 1);
            let q = plan(&shuffled(d, seed), &l2, &PlanOptions::default()).expect("plan");
            prop_assert_eq!(render::json::render(&p), render::json::render(&q));
            prop_assert_eq!(render::text::render(&p, false), render::text::render(&q, false));
        }

        #[test]
        fn applying_the_plan_converges(d in desired(), l in live_state()) {
            let options = PlanOptions { allow_removals: true, ..PlanOptions::default() };
            let first = plan(&d, &l, &options).expect("plan");
            // Refused plans are not applied; the unarchive refusal is the only one these
            // inputs can raise (archived P3 declared active).
            prop_assume!(!first.is_refused());
            let after = simulate(&l, &first);
            let second = plan(&d, &after, &options).expect("plan");
            prop_assert!(second.changes.is_empty(), "left: {:#?}", actions(&second));
        }
    }
}

#[test]
fn live_duplicates_are_reported_or_removed_by_id_under_the_unmanaged_policy() {
    use crate::kinds::ResourceKind;
    use crate::live::LiveDuplicate;
    let live = LiveState {
        duplicates: vec![
            LiveDuplicate {
                kind: ResourceKind::AdminApiKey,
                project: None,
                name: "orgops-ci".into(),
                kept: "key_old".into(),
                extra: "key_new".into(),
            },
            LiveDuplicate {
                kind: ResourceKind::Project,
                project: Some("Twin".into()),
                name: "Twin".into(),
                kept: "proj_old".into(),
                extra: "proj_new".into(),
            },
        ],
        ..LiveState::default()
    };
    let reported = run(&Document::default(), &live);
    assert!(reported.changes.is_empty());
    let keys: Vec<&str> = reported.unmanaged.iter().map(|u| u.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "project:Twin (duplicate proj_new)",
            "admin_api_key:orgops-ci (duplicate key_new)"
        ]
    );
    assert_eq!(reported.unmanaged[1].object["duplicate_of"], "key_old");

    let mut desired = Document::default();
    desired.policy.unmanaged.admin_api_keys = crate::model::UnmanagedAction::Remove;
    desired.policy.unmanaged.projects = crate::model::UnmanagedProjectAction::Archive;
    let removing = plan(
        &desired,
        &live,
        &PlanOptions {
            allow_removals: true,
            ..PlanOptions::default()
        },
    )
    .expect("plan orders");
    let ops: Vec<&Operation> = removing.changes.iter().map(|c| &c.op).collect();
    assert!(ops.contains(&&Operation::from(
        crate::kinds::admin_api_key::Op::DeleteAdminApiKey {
            name: "orgops-ci".into(),
            id: Some("key_new".into()),
        }
    )));
    assert!(ops.contains(&&Operation::from(
        crate::kinds::project::Op::ArchiveProject {
            name: "Twin".into(),
            id: Some("proj_new".into()),
        }
    )));
    // Removing an extra never needs a name to resolve: the ID is in the operation.
    assert!(
        removing
            .changes
            .iter()
            .all(|c| c.kind.def().id_refs(&c.op).is_empty())
    );
}

// --- memory (issue 21 item 15) ------------------------------------------------------------

/// A plan of `n` invites (a file of `n` people the organization does not have yet).
fn all_new(n: usize) -> (Document, LiveState) {
    let users: Vec<Value> = (0..n)
        .map(|i| json!({"email": format!("user{i:06}@big.example"), "role": "reader"}))
        .collect();
    (
        doc(json!({"version": 1, "users": users})),
        LiveState::default(),
    )
}

/// Writes nowhere, as `fmt::Write`.
struct FmtSink;

impl std::fmt::Write for FmtSink {
    fn write_str(&mut self, _: &str) -> std::fmt::Result {
        Ok(())
    }
}

/// Printing a plan (text or JSON) streams it: what it allocates beyond the plan stays
/// small, whatever the plan's size (the JSON rendering built a `Value` tree of the whole plan
/// and then its whole text: 3.5 GB for 310,000 invites).
#[test]
fn printing_a_plan_holds_no_second_copy_of_it() {
    use crate::config::load::tests::probe;
    let (desired, live) = all_new(5_000);
    let p = run(&desired, &live);
    assert_eq!(p.changes.len(), 5_000);
    let start = probe::start();
    render::json::write(&p, std::io::sink()).expect("writes");
    let (_, json_peak) = probe::now_and_peak();
    let start_text = probe::start();
    render::text::write(&p, false, &mut FmtSink).expect("writes");
    let (_, text_peak) = probe::now_and_peak();
    let (json_extra, text_extra) = (json_peak - start, text_peak - start_text);
    assert!(
        json_extra < 64 * 1024 && text_extra < 64 * 1024,
        "printing 5,000 changes held {json_extra} bytes more (JSON), {text_extra} (text)"
    );
}

/// Ordering turns the drafts into the changes in place: the plan's peak while ordering is
/// not the drafts and the changes side by side (a change is 392 bytes before its data).
#[test]
fn ordering_a_large_plan_does_not_hold_it_twice() {
    use crate::config::load::tests::probe;
    let n = 20_000;
    let (desired, live) = all_new(n);
    let start = probe::start();
    let p = run(&desired, &live);
    let (held, peak) = probe::now_and_peak();
    let (plan_bytes, transient) = (held - start, peak - held);
    let per_change = |b: i64| b / n as i64;
    assert!(
        transient < plan_bytes / 2,
        "planning {n} invites held {} bytes a change at its peak beyond the {} of the plan",
        per_change(transient),
        per_change(plan_bytes)
    );
    drop(p);
}
