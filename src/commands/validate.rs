//! `orgops validate`: load the desired state and print every diagnostic.

use crate::cli::ValidateArgs;
use crate::exit::ExitStatus;

pub fn run(_args: ValidateArgs) -> ExitStatus {
    ExitStatus::Failure
}
