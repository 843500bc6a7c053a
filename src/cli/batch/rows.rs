//! The rows of a batch file, read one at a time, each with its line number.

use super::fields::{COLUMNS, Column, Problem, WrittenRow, csv_entry, json_entry};
use super::format::{Format, count_line_breaks, detect};
use super::lines::{
    Line, LineCounter, MAX_ROW_BYTES, Quote, RowTooLong, is_row_too_long, read_line_capped,
};
use std::io::{self, BufRead};

const UNCLOSED_QUOTE: &str = "a quoted field opens on this line and is never closed: the rest of the file would be read into it";

/// The rows of a batch file, read one at a time.
pub struct Rows<R: BufRead> {
    format: Format,
    state: State<R>,
    header_problems: Vec<Problem>,
    done: bool,
}

pub(super) enum State<R: BufRead> {
    Csv {
        reader: Box<csv::Reader<LineCounter<R>>>,
        columns: Vec<Option<Column>>,
        /// Blank lines skipped before the header, which the CSV reader
        /// does not count.
        offset: u64,
        record: csv::ByteRecord,
    },
    Json {
        reader: R,
        line: u64,
        buffer: Vec<u8>,
    },
}

impl<R: BufRead> Rows<R> {
    /// Detects the format and, for CSV, reads the header.
    pub fn new(mut reader: R) -> io::Result<Rows<R>> {
        let (format, offset) = detect(&mut reader)?;
        let mut header_problems = Vec::new();
        let mut done = false;
        let state = match format {
            Format::JsonLines => State::Json {
                reader,
                line: offset,
                buffer: Vec::new(),
            },
            Format::Csv => {
                let mut reader = csv::ReaderBuilder::new()
                    .has_headers(true)
                    // Rows with the wrong number of fields are reported
                    // like any other bad row rather than stopping the reader.
                    .flexible(true)
                    .from_reader(LineCounter::new(reader));
                let header = match reader.byte_headers().cloned() {
                    // Read whole when it ended within the last read.
                    Ok(_) if reader.position().byte() > MAX_ROW_BYTES => None,
                    Ok(header) => Some(header),
                    Err(error) => {
                        let error = csv_io_error(error);
                        if !is_row_too_long(&error) {
                            return Err(error);
                        }
                        None
                    }
                };
                let row_start = reader.position().byte();
                reader.get_mut().row_start = row_start;
                let mut columns = Vec::new();
                let fatal = match &header {
                    None => Some(format!("{RowTooLong}; the rest of the file was not read")),
                    Some(header) if header.iter().all(<[u8]>::is_empty) => Some(format!(
                        "no header row: the file is empty (expected a CSV header naming the columns {COLUMNS}, or JSON Lines)"
                    )),
                    Some(header) => {
                        columns = read_header(header, offset + 1, &mut header_problems);
                        // Without a localpart column this may be a data row
                        // and the header missing: its fields (a password,
                        // perhaps) are not repeated as "unknown columns".
                        (!columns.contains(&Some(Column::Localpart))).then(|| format!(
                            "the header has no localpart (or user) column; is the header row missing? (expected the columns {COLUMNS})"
                        ))
                    }
                };
                if let Some(problem) = fatal {
                    header_problems = vec![Problem::new(offset + 1, problem)];
                    done = true;
                }
                State::Csv {
                    reader: Box::new(reader),
                    columns,
                    offset,
                    record: csv::ByteRecord::new(),
                }
            }
        };
        Ok(Rows {
            format,
            state,
            header_problems,
            done,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Problems with the CSV header: unknown or repeated columns, no
    /// localpart column, an empty file.
    pub fn header_problems(&self) -> &[Problem] {
        &self.header_problems
    }
}

impl<R: BufRead> Iterator for Rows<R> {
    type Item = std::result::Result<WrittenRow, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match &mut self.state {
            State::Csv {
                reader,
                columns,
                offset,
                record,
            } => match reader.read_byte_record(record) {
                Ok(false) => None,
                Ok(true) => {
                    // The reader stops right after the record's terminator,
                    // whose last byte is on this line; or at the end of the
                    // file, where a quote left open may have swallowed the
                    // last newline into the field.
                    let position = reader.position().byte();
                    let end = if reader.get_ref().at_end {
                        position
                    } else {
                        position.saturating_sub(1)
                    };
                    // Read whole when it ended within the last read: the
                    // same limit, measured the same way.
                    let counter = reader.get_mut();
                    let too_long = (position - counter.row_start > MAX_ROW_BYTES)
                        .then(|| counter.too_long(position));
                    counter.row_start = position;
                    if let (true, Quote::Open(start)) = (counter.at_end, counter.quote) {
                        // Said where the quote opens, never what follows it.
                        self.done = true;
                        let line = *offset + 1 + counter.newlines_before(start);
                        return Some(Err(Problem::new(line, UNCLOSED_QUOTE)));
                    }
                    let last_line = 1 + reader.get_ref().newlines_before(end);
                    let inside: u64 = record.iter().map(count_line_breaks).sum();
                    let line = *offset + last_line.saturating_sub(inside);
                    match too_long {
                        Some((_, problem)) => Some(Err(Problem::new(line, problem))),
                        None => Some(csv_entry(record, columns, line)),
                    }
                }
                Err(error) => {
                    self.done = true;
                    let error = csv_io_error(error);
                    if is_row_too_long(&error) {
                        // Said where the row starts: a quoted field left
                        // open may have run on for many lines.
                        let counter = reader.get_mut();
                        let (before, problem) = counter.too_long(counter.read);
                        Some(Err(Problem::new(
                            *offset + 1 + before,
                            format!("{problem}; the rest of the file was not read"),
                        )))
                    } else {
                        let line = *offset + reader.position().line();
                        Some(Err(read_problem(line, &error)))
                    }
                }
            },
            State::Json {
                reader,
                line,
                buffer,
            } => loop {
                buffer.clear();
                match read_line_capped(reader, buffer) {
                    Ok(Line::End) => break None,
                    Ok(Line::TooLong) => {
                        *line += 1;
                        break Some(Err(Problem::new(*line, RowTooLong.to_string())));
                    }
                    Ok(Line::Read) => {
                        *line += 1;
                        if !buffer.iter().all(u8::is_ascii_whitespace) {
                            break Some(json_entry(buffer, *line));
                        }
                    }
                    Err(error) => {
                        self.done = true;
                        break Some(Err(read_problem(*line + 1, &error)));
                    }
                }
            },
        };
        if item.is_none() {
            self.done = true;
        }
        item
    }
}

pub(super) fn read_problem(line: u64, error: &io::Error) -> Problem {
    Problem::new(
        line,
        format!("cannot be read: {}", crate::files::io_reason(error)),
    )
}

pub(super) fn csv_io_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

pub(super) fn read_header(
    header: &csv::ByteRecord,
    line: u64,
    problems: &mut Vec<Problem>,
) -> Vec<Option<Column>> {
    let mut columns: Vec<Option<Column>> = Vec::with_capacity(header.len());
    for field in header {
        let name = String::from_utf8_lossy(field);
        let column = Column::from_name(&name);
        match column {
            None if name.trim().is_empty() => problems.push(Problem::new(
                line,
                format!("the header has an empty column name (the columns are {COLUMNS})"),
            )),
            None => problems.push(Problem::new(
                line,
                format!(
                    "unknown column '{}' (the columns are {COLUMNS})",
                    name.trim()
                ),
            )),
            Some(c) if columns.contains(&Some(c)) => problems.push(Problem::new(
                line,
                format!(
                    "column '{}' is given twice (localpart and user are the same column)",
                    name.trim()
                ),
            )),
            Some(_) => {}
        }
        columns.push(column);
    }
    columns
}
