//! The prompts, through a pseudo-terminal: the binary runs as a session
//! leader with the pty as its controlling terminal, as in a shell, and the
//! test types the answers.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::stub::{Stub, Synapse};

const SECRET: &str = "prompt-test-secret";
const LOGIN: &str = "promptuser";
/// How long to wait for a prompt or for the end.
const PATIENCE: Duration = Duration::from_secs(10);

fn echoes(terminal: &File) -> bool {
    // SAFETY: termios is plain data that tcgetattr fills in.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a valid terminal descriptor and a valid pointer.
    let got = unsafe { libc::tcgetattr(terminal.as_raw_fd(), &mut settings) };
    assert_eq!(got, 0, "tcgetattr");
    settings.c_lflag & libc::ECHO != 0
}

/// The binary on a fresh pseudo-terminal.
struct OnPty {
    child: Child,
    master: File,
    /// Kept open so that the terminal's settings outlive the child.
    slave: File,
    /// Everything the terminal displayed so far.
    screen: String,
}

impl OnPty {
    fn start(args: &[&str]) -> OnPty {
        let (master, slave) = crate::open_pty(None);
        // What Ctrl-C must restore.
        assert!(echoes(&slave), "a fresh terminal echoes");
        let stdio = || Stdio::from(OwnedFd::from(slave.try_clone().expect("dup pty")));
        let mut command = Command::new(crate::BIN);
        command
            .args(args)
            .env_clear()
            .env("LOGNAME", LOGIN)
            .env("USER", LOGIN)
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // A new session whose controlling terminal is the pty, so
                // that /dev/tty is the pty and Ctrl-C reaches the process.
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("start the binary on a pty");
        OnPty {
            child,
            master,
            slave,
            screen: String::new(),
        }
    }

    /// Reads what the terminal shows until `text` appears.
    fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.screen.contains(text) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {text:?} on the screen: {:?}",
                self.screen
            );
            let mut poll = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, left.as_millis() as libc::c_int) };
            if ready <= 0 {
                continue;
            }
            let mut chunk = [0u8; 4096];
            match self.master.read(&mut chunk) {
                Ok(n) if n > 0 => self.screen.push_str(&String::from_utf8_lossy(&chunk[..n])),
                _ => panic!("the terminal closed before {text:?}: {:?}", self.screen),
            }
        }
    }

    /// Waits for `question`, then types the answer and Enter.
    fn answer(&mut self, question: &str, answer: &str) {
        self.expect(question);
        // Consumed: a repeated question must appear anew.
        self.screen.clear();
        self.master
            .write_all(format!("{answer}\r").as_bytes())
            .expect("type on the pty");
    }

    fn echo_is_on(&self) -> bool {
        echoes(&self.slave)
    }

    /// The exit status, once the process ends.
    fn status(&mut self) -> Option<i32> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the binary did not end: {:?}", self.screen);
            }
            // Drain the output so that the process never blocks on writing.
            let mut poll = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut poll, 1, 20) } > 0 {
                let mut chunk = [0u8; 4096];
                if let Ok(n) = self.master.read(&mut chunk) {
                    self.screen.push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            }
        }
    }
}

#[test]
fn ctrl_c_at_the_password_prompt_restores_echo() {
    let (stub, _) = Stub::synapse(SECRET);
    let url = stub.url();
    let mut pty = OnPty::start(&["-k", SECRET, "-u", "alice", "--no-admin", &url]);
    pty.expect("Password: ");
    let deadline = Instant::now() + PATIENCE;
    while pty.echo_is_on() {
        assert!(
            Instant::now() < deadline,
            "echo never went off at the prompt"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    pty.master.write_all(b"\x03").expect("type Ctrl-C");
    assert_eq!(
        pty.status(),
        Some(130),
        "exit status after Ctrl-C: {:?}",
        pty.screen
    );
    assert!(pty.echo_is_on(), "echo is back on after Ctrl-C");
    assert!(stub.posts().is_empty());
}

/// Runs the whole dialogue: localpart (default taken), password twice, admin.
fn dialogue(admin_answer: &str) -> (Option<i32>, Vec<support::stub::Account>) {
    let (stub, synapse) = Stub::synapse(SECRET);
    let url = stub.url();
    let mut pty = OnPty::start(&["-k", SECRET, &url]);
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
        let mut pty = OnPty::start(&["-k", SECRET, "-u", "alice", "--no-admin", &url]);
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
        let (stub, _) = Stub::synapse(SECRET);
        let url = stub.url();
        let mut pty = OnPty::start(&["-k", SECRET, "-u", "alice", "--no-admin", &url]);
        pty.expect("Password: ");
        let deadline = Instant::now() + PATIENCE;
        while pty.echo_is_on() {
            assert!(
                Instant::now() < deadline,
                "echo never went off at the prompt"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: sending a signal to our own child process.
        let sent = unsafe { libc::kill(pty.child.id() as libc::pid_t, signal) };
        assert_eq!(sent, 0, "kill");
        assert_eq!(
            pty.status(),
            Some(code),
            "exit status after signal {signal}: {:?}",
            pty.screen
        );
        assert!(pty.echo_is_on(), "echo is back on after signal {signal}");
        assert!(stub.posts().is_empty());
    }
}
