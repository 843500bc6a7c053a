//! The integration tests that need no real Synapse (those that do are
//! `#[ignore]`d; `scripts/test` runs them against the servers it starts):
//! the command line against the stub server, batch mode, the prompts through
//! a pseudo-terminal, the progress bar on one, `--help`, the man page, the package, the parsers'
//! properties and the recipes in contrib/. The fault and bad-input tables
//! are `tests/matrix`; the real-Synapse suites, `tests/synapse`.

mod batch;
mod cli;
mod help;
mod layout;
mod library;
mod man;
mod mas;
mod package;
mod prompts;
mod properties;
mod pyyaml;
mod recipes;
mod release;
mod terminal;

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use support::tool::Tool;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_register_new_matrix_user");

/// A run of the binary under test (see [`Tool`]).
fn tool() -> Tool {
    Tool::new(BIN)
}

/// A fresh pseudo-terminal, `(master, slave)`, of the given window size
/// (the system's default without one).
fn open_pty(size: Option<&libc::winsize>) -> (std::fs::File, std::fs::File) {
    use std::os::fd::{AsRawFd, FromRawFd};
    // Both ends close-on-exec from the start (openpty's are not): a binary
    // that another test starts meanwhile must not hold this terminal's
    // master, or closing it here would not hang the terminal up.
    // SAFETY: posix_openpt returns a new descriptor or -1.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    assert!(
        master >= 0,
        "posix_openpt: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: just opened, and owned here alone.
    let master = unsafe { std::fs::File::from_raw_fd(master) };
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: a valid master descriptor; ptsname_r writes at most the
    // length given, NUL included.
    let named = unsafe {
        libc::grantpt(master.as_raw_fd()) == 0
            && libc::unlockpt(master.as_raw_fd()) == 0
            && libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()) == 0
    };
    assert!(named, "pty slave: {}", std::io::Error::last_os_error());
    // SAFETY: ptsname_r wrote a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
    let slave = std::fs::File::options()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY)
        .open(std::ffi::OsStr::from_bytes(name.to_bytes()))
        .expect("open the pty slave");
    if let Some(size) = size {
        // SAFETY: a valid terminal descriptor and a valid winsize.
        let set = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, size) };
        assert_eq!(set, 0, "TIOCSWINSZ: {}", std::io::Error::last_os_error());
    }
    (master, slave)
}

/// The terminal's settings, as `tcgetattr` reads them.
fn terminal_settings(terminal: &std::fs::File) -> libc::termios {
    use std::os::fd::AsRawFd;
    // SAFETY: termios is plain data that tcgetattr fills in.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: a valid terminal descriptor and a valid pointer.
    let got = unsafe { libc::tcgetattr(terminal.as_raw_fd(), &mut settings) };
    assert_eq!(got, 0, "tcgetattr: {}", std::io::Error::last_os_error());
    settings
}

/// How long to wait for the binary on a pseudo-terminal to show something
/// or to end.
const PTY_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// The binary on a fresh pseudo-terminal, as in a shell: a session leader
/// with the pty as its controlling terminal (so /dev/tty is the pty and a
/// Ctrl-C typed reaches it) on stdin, stdout and stderr.
struct OnPty {
    child: std::process::Child,
    master: std::fs::File,
    /// Kept open, until the binary ends, to read the terminal's settings.
    slave: Option<std::fs::File>,
    /// The terminal's settings as last read from `slave`, before it was
    /// closed.
    last_read: libc::termios,
    /// The terminal's settings before the binary started.
    before: libc::termios,
    /// All the terminal was sent so far.
    written: Vec<u8>,
    /// How much of `written` [`OnPty::answer`] has consumed.
    consumed: usize,
}

impl OnPty {
    /// Starts `command` on a pty of the given window size (the system's
    /// default without one).
    fn start(mut command: std::process::Command, size: Option<&libc::winsize>) -> OnPty {
        use std::os::fd::OwnedFd;
        use std::os::unix::process::CommandExt;
        use std::process::Stdio;
        let (master, slave) = open_pty(size);
        // What Ctrl-C at a prompt must restore.
        let before = terminal_settings(&slave);
        assert!(before.c_lflag & libc::ECHO != 0, "a fresh terminal echoes");
        let stdio = || Stdio::from(OwnedFd::from(slave.try_clone().expect("dup pty")));
        command.stdin(stdio()).stdout(stdio()).stderr(stdio());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(|| {
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
            slave: Some(slave),
            last_read: before,
            before,
            written: Vec::new(),
            consumed: 0,
        }
    }

    /// What the terminal was sent since the last answer, as text.
    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.written[self.consumed..]).into_owned()
    }

    /// Reads what the terminal is sent until `text` appears.
    fn expect(&mut self, text: &str) {
        self.read_until(&format!("{text:?} on the screen"), |pty| {
            pty.shown().contains(text)
        });
    }

    /// Reads what the terminal is sent (so that the binary never blocks
    /// writing) until `done`, failing after [`PTY_PATIENCE`] with `what`.
    fn read_until(&mut self, what: &str, mut done: impl FnMut(&OnPty) -> bool) {
        let deadline = std::time::Instant::now() + PTY_PATIENCE;
        while !done(self) {
            assert!(
                std::time::Instant::now() < deadline,
                "no {what}: {:?}",
                self.shown()
            );
            assert!(
                self.read_some(20),
                "the terminal closed before {what}: {:?}",
                self.shown()
            );
        }
    }

    /// Waits up to `millis` for output and takes it; `false` if the
    /// terminal is closed.
    fn read_some(&mut self, millis: libc::c_int) -> bool {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        let mut poll = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut poll, 1, millis) } <= 0 {
            return true;
        }
        let mut chunk = [0u8; 4096];
        match self.master.read(&mut chunk) {
            Ok(n) if n > 0 => {
                self.written.extend_from_slice(&chunk[..n]);
                true
            }
            _ => false,
        }
    }

    /// Waits for `question`, then types the answer and Enter.
    fn answer(&mut self, question: &str, answer: &str) {
        use std::io::Write;
        self.expect(question);
        // Consumed: a repeated question must appear anew.
        self.consumed = self.written.len();
        self.master
            .write_all(format!("{answer}\r").as_bytes())
            .expect("type on the pty");
    }

    /// Types Ctrl-C: the terminal sends SIGINT to the binary, as it does to
    /// the foreground process group of a shell.
    fn ctrl_c(&mut self) {
        use std::io::Write;
        self.master.write_all(b"\x03").expect("type Ctrl-C");
    }

    /// The terminal's settings now, or when the binary ended.
    fn settings(&self) -> libc::termios {
        self.slave
            .as_ref()
            .map_or(self.last_read, terminal_settings)
    }

    fn echo_is_on(&self) -> bool {
        self.settings().c_lflag & libc::ECHO != 0
    }

    /// Whether the terminal's settings are those it had before the binary
    /// started.
    fn settings_as_before(&self) -> bool {
        let now = self.settings();
        let before = &self.before;
        (now.c_iflag, now.c_oflag, now.c_cflag, now.c_lflag, now.c_cc)
            == (
                before.c_iflag,
                before.c_oflag,
                before.c_cflag,
                before.c_lflag,
                before.c_cc,
            )
    }

    /// The exit status, once the process ends, with all it wrote read.
    fn status(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + PTY_PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the binary did not end: {:?}", self.shown());
            }
            // Drain the output so that the process never blocks on writing.
            self.read_some(20);
        };
        // With the last descriptor of the terminal closed, reading ends (in
        // EIO) once all the binary wrote has been read.
        if let Some(slave) = self.slave.take() {
            self.last_read = terminal_settings(&slave);
        }
        let deadline = std::time::Instant::now() + PTY_PATIENCE;
        while self.read_some(20) {
            assert!(
                std::time::Instant::now() < deadline,
                "the terminal never closed: {:?}",
                self.shown()
            );
        }
        status.code()
    }
}

/// A test that fails half-way leaves no binary running.
impl Drop for OnPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
