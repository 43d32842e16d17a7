//! The one way orgops reads a file a user names: desired-state files, certificates, saved
//! plans, emulator seeds, the GitHub event file and the base revision's files.
//!
//! - Only regular files (after following symbolic links) are read. A FIFO, a device, a
//!   socket or a directory is refused by its metadata *before* it is opened, so naming a
//!   FIFO cannot block and `/dev/zero` cannot be read forever; the file is then opened
//!   non-blocking (unix) and its metadata checked again through the open handle, so a file
//!   swapped for a FIFO in between is refused too.
//! - At most `cap` bytes are accepted, counted on the bytes actually read (`take(cap + 1)`),
//!   not on the size the file system reports, which a growing file or a special file can
//!   get wrong. [`MAX_INPUT_BYTES`] is the documented cap (docs/configuration.md); desired-state
//!   files take another with `--max-file-size` / `ORGOPS_MAX_FILE_SIZE` ([`parse_size`]).
//! - A dangling symbolic link is named as such, not as a missing file.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

/// The documented default cap on any input file: 64 MiB. The export of a generated
/// 100,000-user organization (5,000 projects of 100 members) is about 39 MB and loads; a
/// hostile file cannot make orgops hold more than a bounded multiple of this in memory
/// (BENCHMARKS.md: peak memory is about 18–20 times the file).
pub const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// A byte count as written on the command line: `67108864`, `64MiB`, `64M`, `500KiB`,
/// `1GiB` (binary units; `K`, `M`, `G` and the `KB`/`MB`/`GB` spellings mean the same).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 64MiB, 200M, 1GiB, 67108864)"))?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?} has an unknown unit (use B, KiB, MiB or GiB)"
            ));
        }
    };
    match number.checked_mul(multiplier) {
        Some(0) | None => Err(format!("{text:?} is not a usable size")),
        Some(bytes) => Ok(bytes),
    }
}

/// Why a file was not read. The messages are about the file, without its path: callers
/// put the path (or a located diagnostic) in front.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("it is a dangling symbolic link (its target does not exist)")]
    DanglingSymlink,
    #[error("it is over the {cap}-byte limit")]
    TooLarge { cap: u64 },
    #[error("it is not valid UTF-8 text")]
    NotUtf8(#[source] std::string::FromUtf8Error),
    /// The OS error itself (shown once: not also as its own cause).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What kind of non-regular file `metadata` describes, for messages.
fn describe(metadata: &Metadata) -> Option<&'static str> {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return None;
    }
    if file_type.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if file_type.is_char_device() {
            return Some("a character device");
        }
        if file_type.is_block_device() {
            return Some("a block device");
        }
        if file_type.is_socket() {
            return Some("a socket");
        }
    }
    Some("a special file")
}

fn check_regular(metadata: &Metadata) -> Result<(), InputError> {
    match describe(metadata) {
        None => Ok(()),
        Some(kind) => Err(InputError::NotRegular(kind)),
    }
}

/// Opens a regular file without ever blocking on a FIFO.
fn open_regular(path: &Path) -> Result<File, InputError> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            return Err(if is_link {
                InputError::DanglingSymlink
            } else {
                InputError::Io(error)
            });
        }
        Err(error) => return Err(InputError::Io(error)),
    };
    check_regular(&metadata)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading blocks until a writer appears; O_NONBLOCK does not.
        // On a regular file it changes nothing.
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    // The path may have been replaced between the check and the open.
    check_regular(&file.metadata()?)?;
    Ok(file)
}

/// Reads at most `cap` bytes from `reader`; more is [`InputError::TooLarge`].
pub fn read_capped(reader: impl Read, cap: u64) -> Result<Vec<u8>, InputError> {
    read_capped_sized(reader, cap, 0)
}

/// [`read_capped`] into a buffer sized for `expected` bytes (at most `cap` + 1), so a large
/// file is read without the buffer doubling past its size.
fn read_capped_sized(reader: impl Read, cap: u64, expected: u64) -> Result<Vec<u8>, InputError> {
    let capacity = usize::try_from(expected.min(cap).saturating_add(1)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    reader.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(InputError::TooLarge { cap });
    }
    Ok(bytes)
}

/// The bytes of the regular file at `path`, at most `cap` of them.
pub fn read_bytes(path: &Path, cap: u64) -> Result<Vec<u8>, InputError> {
    let file = open_regular(path)?;
    let expected = file.metadata().map_or(0, |m| m.len());
    read_capped_sized(file, cap, expected)
}

/// The UTF-8 text of the regular file at `path`, at most `cap` bytes.
pub fn read_text(path: &Path, cap: u64) -> Result<String, InputError> {
    String::from_utf8(read_bytes(path, cap)?).map_err(InputError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("67108864"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("1gib"), Ok(1 << 30));
        assert_eq!(parse_size("500 KiB"), Ok(500 << 10));
        for bad in ["", "MiB", "12XB", "0", "-1", "99999999999999GiB"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_cap_counts_bytes_read_not_the_reported_size() {
        let cap = 8;
        assert_eq!(
            read_capped(&b"12345678"[..], cap)
                .expect("at the cap")
                .len(),
            8
        );
        // An endless reader (like /dev/zero) stops one byte past the cap.
        let endless = std::io::repeat(0);
        assert!(matches!(
            read_capped(endless, cap),
            Err(InputError::TooLarge { cap: 8 })
        ));
    }

    #[test]
    fn directories_and_missing_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let error = read_bytes(dir.path(), MAX_INPUT_BYTES).expect_err("a directory");
        assert_eq!(error.to_string(), "it is a directory, not a regular file");
        let missing = read_bytes(&dir.path().join("nope"), MAX_INPUT_BYTES).expect_err("missing");
        assert!(matches!(missing, InputError::Io(_)), "{missing:?}");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.yaml");
            std::os::unix::fs::symlink("nope", &link).expect("symlink");
            let dangling = read_bytes(&link, MAX_INPUT_BYTES).expect_err("dangling");
            assert!(matches!(dangling, InputError::DanglingSymlink));
            let zero = read_bytes(Path::new("/dev/zero"), MAX_INPUT_BYTES).expect_err("device");
            assert_eq!(
                zero.to_string(),
                "it is a character device, not a regular file"
            );
        }
    }

    #[test]
    fn a_regular_file_over_the_cap_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'a'; 11]).expect("write");
        assert!(matches!(
            read_bytes(&path, 10),
            Err(InputError::TooLarge { cap: 10 })
        ));
        assert_eq!(read_text(&path, 11).expect("fits"), "a".repeat(11));
    }
}
