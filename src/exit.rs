//! The one exit-status type: every command returns an [`ExitStatus`], `main` maps it to the
//! process exit code. The numbers are part of the command-line contract (PRODUCT.md).

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success; for `plan --detailed-exitcode` and `drift`, nothing to change.
    Success,
    /// 1: an error (bad input, API failure, partial apply).
    Failure,
    /// 2: changes (plan with `--detailed-exitcode`) or drift found.
    Changes,
    /// 3: refused by a safety gate.
    Refused,
    /// 4: a saved plan is stale.
    Stale,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Changes => 2,
            ExitStatus::Refused => 3,
            ExitStatus::Stale => 4,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}
