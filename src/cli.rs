//! The command-line model (clap derive) and nothing else. Every doc comment is `--help` text.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "orgops",
    version,
    about = "An OpenAI organization managed as code"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, schema-check and semantically check the desired state.
    Validate(ValidateArgs),
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The desired-state file, or a directory whose `*.yaml` files are merged.
    #[arg(short = 'f', long = "file", default_value = "orgops.yaml")]
    pub file: PathBuf,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t = DiagnosticFormat::Human)]
    pub format: DiagnosticFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiagnosticFormat {
    /// `FILE:LINE:COL: error: ...` with the source line and a caret.
    Human,
    /// GitHub workflow annotations (`::error file=...,line=...,col=...::...`).
    Github,
    /// A JSON list of diagnostics.
    Json,
}
