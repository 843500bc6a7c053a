//! The one writer of stdout and of stderr: whole lines in one write each,
//! around the progress bar; a failure to write stderr is ignored.

use super::progress::around_progress;
use std::fmt;
use std::io::{self, Write};

/// Writes a line on stdout and flushes it, so that a reader of a pipe sees
/// each line as it happens. The line goes out in one write, so that a
/// failure leaves nothing half-buffered to come out later.
pub fn stdout_line(line: &str) -> io::Result<()> {
    // stdout may be the terminal the bar is drawn on.
    around_progress(|| {
        let mut out = io::stdout().lock();
        out.write_all(format!("{line}\n").as_bytes())?;
        out.flush()
    })
}

/// What `say!` writes: a line on stderr, in one write so that lines from
/// several threads do not interleave; a failure is ignored (see `say!`).
pub fn stderr_line(args: fmt::Arguments<'_>) {
    stderr_text(&format!("{args}\n"));
}

/// Text on stderr as it is, with the progress bar cleared while it is
/// written; a failure is ignored, as in [`stderr_line`].
pub fn stderr_text(text: &str) {
    around_progress(|| write_stderr(text));
}

#[cfg(not(test))]
fn write_stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// In unit tests, through `eprint!`, which the test harness captures: the
/// batch summaries and `error:` lines that tests provoke appear only with a
/// failing test, not among passing ones.
#[cfg(test)]
#[expect(
    clippy::print_stderr,
    reason = "the one writer of stderr, in unit tests"
)]
fn write_stderr(text: &str) {
    eprint!("{text}");
}
