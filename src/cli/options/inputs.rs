//! What the options read besides the config and the shared secret: the
//! password file, and standard input by one option at the most.

use crate::cli::Cli;
use crate::cli::config::{SecretFile, read_secret_or_empty};
use crate::cli::error::{Error, Result};
use crate::cli::notice::Notice;
use crate::secret::SecretString;

pub(super) fn password_option(file: &Option<std::path::PathBuf>, stdin: bool) -> &'static str {
    match (file, stdin) {
        (Some(_), _) => "--password-file",
        (None, true) => "--password-stdin",
        (None, false) => "-p/--password",
    }
}

/// Two options that read standard input (`/dev/stdin` as a file counts):
/// the first would take it all and the second find it empty, and be blamed
/// for it ("Password cannot be blank").
pub(super) fn refuse_two_stdin_readers(cli: &Cli, batch: Option<&std::path::Path>) -> Result<()> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let stdin = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .and_then(|fd| std::fs::File::from(fd).metadata().ok())
        .map(|m| (m.dev(), m.ino()));
    let is_stdin = |path: &std::path::Path| {
        stdin.is_some() && std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino())) == stdin
    };
    let files = [
        ("--password-file", cli.password_file.as_deref()),
        ("--shared-secret-file", cli.shared_secret_file.as_deref()),
        (
            "--mas-client-secret-file",
            cli.mas_client_secret_file.as_deref(),
        ),
        ("--mas-token-file", cli.mas_token_file.as_deref()),
    ];
    let readers: Vec<&str> = [("--password-stdin", cli.password_stdin)]
        .into_iter()
        .chain([(
            "--batch",
            batch.is_some_and(|p| p.as_os_str() == "-" || is_stdin(p)),
        )])
        .chain(files.map(|(name, path)| (name, path.is_some_and(is_stdin))))
        .filter_map(|(name, reads)| reads.then_some(name))
        .collect();
    if let [first, second, ..] = readers[..] {
        return Err(Error::usage(format!(
            "{first} and {second} both read standard input: only one can (give the other a file)"
        )));
    }
    Ok(())
}

pub(super) fn read_password_file(path: &std::path::Path) -> Result<(SecretString, Option<Notice>)> {
    match read_secret_or_empty(path, None)? {
        SecretFile::Held(password, notice) => Ok((password, notice)),
        // A named pipe is not waited for: nothing written means no writer yet.
        SecretFile::Empty
            if std::fs::metadata(path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type())) =>
        {
            Err(Error::input(
                "--password-file",
                format!(
                    "{}: is a named pipe with nothing written to it: its writer must have it open before this runs (it is not waited for)",
                    path.display()
                ),
            ))
        }
        // An empty password file is the server's "blank password" refusal,
        // said before sending.
        SecretFile::Empty => Err(Error::input(
            "--password-file",
            format!("{}: Password cannot be blank.", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_fifo_without_a_writer_is_said_to_be_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let m = read_password_file(&path).unwrap_err().to_string();
        assert!(
            m.contains("is a named pipe with nothing written to it"),
            "{m}"
        );
    }
}
