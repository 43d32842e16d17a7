//! The safety gates that look at the changes as a whole: `protect`, the admin key's owner,
//! `min_owners`, the default project and `max_removals`. (Gates about what the file declares,
//! such as unarchiving or a residency change, are raised by the kind that sees them.)
//!
//! A gate never drops a change: it adds a [`Refusal`](super::Refusal) naming the rule, the
//! objects and the override, and the whole plan is refused.

use super::context::{Context, Output};
use super::{PlanOptions, RefusalRule};

pub(crate) fn apply_gates(ctx: &Context<'_>, options: &PlanOptions, out: &mut Output) {
    let mut protect_hits = Vec::new();
    let mut key_owner_hits = Vec::new();
    let mut default_project_hits = Vec::new();
    let mut owners_lost = Vec::new();
    let mut owners_gained = 0usize;

    for draft in &out.drafts {
        let facts = draft.kind.def().gate_facts(ctx, draft);
        if facts.protected {
            protect_hits.push(draft.key.clone());
        }
        if facts.key_owner {
            key_owner_hits.push(draft.key.clone());
        }
        if facts.default_project {
            default_project_hits.push(draft.key.clone());
        }
        if facts.owner_lost {
            owners_lost.push(draft.key.clone());
        }
        if facts.owner_gained {
            owners_gained += 1;
        }
    }

    if !protect_hits.is_empty() {
        out.refuse(
            RefusalRule::Protect,
            "the plan would remove, demote or archive objects listed in `policy.protect`".into(),
            protect_hits,
            "declare them in the file as they are, or take them out of `policy.protect` first",
        );
    }
    if !key_owner_hits.is_empty() {
        out.refuse(
            RefusalRule::KeyOwner,
            "the plan would remove or demote the owner of the admin key in use".into(),
            key_owner_hits,
            "declare this user as an owner, or run with an admin key owned by someone else",
        );
    }
    if !default_project_hits.is_empty() {
        out.refuse(
            RefusalRule::DefaultProject,
            "the default project is never archived".into(),
            default_project_hits,
            "remove `archived: true` from the default project",
        );
    }

    let min_owners = ctx.desired.policy.min_owners() as usize;
    let owners_now = ctx.live_owner_count();
    let owners_after = (owners_now + owners_gained).saturating_sub(owners_lost.len());
    if !owners_lost.is_empty() && owners_after < min_owners && owners_after < owners_now {
        out.refuse(
            RefusalRule::MinOwners,
            format!(
                "the organization would keep {owners_after} owner(s) ({owners_now} now); `policy.min_owners` is {min_owners}"
            ),
            owners_lost,
            "keep or promote enough owners in the file, or lower `policy.min_owners`",
        );
    }

    let limit = options
        .max_removals
        .unwrap_or_else(|| ctx.desired.policy.max_removals()) as usize;
    let removals: Vec<String> = out
        .drafts
        .iter()
        .filter(|d| d.is_destructive())
        .map(|d| d.key.clone())
        .collect();
    if removals.len() > limit && !options.allow_removals {
        out.refuse(
            RefusalRule::MaxRemovals,
            format!("the plan removes {} objects, more than max_removals ({limit})", removals.len()),
            removals,
            "review the removals, then re-run with `--max-removals N` or `--allow-removals` (in GitHub Actions: the `max-removals` or `allow-removals` input, in the plan and the apply workflows), or raise `policy.max_removals`",
        );
    }
}
