//! A registration endpoint that answers at once, for `scripts/bench`'s
//! client-cost measurement. What is measured there is the tool's own CPU
//! time, so this server must cost next to nothing: no MAC check, no hashing,
//! no state, one thread per kept-alive connection. It is not a Synapse and
//! proves nothing about the protocol (the tests do that).
//!
//! Listens on 127.0.0.1, prints the port on stdout, serves until killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

/// A nonce of the length Synapse's has; its value does not matter here.
const NONCE: &str = "{\"nonce\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}";

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", listener.local_addr()?.port())?;
    stdout.flush()?;
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || serve(stream));
    }
    Ok(())
}

/// Answers requests on one connection until the client closes it.
fn serve(stream: TcpStream) -> std::io::Result<()> {
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
