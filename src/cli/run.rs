//! Acting on checked options: prompt for what is missing, register, report.

use crate::cli::mas::Registrar;
use crate::cli::options::{Mode, Options, PasswordSource, Route};
use crate::cli::prompt::{PromptTo, Prompter};
use crate::cli::{Cli, OutputFormat, SECRET_ENV};
use crate::client::{NewUser, Outcome};
use crate::error::{EXIT_OK, Error, Result};
use crate::output::Reporter;
use crate::rules::{self, Rejection};
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
        return match out.write_all(&script).and_then(|()| out.flush()) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                let error = Error::Output(format!(
                    "cannot write to stdout ({})",
                    crate::files::io_reason(&e)
                ));
                crate::output::report_error(&error);
                error.exit_code()
            }
        };
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
        }) => crate::batch::run(options, &path, jobs),
        Err(error) => {
            reporter.failed(&error, None, None);
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
    let mut user_id = None;
    let mut at_risk = None;
    let status = match register(options, reporter, &mut user_id, &mut at_risk) {
        Ok(()) => EXIT_OK,
        Err(error) => {
            reporter.failed(&error, user_id.as_deref(), at_risk.as_ref());
            error.exit_code()
        }
    };
    // Reported: from now on Ctrl-C has nothing to add.
    crate::cli::signals::set_last_words(None);
    status
}

/// `at_risk` receives a generated password when the run fails although the
/// account may exist with it: it must then be shown.
fn register(
    options: Options,
    reporter: &Reporter,
    user_id: &mut Option<String>,
    at_risk: &mut Option<SecretString>,
) -> Result<()> {
    let prompter = Prompter::new(match options.output {
        OutputFormat::Text => PromptTo::Stdout,
        OutputFormat::Json | OutputFormat::Token => PromptTo::Stderr,
    });
    let server_name = options.server_name.as_deref();
    let localpart = match options.localpart {
        Some(localpart) => localpart,
        None => {
            let answer = prompter.localpart()?;
            let label = |rejection: Rejection| rejection.labelled("localpart prompt");
            let localpart = rules::localpart_from_user_arg(&answer, server_name).map_err(label)?;
            rules::check_localpart(localpart, server_name, options.refuse_underscore_prefix)
                .map_err(label)?;
            localpart.to_owned()
        }
    };
    *user_id = server_name.map(|server_name| rules::user_id(&localpart, server_name));
    let (password, generated) = match options.password {
        PasswordSource::Given(password) => (password, false),
        PasswordSource::Generate => (crate::password::generate()?, true),
        PasswordSource::Prompt => {
            let password = prompter.password()?;
            rules::check_password(&password)
                .map_err(|rejection| rejection.labelled("password prompt"))?;
            if let Route::Mas(route) = &options.route {
                crate::cli::mas::check_password(
                    &password,
                    route.minimum_complexity,
                    "password prompt",
                )?;
            }
            (password, false)
        }
    };
    let admin = match options.admin {
        Some(admin) => admin,
        None => prompter.admin()?,
    };

    // A MAS account's token costs a request: only for the outputs that show it.
    let registrar = Registrar::new(
        &options.route,
        &options.server_url,
        options.if_exists,
        options.http,
        options.output != OutputFormat::Text,
    )?;
    let new_user = NewUser::new(&localpart, password.expose())
        .admin(admin)
        .user_type(options.user_type.as_deref())
        .display_name(options.display_name.as_deref());
    let generated = generated.then_some(&password);
    let mut announce = || {
        reporter.sending()?;
        // Once the request may reach the server, Ctrl-C must not lose what
        // became of it.
        let (reporter, user_id, password) = (*reporter, user_id.clone(), generated.cloned());
        crate::cli::signals::set_last_words(Some(Box::new(move |signal| {
            let error = Error::unconfirmed(Error::Interrupted(signal));
            reporter.failed(&error, user_id.as_deref(), password.as_ref());
        })));
        Ok(())
    };
    let registered = registrar
        .as_register()
        .register_announced(&new_user, &mut announce);
    let outcome = match (registered, registrar.shared_secret_client()) {
        // No such endpoint: a server that delegates accounts to MAS says so
        // in its auth metadata.
        (Err(Error::Refused(refusal)), Some(client))
            if refusal.status == 404 && refusal.errcode.as_deref() == Some("M_UNRECOGNIZED") =>
        {
            let request = crate::delegation::Request {
                user: Some(&localpart),
                admin: Some(admin),
                display_name: options.display_name.as_deref(),
                user_type: options.user_type.as_deref(),
                generate_password: generated.is_some(),
            };
            return Err(
                crate::delegation::probe(client, &request).unwrap_or(Error::Refused(refusal))
            );
        }
        (Err(error), _) => {
            if error.is_unconfirmed() || crate::cli::mas::password_was_set(&error) {
                *at_risk = generated.cloned();
            }
            return Err(error);
        }
        (Ok(outcome), _) => outcome,
    };
    match outcome {
        Outcome::Created(registered) => {
            *user_id = Some(registered.user_id.clone());
            if reporter.format() == OutputFormat::Token && registered.access_token.is_none() {
                return Err(Error::transport(
                    format!(
                        "{} was created, but the server's answer has no access_token",
                        registered.user_id
                    ),
                    Some("log in with the password to get a token"),
                ));
            }
            reporter.created(&registered, generated)
        }
        Outcome::CreatedIncomplete(problem) => {
            if reporter.format() == OutputFormat::Token {
                return Err(Error::transport(
                    format!(
                        "{} was created, but the server's answer has no access_token: {problem}",
                        user_id.as_deref().unwrap_or("the account")
                    ),
                    Some("log in with the password to get a token"),
                ));
            }
            reporter.created_incomplete(user_id.as_deref(), &problem, generated)
        }
        Outcome::AlreadyExists => reporter.already_exists(user_id.as_deref()),
    }
}
