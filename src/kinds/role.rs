//! Custom organization roles, key `role:<name>`. Fields: `permissions` (a set), `description`.
//! Updated in place; undeclared ones follow `policy.unmanaged.roles`.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::read::{PageSink, Parent, RawStore, Select, Source, one_page};
use crate::api::types::Role as WireRole;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::context::{Context, Draft, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};
use crate::model::Role;

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs;
use super::keys::refs::role as org_role;
use crate::api::roles::RoleSpec;
use crate::api::safe::{create_or_find, remove, retry_transient};
use crate::api::types::RoleId;

const KIND: ResourceKind = ResourceKind::Role;

/// Shared with `project_role`: a role's diffable view.
pub(super) fn view(role: &Role) -> Value {
    let mut v = json!({ "name": role.name, "permissions": role.permissions });
    if let Some(d) = &role.description {
        v["description"] = json!(d);
    }
    v
}

/// Shared with `project_role`: what an update writes, `None` when nothing differs.
pub(super) fn update(desired: &Role, live: &Role) -> Option<RoleUpdate> {
    let update = RoleUpdate {
        permissions: (desired.permissions != live.permissions).then(|| desired.permissions.clone()),
        description: (desired.description != live.description).then(|| desired.description.clone()),
    };
    (update != RoleUpdate::default()).then_some(update)
}

/// Custom-role fields to write; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
    /// `Some(None)` clears the description (written `null`; absent leaves it).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub description: Option<Option<String>>,
}

/// A field that is present, even as `null`, is `Some`: serde alone reads `null` as absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    CreateRole {
        name: String,
        permissions: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    UpdateRole {
        name: String,
        update: RoleUpdate,
    },
    DeleteRole {
        name: String,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Organization custom roles.
pub(crate) struct RoleKind;

impl Kind for RoleKind {
    fn title(&self) -> &'static str {
        "Organization custom roles"
    }

    /// The organization's roles: every role event re-reads it.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        Some(super::incremental::pages_of::<WireRole>(&[]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "role.created", Id),
            rule(Missing, "role.deleted", Id),
            rule(Changed, "role.updated", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "roles",
            removes: "remove",
            list: "roles",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.roles.is_managed()
    }

    /// Permissions a custom role gains or loses (naming the role), and its deletion.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::UpdateRole { name, .. } => Some(super::Attention::new(
                name,
                format!(
                    "organization role {}",
                    super::attention::permissions_change(change)?
                ),
            )),
            Op::DeleteRole { name } => Some(super::Attention::new(
                name,
                "organization role deleted: whoever holds it loses its permissions",
            )),
            _ => None,
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let desired: BTreeMap<String, &Role> = ctx
            .desired
            .roles
            .iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let live: BTreeMap<String, &Role> = when_managed(&ctx.desired.roles, &ctx.live.roles)
            .iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        for (name, d, l) in pair_up(&desired, &live) {
            let key = keys::role(name);
            match (d, l) {
                (Some(d), None) => out.push(
                    Draft::new(
                        KIND,
                        key,
                        Action::Create,
                        Op::CreateRole {
                            name: name.clone(),
                            permissions: d.permissions.clone(),
                            description: d.description.clone(),
                        },
                    )
                    .after(Some(view(d)))
                    .diffed(&["name"]),
                ),
                (Some(d), Some(l)) => {
                    if let Some(update) = update(d, l) {
                        out.push(
                            Draft::new(
                                KIND,
                                key,
                                Action::Update,
                                Op::UpdateRole {
                                    name: name.clone(),
                                    update,
                                },
                            )
                            .before(Some(view(l)))
                            .after(Some(view(d)))
                            .diffed(&["name"]),
                        );
                    }
                }
                (None, Some(l)) => out.unmanaged(
                    ctx.desired.policy.unmanaged.roles,
                    KIND,
                    &key,
                    view(l),
                    || {
                        Draft::new(
                            KIND,
                            key.clone(),
                            Action::Delete,
                            Op::DeleteRole { name: name.clone() },
                        )
                        .before(Some(view(l)))
                    },
                ),
                (None, None) => {}
            }
        }
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::CreateRole { .. } => vec![],
            Op::UpdateRole { name, .. } | Op::DeleteRole { name } => {
                vec![refs::role(name)]
            }
        };
        ids.sort();
        ids.dedup();
        ids
    }

    fn perform<'a>(&'a self, op: &'a Operation, cx: &'a ApplyContext) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let op: Op = op.decode()?;
            let c = &cx.client;
            match &op {
                Op::CreateRole {
                    name,
                    permissions,
                    description,
                } => {
                    let spec = RoleSpec {
                        name: Some(name),
                        permissions: Some(permissions),
                        description: description.as_deref(),
                    };
                    let created = create_or_find(
                        || c.create_org_role(&spec),
                        || async {
                            let all = c.list_org_roles().await?;
                            Ok(all
                                .into_iter()
                                .find(|r| !r.predefined_role && &r.name == name)
                                .map(|r| r.id.0))
                        },
                    )
                    .await
                    .map_err(api)?;
                    Ok(cx.record(&org_role(name), created, |r| r.id.to_string()))
                }
                Op::UpdateRole { name, update } => {
                    let id = RoleId::from(cx.need(&org_role(name))?);
                    let spec = role_update(update);
                    retry_transient(|| c.update_org_role(&id, &spec))
                        .await
                        .map_err(api)?;
                    Ok(Done::Applied(None))
                }
                Op::DeleteRole { name } => {
                    let Some(id) = cx.ids.get(&org_role(name)) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let id = RoleId::from(id);
                    let removal = remove(|| c.delete_org_role(&id)).await.map_err(api)?;
                    cx.ids.forget(&org_role(name));
                    Ok(removed(removal))
                }
            }
        })
    }

    #[cfg(test)]
    fn simulate(&self, op: &Operation, s: &mut crate::kinds::LiveState) {
        let Ok(op) = op.decode::<Op>() else {
            return;
        };
        use super::simulate::*;
        match &op {
            Op::CreateRole {
                name,
                permissions,
                description,
            } => s.org.roles.push(new_role(name, permissions, description)),
            Op::UpdateRole { name, update } => {
                for r in s.org.roles.iter_mut().filter(|r| &r.name == name) {
                    apply_update(r, update);
                }
            }
            Op::DeleteRole { name } => s.org.roles.retain(|r| &r.name != name),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Custom roles are read where the file manages them or assigns them to users or groups
    /// (their IDs resolve the names).
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        Select::all_if(
            doc.roles.is_managed()
                || doc.users.iter().any(|u| u.roles.is_managed())
                || doc.groups.iter().any(|g| g.roles.is_managed()),
        )
    }

    fn read_early_for(&self) -> &'static [&'static str] {
        &["roles"]
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        _parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            one_page(&pages, client.list_org_roles().await?);
            Ok(())
        })
    }

    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(roles) = raw.organization::<WireRole>(KIND) else {
            return;
        };
        for (role, id) in super::wire::custom_roles(&roles) {
            state.ids.set(refs::role(&role.name), id);
            state.org.roles.push(role);
        }
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.roles.iter().map(|r| keys::role(&r.name)).collect()
    }
}

pub(crate) fn role_update(update: &RoleUpdate) -> RoleSpec<'_> {
    RoleSpec {
        name: None,
        permissions: update.permissions.as_deref(),
        // An empty description clears it (live reads it as absent).
        description: match &update.description {
            Some(Some(text)) => Some(text.as_str()),
            Some(None) => Some(""),
            None => None,
        },
    }
}

/// Whether the organization has a custom role (so role assignments can hold something).
pub(crate) fn custom_role_exists(raw: &RawStore) -> bool {
    raw.items::<WireRole>(KIND).any(|(_, r)| !r.predefined_role)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cleared_description_is_sent_empty() {
        let update = RoleUpdate {
            permissions: None,
            description: Some(None),
        };
        let spec = role_update(&update);
        assert_eq!(spec.description, Some(""));
        assert!(spec.permissions.is_none());
    }

    /// The operation travels as JSON (plans, saved plans): clearing survives the trip.
    #[test]
    fn a_cleared_description_survives_serialization() {
        let op = Op::UpdateRole {
            name: "r".into(),
            update: RoleUpdate {
                permissions: None,
                description: Some(None),
            },
        };
        let back: Op = Operation::from(op.clone()).decode().expect("decodes");
        assert_eq!(back, op);
        let unchanged = Op::UpdateRole {
            name: "r".into(),
            update: RoleUpdate::default(),
        };
        let back: Op = Operation::from(unchanged.clone())
            .decode()
            .expect("decodes");
        assert_eq!(back, unchanged);
    }
}
