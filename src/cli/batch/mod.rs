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
//!
//! The stages, in the order a row meets them:
//!
//! - `format`: CSV or JSON Lines, told from the first character;
//! - `lines`: line ends, line numbers and the row-length cap;
//! - `rows`: the rows of a file, one at a time, with their line numbers;
//! - `fields`: one row's fields as written ([`WrittenRow`]) or its [`Problem`];
//! - `check`: a written row checked against the [`Rules`] ([`CheckedRow`]),
//!   and duplicate localparts;
//! - `spool`: standard input copied to an unlinked file for the second pass;
//! - `worker`: one checked row sent, its result (`RowEnd`);
//! - `tally`: the counts, the progress bar, the summary and the exit status.

mod check;
mod fields;
mod format;
mod lines;
mod rows;
mod spool;
mod tally;
#[cfg(test)]
mod tests;
mod worker;

pub use check::{CheckSummary, Rules, check_rows};
pub use fields::Problem;
pub use format::Format;
pub use rows::Rows;

use crate::cli::OutputFormat;
use crate::cli::concurrency::{Jobs, Limiter};
use crate::cli::error::{Error, Result};
use crate::cli::mas::Registrar;
use crate::cli::options::Options;
use spool::spool;
use std::fs::File;
use std::io::{self, BufReader, Seek};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tally::Tally;
use worker::{SecondPass, lock};

/// When this many rows in a row could not reach the server (or as many as
/// were in flight at once, if more), the server is taken to be down and no
/// more rows are started, rather than waiting out a timeout for every
/// remaining row.
const UNREACHABLE_STREAK: usize = 5;

/// Runs `--batch`; returns the exit status.
pub fn run(options: Options, path: &Path, jobs: Jobs) -> i32 {
    match run_batch(options, path, jobs) {
        Ok(status) => status,
        Err(error) => {
            crate::cli::output::report_error(&error);
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
    let reporter = crate::cli::output::Reporter::new(options.output);
    for notice in &options.notices {
        reporter.notice(notice);
    }
    let rules = Rules::from_options(&options);
    let limiter = Limiter::new(jobs, options.http.timeout);
    let mut http = options.http.clone();
    http.pool_size = limiter.ceiling();
    // Before the first pass, so that a bad --cacert is said at once.
    // Batch rows carry access_token: MAS gives each account one.
    let registrar = Registrar::new(
        &options.route,
        &options.server_url,
        options.if_exists,
        http,
        true,
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

    crate::cli::signals::set_graceful(true);
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
    let progress = crate::cli::output::start_progress();
    let tally = Arc::new(Mutex::new(Tally::new(
        checked.rows,
        UNREACHABLE_STREAK,
        progress,
    )));
    let batch = SecondPass {
        client: registrar.as_register(),
        rules: &rules,
        rows: Mutex::new(rows),
        tally: Arc::clone(&tally),
        stop: AtomicBool::new(false),
        limiter: &limiter,
        via: match &options.route {
            crate::cli::options::Route::Mas(_) => Some(crate::cli::output::VIA_MAS),
            crate::cli::options::Route::SharedSecret(_) => None,
        },
    };
    {
        let mut tally = lock(&batch.tally);
        tally.set_concurrency(limiter.slots(), limiter.peak());
        tally.draw_progress();
    }
    let jobs_now = match jobs {
        Jobs::Fixed(n) => format!("jobs {n}"),
        Jobs::Auto => "jobs auto".to_owned(),
    };
    // A signal that stops the run at once says the summary after the
    // ledger's rows, which count as failed: their answer never came.
    let summary = Arc::clone(&tally);
    crate::cli::signals::set_last_words(Some(Box::new(move |_, lost| {
        let mut tally = lock(&summary);
        tally.failed += lost;
        tally.finish(started, &jobs_now);
    })));
    // As many workers as there can be slots; the limiter holds the extra
    // ones back.
    std::thread::scope(|scope| {
        for _ in 0..limiter.ceiling() {
            scope.spawn(|| batch.work());
        }
    });
    crate::cli::signals::set_last_words(None);
    let jobs = match jobs {
        Jobs::Fixed(n) => format!("jobs {n}"),
        Jobs::Auto => format!("jobs auto, settled at {}", limiter.settled()),
    };
    Ok(lock(&tally).finish(started, &jobs))
}

/// Reads the whole input once, checking it; returns a file positioned to
/// read it again.
fn first_pass(path: &Path, name: &Path, rules: &Rules) -> Result<(File, CheckSummary)> {
    let unreadable = |e: io::Error| {
        Error::file(
            name,
            None,
            format!("cannot be read: {}", crate::files::io_reason(&e)),
        )
    };
    let mut report = |problem: &Problem| {
        let error = Error::file(
            name,
            Some(&format!("line {}", problem.line)),
            &problem.message,
        );
        // The problem is the whole story: no hint, whatever the error type offers.
        crate::cli::output::report_problem(&error, None);
    };
    if path != Path::new("-") {
        let mut file = File::open(path).map_err(unreadable)?;
        if file.metadata().is_ok_and(|m| m.is_file()) {
            let checked = check_rows(&file, rules, &mut report).map_err(unreadable)?;
            file.rewind().map_err(unreadable)?;
            return Ok((file, checked));
        }
        return spool(file, spool_file(name)?, rules, &mut report).map_err(unreadable);
    }
    spool(io::stdin().lock(), spool_file(name)?, rules, &mut report).map_err(unreadable)
}

/// The file a stream read once is copied to, in the temporary directory;
/// an error names that directory, which is what needs putting right.
fn spool_file(name: &Path) -> Result<File> {
    // An empty TMPDIR counts as unset, as for mktemp and Python's tempfile
    // (the standard library would take it for the current directory's "").
    let dir = match std::env::var_os("TMPDIR") {
        Some(dir) if dir.is_empty() && cfg!(unix) => std::path::PathBuf::from("/tmp"),
        _ => std::env::temp_dir(),
    };
    spool::unlinked_file(&dir).map_err(|e| {
        let reason = match dir.is_dir() {
            false => "it is not an existing directory".to_owned(),
            true => crate::files::io_reason(&e),
        };
        Error::file(
            &dir,
            None,
            format!(
                "the temporary directory cannot hold the copy of {} that a second reading needs: {reason}",
                name.display()
            ),
        )
        .with_hint("set TMPDIR to a directory this user can write to")
    })
}
