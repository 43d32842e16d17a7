//! One change = its kind's `perform` (`crate::kinds::Kind::perform`): the API calls of its
//! operation, through the write protocol of [`crate::api::safe`]. IDs come from
//! [`Ids`](crate::kinds::apply::Ids); objects this change creates are recorded there for its
//! dependents. A removal whose target has no ID (it is not live) or answers 404 is already
//! satisfied.

use super::report::Outcome;
use crate::kinds::apply::{ApplyContext, Done};
use crate::plan::Change;

/// Runs one change.
pub(crate) async fn perform(context: &ApplyContext, change: &Change) -> Outcome {
    match change.kind.def().perform(&change.op, context).await {
        Ok(Done::Applied(note)) => Outcome::Applied { note },
        Ok(Done::Already(reason)) => Outcome::AlreadySatisfied { reason },
        Err(error) => Outcome::Failed { error },
    }
}
