//! Live duplicates of a natural key (two admin API keys, two active projects, two groups, or
//! two service accounts of one project, of one name; see [`super::LiveState::duplicates`]). The
//! oldest is the one the plan manages; every extra one is shown, never silently picked or
//! ignored by the diff: its kind's `policy.unmanaged` decides, as for any object the file
//! does not declare. `report` lists it (key `<natural key> (duplicate <id>)`, object with
//! `id` and `duplicate_of`); `remove` (`archive` for projects) plans the removal of that
//! one object by its ID; `ignore` says nothing.

use serde_json::json;

use super::DuplicateKind;
use super::context::{Context, Draft, Output};
use super::keys;
use super::{Action, ResourceKind, UnmanagedObject};
use crate::model::UnmanagedProjectAction;

/// The extra live objects of `kind` (called by that kind's diff).
pub(crate) fn diff(kind: DuplicateKind, ctx: &Context<'_>, out: &mut Output) {
    let policy = &ctx.desired.policy.unmanaged;
    for dup in ctx.state.duplicates.iter().filter(|d| d.kind == kind) {
        let view = json!({ "name": dup.name, "id": dup.extra, "duplicate_of": dup.kept });
        match dup.kind {
            DuplicateKind::AdminApiKey => {
                let key = format!(
                    "{} (duplicate {})",
                    keys::admin_api_key(&dup.name),
                    dup.extra
                );
                out.unmanaged(
                    policy.admin_api_keys,
                    ResourceKind::AdminApiKey,
                    &key,
                    view.clone(),
                    || {
                        Draft::new(
                            ResourceKind::AdminApiKey,
                            key.clone(),
                            Action::Delete,
                            super::admin_api_key::Op::DeleteAdminApiKey {
                                name: dup.name.clone(),
                                id: Some(dup.extra.clone()),
                            },
                        )
                        .before(Some(view.clone()))
                    },
                );
            }
            DuplicateKind::ServiceAccount => {
                let project = dup.project.clone().unwrap_or_default();
                let key = format!(
                    "{} (duplicate {})",
                    keys::service_account(&project, &dup.name),
                    dup.extra
                );
                let view = json!({
                    "project": project, "name": dup.name, "id": dup.extra, "duplicate_of": dup.kept
                });
                out.unmanaged(
                    policy.service_accounts,
                    ResourceKind::ServiceAccount,
                    &key,
                    view.clone(),
                    || {
                        Draft::new(
                            ResourceKind::ServiceAccount,
                            key.clone(),
                            Action::Delete,
                            super::service_account::Op::DeleteServiceAccount {
                                project: project.clone(),
                                name: dup.name.clone(),
                                id: Some(dup.extra.clone()),
                            },
                        )
                        .before(Some(view.clone()))
                    },
                );
            }
            DuplicateKind::Group => {
                let key = format!("{} (duplicate {})", keys::group(&dup.name), dup.extra);
                out.unmanaged(
                    policy.groups,
                    ResourceKind::Group,
                    &key,
                    view.clone(),
                    || {
                        Draft::new(
                            ResourceKind::Group,
                            key.clone(),
                            Action::Delete,
                            super::group::Op::DeleteGroup {
                                name: dup.name.clone(),
                                id: Some(dup.extra.clone()),
                            },
                        )
                        .before(Some(view.clone()))
                    },
                );
            }
            DuplicateKind::Project => {
                let key = format!("{} (duplicate {})", keys::project(&dup.name), dup.extra);
                match policy.projects {
                    UnmanagedProjectAction::Report => out.unmanaged.push(UnmanagedObject {
                        note: None,
                        kind: ResourceKind::Project,
                        key,
                        object: view,
                    }),
                    UnmanagedProjectAction::Archive => out.push(
                        Draft::new(
                            ResourceKind::Project,
                            key.clone(),
                            Action::Archive,
                            super::project::Op::ArchiveProject {
                                name: dup.name.clone(),
                                id: Some(dup.extra.clone()),
                            },
                        )
                        .before(Some(view)),
                    ),
                    UnmanagedProjectAction::Ignore => {}
                }
            }
        }
    }
}
