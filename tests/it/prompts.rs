//! The prompts, through a pseudo-terminal: the binary runs as a session
//! leader with the pty as its controlling terminal, as in a shell, and the
//! test types the answers.

use crate::OnPty;
use std::time::{Duration, Instant};
use support::stub::{Stub, Synapse};

const SECRET: &str = "prompt-test-secret";
const LOGIN: &str = "promptuser";
/// How long to wait for a prompt or for the end.
const PATIENCE: Duration = Duration::from_secs(10);

/// The binary on a fresh pseudo-terminal, run by user `LOGIN`.
fn start(args: &[&str]) -> OnPty {
    let mut command = std::process::Command::new(crate::BIN);
    command
        .args(args)
        .env_clear()
        .env("LOGNAME", LOGIN)
        .env("USER", LOGIN);
    OnPty::start(command, None)
}

/// Waits until the prompt has turned echo off (it does so before the
/// question shows, but the test reads the screen and the settings apart).
fn wait_for_echo_off(pty: &OnPty) {
    let deadline = Instant::now() + PATIENCE;
    while pty.echo_is_on() {
        assert!(
            Instant::now() < deadline,
            "echo never went off at the prompt"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A run for `alice` (no admin) against a fake Synapse, waiting at
/// `Password: ` with echo off.
fn at_the_password_prompt() -> (Stub, OnPty) {
    let (stub, _) = Stub::synapse(SECRET);
    let url = stub.url();
    let mut pty = start(&["-k", SECRET, "-u", "alice", "--no-admin", &url]);
    pty.expect("Password: ");
    wait_for_echo_off(&pty);
    (stub, pty)
}

#[test]
fn ctrl_c_at_the_password_prompt_restores_echo() {
    let (stub, mut pty) = at_the_password_prompt();
    pty.ctrl_c();
    assert_eq!(
        pty.status(),
        Some(130),
        "exit status after Ctrl-C: {:?}",
        pty.shown()
    );
    assert!(pty.echo_is_on(), "echo is back on after Ctrl-C");
    assert!(stub.posts().is_empty());
}

/// Runs the whole dialogue: localpart (default taken), password twice, admin.
fn dialogue(admin_answer: &str) -> (Option<i32>, Vec<support::stub::Account>) {
    let (stub, synapse) = Stub::synapse(SECRET);
    let url = stub.url();
    let mut pty = start(&["-k", SECRET, &url]);
    pty.answer(&format!("New user localpart [{LOGIN}]: "), "");
    pty.answer("Password: ", "sesame");
    pty.answer("Confirm password: ", "sesame");
    pty.answer("Make admin [no]: ", admin_answer);
    let code = pty.status();
    (code, synapse.created())
}

#[test]
fn the_prompts_take_the_login_name_a_password_and_the_admin_answer() {
    for (answer, admin) in [
        ("y", true),
        ("yes", true),
        ("true", true),
        ("YES", true),
        ("", false),
        ("no", false),
        ("n", false),
    ] {
        let (code, created) = dialogue(answer);
        assert_eq!(code, Some(0), "answer {answer:?}");
        assert_eq!(created.len(), 1, "answer {answer:?}");
        assert_eq!(created[0].username, LOGIN);
        assert_eq!(created[0].password, "sesame");
        assert_eq!(created[0].admin, admin, "answer {answer:?}");
    }
}

#[test]
fn mismatched_or_blank_passwords_are_refused_before_sending() {
    for (first, second, message) in [
        ("sesame", "sesam", "Passwords do not match"),
        ("", "", "Password cannot be blank."),
    ] {
        let synapse = Synapse::new(SECRET);
        let server = std::sync::Arc::clone(&synapse);
        let stub = Stub::start(move |r| server.reply(r));
        let url = stub.url();
        let mut pty = start(&["-k", SECRET, "-u", "alice", "--no-admin", &url]);
        pty.answer("Password: ", first);
        if !first.is_empty() {
            pty.answer("Confirm password: ", second);
        }
        pty.expect(message);
        assert_eq!(pty.status(), Some(3), "{message}");
        assert_eq!(stub.connections(), 0, "{message}");
    }
}

#[test]
fn sigterm_or_sighup_at_the_password_prompt_restores_echo() {
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129)] {
        let (stub, mut pty) = at_the_password_prompt();
        // SAFETY: sending a signal to our own child process.
        let sent = unsafe { libc::kill(pty.child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "kill");
        assert_eq!(
            pty.status(),
            Some(code),
            "exit status after signal {signal}: {:?}",
            pty.shown()
        );
        assert!(pty.echo_is_on(), "echo is back on after signal {signal}");
        assert!(stub.posts().is_empty());
    }
}

/// Ctrl-D on an empty password line: the run stops naming the options that
/// give a password otherwise, with echo back on.
#[test]
fn end_of_input_at_the_password_prompt_names_the_options_and_restores_echo() {
    use std::io::Write;
    let (stub, mut pty) = at_the_password_prompt();
    pty.master.write_all(b"\x04").expect("type Ctrl-D");
    assert_eq!(pty.status(), Some(2), "{:?}", pty.shown());
    assert!(
        pty.shown().contains(
            "error: cannot read the password from the terminal (end of input): pass --password-file FILE, --password-stdin or --generate-password"
        ),
        "{:?}",
        pty.shown()
    );
    assert!(pty.echo_is_on(), "echo is back on");
    assert!(stub.posts().is_empty());
}

/// What was typed before the password prompt showed was echoed in clear:
/// it is thrown away, as Python's `getpass` does, not taken as the start
/// of the password.
#[test]
fn what_was_typed_before_the_password_prompt_is_not_taken() {
    use std::io::Write;
    let (stub, synapse) = Stub::synapse(SECRET);
    let url = stub.url();
    // The shell reads one line, then starts the binary with the rest of
    // what was typed still waiting: typing ahead while a command starts.
    let mut command = std::process::Command::new("/bin/sh");
    command
        .args(["-c", "read -r _; exec \"$0\" \"$@\"", crate::BIN])
        .args(["-k", SECRET, "-u", "alice", "--no-admin", &url])
        .env_clear()
        .env("LOGNAME", LOGIN);
    let mut pty = OnPty::start(command, None);
    pty.master
        .write_all(b"go\rtyped-ahead")
        .expect("type ahead");
    pty.answer("Password: ", "sesame");
    pty.answer("Confirm password: ", "sesame");
    assert_eq!(pty.status(), Some(0), "{:?}", pty.shown());
    let created = synapse.created();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].password, "sesame");
}

/// The terminal hanging up at the prompt (its window closed): reads fail as
/// the kernel sends SIGHUP, and the run ends as the reference, killed by
/// the signal, does: 129, every time, not a usage error when the failed
/// read is seen first.
#[test]
fn a_terminal_that_hangs_up_at_the_password_prompt_ends_the_run_with_129() {
    for _ in 0..8 {
        let (stub, mut pty) = at_the_password_prompt();
        let null = std::fs::File::open("/dev/null").expect("/dev/null");
        drop(std::mem::replace(&mut pty.master, null));
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = pty.child.try_wait().expect("wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "the binary did not end");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(status.code(), Some(129));
        assert!(stub.posts().is_empty());
    }
}
