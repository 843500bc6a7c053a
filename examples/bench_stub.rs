//! A registration endpoint for `scripts/bench`, in two kinds:
//!
//! - without options, it answers at once: for the client-cost measurement,
//!   where what is measured is the tool's own CPU time, so this server must
//!   cost next to nothing (no MAC check, no hashing, no state, one thread per
//!   kept-alive connection);
//! - with `--capacity N`, it stands in for a server with N cores: each
//!   registration holds one of N slots for `--hold-ms` (200 by default, about
//!   a bcrypt hash at Synapse's default cost) and the others wait their turn
//!   in order of arrival, as requests do for a server's hashing threads. It
//!   sleeps rather than hashes, so that a 64-core server can be simulated on
//!   2 cores. The nonce is answered at once, as Synapse does. With
//!   `--drift-ms-per-s D`, the hold grows by D ms for every second since the
//!   first registration, up to four times `--hold-ms`, whatever the load: a
//!   server slowing down by itself (other work on its machine).
//!
//! It is not a Synapse and proves nothing about the protocol (the tests do
//! that). Listens on 127.0.0.1, prints the port on stdout, serves until
//! killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A nonce of the length Synapse's has; its value does not matter here.
const NONCE: &str = "{\"nonce\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}";

/// N slots, handed out in order of arrival.
struct Slots {
    capacity: u64,
    hold: Duration,
    /// Added to `hold` per second since the first registration.
    drift: Duration,
    first: std::sync::OnceLock<std::time::Instant>,
    /// (tickets handed out, slots given back)
    state: Mutex<(u64, u64)>,
    freed: Condvar,
}

impl Slots {
    /// Holds a slot for `hold`, after every earlier arrival got one.
    fn hold(&self) {
        let mut state = self.state.lock().unwrap();
        let ticket = state.0;
        state.0 += 1;
        while ticket >= state.1 + self.capacity {
            state = self.freed.wait(state).unwrap();
        }
        drop(state);
        let since = self.first.get_or_init(std::time::Instant::now).elapsed();
        let hold = (self.hold + self.drift.mul_f64(since.as_secs_f64())).min(self.hold * 4);
        std::thread::sleep(hold);
        self.state.lock().unwrap().1 += 1;
        self.freed.notify_all();
    }
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut capacity, mut hold_ms, mut drift_ms) = (None, 200, 0);
    while let Some(arg) = args.next() {
        let mut value = || -> u64 {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "--capacity" => capacity = Some(value().max(1)),
            "--hold-ms" => hold_ms = value(),
            "--drift-ms-per-s" => drift_ms = value(),
            _ => usage(),
        }
    }
    let slots = capacity.map(|capacity| {
        Arc::new(Slots {
            capacity,
            hold: Duration::from_millis(hold_ms),
            drift: Duration::from_millis(drift_ms),
            first: std::sync::OnceLock::new(),
            state: Mutex::new((0, 0)),
            freed: Condvar::new(),
        })
    });
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?.port())?;
    stdout.flush()?;
    for stream in listener.incoming().flatten() {
        let slots = slots.clone();
        std::thread::spawn(move || serve(stream, slots.as_deref()));
    }
    Ok(())
}

fn usage() -> ! {
    eprintln!("usage: bench_stub [--capacity N [--hold-ms MS] [--drift-ms-per-s MS]]");
    std::process::exit(2);
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: TcpStream, slots: Option<&Slots>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    let mut body = Vec::new();
    let mut registered = 0u64;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let post = line.starts_with("POST ");
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
        let answer = if post {
            if let Some(slots) = slots {
                slots.hold();
            }
            registered += 1;
            format!(
                "{{\"user_id\":\"@u{registered}:bench\",\"access_token\":\"t{registered}\",\"device_id\":\"D\",\"home_server\":\"bench\"}}"
            )
        } else {
            NONCE.to_owned()
        };
        write!(
            writer,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{answer}",
            answer.len()
        )?;
    }
}
