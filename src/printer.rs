//! One place decides where output goes: results to stdout, diagnostics and progress to
//! stderr, colour only when the stream is a terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub stdout_color: bool,
    pub stderr_color: bool,
    pub stderr_is_tty: bool,
}

impl Printer {
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stderr_is_tty = std::io::stderr().is_terminal();
        Printer {
            stdout_color: !no_color && std::io::stdout().is_terminal(),
            stderr_color: !no_color && stderr_is_tty,
            stderr_is_tty,
        }
    }
}
