//! `orgops show PLAN [--format text|markdown|json]`: a saved plan rendered exactly as
//! `orgops plan` printed it (the same renderers over the same changes, unmanaged objects and
//! refusals), without reading the organization. The file is checked as `apply --plan`
//! checks it before anything is read: a malformed or edited plan is refused (exit 1), one
//! written by another orgops version too (exit 4). `show` trusts nothing else in it: what
//! `apply --plan` runs is still rebuilt from a fresh plan.
//!
//! A plan saved by `plan --base REF --out PLAN` is shown as the plain plan (the pull-request
//! view needs the git history, which a saved plan does not carry).

use crate::cli::ShowArgs;
use crate::exit::ExitStatus;
use crate::plan::saved;
use crate::printer::Printer;

pub fn run(args: ShowArgs) -> ExitStatus {
    let printer = Printer::from_env();
    let plan = match read(&args.plan) {
        Ok(plan) => plan,
        Err(status) => return status,
    };
    super::plan::print_plan(&plan, args.format, printer);
    ExitStatus::Success
}

/// The saved plan at `path`, checked as `show` checks it (readable, unedited, of this orgops
/// version); the error already said, as its exit status (1, or 4 for another version).
pub(super) fn read(path: &std::path::Path) -> Result<crate::plan::Plan, ExitStatus> {
    let saved = match crate::ops::apply::read_saved_plan(path) {
        Ok(saved) => saved,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Err(ExitStatus::Failure);
        }
    };
    if let Err(stale) = saved::check_version(&saved) {
        eprintln!(
            "error: the saved plan is stale (version-mismatch): {}",
            stale.message
        );
        return Err(ExitStatus::Stale);
    }
    Ok(saved::into_plan(saved))
}
