//! Ordering: the plan is a DAG with explicit `depends_on`, listed in a deterministic
//! topological order.
//!
//! Edges, from what each kind declares about a change:
//! - **Parents** (the objects a change lives in or refers to, by key): an addition or update
//!   waits for its parents' additions (projects, groups, roles, certificates and invites
//!   before memberships, grants and activations); a parent's removal waits for *every*
//!   change of its children, so removals run in reverse (memberships before their group,
//!   deactivations before the certificate's deletion, children before the project archive);
//!   a parent's replace waits for its children's removals, and their additions for it.
//! - **Principal**: a principal's revocations wait for its grants, so a role swap never
//!   leaves a window without access.
//! - **Explicit**: e.g. a demotion of an owner waits for the plan's promotions.
//!
//! The order is Kahn's algorithm over a `BTreeSet` of ready changes keyed by
//! (phase, kind rank, key): additions (phase 0, parents' kinds first) before removals
//! (phase 1, children's kinds first). Same inputs, same order, byte for byte. A cycle is a
//! [`PlanError::Cycle`] naming the changes caught in it.

use std::collections::{BTreeMap, BTreeSet};

use super::context::Draft;
use super::{Change, ChangeId, PlanError, ResourceKind};

fn sort_key(draft: &Draft) -> (u8, usize, &str) {
    let rank = ResourceKind::ALL
        .iter()
        .position(|k| *k == draft.kind)
        .unwrap_or(0);
    if draft.action.is_removal() {
        (1, ResourceKind::ALL.len() - rank, draft.key.as_str())
    } else {
        (0, rank, draft.key.as_str())
    }
}

/// Compute `depends_on` for every draft and return the changes in execution order.
pub(crate) fn order(mut drafts: Vec<Draft>) -> Result<Vec<Change>, PlanError> {
    let (sequence, mut ids, deps) = sequence(&drafts)?;
    let mut depends_on: Vec<Vec<ChangeId>> = deps
        .iter()
        .map(|ds| {
            let mut names: Vec<ChangeId> = ds.iter().map(|&d| ids[d].clone()).collect();
            names.sort();
            names
        })
        .collect();
    drop(deps);
    // The drafts are put in execution order in place and become the changes in the same
    // allocation (a change is no larger than a draft): a large plan is never held twice.
    let mut rank = vec![0usize; drafts.len()];
    for (position, &i) in sequence.iter().enumerate() {
        rank[i] = position;
    }
    drop(sequence);
    for start in 0..drafts.len() {
        while rank[start] != start {
            let target = rank[start];
            drafts.swap(start, target);
            ids.swap(start, target);
            depends_on.swap(start, target);
            rank.swap(start, target);
        }
    }
    let changes = drafts
        .into_iter()
        .enumerate()
        .map(|(position, draft)| {
            let destructive = draft.is_destructive();
            Change {
                id: ChangeId(std::mem::take(&mut ids[position].0)),
                kind: draft.kind,
                key: draft.key,
                action: draft.action,
                before: draft.before,
                after: draft.after,
                fields: draft.fields,
                depends_on: std::mem::take(&mut depends_on[position]),
                destructive,
                op: draft.op,
            }
        })
        .collect();
    Ok(changes)
}

/// An execution order of `drafts` (Kahn's algorithm, ties broken by kind then key), each
/// draft's id, and the drafts each one depends on (by index).
#[allow(clippy::type_complexity)]
fn sequence(
    drafts: &[Draft],
) -> Result<(Vec<usize>, Vec<ChangeId>, Vec<BTreeSet<usize>>), PlanError> {
    let ids: Vec<ChangeId> = drafts.iter().map(Draft::id).collect();
    let index_of_id: BTreeMap<&ChangeId, usize> =
        ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        by_key.entry(d.key.as_str()).or_default().push(i);
    }

    // deps[i]: the changes i waits for.
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); drafts.len()];
    for (i, d) in drafts.iter().enumerate() {
        for parent in &d.parents {
            for &p in by_key
                .get(parent.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if p == i {
                    continue;
                }
                // A replace is a removal and an addition: it waits for its children's
                // removals (a certificate's replace activates the new one wherever the old
                // one is still active when it runs), and their additions wait for it.
                let removes_parent = drafts[p].action.is_removal()
                    || (drafts[p].action == super::Action::Replace && d.action.is_removal());
                if removes_parent {
                    deps[p].insert(i);
                } else if !d.action.is_removal() {
                    deps[i].insert(p);
                }
            }
        }
        for id in &d.after_changes {
            if let Some(&p) = index_of_id.get(id)
                && p != i
            {
                deps[i].insert(p);
            }
        }
    }
    let mut grants_by_principal: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate() {
        if let Some(p) = &d.principal
            && !d.action.is_removal()
        {
            grants_by_principal.entry(p.as_str()).or_default().push(i);
        }
    }
    for (i, d) in drafts.iter().enumerate() {
        if let Some(p) = &d.principal
            && d.action.is_removal()
        {
            deps[i].extend(
                grants_by_principal
                    .get(p.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            );
        }
    }

    // Kahn.
    let keys: Vec<(u8, usize, &str)> = drafts.iter().map(sort_key).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); drafts.len()];
    let mut waiting: Vec<usize> = vec![0; drafts.len()];
    for (i, ds) in deps.iter().enumerate() {
        waiting[i] = ds.len();
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: BTreeSet<(&(u8, usize, &str), usize)> = (0..drafts.len())
        .filter(|&i| waiting[i] == 0)
        .map(|i| (&keys[i], i))
        .collect();
    let mut sequence = Vec::with_capacity(drafts.len());
    while let Some(first) = ready.pop_first() {
        let i = first.1;
        sequence.push(i);
        for &j in &dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.insert((&keys[j], j));
            }
        }
    }
    if sequence.len() < drafts.len() {
        let mut stuck: Vec<String> = (0..drafts.len())
            .filter(|&i| waiting[i] > 0)
            .map(|i| ids[i].0.clone())
            .collect();
        stuck.sort();
        return Err(PlanError::Cycle(stuck));
    }

    Ok((sequence, ids, deps))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Action;

    fn draft(key: &str, action: Action, parents: &[&str]) -> Draft {
        Draft::new(
            ResourceKind::Group,
            key.into(),
            action,
            crate::kinds::group::Op::CreateGroup { name: key.into() },
        )
        .parents(parents.iter().map(|p| p.to_string()))
    }

    #[test]
    fn cycle_is_an_error_naming_the_changes() {
        let mut a = draft("a", Action::Create, &[]);
        let mut b = draft("b", Action::Create, &[]);
        a.after_changes.push(b.id());
        b.after_changes.push(a.id());
        let c = draft("c", Action::Create, &[]);
        match order(vec![a, b, c]) {
            Err(PlanError::Cycle(names)) => {
                assert_eq!(
                    names,
                    vec!["group:create:a".to_string(), "group:create:b".to_string()]
                )
            }
            other => panic!("expected a cycle, got {other:?}"),
        }
    }

    #[test]
    fn parent_removal_waits_for_child_removal_and_addition_waits_for_parent() {
        let parent_delete = draft("p", Action::Delete, &[]);
        let child_revoke = draft("p/c", Action::Revoke, &["p"]);
        let other_create = draft("q", Action::Create, &[]);
        let other_child = draft("q/c", Action::Grant, &["q"]);
        let changes =
            order(vec![parent_delete, child_revoke, other_child, other_create]).expect("acyclic");
        let keys: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, vec!["q", "q/c", "p/c", "p"]);
        assert_eq!(
            changes[3].depends_on,
            vec![ChangeId("group:revoke:p/c".into())]
        );
        assert_eq!(
            changes[1].depends_on,
            vec![ChangeId("group:create:q".into())]
        );
    }
}
