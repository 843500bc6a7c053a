//! `--batch FILE`: register every user listed in a CSV or JSON Lines file.
//!
//! Two passes, so that memory stays flat however long the file is. The first
//! checks every row and keeps only an 8-byte digest of each localpart (to
//! find duplicates, confirmed by name in a re-read only when digests repeat);
//! nothing is sent unless every row is good. The second
//! reads the rows again and hands them to `--jobs` workers sharing one
//! connection pool; each result is written as soon as it is known. Standard
//! input, pipes and other streams that cannot be read twice are copied
//! during the first pass into an anonymous temporary file: it holds
//! passwords, so it is created unlinked and readable by us alone, and
//! vanishes with the process however it ends.

use crate::cli::OutputFormat;
use crate::client::{Client, NewUser, Outcome};
use crate::concurrency::{Jobs, Limiter, Signal, Ticket};
use crate::error::{EXIT_OK, EXIT_OUTPUT, EXIT_REFUSED, EXIT_UNREACHABLE, Error, Result};
use crate::options::Options;
use crate::rules::{self, Rejection};
use crate::secret::SecretString;
use serde_json::{Map, Value, json};
use std::cell::{Cell, RefCell};
use std::collections::hash_map::Entry as MapEntry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The columns (CSV) or keys (JSON Lines) a row may have.
pub const COLUMNS: &str = "localpart (or user), password, admin, user_type, displayname";

/// When this many rows in a row could not reach the server (or as many as
/// were in flight at once, if more), the server is taken to be down and no
/// more rows are started, rather than waiting out a timeout for every
/// remaining row.
const UNREACHABLE_STREAK: usize = 5;
/// A row refused with 429 is tried again this many times at most.
const RATE_LIMITED_RETRIES: u32 = 5;
/// How long a 429 without `retry_after_ms` is waited out.
const RATE_LIMITED_WAIT: Duration = Duration::from_secs(1);
/// A 429 asking for a longer wait fails its row: better re-run later with
/// --exists-ok than hold the batch for so long.
const MAX_RATE_LIMITED_WAIT: Duration = Duration::from_secs(60);

/// The longest row a file may have, in bytes: far more than any real row
/// needs (a password is at most 512 characters), and it keeps memory flat
/// whatever the file holds (a file without line breaks, `/dev/zero`).
pub const MAX_ROW_BYTES: u64 = 64 * 1024;

/// Why a row is refused unread.
#[derive(Debug)]
struct RowTooLong;

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

fn is_row_too_long(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|e| e.is::<RowTooLong>())
}

/// How the rows are written, told apart by the first character that is not
/// blank: `{` starts JSON Lines, anything else is a CSV header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Localpart,
    Password,
    Admin,
    UserType,
    DisplayName,
}

impl Column {
    /// Header names and JSON keys are matched without regard to case or
    /// surrounding blanks, as spreadsheets write them.
    fn from_name(name: &str) -> Option<Column> {
        match name.trim().to_ascii_lowercase().as_str() {
            "localpart" | "user" => Some(Column::Localpart),
            "password" => Some(Column::Password),
            "admin" => Some(Column::Admin),
            "user_type" => Some(Column::UserType),
            "displayname" => Some(Column::DisplayName),
            _ => None,
        }
    }
}

/// A row as written in the file; empty values are `None`.
#[derive(Debug, Default)]
pub struct Entry {
    pub line: u64,
    pub localpart: Option<String>,
    /// `None`: generate one.
    pub password: Option<SecretString>,
    pub admin: Option<bool>,
    pub user_type: Option<String>,
    pub displayname: Option<String>,
}

/// What is wrong with one line (or the header) of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub message: String,
}

impl Problem {
    fn new(line: u64, message: impl Into<String>) -> Problem {
        Problem {
            line,
            message: message.into(),
        }
    }
}

/// `admin` values: true/false, yes/no, 1/0 (any case), or empty for the
/// default.
pub fn parse_admin(text: &str) -> std::result::Result<Option<bool>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "1" => Ok(Some(true)),
        "false" | "no" | "0" => Ok(Some(false)),
        _ => Err(format!(
            "admin is '{text}': use true/false, yes/no or 1/0, or leave it empty"
        )),
    }
}

impl Entry {
    fn set_text(&mut self, column: Column, text: &str, problems: &mut Vec<String>) {
        let trimmed = text.trim();
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        match column {
            Column::Localpart => self.localpart = non_empty(trimmed),
            // Taken exactly as written: blanks may be part of a password.
            Column::Password => self.password = non_empty(text).map(SecretString::new),
            Column::Admin => match parse_admin(text) {
                Ok(admin) => self.admin = admin,
                Err(problem) => problems.push(problem),
            },
            Column::UserType => self.user_type = non_empty(trimmed),
            Column::DisplayName => self.displayname = non_empty(trimmed),
        }
    }
}

/// Calls `found` with the offset of each line break as the CSV reader sees
/// them: `\n`, `\r`, and `\r\n` once (at its `\r`), so that files with
/// old Mac line ends get line numbers too. `after_cr` carries a `\r` at the
/// end of one chunk over to the next.
fn line_breaks(bytes: &[u8], after_cr: &mut bool, mut found: impl FnMut(usize)) {
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'\r' || (b == b'\n' && !*after_cr) {
            found(i);
        }
        *after_cr = b == b'\r';
    }
}

fn count_line_breaks(bytes: &[u8]) -> u64 {
    let mut count = 0;
    line_breaks(bytes, &mut false, |_| count += 1);
    count
}

/// Counts the lines of what the CSV reader reads. The reader's own record
/// positions point before skipped blank lines and before the `\n` of a
/// `\r\n`, so they cannot say on which line a record starts; the end of a
/// record and the line breaks inside its fields can.
struct LineCounter<R> {
    inner: R,
    read: u64,
    /// Offsets of the line breaks read but not yet counted by a query.
    newlines: RefCell<VecDeque<u64>>,
    after_cr: bool,
    counted: Cell<u64>,
    /// The end of the input was reached: the CSV reader only looks for it
    /// within a record that has no terminator.
    at_end: bool,
    /// Where the record being read starts: the end of the one before.
    row_start: u64,
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
        self.read += n as u64;
        Ok(n)
    }
}

impl<R> LineCounter<R> {
    fn new(inner: R) -> Self {
        LineCounter {
            inner,
            read: 0,
            newlines: RefCell::new(VecDeque::new()),
            after_cr: false,
            counted: Cell::new(0),
            at_end: false,
            row_start: 0,
        }
    }

    /// The blank lines between the record being read and the one before
    /// (a line break right after another, or after its `\r`, ends a blank
    /// line): how many, and the offset of the record's own first byte.
    fn blank_prefix(&self) -> (u64, u64) {
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
    fn too_long(&mut self, end: u64) -> (u64, String) {
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
    fn newlines_before(&self, offset: u64) -> u64 {
        let mut newlines = self.newlines.borrow_mut();
        while newlines.front().is_some_and(|&at| at < offset) {
            newlines.pop_front();
            self.counted.set(self.counted.get() + 1);
        }
        self.counted.get()
    }
}

/// The rows of a batch file, read one at a time.
pub struct Rows<R: BufRead> {
    format: Format,
    state: State<R>,
    header_problems: Vec<Problem>,
    done: bool,
}

enum State<R: BufRead> {
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
    type Item = std::result::Result<Entry, Problem>;

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

enum Line {
    Read,
    /// Longer than [`MAX_ROW_BYTES`]: skipped to its end, unkept.
    TooLong,
    End,
}

/// Reads up to and including the next `\n` into `buffer`, unless the line
/// is longer than [`MAX_ROW_BYTES`] (its end not counted).
fn read_line_capped(reader: &mut impl BufRead, buffer: &mut Vec<u8>) -> io::Result<Line> {
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

fn read_problem(line: u64, error: &io::Error) -> Problem {
    Problem::new(
        line,
        format!("cannot be read: {}", crate::config::io_reason(error)),
    )
}

fn csv_io_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

/// Skips a UTF-8 byte-order mark and blank lines, and looks at the first
/// character; also says how many lines were skipped (JSON Lines end at
/// `\n` alone; CSV also at `\r`).
fn detect(reader: &mut impl BufRead) -> io::Result<(Format, u64)> {
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

fn read_header(
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

fn csv_entry(
    record: &csv::ByteRecord,
    columns: &[Option<Column>],
    line: u64,
) -> std::result::Result<Entry, Problem> {
    if record.len() != columns.len() {
        return Err(Problem::new(
            line,
            format!(
                "unparsable line: {} fields where the header has {}",
                record.len(),
                columns.len()
            ),
        ));
    }
    let mut entry = Entry {
        line,
        ..Entry::default()
    };
    let mut problems = Vec::new();
    let mut seen = Vec::with_capacity(columns.len());
    for (field, column) in record.iter().zip(columns) {
        // Unknown and repeated columns were reported with the header.
        let Some(column) = *column else { continue };
        if seen.contains(&column) {
            continue;
        }
        seen.push(column);
        match std::str::from_utf8(field) {
            Ok(text) => entry.set_text(column, text, &mut problems),
            Err(_) => problems.push("unparsable line: not valid UTF-8".to_owned()),
        }
    }
    finish(entry, problems)
}

/// A JSON object's members in the order written, repeated keys included
/// (a `Map` would keep only the last of them, silently).
struct Members(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

fn json_entry(bytes: &[u8], line: u64) -> std::result::Result<Entry, Problem> {
    let Members(members) = serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        // serde_json counts lines within this one line: its position would mislead.
        let text = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(t, _)| t);
        Problem::new(
            line,
            format!(
                "unparsable line: not a JSON object ({text}, column {})",
                e.column()
            ),
        )
    })?;
    let mut problems = Vec::new();
    let mut object = Map::new();
    for (key, value) in members {
        if object.contains_key(&key) {
            // Never the values: one of them may be a password.
            problems.push(format!("'{key}' is given twice"));
        }
        object.insert(key, value);
    }
    let mut entry = Entry {
        line,
        ..Entry::default()
    };
    let mut localpart_key: Option<&str> = None;
    for (key, value) in &object {
        let Some(column) = Column::from_name(key) else {
            problems.push(format!(
                "unknown column '{key}' (the columns are {COLUMNS})"
            ));
            continue;
        };
        if column == Column::Localpart {
            if let Some(first) = localpart_key {
                problems.push(format!(
                    "both '{first}' and '{key}' are given (they are the same column)"
                ));
                continue;
            }
            localpart_key = Some(key);
        }
        match (column, value) {
            (_, Value::Null) => {}
            (_, Value::String(text)) => entry.set_text(column, text, &mut problems),
            (Column::Admin, Value::Bool(admin)) => entry.admin = Some(*admin),
            (Column::Admin, Value::Number(n)) if n.as_u64() == Some(1) => entry.admin = Some(true),
            (Column::Admin, Value::Number(n)) if n.as_u64() == Some(0) => entry.admin = Some(false),
            (Column::Admin, other) => problems.push(format!(
                "admin is {other}: use true/false, yes/no or 1/0, or leave it out"
            )),
            // A password written without quotes (`"password": 123456`) is
            // still a password: say what it is, not what it says.
            (Column::Password, other) => {
                problems.push(format!("{key} must be a string, not {}", json_kind(other)))
            }
            (_, other) => problems.push(format!("{key} must be a string, not {other}")),
        }
    }
    finish(entry, problems)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn finish(entry: Entry, problems: Vec<String>) -> std::result::Result<Entry, Problem> {
    if problems.is_empty() {
        Ok(entry)
    } else {
        Err(Problem::new(entry.line, problems.join("; ")))
    }
}

/// A row checked against the server's rules, with the command line's
/// defaults applied.
#[derive(Debug)]
pub struct Row {
    pub line: u64,
    /// As written (or taken from a full user ID); the server lowercases it.
    pub localpart: String,
    /// `None`: generate one.
    pub password: Option<SecretString>,
    pub admin: bool,
    pub user_type: Option<String>,
    pub displayname: Option<String>,
}

/// What every row is checked against, and the defaults for what it leaves out.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// From the config, when given: full user IDs must name it, and the
    /// user-ID length limit is checked.
    pub server_name: Option<String>,
    /// From the config, when given; without it unknown user types are left
    /// to the server.
    pub extra_user_types: Option<Vec<String>>,
    /// A config is given and does not allow localparts starting with `_`.
    pub refuse_underscore_prefix: bool,
    /// `-a` / `--no-admin`; not admin when neither is given.
    pub admin: bool,
    /// `-t`.
    pub user_type: Option<String>,
}

impl Rules {
    pub fn from_options(options: &Options) -> Rules {
        Rules {
            server_name: options.server_name.clone(),
            extra_user_types: options.extra_user_types.clone(),
            refuse_underscore_prefix: options.refuse_underscore_prefix,
            admin: options.admin.unwrap_or(false),
            user_type: options.user_type.clone(),
        }
    }

    pub fn check(&self, entry: Entry) -> std::result::Result<Row, Problem> {
        let server_name = self.server_name.as_deref();
        let mut problems = Vec::new();
        let localpart = match &entry.localpart {
            None => {
                problems.push("bad localpart: it is empty".to_owned());
                None
            }
            Some(given) => {
                let checked = rules::localpart_from_user_arg(given, server_name)
                    .and_then(|localpart| {
                        rules::check_localpart(
                            localpart,
                            server_name,
                            self.refuse_underscore_prefix,
                        )
                        .map(|()| localpart.to_owned())
                    })
                    .map_err(problem_text);
                match checked {
                    Ok(localpart) => Some(localpart),
                    Err(problem) => {
                        problems.push(format!("bad localpart: {problem}"));
                        None
                    }
                }
            }
        };
        if let Some(password) = &entry.password {
            if let Err(rejection) = rules::check_password(password) {
                problems.push(problem_text(rejection));
            }
        }
        if let Some(user_type) = &entry.user_type {
            if let Err(rejection) =
                rules::check_user_type(user_type, self.extra_user_types.as_deref())
            {
                problems.push(problem_text(rejection));
            }
        }
        match localpart {
            Some(localpart) if problems.is_empty() => Ok(Row {
                line: entry.line,
                localpart,
                password: entry.password,
                admin: entry.admin.unwrap_or(self.admin),
                user_type: entry.user_type.or_else(|| self.user_type.clone()),
                displayname: entry.displayname,
            }),
            _ => Err(Problem::new(entry.line, problems.join("; "))),
        }
    }
}

/// The problem of a local check (the line is said separately) and, unless
/// it speaks of the command line, its hint.
fn problem_text(rejection: Rejection) -> String {
    match rejection.hint() {
        Some(hint) if !rejection.is_about_user_id() => format!("{rejection} ({hint})"),
        _ => rejection.to_string(),
    }
}

/// A digest of a localpart's lowercase form: the server lowercases user
/// names, so `Alice` and `alice` are one account. Eight bytes per row is all
/// the first pass keeps; rows with equal digests are then compared by name.
fn digest(localpart: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    localpart.to_lowercase().hash(&mut hasher);
    hasher.finish()
}

/// The first pass over a file: what it holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Checked {
    pub format: Option<Format>,
    /// Good rows.
    pub rows: u64,
    /// Problems reported; nothing may be sent unless this is 0.
    pub problems: u64,
}

/// Checks every row of `input` (from where it stands), reporting each
/// problem: first as it is found, then duplicate localparts.
pub fn check_rows<F: Read + Seek>(
    mut input: F,
    rules: &Rules,
    report: &mut dyn FnMut(&Problem),
) -> io::Result<Checked> {
    let start = input.stream_position()?;
    let (checked, digests) = scan(BufReader::new(&mut input), rules, report)?;
    input.seek(SeekFrom::Start(start))?;
    check_duplicates(input, checked, digests, rules, report)
}

/// Checks every row, reporting each problem as it is found, except
/// duplicates; returns the digests of the good rows' localparts.
fn scan(
    reader: impl BufRead,
    rules: &Rules,
    report: &mut dyn FnMut(&Problem),
) -> io::Result<(Checked, Vec<u64>)> {
    let rows = Rows::new(reader)?;
    let mut checked = Checked {
        format: Some(rows.format()),
        ..Checked::default()
    };
    for problem in rows.header_problems() {
        report(problem);
        checked.problems += 1;
    }
    let mut digests = Vec::new();
    for item in rows {
        match item.and_then(|entry| rules.check(entry)) {
            Ok(row) => {
                digests.push(digest(&row.localpart));
                checked.rows += 1;
            }
            Err(problem) => {
                report(&problem);
                checked.problems += 1;
            }
        }
    }
    Ok((checked, digests))
}

/// Finds the digests that occur more than once and, only if there are any,
/// reads `input` again (from where it stands) to report each row whose
/// localpart an earlier row already has.
fn check_duplicates(
    input: impl Read,
    mut checked: Checked,
    mut digests: Vec<u64>,
    rules: &Rules,
    report: &mut dyn FnMut(&Problem),
) -> io::Result<Checked> {
    digests.sort_unstable();
    let repeated: HashSet<u64> = digests
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    drop(digests);
    if repeated.is_empty() {
        return Ok(checked);
    }
    // Names only for the rows whose digest repeats: few, unless the file is bad.
    let mut first_lines: HashMap<String, u64> = HashMap::new();
    let rows = Rows::new(BufReader::new(input))?;
    for row in rows.filter_map(|item| item.and_then(|entry| rules.check(entry)).ok()) {
        if !repeated.contains(&digest(&row.localpart)) {
            continue;
        }
        match first_lines.entry(row.localpart.to_lowercase()) {
            MapEntry::Vacant(slot) => {
                slot.insert(row.line);
            }
            MapEntry::Occupied(first) => {
                report(&Problem::new(
                    row.line,
                    format!(
                        "duplicate localpart '{}': already on line {} (the server lowercases user names)",
                        row.localpart,
                        first.get()
                    ),
                ));
                checked.rows -= 1;
                checked.problems += 1;
            }
        }
    }
    Ok(checked)
}

/// Copies what is read into a file, so that a stream can be read again.
struct Tee<R: Read, W: Write> {
    inner: R,
    copy: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n]).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot copy it to a temporary file: {}",
                    crate::config::io_reason(&e)
                ),
            )
        })?;
        Ok(n)
    }
}

/// Runs `--batch`; returns the exit status.
pub fn run(options: Options, path: &Path, jobs: Jobs) -> i32 {
    match run_batch(options, path, jobs) {
        Ok(status) => status,
        Err(error) => {
            crate::output::report_error(&error);
            error.exit_code()
        }
    }
}

fn run_batch(options: Options, path: &Path, jobs: Jobs) -> Result<i32> {
    if options.output == OutputFormat::Token {
        return Err(Error::usage(
            "--batch writes one JSON object per row: -o token cannot be used with it",
        ));
    }
    for notice in &options.notices {
        say!("{}", crate::error::escape_control_characters(notice));
    }
    let rules = Rules::from_options(&options);
    let limiter = Limiter::new(jobs, options.http.timeout);
    let mut http = options.http.clone();
    http.pool_size = limiter.ceiling();
    // Before the first pass, so that a bad --cacert is said at once.
    let client = Client::new(
        &options.server_url,
        options.shared_secret.clone(),
        options.if_exists,
        http,
    )?;

    let name = if path == Path::new("-") {
        Path::new("<stdin>")
    } else {
        path
    };
    let (file, checked) = first_pass(path, name, &rules)?;
    if checked.problems > 0 {
        return Err(Error::file(
            name,
            None,
            format!(
                "{} problem{} found; nothing was sent",
                checked.problems,
                if checked.problems == 1 { "" } else { "s" }
            ),
        ));
    }

    crate::interrupt::set_graceful(true);
    let started = Instant::now();
    let rows = Rows::new(BufReader::new(file))
        .map_err(|e| Error::file(name, None, format!("cannot be read again: {e}")))?;
    if !rows.header_problems().is_empty() {
        return Err(Error::file(
            name,
            None,
            "changed after it was checked; nothing was sent",
        ));
    }
    let progress = std::io::stderr().is_terminal();
    let batch = Batch {
        client: &client,
        rules: &rules,
        rows: Mutex::new(rows),
        sink: Mutex::new(Sink::new(checked.rows, UNREACHABLE_STREAK, progress)),
        stop: AtomicBool::new(false),
        limiter: &limiter,
    };
    {
        let mut sink = lock(&batch.sink);
        sink.set_concurrency(limiter.slots(), limiter.peak());
        sink.draw_progress();
    }
    // As many workers as there can be slots; the limiter holds the extra
    // ones back.
    std::thread::scope(|scope| {
        for _ in 0..limiter.ceiling() {
            scope.spawn(|| batch.work());
        }
    });
    let sink = batch
        .sink
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    let jobs = match jobs {
        Jobs::Fixed(n) => format!("jobs {n}"),
        Jobs::Auto => format!("jobs auto, settled at {}", limiter.settled()),
    };
    Ok(sink.finish(started, &jobs))
}

/// Reads the whole input once, checking it; returns a file positioned to
/// read it again.
fn first_pass(path: &Path, name: &Path, rules: &Rules) -> Result<(File, Checked)> {
    let unreadable = |e: io::Error| {
        Error::file(
            name,
            None,
            format!("cannot be read: {}", crate::config::io_reason(&e)),
        )
    };
    let mut report = |problem: &Problem| {
        say!(
            "error: {}",
            Error::file(
                name,
                Some(&format!("line {}", problem.line)),
                &problem.message
            )
        );
    };
    if path != Path::new("-") {
        let mut file = File::open(path).map_err(unreadable)?;
        if file.metadata().is_ok_and(|m| m.is_file()) {
            let checked = check_rows(&file, rules, &mut report).map_err(unreadable)?;
            file.rewind().map_err(unreadable)?;
            return Ok((file, checked));
        }
        return spool(file, rules, &mut report).map_err(unreadable);
    }
    spool(io::stdin().lock(), rules, &mut report).map_err(unreadable)
}

fn spool(
    stream: impl Read,
    rules: &Rules,
    report: &mut dyn FnMut(&Problem),
) -> io::Result<(File, Checked)> {
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

/// The second pass, shared by the workers.
struct Batch<'a> {
    client: &'a Client,
    rules: &'a Rules,
    rows: Mutex<Rows<BufReader<File>>>,
    sink: Mutex<Sink>,
    /// Set when no more rows should be started (server down, stdout gone).
    stop: AtomicBool,
    /// How many rows may be in flight.
    limiter: &'a Limiter,
}

/// How one row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Created,
    Existing,
    Failed { unreachable: bool },
}

impl Batch<'_> {
    fn stopping(&self) -> bool {
        crate::interrupt::interrupted().is_some() || self.stop.load(Ordering::SeqCst)
    }

    fn work(&self) {
        loop {
            if self.stopping() {
                return;
            }
            let mut ticket = self.limiter.acquire();
            // The wait for a slot may have been long: look again.
            let item = if self.stopping() {
                None
            } else {
                lock(&self.rows).next()
            };
            let Some(item) = item else {
                self.limiter.release(ticket, Signal::Neutral);
                return;
            };
            let (ending, object, signal) = match item.and_then(|entry| self.rules.check(entry)) {
                Ok(row) => self.register(&row, &mut ticket),
                Err(problem) => {
                    // The first pass found no problem: the file changed since.
                    let error = Error::input(
                        format!("line {}", problem.line),
                        format!(
                            "{} (the file changed after it was checked; not sent)",
                            problem.message
                        ),
                    );
                    let mut object = crate::output::failure_json(&error, None);
                    object["line"] = Value::from(problem.line);
                    (
                        Ending::Failed { unreachable: false },
                        object,
                        Signal::Neutral,
                    )
                }
            };
            self.limiter.release(ticket, signal);
            let mut sink = lock(&self.sink);
            sink.set_concurrency(self.limiter.slots(), self.limiter.peak());
            if sink.record(ending, &object) {
                self.stop.store(true, Ordering::SeqCst);
            }
        }
    }

    /// Registers one row; `ticket` is its slot, given back and taken anew
    /// while it waits out a 429.
    fn register(&self, row: &Row, ticket: &mut Ticket) -> (Ending, Value, Signal) {
        let user_id = self
            .rules
            .server_name
            .as_deref()
            .map(|server_name| rules::user_id(&row.localpart, server_name));
        let generated;
        let password = match &row.password {
            Some(password) => password,
            None => match crate::password::generate() {
                Ok(password) => {
                    generated = password;
                    &generated
                }
                Err(error) => {
                    let (ending, object) = failed(row, &error, user_id, None);
                    return (ending, object, Signal::Neutral);
                }
            },
        };
        let is_generated = row.password.is_none();
        let new_user = NewUser::new(&row.localpart, password.expose())
            .admin(row.admin)
            .user_type(row.user_type.as_deref())
            .display_name(row.displayname.as_deref());
        let mut retries = 0;
        let outcome = loop {
            let outcome = self.client.register(&new_user);
            // A 429 creates nothing: the row may be sent again (with a
            // fresh nonce, as every try fetches one).
            let wait = match &outcome {
                Err(Error::Refused(refusal)) if refusal.status == 429 => {
                    let wait = rate_limited_wait(refusal.retry_after_ms, retries);
                    if wait.is_none() {
                        let why = match refusal.retry_after_ms {
                            _ if retries >= RATE_LIMITED_RETRIES => {
                                format!("still rate-limited (429) after {retries} retries")
                            }
                            Some(ms) => format!(
                                "rate-limited (429) and asked to wait {ms} ms, over {} s",
                                MAX_RATE_LIMITED_WAIT.as_secs()
                            ),
                            None => "rate-limited (429)".to_owned(),
                        };
                        log::info!("line {}: {why}: not tried again", row.line);
                    }
                    wait
                }
                _ => None,
            };
            let Some(wait) = wait else { break outcome };
            retries += 1;
            log::info!(
                "line {}: rate-limited (429): trying again in {:.1} s",
                row.line,
                wait.as_secs_f64()
            );
            // The slot is given back for the wait, and the limit drops.
            self.limiter.release(*ticket, Signal::Overloaded(429));
            let waited = pause(wait);
            *ticket = self.limiter.acquire();
            if !waited || self.stopping() {
                break outcome;
            }
        };
        let signal = load_signal(&outcome);
        let (ending, object) = match outcome {
            Ok(Outcome::Created(registered)) => {
                let mut object = json!({
                    "line": row.line,
                    "localpart": row.localpart,
                    "user_id": registered.user_id,
                    "created": true,
                    "access_token": registered.access_token,
                    "device_id": registered.device_id,
                });
                if is_generated {
                    object["password"] = Value::from(password.expose());
                }
                (Ending::Created, object)
            }
            // The server said yes; what it said besides is missing.
            Ok(Outcome::CreatedIncomplete(problem)) => {
                let mut object = json!({
                    "line": row.line,
                    "localpart": row.localpart,
                    "user_id": user_id,
                    "created": true,
                    "access_token": null,
                    "device_id": null,
                    "warning": crate::output::incomplete_warning(&problem),
                });
                if is_generated {
                    object["password"] = Value::from(password.expose());
                }
                (Ending::Created, object)
            }
            Ok(Outcome::AlreadyExists) => (
                Ending::Existing,
                json!({
                    "line": row.line,
                    "localpart": row.localpart,
                    "user_id": user_id,
                    "created": false,
                    "access_token": null,
                }),
            ),
            Err(error) => {
                // A request whose answer was lost may have created the
                // account: its password must not be lost.
                let keep = is_generated && error.is_unconfirmed();
                failed(row, &error, user_id, keep.then_some(password))
            }
        };
        (ending, object, signal)
    }
}

/// How long to wait before sending a row refused with 429 again, or `None`
/// not to: after [`RATE_LIMITED_RETRIES`], or when the server asks for more
/// than [`MAX_RATE_LIMITED_WAIT`].
fn rate_limited_wait(retry_after_ms: Option<u64>, retries: u32) -> Option<Duration> {
    let wait = retry_after_ms.map_or(RATE_LIMITED_WAIT, Duration::from_millis);
    (retries < RATE_LIMITED_RETRIES && wait <= MAX_RATE_LIMITED_WAIT).then_some(wait)
}

/// Sleeps for `wait`, or until Ctrl-C; `false` when interrupted.
fn pause(wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        if crate::interrupt::interrupted().is_some() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// What a row's outcome says about the server's load.
fn load_signal(outcome: &Result<Outcome>) -> Signal {
    match outcome {
        Ok(Outcome::Created(_) | Outcome::CreatedIncomplete(_)) => Signal::Answered,
        // An existing user is refused before any hashing: its answer time
        // says nothing.
        Ok(Outcome::AlreadyExists) => Signal::Neutral,
        Err(error) => error_signal(error),
    }
}

fn error_signal(error: &Error) -> Signal {
    match error {
        Error::Refused(refusal) if refusal.status == 429 || refusal.is_unavailable() => {
            Signal::Overloaded(refusal.status)
        }
        Error::Transport { .. } => Signal::Unreachable,
        // A lost answer (timeout, dropped connection, 5xx after the POST)
        // says what the failure inside it says.
        Error::Unconfirmed(inner) => error_signal(inner),
        // A refusal says nothing of the server's load.
        _ => Signal::Neutral,
    }
}

fn failed(
    row: &Row,
    error: &Error,
    user_id: Option<String>,
    password: Option<&SecretString>,
) -> (Ending, Value) {
    let mut object = crate::output::failure_json(error, user_id.as_deref());
    object["line"] = Value::from(row.line);
    object["localpart"] = Value::from(row.localpart.as_str());
    if let Some(password) = password {
        object["password"] = Value::from(password.expose());
    }
    let unreachable = error.is_unreachable();
    (Ending::Failed { unreachable }, object)
}

/// Where results go: stdout, the counts, the progress bar.
struct Sink {
    total: u64,
    created: u64,
    existing: u64,
    failed: u64,
    /// Rows in a row (as they finished) that could not reach the server.
    unreachable_streak: usize,
    unreachable_limit: usize,
    gave_up: bool,
    output_error: Option<io::Error>,
    progress: bool,
    started: Instant,
    /// Rows allowed in flight now.
    slots: usize,
}

impl Sink {
    fn new(total: u64, unreachable_limit: usize, progress: bool) -> Sink {
        Sink {
            total,
            created: 0,
            existing: 0,
            failed: 0,
            unreachable_streak: 0,
            unreachable_limit,
            gave_up: false,
            output_error: None,
            progress,
            started: Instant::now(),
            slots: 0,
        }
    }

    /// The rows allowed in flight now, and the most so far: rows in flight
    /// together fail together when the server goes away, so a streak of
    /// unreachable rows counts only beyond those.
    fn set_concurrency(&mut self, slots: usize, peak: usize) {
        self.slots = slots;
        self.unreachable_limit = self.unreachable_limit.max(peak);
    }

    fn done(&self) -> u64 {
        self.created + self.existing + self.failed
    }

    /// Counts one row; `true` when the server is taken to be down.
    fn count(&mut self, ending: Ending) -> bool {
        match ending {
            Ending::Created => self.created += 1,
            Ending::Existing => self.existing += 1,
            Ending::Failed { .. } => self.failed += 1,
        }
        if ending == (Ending::Failed { unreachable: true }) {
            self.unreachable_streak += 1;
        } else {
            self.unreachable_streak = 0;
        }
        if self.unreachable_streak >= self.unreachable_limit {
            self.gave_up = true;
        }
        self.gave_up
    }

    /// Writes one row's result; `true` when no more rows should be started.
    /// Once stdout cannot be written, the results of the rows still in
    /// flight go to stderr: they may hold a generated password.
    fn record(&mut self, ending: Ending, object: &Value) -> bool {
        self.count(ending);
        if self.progress {
            crate::output::stderr_text("\r\x1b[2K");
        }
        if self.output_error.is_none() {
            // Flushed line by line: an interrupted run loses nothing already done.
            if let Err(error) = crate::output::stdout_line(&object.to_string()) {
                self.output_error = Some(error);
            }
        }
        if self.output_error.is_some() {
            say!("{object}");
        }
        self.draw_progress();
        self.gave_up || self.output_error.is_some()
    }

    fn draw_progress(&self) {
        if self.progress {
            crate::output::stderr_text(&format!(
                "\r{}",
                progress_bar(self, self.started.elapsed())
            ));
        }
    }

    /// Users registered or found per second.
    fn rate(&self, elapsed: Duration) -> f64 {
        (self.created + self.existing) as f64 / elapsed.as_secs_f64().max(1e-3)
    }

    /// The summary line, ending with `jobs` (how many were in flight);
    /// returns the exit status.
    fn finish(self, started: Instant, jobs: &str) -> i32 {
        if self.progress {
            crate::output::stderr_text("\r\x1b[2K");
        }
        let not_started = self.total.saturating_sub(self.done());
        let mut summary = format!(
            "created {}, already there {}, failed {}",
            self.created, self.existing, self.failed
        );
        if not_started > 0 {
            summary.push_str(&format!(", not started {not_started}"));
        }
        let elapsed = started.elapsed();
        say!(
            "{summary}, {:.2} s, {:.1} users/s, {jobs}",
            elapsed.as_secs_f64(),
            self.rate(elapsed)
        );
        if let Some(error) = &self.output_error {
            say!(
                "error: cannot write the results to stdout ({}); the results of the rows in flight are above, on stderr, and no more rows were started",
                crate::config::io_reason(error)
            );
            if not_started > 0 {
                say!(
                    "hint: run the same file again with --exists-ok, its output going where it can be written, to complete it"
                );
            }
            return EXIT_OUTPUT;
        }
        if let Some(signal) = crate::interrupt::interrupted() {
            if not_started > 0 {
                say!(
                    "interrupted: {not_started} rows were not started; run the same file again with --exists-ok to complete it"
                );
            }
            return crate::error::exit_code_for_signal(signal);
        }
        if self.gave_up {
            say!(
                "error: {} rows in a row could not reach the server; no more rows were started",
                self.unreachable_streak
            );
            say!(
                "hint: once the server answers, run the same file again with --exists-ok to complete it"
            );
            return EXIT_UNREACHABLE;
        }
        if self.failed > 0 {
            EXIT_REFUSED
        } else {
            EXIT_OK
        }
    }
}

const BAR_WIDTH: u64 = 24;

fn progress_bar(sink: &Sink, elapsed: Duration) -> String {
    let done = sink.done();
    let filled = (done.min(sink.total) * BAR_WIDTH)
        .checked_div(sink.total)
        .unwrap_or(BAR_WIDTH) as usize;
    format!(
        "[{}{}] {done}/{}  created {}, already there {}, failed {}  jobs {}, {:.1} users/s",
        "#".repeat(filled),
        "-".repeat(BAR_WIDTH as usize - filled),
        sink.total,
        sink.created,
        sink.existing,
        sink.failed,
        sink.slots,
        sink.rate(elapsed)
    )
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Vec<std::result::Result<Entry, Problem>> {
        Rows::new(text.as_bytes()).unwrap().collect()
    }

    /// Every problem of a file, as "line: message".
    fn problems(text: &str, rules: &Rules) -> (Checked, Vec<(u64, String)>) {
        let mut found = Vec::new();
        let checked = check_rows(io::Cursor::new(text), rules, &mut |p: &Problem| {
            found.push((p.line, p.message.clone()))
        })
        .unwrap();
        // Duplicates come after the other problems, from a second reading.
        found.sort_by_key(|(line, _)| *line);
        (checked, found)
    }

    fn good(text: &str, rules: &Rules) -> Vec<Row> {
        Rows::new(text.as_bytes())
            .unwrap()
            .map(|item| item.and_then(|e| rules.check(e)).unwrap())
            .collect()
    }

    #[test]
    fn format_is_detected_from_the_content() {
        let detect = |text: &str| Rows::new(text.as_bytes()).unwrap().format();
        assert_eq!(detect("localpart\nalice\n"), Format::Csv);
        assert_eq!(detect("{\"localpart\": \"alice\"}\n"), Format::JsonLines);
        assert_eq!(
            detect("\u{feff}\n\n  {\"user\": \"a\"}\n"),
            Format::JsonLines
        );
        assert_eq!(detect("\u{feff}user,password\n"), Format::Csv);
        assert_eq!(detect(""), Format::Csv);
    }

    #[test]
    fn csv_rows_with_quotes_and_line_numbers() {
        let text = "\u{feff}\nLocalpart, Password ,admin,user_type,displayname\r\n\
                    alice,\"pa,ss\"\"word\",yes,bot,\"Alice, \"\"A\"\" Liddell\"\r\n\
                    bob,\"two\nlines\",,,\n\
                    \n\
                    carol,,0,,\n";
        let entries: Vec<Entry> = rows(text).into_iter().map(Result::unwrap).collect();
        assert_eq!(entries.len(), 3);
        let alice = &entries[0];
        assert_eq!(alice.line, 3);
        assert_eq!(alice.localpart.as_deref(), Some("alice"));
        assert_eq!(alice.password.as_ref().unwrap().expose(), "pa,ss\"word");
        assert_eq!(alice.admin, Some(true));
        assert_eq!(alice.user_type.as_deref(), Some("bot"));
        assert_eq!(alice.displayname.as_deref(), Some("Alice, \"A\" Liddell"));
        let bob = &entries[1];
        assert_eq!(bob.line, 4);
        assert_eq!(bob.password.as_ref().unwrap().expose(), "two\nlines");
        assert_eq!(bob.admin, None);
        // A quoted field over two lines: carol is on line 7, after a blank line.
        let carol = &entries[2];
        assert_eq!(carol.line, 7);
        assert!(carol.password.is_none(), "empty: generated");
        assert_eq!(carol.admin, Some(false));
    }

    #[test]
    fn csv_line_numbers_count_blank_lines_and_crlf() {
        let lines = |text: &str| -> Vec<(u64, String)> {
            rows(text)
                .into_iter()
                .map(|e| {
                    let e = e.unwrap();
                    (e.line, e.localpart.unwrap())
                })
                .collect()
        };
        let expected = [(3, "b".to_owned()), (6, "c".to_owned())];
        assert_eq!(lines("user\r\n\r\nb\r\n\r\n\r\nc\r\n"), expected);
        assert_eq!(lines("user\n\nb\n\n\nc"), expected);
        assert_eq!(
            lines("user,password\r\nb,\"x\r\ny\"\r\n\r\n\r\nc,\"z\"\r\n"),
            [(2, "b".to_owned()), (6, "c".to_owned())]
        );
        assert_eq!(
            lines("\n\n\"user\"\n\"b\"\nc\n"),
            [(4, "b".to_owned()), (5, "c".to_owned())]
        );
        // Found by fuzzing (fuzz/fuzz_targets/batch.rs): a quote left open
        // runs to the end of the file, newlines included; the row was
        // reported on the line before it.
        assert_eq!(
            lines("user\nb\n\"c\nd\n"),
            [(2, "b".to_owned()), (3, "c\nd".to_owned())]
        );
        assert_eq!(lines("user\n\"c\n\n"), [(2, "c".to_owned())]);
        assert_eq!(
            lines("user\nb\nc"),
            [(2, "b".to_owned()), (3, "c".to_owned())]
        );
        // Also found by fuzzing: a lone `\r` ends a CSV line (old Mac files),
        // and every row of such a file was said to be on line 1.
        assert_eq!(
            lines("\r\ruser\rb\r\"x\ry\"\r\rc\n\r\nd"),
            [
                (4, "b".to_owned()),
                (5, "x\ry".to_owned()),
                (8, "c".to_owned()),
                (10, "d".to_owned())
            ]
        );
    }

    #[test]
    fn json_lines_rows() {
        let text = "{\"localpart\": \"alice\", \"password\": \"pw\", \"admin\": true}\n\
                    \n\
                    {\"user\": \"bob\", \"admin\": \"no\", \"user_type\": null, \"displayname\": \"Bob\"}\n\
                    {\"user\": \"carol\", \"admin\": 1, \"password\": \"\"}\n";
        let entries: Vec<Entry> = rows(text).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            entries.iter().map(|e| e.line).collect::<Vec<_>>(),
            [1, 3, 4]
        );
        assert_eq!(entries[0].admin, Some(true));
        assert_eq!(entries[0].password.as_ref().unwrap().expose(), "pw");
        assert_eq!(entries[1].localpart.as_deref(), Some("bob"));
        assert_eq!(entries[1].admin, Some(false));
        assert_eq!(entries[1].user_type, None);
        assert_eq!(entries[1].displayname.as_deref(), Some("Bob"));
        assert_eq!(entries[2].admin, Some(true));
        assert!(entries[2].password.is_none());
    }

    #[test]
    fn admin_values() {
        for (text, expected) in [
            ("true", Some(true)),
            ("TRUE", Some(true)),
            ("yes", Some(true)),
            (" Yes ", Some(true)),
            ("1", Some(true)),
            ("false", Some(false)),
            ("no", Some(false)),
            ("0", Some(false)),
            ("", None),
            ("  ", None),
        ] {
            assert_eq!(parse_admin(text), Ok(expected), "{text:?}");
        }
        for bad in ["y", "n", "2", "admin", "on"] {
            assert!(parse_admin(bad).is_err(), "{bad}");
        }
        let (_, found) = problems(
            "{\"user\": \"a\", \"admin\": 2}\n{\"user\": \"b\", \"admin\": [true]}\n",
            &Rules::default(),
        );
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn command_line_defaults_apply_to_rows_that_do_not_say() {
        let rules = Rules {
            admin: true,
            user_type: Some("bot".to_owned()),
            ..Rules::default()
        };
        let rows = good("user,admin,user_type\nalice,,\nbob,no,support\n", &rules);
        assert!(rows[0].admin);
        assert_eq!(rows[0].user_type.as_deref(), Some("bot"));
        assert!(!rows[1].admin);
        assert_eq!(rows[1].user_type.as_deref(), Some("support"));
        let rows = good("{\"user\": \"carol\"}\n", &Rules::default());
        assert!(!rows[0].admin, "not admin without -a");
        assert_eq!(rows[0].user_type, None);
        assert!(rows[0].password.is_none());
    }

    #[test]
    fn full_user_ids_are_accepted_when_the_server_matches() {
        let rules = Rules {
            server_name: Some("example.org".to_owned()),
            ..Rules::default()
        };
        let rows = good("user\n@Alice:example.org\n", &rules);
        assert_eq!(rows[0].localpart, "Alice");
        let (_, found) = problems("user\n@alice:other.org\n", &rules);
        assert_eq!(found.len(), 1);
        assert!(found[0].1.contains("other.org"), "{found:?}");
    }

    #[test]
    fn every_bad_row_is_reported_with_its_line() {
        let long = "x".repeat(513);
        let csv = format!(
            "localpart,password,admin,colour\n\
             alice,pw,,red\n\
             bad user,pw,,\n\
             ALICE,pw,,\n\
             bob,{long},,\n\
             carol,pw,maybe,\n\
             dave,pw\n\
             ,pw,,\n\
             _eve,pw,,\n\
             12345,pw,,\n\
             frank,pw,,\n"
        );
        // A config that does not allow a leading '_'.
        let rules = Rules {
            refuse_underscore_prefix: true,
            ..Rules::default()
        };
        let (checked, found) = problems(&csv, &rules);
        let lines: Vec<u64> = found.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [1, 3, 4, 5, 6, 7, 8, 9, 10], "{found:#?}");
        assert!(found[0].1.contains("unknown column 'colour'"));
        assert!(found[1].1.starts_with("bad localpart"));
        assert!(
            found[2]
                .1
                .contains("duplicate localpart 'ALICE': already on line 2")
        );
        assert!(found[3].1.contains("513 characters"));
        assert!(!found[3].1.contains("xxx"), "the password is not shown");
        assert!(found[4].1.contains("admin is 'maybe'"));
        assert!(
            found[5]
                .1
                .contains("unparsable line: 2 fields where the header has 4")
        );
        assert!(found[6].1.contains("bad localpart: it is empty"));
        assert!(found[7].1.contains("starts with '_'"));
        assert!(found[8].1.contains("all digits"));
        assert_eq!(checked.rows, 2, "alice and frank");
        assert_eq!(checked.problems, 9);
    }

    // Found while writing the property tests (tests/properties.rs): the
    // value was echoed in the problem, on stderr.
    #[test]
    fn a_password_that_is_not_a_string_is_not_echoed() {
        let text = "{\"user\": \"h\", \"password\": 123456}\n\
                    {\"user\": \"i\", \"Password\": [\"hunter2\"]}\n";
        let (_, found) = problems(text, &Rules::default());
        assert_eq!(
            found[0],
            (1, "password must be a string, not a number".to_owned())
        );
        assert_eq!(
            found[1],
            (2, "Password must be a string, not a list".to_owned())
        );
    }

    #[test]
    fn every_bad_json_line_is_reported_with_its_line() {
        let text = "{\"user\": \"alice\"}\n\
                    {\"user\": \"bob\", \"pasword\": \"x\"}\n\
                    {\"user\": \"carol\"\n\
                    [\"dave\"]\n\
                    {\"localpart\": \"erin\", \"user\": \"erin\"}\n\
                    {\"user\": 42}\n\
                    {\"user\": \"Alice\"}\n\
                    {\"password\": \"pw\"}\n\
                    {\"user\": \"gina\", \"user_type\": \"robot\"}\n";
        let rules = Rules {
            extra_user_types: Some(Vec::new()),
            ..Rules::default()
        };
        let (checked, found) = problems(text, &rules);
        let lines: Vec<u64> = found.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 9], "{found:#?}");
        assert!(found[0].1.contains("unknown column 'pasword'"));
        assert!(found[1].1.starts_with("unparsable line"));
        assert!(found[2].1.starts_with("unparsable line"));
        assert!(found[3].1.contains("same column"));
        assert!(found[4].1.contains("must be a string"));
        assert!(found[5].1.contains("already on line 1"));
        assert!(found[6].1.contains("bad localpart: it is empty"));
        assert!(found[7].1.contains("unknown user type 'robot'"));
        assert_eq!(checked.rows, 1);
    }

    #[test]
    fn header_problems() {
        let (checked, found) = problems("password,admin\npw,yes\n", &Rules::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 1);
        assert!(
            found[0]
                .1
                .starts_with("the header has no localpart (or user) column")
        );
        assert_eq!(checked.rows, 0);
        // A file without its header: the first row's password is not echoed.
        let (_, found) = problems("alice,hunter2secret,yes\n", &Rules::default());
        assert_eq!(found.len(), 1);
        assert!(
            found[0].1.contains("is the header row missing?"),
            "{found:?}"
        );
        assert!(!found[0].1.contains("hunter2secret"), "{found:?}");
        let (_, found) = problems("\n\nlocalpart,user\na,b\n", &Rules::default());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 3);
        assert!(found[0].1.contains("given twice"), "{found:?}");
        let (_, found) = problems("", &Rules::default());
        assert!(found[0].1.contains("the file is empty"), "{found:?}");
        let (checked, found) = problems("localpart\n", &Rules::default());
        assert!(found.is_empty());
        assert_eq!(checked.rows, 0);
    }

    #[test]
    fn invalid_utf8_is_an_unparsable_line() {
        let mut found = Vec::new();
        check_rows(
            io::Cursor::new(b"user,password\nalice,pw\nbob,\xff\xfe\ncarol,pw\n"),
            &Rules::default(),
            &mut |p: &Problem| found.push((p.line, p.message.clone())),
        )
        .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, 3);
        assert!(found[0].1.contains("not valid UTF-8"));
        let mut found = Vec::new();
        check_rows(
            io::Cursor::new(b"{\"user\": \"a\"}\n{\"user\": \"\xff\"}\n"),
            &Rules::default(),
            &mut |p: &Problem| found.push(p.line),
        )
        .unwrap();
        assert_eq!(found, [2]);
    }

    #[test]
    fn the_spool_copies_everything_read() {
        let text = "user\nalice\nbob\n";
        let mut copy = Vec::new();
        let (checked, _) = scan(
            BufReader::new(Tee {
                inner: text.as_bytes(),
                copy: &mut copy,
            }),
            &Rules::default(),
            &mut |p: &Problem| panic!("{p:?}"),
        )
        .unwrap();
        assert_eq!(checked.rows, 2);
        assert_eq!(copy, text.as_bytes());
    }

    #[test]
    fn progress_bar_shows_counts() {
        let mut sink = Sink::new(8, UNREACHABLE_STREAK, false);
        sink.set_concurrency(8, 8);
        assert_eq!(
            progress_bar(&sink, Duration::ZERO),
            "[------------------------] 0/8  created 0, already there 0, failed 0  jobs 8, 0.0 users/s"
        );
        sink.created = 3;
        sink.existing = 1;
        sink.set_concurrency(11, 11);
        assert_eq!(
            progress_bar(&sink, Duration::from_secs(2)),
            "[############------------] 4/8  created 3, already there 1, failed 0  jobs 11, 2.0 users/s"
        );
    }

    #[test]
    fn unreachable_rows_in_a_row_stop_the_batch() {
        let mut sink = Sink::new(100, 3, false);
        let unreachable = Ending::Failed { unreachable: true };
        let refused = Ending::Failed { unreachable: false };
        assert!(!sink.count(unreachable));
        assert!(!sink.count(unreachable));
        assert!(
            !sink.count(Ending::Created),
            "a row that got through resets the streak"
        );
        assert!(!sink.count(unreachable));
        assert!(
            !sink.count(refused),
            "so does a refusal: the server answered"
        );
        assert!(!sink.count(unreachable));
        assert!(!sink.count(unreachable));
        assert!(sink.count(unreachable));
        assert_eq!((sink.created, sink.failed, sink.done()), (1, 7, 8));
    }

    #[test]
    fn rows_longer_than_the_limit_are_bad_rows() {
        let limit = MAX_ROW_BYTES as usize;
        let too_long = RowTooLong.to_string();
        let not_read = format!("{too_long}; the rest of the file was not read");
        // CSV, measured from the end of the row before, line break included.
        let fits = "d".repeat(limit - "alice,\n".len());
        let over = "d".repeat(limit - "bob,\n".len() + 1);
        let items = rows(&format!(
            "user,displayname\nalice,{fits}\nbob,{over}\ncarol,\n"
        ));
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0].as_ref().unwrap().displayname.as_deref(),
            Some(&*fits)
        );
        assert_eq!(items[1].as_ref().unwrap_err(), &Problem::new(3, &too_long));
        assert_eq!(items[2].as_ref().unwrap().line, 4);
        // Far longer: not read whole, and reading stops there, at the
        // row's first line even when a quote left open runs on.
        let far = "x\n".repeat(limit);
        let items = rows(&format!("user,displayname\nann,\n\ncid,\"{far}\"\ndee,\n"));
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].as_ref().unwrap_err(), &Problem::new(4, &not_read));
        // Blank lines between rows count, and are said to.
        let blank = "\n".repeat(limit / 2);
        let items = rows(&format!("user\nann\n{blank}bob,{fits}\ncid\n"));
        let problem = format!(
            "the row, with the {} blank lines before it, is longer than 64 KiB",
            limit / 2
        );
        // Whether all of it was read before the limit depends on where the
        // reads fall; the line and the reason do not.
        let found = items[1].as_ref().unwrap_err();
        assert_eq!(found.line, 3 + limit as u64 / 2);
        assert!(found.message.starts_with(&problem), "{found:?}");
        let items = rows(&format!("user\nann\n{blank}{blank}{blank}bob\n"));
        assert_eq!(
            items[1].as_ref().unwrap_err(),
            &Problem::new(
                3,
                "more than 64 KiB of blank lines; the rest of the file was not read"
            )
        );
        // The header too, whole or not.
        let far_line = "x".repeat(2 * limit);
        for header in [format!("user,{over}\n"), format!("user,{far_line}\n")] {
            let (checked, found) = problems(&header, &Rules::default());
            assert_eq!(found, [(1, not_read.clone())]);
            assert_eq!(checked.rows, 0);
        }
        // JSON Lines: the line (its `\n` not counted) is skipped, unkept.
        let fits = format!(
            "{{\"user\": \"a\", \"displayname\": \"{}\"}}",
            "d".repeat(limit - 32)
        );
        assert_eq!(fits.len(), limit);
        let over = format!("{fits} ");
        let items = rows(&format!(
            "{fits}\n{over}\n{over}{far_line}\n{{\"user\": \"b\"}}"
        ));
        assert_eq!(items.len(), 4);
        assert!(items[0].is_ok());
        assert_eq!(items[1].as_ref().unwrap_err(), &Problem::new(2, &too_long));
        assert_eq!(items[2].as_ref().unwrap_err(), &Problem::new(3, &too_long));
        assert_eq!(items[3].as_ref().unwrap().line, 4);
    }

    #[test]
    fn a_json_key_given_twice_is_a_bad_row() {
        let text = "{\"user\": \"alice\", \"password\": \"first\", \"password\": \"second\"}\n\
                    {\"user\": \"bob\", \"admin\": true, \"admin\": false}\n";
        let found: Vec<String> = rows(text)
            .into_iter()
            .map(|row| row.unwrap_err().message)
            .collect();
        assert_eq!(
            found,
            ["'password' is given twice", "'admin' is given twice"]
        );
    }
}
