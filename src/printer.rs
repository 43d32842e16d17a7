//! One place decides where output goes: results to stdout, diagnostics and progress to
//! stderr, colour only when the stream is a terminal, `NO_COLOR` is unset and `--no-color`
//! was not given.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once by `--no-color` (see [`disable_color`]).
static NO_COLOR_FLAG: AtomicBool = AtomicBool::new(false);

/// `--no-color`: no colour anywhere for the rest of the process, as `NO_COLOR=1` would.
pub fn disable_color() {
    NO_COLOR_FLAG.store(true, Ordering::Relaxed);
}

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
        let no_color = set("NO_COLOR") || NO_COLOR_FLAG.load(Ordering::Relaxed);
        let stderr_is_tty = std::io::stderr().is_terminal();
        Printer {
            stdout_color: !no_color && std::io::stdout().is_terminal(),
            stderr_color: !no_color && stderr_is_tty,
            stderr_is_tty,
            progress: !set("ORGOPS_NO_PROGRESS"),
        }
    }
}

/// Writes to stdout. A closed pipe (`orgops export | head`) ends the process quietly with
/// status 0, as it would for any Unix filter, where `print!` would panic; any other write
/// error is reported and exits 1. Use through [`out!`](crate::out) and
/// [`outln!`](crate::outln).
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {error}");
        std::process::exit(1);
    }
}

/// Writes to stdout through `write`, buffered, as it is produced (a large plan is never
/// held whole as text); a closed pipe and other write errors end the process as in
/// [`write_stdout`]. Returns the bytes written.
pub fn stream_stdout(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> u64 {
    use std::io::Write as _;
    let stdout = std::io::stdout().lock();
    let mut counted = Counted {
        inner: std::io::BufWriter::with_capacity(1 << 16, stdout),
        bytes: 0,
    };
    if let Err(error) = write(&mut counted).and_then(|()| counted.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {error}");
        std::process::exit(1);
    }
    counted.bytes
}

/// Counts what goes through it.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Runs a `fmt::Write` renderer (the text plan) against an `io::Write`, keeping the I/O
/// error `fmt::Error` cannot carry.
pub fn fmt_to_io(
    writer: &mut dyn std::io::Write,
    render: impl FnOnce(&mut dyn std::fmt::Write) -> std::fmt::Result,
) -> std::io::Result<()> {
    struct Adapter<'a> {
        inner: &'a mut dyn std::io::Write,
        error: Option<std::io::Error>,
    }
    impl std::fmt::Write for Adapter<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.inner.write_all(s.as_bytes()).map_err(|e| {
                self.error = Some(e);
                std::fmt::Error
            })
        }
    }
    let mut adapter = Adapter {
        inner: writer,
        error: None,
    };
    match render(&mut adapter) {
        Ok(()) => Ok(()),
        Err(std::fmt::Error) => Err(adapter
            .error
            .unwrap_or_else(|| std::io::Error::other("formatting the output failed"))),
    }
}

/// `print!` that survives a closed pipe (see [`write_stdout`]).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::printer::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` that survives a closed pipe (see [`write_stdout`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::printer::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::printer::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
