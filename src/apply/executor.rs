//! Walks the plan's DAG. Each change waits for the changes in its `depends_on`; when all of
//! them succeeded (applied or already satisfied) it becomes ready. Ready changes start in
//! plan order, at most [`ExecuteOptions::concurrency`] at a time; the client's shared rate
//! controller decides when their requests actually go out. When a change fails, every change
//! that depends on it (directly or through others) is skipped, naming the change it waited
//! for; changes on independent branches go on.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::perform;
use super::report::{ApplyProgress, ApplyReport, ChangeReport, Outcome};
use super::secrets::Sinks;
use crate::api::Client;
use crate::kinds::apply::{ApplyContext, Ids};
use crate::live::IdIndex;
use crate::plan::Change;

/// How many changes run at once.
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    pub concurrency: usize,
}

impl ExecuteOptions {
    /// Twice the client's global concurrency: when a request finishes, another change is
    /// already waiting for the freed permit, so the pipe stays full.
    pub fn for_client(client: &Client) -> Self {
        ExecuteOptions {
            concurrency: client.controller().limits().max_concurrency.max(1) * 2,
        }
    }
}

/// Runs changes against one organization.
pub struct Executor {
    context: Arc<ApplyContext>,
}

impl Executor {
    /// `live_ids` from the live read the plan was made (or checked) against; `sinks` from
    /// the desired state; `certificate_pems` by certificate name, as the config loader read
    /// them.
    pub fn new(
        client: Client,
        live_ids: &IdIndex,
        sinks: Sinks,
        certificate_pems: BTreeMap<String, String>,
    ) -> Executor {
        Executor {
            context: Arc::new(ApplyContext {
                client,
                ids: Ids::new(live_ids),
                sinks: Box::new(sinks),
                files: certificate_pems,
            }),
        }
    }

    /// The IDs known so far (live plus created by this run).
    pub fn ids(&self) -> &Ids {
        &self.context.ids
    }

    /// Executes `changes` (a plan's, in plan order) and reports every one of them.
    pub async fn run(
        &self,
        changes: &[Change],
        options: &ExecuteOptions,
        progress: &dyn ApplyProgress,
    ) -> ApplyReport {
        let started = Instant::now();
        progress.begin(changes.len());
        let mut graph = Graph::new(changes);
        let concurrency = options.concurrency.max(1);
        let mut running: JoinSet<(usize, Outcome)> = JoinSet::new();
        let mut task_of: BTreeMap<tokio::task::Id, usize> = BTreeMap::new();
        for (i, reason) in graph.missing_dependencies() {
            graph.settle(i, Outcome::Skipped { reason }, changes, progress);
        }
        loop {
            while running.len() < concurrency {
                let Some(i) = graph.ready.pop_first() else {
                    break;
                };
                let context = self.context.clone();
                let change = changes[i].clone();
                let handle = running.spawn(async move {
                    let outcome = perform::perform(&context, &change).await;
                    (i, outcome)
                });
                task_of.insert(handle.id(), i);
            }
            let Some(joined) = running.join_next_with_id().await else {
                break;
            };
            let (i, outcome) = match joined {
                Ok((_, (i, outcome))) => (i, outcome),
                Err(error) => {
                    let Some(&i) = task_of.get(&error.id()) else {
                        continue;
                    };
                    let outcome = Outcome::Failed {
                        error: format!("internal error while applying this change: {error}"),
                    };
                    (i, outcome)
                }
            };
            graph.settle(i, outcome, changes, progress);
        }
        // Only a dependency cycle (which the planner refuses to produce) leaves changes here.
        for i in 0..changes.len() {
            if graph.outcomes[i].is_none() {
                let reason = "waits on a dependency cycle".to_string();
                graph.settle(i, Outcome::Skipped { reason }, changes, progress);
            }
        }
        progress.end();
        let outcomes = std::mem::take(&mut graph.outcomes);
        ApplyReport {
            changes: changes
                .iter()
                .zip(outcomes)
                .map(|(change, outcome)| ChangeReport {
                    id: change.id.clone(),
                    kind: change.kind,
                    key: change.key.clone(),
                    action: change.action,
                    outcome: outcome.unwrap_or(Outcome::Skipped {
                        reason: "not reached".into(),
                    }),
                })
                .collect(),
            elapsed: started.elapsed(),
        }
    }
}

/// Scheduling state: what each change waits for and what waits for it.
struct Graph {
    waiting: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    missing: Vec<Vec<String>>,
    outcomes: Vec<Option<Outcome>>,
    /// Ready to start, by plan position.
    ready: BTreeSet<usize>,
}

impl Graph {
    fn new(changes: &[Change]) -> Graph {
        let position: BTreeMap<&str, usize> = changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.0.as_str(), i))
            .collect();
        let n = changes.len();
        let mut waiting = vec![0; n];
        let mut dependents = vec![Vec::new(); n];
        let mut missing = vec![Vec::new(); n];
        for (i, change) in changes.iter().enumerate() {
            let deps: BTreeSet<&str> = change.depends_on.iter().map(|d| d.0.as_str()).collect();
            for dep in deps {
                match position.get(dep) {
                    Some(&d) if d != i => {
                        waiting[i] += 1;
                        dependents[d].push(i);
                    }
                    Some(_) => {}
                    None => missing[i].push(dep.to_string()),
                }
            }
        }
        let ready = (0..n)
            .filter(|&i| waiting[i] == 0 && missing[i].is_empty())
            .collect();
        Graph {
            waiting,
            dependents,
            missing,
            outcomes: vec![None; n],
            ready,
        }
    }

    /// Changes that depend on a change the plan does not contain (a hand-edited saved plan).
    fn missing_dependencies(&self) -> Vec<(usize, String)> {
        self.missing
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.is_empty())
            .map(|(i, m)| {
                (
                    i,
                    format!("depends on {}, which is not in this plan", m.join(", ")),
                )
            })
            .collect()
    }

    /// Records `outcome` for change `i`, then releases or skips its dependents.
    fn settle(
        &mut self,
        i: usize,
        outcome: Outcome,
        changes: &[Change],
        progress: &dyn ApplyProgress,
    ) {
        if self.outcomes[i].is_some() {
            return;
        }
        progress.finished(&changes[i], &outcome);
        let succeeded = outcome.succeeded();
        self.outcomes[i] = Some(outcome);
        if succeeded {
            for &d in &self.dependents[i] {
                self.waiting[d] -= 1;
                if self.waiting[d] == 0 && self.missing[d].is_empty() && self.outcomes[d].is_none()
                {
                    self.ready.insert(d);
                }
            }
            return;
        }
        // Skip everything downstream, each naming the change it waited for.
        let mut queue: VecDeque<usize> = VecDeque::from([i]);
        while let Some(failed) = queue.pop_front() {
            let verb = match self.outcomes[failed] {
                Some(Outcome::Failed { .. }) => "failed",
                _ => "was skipped",
            };
            for d in self.dependents[failed].clone() {
                if self.outcomes[d].is_some() {
                    continue;
                }
                let outcome = Outcome::Skipped {
                    reason: format!("depends on {}, which {verb}", changes[failed].id),
                };
                progress.finished(&changes[d], &outcome);
                self.outcomes[d] = Some(outcome);
                self.ready.remove(&d);
                queue.push_back(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::report::NoApplyProgress;
    use crate::plan::{Action, ChangeId, ResourceKind};

    fn change(name: &str, deps: &[&str]) -> Change {
        Change {
            id: ChangeId(format!("group:create:{name}")),
            kind: ResourceKind::Group,
            key: format!("group:{name}"),
            action: Action::Create,
            before: None,
            after: None,
            fields: vec![],
            depends_on: deps
                .iter()
                .map(|d| ChangeId(format!("group:create:{d}")))
                .collect(),
            destructive: false,
            op: crate::kinds::group::Op::CreateGroup { name: name.into() }.into(),
        }
    }

    #[test]
    fn a_failure_skips_its_dependents_transitively_and_spares_independent_branches() {
        let changes = vec![
            change("a", &[]),
            change("b", &["a"]),
            change("c", &["b"]),
            change("d", &[]),
            change("e", &["d", "a"]),
        ];
        let mut graph = Graph::new(&changes);
        assert_eq!(graph.ready, BTreeSet::from([0, 3]));
        // Both start.
        graph.ready.clear();
        let failed = Outcome::Failed {
            error: "boom".into(),
        };
        graph.settle(0, failed, &changes, &NoApplyProgress);
        graph.settle(
            3,
            Outcome::Applied { note: None },
            &changes,
            &NoApplyProgress,
        );
        assert!(graph.ready.is_empty(), "e waits on a, which failed");
        let reason = |i: usize| match &graph.outcomes[i] {
            Some(Outcome::Skipped { reason }) => reason.clone(),
            other => panic!("expected a skip, got {other:?}"),
        };
        assert_eq!(reason(1), "depends on group:create:a, which failed");
        assert_eq!(reason(2), "depends on group:create:b, which was skipped");
        assert_eq!(reason(4), "depends on group:create:a, which failed");
        assert_eq!(graph.outcomes[3], Some(Outcome::Applied { note: None }));
    }

    #[test]
    fn a_change_is_ready_only_when_all_its_dependencies_succeeded() {
        let changes = vec![change("a", &[]), change("b", &[]), change("c", &["a", "b"])];
        let mut graph = Graph::new(&changes);
        graph.ready.clear();
        graph.settle(
            0,
            Outcome::Applied { note: None },
            &changes,
            &NoApplyProgress,
        );
        assert!(graph.ready.is_empty());
        let already = Outcome::AlreadySatisfied {
            reason: "already there".into(),
        };
        graph.settle(1, already, &changes, &NoApplyProgress);
        assert_eq!(graph.ready, BTreeSet::from([2]));
        let dangling = vec![change("x", &["nowhere"])];
        let graph = Graph::new(&dangling);
        assert!(graph.ready.is_empty());
        assert_eq!(
            graph.missing_dependencies(),
            vec![(
                0,
                "depends on group:create:nowhere, which is not in this plan".to_string()
            )]
        );
    }
}
