use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Logs go to stderr, filtered by RUST_LOG (quiet by default); results go to stdout.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(orgops::printer::Printer::from_env().stderr_color)
        .init();
    let cli = match orgops::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    orgops::commands::run(cli).into()
}

/// `--help` and `--version` exit 0; every usage error (unknown flag, missing or bad value)
/// exits 1 with clap's message, never clap's default 2, which means "changes" or "drift".
fn usage_error(error: &clap::Error) -> ExitCode {
    let _ = error.print();
    if error.use_stderr() {
        orgops::exit::ExitStatus::Failure.into()
    } else {
        orgops::exit::ExitStatus::Success.into()
    }
}
