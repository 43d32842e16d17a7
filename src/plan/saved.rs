//! The saved plan (`orgops plan --out FILE`, read by `orgops apply --plan FILE`).
//!
//! A JSON document carrying: its format version and the orgops version that wrote it; the
//! organization it was planned against (base URL host and org id when known); the sha256 of
//! the normalised desired document; and, per change, the change itself plus the live facts
//! it depends on (its `before` value and the server IDs its operation resolves) with their
//! sha256. It holds no secret: operations name sinks by reference only, and no key value
//! ever enters a plan.
//!
//! A saved plan is an approval, not a script: nothing in it is executed as written.
//! [`check_structure`] refuses a malformed file before anything is read (unknown format
//! version, duplicate or inconsistent change ids, `depends_on` that names no change of the
//! plan or forms a cycle). [`verify`] re-plans against a fresh live read and refuses (with a
//! typed [`StaleReason`]) when the version, the organization, the desired document or the
//! live facts of any saved change differ, or when the saved changes are not semantically the
//! fresh plan's changes of the same ids (id, kind, key, action, operation, `after`,
//! `depends_on`: [`crate::plan::digest::execution_digests`]). What runs is the fresh plan's
//! changes of the saved ids, and the safety gates are re-checked on them with the apply's own
//! options. Live changes that touch none of the saved changes do not make the plan stale:
//! apply executes only the saved changes. A partial plan (`plan --target`) records its
//! `targets`, and [`verify`] compares it with a fresh plan of the same targets
//! ([`super::target::restrict`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::digest::{PlanDifference, execution_digests};
use super::normalize::normalize_document;
use super::{Change, ChangeId, Plan, PlanOptions, Refusal, UnmanagedObject, Waiting, target};
use crate::live::{IdIndex, LiveState};
use crate::model::Document;

/// Version of the saved-plan format this build reads and writes (2: `org` is the endpoint
/// and the organization the API reported; `fingerprint` covers the whole file).
pub const SAVED_PLAN_FORMAT_VERSION: u32 = 2;

/// The version of orgops writing or reading a saved plan.
pub const ORGOPS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Which organization a plan was made against: the endpoint and the organization the API
/// itself reported, never what the environment (`OPENAI_ORG_ID`) claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgIdentity {
    /// The API base URL without credentials or trailing slash, path included
    /// (`https://api.openai.com/v1`): two paths on one host may be two organizations. For
    /// `--emulator STATE`, `emulator`.
    pub endpoint: String,
    /// The organization the API named on its responses (`openai-organization`), or the
    /// emulator's state file; `None` when the API named none. Compared as it is: `None`
    /// matches only `None`.
    pub org_id: Option<String>,
}

impl OrgIdentity {
    /// The API at `base_url` (credentials, query and trailing slash dropped) serving
    /// `org_id`.
    pub fn from_base_url(base_url: &str, org_id: Option<&str>) -> OrgIdentity {
        let endpoint = match reqwest::Url::parse(base_url) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.set_query(None);
                url.set_fragment(None);
                url.as_str().trim_end_matches('/').to_string()
            }
            Err(_) => base_url.trim_end_matches('/').to_string(),
        };
        OrgIdentity {
            endpoint,
            org_id: org_id.map(str::to_string),
        }
    }

    /// Same organization: same endpoint and the same organization id, both known or both
    /// unknown (an id on one side only is another organization, not a wildcard).
    fn matches(&self, other: &OrgIdentity) -> bool {
        self.endpoint == other.endpoint && self.org_id == other.org_id
    }
}

/// The live facts one change depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveDependency {
    /// The change's `before` (the normalised live object), if it existed.
    pub before: Option<Value>,
    /// Server IDs the operation resolves, by reference label (`project:Search`).
    pub ids: BTreeMap<String, String>,
    /// sha256 of the two fields above.
    pub fingerprint: String,
}

/// One change of a saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedChange {
    #[serde(flatten)]
    pub change: Change,
    pub live: LiveDependency,
}

/// The saved-plan document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub orgops_version: String,
    pub org: OrgIdentity,
    /// sha256 of the normalised desired document.
    pub desired_fingerprint: String,
    pub changes: Vec<SavedChange>,
    #[serde(default)]
    pub unmanaged: Vec<UnmanagedObject>,
    #[serde(default)]
    pub refusals: Vec<Refusal>,
    /// What waits for invites to be accepted (shown, never applied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<Waiting>,
    /// The `--target` patterns of a partial plan (absent for a whole plan). Apply runs the
    /// saved changes only, and re-plans with these targets to check them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// sha256 of everything above, as written ([`file_fingerprint`]): what `show` prints
    /// (fields, unmanaged objects, refusals, what waits) is covered, not only what apply
    /// executes.
    #[serde(default)]
    pub fingerprint: String,
}

/// Everything a saved plan holds but its `fingerprint`, in the order it is written.
#[derive(Serialize)]
struct Covered<'a> {
    format_version: u32,
    orgops_version: &'a str,
    org: &'a OrgIdentity,
    desired_fingerprint: &'a str,
    changes: &'a [SavedChange],
    unmanaged: &'a [UnmanagedObject],
    refusals: &'a [Refusal],
    waiting: &'a [Waiting],
    targets: &'a [String],
}

/// `io::Write` into a running sha256: the fingerprint of a large plan is computed without
/// a second copy of it.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// sha256 (hex) of the compact JSON of everything `saved` holds but its `fingerprint`.
///
/// An integrity check, not a signature: whoever can edit the file can run this too. What
/// it stops is an edit nobody re-sealed (a hand edit of `fields` that makes a demotion read
/// `role: reader -> reader`); a re-sealed edit of what runs, or of how a change reads, is
/// still refused by `apply --plan`, which compares every change, its `fields` included,
/// with a fresh plan's ([`verify`]).
pub fn file_fingerprint(saved: &SavedPlan) -> String {
    let covered = Covered {
        format_version: saved.format_version,
        orgops_version: &saved.orgops_version,
        org: &saved.org,
        desired_fingerprint: &saved.desired_fingerprint,
        changes: &saved.changes,
        unmanaged: &saved.unmanaged,
        refusals: &saved.refusals,
        waiting: &saved.waiting,
        targets: &saved.targets,
    };
    let mut hasher = HashWriter(Sha256::new());
    // Plain data with string map keys into a writer that cannot fail: cannot fail.
    serde_json::to_writer(&mut hasher, &covered).expect("saved plans serialize to JSON");
    crate::text::hex::hex(&hasher.0.finalize())
}

/// Sets `saved.fingerprint` to what it holds now.
pub fn seal(saved: &mut SavedPlan) {
    saved.fingerprint = file_fingerprint(saved);
}

/// Why a saved plan cannot be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StaleReason {
    /// A live object a saved change depends on changed, appeared or disappeared.
    LiveChanged,
    /// The desired state is not the one the plan was made from.
    DesiredChanged,
    /// The plan was made against another organization or endpoint.
    OtherOrg,
    /// Another saved-plan format or orgops version wrote it.
    VersionMismatch,
    /// The saved changes are not what the desired state gives against the live organization
    /// (an edited file, or one made from other inputs): the changes concerned are named.
    ChangesDiffer,
}

/// A stale saved plan: the reason and the objects concerned (`apply` exits 4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Staleness {
    pub reason: StaleReason,
    pub objects: Vec<String>,
    pub message: String,
}

/// A saved plan whose structure is broken (`apply` exits 1 before any request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed saved plan: {0}")]
pub struct MalformedPlan(pub String);

/// A saved-plan file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("not a readable orgops saved plan: {0}")]
pub struct SavedPlanError(#[from] serde_json::Error);

fn sha256_hex(bytes: &[u8]) -> String {
    crate::text::hex::sha256_hex(bytes)
}

/// sha256 of the normalised desired document (independent of list order and email case).
pub fn desired_fingerprint(desired: &Document) -> String {
    let normal = normalize_document(desired, &IdIndex::default());
    // A `Document` is plain data: serializing it cannot fail.
    let bytes = serde_json::to_vec(&normal).expect("documents serialize to JSON");
    sha256_hex(&bytes)
}

/// The live facts `change` depends on, read from `ids`.
pub fn live_dependency(change: &Change, ids: &IdIndex) -> LiveDependency {
    let ids: BTreeMap<String, String> = change
        .kind
        .def()
        .id_refs(&change.op)
        .into_iter()
        .filter_map(|r| r.resolve(ids).map(|id| (r.label(), id.clone())))
        .collect();
    let canonical = serde_json::json!({ "before": change.before, "ids": ids });
    let fingerprint = sha256_hex(canonical.to_string().as_bytes());
    LiveDependency {
        before: change.before.clone(),
        ids,
        fingerprint,
    }
}

/// Build the saved form of `plan`, made from `desired` against `live` in `org`.
pub fn save(plan: &Plan, desired: &Document, live: &LiveState, org: OrgIdentity) -> SavedPlan {
    let mut saved = SavedPlan {
        format_version: SAVED_PLAN_FORMAT_VERSION,
        orgops_version: ORGOPS_VERSION.to_string(),
        org,
        desired_fingerprint: desired_fingerprint(desired),
        changes: plan
            .changes
            .iter()
            .map(|c| SavedChange {
                change: c.clone(),
                live: live_dependency(c, &live.ids),
            })
            .collect(),
        unmanaged: plan.unmanaged.clone(),
        refusals: plan.refusals.clone(),
        waiting: plan.waiting.clone(),
        targets: plan.targets.clone(),
        fingerprint: String::new(),
    };
    seal(&mut saved);
    saved
}

/// The saved plan as pretty JSON with a trailing newline.
pub fn to_json(saved: &SavedPlan) -> String {
    // Hidden characters of live names escaped (`\u202e`): a person reads this file.
    let mut text = crate::text::escape::json_pretty(saved);
    text.push('\n');
    text
}

pub fn from_json(text: &str) -> Result<SavedPlan, SavedPlanError> {
    Ok(serde_json::from_str(text)?)
}

/// The changes a saved plan carries, ready for the executor.
pub fn changes(saved: &SavedPlan) -> Vec<Change> {
    saved.changes.iter().map(|c| c.change.clone()).collect()
}

/// Refuse a saved plan whose structure is broken, before anything is read or written: an
/// unknown format version, an empty or unprintable target, a change whose id is not
/// `<kind>:<action>:<key>`, two changes of one id, live facts that do not match their
/// fingerprint, a `depends_on` naming no change of the plan, a dependency cycle, or a file
/// whose fingerprint does not cover what it holds (edited after it was written).
pub fn check_structure(saved: &SavedPlan) -> Result<(), MalformedPlan> {
    if saved.format_version != SAVED_PLAN_FORMAT_VERSION {
        return Err(MalformedPlan(format!(
            "format version {} is not one this orgops reads (it reads format {SAVED_PLAN_FORMAT_VERSION}): plan again with this orgops",
            saved.format_version
        )));
    }
    target::check_patterns(&saved.targets).map_err(|e| MalformedPlan(e.to_string()))?;
    let mut position: BTreeMap<&ChangeId, usize> = BTreeMap::new();
    for (i, saved_change) in saved.changes.iter().enumerate() {
        let c = &saved_change.change;
        let expected = ChangeId::new(c.kind, c.action, &c.key);
        if c.id != expected {
            return Err(MalformedPlan(format!(
                "change {} has id `{}`, but its kind, action and key make `{expected}`",
                i + 1,
                c.id
            )));
        }
        if let Some(first) = position.insert(&c.id, i) {
            return Err(MalformedPlan(format!(
                "changes {} and {} have the same id `{}`",
                first + 1,
                i + 1,
                c.id
            )));
        }
    }
    // The live facts each change carries are the ones its fingerprint was made from (an
    // edited `before` would otherwise be rendered by `show` as what live had).
    for saved_change in &saved.changes {
        let c = &saved_change.change;
        let live = &saved_change.live;
        let canonical = serde_json::json!({ "before": live.before, "ids": live.ids });
        if live.before != c.before
            || sha256_hex(canonical.to_string().as_bytes()) != live.fingerprint
        {
            return Err(MalformedPlan(format!(
                "change `{}`: its live facts do not match their fingerprint (the file was edited after `orgops plan --out` wrote it): plan again",
                c.id
            )));
        }
    }
    // Kahn's algorithm over depends_on: what is left is a cycle.
    let n = saved.changes.len();
    let mut waiting = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, saved_change) in saved.changes.iter().enumerate() {
        let deps: BTreeSet<&ChangeId> = saved_change.change.depends_on.iter().collect();
        for dep in deps {
            let Some(&d) = position.get(dep) else {
                return Err(MalformedPlan(format!(
                    "change `{}` depends on `{dep}`, which is not in the plan",
                    saved_change.change.id
                )));
            };
            waiting[i] += 1;
            dependents[d].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut done = 0;
    while let Some(i) = ready.pop() {
        done += 1;
        for &j in &dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.push(j);
            }
        }
    }
    if done < n {
        let mut cycle: Vec<String> = (0..n)
            .filter(|&i| waiting[i] > 0)
            .map(|i| format!("`{}`", saved.changes[i].change.id))
            .collect();
        cycle.sort();
        return Err(MalformedPlan(format!(
            "the changes' depends_on form a cycle between {}",
            cycle.join(", ")
        )));
    }
    // Last, so the checks above name what is wrong when they can.
    if file_fingerprint(saved) != saved.fingerprint {
        return Err(MalformedPlan(
            "what it shows (changes and their fields, unmanaged objects, refusals, what waits, \
             targets) does not match its fingerprint: the file was edited after `orgops plan \
             --out` wrote it. Plan again"
                .to_string(),
        ));
    }
    Ok(())
}

/// Refuse a saved plan that no longer fits: checked in the order version, organization,
/// desired state, live facts.
pub fn check_stale(
    saved: &SavedPlan,
    fresh_live: &LiveState,
    desired: &Document,
    org: &OrgIdentity,
) -> Result<(), Staleness> {
    // The options do not change any `before`; re-plan only to see the live facts afresh.
    let options = PlanOptions {
        allow_removals: true,
        ..PlanOptions::default()
    };
    fresh_plan(saved, fresh_live, desired, org, &options)
        .and_then(|fresh| check_live_facts(saved, &fresh, fresh_live))
}

/// What `apply --plan` runs: the saved plan checked for staleness ([`check_stale`]'s
/// reasons), then for semantic identity with a fresh plan, rebuilt from that fresh plan,
/// with the safety gates re-checked on it under `options` (the apply's own).
///
/// The returned plan has the fresh plan's changes of the saved ids (in the fresh plan's
/// order), the fresh plan's unmanaged objects, and the refusals of the gates over those
/// changes plus the fresh plan's refusals about the file (unarchive, immutable fields,
/// unknown rate limits) and any the saved file carries.
pub fn verify(
    saved: &SavedPlan,
    fresh_live: &LiveState,
    desired: &Document,
    org: &OrgIdentity,
    options: &PlanOptions,
) -> Result<Plan, Staleness> {
    let fresh = fresh_plan(saved, fresh_live, desired, org, options)?;
    // A partial plan is checked against a fresh plan of the same targets.
    let fresh =
        target::restrict(fresh, desired, fresh_live, options, &saved.targets).map_err(|error| {
            Staleness {
                reason: StaleReason::LiveChanged,
                objects: saved.targets.clone(),
                message: format!(
                    "the saved plan's targets no longer select anything: {error}: plan again"
                ),
            }
        })?;
    check_live_facts(saved, &fresh, fresh_live)?;
    let saved_changes = changes(saved);
    let saved_ids: BTreeSet<&ChangeId> = saved_changes.iter().map(|c| &c.id).collect();
    let rebuilt: Vec<Change> = fresh
        .changes
        .iter()
        .filter(|c| saved_ids.contains(&c.id))
        .cloned()
        .collect();
    let difference = PlanDifference::between(
        &execution_digests(&saved_changes),
        &execution_digests(&rebuilt),
    );
    if !difference.is_empty() {
        let mut objects: Vec<String> = difference
            .altered
            .iter()
            .map(|id| {
                format!(
                    "{id}: its operation, value, fields or dependencies differ from a fresh plan's"
                )
            })
            .chain(
                difference
                    .dropped
                    .iter()
                    .map(|id| format!("{id}: not a change a fresh plan makes")),
            )
            .collect();
        objects.sort();
        return Err(Staleness {
            reason: StaleReason::ChangesDiffer,
            message: format!(
                "{} of the saved plan's changes are not what the desired state gives against the live organization (the file was edited after it was made, or made from other inputs): plan again and review it",
                objects.len()
            ),
            objects,
        });
    }
    let mut refusals = super::gates(desired, fresh_live, options, &rebuilt);
    refusals.extend(fresh.refusals.iter().filter(|r| !r.rule.is_gate()).cloned());
    refusals.extend(saved.refusals.iter().cloned());
    refusals
        .sort_by(|a, b| (a.rule, &a.objects, &a.message).cmp(&(b.rule, &b.objects, &b.message)));
    refusals.dedup();
    Ok(Plan {
        changes: rebuilt,
        unmanaged: fresh.unmanaged,
        refusals,
        waiting: fresh.waiting,
        targets: saved.targets.clone(),
    })
}

/// A plan saved by another format or orgops version is refused (by `apply` and `show`).
pub fn check_version(saved: &SavedPlan) -> Result<(), Staleness> {
    if saved.format_version != SAVED_PLAN_FORMAT_VERSION || saved.orgops_version != ORGOPS_VERSION {
        return Err(Staleness {
            reason: StaleReason::VersionMismatch,
            objects: vec![],
            message: format!(
                "the plan was saved by orgops {} (format {}); this is orgops {ORGOPS_VERSION} (format {SAVED_PLAN_FORMAT_VERSION}): plan again",
                saved.orgops_version, saved.format_version
            ),
        });
    }
    Ok(())
}

/// The plan a saved plan holds, as `plan` rendered it (`orgops show`), without a copy.
pub fn into_plan(saved: SavedPlan) -> Plan {
    Plan {
        changes: saved.changes.into_iter().map(|c| c.change).collect(),
        unmanaged: saved.unmanaged,
        refusals: saved.refusals,
        waiting: saved.waiting,
        targets: saved.targets,
    }
}

/// The version, organization and desired-state checks, then a fresh plan.
fn fresh_plan(
    saved: &SavedPlan,
    fresh_live: &LiveState,
    desired: &Document,
    org: &OrgIdentity,
    options: &PlanOptions,
) -> Result<Plan, Staleness> {
    check_version(saved)?;
    if !saved.org.matches(org) {
        return Err(Staleness {
            reason: StaleReason::OtherOrg,
            objects: vec![],
            message: format!(
                "the plan was made against {} and this run talks to {}",
                describe(&saved.org),
                describe(org)
            ),
        });
    }
    if saved.desired_fingerprint != desired_fingerprint(desired) {
        return Err(Staleness {
            reason: StaleReason::DesiredChanged,
            objects: vec![],
            message: "the desired state differs from the one the plan was made from: plan again"
                .into(),
        });
    }
    super::plan(desired, fresh_live, options).map_err(|error| Staleness {
        reason: StaleReason::LiveChanged,
        objects: vec![],
        message: format!("the live organization can no longer be planned: {error}"),
    })
}

/// Every saved change's live facts are the fresh plan's for the same key.
fn check_live_facts(
    saved: &SavedPlan,
    fresh: &Plan,
    fresh_live: &LiveState,
) -> Result<(), Staleness> {
    let fresh_by_key: BTreeMap<&str, &Change> =
        fresh.changes.iter().map(|c| (c.key.as_str(), c)).collect();
    let mut changed: Vec<String> = saved
        .changes
        .iter()
        .filter(|s| match fresh_by_key.get(s.change.key.as_str()) {
            Some(f) => live_dependency(f, &fresh_live.ids).fingerprint != s.live.fingerprint,
            None => true,
        })
        .map(|s| s.change.key.clone())
        .collect();
    changed.sort();
    if changed.is_empty() {
        Ok(())
    } else {
        Err(Staleness {
            reason: StaleReason::LiveChanged,
            message: format!(
                "the live organization changed since the plan was made, for {} of its changes: plan again",
                changed.len()
            ),
            objects: changed,
        })
    }
}

fn describe(org: &OrgIdentity) -> String {
    let endpoint = crate::text::escape::text(&org.endpoint);
    match &org.org_id {
        Some(id) => format!(
            "{endpoint} (organization {})",
            crate::text::escape::text(id)
        ),
        None => format!("{endpoint} (which named no organization)"),
    }
}
