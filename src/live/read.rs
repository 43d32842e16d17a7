//! The live read: lists every collection in the [`ReadScope`] exactly once, as concurrently
//! as their dependencies allow, then asks each kind to normalise what it read.
//!
//! The read is a small dataflow over the registry. Every kind that reads a list says so
//! (`Kind::source`): one list for the organization, or one per live object of a parent kind.
//! Organization lists start at once; each page a list hands over (`Kind::fetch` sends pages
//! as they arrive) names objects (`Kind::parents`) whose own lists start right away, for the
//! child kinds whose scope selects them: a projects page starts its projects' member lists,
//! a project's member page starts the members' role lists, and so on. Every list is a task
//! on a `JoinSet`; the shared rate-limit controller bounds what is actually in flight. Page
//! counts come back over a channel so progress is drawn from this task only.
//!
//! A [`Prefetch`] lets `plan` start organization lists before the scope is known (while the
//! file loads); the reader joins those in scope instead of starting them again and aborts
//! the others.
//!
//! With [`ReadScope::only_where_assignable`] (export), deferred lists (`Source::deferred`)
//! wait until everything else is read, and start only for the parents their kind finds worth
//! reading (`Kind::worth_reading`: a custom role exists to be assigned); the announced ones
//! are counted first ([`AssignmentReads`]) so the user is told what they cost.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::LiveState;
use super::progress::Progress;
use crate::api::{Client, Error, PageObserver};
use crate::kinds::{Parent, RawList, RawPage, RawStore, ReadScope, ResourceKind};

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

/// The deferred lists a read with [`ReadScope::only_where_assignable`] found it needs,
/// counted before they start (one request each: a principal holds a handful of roles, far
/// below a page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssignmentReads {
    /// What the parents are called (`users`, `project members`) and how many lists start,
    /// in registry order.
    pub lists: Vec<(&'static str, u64)>,
    /// Lists that could hold something but the scope leaves out (`--skip-role-assignments`).
    pub skipped: u64,
}

impl AssignmentReads {
    pub fn total(&self) -> u64 {
        self.lists.iter().map(|(_, n)| n).sum()
    }

    /// The most requests any one route needs (routes are rate-limited separately).
    pub fn longest_route(&self) -> u64 {
        self.lists.iter().map(|(_, n)| *n).max().unwrap_or(0)
    }
}

/// One list started early: its pages as they arrive, and its end.
struct Early {
    pages: mpsc::UnboundedReceiver<RawPage>,
    end: tokio::task::JoinHandle<Result<(), Error>>,
}

/// Organization lists started before the scope is known (while the desired file loads), for
/// [`read_prefetched`] to use instead of starting them again. Only lists the scope is sure
/// to need should be started (`Kind::read_early_for`); a list the scope turns out not to read
/// is aborted when the read starts, and dropping an unused `Prefetch` aborts them all.
pub struct Prefetch {
    pages: mpsc::UnboundedReceiver<bool>,
    lists: BTreeMap<ResourceKind, Early>,
}

impl Prefetch {
    /// Starts the organization lists of `kinds` on `runtime` at once.
    pub fn start(
        client: &Client,
        kinds: &[ResourceKind],
        runtime: &tokio::runtime::Handle,
    ) -> Prefetch {
        let (sender, pages) = mpsc::unbounded_channel();
        let client = client.with_page_observer(Arc::new(ChannelObserver(sender)));
        let mut lists = BTreeMap::new();
        for &kind in kinds {
            if kind.def().source().is_none_or(|s| s.parent.is_some()) {
                continue;
            }
            let (sink, pages) = mpsc::unbounded_channel();
            let c = client.clone();
            let end = runtime.spawn(async move { kind.def().fetch(&c, None, sink).await });
            lists.insert(kind, Early { pages, end });
        }
        Prefetch { pages, lists }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        for early in self.lists.values() {
            early.end.abort();
        }
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

/// What was read, as the live state: each kind in registry order (parents first) turns its
/// lists into the live document, IDs and duplicates (`Kind::normalize`). Pure.
pub(crate) fn normalize(raw: &RawStore, scope: &ReadScope) -> LiveState {
    let mut state = LiveState {
        scope: scope.clone(),
        ..LiveState::default()
    };
    for kind in ResourceKind::ALL {
        kind.def().normalize(raw, &mut state);
    }
    state.duplicates.sort();
    state
}

/// Where list tasks hand their pages to the reader, tagged with the list's number.
type PageSender = mpsc::UnboundedSender<(usize, RawPage)>;

/// One list's fetch, as queued by [`Reader::spawn`]: its end.
type ListTask = Pin<Box<dyn Future<Output = (usize, Result<(), Error>)> + Send>>;

/// A list being read: its kind, its parent, the pages so far.
struct Reading {
    kind: ResourceKind,
    parent: Option<Parent>,
    pages: Vec<RawPage>,
}

struct Reader<'a> {
    client: Client,
    scope: &'a ReadScope,
    progress: &'a dyn Progress,
    announce: &'a (dyn Fn(&AssignmentReads) + Sync),
    /// The lists [`ReadScope::only_where_assignable`] holds back, still to be decided.
    deferred: bool,
    tasks: JoinSet<(usize, Result<(), Error>)>,
    /// Lists waiting for a slot: at most `window` run at once (see [`Reader::spawn`]).
    backlog: VecDeque<ListTask>,
    window: usize,
    /// Every list started, by number; pages arrive tagged with it.
    lists: Vec<Reading>,
    pages: (PageSender, mpsc::UnboundedReceiver<(usize, RawPage)>),
    /// Lists already started, by kind and the IDs of the parent (never read twice).
    started: BTreeSet<(ResourceKind, Vec<String>)>,
    /// Child kinds by parent kind, in registry order.
    children: BTreeMap<ResourceKind, Vec<ResourceKind>>,
    /// Organization lists already started, used instead of starting them again.
    prefetch: Option<Prefetch>,
    /// Lists a snapshot still holds (`live::snapshot`), by kind and the IDs of the parent:
    /// taken instead of fetched when the dataflow reaches them.
    reuse: Reuse,
    /// How many lists were taken from `reuse`, and how many fetched.
    reused: usize,
}

/// Lists a snapshot holds that no event since has made stale, by kind and the IDs of the
/// parent (empty for an organization list), each with its pages.
pub type Reuse = BTreeMap<(ResourceKind, Vec<String>), Vec<RawPage>>;

/// What [`read_reusing`] did: the live state, the lists as read (for the next snapshot),
/// and how many lists came from the snapshot and how many were fetched.
pub struct ListsRead {
    pub live: LiveState,
    pub raw: RawStore,
    pub reused: usize,
    pub fetched: usize,
}

/// [`read`], taking the lists of `reuse` instead of fetching them: the dataflow is the same
/// (a reused projects list still starts each project's lists, each of them reused or
/// fetched), so a parent that appeared since the snapshot gets its lists read and one that
/// went away loses them.
pub async fn read_reusing(
    client: &Client,
    scope: &ReadScope,
    progress: &dyn Progress,
    reuse: Reuse,
) -> Result<ListsRead, Error> {
    let mut reader = Reader::new(client, scope, progress, &|_| {});
    reader.reuse = reuse;
    let result = reader.run_keeping().await;
    progress.finish();
    result
}

impl<'a> Reader<'a> {
    fn new(
        client: &Client,
        scope: &'a ReadScope,
        progress: &'a dyn Progress,
        announce: &'a (dyn Fn(&AssignmentReads) + Sync),
    ) -> Self {
        let mut children: BTreeMap<ResourceKind, Vec<ResourceKind>> = BTreeMap::new();
        for &kind in ResourceKind::ALL {
            if let Some(parent) = kind.def().source().and_then(|s| s.parent) {
                children.entry(parent).or_default().push(kind);
            }
        }
        Reader {
            client: client.clone(),
            scope,
            progress,
            announce,
            deferred: scope.only_where_assignable,
            tasks: JoinSet::new(),
            backlog: VecDeque::new(),
            window: client.controller().limits().max_concurrency.max(1),
            lists: Vec::new(),
            pages: mpsc::unbounded_channel(),
            started: BTreeSet::new(),
            children,
            prefetch: None,
            reuse: Reuse::new(),
            reused: 0,
        }
    }

    /// Queues a list. Only `window` lists (the client's concurrency) run at once; the rest
    /// wait here rather than in the client's request queue. Why: a long collection (10,000
    /// users is 100 pages) is a chain of requests, each issued after the previous answer; if
    /// a thousand per-project lists were already queued for the client's permits, every next
    /// page of the chain would wait behind all of them and the chain would finish last. With
    /// the window, a chain's next page competes with at most `window - 1` other requests.
    fn spawn(&mut self, kind: ResourceKind, parent: Option<Parent>) {
        let ids = parent.as_ref().map(|p| p.ids.clone()).unwrap_or_default();
        if !self.started.insert((kind, ids.clone())) {
            return;
        }
        if let Some(pages) = self.reuse.remove(&(kind, ids)) {
            let number = self.lists.len();
            self.lists.push(Reading {
                kind,
                parent,
                pages: Vec::new(),
            });
            self.reused += 1;
            for page in pages {
                self.arrived(number, page);
            }
            return;
        }
        let number = self.lists.len();
        self.lists.push(Reading {
            kind,
            parent: parent.clone(),
            pages: Vec::new(),
        });
        let client = self.client.clone();
        let (sink, mut pages) = mpsc::unbounded_channel::<RawPage>();
        let forward = self.pages.0.clone();
        self.progress.expect(1);
        self.backlog.push_back(Box::pin(async move {
            let fetch = kind.def().fetch(&client, parent.as_ref(), sink);
            let relay = async {
                while let Some(page) = pages.recv().await {
                    // The reader outlives its lists; a closed channel means it gave up.
                    let _ = forward.send((number, page));
                }
            };
            let (result, ()) = tokio::join!(fetch, relay);
            (number, result)
        }));
        self.fill_window();
    }

    /// A prefetched list, joined as if the reader had started it.
    fn join(&mut self, kind: ResourceKind, early: Early) {
        self.started.insert((kind, Vec::new()));
        let number = self.lists.len();
        self.lists.push(Reading {
            kind,
            parent: None,
            pages: Vec::new(),
        });
        let forward = self.pages.0.clone();
        let Early { mut pages, end } = early;
        self.progress.expect(1);
        self.backlog.push_back(Box::pin(async move {
            let relay = async {
                while let Some(page) = pages.recv().await {
                    let _ = forward.send((number, page));
                }
            };
            let (ended, ()) = tokio::join!(end, relay);
            let result = match ended {
                Ok(result) => result,
                Err(join_error) => Err(Error::Transport {
                    method: "GET".into(),
                    route: "(live read)".into(),
                    message: format!("a prefetched list failed: {join_error}"),
                }),
            };
            (number, result)
        }));
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

    async fn run(self) -> Result<LiveState, Error> {
        self.run_keeping().await.map(|read| read.live)
    }

    async fn run_keeping(mut self) -> Result<ListsRead, Error> {
        let (sender, mut counts) = mpsc::unbounded_channel();
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
        self.client = self
            .client
            .with_page_observer(Arc::new(ChannelObserver(sender)));
        self.start_organization_lists();

        loop {
            tokio::select! {
                Some(has_more) = counts.recv() => self.page(has_more),
                Some((number, page)) = self.pages.1.recv() => self.arrived(number, page),
                joined = self.tasks.join_next() => match joined {
                    None => {
                        if !self.start_deferred() {
                            break;
                        }
                    }
                    Some(Ok((_, Ok(())))) => {
                        // Pages sent before a list ended are handled before its end.
                        while let Ok((number, page)) = self.pages.1.try_recv() {
                            self.arrived(number, page);
                        }
                        self.fill_window();
                    }
                    // Dropping `self.tasks` on return aborts the lists still running.
                    Some(Ok((_, Err(error)))) => return Err(error),
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
        while let Ok(has_more) = counts.try_recv() {
            self.page(has_more);
        }
        let mut raw = RawStore::default();
        for reading in std::mem::take(&mut self.lists) {
            raw.push(
                reading.kind,
                RawList {
                    parent: reading.parent,
                    pages: reading.pages,
                },
            );
        }
        let client = self.client.clone();
        raw.set_key_matcher(Box::new(move |redacted| {
            client.key_matches_redacted(redacted)
        }));
        let live = normalize(&raw, self.scope);
        let fetched = self.started.len() - self.reused;
        Ok(ListsRead {
            live,
            raw,
            reused: self.reused,
            fetched,
        })
    }

    fn page(&self, has_more: bool) {
        self.progress.done(1);
        if has_more {
            self.progress.expect(1);
        }
    }

    /// A page of list `number`: kept, and its objects' own lists started.
    fn arrived(&mut self, number: usize, page: RawPage) {
        let Some(reading) = self.lists.get(number) else {
            return;
        };
        let kind = reading.kind;
        let parents = kind.def().parents(reading.parent.as_ref(), &page);
        self.lists[number].pages.push(page);
        if parents.is_empty() {
            return;
        }
        for child in self.children.get(&kind).cloned().unwrap_or_default() {
            let deferred = child.def().source().is_some_and(|s| s.deferred);
            if deferred && self.deferred {
                continue;
            }
            for parent in &parents {
                if self.scope.reads(child, Some(&parent.key)) {
                    self.spawn(child, Some(parent.clone()));
                }
            }
        }
    }

    fn start_organization_lists(&mut self) {
        // What was prefetched and is in scope is joined; the rest is aborted on drop.
        let mut prefetch = self.prefetch.take();
        for &kind in ResourceKind::ALL {
            let Some(source) = kind.def().source() else {
                continue;
            };
            if source.parent.is_some() || !self.scope.reads(kind, None) {
                continue;
            }
            match prefetch.as_mut().and_then(|p| p.lists.remove(&kind)) {
                Some(early) => self.join(kind, early),
                None => self.spawn(kind, None),
            }
        }
        // Prefetched lists outside the scope are aborted here (never used, never counted).
        drop(prefetch);
    }

    /// Once everything else is read: the lists held back by
    /// [`ReadScope::only_where_assignable`], where something can be there, announced first.
    /// Returns whether any started.
    fn start_deferred(&mut self) -> bool {
        if !self.deferred {
            return false;
        }
        self.deferred = false;
        let mut raw = RawStore::default();
        let mut parents_of: BTreeMap<ResourceKind, Vec<Parent>> = BTreeMap::new();
        for reading in std::mem::take(&mut self.lists) {
            let parents = parents_of.entry(reading.kind).or_default();
            for page in &reading.pages {
                parents.extend(reading.kind.def().parents(reading.parent.as_ref(), page));
            }
            raw.push(
                reading.kind,
                RawList {
                    parent: reading.parent,
                    pages: reading.pages,
                },
            );
        }
        let mut reads = AssignmentReads::default();
        let mut start = Vec::new();
        for &kind in ResourceKind::ALL {
            let Some(source) = kind.def().source().filter(|s| s.deferred) else {
                continue;
            };
            let Some(parent_kind) = source.parent else {
                continue;
            };
            let mut count = 0;
            // Each object once (two live users of one email are one principal).
            let mut seen = BTreeSet::new();
            for parent in parents_of.get(&parent_kind).into_iter().flatten() {
                if !seen.insert(parent.key.clone()) || !kind.def().worth_reading(&raw, parent) {
                    continue;
                }
                if self.scope.reads(kind, Some(&parent.key)) {
                    count += 1;
                    start.push((kind, parent.clone()));
                } else if source.announced_as.is_some() {
                    reads.skipped += 1;
                }
            }
            if let Some(noun) = source.announced_as {
                reads.lists.push((noun, count));
            }
        }
        // Put the lists back where they were: the numbers of running lists stay valid.
        self.lists = raw
            .into_lists()
            .into_iter()
            .map(|(kind, list)| Reading {
                kind,
                parent: list.parent,
                pages: list.pages,
            })
            .collect();
        if reads.total() > 0 || reads.skipped > 0 {
            (self.announce)(&reads);
        }
        for (kind, parent) in start {
            self.spawn(kind, Some(parent));
        }
        !self.backlog.is_empty() || !self.tasks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::api::admin_api_keys::AdminApiKey;
    use crate::api::invites::{Invite as WireInvite, WireInviteStatus};
    use crate::api::project_users::ProjectUser;
    use crate::api::projects::Project as WireProject;
    use crate::api::service_accounts::ServiceAccount as WireServiceAccount;
    use crate::api::types::{AssignedRole, ProjectId, RoleId, WireOrgRole, WireProjectRole};
    use crate::api::users::User as WireUser;
    use crate::kinds::keys::refs;
    use crate::kinds::wire::{default_project, project_role_of, split_project_roles};
    use crate::kinds::{LiveDuplicate, Parent, ResourceKind};
    use crate::model::{InviteProject, InviteStatus, OrgRole, ProjectRole};

    /// What a read of these lists gives: (kind, the parent's key, names and IDs, the items).
    struct Lists(RawStore);

    impl Lists {
        fn new() -> Lists {
            Lists(RawStore::default())
        }
        fn organization<T: Send + Sync + 'static>(
            mut self,
            kind: ResourceKind,
            items: Vec<T>,
        ) -> Lists {
            self.0.push(
                kind,
                RawList {
                    parent: None,
                    pages: vec![Box::new(items)],
                },
            );
            self
        }
        fn of_project<T: Send + Sync + 'static>(
            mut self,
            kind: ResourceKind,
            (name, id): (&str, &str),
            items: Vec<T>,
        ) -> Lists {
            let parent = Parent {
                key: crate::kinds::keys::project(name),
                names: vec![name.into()],
                ids: vec![id.into()],
            };
            self.0.push(
                kind,
                RawList {
                    parent: Some(parent),
                    pages: vec![Box::new(items)],
                },
            );
            self
        }
        fn in_use(mut self, ids: &'static [&'static str]) -> Lists {
            self.0.set_key_matcher(Box::new(move |redacted| {
                ids.iter().any(|i| redacted == format!("redacted-{i}"))
            }));
            self
        }
        fn normalize(self) -> LiveState {
            normalize(&self.0, &ReadScope::everything())
        }
    }

    fn assigned(id: &str, name: &str, predefined: bool) -> AssignedRole {
        AssignedRole {
            id: RoleId::from(id),
            name: name.into(),
            predefined_role: predefined,
            ..AssignedRole::default()
        }
    }

    fn project(id: &str, name: &str, created: i64, archived: bool) -> WireProject {
        WireProject {
            id: ProjectId::from(id),
            name: Some(name.into()),
            created_at: Some(created),
            status: Some(if archived { "archived" } else { "active" }.into()),
            ..WireProject::default()
        }
    }

    #[test]
    fn role_aliases_and_project_scoped_ids_normalise_to_project_roles() {
        assert_eq!(
            project_role_of("role-api-project-owner"),
            Some(ProjectRole::Owner)
        );
        assert_eq!(project_role_of("Member"), Some(ProjectRole::Member));
        assert_eq!(project_role_of("viewer"), None);
        let (a, b) = (
            assigned("role_01PROJSCOPED", "member", true),
            assigned("role_custom", "deployer", false),
        );
        let (role, custom) = split_project_roles(&[&a, &b]);
        assert_eq!(role, Some(ProjectRole::Member));
        assert_eq!(custom, vec!["deployer".to_string()]);
        let (a, b) = (
            assigned("role-api-project-member", "x", false),
            assigned("role-api-project-owner", "", false),
        );
        let (role, _) = split_project_roles(&[&a, &b]);
        assert_eq!(role, Some(ProjectRole::Owner));
    }

    #[test]
    fn default_project_is_named_or_oldest_active() {
        let projects = vec![
            project("proj_b", "B", 5, false),
            project("proj_old", "Old", 1, true),
            project("proj_a", "A", 3, false),
        ];
        assert_eq!(
            default_project(&projects.iter().collect::<Vec<_>>()).map(|p| p.id.as_str()),
            Some("proj_a")
        );
        let mut named = projects.clone();
        named.push(project("proj_d", "Default Project", 9, false));
        assert_eq!(
            default_project(&named.iter().collect::<Vec<_>>()).map(|p| p.id.as_str()),
            Some("proj_d")
        );
    }

    #[test]
    fn users_invites_and_members_normalise() {
        let live = Lists::new()
            .organization(
                ResourceKind::User,
                vec![
                    WireUser {
                        id: "user_1".into(),
                        email: Some("Alice@X.example".into()),
                        role: Some(WireOrgRole::Owner),
                        ..WireUser::default()
                    },
                    WireUser {
                        id: "user_2".into(),
                        email: Some("bob@x.example".into()),
                        role: Some(WireOrgRole::Other("admin".into())),
                        ..WireUser::default()
                    },
                    WireUser {
                        id: "user_sa".into(),
                        email: Some("sa@x.example".into()),
                        is_service_account: Some(true),
                        ..WireUser::default()
                    },
                ],
            )
            .organization(
                ResourceKind::Project,
                vec![
                    project("proj_1", "Search", 2, false),
                    project("proj_0", "Search", 1, true),
                ],
            )
            .organization(
                ResourceKind::Invite,
                vec![
                    WireInvite {
                        id: "invite-old".into(),
                        email: "C@x.example".into(),
                        status: WireInviteStatus::Expired,
                        created_at: Some(1),
                        ..WireInvite::default()
                    },
                    WireInvite {
                        id: "invite-new".into(),
                        email: "c@x.example".into(),
                        role: WireOrgRole::Owner,
                        status: WireInviteStatus::Pending,
                        created_at: Some(2),
                        projects: vec![crate::api::invites::InviteProject {
                            id: "proj_1".into(),
                            role: WireProjectRole::Owner,
                        }],
                        ..WireInvite::default()
                    },
                ],
            )
            .of_project(
                ResourceKind::ProjectMember,
                ("Search", "proj_1"),
                vec![ProjectUser {
                    id: "user_1".into(),
                    email: None,
                    role: WireProjectRole::Other("role-api-project-owner".into()),
                    ..ProjectUser::default()
                }],
            )
            .normalize();
        let emails: Vec<_> = live
            .org
            .users
            .iter()
            .map(|u| (u.email.as_str(), u.role))
            .collect();
        assert_eq!(
            emails,
            vec![
                ("alice@x.example", OrgRole::Owner),
                ("bob@x.example", OrgRole::Reader)
            ]
        );
        assert_eq!(
            live.ids
                .get(&refs::user("alice@x.example"))
                .map(String::as_str),
            Some("user_1")
        );
        assert_eq!(
            live.ids.get(&refs::project("Search")).map(String::as_str),
            Some("proj_1"),
            "active wins the name"
        );
        assert_eq!(live.org.projects.len(), 1);
        let member = &live.org.projects[0].members[0];
        assert_eq!(
            (member.email.as_str(), member.role),
            ("alice@x.example", ProjectRole::Owner)
        );
        assert_eq!(live.org.invites.len(), 2);
        assert_eq!(
            live.ids
                .get(&refs::invite("c@x.example"))
                .map(String::as_str),
            Some("invite-new")
        );
        let pending = live
            .org
            .invites
            .iter()
            .find(|i| i.status == InviteStatus::Pending)
            .expect("pending invite");
        assert_eq!(
            pending.projects,
            vec![InviteProject {
                name: "Search".into(),
                role: ProjectRole::Owner
            }]
        );
        assert_eq!(live.default_project.as_deref(), Some("Search"));
    }

    #[test]
    fn key_owner_comes_from_the_matching_admin_key() {
        let key = |id: &str, owner: &str| AdminApiKey {
            id: id.into(),
            name: Some(id.into()),
            owner: crate::api::admin_api_keys::AdminApiKeyOwner {
                id: Some(owner.into()),
                owner_type: Some("user".into()),
                ..Default::default()
            },
            redacted_value: Some(format!("redacted-{id}")),
            ..AdminApiKey::default()
        };
        let live = Lists::new()
            .organization(
                ResourceKind::User,
                vec![WireUser {
                    id: "user_1".into(),
                    email: Some("root@x.example".into()),
                    ..WireUser::default()
                }],
            )
            .organization(
                ResourceKind::AdminApiKey,
                vec![key("key_a", "user_1"), key("key_b", "user_2")],
            )
            .in_use(&["key_a"])
            .normalize();
        assert_eq!(live.key_owner.as_deref(), Some("root@x.example"));
        assert_eq!(
            live.admin_keys_in_use,
            BTreeSet::from(["key_a".to_string()]),
            "the key in use is known by name"
        );

        let ambiguous = Lists::new()
            .organization(
                ResourceKind::AdminApiKey,
                vec![key("key_a", "user_1"), key("key_b", "user_2")],
            )
            .in_use(&["key_a", "key_b"])
            .normalize();
        assert_eq!(ambiguous.key_owner, None);
    }

    #[test]
    fn roleless_service_accounts_are_flagged() {
        let live = Lists::new()
            .organization(
                ResourceKind::Project,
                vec![project("proj_1", "P", 1, false)],
            )
            .of_project(
                ResourceKind::ServiceAccount,
                ("P", "proj_1"),
                vec![WireServiceAccount {
                    id: "svc_1".into(),
                    name: "ci".into(),
                    role: WireProjectRole::None,
                    created_at: None,
                }],
            )
            .normalize();
        assert_eq!(
            live.org.projects[0].service_accounts[0].role,
            ProjectRole::Member
        );
        assert!(
            live.roleless_service_accounts
                .contains(&("P".to_string(), "ci".to_string()))
        );
        assert_eq!(
            live.ids
                .get(&refs::service_account("P", "ci"))
                .map(String::as_str),
            Some("svc_1")
        );
    }

    #[test]
    fn live_duplicates_of_a_natural_key_are_recorded_oldest_kept() {
        let account = |id: &str, created: i64| WireServiceAccount {
            id: id.into(),
            name: "ci".into(),
            role: WireProjectRole::Member,
            created_at: Some(created),
        };
        let live = Lists::new()
            .organization(
                ResourceKind::Project,
                vec![
                    project("proj_new", "Twin", 5, false),
                    project("proj_old", "Twin", 1, false),
                    // An archived project of a reused name is not a duplicate.
                    project("proj_gone", "Twin", 0, true),
                ],
            )
            .of_project(
                ResourceKind::ServiceAccount,
                ("Twin", "proj_old"),
                vec![account("svc_b", 9), account("svc_a", 2)],
            )
            .normalize();
        assert_eq!(
            live.ids.get(&refs::project("Twin")).map(String::as_str),
            Some("proj_old")
        );
        assert_eq!(
            live.duplicates,
            vec![
                LiveDuplicate {
                    kind: ResourceKind::Project,
                    project: Some("Twin".into()),
                    name: "Twin".into(),
                    kept: "proj_old".into(),
                    extra: "proj_new".into(),
                },
                LiveDuplicate {
                    kind: ResourceKind::ServiceAccount,
                    project: Some("Twin".into()),
                    name: "ci".into(),
                    kept: "svc_a".into(),
                    extra: "svc_b".into(),
                },
            ]
        );
    }
}
