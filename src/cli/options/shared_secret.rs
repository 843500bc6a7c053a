//! The shared secret: which source gives it, and the usage error when
//! none does.

use crate::cli::config::{Config, SecretFile, read_secret_or_empty};
use crate::cli::error::{Error, Result};
use crate::cli::notice::Notice;
use crate::cli::{Cli, SECRET_ENV};
use crate::secret::SecretString;

/// The shared secret: -k, else --shared-secret-file, else the environment,
/// else the config (-k and --shared-secret-file exclude each other).
pub(super) fn shared_secret(
    cli: &Cli,
    cli_secret: Option<String>,
    env_secret: Option<String>,
    config: Option<&Config>,
    notices: &mut Vec<Notice>,
    mut empty_sources: Vec<&'static str>,
) -> Result<SecretString> {
    let file_secret = match &cli.shared_secret_file {
        Some(path) => {
            let (secret, notice) = read_shared_secret_file(path)?;
            notices.extend(notice);
            if secret.is_none() {
                empty_sources.push("--shared-secret-file");
            }
            secret
        }
        None => None,
    };
    Ok(if let Some(secret) = cli_secret {
        SecretString::new(secret)
    } else if let Some(secret) = file_secret {
        secret
    } else if let Some(secret) = env_secret {
        SecretString::new(secret)
    } else if let Some(config) = config {
        let (secret, notice) = config
            .shared_secret()
            .map_err(|error| crate::cli::config_paths::secret_elsewhere_hint(config, error))
            .map_err(|error| crate::cli::config_paths::confd_hint(config, &cli.config, error))?;
        notices.extend(notice);
        secret
    } else {
        return Err(no_secret_source(&empty_sources));
    })
}

/// `empty` names the sources that were given but empty.
pub(super) fn no_secret_source(empty: &[&str]) -> Error {
    no_secret_source_under(std::path::Path::new("/"), empty)
}

/// The reference's usage error, plus the sources that were given but empty,
/// and the configs found in the usual places with the `-c` options that
/// read them (`root` is `/` outside tests).
fn no_secret_source_under(root: &std::path::Path, empty: &[&str]) -> Error {
    let mut message = format!(
        "one of the arguments -c/--config -k/--shared-secret is required (or --shared-secret-file, or {SECRET_ENV} in the environment)"
    );
    if !empty.is_empty() {
        message.push_str(&format!(
            "; an empty secret counts as none: {} was empty",
            empty.join(" and ")
        ));
    }
    let found = crate::cli::config_paths::usual_configs(root);
    if !found.is_empty() {
        message.push_str(&format!(
            "; this machine has a homeserver config: pass {}",
            found.join(", or ")
        ));
    }
    Error::usage(message)
}

/// The secret in `--shared-secret-file`, or `None` with a notice when the
/// file is empty: an empty secret is no secret, and the next source is used.
fn read_shared_secret_file(
    path: &std::path::Path,
) -> Result<(Option<SecretString>, Option<Notice>)> {
    Ok(match read_secret_or_empty(path, None)? {
        SecretFile::Held(secret, notice) => (Some(secret), notice),
        SecretFile::Empty => (
            None,
            Some(Notice::EmptySecretFile {
                file: path.to_owned(),
            }),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::super::inputs::read_password_file;
    use super::*;

    /// An empty `--shared-secret-file` is a notice and no secret (the next
    /// source is used); an empty `--password-file`, the blank password refused.
    #[test]
    fn empty_secret_files_are_told_apart_from_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty");
        std::fs::write(&path, " \n").unwrap();
        let (secret, notice) = read_shared_secret_file(&path).unwrap();
        assert!(secret.is_none());
        assert_eq!(notice, Some(Notice::EmptySecretFile { file: path.clone() }));
        let refused = read_password_file(&path).unwrap_err().to_string();
        assert!(
            refused.ends_with("empty: Password cannot be blank."),
            "{refused}"
        );
        let missing = read_shared_secret_file(&dir.path().join("missing")).unwrap_err();
        assert!(missing.to_string().contains("missing"), "{missing}");
    }

    #[test]
    fn a_missing_secret_source_names_the_configs_in_the_usual_places() {
        let root = tempfile::tempdir().unwrap();
        let plain = no_secret_source_under(root.path(), &[]).to_string();
        assert!(!plain.contains("this machine has"), "{plain}");
        let etc = root.path().join("etc/matrix-synapse");
        std::fs::create_dir_all(etc.join("conf.d")).unwrap();
        std::fs::write(etc.join("homeserver.yaml"), "").unwrap();
        let error = no_secret_source_under(root.path(), &[]);
        assert_eq!(error.exit_code(), 2);
        assert!(
            error.to_string().ends_with(&format!(
                "; this machine has a homeserver config: pass -c {0}/homeserver.yaml -c {0}/conf.d",
                etc.display()
            )),
            "{error}"
        );
    }
}
