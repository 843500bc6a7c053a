//! CSV or JSON Lines, told from the content, and the line ends each knows.

use std::io::{self, BufRead};

/// How the rows are written, told apart by the first character that is not
/// blank: `{` starts JSON Lines, anything else is a CSV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

/// Calls `found` with the offset of each line break as the CSV reader sees
/// them: `\n`, `\r`, and `\r\n` once (at its `\r`), so that files with
/// old Mac line ends get line numbers too. `after_cr` carries a `\r` at the
/// end of one chunk over to the next.
pub(super) fn line_breaks(bytes: &[u8], after_cr: &mut bool, mut found: impl FnMut(usize)) {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' || (b == b'\n' && !*after_cr) {
            found(i);
        }
        *after_cr = b == b'\r';
    }
}

pub(super) fn count_line_breaks(bytes: &[u8]) -> u64 {
    let mut count = 0;
    line_breaks(bytes, &mut false, |_| count += 1);
    count
}
/// Skips a UTF-8 byte-order mark and blank lines, and looks at the first
/// character; also says how many lines were skipped (JSON Lines end at
/// `\n` alone; CSV also at `\r`).
pub(super) fn detect(reader: &mut impl BufRead) -> io::Result<(Format, u64)> {
    let mut newlines = 0;
    let (mut csv_lines, mut after_cr) = (0, false);
    let mut at_start = true;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok((Format::Csv, csv_lines));
        }
        if at_start {
            at_start = false;
            if buffer.starts_with(b"\xEF\xBB\xBF") {
                reader.consume(3);
                continue;
            }
        }
        let blank = buffer
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count();
        newlines += buffer[..blank].iter().filter(|&&b| b == b'\n').count() as u64;
        line_breaks(&buffer[..blank], &mut after_cr, |_| csv_lines += 1);
        let first = buffer.get(blank).copied();
        reader.consume(blank);
        match first {
            Some(b'{') => return Ok((Format::JsonLines, newlines)),
            Some(_) => return Ok((Format::Csv, csv_lines)),
            None => {}
        }
    }
}
