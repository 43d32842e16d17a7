//! Partial plans: `--target KEY` (repeatable) keeps the changes of the named objects and
//! everything they depend on, as Terraform's `-target` does.
//!
//! - **Patterns** match the plan's natural keys (`project:Search`,
//!   `project:Search/member:bob@x.example`, see `kinds/mod.rs`): `*` stands for any run of
//!   characters (`/` included), `?` for one character; everything else is literal and
//!   case-sensitive. A pattern that matches a key also selects everything inside it (the keys
//!   below it after a `/`): `project:Search` is the project and all its children,
//!   `project:Search/*` only its children.
//! - **An invite counts as the project memberships it carries** (`project:P/member:EMAIL`):
//!   a person joins a project through their invite, so `project:Search/*` selects the invites
//!   that bring people into Search.
//! - **Dependencies** come from the plan's ordering edges ([`super::order`]): the selected
//!   changes' `depends_on`, transitively, so a partial plan can run on its own (a new
//!   project's membership brings the project's creation; a project's archive brings the
//!   removal of its children).
//! - **The rest follows the selection**: reported objects and waiting changes whose keys
//!   match; the whole-plan safety gates re-checked over the selected changes alone; the
//!   file's refusals (unarchive, immutable fields, unknown rate limits) about selected or
//!   matching objects.
//! - **A pattern that matches nothing** (no key of the file's objects, of the plan's changes,
//!   reported objects or waiting changes, nor anything inside one of them: `project:Search/*`
//!   of a declared project with nothing inside is an empty partial plan) is an error naming
//!   the closest keys.
//!
//! **The live read shrinks when every target is inside projects** (each pattern starts with
//! the literal `project:`): the per-project lists (members, groups, service accounts, roles,
//! rate limits, certificate activations) are read only for the projects a target may select
//! something in, and the per-principal lists of organization principals (group members,
//! users' and groups' custom roles) not at all ([`narrow_scope`]). This is safe because no
//! change inside a project depends on a change inside another project or on those lists
//! (the plan's edges go to the project, its principals' invites and users, groups, roles and
//! certificates, all read as before); `tests/it/oracle.rs` checks, for random organizations
//! and targets, that the partial plan from the narrowed read equals, byte for byte, the one
//! from the whole read. Any other target (`user:...`, `group:...`, `*`) keeps the whole read:
//! removing an organization object depends on its children in every project.

use std::collections::{BTreeMap, BTreeSet};

use super::{Change, ChangeId, Plan, PlanOptions, ResourceKind};
use crate::kinds::keys;
use crate::live::{LiveState, ReadScope, Select};
use crate::model::Document;
use crate::text::escape;

/// Close keys named per pattern that matches nothing.
const MAX_SUGGESTIONS: usize = 5;

/// `--target` patterns that select nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{}", describe_unmatched(.0))]
    NoMatch(Vec<Unmatched>),
    #[error(
        "--target `{0}` is empty or has a control character: give a natural key such as `project:Search` or a glob such as `project:Search/*`"
    )]
    Invalid(String),
}

/// One pattern that matches nothing, with the keys closest to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    pub target: String,
    pub close: Vec<String>,
}

fn describe_unmatched(unmatched: &[Unmatched]) -> String {
    let mut out = String::new();
    for (i, u) in unmatched.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!(
            "--target `{}` matches no object of the file or the plan",
            escape::text(&u.target)
        ));
        if u.close.is_empty() {
            out.push_str(
                " (keys look like `project:NAME`, `project:NAME/member:EMAIL`, `user:EMAIL`, `group:NAME`; `orgops plan --format json` lists the keys of every change)",
            );
        } else {
            // Close keys may come from live names: shown escaped.
            let close: Vec<String> = u
                .close
                .iter()
                .map(|k| format!("`{}`", escape::text(k)))
                .collect();
            out.push_str(&format!("; close keys: {}", close.join(", ")));
        }
    }
    out
}

/// Whether glob `pattern` (`*` any run, `?` one character) matches all of `text`.
fn glob(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// Whether `pattern` selects `key`: it matches the whole key, or the key is inside an object
/// it matches (a prefix of the key that ends before a `/`).
pub fn matches(pattern: &str, key: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let key: Vec<char> = key.chars().collect();
    glob(&pattern, &key)
        || key
            .iter()
            .enumerate()
            .any(|(i, &c)| c == '/' && glob(&pattern, &key[..i]))
}

/// Whether the glob can still match some string that starts with `prefix`.
fn may_continue(pattern: &[char], prefix: &[char]) -> bool {
    let close = |states: &mut BTreeSet<usize>| {
        let mut p = 0;
        while p < pattern.len() {
            if pattern[p] == '*' && states.contains(&p) {
                states.insert(p + 1);
            }
            p += 1;
        }
    };
    let mut states = BTreeSet::from([0]);
    close(&mut states);
    for &c in prefix {
        let mut next = BTreeSet::new();
        for &p in &states {
            match pattern.get(p) {
                Some('*') => {
                    next.insert(p);
                }
                Some(&x) if x == '?' || x == c => {
                    next.insert(p + 1);
                }
                _ => {}
            }
        }
        close(&mut next);
        if next.is_empty() {
            return false;
        }
        states = next;
    }
    true
}

/// Whether `pattern` may select a key that starts with `prefix` (see [`matches`]).
fn may_select_under(pattern: &str, prefix: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let prefix: Vec<char> = prefix.chars().collect();
    may_continue(&pattern, &prefix)
        || prefix
            .iter()
            .enumerate()
            .any(|(i, &c)| c == '/' && glob(&pattern, &prefix[..i]))
}

/// The read a partial plan needs (see the module doc): `scope` (the whole plan's read of
/// the file) unchanged unless every target starts with the literal `project:`; then the
/// per-project lists of the projects no target may select anything in, and the
/// per-principal lists of organization principals, are not read.
pub fn narrow_scope(scope: &mut ReadScope, targets: &[String]) {
    const PROJECT: &str = "project:";
    let project_only = !targets.is_empty()
        && targets
            .iter()
            .all(|t| t.starts_with(PROJECT) && !t[..PROJECT.len()].contains(['*', '?']));
    if !project_only {
        return;
    }
    let wanted = |project: &str| {
        let prefix = format!("{}/", keys::project(project));
        targets.iter().any(|t| may_select_under(t, &prefix))
    };
    // The kind at the top of `kind`'s chain of parents.
    let root = |kind: ResourceKind| {
        let mut kind = kind;
        while let Some(parent) = kind.def().source().and_then(|s| s.parent) {
            kind = parent;
        }
        kind
    };
    for (kind, select) in scope.kinds.iter_mut() {
        let Some(parent) = kind.def().source().and_then(|s| s.parent) else {
            continue; // an organization list
        };
        if parent == ResourceKind::Project {
            // Per-project lists of the projects a target may select something in.
            if let Select::Only(keys) = select {
                keys.retain(|key| key.strip_prefix("project:").is_some_and(wanted));
            }
        } else if root(*kind) != ResourceKind::Project {
            // Per-principal lists of organization principals: no target selects them.
            *select = Select::Nothing;
        }
        // Lists under a project's members or groups start only from the lists above.
    }
    scope.kinds.retain(|_, select| !select.is_nothing());
}

/// Checks the patterns' shape (not whether they match: see [`restrict`]).
pub fn check_patterns(targets: &[String]) -> Result<(), TargetError> {
    match targets
        .iter()
        .find(|t| t.trim().is_empty() || t.chars().any(escape::is_hidden))
    {
        Some(bad) => Err(TargetError::Invalid(escape::text(bad).into_owned())),
        None => Ok(()),
    }
}

/// Keys of other objects a change carries (its kind says: an invite's project memberships).
fn carried(change: &Change) -> Vec<String> {
    change.kind.def().carried_keys(change)
}

/// Every key a pattern may name: the file's objects (each kind says which), and the plan's
/// changes, reported objects and waiting changes.
fn universe(desired: &Document, plan: &Plan) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for kind in ResourceKind::ALL {
        all.extend(kind.def().declared_keys(desired));
    }
    for change in &plan.changes {
        all.insert(change.key.clone());
        all.extend(carried(change));
    }
    all.extend(plan.unmanaged.iter().map(|u| u.key.clone()));
    for waiting in &plan.waiting {
        all.insert(waiting.invite.clone());
        all.extend(waiting.deferred.iter().cloned());
    }
    all
}

/// The keys closest to `pattern`: compared with its literal part (up to the first `*` or
/// `?`), each key cut to as many `/`-separated parts.
pub fn close_keys(pattern: &str, universe: &BTreeSet<String>) -> Vec<String> {
    let literal: &str = pattern.split(['*', '?']).next().unwrap_or(pattern);
    let literal = literal.trim_end_matches('/');
    // What follows the literal part (`/*`), kept on a suggestion when it then matches.
    let rest = &pattern[literal.len()..];
    let parts = literal.split('/').count().max(1);
    let mut candidates: BTreeMap<String, usize> = BTreeMap::new();
    for key in universe {
        let cut: String = key.split('/').take(parts).collect::<Vec<_>>().join("/");
        let distance = strsim::levenshtein(&literal.to_lowercase(), &cut.to_lowercase());
        let entry = candidates.entry(cut).or_insert(distance);
        *entry = (*entry).min(distance);
    }
    let limit = (literal.chars().count() / 3).max(3);
    let mut ranked: Vec<(usize, String)> = candidates
        .into_iter()
        .filter(|(_, d)| *d <= limit)
        .map(|(k, d)| (d, k))
        .collect();
    ranked.sort();
    ranked
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, k)| {
            let with_rest = format!("{k}{rest}");
            if !rest.is_empty() && universe.iter().any(|key| matches(&with_rest, key)) {
                with_rest
            } else {
                k
            }
        })
        .collect()
}

/// `plan` limited to the changes `targets` select and what they depend on (see the module
/// doc). An empty `targets` returns the plan unchanged. `desired`, `live` and `options` are
/// the ones the plan was made from (the safety gates are checked again over the selection).
pub fn restrict(
    plan: Plan,
    desired: &Document,
    live: &LiveState,
    options: &PlanOptions,
    targets: &[String],
) -> Result<Plan, TargetError> {
    if targets.is_empty() {
        return Ok(plan);
    }
    check_patterns(targets)?;
    let all = universe(desired, &plan);
    let unmatched: Vec<Unmatched> = targets
        .iter()
        .filter(|t| {
            !all.iter()
                .any(|k| matches(t, k) || may_select_under(t, &format!("{k}/")))
        })
        .map(|t| Unmatched {
            target: t.clone(),
            close: close_keys(t, &all),
        })
        .collect();
    if !unmatched.is_empty() {
        return Err(TargetError::NoMatch(unmatched));
    }
    let hit = |key: &str| targets.iter().any(|t| matches(t, key));

    let index: BTreeMap<&ChangeId, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (&c.id, i))
        .collect();
    let mut selected = vec![false; plan.changes.len()];
    let mut stack: Vec<usize> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(_, c)| hit(&c.key) || carried(c).iter().any(|k| hit(k)))
        .map(|(i, _)| i)
        .collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut selected[i], true) {
            continue;
        }
        stack.extend(
            plan.changes[i]
                .depends_on
                .iter()
                .filter_map(|d| index.get(d).copied()),
        );
    }
    let changes: Vec<Change> = plan
        .changes
        .iter()
        .zip(&selected)
        .filter(|(_, s)| **s)
        .map(|(c, _)| c.clone())
        .collect();
    let selected_keys: BTreeSet<&str> = changes.iter().map(|c| c.key.as_str()).collect();
    let concerned = |key: &str| hit(key) || selected_keys.contains(key);

    let unmanaged = plan
        .unmanaged
        .iter()
        .filter(|u| hit(&u.key))
        .cloned()
        .collect();
    let waiting = plan
        .waiting
        .iter()
        .filter(|w| concerned(&w.invite) || w.deferred.iter().any(|k| hit(k)))
        .cloned()
        .collect();
    let mut refusals = super::gates(desired, live, options, &changes);
    refusals.extend(
        plan.refusals
            .iter()
            .filter(|r| !r.rule.is_gate() && r.objects.iter().any(|o| concerned(o)))
            .cloned(),
    );
    refusals
        .sort_by(|a, b| (a.rule, &a.objects, &a.message).cmp(&(b.rule, &b.objects, &b.message)));
    refusals.dedup();
    Ok(Plan {
        changes,
        unmanaged,
        refusals,
        waiting,
        targets: targets.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_keys_and_what_is_inside_them() {
        assert!(matches("project:Search/*", "project:Search/member:a@x"));
        assert!(matches(
            "project:Search/*",
            "project:Search/member:a@x/role:r"
        ));
        assert!(!matches("project:Search/*", "project:Search"));
        assert!(!matches("project:Search/*", "project:Search2/member:a@x"));
        assert!(matches("project:Search", "project:Search"));
        assert!(matches("project:Search", "project:Search/group:g"));
        assert!(!matches("project:Search", "project:Searching"));
        assert!(matches("user:?ob@x", "user:bob@x"));
        assert!(matches("*/member:bob@x", "group:g/member:bob@x"));
        assert!(matches("*", "anything/at/all"));
        assert!(!matches("project:search", "project:Search"));
    }

    #[test]
    fn a_pattern_may_select_under_a_prefix() {
        let under = |p: &str| may_select_under(p, "project:Search/");
        assert!(under("project:Search/*"));
        assert!(under("project:Search"));
        assert!(under("project:Se*"));
        assert!(under("project:*/member:bob@x"));
        assert!(under("project:Search/member:?ob@x"));
        assert!(!under("project:Labs/*"));
        assert!(!under("project:Searching"));
        assert!(!under("project:Search2/*"));
    }

    #[test]
    fn only_project_targets_narrow_the_read() {
        let whole = ReadScope {
            kinds: [
                (
                    ResourceKind::ProjectMember,
                    Select::Only(["project:Labs".into(), "project:Search".into()].into()),
                ),
                (ResourceKind::RateLimit, Select::All),
                (
                    ResourceKind::UserRole,
                    Select::Only(["user:a@x".into()].into()),
                ),
            ]
            .into(),
            ..ReadScope::default()
        };
        let mut scope = whole.clone();
        narrow_scope(&mut scope, &["project:Search/*".into()]);
        assert_eq!(
            *scope.of(ResourceKind::ProjectMember),
            Select::Only(["project:Search".into()].into())
        );
        assert_eq!(*scope.of(ResourceKind::RateLimit), Select::All);
        assert_eq!(*scope.of(ResourceKind::UserRole), Select::Nothing);
        for others in [
            &["user:a@x".to_string()][..],
            &["*".into()],
            &["project:*".into(), "group:g".into()],
            &[],
        ] {
            let mut scope = whole.clone();
            narrow_scope(&mut scope, others);
            assert_eq!(scope, whole, "{others:?}");
        }
    }

    #[test]
    fn close_keys_compare_the_literal_part() {
        let universe: BTreeSet<String> = [
            "project:Research",
            "project:Research/group:research",
            "project:Production",
            "user:bob@x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            close_keys("project:Reserch/*", &universe),
            vec!["project:Research/*".to_string()]
        );
        assert_eq!(
            close_keys("project:Reserch", &universe),
            vec!["project:Research".to_string()]
        );
        assert_eq!(
            close_keys("user:bbo@x", &universe),
            vec!["user:bob@x".to_string()]
        );
    }

    #[test]
    fn a_saved_plan_with_an_unprintable_target_is_malformed() {
        use crate::plan::saved::{OrgIdentity, check_structure, save};
        let org = OrgIdentity {
            endpoint: "emulator".into(),
            org_id: None,
        };
        let mut saved = save(
            &Plan::default(),
            &Document::default(),
            &LiveState::default(),
            org,
        );
        assert!(check_structure(&saved).is_ok());
        saved.targets = vec!["project:\u{1b}[2J".into()];
        let error = check_structure(&saved).expect_err("malformed").to_string();
        assert!(error.contains("\\u{1b}"), "{error}");
    }

    #[test]
    fn patterns_with_control_characters_are_refused() {
        assert!(check_patterns(&["project:\u{1b}[31m".into()]).is_err());
        assert!(check_patterns(&[" ".into()]).is_err());
        assert!(check_patterns(&["project:\u{202e}x".into()]).is_err());
        assert!(check_patterns(&["project:Search/*".into()]).is_ok());
    }
}
