//! Runs the built binary as a script would: a clean environment (no proxy
//! variables, no secret), a hard deadline, and its peak memory measured.

use serde_json::Value;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A run of the tool to set up.
pub struct Tool {
    command: Command,
    stdin: Vec<u8>,
    deadline: Duration,
    stdout: Option<Unwritable>,
    stderr: Option<Unwritable>,
}

/// An output that cannot be written, instead of a pipe the test reads.
#[derive(Debug, Clone, Copy)]
pub enum Unwritable {
    /// `/dev/full`: every write fails with "no space left on device".
    Full,
    /// A pipe whose reader is gone (`| head -c0`): every write fails with
    /// "broken pipe".
    ClosedPipe,
}

impl Unwritable {
    pub const ALL: [Unwritable; 2] = [Unwritable::Full, Unwritable::ClosedPipe];

    fn stdio(self) -> Stdio {
        match self {
            Unwritable::Full => Stdio::from(
                std::fs::File::options()
                    .write(true)
                    .open("/dev/full")
                    .expect("open /dev/full"),
            ),
            Unwritable::ClosedPipe => {
                use std::os::fd::{FromRawFd, OwnedFd};
                let mut fds = [0; 2];
                // Close-on-exec: a child that another test spawns meanwhile
                // must not inherit the reader and keep the pipe open.
                // SAFETY: pipe2 fills in two new descriptors.
                let made = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
                assert_eq!(made, 0, "pipe2");
                // SAFETY: both were just opened, and are owned here alone.
                let (reader, writer) =
                    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
                drop(reader);
                Stdio::from(writer)
            }
        }
    }
}

/// A run in progress.
pub struct Running {
    child: Child,
    started: Instant,
    deadline: Duration,
    stdout: Drain,
    stderr: Drain,
}

/// An output pipe read to its end on a thread of its own; what it has read
/// so far can be looked at while the program runs.
struct Drain {
    read: Arc<Mutex<Vec<u8>>>,
    thread: JoinHandle<()>,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The exit status; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Whether stdout and stderr were both valid UTF-8 (the text above is
    /// decoded lossily).
    pub utf8: bool,
    pub elapsed: Duration,
    /// Peak resident memory of the program, in KiB, as sampled while it ran.
    pub max_rss_kib: u64,
}

impl Tool {
    /// A run of `program`: each test binary passes the binary under test,
    /// which Cargo names to integration tests alone
    /// (`CARGO_BIN_EXE_register_new_matrix_user`).
    pub fn new(program: impl AsRef<OsStr>) -> Tool {
        let mut command = Command::new(program);
        // Nothing from the test environment leaks in: no proxy settings that
        // would send loopback traffic elsewhere, no shared secret.
        command.env_clear();
        Tool {
            command,
            stdin: Vec::new(),
            deadline: Duration::from_secs(20),
            stdout: None,
            stderr: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Tool {
        self.command.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Tool {
        self.command.args(args);
        self
    }

    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Tool {
        self.command.env(name, value);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Tool {
        self.stdin = bytes.into();
        self
    }

    /// Kills the run after this long (the test then fails on the exit code).
    pub fn deadline(mut self, deadline: Duration) -> Tool {
        self.deadline = deadline;
        self
    }

    /// Runs as another user (to test file permissions when the tests run as
    /// root, whom permission bits do not stop).
    pub fn run_as(mut self, uid: u32, gid: u32) -> Tool {
        use std::os::unix::process::CommandExt;
        self.command.uid(uid).gid(gid);
        self
    }

    /// Sends stdout there; the outcome's `stdout` is then empty.
    pub fn stdout_to(mut self, unwritable: Unwritable) -> Tool {
        self.stdout = Some(unwritable);
        self
    }

    /// Sends stderr there; the outcome's `stderr` is then empty.
    pub fn stderr_to(mut self, unwritable: Unwritable) -> Tool {
        self.stderr = Some(unwritable);
        self
    }

    pub fn spawn(mut self) -> Running {
        let output = |to: Option<Unwritable>| to.map_or_else(Stdio::piped, Unwritable::stdio);
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(output(self.stdout))
            .stderr(output(self.stderr))
            .spawn()
            .expect("start the binary");
        let started = Instant::now();
        let mut stdin = child.stdin.take().expect("stdin");
        let input = self.stdin;
        // A tool that does not read its input must not block the test.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        Running {
            stdout: drain(child.stdout.take()),
            stderr: drain(child.stderr.take()),
            child,
            started,
            deadline: self.deadline,
        }
    }

    pub fn run(self) -> Outcome {
        self.spawn().finish()
    }
}

/// Reads the pipe to its end; nothing when the output went elsewhere.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Drain {
    let read = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&read);
    let thread = std::thread::spawn(move || {
        let Some(mut pipe) = pipe else { return };
        let mut chunk = [0; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            into.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    Drain { read, thread }
}

impl Drain {
    fn so_far(&self) -> String {
        String::from_utf8_lossy(&self.read.lock().unwrap()).into_owned()
    }

    fn finish(self) -> Vec<u8> {
        self.thread.join().unwrap();
        std::mem::take(&mut *self.read.lock().unwrap())
    }
}

impl Running {
    /// The process ID, to send it a signal.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the program has written `text` on stderr, and fails the
    /// test when it has not within `patience`.
    pub fn wait_for_stderr(&self, text: &str, patience: Duration) {
        let since = Instant::now();
        loop {
            let stderr = self.stderr.so_far();
            if stderr.contains(text) {
                return;
            }
            assert!(
                since.elapsed() < patience,
                "stderr lacks {text:?} after {patience:?}:\n{stderr}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the end (killing the process at the deadline) and collects
    /// its output.
    pub fn finish(mut self) -> Outcome {
        let pid = self.child.id();
        let mut killed = false;
        let mut max_rss_kib = 0;
        let status = loop {
            // The high-water mark of the program's own memory. (getrusage's
            // ru_maxrss would not do: a child spawned with vfork counts the
            // test process's memory, which it shared until exec.)
            max_rss_kib = max_rss_kib.max(high_water_kib(pid).unwrap_or(0));
            if let Some(status) = self.child.try_wait().expect("wait for the binary") {
                break status;
            }
            if !killed && self.started.elapsed() > self.deadline {
                let _ = self.child.kill();
                killed = true;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        let (stdout, stderr) = (self.stdout.finish(), self.stderr.finish());
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        Outcome {
            code: status.code(),
            stdout: text(&stdout),
            stderr: text(&stderr),
            utf8: std::str::from_utf8(&stdout).is_ok() && std::str::from_utf8(&stderr).is_ok(),
            elapsed,
            max_rss_kib,
        }
    }
}

/// `VmHWM` of a running process, in KiB.
fn high_water_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl Outcome {
    /// The stderr lines that start with `prefix` (`error:`, `hint:`).
    pub fn stderr_lines(&self, prefix: &str) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    /// The single `error:` line; fails the test when there is not exactly one.
    pub fn error_line(&self) -> &str {
        let errors = self.stderr_lines("error:");
        assert_eq!(errors.len(), 1, "exactly one error line:\n{self}");
        errors[0]
    }

    /// Fails the test on a panic or a backtrace hint.
    pub fn assert_no_panic(&self) {
        for marker in ["panicked", "RUST_BACKTRACE", "stack backtrace"] {
            assert!(!self.stderr.contains(marker), "{marker}:\n{self}");
        }
    }

    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "exit status:\n{self}");
        self.assert_no_panic();
        self
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} after {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// A finished `--batch` run: its exit code, one parsed JSON object per
/// stdout line in the order printed, and what it said.
pub struct BatchRun {
    pub code: Option<i32>,
    pub rows: Vec<Value>,
    pub stdout: String,
    pub stderr: String,
}

impl BatchRun {
    pub fn from_outcome(outcome: Outcome) -> BatchRun {
        assert!(outcome.utf8, "stdout and stderr are UTF-8:\n{outcome}");
        let Outcome {
            code,
            stdout,
            stderr,
            ..
        } = outcome;
        let rows = stdout
            .lines()
            .map(|line| serde_json::from_str(line).expect("each stdout line is JSON"))
            .collect();
        BatchRun {
            code,
            rows,
            stdout,
            stderr,
        }
    }

    /// The result object of the row on `line` of the file.
    pub fn row(&self, line: u64) -> &Value {
        self.rows
            .iter()
            .find(|r| r["line"] == line)
            .unwrap_or_else(|| panic!("no result for line {line}: {}", self.stdout))
    }
}
