//! Standard input and other streams read once, copied to an unlinked
//! temporary file so that the second pass can read them again.

use super::check::{CheckSummary, Rules, check_duplicates, scan};
use super::fields::Problem;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};

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

pub(super) fn spool(
    stream: impl Read,
    rules: &Rules,
    report: &mut dyn FnMut(&Problem),
) -> io::Result<(File, CheckSummary)> {
    let mut file = tempfile::tempfile()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot create a temporary file: {e}")))?;
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
