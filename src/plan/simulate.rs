//! Test support: a plan applied to a live state through each kind's pure model of the API
//! (`Kind::simulate`), so tests can check convergence (planning again after applying a plan
//! gives an empty plan).

use crate::live::LiveState;
use crate::plan::Plan;

/// `live` after every operation of `plan` succeeded.
pub(crate) fn simulate(live: &LiveState, plan: &Plan) -> LiveState {
    let mut s = live.clone();
    for change in &plan.changes {
        change.kind.def().simulate(&change.op, &mut s);
    }
    s
}
