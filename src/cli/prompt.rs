//! Asking for what the command line left out, on the terminal only: with no
//! terminal the run fails at once and names the option to pass, instead of
//! waiting for input that will never come.

use crate::cli::error::{Error, Result};
use crate::secret::SecretString;
use std::io::{BufRead, IsTerminal, Read, Write};

/// Where prompts are written: stdout as the reference does, or stderr when
/// stdout carries JSON or a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptTo {
    Stdout,
    Stderr,
}

pub struct Prompter {
    to: PromptTo,
}

impl Prompter {
    pub fn new(to: PromptTo) -> Self {
        Prompter { to }
    }

    /// `New user localpart [DEFAULT]: `; an empty answer takes the default
    /// (the login name).
    pub fn localpart(&self) -> Result<String> {
        self.require_terminal("a user name", "-u USER")?;
        let default = login_name();
        let question = match &default {
            Some(name) => format!("New user localpart [{name}]: "),
            None => "New user localpart: ".to_owned(),
        };
        let answer = self.ask(&question, "-u USER")?;
        match (answer.is_empty(), default) {
            (true, Some(default)) => Ok(default),
            _ => Ok(answer),
        }
    }

    /// `Password: ` then `Confirm password: `, without echo.
    pub fn password(&self) -> Result<SecretString> {
        const HOW: &str = "--password-file FILE, --password-stdin or --generate-password";
        self.require_terminal("a password", HOW)?;
        let password = read_hidden("Password: ", HOW)?;
        if password.is_empty() {
            return Err(Error::input("password prompt", "Password cannot be blank."));
        }
        let confirmation = read_hidden("Confirm password: ", HOW)?;
        if password != confirmation {
            return Err(Error::input("password prompt", "Passwords do not match"));
        }
        Ok(password)
    }

    /// `Make admin [no]: `; y, yes and true (any case) mean yes.
    pub fn admin(&self) -> Result<bool> {
        self.require_terminal("whether the user is an admin", "-a/--admin or --no-admin")?;
        let answer = self.ask("Make admin [no]: ", "-a/--admin or --no-admin")?;
        Ok(matches!(
            answer.to_lowercase().as_str(),
            "y" | "yes" | "true"
        ))
    }

    fn require_terminal(&self, what: &str, option: &str) -> Result<()> {
        if std::io::stdin().is_terminal() {
            Ok(())
        } else {
            Err(Error::usage(format!(
                "no terminal to ask for {what} on: pass {option}"
            )))
        }
    }

    fn ask(&self, question: &str, option: &str) -> Result<String> {
        match self.to {
            PromptTo::Stdout => write_prompt(&mut std::io::stdout(), question),
            PromptTo::Stderr => write_prompt(&mut std::io::stderr(), question),
        }
        let mut line = String::new();
        let read = std::io::stdin().lock().read_line(&mut line);
        match read {
            Ok(0) => Err(Error::usage(format!(
                "no answer at the prompt: pass {option}"
            ))),
            Ok(_) => Ok(line.trim_end_matches(['\n', '\r']).to_owned()),
            Err(e) => Err(Error::usage(format!(
                "cannot read the answer ({e}): pass {option}"
            ))),
        }
    }
}

fn write_prompt(out: &mut dyn Write, question: &str) {
    // A prompt that cannot be shown is not fatal: the answer can still be typed.
    let _ = out.write_all(question.as_bytes());
    let _ = out.flush();
}

/// Asks on the controlling terminal with echo off, as Python's `getpass`
/// (the reference's) does: the terminal still edits the line (erase, kill)
/// and turns Ctrl-C into SIGINT, which the signal thread handles like any
/// other, putting echo back.
fn read_hidden(question: &str, option: &str) -> Result<SecretString> {
    use std::os::fd::AsFd;
    let refused = |reason: &str| {
        Error::usage(format!(
            "cannot read the password from the terminal ({reason}): pass {option}"
        ))
    };
    let unreadable = |e: std::io::Error| refused(&crate::files::io_reason(&e));
    let mut tty = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(unreadable)?;
    let fd = tty.try_clone().map_err(unreadable)?;
    // Echo goes off before the question shows, so that nothing typed after
    // it is ever echoed.
    let line = crate::cli::signals::without_echo(fd.as_fd(), || {
        write_prompt(&mut tty, question);
        read_line(&mut tty)
    })
    .map_err(unreadable)?;
    // A terminal that hung up fails the read (EIO) or ends it (no bytes,
    // and no terminal left to ask about); SIGHUP is on its way. The run
    // ends with 129, as the reference (killed by it) does, whichever of the
    // two this process sees first.
    let hung_up = match &line {
        Err(e) => e.raw_os_error() == Some(libc::EIO),
        Ok(None) => rustix::termios::tcgetattr(&fd).is_err(),
        Ok(Some(_)) => false,
    };
    if hung_up {
        crate::cli::signals::yield_to_a_signal_within(std::time::Duration::from_secs(1));
    }
    // The line end typed was not echoed.
    write_prompt(&mut tty, "\n");
    match line.map_err(unreadable)? {
        // Checked in place: a conversion error would keep an unwiped copy.
        Some(line) => std::str::from_utf8(&line)
            .map(|text| SecretString::new(text.to_owned()))
            .map_err(|_| refused("not valid UTF-8")),
        None => Err(refused("end of input")),
    }
}

/// One line from the terminal, without its line end; `None` at the end of
/// input (Ctrl-D on an empty line). The terminal hands over a line per read,
/// at most 4 KiB in canonical mode; every buffer that held a part of the
/// password is wiped, the outgrown ones included.
fn read_line(tty: &mut impl Read) -> std::io::Result<Option<zeroize::Zeroizing<Vec<u8>>>> {
    let mut line = zeroize::Zeroizing::new(Vec::with_capacity(8192));
    let mut chunk = zeroize::Zeroizing::new([0u8; 4096]);
    loop {
        let n = match tty.read(&mut chunk[..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok((!line.is_empty()).then_some(line));
        }
        if line.len() + n > line.capacity() {
            // Grown by hand: a Vec growing itself frees the old block
            // unwiped. Only a line fed in pieces with Ctrl-D gets here.
            let mut larger = zeroize::Zeroizing::new(Vec::with_capacity(2 * (line.len() + n)));
            larger.extend_from_slice(&line);
            line = larger;
        }
        line.extend_from_slice(&chunk[..n]);
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

/// The login name, as the reference's default localpart: the usual
/// environment variables, then the password database (cron jobs and
/// containers often set none of the variables).
fn login_name() -> Option<String> {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or_else(account_name)
}

/// The name of the account running us, from the password database.
fn account_name() -> Option<String> {
    // SAFETY: geteuid cannot fail and has no preconditions.
    let uid = unsafe { libc::geteuid() };
    crate::accounts::user_name(uid)?
        .into_string()
        .ok()
        .filter(|name| !name.is_empty())
}

/// Reads the password from one line of standard input (`--password-stdin`).
/// More than one line is refused rather than cut: the password meant may
/// be the whole text. One empty line after it is taken for a stray line
/// end (`echo pw; echo`).
pub fn password_from_stdin(input: &mut dyn BufRead) -> Result<SecretString> {
    let unreadable = |e: std::io::Error| {
        Error::input(
            "--password-stdin",
            format!("cannot read standard input: {e}"),
        )
    };
    let mut line = zeroize::Zeroizing::new(String::new());
    input.read_line(&mut line).map_err(unreadable)?;
    // Enough to tell an empty line from more text.
    let mut rest = zeroize::Zeroizing::new(Vec::new());
    std::io::Read::take(input, 3)
        .read_to_end(&mut rest)
        .map_err(unreadable)?;
    if !matches!(rest.as_slice(), b"" | b"\n" | b"\r\n") {
        return Err(Error::input(
            "--password-stdin",
            "standard input has more than one line; give the password alone, on one line",
        ));
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    Ok(SecretString::from(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_name_comes_from_the_password_database() {
        // `id -un` reads the same database, independently of our code.
        let id = std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap();
        let expected = String::from_utf8(id.stdout).unwrap();
        assert_eq!(account_name().as_deref(), Some(expected.trim_end()));
    }

    /// Hands out the reads given, one per call, then the end of input.
    struct Reads(std::collections::VecDeque<std::io::Result<&'static [u8]>>);

    impl Read for Reads {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.pop_front() {
                None => Ok(0),
                Some(Ok(bytes)) => {
                    buf[..bytes.len()].copy_from_slice(bytes);
                    Ok(bytes.len())
                }
                Some(Err(e)) => Err(e),
            }
        }
    }

    fn read_from(reads: Vec<std::io::Result<&'static [u8]>>) -> std::io::Result<Option<Vec<u8>>> {
        read_line(&mut Reads(reads.into())).map(|line| line.map(|line| line.to_vec()))
    }

    /// A read cut by a signal is tried again; any other error ends the
    /// prompt (a terminal that hung up fails every read: no busy loop).
    #[test]
    fn a_terminal_read_is_retried_only_when_interrupted() {
        use std::io::{Error, ErrorKind};
        let line = read_from(vec![Err(Error::from(ErrorKind::Interrupted)), Ok(b"pw\n")]);
        assert_eq!(line.unwrap().as_deref(), Some(&b"pw"[..]));
        let error =
            read_from(vec![Err(Error::from_raw_os_error(libc::EIO)), Ok(b"pw\n")]).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::EIO));
    }

    /// The line end goes (a carriage return before it too); a line in
    /// several reads (Ctrl-D mid-line) is joined; the end of input ends a
    /// partial line, and on an empty one it is `None`.
    #[test]
    fn a_terminal_line_loses_only_its_line_end() {
        for (reads, line) in [
            (vec![Ok(&b"pass word\n"[..])], Some(&b"pass word"[..])),
            (vec![Ok(b"pw\r\n")], Some(b"pw")),
            (vec![Ok(b"\n")], Some(b"")),
            (vec![Ok(b"ab"), Ok(b"cd\n")], Some(b"abcd")),
            (vec![Ok(b"ab")], Some(b"ab")),
            (vec![Ok(b"\r")], Some(b"\r")),
            (vec![], None),
        ] {
            assert_eq!(read_from(reads).unwrap().as_deref(), line);
        }
    }

    /// A line fed in 4 KiB pieces (Ctrl-D after each) outgrows the first
    /// buffer and arrives whole.
    #[test]
    fn a_terminal_line_longer_than_the_buffer_arrives_whole() {
        const PIECE: &[u8] = &[b'x'; 4096];
        let mut reads: Vec<_> = (0..5).map(|_| Ok(PIECE)).collect();
        reads.push(Ok(b"end\n"));
        let line = read_from(reads).unwrap().unwrap();
        assert_eq!(line.len(), 5 * 4096 + 3);
        assert!(line.ends_with(b"xend"));
    }

    #[test]
    fn stdin_password_loses_only_its_line_ending() {
        for (input, password) in [
            (&b" pass word \r\n"[..], " pass word "),
            (b"no-newline", "no-newline"),
            (b"", ""),
            (b"pw\n\n", "pw"),
            (b"pw\r\n\r\n", "pw"),
        ] {
            let mut input = input;
            assert_eq!(password_from_stdin(&mut input).unwrap().expose(), password);
        }
    }

    #[test]
    fn stdin_with_more_than_one_line_is_refused() {
        for input in [
            &b"first\nsecond\n"[..],
            b"first\nsecond",
            b"first\n\n\n",
            b"first\n \n",
            b"\nsecond\n",
        ] {
            let mut reader = input;
            let error = password_from_stdin(&mut reader).unwrap_err();
            assert_eq!(
                error.to_string(),
                "--password-stdin: standard input has more than one line; give the password alone, on one line",
                "{input:?}"
            );
            assert_eq!(error.exit_code(), 3);
        }
    }
}
