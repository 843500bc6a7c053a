//! Speaking HTTP over a Unix-socket listener (Synapse's `path:` listeners,
//! 1.81+), and what to say when the socket cannot be used.

use crate::error::{Error, Result};
use std::path::Path;

/// How messages name the socket.
pub fn name(socket: &Path) -> String {
    format!("the Unix socket {}", socket.display())
}

/// Sends every request of the client through the socket.
#[cfg(unix)]
pub fn connect_through(
    builder: reqwest::ClientBuilder,
    socket: &Path,
) -> Result<reqwest::ClientBuilder> {
    Ok(builder.unix_socket(socket.to_owned()))
}

#[cfg(not(unix))]
pub fn connect_through(
    _builder: reqwest::ClientBuilder,
    socket: &Path,
) -> Result<reqwest::ClientBuilder> {
    Err(Error::input(
        format!("unix socket {}", socket.display()),
        "Unix sockets need a Unix system",
    ))
}

/// A failure to connect to the socket, with what to do about it. Nothing
/// was sent, so these are connect failures that `--wait` retries.
pub fn connect_error(socket: &Path, error: &std::io::Error) -> Error {
    let shown = name(socket);
    let (problem, hint) = match error.kind() {
        std::io::ErrorKind::NotFound => (
            format!("{shown} does not exist"),
            "is the server running, and is this the path: of its client listener? Synapse creates the socket when it starts".to_owned(),
        ),
        std::io::ErrorKind::PermissionDenied => (
            format!("permission denied on {shown}"),
            permission_hint(socket),
        ),
        std::io::ErrorKind::ConnectionRefused if !is_socket(socket) => (
            format!("{} is not a Unix socket", socket.display()),
            "pass the path: of the server's client listener".to_owned(),
        ),
        std::io::ErrorKind::ConnectionRefused => (
            format!("nothing listens on {shown}"),
            "is it a socket left behind by a server that stopped? Start the server, or check the listener's path:".to_owned(),
        ),
        _ => (
            format!("cannot connect to {shown}: {}", crate::files::io_reason(error)),
            "is this the path: of the server's client listener?".to_owned(),
        ),
    };
    Error::transport(problem, Some(&hint))
}

#[cfg(unix)]
fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

#[cfg(not(unix))]
fn is_socket(_path: &Path) -> bool {
    false
}

/// Why this user may not connect: the socket's own mode and owner, or a
/// directory on the way that it may not enter.
#[cfg(unix)]
fn permission_hint(socket: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let metadata = match std::fs::metadata(socket) {
        Ok(metadata) => metadata,
        Err(_) => {
            let dir = socket.parent().unwrap_or(Path::new("/"));
            return format!(
                "this user may not enter {} (or a directory above it): run as the server's user (sudo -u USER ...) or add this user to the directory's group",
                dir.display()
            );
        }
    };
    format!(
        "connecting needs write permission on the socket, which is {} with mode {:o}: run as that user or group (sudo -u USER ...), or widen the listener's mode: (Synapse's default is 666)",
        owner(metadata.uid(), metadata.gid()),
        metadata.mode() & 0o777
    )
}

#[cfg(not(unix))]
fn permission_hint(_socket: &Path) -> String {
    "run as the server's user".to_owned()
}

/// `user:group` by name where the system knows them, else by number.
#[cfg(unix)]
fn owner(uid: u32, gid: u32) -> String {
    use crate::accounts::{group_name, user_name};
    let user = user_name(uid).map_or_else(|| uid.to_string(), |n| n.to_string_lossy().into_owned());
    let group =
        group_name(gid).map_or_else(|| gid.to_string(), |n| n.to_string_lossy().into_owned());
    format!("owned by {user}:{group}")
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn connect_errors_name_the_socket_and_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("main.sock");
        let error = connect_error(&socket, &ErrorKind::NotFound.into());
        assert_eq!(
            error.to_string(),
            format!("the Unix socket {} does not exist", socket.display())
        );
        assert!(error.is_unreachable());

        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660)).unwrap();
        let error = connect_error(&socket, &ErrorKind::PermissionDenied.into());
        let hint = error.hint().unwrap().to_string();
        assert!(
            error
                .to_string()
                .starts_with("permission denied on the Unix socket")
        );
        assert!(hint.contains("with mode 660"), "{hint}");
        assert!(hint.contains("owned by "), "{hint}");
        drop(listener);
        // Left behind by a server that stopped: the file is still a socket.
        let error = connect_error(&socket, &ErrorKind::ConnectionRefused.into());
        assert!(
            error
                .to_string()
                .starts_with("nothing listens on the Unix socket"),
            "{error}"
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let error = connect_error(&file, &ErrorKind::ConnectionRefused.into());
        assert_eq!(
            error.to_string(),
            format!("{} is not a Unix socket", file.display())
        );

        let inside = dir.path().join("locked").join("main.sock");
        let hint = connect_error(&inside, &ErrorKind::PermissionDenied.into())
            .hint()
            .unwrap()
            .to_string();
        assert!(
            hint.contains(&format!(
                "may not enter {}",
                dir.path().join("locked").display()
            )),
            "{hint}"
        );
    }
}
