use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = orgops::cli::Cli::parse();
    orgops::commands::run(cli).into()
}
