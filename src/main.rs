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
    let cli = orgops::cli::Cli::parse();
    orgops::commands::run(cli).into()
}
