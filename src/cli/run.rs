//! Acting on checked options: prompt for what is missing, register, report.

use crate::cli::error::{EXIT_OK, Error, Result};
use crate::cli::ledger::{self, Held, Report};
use crate::cli::mas::Registrar;
use crate::cli::options::{Mode, Options, PasswordSource, Route};
use crate::cli::output::Reporter;
use crate::cli::prompt::{PromptTo, Prompter};
use crate::cli::rules::{self, Rejection};
use crate::cli::{Cli, OutputFormat, SECRET_ENV};
use crate::client::{AccessToken, NewUser, Outcome, Registered};
use crate::secret::SecretString;
use std::io::Write;

/// Runs the whole command and returns the exit status.
pub fn run(cli: Cli) -> i32 {
    if let Some(shell) = cli.completions {
        // Generated into memory: clap_complete panics when its writer fails.
        let mut script = Vec::new();
        clap_complete::generate(
            shell,
            &mut crate::cli::command(),
            "register_new_matrix_user",
            &mut script,
        );
        let mut out = std::io::stdout().lock();
        let written = out.write_all(&script).and_then(|()| out.flush());
        return stdout_written(written);
    }
    crate::cli::signals::install();
    super::log::install(cli.verbose);
    let reporter = Reporter::new(cli.output);
    // The stdin lock ends here: batch mode may read its rows from stdin.
    let mode = Mode::from_cli(cli, env_secret, &mut std::io::stdin().lock());
    match mode {
        Ok(Mode::One(options)) => register_one(options, &reporter),
        Ok(Mode::Batch {
            options,
            path,
            jobs,
        }) => crate::cli::batch::run(options, &path, jobs),
        Err(error) => {
            reporter.failed(&error, None, None);
            error.exit_code()
        }
    }
}

/// What the arguments could not be parsed into: `--help` or `--version`
/// (on stdout, exit 0, or 5 when stdout cannot take it, as for
/// `--completions`; see `stdout_written`) or a usage error (on stderr,
/// exit 2).
pub fn arguments_refused(error: clap::Error) -> i32 {
    if !matches!(
        error.kind(),
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
    ) {
        error.exit();
    }
    stdout_written(error.print().and_then(|()| std::io::stdout().flush()))
}

/// The exit status of output that only goes to stdout (help, version,
/// completions): 0, or 5 with the reason on stderr.
///
/// A reader that has gone (`--help | grep -q ...`, `| head -1`) took what
/// it wanted: exit 0 without a word, as ripgrep does, so that a pipeline
/// under `pipefail` does not fail on it. A full disk lost the text: 5.
fn stdout_written(written: std::io::Result<()>) -> i32 {
    match written {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => EXIT_OK,
        Err(e) => {
            let error = Error::Output(format!(
                "cannot write to stdout ({})",
                crate::files::io_reason(&e)
            ));
            crate::cli::output::report_error(&error);
            error.exit_code()
        }
    }
}

fn env_secret() -> Result<Option<String>> {
    match std::env::var(SECRET_ENV) {
        Ok(secret) => Ok(Some(secret)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(Error::input(SECRET_ENV, "is not valid UTF-8"))
        }
    }
}

/// One registration, reported; returns the exit status.
pub fn register_one(options: Options, reporter: &Reporter) -> i32 {
    let reporter = &match options.route {
        Route::Mas(_) => reporter.through_mas(),
        Route::SharedSecret(_) => *reporter,
    };
    for notice in &options.notices {
        reporter.notice(notice);
    }
    match register(options, reporter) {
        Ok(()) => EXIT_OK,
        Err(failed) => {
            let Failed {
                error,
                user_id,
                at_risk,
                held,
            } = *failed;
            let report = || reporter.failed(&error, user_id.as_deref(), at_risk.as_ref());
            match held {
                Some(held) => held.settle(report),
                None => report(),
            }
            error.exit_code()
        }
    }
}

/// A registration that failed, with what reporting it takes.
struct Failed {
    error: Error,
    /// The user ID, once known.
    user_id: Option<String>,
    /// A generated password the account may exist with although the run
    /// failed: it must be shown.
    at_risk: Option<SecretString>,
    /// The registration's place in the ledger, while it has one: the
    /// failure is reported through it.
    held: Option<Held>,
}

impl Failed {
    fn new(error: Error, user_id: Option<String>) -> Box<Failed> {
        Box::new(Failed {
            error,
            user_id,
            at_risk: None,
            held: None,
        })
    }

    fn held(error: Error, user_id: Option<String>, held: Held) -> Box<Failed> {
        Box::new(Failed {
            held: Some(held),
            ..*Failed::new(error, user_id)
        })
    }
}

/// Prompts for what is missing, registers and reports the result.
fn register(options: Options, reporter: &Reporter) -> std::result::Result<(), Box<Failed>> {
    let prompter = Prompter::new(match options.output {
        OutputFormat::Text => PromptTo::Stdout,
        OutputFormat::Json | OutputFormat::Token => PromptTo::Stderr,
    });
    let server_name = options.server_name.as_deref();
    let localpart = match options.localpart {
        Some(localpart) => localpart,
        None => ask_localpart(&prompter, server_name, options.refuse_underscore_prefix)
            .map_err(|error| Failed::new(error, None))?,
    };
    let user_id = server_name.map(|server_name| rules::user_id(&localpart, server_name));
    let failed = |error| Failed::new(error, user_id.clone());
    let (password, generated) = match options.password {
        PasswordSource::Given(password) => (password, false),
        PasswordSource::Generate => (crate::cli::password::generate().map_err(failed)?, true),
        PasswordSource::Prompt => (
            ask_password(&prompter, &options.route).map_err(failed)?,
            false,
        ),
    };
    let admin = match options.admin {
        Some(admin) => admin,
        None => prompter.admin().map_err(failed)?,
    };

    // A MAS account's token costs a request: only for the outputs that show it.
    let registrar = Registrar::new(
        &options.route,
        &options.server_url,
        options.if_exists,
        options.http,
        options.output != OutputFormat::Text,
    )
    .map_err(failed)?;
    let new_user = NewUser::new(&localpart, password.expose())
        .admin(admin)
        .user_type(options.user_type.as_deref())
        .display_name(options.display_name.as_deref());
    let generated = generated.then_some(&password);
    let held = ledger::hold(Report::Single(*reporter), user_id.clone(), generated);
    // Why this run stopped the registration before sending: reported
    // instead of the library's `Stopped`.
    let mut stopped_by = None;
    let mut announce = || {
        let stop = match reporter.sending() {
            Err(error) => error,
            // From here the request may reach the server (through MAS: the
            // request that creates the account; the password follows it).
            Ok(()) if !held.may_send() => Error::Interrupted {
                signal: crate::cli::signals::interrupted().unwrap_or(libc::SIGINT),
                sent: false,
            },
            Ok(()) => return Ok(()),
        };
        stopped_by = Some(stop);
        Err(crate::Error::Stopped)
    };
    let registered = registrar
        .as_register()
        .register_announced(&new_user, &mut announce);
    let outcome = match (registered, registrar.shared_secret_client()) {
        // No such endpoint: a server that delegates accounts to MAS says so
        // in its auth metadata.
        (Err(crate::Error::Refused(refusal)), Some(client))
            if refusal.status == 404 && refusal.errcode.as_deref() == Some("M_UNRECOGNIZED") =>
        {
            let request = crate::cli::delegation::Request {
                user: Some(&localpart),
                admin: Some(admin),
                display_name: options.display_name.as_deref(),
                user_type: options.user_type.as_deref(),
                generate_password: generated.is_some(),
            };
            let error = crate::cli::delegation::probe(client, &request)
                .unwrap_or_else(|| crate::Error::Refused(refusal).into());
            return Err(Failed::held(error, user_id, held));
        }
        (Err(error), _) => {
            let error = match (error, stopped_by.take()) {
                (crate::Error::Stopped, Some(stop)) => stop,
                (error, _) => Error::from(error),
            };
            let at_risk = (error.is_unconfirmed() || crate::cli::mas::password_was_set(&error))
                .then(|| generated.cloned())
                .flatten();
            return Err(Box::new(Failed {
                at_risk,
                ..*Failed::held(error, user_id, held)
            }));
        }
        (Ok(outcome), _) => outcome,
    };
    match outcome {
        Outcome::Created(registered) => {
            let user_id = Some(registered.user_id.clone());
            if let Some(error) = unprintable_token(reporter, &registered) {
                return Err(Failed::held(error, user_id, held));
            }
            held.settle(|| reporter.created(&registered, generated))
                .map_err(|error| Failed::new(error, user_id))
        }
        Outcome::CreatedIncomplete(problem) => {
            if reporter.format() == OutputFormat::Token {
                let error = Error::transport(
                    format!(
                        "{} was created, but the server's answer has no access_token: {problem}",
                        user_id.as_deref().unwrap_or("the account")
                    ),
                    Some("log in with the password to get a token"),
                );
                return Err(Failed::held(error, user_id, held));
            }
            held.settle(|| reporter.created_incomplete(user_id.as_deref(), &problem, generated))
                .map_err(|error| Failed::new(error, user_id))
        }
        Outcome::AlreadyExists => held
            .settle(|| reporter.already_exists(user_id.as_deref()))
            .map_err(|error| Failed::new(error, user_id)),
    }
}

/// The localpart asked for at the prompt, checked.
fn ask_localpart(
    prompter: &Prompter,
    server_name: Option<&str>,
    refuse_underscore_prefix: bool,
) -> Result<String> {
    let answer = prompter.localpart()?;
    let label = |rejection: Rejection| rejection.labelled("localpart prompt");
    let localpart = rules::localpart_from_user_arg(&answer, server_name).map_err(label)?;
    rules::check_localpart(localpart, server_name, refuse_underscore_prefix).map_err(label)?;
    Ok(localpart.to_owned())
}

/// The password asked for at the prompt, checked (through MAS, against its
/// complexity rule too).
fn ask_password(prompter: &Prompter, route: &Route) -> Result<SecretString> {
    let password = prompter.password()?;
    rules::check_password(&password).map_err(|rejection| rejection.labelled("password prompt"))?;
    if let Route::Mas(route) = route {
        crate::cli::mas::check_password(&password, route.minimum_complexity, "password prompt")?;
    }
    Ok(password)
}

/// In token mode, why the new account's access token cannot be printed:
/// it is missing or empty (printed, it would be an empty line and a
/// success), or it is not printable ASCII (the bare token goes to a
/// terminal or into `$(...)`: a hostile server must not send escape
/// sequences or a second line there; Matrix tokens are printable ASCII, and
/// the token is not echoed).
fn unprintable_token(reporter: &Reporter, registered: &Registered) -> Option<Error> {
    if reporter.format() != OutputFormat::Token {
        return None;
    }
    let token = registered.access_token.as_ref().map(AccessToken::expose);
    if token.is_none_or(str::is_empty) {
        return Some(Error::transport(
            format!(
                "{} was created, but the server's answer has no access_token",
                registered.user_id
            ),
            Some("log in with the password to get a token"),
        ));
    }
    if token.is_some_and(|token| !token.bytes().all(|b| b.is_ascii_graphic())) {
        return Some(Error::transport(
            format!(
                "{} was created, but the server's access_token is not printable ASCII (a space, a control character or non-ASCII), so it is not printed",
                registered.user_id
            ),
            Some(
                "a Matrix access token is printable ASCII: check what answers at this URL, and log in with the password to get a token",
            ),
        ));
    }
    None
}
