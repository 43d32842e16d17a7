//! The live read: lists every collection in the [`ReadScope`] exactly once, as concurrently
//! as their dependencies allow, then normalises them ([`super::normalize`]).
//!
//! The read is a small dataflow: the organization collections start at once; when the
//! project list arrives, each needed project's sub-collections start; when the group list
//! arrives, the needed group member and role lists start; when a project's member or group
//! list arrives, the needed per-principal role lists start. Every list is a task on a
//! `JoinSet`; the shared rate-limit controller bounds what is actually in flight. Pages are
//! reported back over a channel so progress is drawn from this task only.
//!
//! A [`Prefetch`] lets `plan` start organization lists before the scope is known (while the
//! file loads); the reader joins those in scope instead of starting them again and aborts
//! the others.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::LiveState;
use super::normalize::{Raw, normalize};
use super::progress::Progress;
use crate::api::admin_api_keys::AdminApiKey;
use crate::api::certificates::Certificate;
use crate::api::groups::{Group, GroupUser, ProjectGroup};
use crate::api::invites::Invite;
use crate::api::project_users::ProjectUser;
use crate::api::projects::Project;
use crate::api::rate_limits::RateLimit;
use crate::api::role_assignments::Principal;
use crate::api::service_accounts::ServiceAccount;
use crate::api::types::{AssignedRole, GroupId, ProjectId, Role, UserId};
use crate::api::users::User;
use crate::api::{Client, Error, PageObserver};
use crate::kinds::ReadScope;
use crate::model::normalize_email;

/// One finished listing.
enum Fetched {
    Users(Vec<User>),
    Invites(Vec<Invite>),
    /// Every page of projects was handed to `Reader::projects_page`.
    ProjectsListed,
    Groups(Vec<Group>),
    OrgRoles(Vec<Role>),
    Certificates(Vec<Certificate>),
    AdminApiKeys(Vec<AdminApiKey>),
    UserRoles(UserId, Vec<AssignedRole>),
    GroupUsers(GroupId, Vec<GroupUser>),
    GroupRoles(GroupId, Vec<AssignedRole>),
    ProjectUsers(ProjectId, Vec<ProjectUser>),
    ProjectUserRoles(ProjectId, UserId, Vec<AssignedRole>),
    ProjectGroups(ProjectId, Vec<ProjectGroup>),
    ProjectGroupRoles(ProjectId, GroupId, Vec<AssignedRole>),
    ServiceAccounts(ProjectId, Vec<ServiceAccount>),
    ProjectRoles(ProjectId, Vec<Role>),
    RateLimits(ProjectId, Vec<RateLimit>),
    ProjectCertificates(ProjectId, Vec<Certificate>),
    /// A settings kind (`crate::kinds`) of a project (or the organization): the value in the
    /// file's shape, `None` at the API's default.
    Setting(
        &'static crate::kinds::SettingKind,
        Option<ProjectId>,
        Option<serde_json::Value>,
    ),
    ProjectApiKeys(ProjectId, Vec<crate::kinds::project_api_keys::LiveKey>),
    SpendAlerts(
        Option<ProjectId>,
        Vec<crate::kinds::spend_alerts::LiveAlert>,
    ),
}

/// Forwards page events from the list tasks to the reading task.
struct ChannelObserver(mpsc::UnboundedSender<bool>);

impl PageObserver for ChannelObserver {
    fn page_fetched(&self, has_more: bool) {
        // The receiver lives as long as the read; a send after it ends has nobody to tell.
        let _ = self.0.send(has_more);
    }
}

/// Reads the live organization: the collections `scope` selects, each listed once at the
/// largest page size, independent ones concurrently. Progress counts requests (pages).
///
/// Point it anywhere with `Client::new(ClientConfig::new(base_url, Secret::new(key)))`.
pub async fn read(
    client: &Client,
    scope: &ReadScope,
    progress: &dyn Progress,
) -> Result<LiveState, Error> {
    read_announcing(client, scope, progress, &|_| {}).await
}

/// The per-principal role-assignment lists a read with
/// [`ReadScope::only_where_assignable`] found it needs, counted before they start (one
/// request each: a principal holds a handful of roles, far below a page).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssignmentReads {
    /// `GET /organization/users/{id}/roles`, when the organization has a custom role.
    pub users: u64,
    /// `GET /organization/groups/{id}/roles`, when the organization has a custom role.
    pub groups: u64,
    /// `GET /projects/{id}/users/{id}/roles`, for the members of projects with a custom role.
    pub project_members: u64,
    /// Lists that could hold something but the scope leaves out (`--skip-role-assignments`).
    pub skipped: u64,
}

impl AssignmentReads {
    pub fn total(&self) -> u64 {
        self.users + self.groups + self.project_members
    }

    /// The most requests any one route needs (routes are rate-limited separately).
    pub fn longest_route(&self) -> u64 {
        self.users.max(self.groups).max(self.project_members)
    }
}

/// Organization lists started before the scope is known (while the desired file loads), for
/// [`read_prefetched`] to use instead of starting them again. Only lists the scope is sure
/// to need should be started (see `ops::plan`); a list the scope turns out not to read is
/// aborted when the read starts, and dropping an unused `Prefetch` aborts them all.
pub struct Prefetch {
    pages: mpsc::UnboundedReceiver<bool>,
    users: Option<tokio::task::JoinHandle<Result<Vec<User>, Error>>>,
    invites: Option<tokio::task::JoinHandle<Result<Vec<Invite>, Error>>>,
    groups: Option<tokio::task::JoinHandle<Result<Vec<Group>, Error>>>,
    roles: Option<tokio::task::JoinHandle<Result<Vec<Role>, Error>>>,
    admin_api_keys: Option<tokio::task::JoinHandle<Result<Vec<AdminApiKey>, Error>>>,
    /// The projects list, page by page as it arrives (the reader starts each page's own
    /// lists), and the list's end.
    projects: Option<ProjectPages>,
}

/// A projects list running on its own: its end, and its pages as they arrive.
type ProjectPages = (
    tokio::task::JoinHandle<Result<(), Error>>,
    mpsc::UnboundedReceiver<Vec<Project>>,
);

/// Which organization lists to prefetch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefetchLists {
    pub users: bool,
    pub invites: bool,
    pub groups: bool,
    pub roles: bool,
    pub admin_api_keys: bool,
    pub projects: bool,
}

impl Prefetch {
    /// Starts `lists` on `runtime` at once.
    pub fn start(
        client: &Client,
        lists: PrefetchLists,
        runtime: &tokio::runtime::Handle,
    ) -> Prefetch {
        let (sender, pages) = mpsc::unbounded_channel();
        let client = client.with_page_observer(Arc::new(ChannelObserver(sender)));
        let c = || client.clone();
        Prefetch {
            pages,
            users: lists.users.then(|| {
                let c = c();
                runtime.spawn(async move { c.list_users().await })
            }),
            invites: lists.invites.then(|| {
                let c = c();
                runtime.spawn(async move { c.list_invites().await })
            }),
            groups: lists.groups.then(|| {
                let c = c();
                runtime.spawn(async move { c.list_groups().await })
            }),
            roles: lists.roles.then(|| {
                let c = c();
                runtime.spawn(async move { c.list_org_roles().await })
            }),
            admin_api_keys: lists.admin_api_keys.then(|| {
                let c = c();
                runtime.spawn(async move { c.list_admin_api_keys().await })
            }),
            projects: lists.projects.then(|| {
                let c = c();
                let (sender, pages) = mpsc::unbounded_channel();
                let list = runtime.spawn(async move {
                    c.list_projects_by_page(true, |page| {
                        // A closed channel means the read gave up on this list.
                        let _ = sender.send(page);
                    })
                    .await
                });
                (list, pages)
            }),
        }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.users.take().inspect(|h| h.abort());
        self.invites.take().inspect(|h| h.abort());
        self.groups.take().inspect(|h| h.abort());
        self.roles.take().inspect(|h| h.abort());
        self.admin_api_keys.take().inspect(|h| h.abort());
        self.projects.take().inspect(|(h, _)| h.abort());
    }
}

/// The result of a prefetched list, as the reader's own task would give it.
async fn joined<T>(
    handle: tokio::task::JoinHandle<Result<T, Error>>,
    into: fn(T) -> Fetched,
) -> Result<Fetched, Error> {
    match handle.await {
        Ok(result) => result.map(into),
        Err(join_error) => Err(Error::Transport {
            method: "GET".into(),
            route: "(live read)".into(),
            message: format!("a prefetched list failed: {join_error}"),
        }),
    }
}

/// [`read`], using the lists `prefetch` already started.
pub async fn read_prefetched(
    client: &Client,
    scope: &ReadScope,
    progress: &dyn Progress,
    announce: &(dyn Fn(&AssignmentReads) + Sync),
    prefetch: Prefetch,
) -> Result<LiveState, Error> {
    let mut reader = Reader::new(client, scope, progress, announce);
    reader.prefetch = Some(prefetch);
    let result = reader.run().await;
    progress.finish();
    result
}

/// [`read`], calling `announce` once, before the deferred lists of a scope with
/// [`ReadScope::only_where_assignable`] start (not at all for other scopes).
pub async fn read_announcing(
    client: &Client,
    scope: &ReadScope,
    progress: &dyn Progress,
    announce: &(dyn Fn(&AssignmentReads) + Sync),
) -> Result<LiveState, Error> {
    let result = Reader::new(client, scope, progress, announce).run().await;
    progress.finish();
    result
}

/// One collection's listing, as queued by [`Reader::spawn`].
type ListTask = Pin<Box<dyn Future<Output = Result<Fetched, Error>> + Send>>;

struct Reader<'a> {
    client: Client,
    scope: &'a ReadScope,
    progress: &'a dyn Progress,
    announce: &'a (dyn Fn(&AssignmentReads) + Sync),
    /// The lists [`ReadScope::only_where_assignable`] holds back, still to be decided.
    deferred: bool,
    tasks: JoinSet<Result<Fetched, Error>>,
    /// Lists waiting for a slot: at most `window` run at once (see [`Reader::spawn`]).
    backlog: VecDeque<ListTask>,
    window: usize,
    raw: Raw,
    /// Known once the users list arrived, for per-user role lists.
    pending_user_roles: bool,
    /// Settings read, stored into the live document once projects are named.
    settings: Vec<(
        &'static crate::kinds::SettingKind,
        Option<ProjectId>,
        Option<serde_json::Value>,
    )>,
    api_keys: Vec<(ProjectId, Vec<crate::kinds::project_api_keys::LiveKey>)>,
    spend_alerts: Vec<(
        Option<ProjectId>,
        Vec<crate::kinds::spend_alerts::LiveAlert>,
    )>,
    /// Organization lists already started, used instead of starting them again.
    prefetch: Option<Prefetch>,
}

impl<'a> Reader<'a> {
    fn new(
        client: &Client,
        scope: &'a ReadScope,
        progress: &'a dyn Progress,
        announce: &'a (dyn Fn(&AssignmentReads) + Sync),
    ) -> Self {
        Reader {
            client: client.clone(),
            scope,
            progress,
            announce,
            deferred: scope.only_where_assignable,
            tasks: JoinSet::new(),
            backlog: VecDeque::new(),
            window: client.controller().limits().max_concurrency.max(1),
            raw: Raw::default(),
            pending_user_roles: false,
            settings: Vec::new(),
            api_keys: Vec::new(),
            spend_alerts: Vec::new(),
            prefetch: None,
        }
    }

    /// Queues a list. Only `window` lists (the client's concurrency) run at once; the rest
    /// wait here rather than in the client's request queue. Why: a long collection (10,000
    /// users is 100 pages) is a chain of requests, each issued after the previous answer; if
    /// a thousand per-project lists were already queued for the client's permits, every next
    /// page of the chain would wait behind all of them and the chain would finish last. With
    /// the window, a chain's next page competes with at most `window - 1` other requests.
    fn spawn<F>(&mut self, task: F)
    where
        F: Future<Output = Result<Fetched, Error>> + Send + 'static,
    {
        self.progress.expect(1);
        self.backlog.push_back(Box::pin(task));
        self.fill_window();
    }

    fn fill_window(&mut self) {
        while self.tasks.len() < self.window {
            let Some(task) = self.backlog.pop_front() else {
                break;
            };
            self.tasks.spawn(task);
        }
    }

    async fn run(mut self) -> Result<LiveState, Error> {
        let (sender, mut pages) = mpsc::unbounded_channel();
        if let Some(prefetch) = self.prefetch.as_mut() {
            // Pages the prefetched lists fetched (and will fetch) count like the reader's own.
            let (forward, mut early) = (
                sender.clone(),
                std::mem::replace(&mut prefetch.pages, mpsc::unbounded_channel().1),
            );
            tokio::spawn(async move {
                while let Some(has_more) = early.recv().await {
                    if forward.send(has_more).is_err() {
                        break;
                    }
                }
            });
        }
        let observed = self
            .client
            .with_page_observer(Arc::new(ChannelObserver(sender)));
        self.client = observed;
        // Projects arrive page by page: each page starts its projects' own lists at once
        // instead of after the last page.
        let (project_pages_sender, mut project_pages) = mpsc::unbounded_channel();
        self.start_organization_lists(project_pages_sender);

        loop {
            tokio::select! {
                Some(has_more) = pages.recv() => self.page(has_more),
                Some(page) = project_pages.recv() => self.projects_page(page),
                joined = self.tasks.join_next() => match joined {
                    None => {
                        if !self.start_deferred() {
                            break;
                        }
                    }
                    Some(Ok(Ok(fetched))) => {
                        // Pages sent before a list ended are handled before its end.
                        while let Ok(page) = project_pages.try_recv() {
                            self.projects_page(page);
                        }
                        self.arrived(fetched);
                        self.fill_window();
                    }
                    // Dropping `self.tasks` on return aborts the lists still running.
                    Some(Ok(Err(error))) => return Err(error),
                    Some(Err(join_error)) => {
                        return Err(Error::Transport {
                            method: "GET".into(),
                            route: "(live read)".into(),
                            message: format!("a list task failed: {join_error}"),
                        });
                    }
                },
            }
        }
        while let Ok(has_more) = pages.try_recv() {
            self.page(has_more);
        }
        let key_matches = self
            .raw
            .admin_api_keys
            .iter()
            .flatten()
            .filter(|key| {
                key.redacted_value
                    .as_deref()
                    .is_some_and(|r| self.client.key_matches_redacted(r))
            })
            .map(|key| key.id.clone())
            .collect();
        self.raw.keys_in_use = key_matches;
        let settings = std::mem::take(&mut self.settings);
        let mut state = normalize(self.raw, self.scope);
        let names: BTreeMap<String, String> = state
            .org
            .projects
            .iter()
            .filter_map(|p| {
                let id = state.ids.get(&crate::kinds::keys::refs::project(&p.name))?;
                Some((id.clone(), p.name.clone()))
            })
            .collect();
        for (kind, project, value) in settings {
            let project = match &project {
                None => None,
                Some(id) => match names.get(id.as_str()) {
                    Some(name) => Some(name.as_str()),
                    None => continue,
                },
            };
            (kind.put)(&mut state.org, project, value);
        }
        for (id, keys) in std::mem::take(&mut self.api_keys) {
            let Some(name) = names.get(id.as_str()) else {
                continue;
            };
            if let Some(p) = state.org.projects.iter_mut().find(|p| &p.name == name) {
                let mut kept: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
                kept.sort();
                kept.dedup();
                // A project with no key is left unmanaged, so `export` does not make every
                // later plan list an empty collection per project.
                if !kept.is_empty() {
                    p.api_keys = kept.into();
                }
            }
            state.project_api_keys.insert(name.clone(), keys);
        }
        for (id, alerts) in std::mem::take(&mut self.spend_alerts) {
            let listed = crate::kinds::spend_alerts::into_doc(&alerts);
            let scope = match &id {
                None => {
                    state.org.settings.spend_alerts = listed;
                    None
                }
                Some(id) => {
                    let Some(name) = names.get(id.as_str()) else {
                        continue;
                    };
                    if let Some(p) = state.org.projects.iter_mut().find(|p| &p.name == name) {
                        p.spend_alerts = listed;
                    }
                    Some(name.clone())
                }
            };
            state.spend_alerts.insert(scope, alerts);
        }
        Ok(state)
    }

    fn page(&self, has_more: bool) {
        self.progress.done(1);
        if has_more {
            self.progress.expect(1);
        }
    }

    fn projects_page(&mut self, page: Vec<Project>) {
        self.start_project_lists(&page);
        self.raw.projects.get_or_insert_with(Vec::new).extend(page);
    }

    fn start_organization_lists(&mut self, project_pages: mpsc::UnboundedSender<Vec<Project>>) {
        let scope = self.scope;
        // What was prefetched and is in scope is joined; the rest is aborted on drop.
        let mut prefetch = self.prefetch.take();
        if let Some(handle) = scope
            .users
            .then(|| prefetch.as_mut().and_then(|p| p.users.take()))
            .flatten()
        {
            self.spawn(joined(handle, Fetched::Users));
        } else if scope.users {
            let c = self.client.clone();
            self.spawn(async move { c.list_users().await.map(Fetched::Users) });
        }
        if let Some(handle) = scope
            .invites
            .then(|| prefetch.as_mut().and_then(|p| p.invites.take()))
            .flatten()
        {
            self.spawn(joined(handle, Fetched::Invites));
        } else if scope.invites {
            let c = self.client.clone();
            self.spawn(async move { c.list_invites().await.map(Fetched::Invites) });
        }
        if let Some((list, mut early)) = scope
            .projects
            .then(|| prefetch.as_mut().and_then(|p| p.projects.take()))
            .flatten()
        {
            // The pages already fetched and still to come go through `projects_page` like the
            // reader's own; the list ends only after its last page is handed on.
            self.spawn(async move {
                while let Some(page) = early.recv().await {
                    let _ = project_pages.send(page);
                }
                joined(list, |()| Fetched::ProjectsListed).await
            });
        } else if scope.projects {
            let c = self.client.clone();
            self.spawn(async move {
                c.list_projects_by_page(true, |page| {
                    // The reader outlives this list; a closed channel means it gave up.
                    let _ = project_pages.send(page);
                })
                .await
                .map(|()| Fetched::ProjectsListed)
            });
        }
        if let Some(handle) = scope
            .groups
            .then(|| prefetch.as_mut().and_then(|p| p.groups.take()))
            .flatten()
        {
            self.spawn(joined(handle, Fetched::Groups));
        } else if scope.groups {
            let c = self.client.clone();
            self.spawn(async move { c.list_groups().await.map(Fetched::Groups) });
        }
        if let Some(handle) = scope
            .roles
            .then(|| prefetch.as_mut().and_then(|p| p.roles.take()))
            .flatten()
        {
            self.spawn(joined(handle, Fetched::OrgRoles));
        } else if scope.roles {
            let c = self.client.clone();
            self.spawn(async move { c.list_org_roles().await.map(Fetched::OrgRoles) });
        }
        if scope.certificates {
            let c = self.client.clone();
            self.spawn(async move { c.list_certificates().await.map(Fetched::Certificates) });
        }
        if let Some(handle) = scope
            .admin_api_keys
            .then(|| prefetch.as_mut().and_then(|p| p.admin_api_keys.take()))
            .flatten()
        {
            self.spawn(joined(handle, Fetched::AdminApiKeys));
        } else if scope.admin_api_keys {
            let c = self.client.clone();
            self.spawn(async move { c.list_admin_api_keys().await.map(Fetched::AdminApiKeys) });
        }
        // Prefetched lists outside the scope are aborted here (never used, never counted).
        drop(prefetch);
        self.pending_user_roles = !scope.user_roles.is_nothing() && !self.deferred;
        if scope.org_spend_alerts {
            let c = self.client.clone();
            self.spawn(async move {
                crate::kinds::spend_alerts::read(&c, None)
                    .await
                    .map(|alerts| Fetched::SpendAlerts(None, alerts))
            });
        }
        for kind in crate::kinds::ALL {
            if kind.level == crate::kinds::Level::Organization
                && crate::kinds::was_read(scope, kind, None)
            {
                let c = self.client.clone();
                self.spawn(async move {
                    let value = crate::kinds::read(&c, kind, None).await?;
                    Ok(Fetched::Setting(kind, None, value))
                });
            }
        }
    }

    /// Once everything else is read: the lists held back by
    /// [`ReadScope::only_where_assignable`], where something can be there, announced first.
    /// Returns whether any started.
    fn start_deferred(&mut self) -> bool {
        if !self.deferred {
            return false;
        }
        self.deferred = false;
        let scope = self.scope;
        let custom =
            |roles: Option<&Vec<Role>>| roles.into_iter().flatten().any(|r| !r.predefined_role);
        let mut reads = AssignmentReads::default();
        if custom(self.raw.org_roles.as_ref()) {
            let users = self.raw.users.take().unwrap_or_default();
            let before = self.backlog.len() + self.tasks.len();
            self.start_user_roles(&users);
            reads.users = (self.backlog.len() + self.tasks.len() - before) as u64;
            reads.skipped += unique_emails(&users) - reads.users;
            self.raw.users = Some(users);
            let groups = self.raw.groups.take().unwrap_or_default();
            for group in &groups {
                if scope.group_roles.contains(group.name.as_str()) {
                    reads.groups += 1;
                    self.start_group_roles(group.id.clone());
                } else {
                    reads.skipped += 1;
                }
            }
            self.raw.groups = Some(groups);
        }
        let with_custom_roles: Vec<ProjectId> = self
            .raw
            .project_roles
            .iter()
            .filter(|(_, roles)| custom(Some(roles)))
            .map(|(id, _)| id.clone())
            .collect();
        for project in with_custom_roles {
            let users = self.raw.project_users.remove(&project).unwrap_or_default();
            let before = self.backlog.len() + self.tasks.len();
            self.start_project_member_roles(&project, &users);
            let started = (self.backlog.len() + self.tasks.len() - before) as u64;
            reads.project_members += started;
            reads.skipped += users.len() as u64 - started.min(users.len() as u64);
            self.raw.project_users.insert(project, users);
        }
        if reads != AssignmentReads::default() {
            (self.announce)(&reads);
        }
        if self
            .raw
            .certificates
            .as_ref()
            .is_some_and(|c| !c.is_empty())
        {
            let projects: Vec<Project> = self.raw.projects.iter().flatten().cloned().collect();
            for project in &projects {
                if let Some(name) = project.name.as_deref()
                    && !project.is_archived()
                    && scope.project_certificates.contains(name)
                {
                    self.start_project_certificates(project.id.clone());
                }
            }
        }
        !self.backlog.is_empty() || !self.tasks.is_empty()
    }

    fn start_group_roles(&mut self, id: GroupId) {
        let c = self.client.clone();
        self.spawn(async move {
            let roles = c.list_role_assignments(Principal::Group(&id)).await?;
            Ok(Fetched::GroupRoles(id, roles))
        });
    }

    fn start_project_certificates(&mut self, p: ProjectId) {
        let c = self.client.clone();
        self.spawn(async move {
            c.list_project_certificates(&p)
                .await
                .map(|v| Fetched::ProjectCertificates(p, v))
        });
    }

    fn arrived(&mut self, fetched: Fetched) {
        match fetched {
            Fetched::Users(users) => {
                if self.pending_user_roles {
                    self.start_user_roles(&users);
                }
                self.raw.users = Some(users);
            }
            Fetched::Invites(invites) => self.raw.invites = Some(invites),
            Fetched::ProjectsListed => {
                // Every page went through `projects_page`; an empty org still read them.
                self.raw.projects.get_or_insert_with(Vec::new);
            }
            Fetched::Groups(groups) => {
                self.start_group_lists(&groups);
                self.raw.groups = Some(groups);
            }
            Fetched::OrgRoles(roles) => self.raw.org_roles = Some(roles),
            Fetched::Certificates(certificates) => self.raw.certificates = Some(certificates),
            Fetched::AdminApiKeys(keys) => self.raw.admin_api_keys = Some(keys),
            Fetched::UserRoles(user, roles) => {
                self.raw.user_roles.insert(user, roles);
            }
            Fetched::GroupUsers(group, users) => {
                self.raw.group_users.insert(group, users);
            }
            Fetched::GroupRoles(group, roles) => {
                self.raw.group_roles.insert(group, roles);
            }
            Fetched::ProjectUsers(project, users) => {
                if !self.deferred {
                    self.start_project_member_roles(&project, &users);
                }
                self.raw.project_users.insert(project, users);
            }
            Fetched::ProjectUserRoles(project, user, roles) => {
                self.raw.project_user_roles.insert((project, user), roles);
            }
            Fetched::ProjectGroups(project, groups) => {
                for group in &groups {
                    let (c, p, g) = (self.client.clone(), project.clone(), group.group_id.clone());
                    self.spawn(async move {
                        let roles = c
                            .list_role_assignments(Principal::ProjectGroup(&p, &g))
                            .await?;
                        Ok(Fetched::ProjectGroupRoles(p, g, roles))
                    });
                }
                self.raw.project_groups.insert(project, groups);
            }
            Fetched::ProjectGroupRoles(project, group, roles) => {
                self.raw.project_group_roles.insert((project, group), roles);
            }
            Fetched::ServiceAccounts(project, accounts) => {
                self.raw.service_accounts.insert(project, accounts);
            }
            Fetched::ProjectRoles(project, roles) => {
                self.raw.project_roles.insert(project, roles);
            }
            Fetched::RateLimits(project, limits) => {
                self.raw.rate_limits.insert(project, limits);
            }
            Fetched::ProjectCertificates(project, certificates) => {
                self.raw.project_certificates.insert(project, certificates);
            }
            Fetched::Setting(kind, project, value) => self.settings.push((kind, project, value)),
            Fetched::ProjectApiKeys(project, keys) => self.api_keys.push((project, keys)),
            Fetched::SpendAlerts(project, alerts) => self.spend_alerts.push((project, alerts)),
        }
    }

    fn start_user_roles(&mut self, users: &[User]) {
        // One list per declared user that exists live (first id per email).
        let mut by_email: BTreeMap<String, UserId> = BTreeMap::new();
        for user in users {
            if let Some(email) = user.email.as_deref() {
                by_email
                    .entry(normalize_email(email))
                    .or_insert_with(|| user.id.clone());
            }
        }
        for (email, id) in by_email {
            if self.scope.user_roles.contains(email.as_str()) {
                let c = self.client.clone();
                self.spawn(async move {
                    let roles = c.list_role_assignments(Principal::User(&id)).await?;
                    Ok(Fetched::UserRoles(id, roles))
                });
            }
        }
    }

    fn start_group_lists(&mut self, groups: &[Group]) {
        for group in groups {
            if self.scope.group_members.contains(group.name.as_str()) {
                let (c, id) = (self.client.clone(), group.id.clone());
                self.spawn(async move {
                    c.list_group_users(&id)
                        .await
                        .map(|users| Fetched::GroupUsers(id, users))
                });
            }
            if !self.deferred && self.scope.group_roles.contains(group.name.as_str()) {
                self.start_group_roles(group.id.clone());
            }
        }
    }

    fn start_project_lists(&mut self, projects: &[Project]) {
        let scope = self.scope;
        for project in projects {
            // Archived projects have no members or accounts (the API answers 400): never read.
            let Some(name) = project.name.as_deref() else {
                continue;
            };
            if project.is_archived() || !scope.reads_project_children(name) {
                continue;
            }
            let id = &project.id;
            if scope.project_members.contains(name) {
                let (c, p) = (self.client.clone(), id.clone());
                self.spawn(async move {
                    c.list_project_users(&p)
                        .await
                        .map(|v| Fetched::ProjectUsers(p, v))
                });
            }
            if scope.project_groups.contains(name) {
                let (c, p) = (self.client.clone(), id.clone());
                self.spawn(async move {
                    c.list_project_groups(&p)
                        .await
                        .map(|v| Fetched::ProjectGroups(p, v))
                });
            }
            if scope.service_accounts.contains(name) {
                let (c, p) = (self.client.clone(), id.clone());
                self.spawn(async move {
                    c.list_service_accounts(&p)
                        .await
                        .map(|v| Fetched::ServiceAccounts(p, v))
                });
            }
            if scope.project_roles.contains(name) {
                let (c, p) = (self.client.clone(), id.clone());
                self.spawn(async move {
                    c.list_project_roles(&p)
                        .await
                        .map(|v| Fetched::ProjectRoles(p, v))
                });
            }
            if scope.rate_limits.contains(name) {
                let (c, p) = (self.client.clone(), id.clone());
                self.spawn(async move {
                    c.list_rate_limits(&p)
                        .await
                        .map(|v| Fetched::RateLimits(p, v))
                });
            }
            for kind in crate::kinds::ALL {
                if kind.level == crate::kinds::Level::Project
                    && crate::kinds::was_read(scope, kind, Some(name))
                {
                    let (c, p) = (self.client.clone(), id.clone());
                    self.spawn(async move {
                        let value = crate::kinds::read(&c, kind, Some(p.as_str())).await?;
                        Ok(Fetched::Setting(kind, Some(p), value))
                    });
                }
            }
            if scope.project_spend_alerts.contains(name) {
                let (c, p) = (self.client.clone(), id.clone());
                self.spawn(async move {
                    crate::kinds::spend_alerts::read(&c, Some(p.as_str()))
                        .await
                        .map(|alerts| Fetched::SpendAlerts(Some(p), alerts))
                });
            }
            if scope.project_api_keys.contains(name) {
                let (c, p) = (self.client.clone(), id.clone());
                self.spawn(async move {
                    crate::kinds::project_api_keys::read(&c, p.as_str())
                        .await
                        .map(|keys| Fetched::ProjectApiKeys(p, keys))
                });
            }
            if !self.deferred && scope.project_certificates.contains(name) {
                self.start_project_certificates(id.clone());
            }
        }
    }

    fn start_project_member_roles(&mut self, project: &ProjectId, users: &[ProjectUser]) {
        if self.scope.project_member_roles.is_nothing() {
            return;
        }
        let Some(project_name) = self.project_name(project) else {
            return;
        };
        for user in users {
            let Some(email) = user.email.as_deref().map(normalize_email) else {
                continue;
            };
            if self
                .scope
                .project_member_roles
                .contains(&(project_name.clone(), email))
            {
                let (c, p, u) = (self.client.clone(), project.clone(), user.id.clone());
                self.spawn(async move {
                    let roles = c
                        .list_role_assignments(Principal::ProjectUser(&p, &u))
                        .await?;
                    Ok(Fetched::ProjectUserRoles(p, u, roles))
                });
            }
        }
    }

    fn project_name(&self, id: &ProjectId) -> Option<String> {
        self.raw
            .projects
            .iter()
            .flatten()
            .find(|p| &p.id == id)
            .and_then(|p| p.name.clone())
    }
}

/// Distinct (normalised) emails among `users`: one role-assignment list each.
fn unique_emails(users: &[User]) -> u64 {
    users
        .iter()
        .filter_map(|u| u.email.as_deref().map(normalize_email))
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64
}
