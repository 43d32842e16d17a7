//! One place decides where output goes: results to stdout, diagnostics and progress to
//! stderr, colour only when the stream is a terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub stdout_color: bool,
    pub stderr_color: bool,
    pub stderr_is_tty: bool,
    /// Show progress of long reads and applies on stderr (a bar on a terminal, plain lines
    /// otherwise). Off with `ORGOPS_NO_PROGRESS=1`, e.g. in tests that snapshot stderr.
    pub progress: bool,
}

impl Printer {
    pub fn from_env() -> Self {
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        let no_color = set("NO_COLOR");
        let stderr_is_tty = std::io::stderr().is_terminal();
        Printer {
            stdout_color: !no_color && std::io::stdout().is_terminal(),
            stderr_color: !no_color && stderr_is_tty,
            stderr_is_tty,
            progress: !set("ORGOPS_NO_PROGRESS"),
        }
    }
}
