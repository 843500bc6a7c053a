//! From the parsed command line to checked, typed options: every file is
//! read and every rule that can be checked locally is checked here, before
//! anything is sent.

mod inputs;
mod shared_secret;
#[cfg(test)]
mod tests;

use crate::cli::concurrency::Jobs;
use crate::cli::config::Config;
use crate::cli::error::{Error, Result};
use crate::cli::mas::MAS_SECRET_ENV;
pub use crate::cli::mas::Route;
use crate::cli::notice::Notice;
use crate::cli::rules::{self, Rejection};
use crate::cli::server::{plain_http_warning, server_address};
use crate::cli::{Cli, DEFAULT_JOBS, OutputFormat, SECRET_ENV};
use crate::client::{CaCert, HttpOptions, IfExists};
use crate::secret::SecretString;
use inputs::{password_option, read_password_file, refuse_two_stdin_readers};
use reqwest::Url;
use shared_secret::{no_secret_source, shared_secret};
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

/// A positive, finite number of seconds; `None` for zero.
fn seconds(value: f64, option: &str) -> Result<Option<Duration>> {
    if !value.is_finite() || !(0.0..=1e9).contains(&value) {
        return Err(Error::usage(format!(
            "{option} takes a number of seconds, not {value}"
        )));
    }
    Ok((value > 0.0).then(|| Duration::from_secs_f64(value)))
}
