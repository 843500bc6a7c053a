//! Standard input and other streams read once, copied to an unlinked
//! temporary file so that the second pass can read them again.

use super::check::{CheckSummary, Rules, check_duplicates, scan};
use super::fields::Problem;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

/// Copies what is read into a file, so that a stream can be read again.
pub(super) struct Tee<R: Read, W: Write> {
    pub(super) inner: R,
    pub(super) copy: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n]).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot copy it to a temporary file: {}",
                    crate::files::io_reason(&e)
                ),
            )
        })?;
        Ok(n)
    }
}

/// An unlinked file in `dir`, readable and writable by us alone: it will
/// hold passwords. Linux's `O_TMPFILE` makes it without a name; elsewhere,
/// or on a file system without it, it is made under a random name, owner
/// only, and unlinked at once.
pub(super) fn unlinked_file(dir: &Path) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The tempfile crate opens O_TMPFILE without a mode (0666 less
        // the umask): hence this call of our own.
        let unnamed = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_TMPFILE)
            .open(dir);
        match unnamed {
            Ok(file) => return Ok(file),
            Err(e) if !matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR)) => {
                return Err(e);
            }
            Err(_) => {}
        }
    }
    Ok(tempfile::Builder::new().tempfile_in(dir)?.into_file())
}

/// Copies `stream` into `file` (see [`unlinked_file`]) while checking it.
pub(super) fn spool(
    stream: impl Read,
    mut file: File,
    rules: &Rules,
    report: &mut dyn FnMut(&Problem),
) -> io::Result<(File, CheckSummary)> {
    let mut tee = Tee {
        inner: stream,
        copy: BufWriter::new(&file),
    };
    let (checked, digests) = scan(BufReader::new(&mut tee), rules, report)?;
    // Whatever the first pass left unread (after a fatal header problem) is
    // not needed: nothing will be sent.
    tee.copy.flush()?;
    drop(tee);
    file.rewind()?;
    let checked = check_duplicates(&file, checked, digests, rules, report)?;
    file.rewind()?;
    Ok((file, checked))
}
