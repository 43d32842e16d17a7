//! The desired state: YAML file(s) -> [`DesiredState`], or located diagnostics.

use std::path::PathBuf;

use crate::model::Document;

/// A validated desired state, normalised (emails lower-cased) and ready to plan.
#[derive(Debug, Clone)]
pub struct DesiredState {
    /// The merged document.
    pub doc: Document,
    /// The files it was read from, in merge order.
    pub files: Vec<PathBuf>,
}
