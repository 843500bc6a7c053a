//! Bounded reads of the files a run is given (secrets, passwords, configs,
//! certificates): capped in size, a directory refused, a named pipe nobody
//! writes to read as empty instead of waited on; errors in the OS's words.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Reads at most `cap` bytes of a file, with errors that name it. A
/// directory is refused, and a named pipe is read without waiting for a
/// writer.
pub(crate) fn read_capped(path: &Path, cap: u64, origin: Option<(&Path, &str)>) -> Result<Vec<u8>> {
    let fail = |problem: String| match origin {
        Some((config, key)) => {
            Error::file(config, Some(key), format!("{}: {problem}", path.display()))
        }
        None => Error::file(path, None, problem),
    };
    let file = open_without_waiting(path)
        .map_err(|e| fail(format!("cannot be read: {}", io_reason(&e))).caused_by(e))?;
    let metadata = file
        .metadata()
        .map_err(|e| fail(format!("cannot be read: {}", io_reason(&e))).caused_by(e))?;
    if metadata.is_dir() {
        return Err(fail("is a directory, not a file".to_owned()));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot be read: {}", io_reason(&e))).caused_by(e))?;
    if bytes.len() as u64 > cap {
        return Err(fail(format!("is larger than {}", size_text(cap))));
    }
    Ok(bytes)
}

/// Opens a file for reading. A named pipe that no one writes to would block
/// a plain open forever; opened non-blocking, it reads as empty instead,
/// while a pipe with a writer (`--password-file <(...)`) reads as usual.
#[cfg(unix)]
fn open_without_waiting(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    // Reads block again from here on: a pipe's writer may be slow.
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_without_waiting(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// A size limit in the largest whole unit.
fn size_text(bytes: u64) -> String {
    if bytes % (1024 * 1024) == 0 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// Text without the whitespace around it, as Python's `str.strip()` takes
/// it off: the reference and Synapse read password and secret files so,
/// and the MAC must be over the same bytes. Python's whitespace is
/// Unicode's `White_Space` (Rust's `trim`) and also U+001C..U+001F, the
/// separators whose bidirectional class is B or S.
#[cfg(feature = "cli")]
pub(crate) fn strip_like_python(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// The OS's words for an I/O error, without Rust's "(os error N)" suffix.
pub fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(end) => text[..end].to_owned(),
                None => text,
            }
        }
    }
}

#[cfg(all(test, feature = "cli"))]
mod tests {
    use super::*;

    /// Python 3.11's `[c for c in range(0x110000) if chr(c).isspace()]`,
    /// the characters `str.strip()` takes off.
    const PYTHON_WHITESPACE: &[u32] = &[
        0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001,
        0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029,
        0x202f, 0x205f, 0x3000,
    ];

    #[test]
    fn files_are_stripped_of_what_python_strips_and_nothing_else() {
        // Beyond U+3000 neither has whitespace.
        for c in (0..=0x3100).filter_map(char::from_u32) {
            let text = format!("{c}x{c}");
            let expected = if PYTHON_WHITESPACE.contains(&u32::from(c)) {
                "x"
            } else {
                text.as_str()
            };
            assert_eq!(strip_like_python(&text), expected, "U+{:04X}", u32::from(c));
        }
        assert_eq!(strip_like_python("\u{1f} pa ss\n\u{1c}"), "pa ss");
    }
}
