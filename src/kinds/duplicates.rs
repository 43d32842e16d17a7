//! Live duplicates of a natural key (two admin API keys, two active projects, two groups, or
//! two service accounts of one project, of one name; see [`super::LiveState::duplicates`]). The
//! oldest is the one the plan manages; every extra one is shown, never silently picked or
//! ignored by the diff: its kind's `policy.unmanaged` decides, as for any object the file
//! does not declare. `report` lists it (key `<natural key> (duplicate <id>)`, object with
//! `id` and `duplicate_of`); `remove` (`archive` for projects) plans the removal of that
//! one object by its ID ([`Extras::removal`], the kind's own operation); `ignore` says
//! nothing. Which kinds have duplicates is theirs to say: this module names none.

use serde_json::{Value, json};

use super::context::{Context, Draft, Output};
use super::{LiveDuplicate, ResourceKind};
use crate::model::UnmanagedAction;

/// How a kind shows and removes the extra live objects of its natural keys.
pub(crate) struct Extras<'f> {
    pub kind: ResourceKind,
    /// The kind's `policy.unmanaged` (for projects, `archive` as `Remove`).
    pub policy: UnmanagedAction,
    /// The natural key the duplicate shares (`project:Search`).
    pub key: &'f dyn Fn(&LiveDuplicate) -> String,
    /// The draft that removes this one object by its ID (`key` is its plan key, `view` what
    /// the plan shows of it).
    pub removal: &'f dyn Fn(&LiveDuplicate, String, Value) -> Draft,
}

/// The extra live objects of `extras.kind` (called by that kind's diff).
pub(crate) fn diff(extras: Extras<'_>, ctx: &Context<'_>, out: &mut Output) {
    for dup in ctx
        .state
        .duplicates
        .iter()
        .filter(|d| d.kind == extras.kind)
    {
        let key = format!("{} (duplicate {})", (extras.key)(dup), dup.extra);
        let mut view = json!({ "name": dup.name, "id": dup.extra, "duplicate_of": dup.kept });
        if let Some(project) = &dup.project {
            view["project"] = json!(project);
        }
        out.unmanaged(extras.policy, extras.kind, &key, view.clone(), || {
            (extras.removal)(dup, key.clone(), view.clone()).before(Some(view.clone()))
        });
    }
}
