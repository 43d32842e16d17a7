//! What a kind tells the incremental read (`live::snapshot`): that the audit log reveals
//! every change of its lists, by which event types, and how its pages are kept in a
//! snapshot ([`Incremental`]). A kind that says nothing (`Kind::incremental` is `None`, the
//! default) is read in full on every run, snapshot or not: a kind is trusted to be read
//! from a snapshot only when its author listed what changes it.
//!
//! The event types are the kind's attribution rules (`Kind::attribution`, the events that
//! explain its drift) plus [`Incremental::also`]: writes to other objects that change this
//! kind's lists as a side effect (deleting a group ends its project memberships).

use serde::Serialize;
use serde::de::DeserializeOwned;

use std::collections::BTreeMap;

use super::apply::BoxFuture;
use super::attribution::{DriftClass, Names};
use super::read::RawPage;
use crate::api::{Client, Error};

/// Reads one object of an organization list by its id, as the list would hold it (the
/// kind's wire type, as JSON); `None` when it no longer exists.
pub type ItemRead =
    fn(Client, String) -> BoxFuture<'static, Result<Option<serde_json::Value>, Error>>;

/// How a kind's lists are kept in a snapshot and which events make them stale.
#[derive(Clone, Copy)]
pub struct Incremental {
    /// One page as JSON (`None`: not a page of this kind, never kept).
    pub encode: fn(&RawPage) -> Option<serde_json::Value>,
    /// A page back from a snapshot (the JSON is untrusted: an error refuses the snapshot).
    pub decode: fn(serde_json::Value) -> Result<RawPage, String>,
    /// Event types besides the kind's attribution rules that can change its lists, each
    /// with how far it reaches (replacing what the rules say of the same type).
    pub also: &'static [(&'static str, Reach)],
    /// For an organization list whose objects the API serves one by one: an event that
    /// names one object by its own id ([`Reach::Item`]) re-reads that object, not the list
    /// (a person's role changed: one request, not the 100 pages of 10,000 people).
    pub item: Option<ItemRead>,
    /// How many objects one page of the list holds: past one object per page of the kept
    /// list, reading them one by one costs more than the list, which is read instead.
    pub page_size: usize,
}

impl std::fmt::Debug for Incremental {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incremental")
            .field("also", &self.also)
            .finish()
    }
}

/// [`Incremental`] for a kind whose pages are `Vec<T>`.
pub fn pages_of<T>(also: &'static [(&'static str, Reach)]) -> Incremental
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    Incremental {
        encode: encode::<T>,
        decode: decode::<T>,
        also,
        item: None,
        page_size: 1,
    }
}

impl Incremental {
    /// With [`Incremental::item`], for a list read `page_size` objects a page.
    pub fn with_item(self, item: ItemRead, page_size: usize) -> Incremental {
        Incremental {
            item: Some(item),
            page_size: page_size.max(1),
            ..self
        }
    }
}

fn encode<T: Serialize + 'static>(page: &RawPage) -> Option<serde_json::Value> {
    let items = page.downcast_ref::<Vec<T>>()?;
    serde_json::to_value(items).ok()
}

fn decode<T: DeserializeOwned + Send + Sync + 'static>(
    value: serde_json::Value,
) -> Result<RawPage, String> {
    let items: Vec<T> = serde_json::from_value(value).map_err(|e| e.to_string())?;
    Ok(Box::new(items))
}

/// How an event of one type bears on a kind's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// It always names the object a changed list belongs to (an assignment's principal, a
    /// group's id for its members, a project's id for its settings): the lists whose parent
    /// it names, nothing else (a parent not in the snapshot is read anyway).
    Named,
    /// It only removes or changes objects already in a list: the lists whose parent it
    /// names or that hold an id it names.
    Held,
    /// It can add to a list and may not name where (or its effect is not known): the lists
    /// whose parent it names, every list of the kind when it names none.
    Any,
    /// Its `id` is the object's own id (created, changed or removed): for an organization
    /// list with [`Incremental::item`], that object is re-read by itself; otherwise as
    /// [`Reach::Held`].
    Item,
}

/// The event types that reveal changes of `kind`, each with its [`Reach`] (`None`: the kind
/// is not read incrementally): from its attribution rules (how a rule's event names the
/// object says whether it names the list's parent), then its [`Incremental::also`], which
/// replace what the rules say for the same type.
pub fn revealing_events(kind: super::ResourceKind) -> Option<BTreeMap<&'static str, Reach>> {
    let def = kind.def();
    let incremental = def.incremental()?;
    let mut events: BTreeMap<&'static str, Reach> = BTreeMap::new();
    for rule in def.attribution() {
        let reach = match (rule.names, rule.class) {
            (
                Names::Assignment
                | Names::ProjectGroupMembership
                | Names::GroupUser(_)
                | Names::ProjectOfUser
                | Names::Setting(_)
                | Names::SettingItem(_),
                _,
            ) => Reach::Named,
            (Names::Id, DriftClass::Missing | DriftClass::Changed)
                if incremental.item.is_some() =>
            {
                Reach::Item
            }
            (_, DriftClass::Missing | DriftClass::Changed) => Reach::Held,
            (_, DriftClass::Unmanaged) => Reach::Any,
        };
        let slot = events.entry(rule.event).or_insert(reach);
        *slot = widest(*slot, reach);
    }
    for &(event, reach) in incremental.also {
        events.insert(event, reach);
    }
    Some(events)
}

/// The reach that re-reads at least what either does.
fn widest(a: Reach, b: Reach) -> Reach {
    match (a, b) {
        (Reach::Any, _) | (_, Reach::Any) => Reach::Any,
        (Reach::Held, _) | (_, Reach::Held) => Reach::Held,
        (Reach::Item, Reach::Item) => Reach::Item,
        // Named and Item name different things: the list, which both re-reads cover.
        (Reach::Item, _) | (_, Reach::Item) => Reach::Held,
        _ => Reach::Named,
    }
}
