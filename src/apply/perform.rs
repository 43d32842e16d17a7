//! One change = the API calls of its [`Operation`], through the [`safe`](super::safe)
//! protocol. IDs come from [`Ids`]; objects this change creates are recorded there for its
//! dependents. A removal whose target has no ID (it is not live) or answers 404 is already
//! satisfied.

use std::collections::BTreeMap;

use super::report::Outcome;
use super::resolve::Ids;
use super::safe::{
    self, Created, Removal, create_or_find, find_then_create, remove, retry_transient,
};
use super::secrets::{SinkTarget, Sinks};
use crate::api::projects::NewProject;
use crate::api::role_assignments::Principal;
use crate::api::roles::RoleSpec;
use crate::api::types::{
    ApiKeyId, CertificateId, GroupId, InviteId, ProjectId, RateLimitId, RoleId, ServiceAccountId,
    UserId,
};
use crate::api::{Client, Error, Secret};
use crate::model::{InviteProject, OrgRole, ProjectRole, RateLimit, normalize_email};
use crate::plan::{CertificateScope, Change, IdRef, Operation, RoleUpdate};

/// What every running change shares.
pub(crate) struct Context {
    pub client: Client,
    pub ids: Ids,
    pub sinks: Sinks,
    pub certificate_pems: BTreeMap<String, String>,
}

/// A change that went through.
enum Done {
    Applied(Option<String>),
    Already(String),
}

type Step = Result<Done, String>;

fn api(error: Error) -> String {
    error.to_string()
}

const GONE: &str = "already gone";

fn removed(removal: Removal) -> Done {
    match removal {
        Removal::Removed => Done::Applied(None),
        Removal::AlreadyGone => Done::Already(GONE.into()),
    }
}

use crate::kinds::keys::refs::{
    certificate, group, project, project_role, role as org_role, service_account, user,
};

/// Runs one change.
pub(crate) async fn perform(context: &Context, change: &Change) -> Outcome {
    match context.run(&change.op).await {
        Ok(Done::Applied(note)) => Outcome::Applied { note },
        Ok(Done::Already(reason)) => Outcome::AlreadySatisfied { reason },
        Err(error) => Outcome::Failed { error },
    }
}

impl Context {
    /// The ID an addition needs; its absence is an error.
    fn need(&self, reference: &IdRef) -> Result<String, String> {
        self.ids.get(reference).ok_or_else(|| {
            format!(
                "{} has no known ID: it is not live and this run did not create it",
                reference.label()
            )
        })
    }

    /// The IDs a removal needs; `None` when one is unknown (the object is not live).
    fn have(&self, references: &[IdRef]) -> Option<Vec<String>> {
        references.iter().map(|r| self.ids.get(r)).collect()
    }

    async fn run(&self, op: &Operation) -> Step {
        let c = &self.client;
        match op {
            Operation::CreateProject {
                name,
                residency,
                external_key_id,
            } => {
                let new = NewProject {
                    name,
                    residency: residency.as_deref(),
                    external_key_id: external_key_id.as_deref(),
                };
                let created = create_or_find(
                    || c.create_project(&new),
                    || async {
                        let all = c.list_projects(true).await?;
                        let mut same: Vec<_> = all
                            .iter()
                            .filter(|p| p.name.as_deref() == Some(name))
                            .collect();
                        same.sort_by_key(|p| p.is_archived());
                        Ok(same.first().map(|p| p.id.to_string()))
                    },
                )
                .await
                .map_err(api)?;
                Ok(self.record(&project(name), created, |p| p.id.to_string()))
            }
            Operation::UpdateProject {
                name,
                external_key_id,
            } => {
                let id = ProjectId::from(self.need(&project(name))?);
                // An empty value clears the key (live reads it as absent).
                let key = external_key_id.as_deref().unwrap_or("");
                retry_transient(|| c.modify_project(&id, None, Some(key)))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }
            Operation::ArchiveProject { name, id } => {
                // An extra live duplicate is archived by its own ID.
                let Some(id) = id.clone().or_else(|| self.ids.get(&project(name))) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let id = ProjectId::from(id);
                retry_transient(|| c.archive_project(&id))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }

            Operation::SendInvite {
                email,
                role,
                projects,
            } => self.send_invite(email, *role, projects).await,
            Operation::ResendInvite {
                email,
                role,
                projects,
            }
            | Operation::ReplaceInvite {
                email,
                role,
                projects,
            } => {
                let old = crate::kinds::keys::refs::invite(email);
                if let Some(id) = self.ids.get(&old) {
                    let id = InviteId::from(id);
                    remove(|| c.delete_invite(&id)).await.map_err(api)?;
                    self.ids.forget(&old);
                }
                match self.send_invite(email, *role, projects).await? {
                    Done::Already(reason) => Ok(Done::Already(reason)),
                    Done::Applied(note) => Ok(Done::Applied(note)),
                }
            }
            Operation::DeleteInvite { email } => {
                let reference = crate::kinds::keys::refs::invite(email);
                let Some(id) = self.ids.get(&reference) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let id = InviteId::from(id);
                let removal = remove(|| c.delete_invite(&id)).await.map_err(api)?;
                self.ids.forget(&reference);
                Ok(removed(removal))
            }
            Operation::UpdateUserRole { email, role } => {
                let id = UserId::from(self.need(&user(email))?);
                retry_transient(|| c.modify_user_role(&id, *role))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }
            Operation::RemoveUser { email } => {
                let Some(id) = self.ids.get(&user(email)) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let id = UserId::from(id);
                let removal = remove(|| c.delete_user(&id)).await.map_err(api)?;
                self.ids.forget(&user(email));
                Ok(removed(removal))
            }
            Operation::AssignUserRole { email, role } => {
                let uid = UserId::from(self.need(&user(email))?);
                let rid = RoleId::from(self.need(&org_role(role))?);
                self.assign(Principal::User(&uid), &rid).await
            }
            Operation::UnassignUserRole { email, role } => {
                let Some([uid, rid]) = self.have(&[user(email), org_role(role)]).map(two) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (uid, rid) = (UserId::from(uid), RoleId::from(rid));
                let removal = remove(|| c.unassign_role(Principal::User(&uid), &rid))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }

            Operation::CreateGroup { name } => {
                let created = create_or_find(
                    || c.create_group(name),
                    || async {
                        let all = c.list_groups().await?;
                        Ok(all.into_iter().find(|g| &g.name == name).map(|g| g.id.0))
                    },
                )
                .await
                .map_err(api)?;
                Ok(self.record(&group(name), created, |g| g.id.to_string()))
            }
            Operation::DeleteGroup { name } => {
                let Some(id) = self.ids.get(&group(name)) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let id = GroupId::from(id);
                let removal = remove(|| c.delete_group(&id)).await.map_err(api)?;
                self.ids.forget(&group(name));
                Ok(removed(removal))
            }
            Operation::AddGroupMember { group: g, email } => {
                let gid = GroupId::from(self.need(&group(g))?);
                let uid = UserId::from(self.need(&user(email))?);
                let created = create_or_find(
                    || c.add_group_user(&gid, &uid),
                    || async {
                        let members = c.list_group_users(&gid).await?;
                        Ok(members.into_iter().find(|m| m.id == uid).map(|m| m.id.0))
                    },
                )
                .await
                .map_err(api)?;
                Ok(membership(created, "already a member of the group"))
            }
            Operation::RemoveGroupMember { group: g, email } => {
                let Some([gid, uid]) = self.have(&[group(g), user(email)]).map(two) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (gid, uid) = (GroupId::from(gid), UserId::from(uid));
                let removal = remove(|| c.remove_group_user(&gid, &uid))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }
            Operation::AssignGroupRole { group: g, role } => {
                let gid = GroupId::from(self.need(&group(g))?);
                let rid = RoleId::from(self.need(&org_role(role))?);
                self.assign(Principal::Group(&gid), &rid).await
            }
            Operation::UnassignGroupRole { group: g, role } => {
                let Some([gid, rid]) = self.have(&[group(g), org_role(role)]).map(two) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (gid, rid) = (GroupId::from(gid), RoleId::from(rid));
                let removal = remove(|| c.unassign_role(Principal::Group(&gid), &rid))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }

            Operation::CreateRole {
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
                Ok(self.record(&org_role(name), created, |r| r.id.to_string()))
            }
            Operation::UpdateRole { name, update } => {
                let id = RoleId::from(self.need(&org_role(name))?);
                let spec = role_update(update);
                retry_transient(|| c.update_org_role(&id, &spec))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }
            Operation::DeleteRole { name } => {
                let Some(id) = self.ids.get(&org_role(name)) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let id = RoleId::from(id);
                let removal = remove(|| c.delete_org_role(&id)).await.map_err(api)?;
                self.ids.forget(&org_role(name));
                Ok(removed(removal))
            }
            Operation::CreateProjectRole {
                project: p,
                name,
                permissions,
                description,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let spec = RoleSpec {
                    name: Some(name),
                    permissions: Some(permissions),
                    description: description.as_deref(),
                };
                let created = create_or_find(
                    || c.create_project_role(&pid, &spec),
                    || async {
                        let all = c.list_project_roles(&pid).await?;
                        Ok(all
                            .into_iter()
                            .find(|r| !r.predefined_role && &r.name == name)
                            .map(|r| r.id.0))
                    },
                )
                .await
                .map_err(api)?;
                Ok(self.record(&project_role(p, name), created, |r| r.id.to_string()))
            }
            Operation::UpdateProjectRole {
                project: p,
                name,
                update,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let id = RoleId::from(self.need(&project_role(p, name))?);
                let spec = role_update(update);
                retry_transient(|| c.update_project_role(&pid, &id, &spec))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }
            Operation::DeleteProjectRole { project: p, name } => {
                let Some([pid, id]) = self.have(&[project(p), project_role(p, name)]).map(two)
                else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (pid, id) = (ProjectId::from(pid), RoleId::from(id));
                let removal = remove(|| c.delete_project_role(&pid, &id))
                    .await
                    .map_err(api)?;
                self.ids.forget(&project_role(p, name));
                Ok(removed(removal))
            }

            Operation::AddProjectUser {
                project: p,
                email,
                role,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let uid = UserId::from(self.need(&user(email))?);
                let created = create_or_find(
                    || c.add_project_user(&pid, &uid, *role),
                    || async {
                        let members = c.list_project_users(&pid).await?;
                        Ok(members.into_iter().find(|m| m.id == uid).map(|m| m.id.0))
                    },
                )
                .await
                .map_err(api)?;
                if matches!(created, Created::AlreadyThere(_)) {
                    // Someone else added them, perhaps with another role: set ours.
                    retry_transient(|| c.modify_project_user(&pid, &uid, *role))
                        .await
                        .map_err(api)?;
                }
                Ok(membership(created, "already a member of the project"))
            }
            Operation::UpdateProjectUser {
                project: p,
                email,
                role,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let uid = UserId::from(self.need(&user(email))?);
                retry_transient(|| c.modify_project_user(&pid, &uid, *role))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }
            Operation::RemoveProjectUser { project: p, email } => {
                let Some([pid, uid]) = self.have(&[project(p), user(email)]).map(two) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (pid, uid) = (ProjectId::from(pid), UserId::from(uid));
                let removal = remove(|| c.remove_project_user(&pid, &uid))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }
            Operation::AssignProjectUserRole {
                project: p,
                email,
                role,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let uid = UserId::from(self.need(&user(email))?);
                let rid = RoleId::from(self.need(&project_role(p, role))?);
                self.assign(Principal::ProjectUser(&pid, &uid), &rid).await
            }
            Operation::UnassignProjectUserRole {
                project: p,
                email,
                role,
            } => {
                let Some([pid, uid, rid]) = self
                    .have(&[project(p), user(email), project_role(p, role)])
                    .map(three)
                else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (pid, uid, rid) = (ProjectId::from(pid), UserId::from(uid), RoleId::from(rid));
                let removal = remove(|| c.unassign_role(Principal::ProjectUser(&pid, &uid), &rid))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }
            Operation::AddProjectGroup {
                project: p,
                group: g,
                role,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let gid = GroupId::from(self.need(&group(g))?);
                let rid = RoleId::from(role.predefined_role_id());
                let created = create_or_find(
                    || c.add_project_group(&pid, &gid, &rid),
                    || async {
                        let grants = c.list_project_groups(&pid).await?;
                        Ok(grants
                            .into_iter()
                            .find(|x| x.group_id == gid)
                            .map(|x| x.group_id.0))
                    },
                )
                .await
                .map_err(api)?;
                // The group's project role is read back from its role assignments; make sure
                // the role given at grant time is among them (the API may keep it apart).
                let principal = Principal::ProjectGroup(&pid, &gid);
                let assigned = retry_transient(|| c.list_role_assignments(principal))
                    .await
                    .map_err(api)?;
                if !assigned.iter().any(|r| r.id == rid) {
                    self.assign(principal, &rid).await?;
                }
                Ok(membership(created, "the group already has access"))
            }
            Operation::ChangeProjectGroupRole {
                project: p,
                group: g,
                from,
                to,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let gid = GroupId::from(self.need(&group(g))?);
                let principal = Principal::ProjectGroup(&pid, &gid);
                // Grant the new role before taking the old one: no window without access.
                self.assign(principal, &RoleId::from(to.predefined_role_id()))
                    .await?;
                let old = RoleId::from(from.predefined_role_id());
                remove(|| c.unassign_role(principal, &old))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }
            Operation::RemoveProjectGroup {
                project: p,
                group: g,
            } => {
                let Some([pid, gid]) = self.have(&[project(p), group(g)]).map(two) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (pid, gid) = (ProjectId::from(pid), GroupId::from(gid));
                let removal = remove(|| c.remove_project_group(&pid, &gid))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }
            Operation::AssignProjectGroupRole {
                project: p,
                group: g,
                role,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let gid = GroupId::from(self.need(&group(g))?);
                let rid = RoleId::from(self.need(&project_role(p, role))?);
                self.assign(Principal::ProjectGroup(&pid, &gid), &rid).await
            }
            Operation::UnassignProjectGroupRole {
                project: p,
                group: g,
                role,
            } => {
                let Some([pid, gid, rid]) = self
                    .have(&[project(p), group(g), project_role(p, role)])
                    .map(three)
                else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (pid, gid, rid) = (ProjectId::from(pid), GroupId::from(gid), RoleId::from(rid));
                let removal = remove(|| c.unassign_role(Principal::ProjectGroup(&pid, &gid), &rid))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }

            Operation::CreateServiceAccount {
                project: p,
                name,
                role,
                with_key,
            } => self.create_service_account(p, name, *role, *with_key).await,
            Operation::UpdateServiceAccount {
                project: p,
                name,
                role,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let id = ServiceAccountId::from(self.need(&service_account(p, name))?);
                retry_transient(|| c.update_service_account(&pid, &id, None, Some(*role)))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }
            Operation::DeleteServiceAccount {
                project: p,
                id: Some(extra),
                ..
            } => {
                // An extra live duplicate: deleted by its own ID; the managed one stays.
                let pid = ProjectId::from(self.need(&project(p))?);
                let id = ServiceAccountId::from(extra.clone());
                let removal = remove(|| c.delete_service_account(&pid, &id))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }
            Operation::DeleteServiceAccount {
                project: p,
                name,
                id: None,
            } => {
                let Some([pid, id]) = self.have(&[project(p), service_account(p, name)]).map(two)
                else {
                    return Ok(Done::Already(GONE.into()));
                };
                let (pid, id) = (ProjectId::from(pid), ServiceAccountId::from(id));
                let removal = remove(|| c.delete_service_account(&pid, &id))
                    .await
                    .map_err(api)?;
                self.ids.forget(&service_account(p, name));
                Ok(removed(removal))
            }

            Operation::UpdateRateLimit {
                project: p,
                model,
                fields,
            } => {
                let pid = ProjectId::from(self.need(&project(p))?);
                let reference = crate::kinds::keys::refs::rate_limit(p, model);
                if self.ids.get(&reference).is_none() {
                    // A project created by this run: its rows exist now; learn their IDs.
                    let rows = retry_transient(|| c.list_rate_limits(&pid))
                        .await
                        .map_err(api)?;
                    for row in rows {
                        let row_ref = crate::kinds::keys::refs::rate_limit(p, &row.model);
                        self.ids.record(&row_ref, row.id.as_str());
                    }
                }
                let id = RateLimitId::from(self.need(&reference)?);
                let limits = rate_limit_fields(fields)?;
                retry_transient(|| c.update_rate_limit(&pid, &id, &limits))
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }

            Operation::UploadCertificate { name, file } => {
                let Some(pem) = self.certificate_pems.get(name) else {
                    return Err(format!(
                        "the certificate file {file} of `{name}` was not read from the desired state"
                    ));
                };
                let created = create_or_find(
                    || c.upload_certificate(name, pem),
                    || async {
                        let all = c.list_certificates().await?;
                        Ok(all
                            .into_iter()
                            .find(|x| x.name.as_deref() == Some(name))
                            .map(|x| x.id.0))
                    },
                )
                .await
                .map_err(api)?;
                Ok(self.record(&certificate(name), created, |x| x.id.to_string()))
            }
            Operation::DeleteCertificate { name } => {
                let Some(id) = self.ids.get(&certificate(name)) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let id = CertificateId::from(id);
                let removal = remove(|| c.delete_certificate(&id)).await.map_err(api)?;
                self.ids.forget(&certificate(name));
                Ok(removed(removal))
            }
            Operation::ActivateCertificates { scope, names } => {
                let ids = names
                    .iter()
                    .map(|n| self.need(&certificate(n)).map(CertificateId::from))
                    .collect::<Result<Vec<_>, _>>()?;
                self.toggle_certificates(scope, &ids, true).await
            }
            Operation::DeactivateCertificates { scope, names } => {
                // Certificates already deleted are inactive everywhere.
                let ids: Vec<CertificateId> = names
                    .iter()
                    .filter_map(|n| self.ids.get(&certificate(n)).map(CertificateId::from))
                    .collect();
                if ids.is_empty() {
                    return Ok(Done::Already(GONE.into()));
                }
                self.toggle_certificates(scope, &ids, false).await
            }

            Operation::CreateAdminApiKey {
                name,
                expires_in_days,
            } => self.create_admin_api_key(name, *expires_in_days).await,
            Operation::DeleteAdminApiKey { name, id: extra } => {
                let reference = crate::kinds::keys::refs::admin_api_key(name);
                // An extra live duplicate is deleted by its own ID.
                let Some(id) = extra.clone().or_else(|| self.ids.get(&reference)) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let id = ApiKeyId::from(id);
                let keys = retry_transient(|| c.list_admin_api_keys())
                    .await
                    .map_err(api)?;
                let in_use = keys.iter().any(|k| {
                    k.id == id
                        && k.redacted_value
                            .as_deref()
                            .is_some_and(|r| c.key_matches_redacted(r))
                });
                if in_use {
                    return Err(format!(
                        "refusing to delete admin API key `{name}`: it looks like the key this run uses"
                    ));
                }
                let removal = remove(|| c.delete_admin_api_key(&id)).await.map_err(api)?;
                if extra.is_none() {
                    self.ids.forget(&reference);
                }
                Ok(removed(removal))
            }
            Operation::Kind {
                kind,
                project: p,
                id: Some(key_id),
                value: None,
            } if kind == crate::kinds::project_api_keys::NAME => {
                let Some(p) = p else {
                    return Err("a project API key needs its project".into());
                };
                let Some(pid) = self.ids.get(&project(p)) else {
                    return Ok(Done::Already(GONE.into()));
                };
                let removal = remove(|| crate::kinds::project_api_keys::delete(c, &pid, key_id))
                    .await
                    .map_err(api)?;
                Ok(removed(removal))
            }
            Operation::Kind {
                kind,
                project: p,
                id,
                value,
            } if kind == crate::kinds::spend_alerts::ORG
                || kind == crate::kinds::spend_alerts::PROJECT =>
            {
                let pid = match p {
                    Some(p) => match self.ids.get(&project(p)) {
                        Some(pid) => Some(pid),
                        None if value.is_none() => return Ok(Done::Already(GONE.into())),
                        None => return Err(format!("project {p:?} has no known ID")),
                    },
                    None => None,
                };
                let pid = pid.as_deref();
                match (value, id) {
                    (Some(value), id) => {
                        crate::kinds::spend_alerts::write(c, pid, id.as_deref(), value)
                            .await
                            .map_err(api)?;
                        Ok(Done::Applied(None))
                    }
                    (None, Some(id)) => {
                        let removal = remove(|| crate::kinds::spend_alerts::delete(c, pid, id))
                            .await
                            .map_err(api)?;
                        Ok(removed(removal))
                    }
                    (None, None) => Err("deleting a spend alert needs its ID".into()),
                }
            }
            Operation::Kind {
                kind,
                project: p,
                value,
                ..
            } => {
                let Some(kind) = crate::kinds::by_name(kind) else {
                    return Err(format!("unknown settings kind {kind:?}"));
                };
                let pid = match p {
                    Some(p) => Some(self.need(&project(p))?),
                    None => None,
                };
                crate::kinds::perform(c, kind, pid.as_deref(), value.as_ref())
                    .await
                    .map_err(api)?;
                Ok(Done::Applied(None))
            }
        }
    }

    /// Records the ID of a created (or found) object.
    fn record<T>(
        &self,
        reference: &IdRef,
        created: Created<T>,
        id_of: impl Fn(&T) -> String,
    ) -> Done {
        match created {
            Created::New(object) => {
                self.ids.record(reference, &id_of(&object));
                Done::Applied(None)
            }
            Created::Landed(id) => {
                self.ids.record(reference, &id);
                Done::Applied(Some(
                    "created (confirmed by a re-read after an unknown outcome)".into(),
                ))
            }
            Created::AlreadyThere(id) => {
                self.ids.record(reference, &id);
                Done::Already("it already exists".into())
            }
        }
    }

    /// Assigns a role, unless the principal already has it.
    async fn assign(&self, principal: Principal<'_>, role: &RoleId) -> Step {
        let c = &self.client;
        let created = create_or_find(
            || c.assign_role(principal, role),
            || async {
                let assigned = c.list_role_assignments(principal).await?;
                Ok(assigned.into_iter().find(|r| &r.id == role).map(|r| r.id.0))
            },
        )
        .await
        .map_err(api)?;
        Ok(membership(created, "the role is already assigned"))
    }

    async fn send_invite(&self, email: &str, role: OrgRole, projects: &[InviteProject]) -> Step {
        let c = &self.client;
        let grants = projects
            .iter()
            .map(|p| Ok((ProjectId::from(self.need(&project(&p.name))?), p.role)))
            .collect::<Result<Vec<(ProjectId, ProjectRole)>, String>>()?;
        let email_key = normalize_email(email);
        let created = create_or_find(
            || c.create_invite(email, role, &grants),
            || async {
                let invites = c.list_invites().await?;
                Ok(invites
                    .into_iter()
                    .find(|i| {
                        normalize_email(&i.email) == email_key && i.status.as_str() == "pending"
                    })
                    .map(|i| i.id.0))
            },
        )
        .await;
        let reference = crate::kinds::keys::refs::invite(&email_key);
        match created {
            Ok(Created::New(invite)) => {
                self.ids.record(&reference, invite.id.as_str());
                Ok(Done::Applied(None))
            }
            Ok(Created::Landed(id)) => {
                self.ids.record(&reference, &id);
                Ok(Done::Applied(None))
            }
            Ok(Created::AlreadyThere(id)) => {
                self.ids.record(&reference, &id);
                Ok(Done::Already("already invited".into()))
            }
            Err(error) if error.status() == Some(400) => {
                // Someone who joined meanwhile needs no invite.
                let users = retry_transient(|| c.list_users()).await.map_err(api)?;
                let member = users
                    .iter()
                    .any(|u| u.email.as_deref().map(normalize_email).as_ref() == Some(&email_key));
                if member {
                    Ok(Done::Already("already a member of the organization".into()))
                } else {
                    Err(api(error))
                }
            }
            Err(error) => Err(api(error)),
        }
    }

    async fn create_service_account(
        &self,
        p: &str,
        name: &str,
        role: ProjectRole,
        with_key: bool,
    ) -> Step {
        let c = &self.client;
        let sink = if with_key {
            let sink = self.sinks.service_account(p, name).ok_or_else(|| {
                format!(
                    "a key is requested for service account `{name}` but the desired state declares no sink for it"
                )
            })?;
            sink.check().map_err(|e| e.to_string())?;
            Some(sink)
        } else {
            None
        };
        let pid = ProjectId::from(self.need(&project(p))?);
        let created = find_then_create(
            || c.create_service_account(&pid, name, with_key),
            || async {
                let all = c.list_service_accounts(&pid).await?;
                Ok(all.into_iter().find(|s| s.name == name).map(|s| s.id.0))
            },
        )
        .await
        .map_err(api)?;
        let (id, role_now, key, already) = match created {
            Created::New(account) => (
                account.id.clone(),
                Some(account.role.as_str().to_string()),
                account.api_key.map(|k| k.value),
                false,
            ),
            Created::Landed(id) => (ServiceAccountId::from(id), None, None, false),
            Created::AlreadyThere(id) => (ServiceAccountId::from(id), None, None, true),
        };
        self.ids.record(&service_account(p, name), id.as_str());
        // Created with a key the account is a `member`, without one it has no role: set the
        // declared role unless it already is.
        if role_now.as_deref() != Some(role.as_str()) {
            retry_transient(|| c.update_service_account(&pid, &id, None, Some(role)))
                .await
                .map_err(api)?;
        }
        let Some(sink) = sink else {
            return Ok(if already {
                Done::Already("it already exists".into())
            } else {
                Done::Applied(None)
            });
        };
        let (key, lost) = match key.filter(|k| !k.expose().is_empty()) {
            Some(key) => (key, 0),
            // The key of a create whose answer was lost is gone for good: mint another.
            None => self.mint_service_account_key(&pid, &id).await?,
        };
        let mut note = match deliver(sink, &key).await {
            Ok(note) => note,
            // Nobody holds this account's key: an account left behind would make the next
            // plan empty. Delete the account this run created, so the next plan creates it
            // again (and its sink gets a key).
            Err(e) if !already => {
                return Err(match remove(|| c.delete_service_account(&pid, &id)).await {
                    Ok(_) => format!(
                        "service account `{name}` was created, but {e}; it was deleted again (nobody holds its key): fix the sink and apply again"
                    ),
                    Err(error) => format!(
                        "service account `{name}` was created, but {e}; deleting it failed too ({}): delete it, fix the sink and apply again",
                        api(error)
                    ),
                });
            }
            Err(e) => {
                return Err(format!(
                    "service account `{name}` already existed and got a new key, but {e}; delete the account, fix the sink and apply again"
                ));
            }
        };
        if lost > 0 {
            note.push_str(&format!(
                "; {lost} earlier key(s) of this account whose value was lost in transit may exist: delete them"
            ));
        }
        Ok(Done::Applied(Some(note)))
    }

    /// A new key for an existing account; also counts attempts whose key may have been
    /// created but never received.
    async fn mint_service_account_key(
        &self,
        pid: &ProjectId,
        id: &ServiceAccountId,
    ) -> Result<(Secret, u32), String> {
        let mut lost = 0;
        loop {
            match self.client.create_service_account_key(pid, id, None).await {
                Ok(key) if !key.value.expose().is_empty() => return Ok((key.value, lost)),
                Ok(_) => {
                    return Err("the API returned a service-account key without a value".into());
                }
                Err(error) if error.is_ambiguous() && lost + 1 < safe::MAX_CREATE_ROUNDS => {
                    lost += 1;
                }
                Err(error) => return Err(api(error)),
            }
        }
    }

    async fn create_admin_api_key(&self, name: &str, expires_in_days: Option<u32>) -> Step {
        let c = &self.client;
        let sink = self.sinks.admin_api_key(name);
        if let Some(sink) = sink {
            sink.check().map_err(|e| e.to_string())?;
        }
        let seconds = expires_in_days.map(|d| u64::from(d) * 86_400);
        let reference = crate::kinds::keys::refs::admin_api_key(name);
        let mut orphans = 0;
        loop {
            let created = find_then_create(
                || c.create_admin_api_key(name, seconds),
                || async {
                    let all = c.list_admin_api_keys().await?;
                    Ok(all
                        .into_iter()
                        .find(|k| k.name.as_deref() == Some(name))
                        .map(|k| k.id.0))
                },
            )
            .await
            .map_err(api)?;
            match created {
                Created::New(key) => {
                    self.ids.record(&reference, key.key.id.as_str());
                    let note = match sink {
                        Some(sink) => match deliver(sink, &key.value).await {
                            Ok(note) => note,
                            // A key nobody holds must not stay: the next plan would be empty.
                            // Delete it, so the next plan creates it again.
                            Err(e) => {
                                let id = key.key.id.clone();
                                return Err(match remove(|| c.delete_admin_api_key(&id)).await {
                                    Ok(_) => format!(
                                        "admin API key `{name}` was created, but {e}; it was deleted again (nobody holds it): fix the sink and apply again"
                                    ),
                                    Err(error) => format!(
                                        "admin API key `{name}` was created, but {e}; deleting it failed too ({}): delete it, fix the sink and apply again",
                                        api(error)
                                    ),
                                });
                            }
                        },
                        None => "no sink is declared: the key's value was not kept".to_string(),
                    };
                    return Ok(Done::Applied(Some(note)));
                }
                Created::Landed(id) => {
                    // It exists but nobody received its value: delete it and create it again,
                    // so the sink gets a key that works.
                    let id = ApiKeyId::from(id);
                    remove(|| c.delete_admin_api_key(&id)).await.map_err(api)?;
                    orphans += 1;
                    if orphans >= safe::MAX_CREATE_ROUNDS {
                        return Err(format!(
                            "admin API key `{name}`: every create's answer was lost; try again later"
                        ));
                    }
                }
                Created::AlreadyThere(id) => {
                    self.ids.record(&reference, &id);
                    return Ok(Done::Already(
                        "an admin API key with this name already exists".into(),
                    ));
                }
            }
        }
    }

    async fn toggle_certificates(
        &self,
        scope: &CertificateScope,
        ids: &[CertificateId],
        activate: bool,
    ) -> Step {
        let c = &self.client;
        match scope {
            CertificateScope::Organization => {
                if activate {
                    retry_transient(|| c.activate_certificates(ids)).await
                } else {
                    retry_transient(|| c.deactivate_certificates(ids)).await
                }
            }
            CertificateScope::Project(p) => {
                let pid = ProjectId::from(self.need(&project(p))?);
                if activate {
                    retry_transient(|| c.activate_project_certificates(&pid, ids)).await
                } else {
                    retry_transient(|| c.deactivate_project_certificates(&pid, ids)).await
                }
            }
        }
        .map_err(api)?;
        Ok(Done::Applied(None))
    }
}

/// An addition of a membership or assignment (no ID of its own to record).
fn membership<T>(created: Created<T>, already: &str) -> Done {
    match created {
        Created::New(_) | Created::Landed(_) => Done::Applied(None),
        Created::AlreadyThere(_) => Done::Already(already.to_string()),
    }
}

async fn deliver(sink: &SinkTarget, key: &Secret) -> Result<String, String> {
    sink.deliver(key).await.map_err(|e| e.to_string())
}

fn role_update(update: &RoleUpdate) -> RoleSpec<'_> {
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

fn rate_limit_fields(fields: &BTreeMap<String, u64>) -> Result<RateLimit, String> {
    let mut limits = RateLimit::default();
    for (field, &value) in fields {
        let slot = match field.as_str() {
            "max_requests_per_1_minute" => &mut limits.max_requests_per_1_minute,
            "max_tokens_per_1_minute" => &mut limits.max_tokens_per_1_minute,
            "max_images_per_1_minute" => &mut limits.max_images_per_1_minute,
            "max_audio_megabytes_per_1_minute" => &mut limits.max_audio_megabytes_per_1_minute,
            "max_requests_per_1_day" => &mut limits.max_requests_per_1_day,
            "batch_1_day_max_input_tokens" => &mut limits.batch_1_day_max_input_tokens,
            other => return Err(format!("unknown rate-limit field `{other}`")),
        };
        *slot = Some(value);
    }
    Ok(limits)
}

fn two(ids: Vec<String>) -> [String; 2] {
    let mut it = ids.into_iter();
    [it.next().unwrap_or_default(), it.next().unwrap_or_default()]
}

fn three(ids: Vec<String>) -> [String; 3] {
    let mut it = ids.into_iter();
    [
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
        it.next().unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_fields_map_by_api_name_and_unknown_ones_are_refused() {
        let fields = BTreeMap::from([
            ("max_requests_per_1_minute".to_string(), 500),
            ("batch_1_day_max_input_tokens".to_string(), 7),
        ]);
        let limits = rate_limit_fields(&fields).expect("known");
        assert_eq!(limits.max_requests_per_1_minute, Some(500));
        assert_eq!(limits.batch_1_day_max_input_tokens, Some(7));
        assert_eq!(limits.max_tokens_per_1_minute, None);
        let bad = BTreeMap::from([("max_unicorns".to_string(), 1)]);
        assert!(rate_limit_fields(&bad).is_err());
    }

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
}
