//! An in-process stand-in for a Synapse (or for a broken server in front of
//! one) on 127.0.0.1, for the CLI, fault and bad-input tests. It records
//! every byte and every request it receives and answers from a per-test
//! script: a [`Synapse`] that checks the MAC like the real server, or one of
//! the [`Reply`] faults.

use hmac::{Hmac, Mac};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use sha1::Sha1;
use std::collections::HashSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// The endpoint the tool talks to.
pub const REGISTER_PATH: &str = "/_synapse/admin/v1/register";
/// The server name the fake Synapse puts in user IDs.
pub const SERVER_NAME: &str = "stub.test";
/// How often blocked connection threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

/// One HTTP request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

/// What the stub does with one request.
pub enum Reply {
    /// A complete answer.
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Nothing, ever: the connection stays open until the stub stops.
    Silent,
    /// The status line and headers announcing a body, then nothing.
    HeadersThenStall,
    /// The headers and half the announced body, then the connection closes.
    CloseMidResponse,
    /// The connection is closed without a byte of answer.
    Hangup,
    /// The connection is reset (RST, not a clean close).
    Reset,
    /// A 200 JSON answer whose body is `bytes` long, streamed in chunks for as
    /// long as the client reads it.
    Huge { bytes: u64 },
    /// These bytes as the whole answer (status line included), then the
    /// connection closes.
    Bytes(Vec<u8>),
    /// These bytes as the whole answer, one byte every `every`, for as long
    /// as the client reads.
    Trickle { bytes: Vec<u8>, every: Duration },
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::raw(status, "application/json", body.to_string())
    }

    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Answer {
            status,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
        }
    }

    pub fn error(status: u16, errcode: &str, error: &str) -> Reply {
        Reply::json(status, json!({"errcode": errcode, "error": error}))
    }

    pub fn redirect(status: u16, location: &str) -> Reply {
        Reply::Answer {
            status,
            headers: vec![("Location".to_owned(), location.to_owned())],
            body: Vec::new(),
        }
    }
}

/// What a server does with bytes that are not an HTTP request (a TLS
/// handshake sent to a plain port).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Garbage {
    /// Keeps waiting for a request line, as Synapse's HTTP server does.
    Wait,
    /// Answers 400 and closes, as most proxies do.
    BadRequest,
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

#[derive(Default)]
struct Log {
    requests: Vec<Request>,
    /// Everything received on every connection, decrypted for TLS.
    received: Vec<u8>,
    connections: usize,
}

struct Shared {
    handler: Box<Handler>,
    tls: Option<Arc<rustls::ServerConfig>>,
    garbage: Garbage,
    requests_per_connection: Option<usize>,
    log: Mutex<Log>,
    stop: AtomicBool,
    /// Body bytes of [`Reply::Huge`] answers handed to the kernel.
    huge_written: AtomicU64,
}

/// A running stub; stops when dropped.
pub struct Stub {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// How to start a stub.
pub struct Builder {
    port: u16,
    tls: Option<Arc<rustls::ServerConfig>>,
    garbage: Garbage,
    requests_per_connection: Option<usize>,
}

/// A self-signed certificate for 127.0.0.1 and localhost as `openssl req
/// -x509` makes it by default: a certificate authority's (CA:TRUE), which
/// most self-signed Synapse listeners present. Made once per test binary.
pub fn test_ca_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| openssl_default_cert("DNS:localhost, IP:127.0.0.1"))
}

/// A self-signed certificate for these subject alternative names, made with
/// openssl's defaults (CA:TRUE).
pub fn openssl_default_cert(names: &str) -> TestCert {
    let dir = tempfile::tempdir().expect("certificate directory");
    let path = |name: &str| dir.path().join(name);
    let output = std::process::Command::new("openssl")
        .args(["req", "-x509", "-subj", "/CN=localhost"])
        .args(["-addext", &format!("subjectAltName = {names}")])
        .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "2", "-keyout"])
        .arg(path("key.pem"))
        .arg("-out")
        .arg(path("cert.pem"))
        .output()
        .expect("run openssl (the TLS tests need it)");
    assert!(
        output.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(path("cert.pem"))
        .output()
        .expect("run openssl");
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("CA:TRUE"),
        "openssl's default certificate is a CA's"
    );
    TestCert {
        cert_pem: std::fs::read(path("cert.pem")).expect("certificate"),
        key_pem: std::fs::read(path("key.pem")).expect("key"),
    }
}

impl Stub {
    /// A plain-HTTP stub on a free port.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Stub {
        Stub::builder().start(handler)
    }

    /// A fake Synapse that knows `secret`.
    pub fn synapse(secret: &str) -> (Stub, Arc<Synapse>) {
        let synapse = Synapse::new(secret);
        let server = Arc::clone(&synapse);
        (Stub::start(move |r| server.reply(r)), synapse)
    }

    pub fn builder() -> Builder {
        Builder {
            port: 0,
            tls: None,
            garbage: Garbage::Wait,
            requests_per_connection: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`, or `https://` for a TLS stub.
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port())
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log().requests.clone()
    }

    /// The methods of the requests received, in order.
    pub fn methods(&self) -> Vec<String> {
        self.log()
            .requests
            .iter()
            .map(|r| r.method.clone())
            .collect()
    }

    pub fn posts(&self) -> Vec<Request> {
        self.log()
            .requests
            .iter()
            .filter(|r| r.method == "POST")
            .cloned()
            .collect()
    }

    /// Every byte received, on every connection.
    pub fn received(&self) -> Vec<u8> {
        self.log().received.clone()
    }

    pub fn connections(&self) -> usize {
        self.log().connections
    }

    pub fn huge_written(&self) -> u64 {
        self.shared.huge_written.load(Ordering::SeqCst)
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.shared.log.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so that the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Builder {
    /// Listens on this port (reserved earlier with [`reserved_port`]).
    pub fn port(mut self, port: u16) -> Builder {
        self.port = port;
        self
    }

    /// Speaks TLS with the test certificate.
    pub fn tls(mut self) -> Builder {
        self.tls = Some(test_cert().server_config());
        self
    }

    /// Speaks TLS with this certificate.
    pub fn tls_with(mut self, cert: &TestCert) -> Builder {
        self.tls = Some(cert.server_config());
        self
    }

    pub fn garbage(mut self, garbage: Garbage) -> Builder {
        self.garbage = garbage;
        self
    }

    /// Answers this many requests on a connection (keeping it alive, with
    /// no `Connection: close`), then closes it when the next one arrives,
    /// unread and unanswered: a server closing an idle connection just as
    /// the client reuses it.
    pub fn requests_per_connection(mut self, count: usize) -> Builder {
        self.requests_per_connection = Some(count);
        self
    }

    pub fn start(self, handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("bind the stub");
        let addr = listener.local_addr().expect("stub address");
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            tls: self.tls,
            garbage: self.garbage,
            requests_per_connection: self.requests_per_connection,
            log: Mutex::new(Log::default()),
            stop: AtomicBool::new(false),
            huge_written: AtomicU64::new(0),
        });
        let accepting = Arc::clone(&shared);
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let connection = Arc::clone(&accepting);
                std::thread::spawn(move || serve(stream, &connection));
            }
        });
        Stub {
            addr,
            shared,
            accept: Some(accept),
        }
    }
}

/// A port that was free a moment ago and is now closed: connecting to it is
/// refused, and a stub can be started on it later.
pub fn reserved_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// A loopback port bound but not listening, for as long as this lives:
/// connecting to it is refused, and no other test's stub can be given it
/// meanwhile (a port closed again, as [`reserved_port`]'s, can be).
pub struct RefusingPort {
    _socket: std::os::fd::OwnedFd,
    port: u16,
}

impl RefusingPort {
    pub fn bind() -> RefusingPort {
        use std::os::fd::{FromRawFd, OwnedFd};
        // SAFETY: plain socket calls on a descriptor owned here alone; the
        // address structures are fully initialised before use.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let socket = OwnedFd::from_raw_fd(fd);
            let mut address: libc::sockaddr_in = std::mem::zeroed();
            address.sin_family = libc::AF_INET as libc::sa_family_t;
            address.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let size = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, (&raw const address).cast(), size);
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            let mut length = size;
            let named = libc::getsockname(fd, (&raw mut address).cast(), &mut length);
            assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
            RefusingPort {
                _socket: socket,
                port: u16::from_be(address.sin_port),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A connection, plain or TLS, with access to its socket.
trait Wire: Read + Write {
    fn tcp(&self) -> &TcpStream;
}

impl Wire for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Wire for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    shared
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .connections += 1;
    // Short read timeouts let a blocked connection notice that the stub stopped.
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_nodelay(true);
    match &shared.tls {
        None => serve_requests(stream, shared),
        Some(config) => {
            if let Ok(connection) = rustls::ServerConnection::new(Arc::clone(config)) {
                serve_requests(rustls::StreamOwned::new(connection, stream), shared);
            }
        }
    }
}

fn serve_requests(mut wire: impl Wire, shared: &Shared) {
    let mut buffer = Vec::new();
    let mut served = 0;
    loop {
        if shared.requests_per_connection == Some(served) {
            // The next request's first bytes, left unread in spirit: the
            // connection closes under it.
            let _ = wire.tcp().set_read_timeout(None);
            let mut byte = [0u8; 1];
            let _ = wire.tcp().peek(&mut byte);
            let _ = wire.tcp().shutdown(Shutdown::Both);
            return;
        }
        served += 1;
        let Some(request) = read_request(&mut wire, &mut buffer, shared) else {
            return;
        };
        shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .requests
            .push(request.clone());
        let keep_going = answer(&mut wire, (shared.handler)(&request), shared);
        if !keep_going {
            return;
        }
    }
}

/// Reads bytes until the stub stops or the peer goes away.
fn read_some(wire: &mut impl Wire, shared: &Shared) -> Option<Vec<u8>> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return None;
        }
        match wire.read(&mut chunk) {
            Ok(0) => return None,
            Ok(n) => {
                shared
                    .log
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .received
                    .extend_from_slice(&chunk[..n]);
                return Some(chunk[..n].to_vec());
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

fn read_request(wire: &mut impl Wire, buffer: &mut Vec<u8>, shared: &Shared) -> Option<Request> {
    let head_end = loop {
        if let Some(end) = find(buffer, b"\r\n\r\n") {
            break end;
        }
        if !buffer.is_empty() && !buffer[0].is_ascii_uppercase() {
            match shared.garbage {
                Garbage::BadRequest => {
                    let _ = wire.write_all(
                        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    return None;
                }
                // Swallow it, as a server waiting for a request line does.
                Garbage::Wait => buffer.clear(),
            }
        }
        buffer.extend(read_some(wire, shared)?);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    buffer.drain(..head_end + 4);
    while buffer.len() < length {
        buffer.extend(read_some(wire, shared)?);
    }
    let body = buffer.drain(..length).collect();
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends one reply; `false` when the connection is done with.
fn answer(wire: &mut impl Wire, reply: Reply, shared: &Shared) -> bool {
    match reply {
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (name, value) in &headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            let mut bytes = head.into_bytes();
            bytes.extend(body);
            wire.write_all(&bytes).and_then(|()| wire.flush()).is_ok()
        }
        Reply::Silent => {
            hold(wire, shared);
            false
        }
        Reply::HeadersThenStall => {
            let _ = wire.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n",
            );
            let _ = wire.flush();
            hold(wire, shared);
            false
        }
        Reply::CloseMidResponse => {
            let _ = wire.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"nonce\": \"0123",
            );
            let _ = wire.flush();
            let _ = wire.tcp().shutdown(Shutdown::Both);
            false
        }
        Reply::Hangup => {
            let _ = wire.tcp().shutdown(Shutdown::Both);
            false
        }
        Reply::Reset => {
            reset(wire.tcp());
            false
        }
        Reply::Huge { bytes } => {
            stream_huge(wire, bytes, shared);
            false
        }
        Reply::Bytes(bytes) => {
            let _ = wire.write_all(&bytes).and_then(|()| wire.flush());
            false
        }
        Reply::Trickle { bytes, every } => {
            for byte in bytes {
                if shared.stop.load(Ordering::SeqCst)
                    || wire.write_all(&[byte]).and_then(|()| wire.flush()).is_err()
                {
                    break;
                }
                std::thread::sleep(every);
            }
            false
        }
    }
}

/// Keeps the connection open, reading and ignoring whatever comes, until the
/// stub stops or the client goes away.
fn hold(wire: &mut impl Wire, shared: &Shared) {
    while read_some(wire, shared).is_some() {}
}

/// Closes with an RST: a zero linger time makes close() abort the connection.
fn reset(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a correctly sized option value.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(result, 0, "SO_LINGER");
    // The caller drops the stream right after: that close() sends the RST.
}

fn stream_huge(wire: &mut impl Wire, bytes: u64, shared: &Shared) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {bytes}\r\n\r\n"
    );
    if wire.write_all(head.as_bytes()).is_err() {
        return;
    }
    // A JSON string that never ends: nothing short of all of it parses.
    let chunk = {
        let mut chunk = b"{\"nonce\": \"".to_vec();
        chunk.resize(64 * 1024, b'a');
        chunk
    };
    let mut sent = 0u64;
    let mut first = true;
    while sent < bytes && !shared.stop.load(Ordering::SeqCst) {
        let piece = if first { &chunk[..] } else { &chunk[11..] };
        first = false;
        let piece = &piece[..piece.len().min((bytes - sent) as usize)];
        if wire.write_all(piece).is_err() {
            return;
        }
        sent += piece.len() as u64;
        shared
            .huge_written
            .fetch_add(piece.len() as u64, Ordering::SeqCst);
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// One account the fake Synapse created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub password: String,
    pub admin: bool,
    pub user_type: Option<String>,
    pub displayname: Option<String>,
}

/// The registration endpoint as Synapse serves it: nonces that are used up
/// on first use, the MAC checked with the shared secret, usernames lowercased
/// and unique.
pub struct Synapse {
    secret: String,
    nonces: Mutex<HashSet<String>>,
    issued: AtomicUsize,
    accounts: Mutex<Vec<Account>>,
}

impl Synapse {
    pub fn new(secret: &str) -> Arc<Synapse> {
        Arc::new(Synapse {
            secret: secret.to_owned(),
            nonces: Mutex::new(HashSet::new()),
            issued: AtomicUsize::new(0),
            accounts: Mutex::new(Vec::new()),
        })
    }

    /// Adds an account as if registered earlier.
    pub fn add_existing(&self, username: &str) {
        self.accounts.lock().unwrap().push(Account {
            username: username.to_lowercase(),
            password: String::new(),
            admin: false,
            user_type: None,
            displayname: None,
        });
    }

    pub fn accounts(&self) -> Vec<Account> {
        self.accounts.lock().unwrap().clone()
    }

    /// The accounts this run created (not those added with `add_existing`).
    pub fn created(&self) -> Vec<Account> {
        self.accounts()
            .into_iter()
            .filter(|a| !a.password.is_empty())
            .collect()
    }

    pub fn reply(&self, request: &Request) -> Reply {
        if request.path != REGISTER_PATH {
            return Reply::error(404, "M_UNRECOGNIZED", "Unrecognized request");
        }
        match request.method.as_str() {
            "GET" => {
                let n = self.issued.fetch_add(1, Ordering::SeqCst);
                let nonce = format!("{n:04}{}", "c0ffee".repeat(20));
                self.nonces.lock().unwrap().insert(nonce.clone());
                Reply::json(200, json!({ "nonce": nonce }))
            }
            "POST" => self.register(request),
            _ => Reply::error(405, "M_UNRECOGNIZED", "Unrecognized request"),
        }
    }

    fn register(&self, request: &Request) -> Reply {
        let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
            return Reply::error(400, "M_NOT_JSON", "Content not JSON.");
        };
        let nonce = body["nonce"].as_str().unwrap_or_default();
        // Used up on first use, valid or not.
        if !self.nonces.lock().unwrap().remove(nonce) {
            return Reply::error(400, "M_UNKNOWN", "unrecognised nonce");
        }
        let (Some(username), Some(password)) =
            (body["username"].as_str(), body["password"].as_str())
        else {
            return Reply::error(400, "M_INVALID_PARAM", "Invalid username or password");
        };
        let admin = body["admin"].as_bool().unwrap_or(false);
        let user_type = body["user_type"].as_str().map(str::to_owned);
        let expected = mac(
            &self.secret,
            nonce,
            username,
            password,
            admin,
            user_type.as_deref(),
        );
        if body["mac"].as_str() != Some(expected.as_str()) {
            return Reply::error(403, "M_FORBIDDEN", "HMAC incorrect");
        }
        let username = username.to_lowercase();
        let mut accounts = self.accounts.lock().unwrap();
        if accounts.iter().any(|a| a.username == username) {
            return Reply::error(400, "M_USER_IN_USE", "User ID already taken.");
        }
        accounts.push(Account {
            username: username.clone(),
            password: password.to_owned(),
            admin,
            user_type,
            displayname: body["displayname"].as_str().map(str::to_owned),
        });
        Reply::json(
            200,
            json!({
                "user_id": format!("@{username}:{SERVER_NAME}"),
                "access_token": format!("syt_{username}_token"),
                "device_id": "STUBDEVICE",
                "home_server": SERVER_NAME,
            }),
        )
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, made once per test
/// binary with the openssl command (as `scripts/synapse` does).
pub struct TestCert {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

pub fn test_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("certificate directory");
        let path = |name: &str| dir.path().join(name);
        // CA:FALSE: webpki refuses a CA certificate as a server's own.
        std::fs::write(
            path("cert.cnf"),
            "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n\
             [dn]\nCN = localhost\n\
             [ext]\nbasicConstraints = critical, CA:FALSE\n\
             subjectAltName = DNS:localhost, IP:127.0.0.1\n\
             extendedKeyUsage = serverAuth\nsubjectKeyIdentifier = hash\n",
        )
        .expect("openssl config");
        let output = std::process::Command::new("openssl")
            .args(["req", "-x509", "-config"])
            .arg(path("cert.cnf"))
            .args(["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args(["-nodes", "-days", "2", "-keyout"])
            .arg(path("key.pem"))
            .arg("-out")
            .arg(path("cert.pem"))
            .output()
            .expect("run openssl (the TLS tests need it)");
        assert!(
            output.status.success(),
            "openssl failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        TestCert {
            cert_pem: std::fs::read(path("cert.pem")).expect("certificate"),
            key_pem: std::fs::read(path("key.pem")).expect("key"),
        }
    })
}

impl TestCert {
    /// The certificate, PEM, as `--cacert` takes it.
    pub fn pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// Writes the certificate into `dir`.
    pub fn write_to(&self, dir: &Path) -> PathBuf {
        let path = dir.join("ca.pem");
        std::fs::write(&path, &self.cert_pem).expect("write certificate");
        path
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let certs = CertificateDer::pem_slice_iter(&self.cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate");
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem).expect("key");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("protocol versions")
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .expect("server certificate"),
        )
    }
}

/// The MAC the server expects, computed here independently of the tool's
/// own code: HMAC-SHA1 keyed with the shared secret over the fields joined by
/// NUL, the user type last and only when non-empty (as Synapse checks it).
fn mac(
    secret: &str,
    nonce: &str,
    username: &str,
    password: &str,
    admin: bool,
    user_type: Option<&str>,
) -> String {
    let mut message = [
        nonce,
        username,
        password,
        if admin { "admin" } else { "notadmin" },
    ]
    .join("\0");
    if let Some(user_type) = user_type.filter(|t| !t.is_empty()) {
        message.push('\0');
        message.push_str(user_type);
    }
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}
