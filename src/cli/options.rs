//! From the parsed command line to checked, typed options: every file is
//! read and every rule that can be checked locally is checked here, before
//! anything is sent.

use crate::cli::concurrency::Jobs;
use crate::cli::config::{Config, SecretFile, read_secret_or_empty};
use crate::cli::error::{Error, Result};
use crate::cli::mas::MAS_SECRET_ENV;
pub use crate::cli::mas::Route;
use crate::cli::notice::Notice;
use crate::cli::rules::{self, Rejection};
use crate::cli::server::{plain_http_warning, server_address};
use crate::cli::{Cli, DEFAULT_JOBS, OutputFormat, SECRET_ENV};
use crate::client::{CaCert, HttpOptions, IfExists};
use crate::secret::SecretString;
use reqwest::Url;
use std::io::BufRead;
use std::time::Duration;

/// Where the password comes from.
#[derive(Debug)]
pub enum PasswordSource {
    Given(SecretString),
    Generate,
    Prompt,
}

/// Everything a single registration needs, checked.
#[derive(Debug)]
pub struct Options {
    /// The homeserver's; on the MAS path, MAS's.
    pub server_url: Url,
    /// How the account is created.
    pub route: Route,
    /// From the config, when given.
    pub server_name: Option<String>,
    /// Extra user types from the config; `None` without a config.
    pub extra_user_types: Option<Vec<String>>,
    /// A config is given and does not allow localparts starting with `_`.
    pub refuse_underscore_prefix: bool,
    /// The localpart, or `None` to prompt.
    pub localpart: Option<String>,
    pub password: PasswordSource,
    /// `None` to prompt.
    pub admin: Option<bool>,
    pub user_type: Option<String>,
    pub display_name: Option<String>,
    pub if_exists: IfExists,
    pub output: OutputFormat,
    pub http: HttpOptions,
    /// Notices and warnings to show before acting.
    pub notices: Vec<Notice>,
}

/// What the command line asks for, decided once.
#[derive(Debug)]
pub enum Mode {
    /// Register one user (`-u`, or prompts).
    One(Options),
    /// Register every row of a file (`--batch`).
    Batch {
        options: Options,
        /// The file, or `-` for stdin.
        path: std::path::PathBuf,
        /// Registrations in flight at once.
        jobs: Jobs,
    },
}

impl Mode {
    /// As [`Options::from_cli`], after the batch options are taken out;
    /// `env_secret` is read only when the mode is valid.
    pub fn from_cli(
        mut cli: Cli,
        env_secret: impl FnOnce() -> Result<Option<String>>,
        stdin: &mut dyn BufRead,
    ) -> Result<Self> {
        // Batch mode shares the secret, server and TLS options; clap rules
        // out the single-user ones (-u, -p, ...), so nothing is prompted for.
        let (batch, jobs) = (cli.batch.take(), cli.jobs);
        if batch.is_none() && jobs.is_some() {
            return Err(Error::usage(
                "--jobs applies only with --batch: a single registration is one request",
            ));
        }
        refuse_two_stdin_readers(&cli, batch.as_deref())?;
        let options = Options::from_cli(cli, env_secret()?, stdin)?;
        Ok(match batch {
            Some(path) => Mode::Batch {
                options,
                path,
                jobs: jobs.unwrap_or(DEFAULT_JOBS),
            },
            None => Mode::One(options),
        })
    }
}

impl Options {
    /// `env_secret` is the value of `MATRIX_REGISTRATION_SHARED_SECRET`;
    /// `stdin` is read only for `--password-stdin`.
    pub fn from_cli(
        mut cli: Cli,
        env_secret: Option<String>,
        stdin: &mut dyn BufRead,
    ) -> Result<Self> {
        let mut notices = Vec::new();
        if cli.output == OutputFormat::Token && cli.generate_password {
            return Err(Error::usage(
                "--generate-password cannot be used with -o token: the generated password would be lost (use -o json)",
            ));
        }
        // An empty secret, wherever it comes from, is no secret: the next
        // source is used, as the reference ignores an empty -k.
        let mut empty_sources = Vec::new();
        if cli.shared_secret.as_deref() == Some("") {
            empty_sources.push("-k/--shared-secret");
        }
        if env_secret.as_deref() == Some("") {
            empty_sources.push(SECRET_ENV);
        }
        let cli_secret = cli.shared_secret.take().filter(|s| !s.is_empty());
        let env_secret = env_secret.filter(|s| !s.is_empty());
        let mas = crate::cli::mas::requested(&cli);
        if !mas
            && cli_secret.is_none()
            && cli.shared_secret_file.is_none()
            && env_secret.is_none()
            && cli.config.is_empty()
        {
            return Err(no_secret_source(&empty_sources));
        }

        let config = if cli.config.is_empty() {
            None
        } else {
            let (files, path_notices) = crate::cli::config_paths::expand(&cli.config)?;
            notices.extend(path_notices);
            let (mut config, config_notices) = Config::load(&files)?;
            notices.extend(config_notices);
            // Only directories without a .yaml file: messages name them.
            if files.is_empty() {
                config.name_sources(&cli.config);
            }
            // Before the secret: a delegating server's config often has none.
            if let Some(error) =
                crate::cli::delegation::from_config(&config, &delegation_request(&cli))
                    .filter(|_| !mas)
            {
                return Err(error);
            }
            Some(config)
        };

        let route = if mas {
            let (route, mas_notices) =
                crate::cli::mas::route(&cli, config.as_ref(), std::env::var(MAS_SECRET_ENV).ok())?;
            notices.extend(mas_notices);
            Route::Mas(route)
        } else {
            Route::SharedSecret(shared_secret(
                &cli,
                cli_secret,
                env_secret,
                config.as_ref(),
                &mut notices,
                empty_sources,
            )?)
        };

        // An empty -p or -u means "ask", as in the reference.
        let password = if let Some(password) = cli.password.filter(|p| !p.is_empty()) {
            PasswordSource::Given(SecretString::new(password))
        } else if let Some(path) = &cli.password_file {
            // The reference strips the file's surrounding whitespace too.
            let (password, notice) = read_password_file(path)?;
            notices.extend(notice);
            PasswordSource::Given(password)
        } else if cli.password_stdin {
            PasswordSource::Given(crate::cli::prompt::password_from_stdin(stdin)?)
        } else if cli.generate_password {
            PasswordSource::Generate
        } else {
            PasswordSource::Prompt
        };
        if let PasswordSource::Given(password) = &password {
            let source = password_option(&cli.password_file, cli.password_stdin);
            rules::check_password(password).map_err(|rejection| rejection.labelled(source))?;
            if let Route::Mas(route) = &route {
                crate::cli::mas::check_password(password, route.minimum_complexity, source)?;
            }
        }

        let (server_url, unix_socket) = match &route {
            Route::Mas(route) => (route.url.clone(), None),
            Route::SharedSecret(_) => {
                let address = server_address(cli.server_url, cli.unix_socket, config.as_ref())?;
                notices.extend(address.notice);
                (address.url, address.unix_socket)
            }
        };

        let server_name = config
            .as_ref()
            .and_then(|c| c.server_name().map(str::to_owned))
            .or_else(|| match &route {
                Route::Mas(route) => route.server_name.clone(),
                Route::SharedSecret(_) => None,
            });
        let extra_user_types = config.as_ref().map(Config::extra_user_types);
        let refuse_underscore_prefix = config
            .as_ref()
            .is_some_and(|c| !c.allow_underscore_prefixed_localpart());

        let localpart = match cli.user.filter(|u| !u.is_empty()) {
            Some(user) => {
                let label = |rejection: Rejection| rejection.labelled("-u/--user");
                let localpart =
                    rules::localpart_from_user_arg(&user, server_name.as_deref()).map_err(label)?;
                rules::check_localpart(localpart, server_name.as_deref(), refuse_underscore_prefix)
                    .map_err(label)?;
                Some(localpart.to_owned())
            }
            None => None,
        };
        if let Route::Mas(_) = &route {
            crate::cli::mas::refuse_unsupported(
                cli.user_type.as_deref(),
                cli.display_name.as_deref(),
            )?;
        }
        if let Some(user_type) = &cli.user_type {
            rules::check_user_type(user_type, extra_user_types.as_deref())
                .map_err(|rejection| rejection.labelled("-t/--user_type"))?;
        }

        let admin = match (cli.admin, cli.no_admin) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };

        let timeout = seconds(cli.timeout, "--timeout")?
            .filter(|t| !t.is_zero())
            .ok_or_else(|| Error::usage("--timeout must be more than 0 seconds"))?;
        let wait = match cli.wait {
            Some(wait) => seconds(wait, "--wait")?,
            None => None,
        };
        if cli.insecure {
            notices.push(Notice::Insecure);
        }
        // Over a Unix socket the URL's host is only a header: nothing leaves
        // this machine.
        if let Some(warning) = plain_http_warning(&server_url).filter(|_| unix_socket.is_none()) {
            notices.push(warning);
        }

        Ok(Options {
            server_url,
            route,
            server_name,
            extra_user_types,
            refuse_underscore_prefix,
            localpart,
            password,
            admin,
            user_type: cli.user_type,
            display_name: cli.display_name,
            if_exists: match cli.exists_ok {
                true => IfExists::Succeed,
                false => IfExists::Fail,
            },
            output: cli.output,
            http: HttpOptions {
                timeout,
                wait,
                cacert: cli.cacert.map(CaCert::File),
                insecure: cli.insecure,
                pool_size: 1,
                unix_socket,
            },
            notices,
        })
    }
}

/// The shared secret: -k, else --shared-secret-file, else the environment,
/// else the config (-k and --shared-secret-file exclude each other).
fn shared_secret(
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

/// What was asked, for the `mas-cli` advice to a delegating server.
fn delegation_request(cli: &Cli) -> crate::cli::delegation::Request<'_> {
    crate::cli::delegation::Request {
        user: cli.user.as_deref().filter(|u| !u.is_empty()),
        admin: match (cli.admin, cli.no_admin) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        display_name: cli.display_name.as_deref(),
        user_type: cli.user_type.as_deref(),
        generate_password: cli.generate_password,
    }
}

/// `empty` names the sources that were given but empty.
fn no_secret_source(empty: &[&str]) -> Error {
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

fn password_option(file: &Option<std::path::PathBuf>, stdin: bool) -> &'static str {
    match (file, stdin) {
        (Some(_), _) => "--password-file",
        (None, true) => "--password-stdin",
        (None, false) => "-p/--password",
    }
}

/// The secret in `--shared-secret-file`, or `None` with a notice when the
/// file is empty: an empty secret is no secret, and the next source is used.
/// Two options that read standard input (`/dev/stdin` as a file counts):
/// the first would take it all and the second find it empty, and be blamed
/// for it ("Password cannot be blank").
fn refuse_two_stdin_readers(cli: &Cli, batch: Option<&std::path::Path>) -> Result<()> {
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

fn read_password_file(path: &std::path::Path) -> Result<(SecretString, Option<Notice>)> {
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

/// An empty `--shared-secret-file` is a notice and no secret (the next
/// source is used); an empty `--password-file`, the blank password refused.
#[cfg(test)]
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

#[cfg(test)]
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

/// A positive, finite number of seconds; `None` for zero.
fn seconds(value: f64, option: &str) -> Result<Option<Duration>> {
    if !value.is_finite() || !(0.0..=1e9).contains(&value) {
        return Err(Error::usage(format!(
            "{option} takes a number of seconds, not {value}"
        )));
    }
    Ok((value > 0.0).then(|| Duration::from_secs_f64(value)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn options(args: &[&str]) -> Result<Options> {
        options_with(args, None, "")
    }

    fn options_with(args: &[&str], env: Option<&str>, stdin: &str) -> Result<Options> {
        let mut argv = vec!["register_new_matrix_user"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).map_err(|e| Error::usage(e.to_string()))?;
        Options::from_cli(cli, env.map(str::to_owned), &mut stdin.as_bytes())
    }

    #[test]
    fn secret_precedence_is_k_then_file_then_env_then_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-file\n").unwrap();
        let config = dir.path().join("hs.yaml");
        std::fs::write(&config, "registration_shared_secret: from-config\n").unwrap();
        let (f, c) = (file.to_str().unwrap(), config.to_str().unwrap());
        let secret = |args: &[&str], env| match options_with(args, env, "").unwrap().route {
            Route::SharedSecret(secret) => secret.expose().to_owned(),
            Route::Mas(_) => panic!("no MAS option was given"),
        };
        assert_eq!(
            secret(&["-u", "a", "-p", "p", "-a", "-k", "from-k"], Some("env")),
            "from-k"
        );
        assert_eq!(
            secret(
                &[
                    "-u",
                    "a",
                    "-p",
                    "p",
                    "-a",
                    "--shared-secret-file",
                    f,
                    "-c",
                    c
                ],
                Some("env")
            ),
            "from-file"
        );
        assert_eq!(
            secret(&["-u", "a", "-p", "p", "-a", "-c", c], Some("from-env")),
            "from-env"
        );
        assert_eq!(
            secret(&["-u", "a", "-p", "p", "-a", "-c", c], None),
            "from-config"
        );
        assert_eq!(
            secret(&["-u", "a", "-p", "p", "-a"], Some("only-env")),
            "only-env"
        );
    }

    #[test]
    fn some_secret_source_is_required() {
        let error = options(&["-u", "a", "-p", "p"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error
                .to_string()
                .contains("-c/--config -k/--shared-secret is required")
        );
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

    #[test]
    fn mutually_exclusive_options_are_usage_errors() {
        for args in [
            &["-k", "s", "-c", "x"][..],
            &["-k", "s", "-p", "a", "--password-file", "f"],
            &["-k", "s", "-a", "--no-admin"],
            &["-k", "s", "--shared-secret-file", "f"],
            &["-k", "s", "--password-stdin", "--generate-password"],
        ] {
            assert_eq!(options(args).unwrap_err().exit_code(), 2, "{args:?}");
        }
        let error =
            options(&["-k", "s", "-u", "a", "--generate-password", "-o", "token"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
    }

    #[test]
    fn password_sources() {
        let o = options_with(&["-k", "s", "--password-stdin"], None, "from stdin\n").unwrap();
        assert!(matches!(o.password, PasswordSource::Given(p) if p.expose() == "from stdin"));
        let o = options(&["-k", "s", "--generate-password"]).unwrap();
        assert!(matches!(o.password, PasswordSource::Generate));
        let o = options(&["-k", "s"]).unwrap();
        assert!(matches!(o.password, PasswordSource::Prompt));
        let o = options(&["-k", "s", "-p", "", "-u", ""]).unwrap();
        assert!(matches!(o.password, PasswordSource::Prompt));
        assert_eq!(o.localpart, None);
        let long = "x".repeat(513);
        assert_eq!(
            options(&["-k", "s", "-p", &long]).unwrap_err().exit_code(),
            3
        );
    }

    #[test]
    fn server_url_discovery_and_notices() {
        let o = options(&["-k", "s"]).unwrap();
        assert_eq!(o.server_url.as_str(), "http://localhost:8008/");
        assert!(
            o.notices[0]
                .to_string()
                .contains("No server url or configuration file given")
        );
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hs.yaml");
        std::fs::write(&config, "registration_shared_secret: s\n").unwrap();
        let o = options(&["-c", config.to_str().unwrap()]).unwrap();
        assert!(
            o.notices[0]
                .to_string()
                .contains("Unable to find a suitable HTTP listener")
        );
        let o = options(&["-k", "s", "https://matrix.example.org/"]).unwrap();
        assert!(o.notices.is_empty());
        let o = options(&["-k", "s", "http://matrix.example.org/"]).unwrap();
        assert!(
            o.notices[0].to_string().contains("plain HTTP"),
            "{:?}",
            o.notices
        );
        let o = options(&["-k", "s", "http://127.0.0.1:8008"]).unwrap();
        assert!(o.notices.is_empty());
    }

    #[test]
    fn passwords_in_urls_are_not_repeated() {
        // The URL parser ends the authority at '/', '?' or '#': the password
        // is then taken for a port, and the whole URL is invalid.
        for url in [
            "http://a:hunter2@[::1",
            "http://a:hun/ter2@host",
            "http://a:hun?ter2@host",
            "http://a:hun#ter2@host",
            "http://a:hunter2@host",
        ] {
            let error = options(&["-k", "s", url]).unwrap_err();
            assert!(!error.to_string().contains("ter2"), "{error}");
            assert!(error.to_string().contains("a:***@"), "{error}");
        }
    }

    #[test]
    fn invalid_server_urls_are_input_errors() {
        for url in [
            "localhost:8008",
            "ftp://x",
            "http://",
            "not a url",
            "http://u:p@host/",
        ] {
            let error = options(&["-k", "s", url]).unwrap_err();
            assert_eq!(error.exit_code(), 3, "{url}");
            assert!(error.to_string().starts_with("server_url:"), "{error}");
        }
    }

    #[test]
    fn user_ids_are_checked_against_server_name() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hs.yaml");
        std::fs::write(
            &config,
            "registration_shared_secret: s\nserver_name: example.org\n",
        )
        .unwrap();
        let c = config.to_str().unwrap();
        let o = options(&["-c", c, "-u", "@Alice:example.org"]).unwrap();
        assert_eq!(o.localpart.as_deref(), Some("Alice"));
        assert_eq!(
            options(&["-c", c, "-u", "@alice:other.org"])
                .unwrap_err()
                .exit_code(),
            3
        );
        assert_eq!(
            options(&["-c", c, "-t", "robot"]).unwrap_err().exit_code(),
            3
        );
        options(&["-k", "s", "-t", "robot"]).unwrap();
    }

    #[test]
    fn timeouts_must_be_positive() {
        assert_eq!(
            options(&["-k", "s", "--timeout", "0"])
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            options(&["-k", "s", "--timeout", "-1"])
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            options(&["-k", "s", "--wait", "NaN"])
                .unwrap_err()
                .exit_code(),
            2
        );
        let o = options(&["-k", "s", "--timeout", "1.5", "--wait", "0"]).unwrap();
        assert_eq!(o.http.timeout, Duration::from_millis(1500));
        assert_eq!(o.http.wait, None);
    }

    #[test]
    fn a_unix_socket_takes_the_place_of_the_url_and_of_discovery() {
        let o = options(&["-k", "s", "--unix-socket", "/run/s.sock"]).unwrap();
        assert_eq!(o.server_url.as_str(), "http://localhost/");
        assert_eq!(
            o.http.unix_socket.as_deref(),
            Some(std::path::Path::new("/run/s.sock"))
        );
        assert!(o.notices.is_empty(), "{:?}", o.notices);
        // The host only names the Host header: no plain-HTTP warning.
        let o = options(&[
            "-k",
            "s",
            "--unix-socket",
            "/run/s.sock",
            "http://matrix.example.org/p",
        ])
        .unwrap();
        assert_eq!(o.server_url.as_str(), "http://matrix.example.org/p");
        assert!(o.notices.is_empty(), "{:?}", o.notices);

        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("hs.yaml");
        std::fs::write(
            &config,
            "registration_shared_secret: s\nlisteners: [{path: /run/main.sock, type: http, resources: [{names: [client]}]}]\n",
        )
        .unwrap();
        let c = config.to_str().unwrap();
        let o = options(&["-c", c]).unwrap();
        assert_eq!(
            o.http.unix_socket.as_deref(),
            Some(std::path::Path::new("/run/main.sock"))
        );
        assert_eq!(o.server_url.as_str(), "http://localhost/");
        // A URL given on the command line wins over the config's socket.
        let o = options(&["-c", c, "http://127.0.0.1:8008"]).unwrap();
        assert_eq!(o.http.unix_socket, None);
    }

    #[test]
    fn an_empty_secret_is_no_secret() {
        let secret = |args: &[&str], env| {
            options_with(args, env, "").map(|o| match o.route {
                Route::SharedSecret(secret) => (secret.expose().to_owned(), o.notices),
                Route::Mas(_) => panic!("no MAS option was given"),
            })
        };
        let (from_env, _) = secret(&["-k", ""], Some("from-env")).unwrap();
        assert_eq!(from_env, "from-env");
        let error = secret(&["-k", ""], None).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error.to_string().contains("-k/--shared-secret was empty"),
            "{error}"
        );
        let error = secret(&["-k", ""], Some("")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("-k/--shared-secret and MATRIX_REGISTRATION_SHARED_SECRET was empty"),
            "{error}"
        );

        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let empty = empty.to_str().unwrap();
        let (from_env, notices) =
            secret(&["--shared-secret-file", empty], Some("from-env")).unwrap();
        assert_eq!(from_env, "from-env");
        assert!(
            notices[0].to_string().contains("it is empty"),
            "{notices:?}"
        );
        let error = secret(&["--shared-secret-file", empty], None).unwrap_err();
        assert!(
            error.to_string().contains("--shared-secret-file was empty"),
            "{error}"
        );
        let config = dir.path().join("hs.yaml");
        std::fs::write(&config, "registration_shared_secret: from-config\n").unwrap();
        let (from_config, _) = secret(
            &[
                "--shared-secret-file",
                empty,
                "-c",
                config.to_str().unwrap(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(from_config, "from-config");
    }

    #[test]
    fn the_mode_is_decided_once() {
        let parse = |args: &[&str]| {
            let mut argv = vec!["register_new_matrix_user"];
            argv.extend_from_slice(args);
            let cli = Cli::try_parse_from(argv).unwrap();
            Mode::from_cli(cli, || Ok(None), &mut "".as_bytes())
        };
        let error = parse(&["-k", "s", "--jobs", "2", "-u", "a", "-p", "p"]).unwrap_err();
        assert_eq!(error.exit_code(), 2);
        assert!(
            error
                .to_string()
                .contains("--jobs applies only with --batch")
        );
        match parse(&["-k", "s", "--batch", "users.csv"]).unwrap() {
            Mode::Batch { path, jobs, .. } => {
                assert_eq!(path, std::path::Path::new("users.csv"));
                assert_eq!(jobs, DEFAULT_JOBS);
            }
            Mode::One(_) => panic!("--batch is batch mode"),
        }
        assert!(matches!(
            parse(&["-k", "s", "-u", "a", "-p", "p"]).unwrap(),
            Mode::One(_)
        ));
    }
}
