//! One row's fields as written in the file, CSV or JSON, or what is wrong
//! with them.

use crate::secret::SecretString;
use serde_json::Value;

/// The columns (CSV) or keys (JSON Lines) a row may have.
pub const COLUMNS: &str = "localpart (or user), password, admin, user_type, displayname";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column {
    Localpart,
    Password,
    Admin,
    UserType,
    DisplayName,
}

impl Column {
    /// Header names and JSON keys are matched without regard to case or
    /// surrounding blanks, as spreadsheets write them.
    pub(super) fn from_name(name: &str) -> Option<Column> {
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
pub struct WrittenRow {
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
    pub(super) fn new(line: u64, message: impl Into<String>) -> Problem {
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
            "admin is not true/false, yes/no or 1/0 ({}); use one of them, or leave it empty",
            crate::redact::WITHHELD
        )),
    }
}

impl WrittenRow {
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

pub(super) fn csv_entry(
    record: &csv::ByteRecord,
    columns: &[Option<Column>],
    line: u64,
) -> std::result::Result<WrittenRow, Problem> {
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
    let mut entry = WrittenRow {
        line,
        ..WrittenRow::default()
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
pub(super) struct Members(Vec<(String, Value)>);

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

pub(super) fn json_entry(bytes: &[u8], line: u64) -> std::result::Result<WrittenRow, Problem> {
    let Members(members) = serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        // serde_json counts lines within this one line: its position would mislead.
        let text = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(t, _)| t);
        // A JSON value of another type: serde_json's words would quote it
        // ("invalid type: string \"...\""), and it may be a password.
        let what;
        let text = match e.classify() {
            serde_json::error::Category::Data => {
                what = format!("it is {}", json_kind_of_text(bytes));
                what.as_str()
            }
            _ => text,
        };
        Problem::new(
            line,
            format!(
                "unparsable line: not a JSON object ({text}, column {})",
                e.column()
            ),
        )
    })?;
    let mut problems = Vec::new();
    let mut entry = WrittenRow {
        line,
        ..WrittenRow::default()
    };
    // Keys name columns without regard to case, so `admin` and `Admin` are
    // one column given twice, as in a CSV header: neither may win silently.
    let mut seen: Vec<(Column, &str)> = Vec::with_capacity(members.len());
    for (key, value) in &members {
        let Some(column) = Column::from_name(key) else {
            problems.push(format!(
                "unknown column '{key}' (the columns are {COLUMNS})"
            ));
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(c, _)| *c == column) {
            // Never the values: one of them may be a password.
            if column == Column::Localpart && !first.trim().eq_ignore_ascii_case(key.trim()) {
                problems.push(format!(
                    "both '{first}' and '{key}' are given (they are the same column)"
                ));
            } else {
                problems.push(format!("'{key}' is given twice"));
            }
            continue;
        }
        seen.push((column, key));
        match (column, value) {
            (_, Value::Null) => {}
            (_, Value::String(text)) => entry.set_text(column, text, &mut problems),
            (Column::Admin, Value::Bool(admin)) => entry.admin = Some(*admin),
            (Column::Admin, Value::Number(n)) if n.as_u64() == Some(1) => entry.admin = Some(true),
            (Column::Admin, Value::Number(n)) if n.as_u64() == Some(0) => entry.admin = Some(false),
            // What it is, never what it says: a password written without
            // quotes (`"admin": 123456`) may have landed in any column.
            (Column::Admin, other) => problems.push(format!(
                "{key} is {}: use true/false, yes/no or 1/0, or leave it out",
                json_kind(other)
            )),
            (_, other) => {
                problems.push(format!("{key} must be a string, not {}", json_kind(other)))
            }
        }
    }
    finish(entry, problems)
}

/// What kind of JSON value a line that is not an object holds, from its
/// first character.
fn json_kind_of_text(bytes: &[u8]) -> &'static str {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'"') => "a string",
        Some(b'[') => "a list",
        Some(b't' | b'f') => "true or false",
        Some(b'n') => "null",
        _ => "a number",
    }
}

pub(super) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(super) fn finish(
    entry: WrittenRow,
    problems: Vec<String>,
) -> std::result::Result<WrittenRow, Problem> {
    if problems.is_empty() {
        Ok(entry)
    } else {
        Err(Problem::new(entry.line, problems.join("; ")))
    }
}
