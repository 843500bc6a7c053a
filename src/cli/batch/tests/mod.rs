//! Tests of `--batch` by stage: reading the file, checking its rows,
//! counting them; the helpers they share.

use super::UNREACHABLE_STREAK;
use super::check::*;
use super::fields::*;
use super::format::Format;
use super::lines::*;
use super::rows::Rows;
use super::spool::Tee;
use super::tally::*;
use super::worker::RowEnd;
use std::io::{self, BufReader};
use std::time::Duration;

mod check;
mod reading;
mod tally;

fn rows(text: &str) -> Vec<std::result::Result<WrittenRow, Problem>> {
    Rows::new(text.as_bytes()).unwrap().collect()
}

/// Every problem of a file, as "line: message".
fn problems(text: &str, rules: &Rules) -> (CheckSummary, Vec<(u64, String)>) {
    let mut found = Vec::new();
    let checked = check_rows(io::Cursor::new(text), rules, &mut |p: &Problem| {
        found.push((p.line, p.message.clone()))
    })
    .unwrap();
    // Duplicates come after the other problems, from a second reading.
    found.sort_by_key(|(line, _)| *line);
    (checked, found)
}

fn good(text: &str, rules: &Rules) -> Vec<CheckedRow> {
    Rows::new(text.as_bytes())
        .unwrap()
        .map(|item| item.and_then(|e| rules.check(e)).unwrap())
        .collect()
}
