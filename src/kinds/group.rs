//! Organization groups, key `group:<name>`. Only created or deleted (a rename is a new
//! natural key); members and roles are their own kinds. Undeclared groups follow
//! `policy.unmanaged.groups`; their members and roles are not examined.

use super::LiveState;
use super::attribution::{Rule, rule};
use super::keys::refs;
use super::read::{PageSink, Parent, RawPage, RawStore, Select, Source, one_page, page_items};
use crate::api::groups::Group as WireGroup;
use crate::api::{Client, Error};
use crate::model::Document as ReadDocument;
use std::collections::BTreeMap as ReadMap;

use std::collections::BTreeMap;

use serde_json::json;

use super::context::{Context, Draft, GateFacts, Output, pair_up, when_managed};
use super::keys;
use super::kind::Kind;
use super::{Action, Operation, ResourceKind};

use serde::{Deserialize, Serialize};

use super::IdRef;
use super::apply::{ApplyContext, BoxFuture, Done, GONE, Step, api, removed};
use super::keys::refs::group;
use crate::api::safe::{create_or_find, remove};
use crate::api::types::GroupId;

const KIND: ResourceKind = ResourceKind::Group;

/// What apply does for a change of this kind (the plan's `operation`).
// The variant names are the operation's `type` in JSON and saved plans.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Op {
    CreateGroup {
        name: String,
    },
    /// `id`: this group exactly (an extra live duplicate of the name).
    DeleteGroup {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

impl From<Op> for Operation {
    fn from(op: Op) -> Operation {
        Operation::of(&op)
    }
}

/// Groups.
pub(crate) struct GroupKind;

impl Kind for GroupKind {
    fn title(&self) -> &'static str {
        "Groups"
    }

    /// A rename is `group.updated`.
    fn incremental(&self) -> Option<super::incremental::Incremental> {
        use super::incremental::Reach;
        Some(super::incremental::pages_of::<WireGroup>(&[(
            "group.updated",
            Reach::Any,
        )]))
    }

    fn attribution(&self) -> Vec<Rule> {
        use super::attribution::{DriftClass::*, Names::*};
        vec![
            rule(Unmanaged, "group.created", Id),
            rule(Missing, "group.deleted", Id),
        ]
    }

    fn unmanaged_policy(&self) -> Option<super::UnmanagedPolicy> {
        Some(super::UnmanagedPolicy {
            key: "groups",
            removes: "remove",
            list: "groups",
            restorable: false,
        })
    }

    fn manages(&self, doc: &crate::model::Document) -> bool {
        doc.groups.is_managed()
    }

    /// A deleted group: its members lose what it was granted.
    fn attention(&self, change: &super::Change) -> Option<super::Attention> {
        let op: Op = change.op.decode().ok()?;
        match &op {
            Op::DeleteGroup { name, .. } => Some(super::Attention::new(
                name,
                "group deleted: its members lose the access and roles it was granted",
            )),
            _ => None,
        }
    }

    fn diff(&self, ctx: &Context<'_>, out: &mut Output) {
        let desired: BTreeMap<String, ()> = ctx
            .desired
            .groups
            .iter()
            .map(|g| (g.name.clone(), ()))
            .collect();
        let live: BTreeMap<String, &crate::model::Group> =
            when_managed(&ctx.desired.groups, &ctx.live.groups)
                .iter()
                .map(|g| (g.name.clone(), g))
                .collect();
        for (name, d, l) in pair_up(&desired, &live) {
            let key = keys::group(name);
            let view = json!({ "name": name });
            match (d, l) {
                (Some(()), None) => out.push(
                    Draft::new(
                        KIND,
                        key,
                        Action::Create,
                        Op::CreateGroup { name: name.clone() },
                    )
                    .after(Some(view)),
                ),
                (None, Some(_)) => {
                    // The group's own fields only (its members and roles are read only where the
                    // file manages them).
                    out.unmanaged(
                        ctx.desired.policy.unmanaged.groups,
                        KIND,
                        &key,
                        view.clone(),
                        || {
                            Draft::new(
                                KIND,
                                key.clone(),
                                Action::Delete,
                                Op::DeleteGroup {
                                    name: name.clone(),
                                    id: None,
                                },
                            )
                            .before(Some(view))
                        },
                    )
                }
                _ => {}
            }
        }
        let extras = super::duplicates::Extras {
            kind: ResourceKind::Group,
            policy: ctx.desired.policy.unmanaged.groups,
            key: &|dup| keys::group(&dup.name),
            removal: &|dup, key, _| {
                Draft::new(
                    ResourceKind::Group,
                    key,
                    Action::Delete,
                    Op::DeleteGroup {
                        name: dup.name.clone(),
                        id: Some(dup.extra.clone()),
                    },
                )
            },
        };
        super::duplicates::diff(extras, ctx, out);
    }

    fn id_refs(&self, op: &Operation) -> Vec<IdRef> {
        let Ok(op) = op.decode::<Op>() else {
            return Vec::new();
        };
        let mut ids = match &op {
            Op::CreateGroup { .. } => vec![],
            Op::DeleteGroup { name, id: None } => vec![group(name)],
            Op::DeleteGroup { id: Some(_), .. } => vec![],
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
                Op::CreateGroup { name } => {
                    let created = create_or_find(
                        || c.create_group(name),
                        || async {
                            let all = c.list_groups().await?;
                            Ok(all.into_iter().find(|g| &g.name == name).map(|g| g.id.0))
                        },
                    )
                    .await
                    .map_err(api)?;
                    Ok(cx.record(&group(name), created, |g| g.id.to_string()))
                }
                Op::DeleteGroup {
                    name,
                    id: Some(extra),
                } => {
                    // A duplicate: that one group; the name's kept group stays known.
                    let _ = name;
                    let id = GroupId::from(extra.clone());
                    let removal = remove(|| c.delete_group(&id)).await.map_err(api)?;
                    Ok(removed(removal))
                }
                Op::DeleteGroup { name, id: None } => {
                    let Some(id) = cx.ids.get(&group(name)) else {
                        return Ok(Done::Already(GONE.into()));
                    };
                    let id = GroupId::from(id);
                    let removal = remove(|| c.delete_group(&id)).await.map_err(api)?;
                    cx.ids.forget(&group(name));
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
            Op::CreateGroup { name } => s.org.groups.push(Group {
                name: name.clone(),
                members: vec![].into(),
                roles: vec![].into(),
            }),
            Op::DeleteGroup { id: Some(_), .. } => {}
            Op::DeleteGroup { name, id: None } => {
                s.org.groups.retain(|g| &g.name != name);
                for p in &mut s.org.projects {
                    p.groups.retain(|g| &g.name != name);
                }
            }
        }
    }

    fn gate_facts(&self, ctx: &Context<'_>, change: &Draft) -> GateFacts {
        match change.op.decode::<Op>() {
            Ok(Op::DeleteGroup { name, .. }) => GateFacts {
                protected: ctx.desired.policy.protect.groups.contains(&name),
                ..GateFacts::default()
            },
            _ => GateFacts::default(),
        }
    }

    fn source(&self) -> Option<Source> {
        Some(Source::organization())
    }

    /// Groups are read where the file manages them or gives them access to a project.
    fn scope(&self, doc: &ReadDocument) -> Select<String> {
        let project_groups = doc
            .projects
            .iter()
            .filter(|p| !p.archived)
            .any(|p| p.groups.is_managed());
        Select::all_if(doc.groups.is_managed() || project_groups)
    }

    fn read_early_for(&self) -> &'static [&'static str] {
        &["groups"]
    }

    fn fetch<'a>(
        &'a self,
        client: &'a Client,
        _parent: Option<&'a Parent>,
        pages: PageSink,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            one_page(&pages, client.list_groups().await?);
            Ok(())
        })
    }

    fn parents(&self, _of: Option<&Parent>, page: &RawPage) -> Vec<Parent> {
        page_items::<WireGroup>(page)
            .iter()
            .map(|g| Parent {
                key: keys::group(&g.name),
                names: vec![g.name.clone()],
                ids: vec![g.id.to_string()],
            })
            .collect()
    }

    fn normalize(&self, raw: &RawStore, state: &mut LiveState) {
        let Some(groups) = raw.organization::<WireGroup>(KIND) else {
            return;
        };
        // The oldest of a name is the one the plan manages (same second: the smaller id);
        // every other is a live duplicate, shown by the plan (`super::duplicates`).
        let mut ordered: Vec<&WireGroup> = groups.to_vec();
        ordered.sort_by_key(|g| (g.created_at.unwrap_or(0), g.id.to_string()));
        let mut out: ReadMap<String, crate::model::Group> = BTreeMap::new();
        for group in ordered {
            if out.contains_key(&group.name) {
                let kept = state
                    .ids
                    .get(&refs::group(&group.name))
                    .cloned()
                    .unwrap_or_default();
                state.duplicates.push(super::LiveDuplicate {
                    kind: ResourceKind::Group,
                    project: None,
                    name: group.name.clone(),
                    kept,
                    extra: group.id.to_string(),
                });
                continue;
            }
            state
                .ids
                .set(refs::group(&group.name), group.id.to_string());
            out.insert(
                group.name.clone(),
                crate::model::Group {
                    name: group.name.clone(),
                    members: Vec::new().into(),
                    roles: Vec::new().into(),
                },
            );
        }
        state.org.groups = out.into_values().collect();
    }

    fn declared_keys(&self, doc: &ReadDocument) -> Vec<String> {
        doc.groups.iter().map(|g| keys::group(&g.name)).collect()
    }
}
