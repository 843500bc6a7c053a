//! The counts of a batch, its results on stdout, the progress bar, and the
//! summary with the exit status.

use super::worker::RowEnd;
use crate::cli::error::{EXIT_OK, EXIT_OUTPUT, EXIT_REFUSED, EXIT_UNREACHABLE};
use crate::cli::output;
use std::io;
use std::time::{Duration, Instant};

/// Where results go: stdout, the counts, the progress bar.
pub(super) struct Tally {
    pub(super) total: u64,
    pub(super) created: u64,
    pub(super) existing: u64,
    pub(super) failed: u64,
    /// Rows in a row (as they finished) that could not reach the server.
    pub(super) unreachable_streak: usize,
    pub(super) unreachable_limit: usize,
    pub(super) gave_up: bool,
    pub(super) output_error: Option<io::Error>,
    pub(super) progress: bool,
    pub(super) started: Instant,
    /// Rows allowed in flight now.
    pub(super) slots: usize,
}

impl Tally {
    pub(super) fn new(total: u64, unreachable_limit: usize, progress: bool) -> Tally {
        Tally {
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
    pub(super) fn set_concurrency(&mut self, slots: usize, peak: usize) {
        self.slots = slots;
        self.unreachable_limit = self.unreachable_limit.max(peak);
    }

    pub(super) fn done(&self) -> u64 {
        self.created + self.existing + self.failed
    }

    /// Counts one row; `true` when the server is taken to be down.
    pub(super) fn count(&mut self, ending: RowEnd) -> bool {
        match ending {
            RowEnd::Created => self.created += 1,
            RowEnd::Existing => self.existing += 1,
            RowEnd::Failed { .. } => self.failed += 1,
        }
        if ending == (RowEnd::Failed { unreachable: true }) {
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
    pub(super) fn record(&mut self, ending: RowEnd, result: &str) -> bool {
        self.count(ending);
        if self.output_error.is_none() {
            // Flushed line by line: an interrupted run loses nothing already done.
            if let Err(error) = output::stdout_line(result) {
                self.output_error = Some(error);
            }
        }
        if self.output_error.is_some() {
            output::result_on_stderr(result);
        }
        self.draw_progress();
        self.gave_up || self.output_error.is_some()
    }

    pub(super) fn draw_progress(&self) {
        if self.progress {
            let elapsed = self.started.elapsed();
            output::draw_progress(|width| progress_line(self, elapsed, width));
        }
    }

    /// Users registered or found per second.
    pub(super) fn rate(&self, elapsed: Duration) -> f64 {
        (self.created + self.existing) as f64 / elapsed.as_secs_f64().max(1e-3)
    }

    /// The summary line, ending with `jobs` (how many were in flight);
    /// returns the exit status.
    pub(super) fn finish(&self, started: Instant, jobs: &str) -> i32 {
        if self.progress {
            output::end_progress();
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
            output::report_problem(
                &format_args!(
                    "cannot write the results to stdout ({}); the results of the rows in flight are above, on stderr, and no more rows were started",
                    crate::files::io_reason(error)
                ),
                (not_started > 0).then_some(
                    "run the same file again with --exists-ok, its output going where it can be written, to complete it",
                ),
            );
            return EXIT_OUTPUT;
        }
        if let Some(signal) = crate::cli::signals::interrupted() {
            if not_started > 0 {
                say!(
                    "interrupted: {not_started} rows were not started; run the same file again with --exists-ok to complete it"
                );
            }
            return crate::cli::error::exit_code_for_signal(signal);
        }
        if self.gave_up {
            output::report_problem(
                &format_args!(
                    "{} rows in a row could not reach the server; no more rows were started",
                    self.unreachable_streak
                ),
                Some(
                    "once the server answers, run the same file again with --exists-ok to complete it",
                ),
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

/// The bar's width at most, and the least worth drawing.
pub(super) const BAR_WIDTH: usize = 24;
const BAR_WIDTH_MIN: usize = 10;

/// The progress line for a terminal `width` columns wide: the bar and the
/// most detail that fit beside it. When room is short the counts that are
/// zero go first, then those already there, then the bar, then the created
/// and failed ones; the rows done and the pace stay. A line that cannot fit
/// even so is cut by the drawing.
pub(super) fn progress_line(tally: &Tally, elapsed: Duration, width: usize) -> String {
    let done = tally.done();
    let mut pace = format!("jobs {}, {:.1} users/s", tally.slots, tally.rate(elapsed));
    if let Some(eta) = eta(tally.total.saturating_sub(done), done, elapsed) {
        pace.push_str(&format!(", ETA {}", duration_text(eta)));
    }
    let created = format!("created {}", tally.created);
    let existing = format!("already there {}", tally.existing);
    let failed = format!("failed {}", tally.failed);
    let nonzero = |count: u64, text: &str| (count > 0).then(|| text.to_owned());
    let counts = [
        vec![created.clone(), existing.clone(), failed.clone()],
        [
            Some(created.clone()),
            nonzero(tally.existing, &existing),
            nonzero(tally.failed, &failed),
        ]
        .into_iter()
        .flatten()
        .collect(),
        [Some(created), nonzero(tally.failed, &failed)]
            .into_iter()
            .flatten()
            .collect(),
        Vec::new(),
    ];
    let [full, nonzero, fewest, none] = counts.map(|counts| match counts.is_empty() {
        true => format!("{done}/{}  {pace}", tally.total),
        false => format!("{done}/{}  {}  {pace}", tally.total, counts.join(", ")),
    });
    // The failures stay longer than the bar does.
    let candidates = [
        (full, true),
        (nonzero, true),
        (fewest.clone(), true),
        (fewest, false),
        (none.clone(), true),
    ];
    for (text, with_bar) in candidates {
        // "[", "] " and the text are ASCII: one column a byte.
        let room = width.saturating_sub(text.len() + 3);
        if with_bar && room >= BAR_WIDTH_MIN {
            return format!("[{}] {text}", bar(done, tally.total, room.min(BAR_WIDTH)));
        }
        if !with_bar && text.len() <= width {
            return text;
        }
    }
    none
}

/// `width` columns, filled in proportion to the rows done.
fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = (done.min(total) as usize * width)
        .checked_div(total as usize)
        .unwrap_or(width);
    format!("{}{}", "#".repeat(filled), "-".repeat(width - filled))
}

/// The time the rows left should take at the pace of the rows finished so
/// far (failed ones too: they take their turn like the others); none until
/// a row has finished.
pub(super) fn eta(remaining: u64, done: u64, elapsed: Duration) -> Option<Duration> {
    if done == 0 || elapsed.is_zero() {
        return None;
    }
    Some(elapsed.mul_f64(remaining as f64 / done as f64))
}

/// A duration as `7s`, `1m05s` or `2h03m09s`, rounded up to the second: the
/// last rows never show `0s` while they are still running.
pub(super) fn duration_text(duration: Duration) -> String {
    let seconds = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}h{minutes:02}m{seconds:02}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds:02}s")
    } else {
        format!("{seconds}s")
    }
}
