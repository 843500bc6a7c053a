//! What a row of the fault and bad-input tables is, and how one is checked.
//! Each row is one case: what is set up, how the tool is run, and what it
//! must do. Every row is its own test case (main.rs), run once as is and
//! once with `-v`, and the same rows render `docs/fault-matrix.md`: the
//! table users read is the one the tests check.
//!
//! Every run asserts, besides the row's own exit status and messages: exactly
//! one `error:` line and at most one `hint:` line on stderr, no panic, a
//! bounded time and small memory, neither the shared secret nor the password
//! in the output, the secret never on the wire, no traffic to any other
//! server (redirect targets included), and for exit 2 or 3 no connection at
//! all.

use crate::{BIN, bad_input_rows, fault_rows};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;
use support::stub::{
    Garbage, RefusingPort, Reply, Request, Stub, Synapse, test_ca_cert, test_cert,
};
use support::tool::{Outcome, Tool, Unwritable};

/// Distinctive, so that any leak is found by a plain substring search.
pub const SECRET: &str = "S3CR3T-zq8vW2mK7pLx";
pub const PASSWORD: &str = "P4SSW0RD-hj3nR9tYq";
/// The `--timeout` rows use; stalls end after it.
pub const TIMEOUT_SECS: u64 = 2;
/// No run may take longer, stalls included.
const MAX_RUN: Duration = Duration::from_secs(2 * TIMEOUT_SECS + 3);
/// Peak memory of any run: a tool that read a huge answer whole would exceed it.
const MAX_RSS_KIB: u64 = 64 * 1024;
/// Body bytes of the huge answer the client may take (the kernel's socket
/// buffers hold a few MiB of it) out of the 512 MiB offered.
const MAX_HUGE_READ: u64 = 32 << 20;
/// The user nobody, for the row that needs permission bits to count.
const NOBODY: u32 = 65534;

/// What answers at the URL the row names.
pub enum Server {
    /// Nothing: the port was bound, then closed.
    Refused,
    /// A stub; `reply` answers each request.
    Stub {
        tls: bool,
        garbage: Garbage,
        reply: Script,
    },
    /// The fake Synapse behind TLS with the certificate `openssl req -x509`
    /// makes by default (CA:TRUE).
    TlsCaCert,
}

/// A stub's answer to one request.
pub type Script = fn(&Request, &Ctx) -> Reply;

/// What a script can use.
pub struct Ctx<'a> {
    /// The fake Synapse, knowing [`SECRET`].
    pub synapse: &'a Synapse,
    /// The port of another server, which must never be contacted.
    pub elsewhere: u16,
}

pub fn synapse(request: &Request, ctx: &Ctx) -> Reply {
    ctx.synapse.reply(request)
}

/// The fake Synapse on plain HTTP.
pub const SYNAPSE: Server = Server::Stub {
    tls: false,
    garbage: Garbage::Wait,
    reply: synapse,
};
/// The fake Synapse behind TLS, with a self-signed certificate.
pub const TLS_SYNAPSE: Server = Server::Stub {
    tls: true,
    garbage: Garbage::Wait,
    reply: synapse,
};

/// A file the row creates in its temporary directory.
pub enum Content {
    /// Text, with the placeholders replaced.
    Text(&'static str),
    Bytes(&'static [u8]),
    Dir,
    /// This many zero bytes (a sparse file).
    Zeros(u64),
    /// Text made by a function, too long to write out in a row.
    Generated(fn() -> String),
    /// Text in a file with mode 000.
    Unreadable(&'static str),
    /// A named pipe that no one writes to.
    Fifo,
    /// The stub's self-signed certificate, PEM.
    TestCert,
    /// The self-signed CA:TRUE certificate of [`Server::TlsCaCert`], PEM.
    TestCaCert,
}

/// One case. Placeholders in `args`, `stdin`, `env` values, text files and the expected
/// messages: `{secret}`, `{password}`, `{port}` (the server's), `{elsewhere}`
/// (another server's), `{dir}` (the row's temporary directory), and
/// `{X*N}`, the text X repeated N times.
pub struct Row {
    /// The test's name.
    pub id: &'static str,
    /// Short name, for the table.
    pub case: &'static str,
    /// What was tried, for the table (markdown).
    pub tried: &'static str,
    pub server: Server,
    pub files: &'static [(&'static str, Content)],
    pub env: &'static [(&'static str, &'static [u8])],
    pub stdin: &'static str,
    pub args: &'static [&'static str],
    pub exit: i32,
    /// The `error:` line; `…` stands for any text.
    pub error: Option<&'static str>,
    pub hint: Option<&'static str>,
    /// The methods of the requests the server must see, in order.
    pub requests: &'static [&'static str],
    /// Where stdout goes when not to a pipe the test reads.
    pub stdout: Option<Unwritable>,
}

/// A registration with everything given, at the row's server.
pub const REGISTER: &[&str] = &[
    "-k",
    "{secret}",
    "-u",
    "alice",
    "-p",
    "{password}",
    "--no-admin",
    "--timeout",
    "2",
    "http://127.0.0.1:{port}",
];

/// The fields most rows share.
pub const ROW: Row = Row {
    id: "",
    case: "",
    tried: "",
    server: SYNAPSE,
    files: &[],
    env: &[],
    stdin: "",
    args: REGISTER,
    exit: 0,
    error: None,
    hint: None,
    requests: &[],
    stdout: None,
};

/// The values of the placeholders for one run.
struct Vars {
    port: u16,
    elsewhere: u16,
    dir: String,
}

impl Vars {
    fn expand(&self, text: &str) -> String {
        let text = text
            .replace("{secret}", SECRET)
            .replace("{password}", PASSWORD)
            .replace("{port}", &self.port.to_string())
            .replace("{elsewhere}", &self.elsewhere.to_string())
            .replace("{dir}", &self.dir);
        expand_repeats(&text)
    }
}

/// `{X*N}` → X repeated N times.
fn expand_repeats(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let inner = &rest[start + 1..start + len];
        out.push_str(&rest[..start]);
        match inner
            .rsplit_once('*')
            .and_then(|(x, n)| Some((x, n.parse().ok()?)))
        {
            Some((x, n)) => out.push_str(&x.repeat(n)),
            None => out.push_str(&rest[start..=start + len]),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether `actual` matches `pattern`, where `…` stands for any text.
fn matches_pattern(pattern: &str, actual: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return actual == first;
    }
    if !actual.starts_with(first) || !actual[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &actual[first.len()..actual.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Runs one row and checks everything the row and the module docs promise.
pub fn check(row: &Row, verbose: bool) {
    let id = row.id;
    let dir = tempfile::tempdir().expect("temporary directory");
    let synapse = Synapse::new(SECRET);
    let bystander = Stub::start(|_| Reply::error(500, "M_UNKNOWN", "must not be contacted"));
    let server = match &row.server {
        Server::Refused => None,
        Server::Stub {
            tls,
            garbage,
            reply,
        } => {
            let mut builder = Stub::builder().garbage(*garbage);
            if *tls {
                builder = builder.tls();
            }
            let (synapse, reply, elsewhere) = (synapse.clone(), *reply, bystander.port());
            Some(builder.start(move |request| {
                let ctx = Ctx {
                    synapse: &synapse,
                    elsewhere,
                };
                reply(request, &ctx)
            }))
        }
        Server::TlsCaCert => {
            let synapse = synapse.clone();
            Some(
                Stub::builder()
                    .tls_with(test_ca_cert())
                    .start(move |request| synapse.reply(request)),
            )
        }
    };
    // Held until the row ends: the refused port is nobody else's meanwhile.
    let refusing = server.is_none().then(RefusingPort::bind);
    let vars = Vars {
        port: server
            .as_ref()
            .map(Stub::port)
            .or(refusing.as_ref().map(RefusingPort::port))
            .expect("a server or a refusing port"),
        elsewhere: bystander.port(),
        dir: dir.path().display().to_string(),
    };
    let unprivileged = row
        .files
        .iter()
        .any(|(_, c)| matches!(c, Content::Unreadable(_)));
    for (name, content) in row.files {
        create(&dir.path().join(vars.expand(name)), content, &vars);
    }

    let mut run = Tool::new(BIN);
    if verbose {
        run = run.arg("-v");
    }
    run = run
        .args(row.args.iter().map(|a| vars.expand(a)))
        .stdin(vars.expand(row.stdin));
    for (name, value) in row.env {
        run = match std::str::from_utf8(value) {
            Ok(text) => run.env(name, vars.expand(text)),
            Err(_) => run.env(name, std::ffi::OsStr::from_bytes(value)),
        };
    }
    if let Some(stdout) = row.stdout {
        run = run.stdout_to(stdout);
    }
    // SAFETY: geteuid cannot fail.
    if unprivileged && unsafe { libc::geteuid() } == 0 {
        // Root reads any file whatever its mode: the row runs as nobody.
        if !reachable_by_others(Path::new(BIN)) {
            eprintln!("row {id} skipped: running as root, and nobody cannot reach the binary");
            return;
        }
        give_to_nobody(dir.path());
        run = run.run_as(NOBODY, NOBODY);
    }
    let out = run.deadline(MAX_RUN * 2).run();

    let context = format!("row {id} (verbose: {verbose})\n{out}");
    assert_eq!(out.code, Some(row.exit), "exit status, {context}");
    out.assert_no_panic();
    assert_messages(row, &out, &vars, &context);
    assert!(out.elapsed < MAX_RUN, "too slow, {context}");
    assert!(
        out.max_rss_kib < MAX_RSS_KIB,
        "peak memory {} KiB, {context}",
        out.max_rss_kib
    );
    for (name, value) in [("secret", SECRET), ("password", PASSWORD)] {
        assert!(
            !out.stdout.contains(value) && !out.stderr.contains(value),
            "the {name} was printed, {context}"
        );
    }

    assert_eq!(
        bystander.connections(),
        0,
        "another server was contacted, {context}"
    );
    let Some(server) = server else { return };
    assert_eq!(server.methods(), row.requests, "requests, {context}");
    if matches!(row.exit, 2 | 3) {
        assert_eq!(server.connections(), 0, "connected anyway, {context}");
    }
    assert!(
        find(&server.received(), SECRET.as_bytes()).is_none(),
        "the secret crossed the wire, {context}"
    );
    assert!(
        server.huge_written() < MAX_HUGE_READ,
        "{} bytes of the huge answer were read, {context}",
        server.huge_written()
    );
    if row.exit == 0 {
        let created = synapse.created();
        assert_eq!(created.len(), 1, "accounts created, {context}");
        assert_eq!(created[0].password, PASSWORD, "{context}");
    }
}

fn assert_messages(row: &Row, out: &Outcome, vars: &Vars, context: &str) {
    let errors = out.stderr_lines("error:");
    match row.error {
        Some(pattern) => {
            assert_eq!(errors.len(), 1, "one error line, {context}");
            let expected = vars.expand(pattern);
            assert!(
                matches_pattern(&expected, errors[0]),
                "error line, expected {expected:?}, {context}"
            );
        }
        None => assert!(errors.is_empty(), "no error line, {context}"),
    }
    let hints = out.stderr_lines("hint:");
    match row.hint {
        Some(pattern) => {
            assert_eq!(hints.len(), 1, "one hint line, {context}");
            let expected = vars.expand(pattern);
            assert!(
                matches_pattern(&expected, hints[0]),
                "hint line, expected {expected:?}, {context}"
            );
        }
        None => assert!(hints.is_empty(), "no hint line, {context}"),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn create(path: &Path, content: &Content, vars: &Vars) {
    use std::os::unix::fs::PermissionsExt;
    let write = |bytes: &[u8], mode: u32| {
        std::fs::write(path, bytes).expect("write test file");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .expect("set test file mode");
    };
    match content {
        // 0600: a secret file readable by others gets a (correct) warning
        // that is not what these rows are about.
        Content::Text(text) => write(vars.expand(text).as_bytes(), 0o600),
        Content::Bytes(bytes) => write(bytes, 0o600),
        Content::Generated(make) => write(make().as_bytes(), 0o600),
        Content::Unreadable(text) => write(vars.expand(text).as_bytes(), 0o000),
        Content::TestCert => write(test_cert().pem(), 0o600),
        Content::TestCaCert => write(test_ca_cert().pem(), 0o600),
        Content::Dir => std::fs::create_dir(path).expect("create test directory"),
        Content::Zeros(len) => {
            let file = std::fs::File::create(path).expect("create test file");
            file.set_len(*len).expect("size test file");
        }
        Content::Fifo => {
            let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
        }
    }
}

/// Whether a user other than the owner can run this file (every directory
/// above it searchable by others).
fn reachable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.ancestors()
        .all(|p| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// Hands the row's directory and files to nobody, so that a run as nobody
/// can use them (except what mode 000 forbids).
fn give_to_nobody(dir: &Path) {
    let chown = |path: &Path| {
        let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(
            unsafe { libc::chown(name.as_ptr(), NOBODY, NOBODY) },
            0,
            "chown"
        );
    };
    chown(dir);
    for entry in std::fs::read_dir(dir).expect("read test directory") {
        chown(&entry.expect("test file").path());
    }
}

/// `docs/fault-matrix.md`, rendered from both tables.
pub fn render_doc() -> String {
    let mut doc = String::from(
        "# What the tool does when things go wrong\n\n\
         Generated from the rows in `tests/matrix/` by `UPDATE_DOCS=1 cargo test --test matrix`;\n\
         do not edit by hand. Each row is a test: `cargo test --test matrix` runs every\n\
         row against a local stub server, once as shown and once with `-v`.\n\n\
         In every row the tool also:\n\n\
         - prints exactly one `error:` line on stderr (plus at most one `hint:` line), never a panic;\n\
         - ends within a few seconds (`--timeout 2` where the server stalls) and stays under 64 MiB of memory;\n\
         - never prints the shared secret or the password, with or without `-v`, and never sends\n  \
           the secret (only the MAC computed with it);\n\
         - never contacts any server but the one named (a redirect's target stays untouched);\n\
         - with exit status 2 or 3, does not connect to the server at all.\n\n\
         Exit status: 0 registered, 1 the server refused, 2 usage error, 3 local input or\n\
         configuration problem (nothing sent), 4 the server could not be reached or answered\n\
         nonsense (safe to retry), 5 the result could not be written to stdout.\n\n\
         In the messages, PORT is the server's port, ELSEWHERE another server's, DIR the\n\
         directory holding the files, and … any text.\n",
    );
    for (title, rows) in [
        (
            "Faults: a broken network or a misbehaving server",
            fault_rows::ROWS,
        ),
        (
            "Bad input: configuration files and command-line arguments",
            bad_input_rows::ROWS,
        ),
    ] {
        doc.push_str(&format!(
            "\n## {title}\n\n| Case | What was tried | Exit | What the tool prints on stderr |\n| --- | --- | --- | --- |\n"
        ));
        for row in rows {
            let mut said: Vec<String> = row.error.into_iter().chain(row.hint).map(shown).collect();
            if said.is_empty() {
                said.push("(success)".to_owned());
            }
            doc.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                row.case,
                row.tried,
                row.exit,
                said.join("<br>")
            ));
        }
    }
    doc
}

/// A message as the table shows it: placeholders in capitals, in code.
fn shown(pattern: &str) -> String {
    let text = pattern
        .replace("{port}", "PORT")
        .replace("{elsewhere}", "ELSEWHERE")
        .replace("{dir}", "DIR")
        .replace("{secret}", "SECRET")
        .replace("{password}", "PASSWORD")
        .replace('|', "\\|");
    // A message that holds backticks needs a longer fence.
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}

/// Fails when the committed doc differs from the tables; `UPDATE_DOCS=1`
/// rewrites it.
pub fn check_doc() {
    let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fault-matrix.md");
    let rendered = render_doc();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(doc_path.parent().unwrap()).expect("docs directory");
        std::fs::write(&doc_path, &rendered).expect("write the doc");
        return;
    }
    let committed = std::fs::read_to_string(&doc_path).unwrap_or_default();
    assert!(
        committed == rendered,
        "docs/fault-matrix.md is stale: run `UPDATE_DOCS=1 cargo test --test matrix` and commit it"
    );
}

pub fn patterns_and_placeholders() {
    assert!(matches_pattern("a…c", "abbbc"));
    assert!(matches_pattern("a…b…c", "a1b2c"));
    assert!(!matches_pattern("a…b…c", "a1c"));
    assert!(!matches_pattern("abc", "abcd"));
    assert_eq!(expand_repeats("x{ab*3}y{z}"), "xabababy{z}");
}
