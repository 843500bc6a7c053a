//! The bad-input matrix: configuration files and arguments that cannot work.
//! The fake Synapse listens at the URL given, so a case that slipped through
//! would be seen (and the rows assert that nothing connected).

use crate::check::Content::{Bytes, Dir, Fifo, Generated, Text, Unreadable, Zeros};
use crate::check::{ROW, Row};
use crate::stub_mas::MAS_ENV;

/// A MAS config with an admin client, at the row's port.
const MAS_CONFIG: &str = "http:\n  public_base: http://127.0.0.1:{port}/\nclients:\n  - client_id: 01ADMIN\n    client_auth_method: client_secret_basic\n    client_secret: s\npolicy:\n  data:\n    admin_clients: [01ADMIN]\n";

/// A registration whose secret comes from `DIR/hs.yaml`.
const WITH_CONFIG: &[&str] = &[
    "-c",
    "{dir}/hs.yaml",
    "-u",
    "alice",
    "-p",
    "{password}",
    "--no-admin",
    "--timeout",
    "2",
    "http://127.0.0.1:{port}",
];

/// The same, with the server URL left to the config's listeners.
const FROM_LISTENERS: &[&str] = &[
    "-c",
    "{dir}/hs.yaml",
    "-u",
    "alice",
    "-p",
    "{password}",
    "--no-admin",
    "--timeout",
    "2",
];

pub const ROWS: &[Row] = &[
    // Configuration files.
    Row {
        id: "config_secret_wrong_tag",
        case: "Config secret with a wrong tag",
        tried: "`registration_shared_secret: !!int SECRET`: PyYAML fails to build it, so Synapse would not start; the error names the key, not the value.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: !!int {secret}\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: is not valid YAML for the server: 'registration_shared_secret' is tagged as an integer but is not one (line 1 column 29)",
        ),
        ..ROW
    },
    Row {
        id: "config_secret_40_digits",
        case: "Config secret of 40 digits",
        tried: "An all-digit secret of 40 digits, unquoted: an integer to PyYAML, as to the reference (\"not a string\"); never printed.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: 1234567890123456789012345678901234567890\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: registration_shared_secret: is not a string"),
        ..ROW
    },
    Row {
        id: "config_not_yaml",
        case: "Config not YAML",
        tried: "`-c` file with an unclosed flow sequence.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: {secret}\nlisteners: [unclosed\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: is not valid YAML: while parsing a flow sequence, did not find expected ',' or ']' (line 3 column 1)",
        ),
        ..ROW
    },
    Row {
        id: "config_not_a_mapping",
        case: "Config not a mapping",
        tried: "`-c` file holding a YAML list: skipped with a notice, as the reference does, and then there is no secret.",
        files: &[(
            "hs.yaml",
            Text("- registration_shared_secret\n- {secret}\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config",
        ),
        ..ROW
    },
    Row {
        id: "config_empty",
        case: "Config empty",
        tried: "`-c` file of zero bytes.",
        files: &[("hs.yaml", Text(""))],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config",
        ),
        ..ROW
    },
    Row {
        id: "config_secret_in_conf_d",
        case: "Secret only in conf.d",
        tried: "`-c hs.yaml` alone where the secret is in the `conf.d/` beside it, as packages.matrix.org lays a config out: the hint names the `-c` to add.",
        files: &[
            ("hs.yaml", Text("report_stats: false\n")),
            ("conf.d", Dir),
            (
                "conf.d/secret.yaml",
                Text("registration_shared_secret: {secret}\n"),
            ),
        ],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config",
        ),
        hint: Some(
            "hint: the service also reads {dir}/conf.d, where packages.matrix.org keeps the secret: pass -c {dir}/hs.yaml -c {dir}/conf.d",
        ),
        ..ROW
    },
    Row {
        id: "config_missing",
        case: "Config missing",
        tried: "`-c` names a file that does not exist.",
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: cannot be read: no such file"),
        ..ROW
    },
    Row {
        id: "config_is_a_directory",
        case: "Config directory without YAML",
        tried: "`-c` names a directory with no `.yaml` file in it (Synapse's `--config-path DIR` reads only those, and starts without any): a notice, then the secret is missing.",
        files: &[("hs.yaml", Dir)],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config",
        ),
        ..ROW
    },
    Row {
        id: "config_huge",
        case: "Config huge",
        tried: "`-c` file of 2 MiB: no more than 1 MiB is read.",
        files: &[("hs.yaml", Zeros(2 << 20))],
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: is larger than 1 MiB"),
        ..ROW
    },
    Row {
        id: "config_not_utf8",
        case: "Config not UTF-8",
        tried: "`-c` file with a Latin-1 byte (`caf\\xe9`).",
        files: &[(
            "hs.yaml",
            Bytes(b"server_name: caf\xe9\nregistration_shared_secret: x\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: is not valid UTF-8 (byte 16)"),
        ..ROW
    },
    Row {
        id: "config_fifo",
        case: "Config is a named pipe",
        tried: "`-c` names a FIFO that nobody writes to: the tool does not wait for a writer.",
        files: &[("hs.yaml", Fifo)],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config",
        ),
        ..ROW
    },
    Row {
        id: "secret_not_a_string",
        case: "Secret of the wrong type",
        tried: "`registration_shared_secret: 12345` (a number).",
        files: &[("hs.yaml", Text("registration_shared_secret: 12345\n"))],
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: registration_shared_secret: is not a string"),
        ..ROW
    },
    Row {
        id: "secret_is_a_list",
        case: "Secret is a list",
        tried: "`registration_shared_secret: [SECRET]`.",
        files: &[("hs.yaml", Text("registration_shared_secret: [{secret}]\n"))],
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: registration_shared_secret: is not a string"),
        ..ROW
    },
    Row {
        id: "secret_path_not_a_string",
        case: "Secret path of the wrong type",
        tried: "`registration_shared_secret_path: {file: x}` (a mapping).",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret_path: {file: x}\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: registration_shared_secret_path: is not a string"),
        ..ROW
    },
    Row {
        id: "both_secret_keys",
        case: "Both secret keys",
        tried: "Both `registration_shared_secret` and `registration_shared_secret_path` set.",
        files: &[
            (
                "hs.yaml",
                Text(
                    "registration_shared_secret: {secret}\nregistration_shared_secret_path: {dir}/secret\n",
                ),
            ),
            ("secret", Text("{secret}\n")),
        ],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: Conflicting options 'registration_shared_secret' and 'registration_shared_secret_path' are both defined; keep one",
        ),
        ..ROW
    },
    Row {
        id: "no_secret_key",
        case: "No secret key",
        tried: "A config with neither secret key.",
        files: &[("hs.yaml", Text("server_name: stub.test\n"))],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: No 'registration_shared_secret' or 'registration_shared_secret_path' defined in config",
        ),
        ..ROW
    },
    Row {
        id: "secret_file_missing",
        case: "Secret file missing",
        tried: "`registration_shared_secret_path` names a file that does not exist.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret_path: {dir}/secret\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: registration_shared_secret_path: {dir}/secret: cannot be read: no such file",
        ),
        hint: Some(
            "hint: {dir}/hs.yaml names a path that does not exist here (inside a container, perhaps): pass the secret file as this machine sees it with --shared-secret-file FILE",
        ),
        ..ROW
    },
    Row {
        id: "secret_file_unreadable",
        case: "Secret file unreadable",
        tried: "The secret file has mode 000 (when the tests run as root, whom modes do not stop, this row runs as the user nobody).",
        files: &[
            (
                "hs.yaml",
                Text("registration_shared_secret_path: {dir}/secret\n"),
            ),
            ("secret", Unreadable("{secret}\n")),
        ],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: registration_shared_secret_path: {dir}/secret: cannot be read: permission denied",
        ),
        ..ROW
    },
    Row {
        id: "secret_file_is_a_directory",
        case: "Secret file is a directory",
        tried: "`registration_shared_secret_path` names a directory.",
        files: &[
            (
                "hs.yaml",
                Text("registration_shared_secret_path: {dir}/secret\n"),
            ),
            ("secret", Dir),
        ],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: registration_shared_secret_path: {dir}/secret: is a directory, not a file",
        ),
        ..ROW
    },
    Row {
        id: "secret_file_python_whitespace",
        case: "Secret file with U+001C..U+001F around it",
        tried: "`registration_shared_secret_path` names a file whose secret ends in U+001F U+001E: stripped as Synapse strips it, so the MAC is the one Synapse computes.",
        files: &[
            (
                "hs.yaml",
                Text("registration_shared_secret_path: {dir}/secret\n"),
            ),
            ("secret", Text("\u{1d}{secret}\u{1f}\u{1e}\n")),
        ],
        args: WITH_CONFIG,
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "secret_file_empty",
        case: "Secret file empty",
        tried: "The secret file holds only whitespace.",
        files: &[
            (
                "hs.yaml",
                Text("registration_shared_secret_path: {dir}/secret\n"),
            ),
            ("secret", Text(" \n\t\n")),
        ],
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/secret: is empty"),
        ..ROW
    },
    Row {
        id: "secret_file_huge",
        case: "Secret file huge",
        tried: "The secret file is 1 MiB: no more than 64 KiB is read.",
        files: &[
            (
                "hs.yaml",
                Text("registration_shared_secret_path: {dir}/secret\n"),
            ),
            ("secret", Zeros(1 << 20)),
        ],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: registration_shared_secret_path: {dir}/secret: is larger than 64 KiB",
        ),
        ..ROW
    },
    Row {
        id: "secret_file_not_utf8",
        case: "Secret file not UTF-8",
        tried: "The secret file holds a byte that is not UTF-8.",
        files: &[
            (
                "hs.yaml",
                Text("registration_shared_secret_path: {dir}/secret\n"),
            ),
            ("secret", Bytes(b"S3CR3T\xff\n")),
        ],
        args: WITH_CONFIG,
        exit: 3,
        error: Some("error: {dir}/secret: is not valid UTF-8 text"),
        ..ROW
    },
    Row {
        id: "listeners_not_a_list",
        case: "`listeners` not a list",
        tried: "No server URL given; `listeners` is a mapping.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: {secret}\nlisteners: {port: {port}, type: http}\n"),
        )],
        args: FROM_LISTENERS,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: listeners: is not a list"),
        ..ROW
    },
    Row {
        id: "listener_scoped_ipv6",
        case: "Listener on a scoped IPv6 address",
        tried: "No server URL given; the client listener binds `fe80::1%eth0` only: a URL cannot name an address with a zone, and the message names the config key, not a `server_url` that was never typed.",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nlisteners: [{port: {port}, type: http, bind_addresses: ['fe80::1%eth0'], resources: [{names: [client]}]}]\n",
            ),
        )],
        args: FROM_LISTENERS,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: listeners[0].bind_addresses: 'fe80::1%eth0' is a scoped IPv6 address (with a %zone), which a URL cannot name: give the server URL on the command line, or bind the listener to an address without a zone as well",
        ),
        ..ROW
    },
    Row {
        id: "listener_not_a_host",
        case: "Listener on something not a host",
        tried: "No server URL given; the client listener binds `\"1.2.3.4\\e[2J\"` (a terminal escape in it): the message names the config key, not a `server_url` that was never typed, and shows the escape as `\\u{1b}`.",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nlisteners: [{port: {port}, type: http, bind_addresses: [\"1.2.3.4\\e[2J\"], resources: [{names: [client]}]}]\n",
            ),
        )],
        args: FROM_LISTENERS,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: listeners[0].bind_addresses: '1.2.3.4\\…[2J' is not an address (nor a host name) that a URL can name: give the server URL on the command line",
        ),
        ..ROW
    },
    Row {
        id: "listener_not_a_mapping",
        case: "Listener not a mapping",
        tried: "No server URL given; `listeners: [PORT]`.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: {secret}\nlisteners: [{port}]\n"),
        )],
        args: FROM_LISTENERS,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: listeners[0]: is not a mapping"),
        ..ROW
    },
    Row {
        id: "listener_port_a_string",
        case: "Listener port a string",
        tried: "No server URL given; the client listener has `port: \"PORT\"` (Synapse refuses that too).",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nlisteners:\n  - port: \"{port}\"\n    type: http\n    resources: [{names: [client]}]\n",
            ),
        )],
        args: FROM_LISTENERS,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: listeners[0].port: is not a port number between 1 and 65535",
        ),
        ..ROW
    },
    Row {
        id: "listener_port_out_of_range",
        case: "Listener port out of range",
        tried: "No server URL given; the client listener has `port: 70000`.",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nlisteners:\n  - port: 70000\n    type: http\n    resources: [{names: [client]}]\n",
            ),
        )],
        args: FROM_LISTENERS,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: listeners[0].port: is not a port number between 1 and 65535",
        ),
        ..ROW
    },
    Row {
        id: "listener_resources_not_a_list",
        case: "Listener resources malformed",
        tried: "No server URL given; the listener has `resources: client` instead of a list. (A listener with no `resources` at all serves nothing and is skipped, as by the reference.)",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nlisteners:\n  - port: {port}\n    type: http\n    resources: client\n",
            ),
        )],
        args: FROM_LISTENERS,
        exit: 3,
        error: Some("error: {dir}/hs.yaml: listeners[0].resources: is not a list"),
        ..ROW
    },
    Row {
        id: "anchors_and_merge_keys",
        case: "Anchors and merge keys",
        tried: "The secret comes through a `<<:` merge key and the listener through an alias, as PyYAML (and so Synapse) resolves them: registered.",
        files: &[(
            "hs.yaml",
            Text(
                "defaults: &defaults\n  registration_shared_secret: {secret}\nclient: &client\n  port: {port}\n  type: http\n  resources: [{names: [client]}]\n<<: *defaults\nlisteners: [*client]\n",
            ),
        )],
        args: FROM_LISTENERS,
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "merge_key_not_a_mapping",
        case: "Merge key not a mapping",
        tried: "`<<: 5` at the top level.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: {secret}\n<<: 5\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: is not valid YAML for the server: '<<' is an invalid merge key: expected a mapping or list of mappings for merging, but found an integer (line 2 column 1)",
        ),
        ..ROW
    },
    Row {
        id: "merge_bomb",
        case: "Merge bomb",
        tried: "A chain of 1,000 mappings, each merging the one before with `<<` (aliases alone are shared, as PyYAML shares them, and cost nothing).",
        files: &[("hs.yaml", Generated(merge_chain))],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: is refused: its aliases and merge keys would expand to more than 250000 values (line 708 column 14)",
        ),
        ..ROW
    },
    // Other files and the environment.
    Row {
        id: "shared_secret_file_missing",
        case: "`--shared-secret-file` missing",
        tried: "`--shared-secret-file` names a file that does not exist.",
        args: &[
            "--shared-secret-file",
            "{dir}/secret",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: {dir}/secret: cannot be read: no such file"),
        ..ROW
    },
    Row {
        id: "password_file_empty",
        case: "`--password-file` empty",
        tried: "`--password-file` names an empty file.",
        files: &[("password", Text("\n"))],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "--password-file",
            "{dir}/password",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: --password-file: {dir}/password: Password cannot be blank."),
        ..ROW
    },
    Row {
        id: "password_file_python_whitespace",
        case: "`--password-file` with U+001C..U+001F around it",
        tried: "The password file's password between U+001F and U+001C: stripped as Python's `str.strip()` strips them (the reference and Synapse do), so the account gets the password the reference would give it.",
        files: &[("password", Text("\u{1f}{password}\u{1c}\u{1e}\n"))],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "--password-file",
            "{dir}/password",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "password_stdin_two_lines",
        case: "`--password-stdin` given two lines",
        tried: "Standard input holds the password and a second line: refused, not cut to its first line (one empty line after it is taken for a stray line end).",
        stdin: "{password}\nsecond line\n",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "--password-stdin",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: --password-stdin: standard input has more than one line; give the password alone, on one line",
        ),
        ..ROW
    },
    Row {
        id: "password_file_with_nul",
        case: "`--password-file` with a NUL",
        tried: "The password file holds a NUL byte.",
        files: &[("password", Text("{password}\0x\n"))],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "--password-file",
            "{dir}/password",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: --password-file: the password contains a NUL character"),
        ..ROW
    },
    Row {
        id: "cacert_not_pem",
        case: "`--cacert` not PEM",
        tried: "`--cacert` names a file with no PEM certificate in it.",
        files: &[("ca.pem", Text("not a certificate\n"))],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--cacert",
            "{dir}/ca.pem",
            "https://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: {dir}/ca.pem: holds no PEM certificate"),
        hint: Some(
            "hint: the file given as --cacert FILE must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
        ),
        ..ROW
    },
    Row {
        id: "env_secret_not_utf8",
        case: "Secret variable not UTF-8",
        tried: "`MATRIX_REGISTRATION_SHARED_SECRET` holds a byte that is not UTF-8.",
        env: &[("MATRIX_REGISTRATION_SHARED_SECRET", b"S3CR3T\xff")],
        args: &[
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: MATRIX_REGISTRATION_SHARED_SECRET: is not valid UTF-8"),
        ..ROW
    },
    // Arguments.
    Row {
        id: "localpart_with_space",
        case: "Localpart with a space",
        tried: "`-u 'bad user'`.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "bad user",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -u/--user: 'bad user' contains ' ': a user name can only contain a-z, 0-9, or '=_-./+'",
        ),
        ..ROW
    },
    Row {
        id: "localpart_with_colon",
        case: "Localpart with a colon",
        tried: "`-u ali:ce`.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "ali:ce",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -u/--user: 'ali:ce' contains ':': a user name can only contain a-z, 0-9, or '=_-./+'",
        ),
        ..ROW
    },
    Row {
        id: "localpart_not_ascii",
        case: "Localpart not ASCII",
        tried: "`-u élève`.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "élève",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -u/--user: 'élève' contains 'é': a user name can only contain a-z, 0-9, or '=_-./+'",
        ),
        ..ROW
    },
    Row {
        id: "localpart_leading_underscore",
        case: "Localpart starting with `_`",
        tried: "`-u _alice` with a config that does not set `allow_underscore_prefixed_localpart`.",
        files: &[("hs.yaml", Text("registration_shared_secret: {secret}\n"))],
        args: &[
            "-c",
            "{dir}/hs.yaml",
            "-u",
            "_alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: -u/--user: '_alice' starts with '_', which the server refuses"),
        hint: Some("hint: unless allow_underscore_prefixed_localpart is true in its config"),
        ..ROW
    },
    Row {
        id: "localpart_all_digits",
        case: "Localpart all digits",
        tried: "`-u 12345`.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "12345",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -u/--user: '12345' is all digits: numeric user IDs are reserved for guest users",
        ),
        ..ROW
    },
    Row {
        id: "user_id_without_server",
        case: "User ID without a server",
        tried: "`-u @alice`.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "@alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -u/--user: '@alice' is not a user ID of the form @localpart:server_name",
        ),
        hint: Some("hint: pass the localpart alone, e.g. -u alice"),
        ..ROW
    },
    Row {
        id: "user_id_other_server",
        case: "User ID of another server",
        tried: "`-u @alice:other.test` with a config whose `server_name` is `stub.test`.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: {secret}\nserver_name: stub.test\n"),
        )],
        args: &[
            "-c",
            "{dir}/hs.yaml",
            "-u",
            "@alice:other.test",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -u/--user: '@alice:other.test' belongs to server 'other.test', but the config's server_name is 'stub.test'",
        ),
        hint: Some("hint: check that you are registering on the right server"),
        ..ROW
    },
    Row {
        id: "localpart_over_512_bytes",
        case: "Localpart over 512 characters",
        tried: "`-u` with 513 characters.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "{a*513}",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: -u/--user: the user name is longer than 512 characters"),
        ..ROW
    },
    Row {
        id: "user_id_over_255",
        case: "User ID over 255 characters",
        tried: "`-u` with 250 characters and `server_name: stub.test` in the config.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: {secret}\nserver_name: stub.test\n"),
        )],
        args: &[
            "-c",
            "{dir}/hs.yaml",
            "-u",
            "{a*250}",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -u/--user: the user ID @a…a:stub.test is 261 characters long; the limit is 255",
        ),
        ..ROW
    },
    Row {
        id: "password_with_nul",
        case: "Password with a NUL",
        tried: "`--password-stdin` given a password with a NUL byte.",
        stdin: "{password}\0x\n",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "--password-stdin",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: --password-stdin: the password contains a NUL character"),
        ..ROW
    },
    Row {
        id: "password_over_512_bytes",
        case: "Password over 512 characters",
        tried: "`-p` with 618 characters (the server counts characters, not bytes).",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}{x*600}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -p/--password: the password is 618 characters long; the server accepts at most 512",
        ),
        ..ROW
    },
    Row {
        id: "unknown_user_type",
        case: "Unknown user type",
        tried: "`-t robot` with a config that names no extra user types.",
        files: &[("hs.yaml", Text("registration_shared_secret: {secret}\n"))],
        args: &[
            "-c",
            "{dir}/hs.yaml",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "-t",
            "robot",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: -t/--user_type: unknown user type 'robot'"),
        hint: Some(
            "hint: the server accepts bot, support (more can be added with user_types.extra_user_types)",
        ),
        ..ROW
    },
    Row {
        id: "url_without_scheme",
        case: "URL without a scheme",
        tried: "`127.0.0.1:PORT` as the server URL.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: server_url: '127.0.0.1:{port}' has no http:// or https:// in front"),
        hint: Some("hint: give it as http://HOST:PORT or https://HOST[:PORT]"),
        ..ROW
    },
    Row {
        id: "url_not_http",
        case: "URL not HTTP",
        tried: "`ftp://127.0.0.1:PORT` as the server URL.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "ftp://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: server_url: 'ftp://127.0.0.1:{port}' is not an http:// or https:// URL",
        ),
        hint: Some("hint: give it as http://HOST:PORT or https://HOST[:PORT]"),
        ..ROW
    },
    Row {
        id: "url_malformed",
        case: "URL malformed",
        tried: "`http://[::1` as the server URL.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://[::1",
        ],
        exit: 3,
        error: Some("error: server_url: 'http://[::1' is not a valid URL (invalid IPv6 address)"),
        hint: Some("hint: give it as http://HOST:PORT or https://HOST[:PORT]"),
        ..ROW
    },
    Row {
        id: "url_with_credentials",
        case: "URL with credentials",
        tried: "`http://admin:PASSWORD@127.0.0.1:PORT`: refused, and the password in it is not repeated.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://admin:{password}@127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: server_url: 'http://admin:***@127.0.0.1:{port}' contains credentials; the shared secret is all the endpoint needs",
        ),
        hint: Some("hint: give it as http://HOST:PORT or https://HOST[:PORT]"),
        ..ROW
    },
    Row {
        id: "url_password_with_slash",
        case: "URL password with `/`",
        tried: "`http://admin:pa/ssPASSWORD@127.0.0.1:PORT`: the `/` in the password ends the host part for a URL parser, so the URL is invalid; up to the last `@` is masked in the message all the same.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://admin:pa/ss{password}@127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: server_url: 'http://admin:***@127.0.0.1:{port}' is not a valid URL (invalid port number)",
        ),
        hint: Some("hint: give it as http://HOST:PORT or https://HOST[:PORT]"),
        ..ROW
    },
    // Usage errors.
    Row {
        id: "secret_and_config",
        case: "`-k` with `-c`",
        tried: "Both `-k` and `-c`.",
        files: &[("hs.yaml", Text("registration_shared_secret: {secret}\n"))],
        args: &[
            "-k",
            "{secret}",
            "-c",
            "{dir}/hs.yaml",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: the argument '--shared-secret <SHARED_SECRET>' cannot be used with '--config <CONFIG>'",
        ),
        ..ROW
    },
    Row {
        id: "secret_and_secret_file",
        case: "`-k` with `--shared-secret-file`",
        tried: "Both `-k` and `--shared-secret-file`.",
        files: &[("secret", Text("{secret}\n"))],
        args: &[
            "-k",
            "{secret}",
            "--shared-secret-file",
            "{dir}/secret",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: the argument '--shared-secret <SHARED_SECRET>' cannot be used with '--shared-secret-file <FILE>'",
        ),
        ..ROW
    },
    Row {
        id: "password_and_password_file",
        case: "`-p` with `--password-file`",
        tried: "Both `-p` and `--password-file`.",
        files: &[("password", Text("{password}\n"))],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--password-file",
            "{dir}/password",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: the argument '--password <PASSWORD>' cannot be used with '--password-file <FILE>'",
        ),
        ..ROW
    },
    Row {
        id: "admin_and_no_admin",
        case: "`-a` with `--no-admin`",
        tried: "Both `-a` and `--no-admin`.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "-a",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some("error: the argument '--admin' cannot be used with '--no-admin'"),
        ..ROW
    },
    Row {
        id: "generated_password_with_token_output",
        case: "`--generate-password` with `-o token`",
        tried: "The generated password would be lost.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "--generate-password",
            "-o",
            "token",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: --generate-password cannot be used with -o token: the generated password would be lost (use -o json)",
        ),
        ..ROW
    },
    Row {
        id: "no_secret_source",
        case: "No secret at all",
        tried: "Neither `-k`, `-c`, `--shared-secret-file` nor the variable.",
        args: &[
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: one of the arguments -c/--config -k/--shared-secret is required (or --shared-secret-file, or MATRIX_REGISTRATION_SHARED_SECRET in the environment)",
        ),
        ..ROW
    },
    Row {
        id: "timeout_zero",
        case: "`--timeout 0`",
        tried: "A timeout of zero seconds.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "0",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some("error: --timeout must be more than 0 seconds"),
        ..ROW
    },
    Row {
        id: "unknown_option",
        case: "Unknown option",
        tried: "`--frobnicate`.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--frobnicate",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some("error: unexpected argument '--frobnicate' found"),
        ..ROW
    },
    Row {
        id: "no_terminal_for_password",
        case: "No terminal for a prompt",
        tried: "No password option, and standard input is not a terminal: no hanging on a prompt.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: no terminal to ask for a password on: pass --password-file FILE, --password-stdin or --generate-password",
        ),
        ..ROW
    },
    Row {
        id: "empty_secret_option",
        case: "Empty `-k`",
        tried: "`-k ''` with the secret in `MATRIX_REGISTRATION_SHARED_SECRET`: an empty value is no value, so the variable's secret is used.",
        env: &[("MATRIX_REGISTRATION_SHARED_SECRET", b"S3CR3T-zq8vW2mK7pLx")],
        args: &[
            "-k",
            "",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "2",
            "http://127.0.0.1:{port}",
        ],
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "empty_secret_option_alone",
        case: "Empty `-k`, no other secret",
        tried: "`-k ''` and nothing else naming a secret.",
        args: &[
            "-k",
            "",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: one of the arguments -c/--config -k/--shared-secret is required (or --shared-secret-file, or MATRIX_REGISTRATION_SHARED_SECRET in the environment); an empty secret counts as none: -k/--shared-secret was empty",
        ),
        ..ROW
    },
    Row {
        id: "localpart_leading_underscore_allowed",
        case: "Localpart starting with `_`, allowed",
        tried: "`-u _alice` with `allow_underscore_prefixed_localpart: yes` in the config (a YAML 1.1 boolean, as the server reads it): sent and registered.",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nallow_underscore_prefixed_localpart: yes\n",
            ),
        )],
        args: &[
            "-c",
            "{dir}/hs.yaml",
            "-u",
            "_alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "2",
            "http://127.0.0.1:{port}",
        ],
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "localpart_leading_underscore_no_config",
        case: "Localpart starting with `_`, no config",
        tried: "`-u _alice` with `-k`: no config tells whether the server allows it, so the server decides.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "_alice",
            "-p",
            "{password}",
            "--no-admin",
            "--timeout",
            "2",
            "http://127.0.0.1:{port}",
        ],
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "config_repeated_key",
        case: "Config with a repeated key",
        tried: "`registration_shared_secret` set twice in one file, the first time wrongly: the last value counts, as for the server (PyYAML), with a notice.",
        files: &[(
            "hs.yaml",
            Text("registration_shared_secret: wrong\nregistration_shared_secret: {secret}\n"),
        )],
        args: WITH_CONFIG,
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "listener_tls_no",
        case: "Listener with `tls: no`",
        tried: "The client listener says `tls: no` (a YAML 1.1 boolean, false for the server): it is used over plain HTTP.",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nlisteners:\n  - {port: {port}, type: http, tls: no, resources: [{names: [client]}]}\n",
            ),
        )],
        args: FROM_LISTENERS,
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "localpart_leading_underscore_flag_off",
        case: "Localpart starting with `_`, `allow_underscore_prefixed_localpart: off`",
        tried: "`-u _alice` with the option set to `off` (a YAML 1.1 boolean, false for the server).",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nallow_underscore_prefixed_localpart: off\n",
            ),
        )],
        args: &[
            "-c",
            "{dir}/hs.yaml",
            "-u",
            "_alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: -u/--user: '_alice' starts with '_', which the server refuses"),
        hint: Some("hint: unless allow_underscore_prefixed_localpart is true in its config"),
        ..ROW
    },
    Row {
        id: "cacert_fifo",
        case: "`--cacert` a FIFO",
        tried: "`--cacert` names a FIFO that nobody writes to: read as the other file options read one, without waiting for a writer.",
        files: &[("ca.pem", Fifo)],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--cacert",
            "{dir}/ca.pem",
            "https://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: {dir}/ca.pem: holds no PEM certificate"),
        hint: Some(
            "hint: the file given as --cacert FILE must hold PEM certificates (-----BEGIN CERTIFICATE-----)",
        ),
        ..ROW
    },
    Row {
        id: "cacert_huge",
        case: "`--cacert` huge",
        tried: "`--cacert` names a 2 GiB file.",
        files: &[("ca.pem", Zeros(2 << 30))],
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--cacert",
            "{dir}/ca.pem",
            "https://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some("error: {dir}/ca.pem: is larger than 1 MiB"),
        ..ROW
    },
    Row {
        id: "batch_stdin_tmpdir_missing",
        case: "`--batch -` with `TMPDIR` missing",
        tried: "`--batch -` (stdin, read twice through a copy) with `TMPDIR` naming no directory: the error names the temporary directory, not stdin.",
        env: &[("TMPDIR", b"/nonexistent-tmpdir")],
        stdin: "user\nalice\n",
        args: &["-k", "{secret}", "--batch", "-", "http://127.0.0.1:{port}"],
        exit: 3,
        error: Some(
            "error: /nonexistent-tmpdir: the temporary directory cannot hold the copy of <stdin> that a second reading needs: it is not an existing directory",
        ),
        hint: Some("hint: set TMPDIR to a directory this user can write to"),
        ..ROW
    },
    Row {
        id: "batch_stdin_tmpdir_empty",
        case: "`--batch -` with `TMPDIR` empty",
        tried: "`--batch -` with `TMPDIR=` (set, but empty, as an unset variable often is in a container's environment): it counts as unset, as for `mktemp` and Python's `tempfile`, and the copy goes to /tmp.",
        env: &[("TMPDIR", b"")],
        stdin: "user,password\nalice,P4SSW0RD-hj3nR9tYq\n",
        args: &["-k", "{secret}", "--batch", "-", "http://127.0.0.1:{port}"],
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    Row {
        id: "two_stdin_readers",
        case: "Two options reading standard input",
        tried: "`--password-stdin` with `--shared-secret-file /dev/stdin`: the secret file took all of standard input, and the password was then said to be blank.",
        stdin: "{secret}\n",
        args: &[
            "--shared-secret-file",
            "/dev/stdin",
            "-u",
            "alice",
            "--password-stdin",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: --password-stdin and --shared-secret-file both read standard input: only one can (give the other a file)",
        ),
        ..ROW
    },
    Row {
        id: "jobs_without_batch",
        case: "`--jobs` without `--batch`",
        tried: "`--jobs 3` on a single registration.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--jobs",
            "3",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: --jobs applies only with --batch: a single registration is one request",
        ),
        ..ROW
    },
    Row {
        id: "password_starting_with_dashes",
        case: "Password starting with `--`",
        tried: "`-p --PASSWORD`: not taken as the value (as with the reference), and the error names the option, never the argument.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "alice",
            "-p",
            "--{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: -p/--password takes a value, and the argument after it starts with '-': attach such a value with '=' (--password=VALUE), or use --password-file",
        ),
        ..ROW
    },
    Row {
        id: "secret_starting_with_dashes",
        case: "Secret starting with `--`",
        tried: "`-k --SECRET`.",
        args: &[
            "-k",
            "--{secret}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: -k/--shared-secret takes a value, and the argument after it starts with '-': attach such a value with '=' (--shared-secret=VALUE), or use --shared-secret-file",
        ),
        ..ROW
    },
    Row {
        id: "localpart_with_control_characters",
        case: "Localpart with control characters",
        tried: "`-u $'x\\e[31my\\nz'`: a terminal escape sequence and a newline, repeated in the message as escapes, so that the one `error:` line stays one line and the terminal untouched.",
        args: &[
            "-k",
            "{secret}",
            "-u",
            "x\u{1b}[31my\nz",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 3,
        error: Some(
            "error: -u/--user: 'x\\u{1b}[31my\\nz' contains '\\u{1b}': a user name can only contain a-z, 0-9, or '=_-./+'",
        ),
        ..ROW
    },
    Row {
        id: "secret_path_inside_container",
        case: "Secret path of a container",
        tried: "Read on the host, the config names its secret by the container's path (`/data/...`); a file of that name sits beside the config.",
        files: &[
            (
                "hs.yaml",
                Text("registration_shared_secret_path: /nonexistent-data/registration.secret\n"),
            ),
            ("registration.secret", Text("{secret}\n")),
        ],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: registration_shared_secret_path: /nonexistent-data/registration.secret: cannot be read: no such file",
        ),
        hint: Some(
            "hint: {dir}/hs.yaml names a path that does not exist here (inside a container, perhaps); {dir}/registration.secret sits beside the config: pass --shared-secret-file {dir}/registration.secret",
        ),
        ..ROW
    },
    Row {
        id: "delegated_auth_config",
        case: "Config delegates to MAS",
        tried: "The config sets `matrix_authentication_service.enabled: true` (and has no shared secret): nothing is sent, and the advice names the MAS options first, then the `mas-cli` command.",
        files: &[(
            "hs.yaml",
            Text("matrix_authentication_service:\n  enabled: true\n  endpoint: http://mas:8080/\n"),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: matrix_authentication_service.enabled: this server delegates accounts to Matrix Authentication Service (http://mas:8080/), so Synapse does not serve the shared-secret registration endpoint",
        ),
        hint: Some(
            "hint: create the account through MAS's admin API with the same command line, adding one of:",
        ),
        ..ROW
    },
    Row {
        id: "delegated_auth_msc3861",
        case: "Config delegates (msc3861)",
        tried: "The older `experimental_features.msc3861.enabled: true` (Synapse 1.86 to 1.156).",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: s\nexperimental_features:\n  msc3861:\n    enabled: true\n    issuer: https://auth.example.org/\n",
            ),
        )],
        args: WITH_CONFIG,
        exit: 3,
        error: Some(
            "error: {dir}/hs.yaml: experimental_features.msc3861.enabled: this server delegates accounts to Matrix Authentication Service (https://auth.example.org/), so Synapse does not serve the shared-secret registration endpoint",
        ),
        hint: Some(
            "hint: create the account through MAS's admin API with the same command line, adding one of:",
        ),
        ..ROW
    },
    Row {
        id: "socket_listener_before_tcp",
        case: "Socket listener first",
        tried: "No server URL given; a Unix-socket client listener (`path:`) comes before the TCP one: the TCP one is used, as the reference would (a socket is used only when no TCP listener serves clients).",
        files: &[(
            "hs.yaml",
            Text(
                "registration_shared_secret: {secret}\nlisteners:\n  - {path: {dir}/main.sock, type: http, resources: [{names: [client]}]}\n  - {port: {port}, type: http, bind_addresses: ['127.0.0.1'], resources: [{names: [client]}]}\n",
            ),
        )],
        args: FROM_LISTENERS,
        exit: 0,
        requests: &["GET", "POST"],
        ..ROW
    },
    // The MAS path: what it cannot do, and MAS configs that cannot work,
    // are refused before anything is sent.
    Row {
        id: "mas_user_type",
        case: "MAS and -t",
        tried: "`-t bot` through MAS, which has no user types.",
        env: MAS_ENV,
        args: &[
            "--mas-url",
            "http://127.0.0.1:{port}",
            "--mas-client-id",
            "c",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "-t",
            "bot",
        ],
        exit: 3,
        error: Some("error: -t/--user_type: MAS has no user types: its admin API cannot set one"),
        hint: Some(
            "hint: leave it out: through Matrix Authentication Service the account has no user type, and its display name starts as its localpart (the user can change it)",
        ),
        ..ROW
    },
    Row {
        id: "mas_display_name",
        case: "MAS and --display-name",
        tried: "`--display-name` through MAS, whose admin API cannot set one.",
        env: MAS_ENV,
        args: &[
            "--mas-url",
            "http://127.0.0.1:{port}",
            "--mas-client-id",
            "c",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "--display-name",
            "Alice",
        ],
        exit: 3,
        error: Some("error: --display-name: MAS's admin API cannot set a display name"),
        hint: Some(
            "hint: leave it out: through Matrix Authentication Service the account has no user type, and its display name starts as its localpart (the user can change it)",
        ),
        ..ROW
    },
    Row {
        id: "mas_config_without_admin_client",
        case: "MAS config, no admin client",
        tried: "`--mas-config` whose only client is not in `policy.data.admin_clients`.",
        files: &[(
            "mas.yaml",
            Text(
                "http:\n  public_base: http://127.0.0.1:{port}/\nclients:\n  - client_id: 01OTHER\n    client_auth_method: client_secret_basic\n    client_secret: s\npolicy:\n  data:\n    admin_clients: []\n",
            ),
        )],
        args: &[
            "--mas-config",
            "{dir}/mas.yaml",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 3,
        error: Some(
            "error: {dir}/mas.yaml: clients: lists no client in policy.data.admin_clients (client 01OTHER has a secret, but is not listed)",
        ),
        hint: Some(
            "hint: add a client with client_auth_method: client_secret_basic to clients, put its client_id under policy.data.admin_clients, then run `mas-cli config sync` and restart MAS",
        ),
        ..ROW
    },
    Row {
        id: "mas_config_without_passwords",
        case: "MAS config, passwords off",
        tried: "`--mas-config` with `passwords.enabled: false`: an account made through it could not log in with a password.",
        files: &[(
            "mas.yaml",
            Text("http:\n  public_base: http://127.0.0.1:{port}/\npasswords:\n  enabled: false\n"),
        )],
        args: &[
            "--mas-config",
            "{dir}/mas.yaml",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 3,
        error: Some(
            "error: {dir}/mas.yaml: passwords.enabled: is false: MAS keeps no passwords, so an account made through it could not log in with one",
        ),
        hint: Some(
            "hint: set passwords.enabled: true in MAS's config, or create accounts that log in through an upstream provider with MAS's own tools",
        ),
        ..ROW
    },
    Row {
        id: "mas_config_weak_password",
        case: "MAS config, weak password",
        tried: "`--mas-config` (default `minimum_complexity` 3) and `-p password1`: zxcvbn, as MAS uses it, refuses it before the account could be made without a password.",
        files: &[("mas.yaml", Text(MAS_CONFIG))],
        args: &[
            "--mas-config",
            "{dir}/mas.yaml",
            "-u",
            "alice",
            "-p",
            "password1",
            "--no-admin",
        ],
        exit: 3,
        error: Some(
            "error: -p/--password: is too weak for Matrix Authentication Service (zxcvbn score 0 of 4; its passwords.minimum_complexity is 3): This is a very common password.",
        ),
        hint: Some("hint: choose a longer, less common password (or --generate-password)"),
        ..ROW
    },
    Row {
        id: "mas_client_without_secret",
        case: "--mas-client-id alone",
        tried: "`--mas-client-id` without `--mas-client-secret-file` or `MAS_CLIENT_SECRET`.",
        args: &[
            "--mas-url",
            "http://127.0.0.1:{port}",
            "--mas-client-id",
            "c",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 2,
        error: Some(
            "error: --mas-client-id needs the client's secret: --mas-client-secret-file FILE, or MAS_CLIENT_SECRET in the environment",
        ),
        ..ROW
    },
    // An empty MAS secret or token is refused where it is read, before the
    // library's builder (which refuses one too) is reached: these rows pin
    // the command line's words for each place it can come from.
    Row {
        id: "mas_client_secret_file_empty",
        case: "MAS client secret file empty",
        tried: "`--mas-client-secret-file` holding only whitespace.",
        files: &[("secret", Text(" \n"))],
        args: &[
            "--mas-url",
            "http://127.0.0.1:{port}",
            "--mas-client-id",
            "c",
            "--mas-client-secret-file",
            "{dir}/secret",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 3,
        error: Some("error: {dir}/secret: is empty"),
        ..ROW
    },
    Row {
        id: "mas_client_secret_env_empty",
        case: "MAS_CLIENT_SECRET empty",
        tried: "`--mas-client-id` with `MAS_CLIENT_SECRET` set but empty: an empty value is no value.",
        env: &[("MAS_CLIENT_SECRET", b"")],
        args: &[
            "--mas-url",
            "http://127.0.0.1:{port}",
            "--mas-client-id",
            "c",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 2,
        error: Some(
            "error: --mas-client-id needs the client's secret: --mas-client-secret-file FILE, or MAS_CLIENT_SECRET in the environment",
        ),
        ..ROW
    },
    Row {
        id: "mas_config_client_secret_empty",
        case: "MAS config, empty client secret",
        tried: "`--mas-config` whose admin client has `client_secret: \"\"`.",
        files: &[(
            "mas.yaml",
            Text(
                "http:\n  public_base: http://127.0.0.1:{port}/\nclients:\n  - client_id: 01ADMIN\n    client_auth_method: client_secret_basic\n    client_secret: \"\"\npolicy:\n  data:\n    admin_clients: [01ADMIN]\n",
            ),
        )],
        args: &[
            "--mas-config",
            "{dir}/mas.yaml",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 3,
        error: Some(
            "error: {dir}/mas.yaml: clients.client_secret: of client 01ADMIN is not a text",
        ),
        ..ROW
    },
    Row {
        id: "mas_config_client_secret_file_empty",
        case: "MAS config, empty client secret file",
        tried: "`--mas-config` whose admin client's `client_secret_file` holds only whitespace.",
        files: &[
            (
                "mas.yaml",
                Text(
                    "http:\n  public_base: http://127.0.0.1:{port}/\nclients:\n  - client_id: 01ADMIN\n    client_auth_method: client_secret_basic\n    client_secret_file: {dir}/secret\npolicy:\n  data:\n    admin_clients: [01ADMIN]\n",
                ),
            ),
            ("secret", Text("\n")),
        ],
        args: &[
            "--mas-config",
            "{dir}/mas.yaml",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 3,
        error: Some("error: {dir}/secret: is empty"),
        ..ROW
    },
    Row {
        id: "mas_token_file_empty",
        case: "MAS token file empty",
        tried: "`--mas-token-file` holding only whitespace.",
        files: &[("token", Text(" \n"))],
        args: &[
            "--mas-url",
            "http://127.0.0.1:{port}",
            "--mas-token-file",
            "{dir}/token",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 3,
        error: Some("error: {dir}/token: is empty"),
        ..ROW
    },
    Row {
        id: "mas_and_server_url",
        case: "MAS and server_url",
        tried: "MAS options and a homeserver URL: the account is made through MAS, so the URL would be ignored.",
        env: MAS_ENV,
        args: &[
            "--mas-url",
            "http://127.0.0.1:{port}",
            "--mas-client-id",
            "c",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
            "http://127.0.0.1:{port}",
        ],
        exit: 2,
        error: Some(
            "error: server_url and --unix-socket name the homeserver, but with MAS options the account is made through Matrix Authentication Service: give its address with --mas-url (or --mas-config)",
        ),
        ..ROW
    },
    Row {
        id: "mas_url_without_credentials",
        case: "--mas-url alone",
        tried: "`--mas-url` without a client or a token.",
        args: &[
            "--mas-url",
            "http://127.0.0.1:{port}",
            "-u",
            "alice",
            "-p",
            "{password}",
            "--no-admin",
        ],
        exit: 2,
        error: Some(
            "error: the MAS path needs admin credentials: --mas-config FILE (MAS's config.yaml), or --mas-client-id ID with --mas-client-secret-file FILE (or MAS_CLIENT_SECRET), or --mas-token-file FILE",
        ),
        ..ROW
    },
];

/// 1,000 mappings, each merging the one before and adding a key: merging
/// copies, so the last holds 1,000 entries and the chain half a million.
fn merge_chain() -> String {
    let mut text = String::from("registration_shared_secret: s\nm0: &m0 {k0: 0}\n");
    for i in 1..1000 {
        text.push_str(&format!("m{i}: &m{i} {{<<: *m{}, k{i}: {i}}}\n", i - 1));
    }
    text
}
