//! What is worth telling the user but does not stop the run: each kind of
//! notice with its data, returned by whoever finds it and printed by the
//! reporter in the words below.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A config file that is valid YAML but not a mapping: skipped, as the
    /// reference does.
    NotAMapping { file: PathBuf },
    /// A key set twice in one mapping; `key` is its dotted path.
    RepeatedKey {
        file: PathBuf,
        line: usize,
        key: String,
    },
    /// Repeated keys beyond those named one by one.
    MoreRepeatedKeys { file: PathBuf, count: usize },
    /// A key that two mappings merged with `<<: [*a, *b]` both set, whose
    /// value depends on the server's PyYAML (which changed in 6.0.4).
    MergedKeyConflict {
        file: PathBuf,
        line: usize,
        key: String,
    },
    /// A secret or password file that users other than its owner may read.
    ReadableByOthers { file: PathBuf, mode: u32 },
    /// An entry of a `-c` directory that Synapse does not read.
    IgnoredEntry { entry: PathBuf, reason: Ignored },
    /// A `-c` directory with no `.yaml` file: Synapse starts all the same.
    NoYamlInDirectory { dir: PathBuf },
    /// Ignored entries of a `-c` directory beyond those named one by one.
    MoreIgnoredEntries { dir: PathBuf, count: usize },
    /// An empty `--shared-secret-file`: the next source is used.
    EmptySecretFile { file: PathBuf },
    /// No server URL, and the config names no client listener.
    NoListenerInConfig,
    /// Neither a server URL nor a config file.
    NoServerUrl,
    /// `--insecure` was given.
    Insecure,
    /// The password would cross the network in plain text to `host`.
    PlainHttp { host: String },
}

/// Why an entry of a config directory is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    NotAFile,
    NotYaml,
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::cli::DEFAULT_SERVER_URL;
        match self {
            Notice::NotAMapping { file } => write!(
                f,
                "Ignoring config file {}: it is empty or not a key-value mapping.",
                file.display()
            ),
            Notice::RepeatedKey { file, line, key } => write!(
                f,
                "{}: line {line}: '{key}' is set again; the last value counts, as for the server.",
                file.display()
            ),
            Notice::MergedKeyConflict { file, line, key } => write!(
                f,
                "{}: line {line}: '{key}' is set by more than one mapping merged with '<<'; \
                 the value taken is PyYAML 6.0.4's (Synapse 1.163 and later), an older PyYAML may take another: set it in the mapping itself.",
                file.display()
            ),
            Notice::MoreRepeatedKeys { file, count } => write!(
                f,
                "{}: {count} more keys are set again; the last values count.",
                file.display()
            ),
            Notice::ReadableByOthers { file, mode } => write!(
                f,
                "Warning: {} is readable by other users (mode {mode:o}); consider chmod 600.",
                file.display()
            ),
            Notice::IgnoredEntry { entry, reason } => write!(
                f,
                "Ignoring {} in the config directory: {} (as Synapse does).",
                entry.display(),
                match reason {
                    Ignored::NotAFile => "not a file",
                    Ignored::NotYaml => "its name does not end in .yaml",
                }
            ),
            Notice::NoYamlInDirectory { dir } => write!(
                f,
                "{}: no .yaml file in this directory, so nothing is read from it (Synapse reads only the files whose names end in .yaml).",
                dir.display()
            ),
            Notice::MoreIgnoredEntries { dir, count } => write!(
                f,
                "Ignoring {count} more entries in {} (as Synapse does).",
                dir.display()
            ),
            Notice::EmptySecretFile { file } => write!(
                f,
                "Ignoring --shared-secret-file {}: it is empty.",
                file.display()
            ),
            Notice::NoListenerInConfig => write!(
                f,
                "Unable to find a suitable HTTP listener in the configuration file. Trying {DEFAULT_SERVER_URL} as a last resort."
            ),
            Notice::NoServerUrl => write!(
                f,
                "No server url or configuration file given. Defaulting to {DEFAULT_SERVER_URL}."
            ),
            Notice::Insecure => f.write_str(
                "Warning: --insecure: the server's TLS certificate is not checked; anyone on the path can read the password.",
            ),
            Notice::PlainHttp { host } => write!(
                f,
                "Warning: the password is sent over plain HTTP to {host}, which is not this machine; prefer https://."
            ),
        }
    }
}
