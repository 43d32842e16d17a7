//! One file per subcommand; each is glue over one operation and returns an [`ExitStatus`].

use crate::cli::{Cli, Command};
use crate::exit::ExitStatus;

pub mod apply;
pub mod emulator;
pub mod validate;

pub fn run(cli: Cli) -> ExitStatus {
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Apply(args) => apply::run(args),
    }
}
