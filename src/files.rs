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
    let mut bytes = Capped::new(cap);
    bytes
        .read_from(file)
        .map_err(|e| fail(format!("cannot be read: {}", io_reason(&e))).caused_by(e))?;
    match bytes.finish() {
        (bytes, true) => Ok(bytes),
        (_, false) => Err(fail(format!("is larger than {}", size_text(cap)))),
    }
}

/// At most `cap` bytes of what a source gives, and whether that was all of
/// it: one byte past the cap tells, so a huge source is never held whole.
/// Files are read through it, and answers' bodies chunk by chunk.
pub(crate) struct Capped {
    bytes: Vec<u8>,
    cap: u64,
}

impl Capped {
    pub(crate) fn new(cap: u64) -> Capped {
        Capped {
            bytes: Vec::new(),
            cap,
        }
    }

    /// Whether more is worth reading: not once past the cap.
    pub(crate) fn wants_more(&self) -> bool {
        self.bytes.len() as u64 <= self.cap
    }

    /// Adds the next chunk read.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
    }

    /// Reads the rest of `source`, up to a byte past the cap.
    pub(crate) fn read_from(&mut self, source: impl Read) -> std::io::Result<()> {
        let left = (self.cap + 1).saturating_sub(self.bytes.len() as u64);
        source.take(left).read_to_end(&mut self.bytes).map(drop)
    }

    /// The bytes, cut to the cap, and `true` when nothing was cut.
    pub(crate) fn finish(mut self) -> (Vec<u8>, bool) {
        let complete = self.bytes.len() as u64 <= self.cap;
        self.bytes.truncate(self.cap as usize);
        (self.bytes, complete)
    }
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

#[cfg(test)]
mod capped_tests {
    use super::Capped;

    /// Exactly the cap is complete; a byte more is cut and said, whether
    /// it came from a reader or in chunks, and reading stops past it.
    #[test]
    fn capped_tells_a_whole_source_from_a_cut_one() {
        let read = |source: &[u8]| {
            let mut capped = Capped::new(4);
            capped.read_from(source).unwrap();
            capped.finish()
        };
        assert_eq!(read(b"abcd"), (b"abcd".to_vec(), true));
        assert_eq!(read(b"abcde"), (b"abcd".to_vec(), false));
        assert_eq!(read(b""), (Vec::new(), true));
        let mut chunks = Capped::new(4);
        let mut pushed = 0;
        for chunk in [&b"ab"[..], b"cd", b"ef", b"gh"] {
            if !chunks.wants_more() {
                break;
            }
            chunks.push(chunk);
            pushed += 1;
        }
        assert_eq!(pushed, 3, "no chunk read once past the cap");
        assert_eq!(chunks.finish(), (b"abcd".to_vec(), false));
    }
}

#[cfg(test)]
mod text_tests {
    use super::{io_reason, size_text};

    /// Caps are said in the largest whole unit.
    #[test]
    fn sizes_in_the_largest_whole_unit() {
        assert_eq!(size_text(1024 * 1024), "1 MiB");
        assert_eq!(size_text(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size_text(64 * 1024), "64 KiB");
    }

    /// The OS's words, in lower case for the two common ones, and never
    /// Rust's "(os error N)".
    #[test]
    fn io_errors_in_the_os_words() {
        let os = std::io::Error::from_raw_os_error;
        assert_eq!(io_reason(&os(libc::ENOENT)), "no such file");
        assert_eq!(io_reason(&os(libc::EACCES)), "permission denied");
        assert_eq!(io_reason(&os(libc::EISDIR)), "Is a directory");
    }
}

#[cfg(all(test, unix))]
mod pipe_tests {
    use super::read_capped;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    /// A named pipe whose writer is slow (`--password-file <(...)`): opened
    /// without waiting, it is read waiting again, to the writer's end,
    /// rather than failing with "Resource temporarily unavailable".
    #[test]
    fn a_pipe_with_a_slow_writer_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipe");
        let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid C string naming a path in our own directory.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        // Opened for reading and writing, so that the open does not wait
        // for a reader and the pipe has a writer before it is read.
        let mut writer = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        let slow = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(200));
            writer.write_all(b"secret\n").unwrap();
        });
        let read = read_capped(&path, 64, None);
        slow.join().unwrap();
        assert_eq!(read.unwrap(), b"secret\n");
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
