//! The progress bar of a batch on a terminal: shown, drawn and cleared
//! here, and cleared around every other line written.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use std::cell::Cell;
use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The batch's progress bar while it is shown: one line at the bottom of
/// the terminal, which indicatif clears (its wrapped rows too) before any
/// other line is written and draws again after it, on the writer's thread.
static PROGRESS: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn progress() -> MutexGuard<'static, Option<ProgressBar>> {
    PROGRESS.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// Set while this thread holds the bar's own lock (drawing, or writing
    /// around it); it stays set if the thread panics there.
    static AT_THE_BAR: Cell<bool> = const { Cell::new(false) };
}

/// Runs `at_the_bar`, marking this thread as holding the bar's lock.
fn at_the_bar<T>(at_the_bar: impl FnOnce() -> T) -> T {
    AT_THE_BAR.set(true);
    let result = at_the_bar();
    AT_THE_BAR.set(false);
    result
}

/// Runs `write` with the progress bar, if one is shown, cleared: every
/// line on stdout and stderr is written through here, the panic message
/// too. A thread that panicked while holding the bar's lock writes what its
/// panic hook says as it is, rather than wait for the lock forever.
pub fn around_progress<T>(write: impl FnOnce() -> T) -> T {
    // A handle of its own, so that the lock is not held while writing.
    let bar = progress().clone();
    match bar {
        Some(bar) if !AT_THE_BAR.get() => at_the_bar(|| bar.suspend(write)),
        _ => write(),
    }
}

/// Shows a progress bar on stderr if it is a terminal (not a `dumb` one);
/// `false` when there is none to draw.
pub fn start_progress() -> bool {
    if ProgressDrawTarget::stderr().is_hidden() {
        return false;
    }
    let target = ProgressDrawTarget::term_like_with_hz(Box::<BarTerminal>::default(), 20);
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(progress_style());
    *progress() = Some(bar);
    true
}

/// Draws the progress line that `line` makes for the terminal's width (in
/// columns). indicatif draws at most 20 times a second: a line that comes
/// sooner after the last one drawn waits for the next.
pub fn draw_progress(line: impl FnOnce(usize) -> String) {
    // A handle of its own, so that the lock is not held while drawing.
    let bar = progress().clone();
    if let Some(bar) = bar {
        let line = line(bar_width());
        at_the_bar(|| bar.set_message(line));
    }
}

/// Whether a progress bar is shown now.
pub fn progress_shown() -> bool {
    progress().is_some()
}

/// Clears the progress bar for good: what follows is the summary.
pub fn end_progress() {
    let bar = progress().take();
    if let Some(bar) = bar {
        at_the_bar(|| bar.finish_and_clear());
    }
}

/// The whole line is the message: the batch lays it out for the width, and
/// indicatif cuts it to the width should it still be wider (`wide_msg`).
fn progress_style() -> ProgressStyle {
    ProgressStyle::with_template(PROGRESS_TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// Parsed in a test: the fallback above is never taken.
const PROGRESS_TEMPLATE: &str = "{wide_msg}";

/// The width of the terminal on stderr, or the usual 80 columns when it
/// says none.
fn terminal_width() -> usize {
    match rustix::termios::tcgetwinsize(io::stderr()) {
        Ok(size) if size.ws_col > 0 => usize::from(size.ws_col),
        _ => 80,
    }
}

/// The columns the bar's row takes: all but the last two. indicatif fills
/// the row to the width it is given and leaves the cursor at its end, where
/// the "^C" the terminal echoes for Ctrl-C would wrap onto a row of its
/// own, and clearing the bar would leave its row behind. Two columns short,
/// the echo lands on the bar's row and is cleared with it.
fn bar_width() -> usize {
    terminal_width().saturating_sub(2).max(1)
}

/// stderr as indicatif draws the bar on it, [`bar_width`] wide.
#[derive(Debug, Default)]
struct BarTerminal {
    /// What a draw writes, sent at its end in one write (as indicatif's own
    /// stderr target does), so that no other line lands inside it.
    pending: Mutex<String>,
}

impl BarTerminal {
    fn cursor(&self, n: usize, direction: char) -> io::Result<()> {
        match n {
            0 => Ok(()),
            n => self.write_str(&format!("\x1b[{n}{direction}")),
        }
    }
}

impl TermLike for BarTerminal {
    fn width(&self) -> u16 {
        u16::try_from(bar_width()).unwrap_or(u16::MAX)
    }

    fn height(&self) -> u16 {
        match rustix::termios::tcgetwinsize(io::stderr()) {
            Ok(size) if size.ws_row > 0 => size.ws_row,
            _ => 24,
        }
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.cursor(n, 'D')
    }

    fn write_line(&self, line: &str) -> io::Result<()> {
        self.write_str(&format!("{line}\n"))
    }

    fn write_str(&self, text: &str) -> io::Result<()> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_str(text);
        Ok(())
    }

    fn clear_line(&self) -> io::Result<()> {
        self.write_str("\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        let text =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        let mut err = io::stderr().lock();
        err.write_all(text.as_bytes())?;
        err.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line written while this thread holds the bar's lock (a panic hook
    /// after a panic there) is written as it is: waiting for the lock would
    /// never end.
    #[test]
    fn a_write_from_inside_the_bar_does_not_wait_for_it() {
        *progress() = Some(ProgressBar::hidden());
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let inner = around_progress(|| around_progress(|| 7));
            let _ = done.send(inner);
        });
        let inner = finished.recv_timeout(std::time::Duration::from_secs(10));
        *progress() = None;
        assert_eq!(inner, Ok(7), "the nested write waited for the bar");
    }

    /// The one template the bar is drawn with parses.
    #[test]
    fn progress_template_parses() {
        assert!(ProgressStyle::with_template(PROGRESS_TEMPLATE).is_ok());
    }
}
