//! The command line, defined once: parsing, `--help`, the man page and the
//! shell completions all come from here.

use crate::cli::concurrency::Jobs;
use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;
use clap::{ArgAction, Parser, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

/// `--version`: the crate's version, and the commit when built from a git
/// checkout (see build.rs).
pub const VERSION: &str = env!("BUILD_VERSION");

/// The environment variable that may hold the shared secret.
pub const SECRET_ENV: &str = "MATRIX_REGISTRATION_SHARED_SECRET";
/// Used when neither the command line nor a config names the server.
pub const DEFAULT_SERVER_URL: &str = "http://localhost:8008";

const ABOUT: &str = "Register a new user on a Synapse homeserver through its shared-secret admin registration endpoint.";

const LONG_ABOUT: &str = "\
Register a new user on a Synapse homeserver through its shared-secret admin \
registration endpoint (/_synapse/admin/v1/register), for servers where public \
registration is disabled. The homeserver must be configured with \
registration_shared_secret or registration_shared_secret_path.

A drop-in replacement for the register_new_matrix_user script shipped with \
Synapse: the same options, prompts and messages, plus access tokens, JSON \
output, safer ways to pass secrets, TLS options and waiting for a server that \
is still starting.";

const AFTER_HELP: &str = "\
Exit status:
  0    registered (or already there with --exists-ok)
  1    the server refused (an HTTP error other than 502, 503, 504), or
       answered that it delegates accounts to Matrix Authentication Service
  2    usage error
  3    a local input or configuration problem, or a config that delegates
       accounts to Matrix Authentication Service; nothing was sent
  4    the server could not be reached or answered nonsense (connection, TLS,
       timeout, 502, 503, 504, an unexpected answer); safe to retry
  5    the result could not be written to stdout (a full disk, a closed pipe);
       the error on stderr says whether the account was created, and shows a
       generated password (--help, --version and --completions to a reader
       that left early, as in --help | head -1, exit 0)
  130  interrupted (Ctrl-C); 143 for SIGTERM, 129 for SIGHUP

With --batch:
  0    every row registered (or already there with --exists-ok)
  1    one or more rows failed; each has errcode/error in its JSON line
  2, 3 as above; a bad row (one longer than 64 KiB included) is a 3, and
       then nothing was sent
  4    the server could not be reached for 5 rows in a row (or as many as
       were in flight at once, if more): no more rows were started (re-run
       with --exists-ok to complete)
  5    stdout could not be written: the results of the rows in flight went
       to stderr, no new rows were started
  130  interrupted by Ctrl-C (143 SIGTERM, 129 SIGHUP): rows in flight were
       finished and reported, no new ones started (re-run with --exists-ok to
       complete)

Environment:
  MATRIX_REGISTRATION_SHARED_SECRET
       the shared secret, when neither -k nor --shared-secret-file is given;
       it takes precedence over the secret in -c files.
  MAS_CLIENT_SECRET
       the --mas-client-id client's secret, when --mas-client-secret-file is
       not given.
  http_proxy, https_proxy, all_proxy, no_proxy
       the proxy to send requests through, and the hosts to reach without
       it, as curl reads them.

The shared secret is taken from, in order: -k, --shared-secret-file,
MATRIX_REGISTRATION_SHARED_SECRET, then the -c files; an empty value counts as
none. A password or secret that starts with '-' is given attached:
--password=-x.";

/// Where --help lists the options of the MAS path.
const MAS_HEADING: &str = "Servers that delegate accounts to Matrix Authentication Service";

/// `--jobs` when not given: auto, which reaches 0.9 of the best fixed
/// setting or more on servers of 1 to 64 slots and is never behind 4 (see
/// BENCHMARKS.md).
pub const DEFAULT_JOBS: Jobs = Jobs::Auto;
/// Beyond this a batch only piles requests up at the server, however big.
pub const MAX_JOBS: u16 = 128;

/// `--jobs`: `auto` or a number from 1 to [`MAX_JOBS`].
fn parse_jobs(text: &str) -> Result<Jobs, String> {
    if text.trim().eq_ignore_ascii_case("auto") {
        return Ok(Jobs::Auto);
    }
    match text.trim().parse::<u16>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(Jobs::Fixed(n)),
        _ => Err(format!("use auto or a number from 1 to {MAX_JOBS}")),
    }
}

/// [`parse_jobs`], with `auto` as the value shell completions offer (a
/// number is typed; without this, they would offer file names).
#[derive(Clone)]
struct JobsParser;

impl TypedValueParser for JobsParser {
    type Value = Jobs;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Jobs, clap::Error> {
        parse_jobs.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(std::iter::once(PossibleValue::new("auto"))))
    }
}

/// How the result is written to stdout.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// The reference script's messages.
    Text,
    /// One JSON object, on success and failure alike.
    Json,
    /// The new account's access token and nothing else.
    Token,
}

#[derive(Parser, Debug)]
#[command(
    name = "register_new_matrix_user",
    version = VERSION,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    max_term_width = 100
)]
pub struct Cli {
    /// Local part of the new user, or a full user ID (@alice:example.org). Will prompt if omitted.
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Do not fail if the user already exists. The user account will not be updated.
    #[arg(long = "exists-ok")]
    pub exists_ok: bool,

    /// New password for the user. Visible to other local users in the process
    /// list: prefer --password-file or --password-stdin. Will prompt if no
    /// password option is given.
    #[arg(
        short = 'p',
        long = "password",
        value_name = "PASSWORD",
        conflicts_with_all = ["password_file", "password_stdin", "generate_password"]
    )]
    pub password: Option<String>,

    /// File containing the new password (surrounding whitespace is removed).
    #[arg(
        long = "password-file",
        value_name = "FILE",
        conflicts_with_all = ["password_stdin", "generate_password"]
    )]
    pub password_file: Option<PathBuf>,

    /// Read the password from standard input: one line, its newline removed
    /// (more than one line is refused; one empty line after it is allowed).
    #[arg(long = "password-stdin", conflicts_with = "generate_password")]
    pub password_stdin: bool,

    /// Generate a random password (24 characters, from the OS's secure random
    /// generator) and show it once: on its own line with -o text, in the
    /// "password" field with -o json.
    #[arg(long = "generate-password")]
    pub generate_password: bool,

    /// User type: bot, support, or one of the server's user_types.extra_user_types.
    #[arg(short = 't', long = "user_type", value_name = "USER_TYPE")]
    pub user_type: Option<String>,

    /// Register the new user as an admin. Will prompt if --no-admin is not set either.
    #[arg(short = 'a', long = "admin", conflicts_with = "no_admin")]
    pub admin: bool,

    /// Register the new user as a regular user. Will prompt if --admin is not set either.
    #[arg(long = "no-admin")]
    pub no_admin: bool,

    /// Display name of the new user.
    #[arg(long = "display-name", value_name = "NAME")]
    pub display_name: Option<String>,

    /// Path to a homeserver config file, to read the shared secret, the
    /// server name and the client listener from. May be repeated: later files
    /// replace earlier files' top-level keys. A directory stands for every
    /// file in it whose name ends in .yaml, in sorted order, as Synapse's
    /// --config-path reads it (-c /etc/matrix-synapse/homeserver.yaml -c
    /// /etc/matrix-synapse/conf.d for packages.matrix.org).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "CONFIG",
        action = ArgAction::Append,
        conflicts_with = "shared_secret"
    )]
    pub config: Vec<PathBuf>,

    /// Shared secret as defined in the server config file. Visible to other
    /// local users in the process list: prefer --shared-secret-file or
    /// MATRIX_REGISTRATION_SHARED_SECRET.
    #[arg(
        short = 'k',
        long = "shared-secret",
        value_name = "SHARED_SECRET",
        conflicts_with = "shared_secret_file"
    )]
    pub shared_secret: Option<String>,

    /// File containing the shared secret (surrounding whitespace is removed).
    #[arg(long = "shared-secret-file", value_name = "FILE")]
    pub shared_secret_file: Option<PathBuf>,

    /// Matrix Authentication Service's config.yaml: create the account
    /// through MAS's admin API, for a server that delegates accounts to MAS.
    /// Gives the admin API's address (the listener serving adminapi, else
    /// http.public_base), a client from clients that uses
    /// client_secret_basic or client_secret_post and is listed in
    /// policy.data.admin_clients, and passwords.minimum_complexity, against
    /// which passwords are checked before anything is sent.
    #[arg(
        long = "mas-config",
        value_name = "FILE",
        help_heading = MAS_HEADING,
        conflicts_with_all = ["shared_secret", "shared_secret_file"]
    )]
    pub mas_config: Option<PathBuf>,

    /// MAS's address (its http.public_base), instead of the one from
    /// --mas-config or from -c's matrix_authentication_service.endpoint.
    #[arg(
        long = "mas-url",
        value_name = "URL",
        help_heading = MAS_HEADING,
        conflicts_with_all = ["shared_secret", "shared_secret_file"]
    )]
    pub mas_url: Option<String>,

    /// A MAS client listed in policy.data.admin_clients; its secret from
    /// --mas-client-secret-file or MAS_CLIENT_SECRET.
    #[arg(
        long = "mas-client-id",
        value_name = "ID",
        help_heading = MAS_HEADING,
        conflicts_with_all = ["shared_secret", "shared_secret_file"]
    )]
    pub mas_client_id: Option<String>,

    /// File containing the --mas-client-id client's secret (surrounding
    /// whitespace is removed).
    #[arg(
        long = "mas-client-secret-file",
        value_name = "FILE",
        help_heading = MAS_HEADING,
        requires = "mas_client_id"
    )]
    pub mas_client_secret_file: Option<PathBuf>,

    /// File containing a MAS access token with the urn:mas:admin scope (a
    /// personal access token), instead of a client; it is not renewed.
    #[arg(
        long = "mas-token-file",
        value_name = "FILE",
        help_heading = MAS_HEADING,
        conflicts_with_all = ["shared_secret", "shared_secret_file", "mas_client_id"]
    )]
    pub mas_token_file: Option<PathBuf>,

    /// What to print on stdout: text (the reference's messages), json (one
    /// object with user_id, access_token, device_id, home_server, created,
    /// and errcode/error on failure; created is null when the registration
    /// was sent but its answer lost) or token (the access token alone).
    #[arg(short = 'o', long = "output", value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// PEM file of the certificate authority (or self-signed certificate) to
    /// trust for https:// instead of the system's trust store.
    #[arg(long = "cacert", value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not verify the server's TLS certificate. Anyone on the path can
    /// then read the password: use --cacert instead where possible.
    #[arg(long = "insecure")]
    pub insecure: bool,

    /// Give up on a request after this many seconds, from connecting to the
    /// last byte of the answer.
    #[arg(long = "timeout", value_name = "SECONDS", default_value = "30")]
    pub timeout: f64,

    /// Keep trying for up to this many seconds while the server cannot be
    /// reached (connection refused, 502, 503, 504), for servers that are
    /// still starting. A registration that may have reached the server is
    /// never sent with a new nonce, so it cannot create a second account.
    #[arg(long = "wait", value_name = "SECONDS")]
    pub wait: Option<f64>,

    /// Register every user listed in FILE ("-" for standard input): CSV with
    /// a header row (column localpart or user; optional password, admin,
    /// user_type, displayname) or JSON Lines with the same keys, told apart by
    /// the content. The whole file is checked before anything is sent. A row
    /// without a password gets a generated one. -a/--no-admin and -t apply to
    /// rows that do not say (not admin by default), --exists-ok to every
    /// row. Writes one JSON object per row on stdout as it finishes (whatever
    /// -o says; -o token is refused), and a summary on stderr.
    #[arg(
        long = "batch",
        value_name = "FILE",
        conflicts_with_all = ["user", "password", "password_file", "password_stdin", "generate_password", "display_name"]
    )]
    pub batch: Option<PathBuf>,

    /// With --batch: how many registrations are in flight at once, 1 to
    /// 128, or auto (the default). The server hashes each password in a
    /// thread pool, so a few at a time keep its cores busy. auto finds that
    /// number as the batch runs, from 1 to 256: more while throughput rises,
    /// fewer when answers slow down without more throughput (never below what
    /// the server was seen to serve), half on a 429, 502, 503 or 504 answer or
    /// a timeout. -v logs each change and its reason; the summary says where
    /// it settled; the guide says how it decides. A fixed number keeps exactly
    /// that many in flight (the default was 4 up to 1.0.0).
    /// With any --jobs, a row refused with 429 waits as the server asks
    /// (retry_after_ms, 1 s without; at most 60 s) and is sent again, up to 5
    /// times.
    // Neither a clap default nor `requires = "batch"`: clap waives the
    // requirement when an option that excludes --batch (-u, -p) is present,
    // so run.rs refuses --jobs without --batch itself.
    #[arg(
        long = "jobs",
        value_name = "N|auto",
        value_parser = JobsParser,
        hide_possible_values = true
    )]
    pub jobs: Option<Jobs>,

    /// Connect to the server through this Unix socket (a listener with a
    /// path key), as curl's --unix-socket does; server_url then only names
    /// the Host header and any path prefix (default http://localhost).
    /// Without this option and without server_url, a config whose only
    /// client listener is a socket is reached through it.
    #[arg(long = "unix-socket", value_name = "PATH")]
    pub unix_socket: Option<PathBuf>,

    /// Print each request and its answer's status on stderr (never a secret or a password).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Print a completion script for SHELL on stdout and exit.
    #[arg(long = "completions", value_name = "SHELL", exclusive = true)]
    pub completions: Option<clap_complete::Shell>,

    /// URL to use to talk to the homeserver. By default, the first client
    /// listener of the config file (plain HTTP, else TLS, else a Unix socket;
    /// at the address it binds, localhost for a wildcard); otherwise
    /// http://localhost:8008.
    #[arg(value_name = "server_url")]
    pub server_url: Option<String>,
}

/// The clap command, for the man page and the completions.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

impl Cli {
    /// Parses the command line (`args` starts with the program's name).
    /// After -p or -k, an argument that starts with '-' is not taken as
    /// the value, as with the reference's argparse; clap's error would then
    /// repeat that argument, which may be the password or the secret, so it
    /// is replaced by one that names the option only.
    pub fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Cli, clap::Error> {
        let args: Vec<OsString> = args.into_iter().collect();
        Cli::try_parse_from(&args).map_err(|error| {
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                return error;
            }
            match secret_option_before_hyphen(&args) {
                Some((option, file_option)) => clap::Error::raw(
                    ErrorKind::InvalidValue,
                    format!(
                        "{option} takes a value, and the argument after it starts with '-': attach such a value with '=' ({}=VALUE), or use {file_option}\n",
                        option.split('/').next_back().unwrap_or(option)
                    ),
                )
                .with_cmd(&command()),
                None => error,
            }
        })
    }
}

/// The secret option (and its file option) directly followed by an
/// argument that starts with '-', if any.
fn secret_option_before_hyphen(args: &[OsString]) -> Option<(&'static str, &'static str)> {
    let args: Vec<&[u8]> = args
        .iter()
        .skip(1)
        .map(|arg| arg.as_encoded_bytes())
        .take_while(|arg| *arg != b"--")
        .collect();
    args.windows(2).find_map(|pair| {
        let next_is_hyphen = pair[1].starts_with(b"-") && pair[1] != b"-";
        let option = match pair[0] {
            b"--password" => Some('p'),
            b"--shared-secret" => Some('k'),
            // A cluster of flags ending in -p or -k, such as -ap.
            [b'-', flags @ .., last @ (b'p' | b'k')]
                if flags.iter().all(|f| matches!(f, b'a' | b'v' | b'h' | b'V')) =>
            {
                Some(*last as char)
            }
            _ => None,
        };
        match option.filter(|_| next_is_hyphen)? {
            'p' => Some(("-p/--password", "--password-file")),
            _ => Some(("-k/--shared-secret", "--shared-secret-file")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_is_consistent() {
        command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::parse_args(
            std::iter::once("register_new_matrix_user")
                .chain(args.iter().copied())
                .map(OsString::from),
        )
    }

    #[test]
    fn a_secret_starting_with_dashes_is_never_repeated() {
        for (args, option) in [
            (&["-k", "s", "-p", "--hunter2"][..], "-p/--password"),
            (&["-k", "s", "--password", "-hunter2"], "-p/--password"),
            (&["-k", "s", "-ap", "--hunter2"], "-p/--password"),
            (&["-k", "--hunter2", "-u", "a"], "-k/--shared-secret"),
            (&["--shared-secret", "-5hunter2"], "-k/--shared-secret"),
            (&["-k", "s", "-p", "--no-admin"], "-p/--password"),
        ] {
            let error = parse(args).unwrap_err();
            let text = error.render().to_string();
            assert_eq!(error.exit_code(), 2, "{args:?}");
            assert!(!text.contains("hunter2"), "{args:?}: {text}");
            assert!(text.contains(option), "{args:?}: {text}");
        }
        let cli = parse(&["-k=--s", "-p=--x"]).unwrap();
        assert_eq!(cli.shared_secret.as_deref(), Some("--s"));
        assert_eq!(cli.password.as_deref(), Some("--x"));
        let cli = parse(&["--shared-secret=-s", "--password=--x"]).unwrap();
        assert_eq!(cli.password.as_deref(), Some("--x"));
        // Other errors are clap's own, and -p - is a value.
        assert!(
            parse(&["-k", "s", "--frobnicate"])
                .unwrap_err()
                .render()
                .to_string()
                .contains("--frobnicate")
        );
        assert!(
            parse(&["-k", "s", "-up", "--x"])
                .unwrap_err()
                .render()
                .to_string()
                .contains("'--x'")
        );
        assert_eq!(
            parse(&["-k", "s", "-p", "-"]).unwrap().password.as_deref(),
            Some("-")
        );
    }

    #[test]
    fn jobs_is_a_number_or_auto() {
        assert_eq!(parse_jobs("auto"), Ok(Jobs::Auto));
        assert_eq!(parse_jobs("AUTO"), Ok(Jobs::Auto));
        assert_eq!(parse_jobs("1"), Ok(Jobs::Fixed(1)));
        assert_eq!(parse_jobs("128"), Ok(Jobs::Fixed(128)));
        for bad in ["0", "129", "-1", "", "automatic", "4.5"] {
            assert!(parse_jobs(bad).is_err(), "{bad}");
        }
    }
}
