//! Reading homeserver configuration files the way the reference script does:
//! several files merged shallowly in order, the shared secret from
//! `registration_shared_secret` or `registration_shared_secret_path`, and the
//! client listener as the default server URL.

use crate::cli::error::{Error, Result};
use crate::cli::notice::Notice;
use crate::cli::yaml::{Int, Mapping, Value};
use crate::secret::SecretString;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::files::read_capped;

/// Files holding a secret or a password are small; a larger one is a mistake
/// (the wrong path), and reading it whole would be a waste.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;
/// Homeserver configs are a few hundred KiB at most. The cap also bounds
/// reading: with it, any file is read in well under a second and 64 MiB
/// (scripts/bench-config).
const MAX_CONFIG_FILE_BYTES: u64 = 1024 * 1024;

const SECRET_KEY: &str = "registration_shared_secret";
const SECRET_PATH_KEY: &str = "registration_shared_secret_path";

/// The merged configuration, remembering which file gave each top-level key
/// so that errors can name it.
#[derive(Debug, Default)]
pub struct Config {
    entries: HashMap<String, (Value, PathBuf)>,
    /// Every file read, merged or skipped, to name when a key is missing.
    files: Vec<PathBuf>,
}

/// Where the configuration says the shared secret is.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretSource<'a> {
    /// `registration_shared_secret`: used exactly as written, not trimmed,
    /// since the server uses it so.
    Inline(SecretString),
    /// `registration_shared_secret_path`, and the config file that set it.
    File {
        path: &'a Path,
        config_file: &'a Path,
    },
}

impl Config {
    /// Reads and merges the files in order; a later file's top-level key
    /// replaces an earlier one's. A file that is not a mapping is skipped with
    /// a notice, as the reference does.
    pub fn load(paths: &[PathBuf]) -> Result<(Config, Vec<Notice>)> {
        let mut config = Config::default();
        let mut notices = Vec::new();
        for path in paths {
            let bytes = read_capped(path, MAX_CONFIG_FILE_BYTES, None)?;
            notices.extend(config.add_file(path, &bytes)?);
        }
        Ok((config, notices))
    }

    /// Merges one file's content over what is already there, as [`Config::load`]
    /// does for each file it reads; `path` only names the file in messages.
    /// Returns the notices about this file.
    pub fn add_file(&mut self, path: &Path, bytes: &[u8]) -> Result<Vec<Notice>> {
        if !self.files.iter().any(|f| f == path) {
            self.files.push(path.to_owned());
        }
        let (mapping, mut notices) = parse_mapping(path, bytes)?;
        match mapping {
            Some(mapping) => self.merge(&mapping, path),
            None => notices.push(Notice::NotAMapping {
                file: path.to_owned(),
            }),
        }
        Ok(notices)
    }

    fn merge(&mut self, mapping: &Mapping, path: &Path) {
        for (key, value) in mapping.iter() {
            // Non-string top-level keys cannot name any setting we read.
            let Some(key) = key.as_str() else { continue };
            self.entries
                .insert(key.to_owned(), (value.clone(), path.to_owned()));
        }
    }

    /// Names `paths` in messages about missing keys, when no file was read
    /// (`-c` directories without a .yaml file).
    pub fn name_sources(&mut self, paths: &[PathBuf]) {
        self.files = paths.to_vec();
    }

    /// The value of a top-level key and the file it came from.
    pub(crate) fn get(&self, key: &str) -> Option<(&Value, &Path)> {
        self.entries
            .get(key)
            .map(|(value, path)| (value, path.as_path()))
            .filter(|(value, _)| !value.is_null())
    }

    /// The shared secret, under the reference's rules: exactly one of the two
    /// keys, a string, and a secret file that is readable and not empty;
    /// with a notice when others may read that file.
    pub fn shared_secret(&self) -> Result<(SecretString, Option<Notice>)> {
        match self.secret_source()? {
            SecretSource::Inline(secret) => Ok((secret, None)),
            // Relative to the working directory, as for the reference.
            SecretSource::File { path, config_file } => {
                read_secret_file(path, Some((config_file, SECRET_PATH_KEY)))
            }
        }
    }

    /// Where the shared secret comes from, without reading any file.
    pub fn secret_source(&self) -> Result<SecretSource<'_>> {
        let secret = self.get(SECRET_KEY);
        let secret_path = self.get(SECRET_PATH_KEY);
        if let Some((value, file)) = secret {
            if !value.is_string() {
                return Err(Error::file(file, Some(SECRET_KEY), "is not a string"));
            }
        }
        if let Some((value, file)) = secret_path {
            if !value.is_string() {
                return Err(Error::file(file, Some(SECRET_PATH_KEY), "is not a string"));
            }
        }
        let secret = secret.and_then(|(v, f)| Some((v.as_str()?, f)));
        let secret_path = secret_path.and_then(|(v, f)| Some((v.as_str()?, f)));
        match (secret, secret_path) {
            (Some((s, _)), Some((p, _))) if !s.is_empty() && !p.is_empty() => Err(Error::files(
                &self.files,
                format!(
                    "Conflicting options '{SECRET_KEY}' and '{SECRET_PATH_KEY}' are both defined; keep one"
                ),
            )),
            (Some((s, _)), _) if !s.is_empty() => Ok(SecretSource::Inline(SecretString::from(s))),
            (_, Some((p, config_file))) if !p.is_empty() => Ok(SecretSource::File {
                path: Path::new(p),
                config_file,
            }),
            _ => Err(Error::files(
                &self.files,
                format!("No '{SECRET_KEY}' or '{SECRET_PATH_KEY}' defined in config"),
            )),
        }
    }

    /// `server_name`, when the config sets it to a string.
    pub fn server_name(&self) -> Option<&str> {
        self.get("server_name").and_then(|(v, _)| v.as_str())
    }

    /// User types the server accepts besides `bot` and `support`
    /// (`user_types.extra_user_types`).
    pub fn extra_user_types(&self) -> Vec<String> {
        self.get("user_types")
            .and_then(|(v, _)| v.get("extra_user_types"))
            .and_then(Value::as_sequence)
            .map(|types| {
                types
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the server accepts localparts starting with `_`
    /// (`allow_underscore_prefixed_localpart`, false when unset).
    pub fn allow_underscore_prefixed_localpart(&self) -> bool {
        self.get("allow_underscore_prefixed_localpart")
            .is_some_and(|(value, _)| value.is_truthy())
    }

    /// The first plain-HTTP TCP listener that serves the client API
    /// (`http://HOST:PORT`), or failing that the first such TLS listener
    /// (`https://HOST:PORT`), or failing that the first such Unix-socket
    /// listener (`path:`). `None` when there is none. TCP comes first: it is
    /// what the reference script picks from the same config, and it needs no
    /// permission on a socket file. HOST is an address the listener binds
    /// (see `listener_host`).
    pub fn client_listener(&self) -> Result<Option<ClientListener>> {
        let Some((listeners, file)) = self.get("listeners") else {
            return Ok(None);
        };
        let Some(listeners) = listeners.as_sequence() else {
            return Err(Error::file(file, Some("listeners"), "is not a list"));
        };
        let mut tls_url = None;
        let mut socket = None;
        for (i, listener) in listeners.iter().enumerate() {
            let key = |field: &str| format!("listeners[{i}]{field}");
            let Some(listener) = listener.as_mapping() else {
                return Err(Error::file(file, Some(&key("")), "is not a mapping"));
            };
            if listener.get("type").and_then(Value::as_str) != Some("http") {
                continue;
            }
            if !serves_client(listener)
                .map_err(|e| Error::file(file, Some(&key(".resources")), e))?
            {
                continue;
            }
            if let Some(path) = listener.get("path").filter(|p| !p.is_null()) {
                let Some(path) = path.as_str().filter(|p| !p.is_empty()) else {
                    return Err(Error::file(
                        file,
                        Some(&key(".path")),
                        "is not a socket path",
                    ));
                };
                socket.get_or_insert_with(|| ClientListener::UnixSocket(PathBuf::from(path)));
                continue;
            }
            let port = match listener.get("port") {
                Some(Value::Int(Int::Small(n))) => Some(*n).filter(|p| (1..=65535).contains(p)),
                _ => None,
            };
            let Some(port) = port else {
                return Err(Error::file(
                    file,
                    Some(&key(".port")),
                    "is not a port number between 1 and 65535",
                ));
            };
            // Tested for truth, as the server and the reference do.
            let tls = listener.get("tls").is_some_and(Value::is_truthy);
            let host = listener_host(listener)
                .map_err(|e| Error::file(file, Some(&key(".bind_addresses")), e))?;
            if !tls {
                return Ok(Some(ClientListener::Tcp(format!("http://{host}:{port}"))));
            }
            tls_url.get_or_insert(ClientListener::Tcp(format!("https://{host}:{port}")));
        }
        Ok(tls_url.or(socket))
    }
}

/// A client listener found in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientListener {
    /// `http://HOST:PORT` or `https://HOST:PORT`.
    Tcp(String),
    /// A Unix-socket listener's `path:`, spoken to in plain HTTP.
    UnixSocket(PathBuf),
}

/// The host to dial for a TCP listener: `localhost` when it binds every
/// address (`0.0.0.0`, `::`, none given) or a loopback one that `localhost`
/// names, as the reference assumes; otherwise the first address it binds,
/// since nothing else answers there (IPv6 in brackets).
fn listener_host(listener: &Mapping) -> Result<String, String> {
    let mut addresses = match listener.get("bind_addresses") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Seq(list)) => list
            .iter()
            .map(|a| a.as_str().ok_or("has an entry that is not a string"))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err("is not a list".to_owned()),
    };
    // The older single-address key, which Synapse adds to the list.
    if let Some(address) = listener.get("bind_address").and_then(Value::as_str) {
        if !address.is_empty() {
            addresses.push(address);
        }
    }
    let localhost = |a: &&str| matches!(*a, "" | "0.0.0.0" | "::" | "127.0.0.1" | "::1");
    if addresses.is_empty() || addresses.iter().any(localhost) {
        return Ok("localhost".to_owned());
    }
    // A scoped IPv6 address (`fe80::1%eth0`) has no form in a URL (the URL
    // standard has no zone identifiers): dial another address if there is
    // one, else say so here rather than blame a server_url never typed.
    let Some(first) = addresses.iter().copied().find(|a| !a.contains('%')) else {
        return Err(format!(
            "'{}' is a scoped IPv6 address (with a %zone), which a URL cannot name: give the server URL on the command line, or bind the listener to an address without a zone as well",
            addresses[0]
        ));
    };
    Ok(match first.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]"),
        Ok(std::net::IpAddr::V4(_)) => first.to_owned(),
        // Checked here too, so that a bad one is blamed on this key.
        Err(_) if url::Host::parse(first).is_ok() => first.to_owned(),
        Err(_) => {
            return Err(format!(
                "'{}' is not an address (nor a host name) that a URL can name: give the server URL on the command line",
                crate::redact::escape_control_characters(first)
            ));
        }
    })
}

/// Whether a listener's `resources` include one named `client`.
fn serves_client(listener: &Mapping) -> Result<bool, &'static str> {
    let resources = match listener.get("resources") {
        None | Some(Value::Null) => return Ok(false),
        Some(Value::Seq(resources)) => resources,
        Some(_) => return Err("is not a list"),
    };
    for resource in resources.iter() {
        let names = match resource.get("names") {
            None | Some(Value::Null) => continue,
            Some(Value::Seq(names)) => names,
            Some(_) => return Err("has a 'names' entry that is not a list"),
        };
        if names.iter().any(|name| name.as_str() == Some("client")) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A file with many repeated keys gets this many notices and a count.
const MAX_REPEATED_KEY_NOTICES: usize = 5;

/// Parses a config file as the server does; `None` when it is valid YAML
/// but not a mapping. A key repeated in one mapping gets a notice.
fn parse_mapping(path: &Path, bytes: &[u8]) -> Result<(Option<Arc<Mapping>>, Vec<Notice>)> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::file(
            path,
            None,
            format!("is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let document =
        crate::cli::yaml::load(text).map_err(|problem| Error::file(path, None, problem))?;
    let mut notices: Vec<Notice> = document
        .repeated_keys
        .iter()
        .take(MAX_REPEATED_KEY_NOTICES)
        .map(|repeated| Notice::RepeatedKey {
            file: path.to_owned(),
            line: repeated.line,
            key: repeated.path.clone(),
        })
        .collect();
    if let Some(more) = document
        .repeated_keys
        .len()
        .checked_sub(MAX_REPEATED_KEY_NOTICES)
        .filter(|n| *n > 0)
    {
        notices.push(Notice::MoreRepeatedKeys {
            file: path.to_owned(),
            count: more,
        });
    }
    notices.extend(
        document
            .merge_conflicts
            .iter()
            .take(MAX_REPEATED_KEY_NOTICES)
            .map(|conflict| Notice::MergedKeyConflict {
                file: path.to_owned(),
                line: conflict.line,
                key: conflict.path.clone(),
            }),
    );
    let mapping = match document.value {
        Some(Value::Map(mapping)) => Some(mapping),
        _ => None,
    };
    Ok((mapping, notices))
}

/// Reads a file that holds a secret or a password: capped in size,
/// whitespace-stripped, not empty. `origin` names the config key that pointed
/// at it, for the error message. With a notice when others may read it.
pub fn read_secret_file(
    path: &Path,
    origin: Option<(&Path, &str)>,
) -> Result<(SecretString, Option<Notice>)> {
    match read_secret_or_empty(path, origin)? {
        SecretFile::Held(secret, notice) => Ok((secret, notice)),
        SecretFile::Empty => Err(Error::file(path, None, "is empty")),
    }
}

/// What a secret or password file holds, once stripped.
pub enum SecretFile {
    /// The secret, with a notice when others may read the file.
    Held(SecretString, Option<Notice>),
    /// Nothing but whitespace: for the caller to say what that means.
    Empty,
}

/// [`read_secret_file`], with an empty file an outcome rather than an error.
pub fn read_secret_or_empty(path: &Path, origin: Option<(&Path, &str)>) -> Result<SecretFile> {
    let bytes = read_capped(path, MAX_SECRET_FILE_BYTES, origin)?;
    let text =
        String::from_utf8(bytes).map_err(|_| Error::file(path, None, "is not valid UTF-8 text"))?;
    let secret = SecretString::new(crate::files::strip_like_python(&text).to_owned());
    // The untrimmed copy is dropped (and wiped) here.
    drop(zeroize::Zeroizing::new(text));
    if secret.is_empty() {
        return Ok(SecretFile::Empty);
    }
    Ok(SecretFile::Held(secret, permissions_notice(path)))
}

#[cfg(unix)]
fn permissions_notice(path: &Path) -> Option<Notice> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| Notice::ReadableByOthers {
        file: path.to_owned(),
        mode: mode & 0o777,
    })
}

#[cfg(not(unix))]
fn permissions_notice(_path: &Path) -> Option<Notice> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    struct Files(tempfile::TempDir);

    impl Files {
        fn new() -> Self {
            Files(tempfile::tempdir().unwrap())
        }
        fn write(&self, name: &str, content: &[u8]) -> PathBuf {
            let path = self.0.path().join(name);
            std::fs::File::create(&path)
                .unwrap()
                .write_all(content)
                .unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            path
        }
    }

    fn secret_of(paths: &[PathBuf]) -> Result<String> {
        let (config, _) = Config::load(paths)?;
        config.shared_secret().map(|(s, _)| s.expose().to_owned())
    }

    fn message(result: Result<String>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn later_files_replace_top_level_keys() {
        let files = Files::new();
        let a = files.write(
            "a.yaml",
            b"registration_shared_secret: first\nserver_name: a.example\nlisteners: [{port: 1, type: http, resources: [{names: [client]}]}]\n",
        );
        let b = files.write("b.yaml", b"registration_shared_secret: second\n");
        let (config, notices) = Config::load(&[a.clone(), b.clone()]).unwrap();
        assert!(notices.is_empty());
        assert_eq!(config.shared_secret().unwrap().0.expose(), "second");
        assert_eq!(config.server_name(), Some("a.example"));
        assert_eq!(
            config.client_listener().unwrap(),
            Some(ClientListener::Tcp("http://localhost:1".to_owned()))
        );
        assert_eq!(secret_of(&[b, a]).unwrap(), "first");
    }

    #[test]
    fn a_file_that_is_not_a_mapping_is_skipped_with_a_notice() {
        let files = Files::new();
        let list = files.write("list.yaml", b"- a\n- b\n");
        let empty = files.write("empty.yaml", b"");
        let good = files.write("good.yaml", b"registration_shared_secret: s\n");
        let (config, notices) = Config::load(&[list, empty, good]).unwrap();
        assert_eq!(notices.len(), 2);
        assert!(notices[0].to_string().contains("list.yaml"), "{notices:?}");
        assert_eq!(config.shared_secret().unwrap().0.expose(), "s");
    }

    #[test]
    fn secret_rules() {
        let files = Files::new();
        let secret_file = files.write("secret", b"  from-file\n");
        let empty_file = files.write("empty-secret", b" \n\t\n");
        let both = files.write(
            "both.yaml",
            format!(
                "registration_shared_secret: s\nregistration_shared_secret_path: {}\n",
                secret_file.display()
            )
            .as_bytes(),
        );
        assert!(message(secret_of(&[both])).contains("Conflicting options"));

        let neither = files.write("neither.yaml", b"server_name: x\n");
        let m = message(secret_of(&[neither]));
        assert!(
            m.contains("No 'registration_shared_secret'") && m.contains("neither.yaml"),
            "{m}"
        );

        let number = files.write("number.yaml", b"registration_shared_secret: 12345\n");
        let m = message(secret_of(&[number]));
        assert!(
            m.contains("number.yaml: registration_shared_secret: is not a string"),
            "{m}"
        );

        let path_number = files.write("pn.yaml", b"registration_shared_secret_path: [a]\n");
        let m = message(secret_of(&[path_number]));
        assert!(
            m.contains("registration_shared_secret_path: is not a string"),
            "{m}"
        );

        let via_path = files.write(
            "path.yaml",
            format!(
                "registration_shared_secret_path: {}\n",
                secret_file.display()
            )
            .as_bytes(),
        );
        assert_eq!(secret_of(&[via_path]).unwrap(), "from-file");

        let to_empty = files.write(
            "to-empty.yaml",
            format!(
                "registration_shared_secret_path: {}\n",
                empty_file.display()
            )
            .as_bytes(),
        );
        assert!(message(secret_of(&[to_empty])).ends_with("empty-secret: is empty"));

        let missing = files.write(
            "missing.yaml",
            b"registration_shared_secret_path: /nonexistent/secret\n",
        );
        let m = message(secret_of(&[missing]));
        assert!(
            m.contains("missing.yaml: registration_shared_secret_path: /nonexistent/secret: cannot be read: no such file"),
            "{m}"
        );

        let dir = files.write(
            "dir.yaml",
            format!(
                "registration_shared_secret_path: {}\n",
                files.0.path().display()
            )
            .as_bytes(),
        );
        assert!(message(secret_of(&[dir])).contains("is a directory"));

        let huge = files.write("huge", &vec![b'x'; 70 * 1024]);
        let to_huge = files.write(
            "to-huge.yaml",
            format!("registration_shared_secret_path: {}\n", huge.display()).as_bytes(),
        );
        assert!(message(secret_of(&[to_huge])).contains("is larger than 64 KiB"));

        // A null secret counts as unset, as it does for the server.
        let null_and_path = files.write(
            "null.yaml",
            format!(
                "registration_shared_secret: null\nregistration_shared_secret_path: {}\n",
                secret_file.display()
            )
            .as_bytes(),
        );
        assert_eq!(secret_of(&[null_and_path]).unwrap(), "from-file");
    }

    #[test]
    fn bad_files_are_named() {
        let files = Files::new();
        let not_yaml = files.write("bad.yaml", b"a: [unclosed\n");
        let m = message(secret_of(&[not_yaml]));
        assert!(m.contains("bad.yaml: is not valid YAML"), "{m}");
        let latin1 = files.write("latin1.yaml", b"registration_shared_secret: caf\xe9\n");
        assert!(message(secret_of(&[latin1])).contains("is not valid UTF-8"));
        let m = message(secret_of(&[files.0.path().join("absent.yaml")]));
        assert!(
            m.contains("absent.yaml: cannot be read: no such file"),
            "{m}"
        );
    }

    /// Issue 16: `<<: [*a, *b]` changed order in PyYAML 6.0.4; the value
    /// is 6.0.4's, and a notice names the key.
    #[test]
    fn a_key_two_merged_mappings_set_gets_a_notice() {
        let files = Files::new();
        let path = files.write(
            "merge.yaml",
            b"a: &a {registration_shared_secret: first}\nb: &b {registration_shared_secret: last}\n<<: [*a, *b]\n",
        );
        let (config, notices) = Config::load(&[path]).unwrap();
        assert_eq!(config.shared_secret().unwrap().0.expose(), "last");
        assert_eq!(notices.len(), 1, "{notices:?}");
        let notice = notices[0].to_string();
        assert!(
            notice.contains("merge.yaml: line 3: 'registration_shared_secret' is set by more than one mapping merged with '<<'"),
            "{notice}"
        );
    }

    #[test]
    fn anchors_and_merge_keys_resolve_as_in_pyyaml() {
        let files = Files::new();
        let path = files.write(
            "merge.yaml",
            b"base: &base\n  registration_shared_secret: merged\n<<: *base\nlisteners:\n  - &l {port: 8448, type: http, resources: [{names: [client]}]}\n",
        );
        assert_eq!(secret_of(std::slice::from_ref(&path)).unwrap(), "merged");
        let (config, _) = Config::load(&[path]).unwrap();
        assert_eq!(
            config.client_listener().unwrap(),
            Some(ClientListener::Tcp("http://localhost:8448".to_owned()))
        );
    }

    /// The listener found, as a URL or `unix:PATH`.
    fn listener_url(yaml: &str) -> Result<Option<String>> {
        let files = Files::new();
        let path = files.write("l.yaml", yaml.as_bytes());
        Ok(Config::load(&[path])?
            .0
            .client_listener()?
            .map(|listener| match listener {
                ClientListener::Tcp(url) => url,
                ClientListener::UnixSocket(path) => format!("unix:{}", path.display()),
            }))
    }

    #[test]
    fn listener_discovery() {
        let plain_after_tls = "listeners:\n  - {port: 8448, type: http, tls: true, resources: [{names: [client]}]}\n  - {port: 8080, type: metrics}\n  - {port: 9000, type: http, resources: [{names: [federation]}]}\n  - {port: 8008, type: http, resources: [{names: [federation]}, {names: [client, federation]}]}\n";
        assert_eq!(
            listener_url(plain_after_tls).unwrap().as_deref(),
            Some("http://localhost:8008")
        );
        let tls_only =
            "listeners:\n  - {port: 8448, type: http, tls: true, resources: [{names: [client]}]}\n";
        assert_eq!(
            listener_url(tls_only).unwrap().as_deref(),
            Some("https://localhost:8448")
        );
        assert_eq!(listener_url("server_name: x\n").unwrap(), None);
        assert_eq!(
            listener_url("listeners:\n  - {port: 1, type: http}\n").unwrap(),
            None
        );
        assert_eq!(listener_url("listeners: []\n").unwrap(), None);
    }

    #[test]
    fn flags_are_read_as_the_server_reads_them() {
        // YAML 1.1 booleans, and Python's truth for anything else.
        let listener = |tls: &str| {
            listener_url(&format!(
                "listeners: [{{port: 8448, type: http, tls: {tls}, resources: [{{names: [client]}}]}}]\n"
            ))
            .unwrap()
            .unwrap()
        };
        for plain in ["no", "No", "off", "OFF", "false", "~", "0", "''", "[]"] {
            assert_eq!(listener(plain), "http://localhost:8448", "tls: {plain}");
        }
        for tls in ["yes", "On", "true", "1", "'no'", "\"false\"", "[x]"] {
            assert_eq!(listener(tls), "https://localhost:8448", "tls: {tls}");
        }
        let files = Files::new();
        let underscore = |value: &str| {
            let path = files.write(
                "u.yaml",
                format!("allow_underscore_prefixed_localpart: {value}\n").as_bytes(),
            );
            Config::load(&[path])
                .unwrap()
                .0
                .allow_underscore_prefixed_localpart()
        };
        for allowed in ["true", "yes", "on", "'no'", "1"] {
            assert!(underscore(allowed), "{allowed}");
        }
        for refused in ["false", "no", "Off", "", "0"] {
            assert!(!underscore(refused), "{refused}");
        }
    }

    #[test]
    fn repeated_keys_keep_the_last_value_with_a_notice() {
        let files = Files::new();
        let path = files.write(
            "dup.yaml",
            b"registration_shared_secret: first\nlisteners:\n  - {port: 1, port: 2, type: http, resources: [{names: [client]}]}\nregistration_shared_secret: last\n",
        );
        let (config, notices) = Config::load(&[path]).unwrap();
        assert_eq!(config.shared_secret().unwrap().0.expose(), "last");
        assert_eq!(
            config.client_listener().unwrap(),
            Some(ClientListener::Tcp("http://localhost:2".to_owned()))
        );
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(
            notices[0].to_string().ends_with("dup.yaml: line 3: 'listeners[0].port' is set again; the last value counts, as for the server."),
            "{notices:?}"
        );
        assert!(
            notices[1]
                .to_string()
                .contains("line 4: 'registration_shared_secret' is set again")
        );
    }

    #[test]
    fn malformed_listeners_are_named() {
        let cases = [
            ("listeners: 8008\n", "listeners: is not a list"),
            ("listeners: [8008]\n", "listeners[0]: is not a mapping"),
            (
                "listeners: [{port: '8008', type: http, resources: [{names: [client]}]}]\n",
                "listeners[0].port: is not a port number",
            ),
            (
                "listeners: [{port: 70000, type: http, resources: [{names: [client]}]}]\n",
                "listeners[0].port: is not a port number",
            ),
            (
                "listeners: [{type: http, resources: [{names: [client]}]}]\n",
                "listeners[0].port: is not a port number",
            ),
            (
                "listeners: [{port: 1, type: http, resources: client}]\n",
                "listeners[0].resources: is not a list",
            ),
        ];
        for (yaml, expected) in cases {
            let m = listener_url(yaml).unwrap_err().to_string();
            assert!(m.contains(expected), "{yaml}: {m}");
        }
    }

    // Found while fuzzing (fuzz/fuzz_targets/config.rs) with an earlier YAML
    // parser, quadratic in bracket nesting: a 200 KB file of `[` took minutes.
    // The parser has its own nesting limit, reached at once.
    #[test]
    fn deep_nesting_is_refused_quickly() {
        let files = Files::new();
        let deep = format!("a: {}{}\n", "[".repeat(400_000), "]".repeat(400_000));
        let path = files.write("deep.yaml", deep.as_bytes());
        let start = std::time::Instant::now();
        let m = message(secret_of(&[path]));
        assert!(
            m.contains("deep.yaml: is not valid YAML for the server: it nests more than 128 levels deep (line 1 column 131)"),
            "{m}"
        );
        let dashes = format!("{}x\n", "- ".repeat(400_000));
        let path = files.write("dashes.yaml", dashes.as_bytes());
        let m = message(secret_of(&[path]));
        assert!(m.contains("nests more than 128 levels deep"), "{m}");
        // Generous: both take well under a millisecond.
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn many_repeated_keys_get_a_few_notices() {
        let files = Files::new();
        let text: String = (0..1000).map(|i| format!("k: {i}\n")).collect();
        let path = files.write("many.yaml", text.as_bytes());
        let (_, notices) = Config::load(&[path]).unwrap();
        assert_eq!(notices.len(), 6, "{notices:?}");
        assert!(
            notices[5]
                .to_string()
                .ends_with("many.yaml: 994 more keys are set again; the last values count.")
        );
    }

    #[test]
    fn extra_user_types_are_read() {
        let files = Files::new();
        let path = files.write("t.yaml", b"user_types:\n  extra_user_types: [tester, 3]\n");
        let (config, _) = Config::load(&[path]).unwrap();
        assert_eq!(config.extra_user_types(), vec!["tester".to_owned()]);
    }

    #[cfg(unix)]
    #[test]
    fn a_world_readable_secret_file_gets_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let files = Files::new();
        let path = files.write("secret", b"s\n");
        let (_, notice) = read_secret_file(&path, None).unwrap();
        assert_eq!(notice, None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (_, notice) = read_secret_file(&path, None).unwrap();
        let notice = notice.unwrap().to_string();
        assert!(notice.contains("readable by other users"), "{notice}");
    }

    #[test]
    fn discovery_dials_an_address_the_listener_binds() {
        let with = |bind: &str| {
            listener_url(&format!(
                "listeners: [{{port: 8008, type: http, {bind} resources: [{{names: [client]}}]}}]\n"
            ))
        };
        let cases = [
            ("", "http://localhost:8008"),
            ("bind_addresses: ['0.0.0.0'],", "http://localhost:8008"),
            ("bind_addresses: ['::'],", "http://localhost:8008"),
            (
                "bind_addresses: ['::1', '127.0.0.1'],",
                "http://localhost:8008",
            ),
            ("bind_addresses: ['192.0.2.10'],", "http://192.0.2.10:8008"),
            ("bind_addresses: ['127.0.0.2'],", "http://127.0.0.2:8008"),
            (
                "bind_addresses: ['2001:db8::10'],",
                "http://[2001:db8::10]:8008",
            ),
            (
                "bind_addresses: ['192.0.2.10', '0.0.0.0'],",
                "http://localhost:8008",
            ),
            // The older single key, added to the list as Synapse does.
            ("bind_address: '192.0.2.11',", "http://192.0.2.11:8008"),
        ];
        for (bind, expected) in cases {
            assert_eq!(with(bind).unwrap().as_deref(), Some(expected), "{bind}");
        }
        let m = with("bind_addresses: 127.0.0.2,").unwrap_err().to_string();
        assert!(
            m.contains("listeners[0].bind_addresses: is not a list"),
            "{m}"
        );
        let m = with("bind_addresses: ['fe80::1%eth0'],")
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("listeners[0].bind_addresses: 'fe80::1%eth0' is a scoped IPv6 address"),
            "{m}"
        );
        assert_eq!(
            with("bind_addresses: ['fe80::1%eth0', '192.0.2.12'],").unwrap(),
            Some("http://192.0.2.12:8008".to_owned())
        );
        let m = with("bind_addresses: [1],").unwrap_err().to_string();
        assert!(
            m.contains("listeners[0].bind_addresses: has an entry"),
            "{m}"
        );
        // Not a host: blamed on the key written, not on a server_url never
        // typed, and shown with its control characters escaped.
        let m = with("bind_addresses: [\"1.2.3.4\\e[2J\"],")
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("listeners[0].bind_addresses: '1.2.3.4\\u{1b}[2J' is not an address"),
            "{m}"
        );
        assert!(!m.contains("server_url") && !m.contains('\u{1b}'), "{m}");
        assert_eq!(
            with("bind_addresses: ['synapse.internal'],").unwrap(),
            Some("http://synapse.internal:8008".to_owned())
        );
    }

    // Issue 8, item 10: a socket listener before a TCP one was reported as a
    // listener with a bad port.
    #[test]
    fn a_unix_socket_listener_is_used_only_when_no_tcp_one_serves_clients() {
        let socket =
            "  - {path: /run/synapse/main.sock, type: http, resources: [{names: [client]}]}\n";
        let tcp = "  - {port: 8008, type: http, resources: [{names: [client]}]}\n";
        let tls = "  - {port: 8448, type: http, tls: true, resources: [{names: [client]}]}\n";
        let found = |listeners: &[&str]| {
            listener_url(&format!("listeners:\n{}", listeners.concat()))
                .unwrap()
                .unwrap()
        };
        assert_eq!(found(&[socket, tcp]), "http://localhost:8008");
        assert_eq!(found(&[socket, tls]), "https://localhost:8448");
        assert_eq!(found(&[socket]), "unix:/run/synapse/main.sock");
        let federation_socket =
            "  - {path: /run/fed.sock, type: http, resources: [{names: [federation]}]}\n";
        assert_eq!(
            found(&[federation_socket, socket]),
            "unix:/run/synapse/main.sock"
        );
        let m =
            listener_url("listeners: [{path: 3, type: http, resources: [{names: [client]}]}]\n")
                .unwrap_err()
                .to_string();
        assert!(m.contains("listeners[0].path: is not a socket path"), "{m}");
    }
}
