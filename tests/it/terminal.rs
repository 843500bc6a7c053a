//! `--batch` on a pseudo-terminal, its output fed to a terminal emulator:
//! the screen the user is left with holds every line the run wrote, each on
//! rows of its own, and no trace of the progress bar, whether the run ends
//! or Ctrl-C is typed (once or twice) while the bar is shown.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use support::stub::Stub;

const SECRET: &str = "terminal-test-secret";
const ROWS: usize = 40;

/// Runs the binary with stdout and stderr on a fresh pseudo-terminal of
/// `cols` columns and 24 rows; returns its exit status and all it wrote.
fn on_terminal(cols: u16, args: &[&str]) -> (Option<i32>, Vec<u8>) {
    let size = libc::winsize {
        ws_row: 24,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let (mut master, slave) = crate::open_pty(Some(&size));
    let slave = OwnedFd::from(slave);
    let stdio = || Stdio::from(slave.try_clone().expect("dup pty"));
    let mut child = Command::new(crate::BIN)
        .args(args)
        .env_clear()
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(stdio())
        .stderr(stdio())
        .spawn()
        .expect("start the binary on a pty");
    // Closed here, so that reading ends when the binary has exited.
    drop(slave);
    let mut written = Vec::new();
    // Linux says EIO once no one holds the terminal open any more.
    let _ = master.read_to_end(&mut written);
    let status = child.wait().expect("wait for the binary");
    (status.code(), written)
}

/// The screen a terminal `cols` wide is left with after `written`. As
/// many rows as all the output takes, so that nothing scrolls off: a
/// terminal 24 rows high shows the same lines, with the first ones in its
/// scrollback. Only the width is what the binary lays out for.
fn screen(written: &[u8], cols: u16) -> vt100::Screen {
    let rows = std::num::NonZeroU16::new(4000).unwrap();
    let mut terminal = vt100::Parser::new(rows, std::num::NonZeroU16::new(cols).unwrap(), 0);
    terminal.process(written);
    terminal.screen().clone()
}

/// The lines of the screen, a line wrapped over several rows taken whole,
/// and with the blank rows at the end left out.
fn contents(screen: &vt100::Screen) -> Vec<String> {
    let contents = screen.contents();
    let mut lines: Vec<String> = contents.lines().map(|l| l.trim_end().to_owned()).collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

#[test]
fn the_progress_bar_keeps_out_of_the_lines_at_80_columns() {
    batch_on_terminal(80);
}

/// Narrower than the bar's longest line, and than the lines around it,
/// which wrap: the bar gives way rather than wrap, and clearing it leaves
/// the wrapped lines whole.
#[test]
fn the_progress_bar_keeps_out_of_the_lines_at_50_columns() {
    batch_on_terminal(50);
}

/// A batch with `-v` on a terminal `cols` wide, and the screen it leaves.
fn batch_on_terminal(cols: u16) {
    let (server, synapse) = Stub::synapse(SECRET);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    let csv: String = (0..ROWS).map(|n| format!("user{n},pw-{n}\n")).collect();
    std::fs::write(&file, format!("localpart,password\n{csv}")).unwrap();
    let url = server.url();
    let (code, written) = on_terminal(
        cols,
        &[
            "-v",
            "-k",
            SECRET,
            "--batch",
            file.to_str().unwrap(),
            "--jobs",
            "4",
            &url,
        ],
    );
    let raw = String::from_utf8_lossy(&written);
    assert_eq!(code, Some(0), "{raw}");
    assert_eq!(synapse.created().len(), ROWS);
    // The bar was drawn: before the first row it shows none done. A bar
    // wider than the terminal would wrap, and its first row be left behind.
    let first_bar = format!("0/{ROWS}  created 0");
    let drawn: Vec<&str> = raw
        .split(['\r', '\n'])
        .filter(|line| line.contains(&first_bar))
        .collect();
    assert!(!drawn.is_empty(), "no progress bar drawn: {raw:?}");
    for line in drawn {
        assert!(
            line.trim_start_matches("\x1b[2K").len() <= usize::from(cols),
            "a bar wider than the terminal: {line:?}"
        );
    }

    let lines = contents(&screen(&written, cols));
    let (summary, rest) = lines.split_last().expect("a screen with lines");
    assert!(
        summary.starts_with(&format!("created {ROWS}, already there 0, failed 0, "))
            && summary.ends_with(" users/s, jobs 4"),
        "the summary comes last, as off a terminal: {summary:?}\n{}",
        lines.join("\n")
    );
    let (mut results, mut requests, mut answers) = (0, 0, 0);
    for line in rest {
        if line.starts_with('{') {
            let result: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{e}: a result line with more on it: {line:?}"));
            assert_eq!(result["created"], true, "{line}");
            results += 1;
        } else if line.starts_with("> GET ") || line.starts_with("> POST ") {
            assert!(
                line.ends_with("/_synapse/admin/v1/register"),
                "a -v line with more on it: {line:?}"
            );
            requests += 1;
        } else if line == "< 200 OK" {
            answers += 1;
        } else {
            panic!(
                "a row that is neither a result, a -v line nor the summary: {line:?}\n{}",
                lines.join("\n")
            );
        }
    }
    // Each row: a result, a nonce fetched and a registration sent, each
    // answered.
    assert_eq!(
        (results, requests, answers),
        (ROWS, 2 * ROWS, 2 * ROWS),
        "{}",
        lines.join("\n")
    );
}

/// Ctrl-C typed once while the bar is shown and two rows await the server:
/// the two finish and are reported with their generated passwords, no
/// other row starts, and the screen holds the results, the notice and the
/// summary, with neither the bar nor the "^C" the terminal echoed.
#[test]
fn ctrl_c_with_the_bar_shown_leaves_a_clean_screen_and_every_password() {
    for cols in [80, 50] {
        ctrl_c_on_terminal(cols, false);
    }
}

/// Typed twice: the run stops at once, and the two rows whose accounts may
/// exist are reported with `created: null` and the password that was sent.
#[test]
fn ctrl_c_twice_with_the_bar_shown_reports_the_rows_in_flight() {
    for cols in [80, 50] {
        ctrl_c_on_terminal(cols, true);
    }
}

/// A batch of four rows with generated passwords, two at a time, on a
/// terminal `cols` wide; Ctrl-C once the bar is drawn and both rows'
/// registrations are held by the server (and again if `twice`).
fn ctrl_c_on_terminal(cols: u16, twice: bool) {
    use crate::batch::Gate;
    use serde_json::Value;

    let (_, gate, server) = Gate::synapse(SECRET);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(&file, "user\nkim\nlee\nmay\nned\n").unwrap();
    let mut command = Command::new(crate::BIN);
    command
        .args(["-k", SECRET, "--batch", file.to_str().unwrap()])
        .args(["--jobs", "2", &server.url()])
        .env_clear()
        .env("TERM", "xterm");
    let size = libc::winsize {
        ws_row: 24,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let mut pty = crate::OnPty::start(command, Some(&size));
    pty.read_until("bar drawn with both rows held by the server", |pty| {
        pty.shown().contains("0/4  created 0") && server.posts().len() == 2
    });
    pty.ctrl_c();
    pty.expect("interrupted: finishing the registrations in flight");
    if twice {
        pty.ctrl_c();
    } else {
        gate.open();
    }
    let code = pty.status();
    gate.open();
    let raw = pty.shown();
    assert_eq!(code, Some(130), "{raw:?}");
    // Echoed where the cursor was: what the screen must not keep.
    assert!(raw.contains("^C"), "the terminal echoed no ^C: {raw:?}");
    assert!(pty.settings_as_before(), "the terminal's settings changed");
    assert_eq!(server.posts().len(), 2, "no row started after Ctrl-C");

    let screen = screen(&pty.written, cols);
    let lines = contents(&screen);
    let shown = lines.join("\n");
    let [rest @ .., summary, hint] = &lines[..] else {
        panic!("too few lines: {shown}");
    };
    assert!(
        hint.starts_with("interrupted: 2 rows were not started; "),
        "the hint comes last: {hint:?}\n{shown}"
    );
    let (created, failed) = if twice { (0, 2) } else { (2, 0) };
    assert!(
        summary.starts_with(&format!(
            "created {created}, already there 0, failed {failed}, not started 2, "
        )),
        "the summary comes before the hint: {summary:?}\n{shown}"
    );
    let (mut rows, mut notices) = (Vec::new(), 0);
    for line in rest {
        if line.starts_with('{') {
            let row: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{e}: a result line with more on it: {line:?}"));
            rows.push(row);
        } else {
            assert!(
                line.starts_with("interrupted: finishing the registrations in flight"),
                "a row that is neither a result, the notice nor the summary: {line:?}\n{shown}"
            );
            notices += 1;
        }
    }
    assert_eq!((rows.len(), notices), (2, 1), "{shown}");
    for post in server.posts() {
        let sent = post.json();
        let row = rows
            .iter()
            .find(|row| row["localpart"] == sent["username"])
            .unwrap_or_else(|| panic!("no row for {sent}:\n{shown}"));
        assert_eq!(
            row["password"], sent["password"],
            "the password sent: {shown}"
        );
        let expected = if twice {
            Value::Null
        } else {
            Value::Bool(true)
        };
        assert_eq!(row["created"], expected, "{shown}");
    }
    // What the shell prints next starts a row of its own, at a cursor the
    // binary left visible.
    let last = screen
        .rows(0, cols)
        .enumerate()
        .filter(|(_, row)| !row.trim().is_empty())
        .map(|(at, _)| at)
        .last()
        .unwrap();
    assert_eq!(
        screen.cursor_position(),
        (last as u16 + 1, 0),
        "the cursor after the summary: {raw:?}"
    );
    assert!(!screen.hide_cursor(), "the cursor is left hidden: {raw:?}");
}
