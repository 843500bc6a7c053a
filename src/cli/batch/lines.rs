//! Line ends, line numbers and the cap on a row's length.

use super::format::line_breaks;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

/// The longest row a file may have, in bytes: far more than any real row
/// needs (a password is at most 512 characters), and it keeps memory flat
/// whatever the file holds (a file without line breaks, `/dev/zero`).
pub const MAX_ROW_BYTES: u64 = 64 * 1024;

/// Why a row is refused unread.
#[derive(Debug)]
pub(super) struct RowTooLong;

impl std::fmt::Display for RowTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the row is longer than {} KiB (the most a row may hold)",
            MAX_ROW_BYTES / 1024
        )
    }
}

impl std::error::Error for RowTooLong {}

pub(super) fn is_row_too_long(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|e| e.is::<RowTooLong>())
}

/// Counts the lines of what the CSV reader reads. The reader's own record
/// positions point before skipped blank lines and before the `\n` of a
/// `\r\n`, so they cannot say on which line a record starts; the end of a
/// record and the line breaks inside its fields can.
pub(super) struct LineCounter<R> {
    pub(super) inner: R,
    pub(super) read: u64,
    /// Offsets of the line breaks read but not yet counted by a query.
    pub(super) newlines: RefCell<VecDeque<u64>>,
    pub(super) after_cr: bool,
    pub(super) counted: Cell<u64>,
    /// The end of the input was reached: the CSV reader only looks for it
    /// within a record that has no terminator.
    pub(super) at_end: bool,
    /// Where the record being read starts: the end of the one before.
    pub(super) row_start: u64,
    pub(super) quote: Quote,
}

/// Where the bytes read so far leave CSV quoting, followed as the CSV
/// reader does (a quote opens a field only at its start, `""` inside is
/// one quote), because the reader ends a field still open at the end of
/// the file without saying so: the rows after it would be read into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quote {
    FieldStart,
    Unquoted,
    /// Inside a quoted field opened at this byte offset.
    Open(u64),
    /// A quote inside a quoted field: it closes it, or `""` follows.
    Closing(u64),
}

impl Quote {
    fn next(self, byte: u8, at: u64) -> Quote {
        let ends_field = matches!(byte, b',' | b'\n' | b'\r');
        match self {
            Quote::Open(start) if byte == b'"' => Quote::Closing(start),
            Quote::Open(start) => Quote::Open(start),
            Quote::Closing(start) if byte == b'"' => Quote::Open(start),
            Quote::FieldStart if byte == b'"' => Quote::Open(at),
            _ if ends_field => Quote::FieldStart,
            _ => Quote::Unquoted,
        }
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The CSV reader asks for more only once it has parsed all it was
        // given: everything since `row_start` belongs to a record it has not
        // finished, and the record would grow without end.
        if self.read - self.row_start > MAX_ROW_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, RowTooLong));
        }
        let n = self.inner.read(buf)?;
        self.at_end |= n == 0 && !buf.is_empty();
        let (newlines, start) = (self.newlines.get_mut(), self.read);
        line_breaks(&buf[..n], &mut self.after_cr, |i| {
            newlines.push_back(start + i as u64)
        });
        for (i, &byte) in buf[..n].iter().enumerate() {
            self.quote = self.quote.next(byte, start + i as u64);
        }
        self.read += n as u64;
        Ok(n)
    }
}

impl<R> LineCounter<R> {
    pub(super) fn new(inner: R) -> Self {
        LineCounter {
            inner,
            read: 0,
            newlines: RefCell::new(VecDeque::new()),
            after_cr: false,
            counted: Cell::new(0),
            at_end: false,
            row_start: 0,
            quote: Quote::FieldStart,
        }
    }

    /// The blank lines between the record being read and the one before
    /// (a line break right after another, or after its `\r`, ends a blank
    /// line): how many, and the offset of the record's own first byte.
    pub(super) fn blank_prefix(&self) -> (u64, u64) {
        let (mut lines, mut at) = (0, self.row_start);
        for &newline in self.newlines.borrow().iter() {
            if newline < at {
                continue; // the end of the record before
            }
            if newline > at + 1 {
                break;
            }
            lines += 1;
            at = newline + 1;
        }
        (lines, at)
    }

    /// Why the record being read is too long, and the line it starts on.
    pub(super) fn too_long(&mut self, end: u64) -> (u64, String) {
        let (blank_lines, first) = self.blank_prefix();
        let before = self.newlines_before(self.row_start);
        let problem = if end.saturating_sub(first) > MAX_ROW_BYTES {
            RowTooLong.to_string()
        } else if first + 1 >= end {
            return (
                before,
                format!("more than {} KiB of blank lines", MAX_ROW_BYTES / 1024),
            );
        } else {
            format!(
                "the row, with the {blank_lines} blank lines before it, is longer than {} KiB",
                MAX_ROW_BYTES / 1024
            )
        };
        (before + blank_lines, problem)
    }

    /// The number of newlines before byte `offset`, which must not go back
    /// from one call to the next (only what is left is kept).
    pub(super) fn newlines_before(&self, offset: u64) -> u64 {
        let mut newlines = self.newlines.borrow_mut();
        while newlines.front().is_some_and(|&at| at < offset) {
            newlines.pop_front();
            self.counted.set(self.counted.get() + 1);
        }
        self.counted.get()
    }
}

pub(super) enum Line {
    Read,
    /// Longer than [`MAX_ROW_BYTES`]: skipped to its end, unkept.
    TooLong,
    End,
}

/// Reads up to and including the next `\n` into `buffer`, unless the line
/// is longer than [`MAX_ROW_BYTES`] (its end not counted).
pub(super) fn read_line_capped(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
) -> io::Result<Line> {
    let mut too_long = false;
    let mut any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            break;
        }
        any = true;
        let (chunk, ended) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..=at], true),
            None => (available, false),
        };
        let used = chunk.len();
        let content = chunk.len() - usize::from(ended);
        if !too_long && (buffer.len() + content) as u64 > MAX_ROW_BYTES {
            too_long = true;
            buffer.clear();
        }
        if !too_long {
            buffer.extend_from_slice(chunk);
        }
        reader.consume(used);
        if ended {
            break;
        }
    }
    Ok(match (any, too_long) {
        (false, _) => Line::End,
        (true, true) => Line::TooLong,
        (true, false) => Line::Read,
    })
}
