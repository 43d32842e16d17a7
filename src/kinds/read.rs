//! What a kind tells the live read (`live::read`): which list it reads ([`Source`]), for
//! which objects a plan of a file reads it ([`ReadScope`]), how one list is fetched, which
//! objects of a page have lists of their own ([`Parent`]), and how the pages become the live
//! state (`Kind::normalize`). Pages stay in the kind's own wire types ([`RawPage`]) until
//! the kind that fetched them, or a kind that needs them, reads them back from [`RawStore`].

use std::any::Any;
use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::mpsc;

use super::ResourceKind;

/// A selection of natural keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Select<K: Ord> {
    #[default]
    Nothing,
    All,
    Only(BTreeSet<K>),
}

impl<K: Ord> Select<K> {
    pub fn contains<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        match self {
            Select::Nothing => false,
            Select::All => true,
            Select::Only(keys) => keys.contains(key),
        }
    }

    pub fn is_nothing(&self) -> bool {
        match self {
            Select::Nothing => true,
            Select::All => false,
            Select::Only(keys) => keys.is_empty(),
        }
    }

    /// `Only(keys)` when `condition`, else `Nothing`.
    pub fn only_if(condition: bool, keys: impl IntoIterator<Item = K>) -> Self {
        if condition {
            Select::Only(keys.into_iter().collect())
        } else {
            Select::Nothing
        }
    }

    /// Everything either selects.
    pub fn union(self, other: Select<K>) -> Select<K> {
        match (self, other) {
            (Select::All, _) | (_, Select::All) => Select::All,
            (Select::Nothing, other) | (other, Select::Nothing) => other,
            (Select::Only(mut a), Select::Only(b)) => {
                a.extend(b);
                Select::Only(a)
            }
        }
    }
}

impl Select<String> {
    /// All or nothing, for a list the organization has once.
    pub fn all_if(condition: bool) -> Self {
        if condition {
            Select::All
        } else {
            Select::Nothing
        }
    }

    /// The active projects of `doc` for which `reads` holds (those that write the kind's
    /// field), by key; `Nothing` when there are none.
    pub fn projects(
        doc: &crate::model::Document,
        reads: impl Fn(&crate::model::Project) -> bool,
    ) -> Self {
        let names: std::collections::BTreeSet<String> = super::active_projects(doc)
            .filter(|p| reads(p))
            .map(|p| super::keys::project(&p.name))
            .collect();
        if names.is_empty() {
            Select::Nothing
        } else {
            Select::Only(names)
        }
    }
}

/// The list a kind reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// `None`: one list for the organization. `Some(kind)`: one list per live object of that
    /// kind (a project's members), started as soon as the page naming the object arrives.
    pub parent: Option<ResourceKind>,
    /// Held back when the scope reads only where something can be
    /// ([`ReadScope::only_where_assignable`], `export`), until everything else is read, and
    /// then read only for the parents `Kind::worth_reading` accepts.
    pub deferred: bool,
    /// What the parents are called in the note announcing the deferred reads
    /// (`users`, `project members`); `None`: not announced.
    pub announced_as: Option<&'static str>,
}

impl Source {
    /// One list for the organization, read with everything else.
    pub const fn organization() -> Source {
        Source {
            parent: None,
            deferred: false,
            announced_as: None,
        }
    }

    /// One list per live object of `parent`, read as soon as it is known.
    pub const fn per(parent: ResourceKind) -> Source {
        Source {
            parent: Some(parent),
            deferred: false,
            announced_as: None,
        }
    }
}

/// A live object whose own lists child kinds read: its natural key, the names its key is made
/// of (`["Search", "bob@x.example"]` for `project:Search/member:bob@x.example`), and the
/// server IDs of its ancestors and itself, in the same order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Parent {
    pub key: String,
    pub names: Vec<String>,
    pub ids: Vec<String>,
}

impl Parent {
    /// The object's own ID.
    pub fn id(&self) -> &str {
        self.ids.last().map(String::as_str).unwrap_or_default()
    }

    /// The first name (a project's or a group's).
    pub fn name(&self) -> &str {
        self.names.first().map(String::as_str).unwrap_or_default()
    }
}

/// One page of a list, in the fetching kind's wire type (a `Vec<Wire…>`).
pub type RawPage = Box<dyn Any + Send + Sync>;

/// Where a fetch hands its pages as they arrive.
pub type PageSink = mpsc::UnboundedSender<RawPage>;

/// One list as read: the parent it was read for, and its pages in order.
pub struct RawList {
    pub parent: Option<Parent>,
    pub pages: Vec<RawPage>,
}

/// Everything the read fetched, by kind (lists in the order they finished, which the kinds
/// never rely on: normalisation sorts by natural key).
#[derive(Default)]
pub struct RawStore {
    lists: BTreeMap<ResourceKind, Vec<RawList>>,
    /// Whether a redacted key value (`sk-admin-abc...xyz`) is the admin key this run uses.
    key_matcher: Option<KeyMatcher>,
}

/// Tells whether a redacted key value is the admin key in use (the client knows the key).
pub type KeyMatcher = Box<dyn Fn(&str) -> bool + Send + Sync>;

impl RawStore {
    pub fn set_key_matcher(&mut self, matcher: KeyMatcher) {
        self.key_matcher = Some(matcher);
    }

    /// Whether `redacted` looks like the admin key this run authenticates with.
    pub fn is_key_in_use(&self, redacted: &str) -> bool {
        self.key_matcher.as_ref().is_some_and(|m| m(redacted))
    }

    /// The lists, by kind (to read on after a look).
    pub fn into_lists(self) -> Vec<(ResourceKind, RawList)> {
        self.lists
            .into_iter()
            .flat_map(|(kind, lists)| lists.into_iter().map(move |l| (kind, l)))
            .collect()
    }

    pub fn push(&mut self, kind: ResourceKind, list: RawList) {
        self.lists.entry(kind).or_default().push(list);
    }

    /// Whether `kind` was read at all.
    pub fn was_read(&self, kind: ResourceKind) -> bool {
        self.lists.contains_key(&kind)
    }

    /// Every list of `kind`.
    pub fn lists(&self, kind: ResourceKind) -> &[RawList] {
        self.lists.get(&kind).map(Vec::as_slice).unwrap_or_default()
    }

    /// Every item of every page of `kind` whose pages are `Vec<T>`, with the list's parent.
    pub fn items<T: 'static>(
        &self,
        kind: ResourceKind,
    ) -> impl Iterator<Item = (Option<&Parent>, &T)> {
        self.lists(kind).iter().flat_map(|list| {
            list.pages
                .iter()
                .filter_map(|page| page.downcast_ref::<Vec<T>>())
                .flatten()
                .map(move |item| (list.parent.as_ref(), item))
        })
    }

    /// The items of the organization's one list of `kind` (`None`: not read).
    pub fn organization<T: 'static>(&self, kind: ResourceKind) -> Option<Vec<&T>> {
        self.was_read(kind)
            .then(|| self.items::<T>(kind).map(|(_, item)| item).collect())
    }

    /// The items of `kind`'s lists by the key of their parent.
    pub fn by_parent<T: 'static>(&self, kind: ResourceKind) -> BTreeMap<&str, Vec<&T>> {
        let mut out: BTreeMap<&str, Vec<&T>> = BTreeMap::new();
        for list in self.lists(kind) {
            let Some(parent) = &list.parent else { continue };
            let items = out.entry(parent.key.as_str()).or_default();
            for page in &list.pages {
                if let Some(page) = page.downcast_ref::<Vec<T>>() {
                    items.extend(page.iter());
                }
            }
        }
        out
    }

    /// The items of `kind`'s list for the parent whose IDs are `ids`, when read.
    pub fn for_parent_ids<T: 'static>(
        &self,
        kind: ResourceKind,
        ids: &[String],
    ) -> Option<Vec<&T>> {
        let list = self
            .lists(kind)
            .iter()
            .find(|l| l.parent.as_ref().is_some_and(|p| p.ids == ids))?;
        Some(
            list.pages
                .iter()
                .filter_map(|page| page.downcast_ref::<Vec<T>>())
                .flatten()
                .collect(),
        )
    }
}

/// What a live read lists: per kind, the parents whose list is read (`All`: every live one;
/// for an organization list, `All` means "read it"). A kind absent is not read. `Default`
/// reads nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadScope {
    pub kinds: BTreeMap<ResourceKind, Select<String>>,
    /// Read the deferred lists ([`Source::deferred`]) only where something can be there, after
    /// everything else (`export`).
    pub only_where_assignable: bool,
}

impl ReadScope {
    /// What a plan of `doc` reads: each kind's own answer (`Kind::scope`).
    pub fn for_document(doc: &crate::model::Document) -> Self {
        ReadScope {
            kinds: ResourceKind::ALL
                .iter()
                .map(|k| (*k, k.def().scope(doc)))
                .filter(|(_, s)| !s.is_nothing())
                .collect(),
            only_where_assignable: false,
        }
    }

    /// Everything, for every live object (what `export` needs); deferred lists only where
    /// something can be there.
    pub fn everything() -> Self {
        ReadScope {
            kinds: ResourceKind::ALL
                .iter()
                .filter(|k| k.def().source().is_some())
                .map(|k| (*k, Select::All))
                .collect(),
            only_where_assignable: true,
        }
    }

    /// [`ReadScope::everything`] without the announced per-principal lists
    /// (`export --skip-role-assignments`).
    pub fn everything_but_role_assignments() -> Self {
        let mut scope = Self::everything();
        scope
            .kinds
            .retain(|k, _| k.def().source().is_none_or(|s| s.announced_as.is_none()));
        scope
    }

    /// What `kind` reads.
    pub fn of(&self, kind: ResourceKind) -> &Select<String> {
        static NOTHING: Select<String> = Select::Nothing;
        self.kinds.get(&kind).unwrap_or(&NOTHING)
    }

    /// Whether `kind` is read for the parent (or, for an organization list, at all).
    pub fn reads(&self, kind: ResourceKind, parent: Option<&str>) -> bool {
        let select = self.of(kind);
        match parent {
            None => !select.is_nothing(),
            Some(key) => select.contains(key),
        }
    }

    /// Whether any list under the object with natural key `parent` is read.
    pub fn reads_children_of(&self, parent_kind: ResourceKind, parent: &str) -> bool {
        self.kinds.iter().any(|(kind, select)| {
            kind.def()
                .source()
                .is_some_and(|s| s.parent == Some(parent_kind))
                && select.contains(parent)
        })
    }

    /// Everything either reads.
    pub fn union(mut self, other: ReadScope) -> ReadScope {
        for (kind, select) in other.kinds {
            let mine = self.kinds.remove(&kind).unwrap_or_default();
            self.kinds.insert(kind, mine.union(select));
        }
        self.only_where_assignable |= other.only_where_assignable;
        self
    }
}

/// Hands a whole list over as one page (lists the API client reads to their end itself).
pub fn one_page<T: Send + Sync + 'static>(pages: &PageSink, items: Vec<T>) {
    // The reader outlives its lists; a closed channel means it gave up on this one.
    let _ = pages.send(Box::new(items));
}

/// The pages of a list of `T`, as `Vec<T>` pages (`Kind::parents` of most kinds).
pub fn page_items<T: 'static>(page: &RawPage) -> &[T] {
    page.downcast_ref::<Vec<T>>()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// For each project of the live document with a list of `kind` read (the list of the
/// project's kept ID: an extra live duplicate's lists are not its): the project's position
/// in `state.org.projects`, its ID, and the list's items.
pub fn project_lists<'r, T: 'static>(
    raw: &'r RawStore,
    kind: ResourceKind,
    state: &super::LiveState,
) -> Vec<(usize, String, Vec<&'r T>)> {
    state
        .org
        .projects
        .iter()
        .enumerate()
        .filter_map(|(i, project)| {
            let id = state.ids.get(&super::keys::refs::project(&project.name))?;
            let items = raw.for_parent_ids::<T>(kind, std::slice::from_ref(id))?;
            Some((i, id.clone(), items))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Document;
    use ResourceKind as K;

    fn doc(yaml: serde_json::Value) -> Document {
        serde_json::from_value(yaml).expect("valid document")
    }

    #[test]
    fn an_empty_file_reads_nothing() {
        let scope = ReadScope::for_document(&Document::default());
        assert_eq!(scope, ReadScope::default());
    }

    #[test]
    fn unmanaged_kinds_are_not_read() {
        let scope = ReadScope::for_document(&doc(serde_json::json!({
            "projects": [{"name": "Search", "rate_limits": {"gpt-4o": {"max_requests_per_1_minute": 5}}},
                         {"name": "Other"}]
        })));
        assert!(scope.reads(K::Project, None));
        for kind in [
            K::User,
            K::Invite,
            K::Group,
            K::Role,
            K::Certificate,
            K::AdminApiKey,
        ] {
            assert!(!scope.reads(kind, None), "{kind}");
        }
        assert!(
            scope.of(K::ProjectMember).is_nothing() && scope.of(K::ServiceAccount).is_nothing()
        );
        assert!(scope.reads(K::RateLimit, Some("project:Search")));
        assert!(!scope.reads(K::RateLimit, Some("project:Other")));
    }

    #[test]
    fn role_assignment_lists_only_when_roles_are_managed() {
        let base = serde_json::json!({
            "users": [{"email": "A@x.example", "role": "owner"}],
            "groups": [{"name": "g", "members": ["a@x.example"]}],
            "projects": [{"name": "P", "members": [{"email": "a@x.example", "role": "member"}]}]
        });
        let scope = ReadScope::for_document(&doc(base.clone()));
        for kind in [K::User, K::Invite, K::AdminApiKey, K::Group] {
            assert!(scope.reads(kind, None), "{kind}");
        }
        for kind in [K::UserRole, K::GroupRole, K::ProjectMemberRole] {
            assert!(scope.of(kind).is_nothing(), "{kind}");
        }
        assert!(scope.reads(K::GroupMember, Some("group:g")));
        assert!(scope.reads(K::ProjectMember, Some("project:P")));

        let mut with_roles = base;
        with_roles["users"][0]["roles"] = serde_json::json!(["billing"]);
        with_roles["projects"][0]["members"][0]["roles"] = serde_json::json!(["deployer"]);
        let scope = ReadScope::for_document(&doc(with_roles));
        assert!(scope.reads(K::Role, None));
        assert!(
            scope.reads(K::UserRole, Some("user:a@x.example")),
            "emails are normalised"
        );
        assert!(scope.reads(K::ProjectMemberRole, Some("project:P/member:a@x.example")));
        assert!(scope.reads(K::ProjectRole, Some("project:P")));
    }

    #[test]
    fn settings_are_read_where_declared_or_where_the_policy_asks() {
        let declared = ReadScope::for_document(&doc(serde_json::json!({
            "projects": [{"name": "A", "spend_limit": {"amount_cents": 5}},
                         {"name": "B"}, {"name": "Old", "archived": true}]
        })));
        assert!(declared.reads(K::ProjectSpendLimit, Some("project:A")));
        assert!(!declared.reads(K::ProjectSpendLimit, Some("project:B")));
        assert!(!declared.reads(K::OrganizationSpendLimit, None));
        assert!(declared.of(K::ProjectHostedTools).is_nothing());
        assert!(!declared.reads_children_of(K::Project, "project:B"));

        let leftover = ReadScope::for_document(&doc(serde_json::json!({
            "policy": {"unmanaged": {"settings": "report"}},
            "projects": [{"name": "A"}, {"name": "Old", "archived": true}]
        })));
        for kind in [K::OrganizationDataRetention, K::OrganizationSpendLimit] {
            assert_eq!(*leftover.of(kind), Select::All);
        }
        for kind in [
            K::ProjectDataRetention,
            K::ProjectSpendLimit,
            K::ProjectModelPermissions,
            K::ProjectHostedTools,
        ] {
            let select = leftover.of(kind);
            assert!(select.contains("project:A") && !select.contains("project:Old"));
        }
    }

    #[test]
    fn projects_marked_archived_get_no_children_read() {
        let scope = ReadScope::for_document(&doc(serde_json::json!({
            "projects": [{"name": "Old", "archived": true},
                         {"name": "New", "service_accounts": [{"name": "ci", "role": "member"}]}]
        })));
        assert!(scope.reads(K::ServiceAccount, Some("project:New")));
        assert!(!scope.reads_children_of(K::Project, "project:Old"));
    }
}
