//! The text table's names for what [`Names`] leaves as ids, and its "what changed" column
//! (issue 23.7).
//!
//! - Service accounts (`svc_acct_…`), project API keys and admin keys (`key_…`), as object or
//!   actor: named from one read of the projects' service accounts and keys and the admin keys
//!   (`project:Search/service_account:ci-bot`, `project:Search/api_key:NAME`,
//!   `admin_api_key:NAME`), made the first time an event needs it.
//! - A user no longer in the organization (`user:user_…`): named from the audit log itself,
//!   by the newest event they acted in (`actor_ids[]`, one request per such user; accepting
//!   their invite is one), else left as the id.
//! - A deleted invite (`invite-…`): by the `invite.sent` event that names its email.
//! - `user.deleted` is the one event for removing a user from the organization and from a
//!   project (the API gives only the user id). Told apart by what is true now: a user still
//!   in the organization was removed from a project; for one who is not, the newest
//!   `user.deleted` about them (one request per such user) is the removal from the
//!   organization, and an older one a removal from a project (or from an earlier membership).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Names;
use crate::api::audit_logs::{AuditLog, AuditLogQuery};
use crate::kinds::Select;
use crate::live::{NoProgress, ReadScope};
use crate::plan::ResourceKind;

/// What the table learns beyond [`Names`], each read at most once.
#[derive(Default)]
pub struct MoreNames {
    /// Service account and key ids -> orgops keys, once read.
    accounts_and_keys: Option<BTreeMap<String, String>>,
    /// User id -> email, from the audit log, for users no longer in the organization.
    gone_users: BTreeMap<String, Option<String>>,
    /// Invite id -> email, from its `invite.sent` event.
    invites: BTreeMap<String, Option<String>>,
    /// User id -> the id of the newest `user.deleted` event about them.
    newest_removal: BTreeMap<String, Option<String>>,
}

/// How a `user.deleted` event removed its user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The user is still in the organization.
    FromProject,
    /// The newest removal of a user who is no longer in the organization.
    FromOrganization,
    /// An older removal of a user who is no longer in the organization.
    FromProjectOrEarlier,
}

impl MoreNames {
    /// The object, the actor and what changed, for one row of the text table.
    pub async fn describe(
        &mut self,
        names: &mut Names<'_>,
        event: &AuditLog,
    ) -> (String, String, String) {
        let object = names.object_key(event).await;
        let object = self.object(names, event, object).await;
        let actor = event
            .actor
            .as_ref()
            .and_then(|a| a.describe())
            .unwrap_or_else(|| "-".to_string());
        let actor = if is_account_or_key(&actor) {
            self.account_or_key(names, &actor).await
        } else {
            actor
        };
        let removal = match event.event_type.as_str() {
            "user.deleted" => match event_id_field(event) {
                Some(user) => Some(self.removal(names, event, &user).await),
                None => None,
            },
            _ => None,
        };
        (actor, object, change(event, removal))
    }

    async fn object(&mut self, names: &mut Names<'_>, event: &AuditLog, object: String) -> String {
        if is_account_or_key(&object) {
            return self.account_or_key(names, &object).await;
        }
        if object.starts_with("invite-") && !object.contains(':') {
            // Who accepts an invite is its invitee.
            if event.event_type == "invite.accepted"
                && let Some(email) = event
                    .actor
                    .as_ref()
                    .and_then(|a| a.session.as_ref())
                    .and_then(|s| s.user.as_ref())
                    .and_then(|u| u.email.as_deref())
            {
                return crate::plan::keys::invite(email);
            }
            return match self.invite_email(names, &object).await {
                Some(email) => crate::plan::keys::invite(&email),
                None => object,
            };
        }
        // `user:<id>` (or `…/member:<id>`): someone no longer in the organization.
        for marker in ["user:", "/member:"] {
            if let Some(at) = object.rfind(marker) {
                let id = &object[at + marker.len()..];
                if id.starts_with("user") && !id.contains('@') && !id.contains('/') {
                    let id = id.to_string();
                    if let Some(email) = self.gone_user_email(names, &id).await {
                        return format!("{}{email}", &object[..at + marker.len()]);
                    }
                }
            }
        }
        object
    }

    async fn account_or_key(&mut self, names: &mut Names<'_>, id: &str) -> String {
        if self.accounts_and_keys.is_none() {
            self.accounts_and_keys = Some(read_accounts_and_keys(names).await);
        }
        self.accounts_and_keys
            .as_ref()
            .and_then(|map| map.get(id).cloned())
            .unwrap_or_else(|| id.to_string())
    }

    async fn gone_user_email(&mut self, names: &mut Names<'_>, id: &str) -> Option<String> {
        if !self.gone_users.contains_key(id) {
            let query = AuditLogQuery {
                actor_ids: vec![id.to_string()],
                ..AuditLogQuery::default()
            };
            let email = first_event(names, &query).await.and_then(|event| {
                let actor = event.actor?;
                let from_session = actor.session.and_then(|s| s.user);
                let from_key = actor.api_key.and_then(|k| k.user);
                from_session
                    .into_iter()
                    .chain(from_key)
                    .find(|u| u.id.as_deref() == Some(id))
                    .and_then(|u| u.email)
            });
            self.gone_users.insert(id.to_string(), email);
        }
        self.gone_users.get(id).cloned().flatten()
    }

    async fn invite_email(&mut self, names: &mut Names<'_>, id: &str) -> Option<String> {
        if !self.invites.contains_key(id) {
            let query = AuditLogQuery {
                resource_ids: vec![id.to_string()],
                event_types: vec!["invite.sent".to_string()],
                ..AuditLogQuery::default()
            };
            let email = first_event(names, &query).await.and_then(|event| {
                event
                    .details
                    .get("invite.sent")?
                    .pointer("/data/email")?
                    .as_str()
                    .map(str::to_string)
            });
            self.invites.insert(id.to_string(), email);
        }
        self.invites.get(id).cloned().flatten()
    }

    async fn removal(&mut self, names: &mut Names<'_>, event: &AuditLog, user: &str) -> Removal {
        let still_member = match names.kind("user").await {
            Ok(users) => users.contains_key(user),
            Err(_) => false,
        };
        if still_member {
            return Removal::FromProject;
        }
        if !self.newest_removal.contains_key(user) {
            let query = AuditLogQuery {
                resource_ids: vec![user.to_string()],
                event_types: vec!["user.deleted".to_string()],
                ..AuditLogQuery::default()
            };
            let newest = first_event(names, &query).await.map(|e| e.id);
            self.newest_removal.insert(user.to_string(), newest);
        }
        match self.newest_removal.get(user).cloned().flatten() {
            Some(newest) if newest != event.id => Removal::FromProjectOrEarlier,
            _ => Removal::FromOrganization,
        }
    }
}

/// Whether `text` is a service account or API key id (`svc_acct_…`, `key_…`).
fn is_account_or_key(text: &str) -> bool {
    text.starts_with("svc_acct_") || text.starts_with("key_")
}

/// The details' `id`.
fn event_id_field(event: &AuditLog) -> Option<String> {
    event
        .details
        .get(&event.event_type)?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

/// The newest event `query` matches, if the log can be read.
async fn first_event(names: &mut Names<'_>, query: &AuditLogQuery) -> Option<AuditLog> {
    let mut pages = names.client.audit_log_pages(query, 1, None);
    match pages.next_page().await {
        Ok(Some(page)) => page
            .into_iter()
            .next()
            .and_then(|raw| serde_json::from_value(raw).ok()),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("naming from the audit log: {e:#}");
            None
        }
    }
}

/// Service accounts, project API keys and admin keys by id: one read of every project's
/// service accounts and keys and of the admin keys.
async fn read_accounts_and_keys(names: &mut Names<'_>) -> BTreeMap<String, String> {
    let scope = ReadScope {
        kinds: [
            ResourceKind::Project,
            ResourceKind::User,
            ResourceKind::AdminApiKey,
            ResourceKind::ServiceAccount,
            ResourceKind::ProjectApiKey,
        ]
        .into_iter()
        .map(|kind| (kind, Select::All))
        .collect(),
        only_where_assignable: false,
    };
    let live = match crate::live::read(names.client, &scope, &NoProgress).await {
        Ok(live) => live,
        Err(e) => {
            tracing::warn!("naming service accounts and keys: {e:#}");
            return BTreeMap::new();
        }
    };
    let mut by_id = BTreeMap::new();
    for kind in [ResourceKind::ServiceAccount, ResourceKind::AdminApiKey] {
        for (key, id) in live.ids.of(kind) {
            by_id.insert(id.clone(), key.clone());
        }
    }
    for (project, keys) in &live.project_api_keys {
        for key in keys {
            by_id
                .entry(key.id.clone())
                .or_insert_with(|| format!("project:{project}/api_key:{}", key.name));
        }
    }
    by_id
}

/// What an event changed, in a few words: the fields an update asked for (`role: owner`),
/// what a create set, a membership added or removed, a grant, a deletion.
pub fn change(event: &AuditLog, removal: Option<Removal>) -> String {
    let ty = event.event_type.as_str();
    let details = event.details.get(ty);
    let field = |name: &str| details.and_then(|d| d.get(name));
    if let Some(removal) = removal {
        return match removal {
            Removal::FromProject => "removed from a project (still in the organization)",
            Removal::FromOrganization => "removed from the organization",
            Removal::FromProjectOrEarlier => {
                "removed from a project (or from an earlier membership)"
            }
        }
        .to_string();
    }
    if let Some(changes) = field("changes_requested").and_then(Value::as_object) {
        if changes.contains_key("user_added") {
            return "member added".to_string();
        }
        if changes.contains_key("user_removed") {
            return "member removed".to_string();
        }
        let what = pairs(changes);
        return match (ty, field("id").and_then(Value::as_str)) {
            // A project member's role: the details name the project, not the member.
            ("user.updated", Some(id)) if id.starts_with("proj") => {
                format!("a project member's {what}")
            }
            _ => what,
        };
    }
    if ty == "user.added" {
        return match field("data")
            .and_then(|d| d.get("role"))
            .and_then(Value::as_str)
        {
            Some(role) => format!("added to a project as {role}"),
            None => "added to a project".to_string(),
        };
    }
    let verb = match ty.rsplit('.').next().unwrap_or_default() {
        "created" if ty == "role.assignment.created" => "granted",
        "deleted" if ty == "role.assignment.deleted" => "revoked",
        "created" => "created",
        "sent" => "invited",
        "accepted" => "accepted the invite",
        "deleted" => "deleted",
        "archived" => "archived",
        "activated" => "activated",
        "deactivated" => "deactivated",
        "succeeded" => "succeeded",
        "failed" => "failed",
        _ => "",
    };
    let data = field("data")
        .and_then(Value::as_object)
        .map(|data| {
            let shown: serde_json::Map<String, Value> = data
                .iter()
                .filter(|(k, v)| {
                    !matches!(k.as_str(), "name" | "email" | "title" | "group_name")
                        && !v.is_null()
                        && v.as_array().is_none_or(|a| !a.is_empty())
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            pairs(&shown)
        })
        .unwrap_or_default();
    match (verb, data.is_empty()) {
        ("", true) => String::new(),
        ("", false) => data,
        (verb, true) => verb.to_string(),
        (verb, false) => format!("{verb} ({data})"),
    }
}

/// `k: v, k2: v2` (strings bare, anything else as compact JSON).
fn pairs(map: &serde_json::Map<String, Value>) -> String {
    map.iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(ty: &str, details: Value) -> AuditLog {
        serde_json::from_value(json!({"id": "e1", "type": ty, ty: details})).expect("an event")
    }

    #[test]
    fn changes_in_words() {
        let cases = [
            (
                event(
                    "user.updated",
                    json!({"id": "user_1", "changes_requested": {"role": "owner"}}),
                ),
                "role: owner",
            ),
            (
                event(
                    "user.updated",
                    json!({"id": "proj_1", "changes_requested": {"role": "member"}}),
                ),
                "a project member's role: member",
            ),
            (
                event(
                    "group.updated",
                    json!({"id": "g", "changes_requested": {"user_added": "user_1"}}),
                ),
                "member added",
            ),
            (
                event(
                    "service_account.created",
                    json!({"id": "s", "data": {"role": "member"}}),
                ),
                "created (role: member)",
            ),
            (
                event(
                    "invite.sent",
                    json!({"id": "i", "data": {"email": "a@x", "role": "reader"}}),
                ),
                "invited (role: reader)",
            ),
            (event("project.archived", json!({"id": "p"})), "archived"),
            (
                event("role.assignment.created", json!({"id": "r"})),
                "granted",
            ),
            (
                event("user.added", json!({"id": "u", "data": {"role": "owner"}})),
                "added to a project as owner",
            ),
        ];
        for (event, said) in cases {
            assert_eq!(change(&event, None), said, "{}", event.event_type);
        }
        let removed = event("user.deleted", json!({"id": "user_1"}));
        assert_eq!(
            change(&removed, Some(Removal::FromOrganization)),
            "removed from the organization"
        );
        assert_ne!(
            change(&removed, Some(Removal::FromProject)),
            change(&removed, Some(Removal::FromOrganization))
        );
    }
}
