//! Which files the `-c` options name, read the way Synapse reads its own
//! `--config-path` options, and where homeserver configs usually live.

use crate::cli::config::{Config, SecretSource};
use crate::cli::error::{Error, Result};
use crate::cli::notice::{Ignored, Notice};
use crate::files::io_reason;
use std::path::{Path, PathBuf};

/// The files that `-c` paths name, in the order they are merged. A file is
/// itself; a directory is every regular file in it whose name ends in
/// `.yaml`, sorted by name, as Synapse's `--config-path DIR` reads it (a
/// `conf.d/` of packaged installs holds `server_name` and often the secret).
/// Entries Synapse ignores are named in a notice, as Synapse prints them.
pub fn expand(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Notice>)> {
    let mut files = Vec::new();
    let mut notices = Vec::new();
    for path in paths {
        // Following symbolic links, as Synapse's `os.path.isdir` does.
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            let (in_dir, dir_notices) = yaml_files_in(path)?;
            files.extend(in_dir);
            notices.extend(dir_notices);
        } else {
            files.push(path.clone());
        }
    }
    Ok((files, notices))
}

/// Entries of a config directory named one by one; more are counted.
const MAX_IGNORED_NOTICES: usize = 5;

fn yaml_files_in(dir: &Path) -> Result<(Vec<PathBuf>, Vec<Notice>)> {
    let unreadable = |e: std::io::Error| {
        Error::file(
            dir,
            None,
            format!("cannot be read: {} (a -c directory)", io_reason(&e)),
        )
    };
    let mut files = Vec::new();
    let mut notices = Vec::new();
    let mut ignored = 0usize;
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let path = entry.path();
        let reason = if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            Ignored::NotAFile
        } else if !entry.file_name().as_encoded_bytes().ends_with(b".yaml") {
            Ignored::NotYaml
        } else {
            files.push(path);
            continue;
        };
        ignored += 1;
        if ignored <= MAX_IGNORED_NOTICES {
            notices.push(Notice::IgnoredEntry {
                entry: path,
                reason,
            });
        }
    }
    // A wrong directory (`-c /etc`) must not bury the output in notices.
    if ignored > MAX_IGNORED_NOTICES {
        notices.push(Notice::MoreIgnoredEntries {
            dir: dir.to_owned(),
            count: ignored - MAX_IGNORED_NOTICES,
        });
    }
    // Synapse starts with an empty conf.d/; so does the tool, saying so.
    if files.is_empty() {
        notices.push(Notice::NoYamlInDirectory {
            dir: dir.to_owned(),
        });
    }
    // Byte order of UTF-8 names is the code-point order Python sorts by.
    files.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    Ok((files, notices))
}

/// Where packages and images put the homeserver config, and the directory
/// the service also reads, if any.
const USUAL_LAYOUTS: [(&str, Option<&str>); 5] = [
    // packages.matrix.org, Debian and YunoHost: the service also reads conf.d/.
    (
        "etc/matrix-synapse/homeserver.yaml",
        Some("etc/matrix-synapse/conf.d"),
    ),
    // Arch Linux, Alpine.
    ("etc/synapse/homeserver.yaml", None),
    // The Docker image's volume, when the tool runs inside the container.
    ("data/homeserver.yaml", None),
    // matrix-docker-ansible-deploy, on the host.
    ("matrix/synapse/config/homeserver.yaml", None),
    ("var/lib/matrix-synapse/homeserver.yaml", None),
];

/// The `-c` options for each homeserver config found in the usual places
/// under `root` (`/` outside tests). Only whether the files exist is looked
/// at: a config the user did not name is never read.
pub fn usual_configs(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for (file, dir) in USUAL_LAYOUTS {
        let file = root.join(file);
        if !file.is_file() {
            continue;
        }
        let mut options = format!("-c {}", file.display());
        if let Some(dir) = dir.map(|d| root.join(d)).filter(|d| d.is_dir()) {
            options.push_str(&format!(" -c {}", dir.display()));
        }
        found.push(options);
    }
    found
}

/// When the secret file a config names is missing here, as a container's
/// `/data/...` path is on the host, and a file of that name sits beside
/// the config (the volume it came from), the error gets a hint to pass it.
pub fn secret_elsewhere_hint(config: &Config, error: Error) -> Error {
    let Ok(SecretSource::File { path, config_file }) = config.secret_source() else {
        return error;
    };
    if std::fs::symlink_metadata(path).is_ok() {
        return error;
    }
    let beside = path
        .file_name()
        .and_then(|name| Some(config_file.parent()?.join(name)))
        .filter(|candidate| candidate.is_file());
    match beside {
        Some(candidate) => error.with_hint(format!(
            "{} names a path that does not exist here (inside a container, perhaps); {} sits beside the config: pass --shared-secret-file {}",
            config_file.display(),
            candidate.display(),
            candidate.display()
        )),
        None => error.with_hint(format!(
            "{} names a path that does not exist here (inside a container, perhaps): pass the secret file as this machine sees it with --shared-secret-file FILE",
            config_file.display()
        )),
    }
}

/// `-c homeserver.yaml` alone where packages.matrix.org and Debian lay the
/// config out: the secret is in the `conf.d/` beside the file, which the
/// service reads and `-c` did not name. The error gets a hint to add it.
pub fn confd_hint(config: &Config, given: &[PathBuf], error: Error) -> Error {
    let set = |key| {
        config
            .get(key)
            .and_then(|(value, _)| value.as_str())
            .is_some_and(|value| !value.is_empty())
    };
    if set("registration_shared_secret") || set("registration_shared_secret_path") {
        return error;
    }
    let same = |a: &Path, b: &Path| {
        std::fs::canonicalize(a)
            .ok()
            .is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
    };
    let beside = given.iter().find_map(|file| {
        let dir = file.parent()?.join("conf.d");
        let named = given.iter().any(|other| same(other, &dir));
        (file.is_file() && dir.is_dir() && !named).then_some((file, dir))
    });
    match beside {
        Some((file, dir)) => error.with_hint(format!(
            "the service also reads {}, where packages.matrix.org keeps the secret: pass -c {} -c {}",
            dir.display(),
            file.display(),
            dir.display()
        )),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_without_the_secret_beside_a_conf_d_gets_a_hint_to_pass_it() {
        let root = tempfile::tempdir().unwrap();
        let main = root.path().join("homeserver.yaml");
        let confd = root.path().join("conf.d");
        write(&main, "report_stats: false\n");
        write(
            &confd.join("secret.yaml"),
            "registration_shared_secret: s\n",
        );
        let hint = |given: &[PathBuf]| {
            let (config, _) = Config::load(std::slice::from_ref(&main)).unwrap();
            let error = config.shared_secret().unwrap_err();
            confd_hint(&config, given, error)
                .hint()
                .map(|hint| hint.to_string())
        };
        assert_eq!(
            hint(std::slice::from_ref(&main)).unwrap(),
            format!(
                "the service also reads {0}, where packages.matrix.org keeps the secret: pass -c {1} -c {0}",
                confd.display(),
                main.display()
            )
        );
        // conf.d named already (its secret elsewhere, then): nothing to add.
        assert_eq!(hint(&[main.clone(), root.path().join("./conf.d/")]), None);
        // No conf.d beside the file: nothing to suggest.
        std::fs::remove_dir_all(&confd).unwrap();
        assert_eq!(hint(std::slice::from_ref(&main)), None);
    }

    fn write(path: &Path, content: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    #[test]
    fn a_directory_gives_its_yaml_files_in_sorted_order() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("conf.d");
        for name in [
            "b.yaml",
            "a.yaml",
            "Z.yaml",
            ".hidden.yaml",
            "10.yaml",
            "9.yaml",
        ] {
            write(&dir.join(name), "x: 1\n");
        }
        write(&dir.join("notes.yml"), "x: 1\n");
        write(&dir.join("old.yaml.dpkg-dist"), "x: 1\n");
        std::fs::create_dir(dir.join("sub.yaml")).unwrap();
        let main = root.path().join("homeserver.yaml");
        write(&main, "x: 1\n");

        let (files, notices) = expand(&[main, dir]).unwrap();
        let notices: Vec<String> = notices.iter().map(ToString::to_string).collect();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(root.path()).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "homeserver.yaml",
                "conf.d/.hidden.yaml",
                "conf.d/10.yaml",
                "conf.d/9.yaml",
                "conf.d/Z.yaml",
                "conf.d/a.yaml",
                "conf.d/b.yaml"
            ]
        );
        assert_eq!(notices.len(), 3, "{notices:?}");
        assert!(notices.iter().any(|n| n.contains("notes.yml")));
        assert!(
            notices
                .iter()
                .any(|n| n.contains("sub.yaml") && n.contains("not a file"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_are_followed_as_synapse_does() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("real.yaml");
        write(&target, "x: 1\n");
        let dir = root.path().join("conf.d");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&target, dir.join("linked.yaml")).unwrap();
        std::os::unix::fs::symlink(root.path().join("gone"), dir.join("broken.yaml")).unwrap();
        let linked_dir = root.path().join("linked-dir");
        std::os::unix::fs::symlink(&dir, &linked_dir).unwrap();
        let (files, notices) = expand(std::slice::from_ref(&linked_dir)).unwrap();
        assert_eq!(files, [linked_dir.join("linked.yaml")]);
        assert!(
            notices[0].to_string().contains("broken.yaml"),
            "{notices:?}"
        );
    }

    #[test]
    fn a_directory_without_yaml_files_gets_a_notice() {
        let root = tempfile::tempdir().unwrap();
        write(&root.path().join("README"), "");
        let (files, notices) = expand(&[root.path().to_owned()]).unwrap();
        assert!(files.is_empty());
        assert!(
            notices.contains(&Notice::NoYamlInDirectory {
                dir: root.path().to_owned()
            }),
            "{notices:?}"
        );
    }

    #[test]
    fn usual_places_are_found_without_reading_them() {
        let root = tempfile::tempdir().unwrap();
        assert!(usual_configs(root.path()).is_empty());
        let packaged = root.path().join("etc/matrix-synapse/homeserver.yaml");
        write(&packaged, "");
        // Unreadable content does not matter: only existence is looked at.
        let docker = root.path().join("data/homeserver.yaml");
        write(&docker, "\u{0}not yaml");
        assert_eq!(
            usual_configs(root.path()),
            [
                format!("-c {}", packaged.display()),
                format!("-c {}", docker.display())
            ]
        );
        std::fs::create_dir(root.path().join("etc/matrix-synapse/conf.d")).unwrap();
        assert_eq!(
            usual_configs(root.path())[0],
            format!(
                "-c {} -c {}",
                packaged.display(),
                root.path().join("etc/matrix-synapse/conf.d").display()
            )
        );
    }

    #[test]
    fn a_secret_path_from_another_filesystem_gets_a_hint() {
        let root = tempfile::tempdir().unwrap();
        let config_path = root.path().join("homeserver.yaml");
        write(
            &config_path,
            "registration_shared_secret_path: /nonexistent-data/registration.secret\n",
        );
        let load = || Config::load(std::slice::from_ref(&config_path)).unwrap().0;
        let config = load();
        let error = config.shared_secret().unwrap_err();
        let error = secret_elsewhere_hint(&config, error);
        assert!(
            error.to_string().starts_with(&format!(
                "{}: registration_shared_secret_path: /nonexistent-data/registration.secret: cannot be read: no such file",
                config_path.display()
            )),
            "{error}"
        );
        assert!(
            error
                .hint()
                .unwrap()
                .to_string()
                .ends_with("with --shared-secret-file FILE")
        );

        let beside = root.path().join("registration.secret");
        write(&beside, "s\n");
        let config = load();
        let error = config.shared_secret().unwrap_err();
        let hint = secret_elsewhere_hint(&config, error)
            .hint()
            .unwrap()
            .to_string();
        assert!(
            hint.ends_with(&format!("pass --shared-secret-file {}", beside.display())),
            "{hint}"
        );
    }

    #[test]
    fn a_directory_full_of_other_files_gives_few_notices() {
        let root = tempfile::tempdir().unwrap();
        for i in 0..40 {
            write(&root.path().join(format!("f{i}.txt")), "");
        }
        write(&root.path().join("hs.yaml"), "x: 1\n");
        let (_, notices) = expand(&[root.path().to_owned()]).unwrap();
        assert_eq!(notices.len(), MAX_IGNORED_NOTICES + 1, "{notices:?}");
        assert!(
            notices
                .last()
                .unwrap()
                .to_string()
                .starts_with("Ignoring 35 more entries in "),
            "{notices:?}"
        );
    }
}
