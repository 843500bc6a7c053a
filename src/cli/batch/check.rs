//! The first pass: every row checked against the server's rules, and
//! duplicate localparts found from 8-byte digests.

use super::fields::{Problem, WrittenRow};
use super::format::Format;
use super::rows::Rows;
use crate::cli::options::Options;
use crate::cli::rules::{self, Rejection};
use crate::secret::SecretString;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

/// A row checked against the server's rules, with the command line's
/// defaults applied.
#[derive(Debug)]
pub struct CheckedRow {
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
    /// Through MAS: rows may set neither a user type nor a display name,
    /// and passwords must pass its `passwords.minimum_complexity` (this,
    /// when MAS's config is given).
    pub through_mas: Option<Option<u8>>,
}

impl Rules {
    pub fn from_options(options: &Options) -> Rules {
        Rules {
            server_name: options.server_name.clone(),
            extra_user_types: options.extra_user_types.clone(),
            refuse_underscore_prefix: options.refuse_underscore_prefix,
            admin: options.admin.unwrap_or(false),
            user_type: options.user_type.clone(),
            through_mas: match &options.route {
                crate::cli::options::Route::Mas(route) => Some(route.minimum_complexity),
                crate::cli::options::Route::SharedSecret(_) => None,
            },
        }
    }

    pub fn check(&self, entry: WrittenRow) -> std::result::Result<CheckedRow, Problem> {
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
                problems.push(match &rejection {
                    // The cell may hold a password one column off.
                    Rejection::UnknownUserType { .. } => format!(
                        "unknown user type ({}) ({})",
                        crate::redact::WITHHELD,
                        rejection.hint().map(|h| h.to_string()).unwrap_or_default()
                    ),
                    _ => problem_text(rejection),
                });
            }
        }
        if let Some(minimum_complexity) = self.through_mas {
            if entry.user_type.is_some() {
                problems.push("MAS has no user types: its admin API cannot set one".to_owned());
            }
            if entry.displayname.is_some() {
                problems.push("MAS's admin API cannot set a display name".to_owned());
            }
            let weak = entry.password.as_ref().and_then(|password| {
                crate::mas::password_too_weak(password.expose(), minimum_complexity?)
            });
            if let Some(problem) = weak {
                problems.push(format!("password {problem}"));
            }
        }
        match localpart {
            Some(localpart) if problems.is_empty() => Ok(CheckedRow {
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
pub(super) fn digest(localpart: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    localpart.to_lowercase().hash(&mut hasher);
    hasher.finish()
}

/// The first pass over a file: what it holds.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CheckSummary {
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
) -> io::Result<CheckSummary> {
    let start = input.stream_position()?;
    let (checked, digests) = scan(BufReader::new(&mut input), rules, report)?;
    input.seek(SeekFrom::Start(start))?;
    check_duplicates(input, checked, digests, rules, report)
}

/// Checks every row, reporting each problem as it is found, except
/// duplicates; returns the digests of the good rows' localparts.
pub(super) fn scan(
    reader: impl BufRead,
    rules: &Rules,
    report: &mut dyn FnMut(&Problem),
) -> io::Result<(CheckSummary, Vec<u64>)> {
    let rows = Rows::new(reader)?;
    let mut checked = CheckSummary {
        format: Some(rows.format()),
        ..CheckSummary::default()
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
pub(super) fn check_duplicates(
    input: impl Read,
    mut checked: CheckSummary,
    mut digests: Vec<u64>,
    rules: &Rules,
    report: &mut dyn FnMut(&Problem),
) -> io::Result<CheckSummary> {
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
            Entry::Vacant(slot) => {
                slot.insert(row.line);
            }
            Entry::Occupied(first) => {
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
