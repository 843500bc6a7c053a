//! The recipes in contrib/ (docs/recipes.md), run with the real tools where
//! they run here: the Ansible playbook with ansible-core (installed by
//! scripts/ansible) and the container init script against the real Synapse
//! that scripts/test starts; the systemd unit through `systemd-analyze
//! verify` and its command against the real Synapse; the Kubernetes Job's
//! command against the stub Synapse and its manifest through a YAML parser
//! (never against a cluster).

use serde::Deserialize;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::real::{PROXY_VARIABLES, Synapse, unique};

use crate::{BIN, tool};

fn contrib(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib")
        .join(path)
}

/// A command without the variables the tool reads from the environment: the
/// test servers are on loopback, and the secret comes from the recipe.
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_remove("MATRIX_REGISTRATION_SHARED_SECRET");
    for var in PROXY_VARIABLES {
        command.env_remove(var);
    }
    command
}

/// Writes a file only its owner can read, as secrets are kept.
fn write_private(path: &Path, content: &str) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(content.as_bytes()).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A random password that no output may contain.
fn password() -> String {
    format!("pw-{}-Secret", unique("x"))
}

/// Waits for a child for at most `limit`, killing it after that.
fn wait_for(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn manifest(path: &str) -> Vec<serde_yaml::Value> {
    let text = std::fs::read_to_string(contrib(path)).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| serde_yaml::Value::deserialize(document).unwrap())
        .collect()
}

fn str_of<'a>(value: &'a serde_yaml::Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value:?}"))
}

fn list_of<'a>(value: &'a serde_yaml::Value, what: &str) -> &'a Vec<serde_yaml::Value> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("{what} is not a list: {value:?}"))
}

/// The object of `kind` in a Kubernetes manifest, and its name.
fn object<'a>(documents: &'a [serde_yaml::Value], kind: &str) -> (&'a serde_yaml::Value, &'a str) {
    let object = documents
        .iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} in the manifest"));
    (object, str_of(&object["metadata"]["name"], "metadata.name"))
}

const JOB: &str = "kubernetes/register-users-job.yaml";

#[test]
fn kubernetes_manifest_objects_refer_to_each_other() {
    let documents = manifest(JOB);
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| str_of(&d["kind"], "kind"))
        .collect();
    assert_eq!(
        kinds,
        ["Secret", "ConfigMap", "PersistentVolumeClaim", "Job"]
    );
    for document in &documents {
        str_of(&document["apiVersion"], "apiVersion");
    }
    let (secret, secret_name) = object(&documents, "Secret");
    let (config_map, config_map_name) = object(&documents, "ConfigMap");
    let (_, claim_name) = object(&documents, "PersistentVolumeClaim");
    let (job, _) = object(&documents, "Job");
    assert_eq!(str_of(&job["apiVersion"], "apiVersion"), "batch/v1");

    let pod = &job["spec"]["template"]["spec"];
    assert!(
        ["Never", "OnFailure"].contains(&str_of(&pod["restartPolicy"], "restartPolicy")),
        "a Job's pods must not restart Always"
    );
    let volumes = list_of(&pod["volumes"], "volumes");
    for volume in volumes {
        let name = str_of(&volume["name"], "volume name");
        let (expected, got) = if let Some(name) = volume["secret"]["secretName"].as_str() {
            (secret_name, name)
        } else if let Some(name) = volume["configMap"]["name"].as_str() {
            (config_map_name, name)
        } else if let Some(name) = volume["persistentVolumeClaim"]["claimName"].as_str() {
            (claim_name, name)
        } else {
            panic!("volume {name}: not a Secret, ConfigMap or claim of this manifest");
        };
        assert_eq!(got, expected, "volume {name}");
    }
    let containers = list_of(&pod["containers"], "containers");
    assert_eq!(containers.len(), 1);
    let script = str_of(&list_of(&containers[0]["args"], "args")[0], "args[0]");
    let mounts = list_of(&containers[0]["volumeMounts"], "volumeMounts");
    // Every file the command names is a key of the object mounted there.
    let mounted_key = |option: &str, object: &serde_yaml::Value, data: &str| {
        let words: Vec<&str> = script.split_whitespace().collect();
        let at = words.iter().position(|w| *w == option).unwrap();
        let path = words[at + 1];
        let (directory, key) = path.rsplit_once('/').unwrap();
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"].as_str() == Some(directory))
            .unwrap_or_else(|| panic!("{option} {path}: nothing is mounted at {directory}"));
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("mount {:?} names no volume", mount["name"]));
        assert!(
            object[data].get(key).is_some(),
            "{option} {path}: {key} is not in the {data} of the object mounted there ({volume:?})"
        );
    };
    mounted_key("--batch", config_map, "data");
    mounted_key("--shared-secret-file", secret, "stringData");
    for mount in mounts {
        assert!(
            volumes.iter().any(|v| v["name"] == mount["name"]),
            "mount {:?} names no volume",
            mount["name"]
        );
    }
}

/// The Job's own command, run by sh as in the container, with the mounts
/// made from the manifest's own Secret and ConfigMap and the in-cluster URL
/// pointed at the stub Synapse.
#[test]
fn kubernetes_job_command_registers_the_configmap_users_and_keeps_results_off_the_log() {
    let documents = manifest(JOB);
    let (secret, _) = object(&documents, "Secret");
    let (config_map, _) = object(&documents, "ConfigMap");
    let (job, _) = object(&documents, "Job");
    let pod = &job["spec"]["template"]["spec"];
    let container = &list_of(&pod["containers"], "containers")[0];
    let entrypoint: Vec<&str> = list_of(&container["command"], "command")
        .iter()
        .map(|c| str_of(c, "command"))
        .collect();
    assert_eq!(entrypoint, ["/bin/sh", "-c"]);
    let mut script = str_of(&list_of(&container["args"], "args")[0], "args[0]").to_owned();

    let secret_value = str_of(
        &secret["stringData"]["registration_shared_secret"],
        "the secret",
    );
    let (server, synapse) = support::stub::Stub::synapse(secret_value.trim());
    let root = tempfile::tempdir().unwrap();
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for mount in list_of(&container["volumeMounts"], "volumeMounts") {
        let name = str_of(&mount["name"], "mount name");
        let directory = root.path().join(name);
        std::fs::create_dir(&directory).unwrap();
        let volume = list_of(&pod["volumes"], "volumes")
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
            .unwrap();
        let files = if volume.get("secret").is_some() {
            secret["stringData"].as_mapping()
        } else if volume.get("configMap").is_some() {
            config_map["data"].as_mapping()
        } else {
            None
        };
        for (key, value) in files.into_iter().flatten() {
            write_private(&directory.join(str_of(key, "key")), str_of(value, "value"));
        }
        mounts.push((
            str_of(&mount["mountPath"], "mountPath").to_owned(),
            directory,
        ));
    }
    // Longest first, so that no mount path is replaced inside a longer one.
    mounts.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    for (path, directory) in &mounts {
        script = script.replace(&format!("{path}/"), &format!("{}/", directory.display()));
    }
    let script = script
        .replace("/usr/local/bin/register_new_matrix_user", BIN)
        .replace("http://synapse:8008", &server.url());
    let results = &mounts
        .iter()
        .find(|(path, _)| path == "/results")
        .expect("a /results mount")
        .1;

    let csv = str_of(&config_map["data"]["users.csv"], "users.csv");
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    for attempt in 1..=2 {
        if attempt == 2 {
            // The results file is named by the second.
            std::thread::sleep(Duration::from_millis(1100));
        }
        let output = command("/bin/sh").args(["-c", &script]).output().unwrap();
        let log = format!("{}{}", text(&output.stdout), text(&output.stderr));
        assert_eq!(output.status.code(), Some(0), "{log}");
        assert!(output.stdout.is_empty(), "{log}");

        let mut files: Vec<PathBuf> = std::fs::read_dir(results)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), attempt, "one results file per attempt");
        let newest = files.last().unwrap();
        assert_eq!(mode(newest), 0o600, "results are owner-only");
        let lines: Vec<Value> = std::fs::read_to_string(newest)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), rows.len());
        // The first run creates every account, a rerun none.
        let created = attempt == 1;
        for line in &lines {
            assert_eq!(line["created"], created, "{line}");
            // What the pod's log would show holds no token and no password.
            for field in ["access_token", "password"] {
                if let Some(value) = line[field].as_str() {
                    assert!(!log.contains(value), "{field} in the log: {log}");
                }
            }
        }
        if created {
            assert!(lines.iter().all(|l| l["access_token"].is_string()));
            assert!(lines.iter().all(|l| l["password"].is_string()));
        }
    }
    let accounts = synapse.accounts();
    assert_eq!(accounts.len(), rows.len());
    for row in &rows {
        let account = accounts.iter().find(|a| a.username == row[0]).unwrap();
        assert_eq!(account.admin, row[1] == "yes", "{}", row[0]);
        assert_eq!(
            account.user_type.as_deref(),
            Some(row[2]).filter(|t| !t.is_empty())
        );
        assert_eq!(account.displayname.as_deref(), Some(row[3]));
    }
}

#[test]
fn compose_file_gives_the_init_service_its_secrets_and_the_script() {
    let compose = &manifest("container/compose.yaml")[0];
    let init = &compose["services"]["synapse-first-admin"];
    assert_eq!(
        init["entrypoint"][0].as_str(),
        Some("/usr/local/bin/synapse-first-admin")
    );
    for secret in list_of(&init["secrets"], "secrets") {
        let name = str_of(secret, "secret");
        assert!(
            compose["secrets"][name]["file"].is_string(),
            "secret {name} is not defined"
        );
    }
    // The script's defaults read the secrets where compose mounts them.
    let script = std::fs::read_to_string(contrib("container/synapse-first-admin")).unwrap();
    assert!(script.contains("/run/secrets/registration_shared_secret"));
    assert!(script.contains("/run/secrets/admin_password"));
    let token = str_of(&init["environment"]["TOKEN_FILE"], "TOKEN_FILE");
    assert!(
        list_of(&init["volumes"], "volumes")
            .iter()
            .any(|v| token.starts_with(str_of(v, "volume").split(':').nth(1).unwrap())),
        "{token} is not on a volume"
    );
}

/// The init script's environment for an admin on `url`, with its files in `dir`.
fn init_script(dir: &Path, url: &str, user: &str, wait: &str) -> Command {
    let mut command = command(contrib("container/synapse-first-admin"));
    command
        .env("SYNAPSE_URL", url)
        .env("SHARED_SECRET_FILE", dir.join("secret"))
        .env("ADMIN_USER", user)
        .env("ADMIN_PASSWORD_FILE", dir.join("password"))
        .env("TOKEN_FILE", dir.join("admin.token"))
        .env("WAIT_SECONDS", wait)
        .env("REGISTER_NEW_MATRIX_USER", BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A loopback port nothing listens on (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Listens on `port` from now on and passes every connection to `upstream`:
/// to the tool, a server that has just started.
fn forward(port: u16, upstream: SocketAddr) {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("the port is still free");
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let (Ok(client), Ok(server)) = (client, TcpStream::connect(upstream)) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let mut buffer = [0; 16384];
                    while let Ok(n @ 1..) = from.read(&mut buffer) {
                        if to.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
}

#[test]
#[ignore = "needs the real Synapse that scripts/test starts"]
fn init_script_waits_for_a_server_that_starts_later_and_keeps_the_token_private() {
    let synapse = Synapse::get();
    let dir = tempfile::tempdir().unwrap();
    let password = password();
    write_private(&dir.path().join("secret"), &synapse.secret);
    write_private(&dir.path().join("password"), &password);
    let user = unique("initadmin");
    let port = free_port();

    let mut child = init_script(dir.path(), &format!("http://127.0.0.1:{port}"), &user, "60")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the script must still be waiting for the server"
    );
    assert!(!dir.path().join("admin.token").exists());
    let upstream: SocketAddr = synapse.url.trim_start_matches("http://").parse().unwrap();
    forward(port, upstream);
    let output = wait_for(child, Duration::from_secs(60));
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(&password));

    let token_file = dir.path().join("admin.token");
    assert_eq!(mode(&token_file), 0o600);
    assert_eq!(
        file_names(dir.path()),
        ["admin.token", "password", "secret"]
    );
    let token = std::fs::read_to_string(&token_file).unwrap();
    let user_id = synapse.user_id(&user);
    assert_eq!(synapse.whoami(token.trim()), Ok(user_id.clone()));
    assert_eq!(synapse.admin_user(&user_id).unwrap()["admin"], true);
    assert!(synapse.login(&user, &password).is_ok());

    // A restarted container runs it again: nothing changes.
    let again = wait_for(
        init_script(dir.path(), &synapse.url, &user, "60")
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    let stderr = text(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("exists already"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), token);
    assert_eq!(
        file_names(dir.path()),
        ["admin.token", "password", "secret"]
    );

    // The token was lost (say the disk was full): the script says so.
    std::fs::remove_file(&token_file).unwrap();
    let lost = wait_for(
        init_script(dir.path(), &synapse.url, &user, "60")
            .spawn()
            .unwrap(),
        Duration::from_secs(60),
    );
    let stderr = text(&lost.stderr);
    assert_eq!(lost.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("there is no"), "{stderr}");
    assert_eq!(file_names(dir.path()), ["password", "secret"]);
}

#[test]
fn init_script_gives_up_after_its_wait_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    write_private(&dir.path().join("secret"), "s3cret");
    write_private(&dir.path().join("password"), "pw");
    let url = format!("http://127.0.0.1:{}", free_port());
    let output = wait_for(
        init_script(dir.path(), &url, "admin", "1").spawn().unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(output.status.code(), Some(4), "{}", text(&output.stderr));
    assert_eq!(file_names(dir.path()), ["password", "secret"]);
}

/// The unit file with its continuation lines joined.
fn unit_lines() -> Vec<String> {
    let unit = std::fs::read_to_string(contrib("systemd/synapse-first-admin.service")).unwrap();
    unit.replace("\\\n", " ")
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "needs systemd-analyze (.ci/run installs it)"]
fn systemd_unit_passes_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(contrib("systemd/synapse-first-admin.service")).unwrap();
    // verify checks that ExecStart's program exists and that the units it
    // depends on are there: the built binary and a stand-in for Synapse's.
    std::fs::write(
        dir.path().join("synapse-first-admin.service"),
        unit.replace("/usr/local/bin/register_new_matrix_user", BIN),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("matrix-synapse.service"),
        "[Unit]\nDescription=Synapse stand-in\n[Service]\nType=notify\nExecStart=/bin/true\n",
    )
    .unwrap();
    let output = command("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("synapse-first-admin.service"))
        // The trailing colon keeps systemd's own directories in the path.
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.path().display()))
        .output()
        .expect("systemd-analyze (Debian: apt-get install systemd)");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // Unknown keys and bad values are only warnings, on stderr.
    assert_eq!(stderr, "");
}

#[test]
#[ignore = "needs the real Synapse that scripts/test starts"]
fn systemd_unit_command_registers_the_admin_from_its_credentials() {
    let synapse = Synapse::get();
    let lines = unit_lines();
    let credentials: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("LoadCredential="))
        .map(|c| c.split_once(':').unwrap().0)
        .collect();
    assert_eq!(
        credentials,
        ["registration_shared_secret", "admin_password"]
    );
    let exec = lines
        .iter()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    let mut args: Vec<String> = exec.split_whitespace().map(str::to_owned).collect();

    // Every secret comes from a credential file: no -k, -p, or secret in the environment.
    for option in ["-k", "--shared-secret", "-p", "--password"] {
        assert!(!args.iter().any(|a| a == option), "{option} in ExecStart");
    }
    assert!(!lines.iter().any(|l| l.starts_with("Environment")));

    let dir = tempfile::tempdir().unwrap();
    let password = password();
    write_private(
        &dir.path().join("registration_shared_secret"),
        &synapse.secret,
    );
    write_private(&dir.path().join("admin_password"), &password);
    let user = unique("unitadmin");
    let at = args.iter().position(|a| a == "-u").unwrap();
    args[at + 1] = user.clone();
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            a.replace("${CREDENTIALS_DIRECTORY}", dir.path().to_str().unwrap())
                .replace("http://localhost:8008", &synapse.url)
        })
        .collect();
    assert_eq!(args[0], "/usr/local/bin/register_new_matrix_user");
    let output = tool().args(&args[1..]).run();
    let journal = format!("{}{}", output.stdout, output.stderr);
    assert_eq!(output.code, Some(0), "{journal}");
    assert!(
        !journal.contains(&password) && !journal.contains("syt_"),
        "{journal}"
    );
    let user_id = synapse.user_id(&user);
    assert_eq!(synapse.admin_user(&user_id).unwrap()["admin"], true);
    assert!(synapse.login(&user, &password).is_ok());

    // On the next boot the admin exists: the unit succeeds and changes nothing.
    let again = tool().args(&args[1..]).run();
    assert_eq!(again.code, Some(0), "{}", again.stderr);
}

/// The secret `-c` finds in these config files, as the tool reads it.
fn secret_in(configs: &[PathBuf]) -> String {
    let (config, _) = register_new_matrix_user::__private::Config::load(configs).unwrap();
    config.shared_secret().unwrap().0.expose().to_owned()
}

/// Runs contrib/systemd/secret-to-file on `dir` with dash, a POSIX sh.
fn secret_to_file(dir: &Path) -> Output {
    command("dash")
        .arg(contrib("systemd/secret-to-file"))
        .arg(dir)
        .env("SYNAPSE_USER", "no-such-user-here")
        .output()
        .expect("dash (Debian's /bin/sh)")
}

/// The hardening step the systemd recipe relies on: the inline secret moved
/// into a file of mode 0600 that the config names, the same secret read
/// through either; from conf.d too; quoted forms it cannot copy exactly are
/// refused and nothing is changed.
#[test]
fn secret_to_file_moves_an_inline_secret_into_a_private_file() {
    // Synapse's generated secrets hold YAML punctuation, hence the quotes.
    for (line, secret) in [
        (
            "registration_shared_secret: \"a#b&c~d:e=f@g\"",
            "a#b&c~d:e=f@g",
        ),
        (
            "registration_shared_secret: 'plain-in-single'",
            "plain-in-single",
        ),
        ("registration_shared_secret: plainvalue42", "plainvalue42"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("homeserver.yaml");
        let yaml = format!("server_name: example.org\n{line}\nreport_stats: false\n");
        std::fs::write(&config, &yaml).unwrap();
        assert_eq!(secret_in(std::slice::from_ref(&config)), secret);

        let output = secret_to_file(dir.path());
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        let file = dir.path().join("registration_shared_secret");
        assert_eq!(mode(&file), 0o600);
        let moved = std::fs::read_to_string(&config).unwrap();
        assert!(!moved.contains(secret), "{moved}");
        assert_eq!(
            moved,
            format!(
                "server_name: example.org\nregistration_shared_secret_path: {}\nreport_stats: false\n",
                file.display()
            )
        );
        assert_eq!(secret_in(&[config]), secret, "{line}");
        // Run again: the file exists, nothing is done.
        assert_eq!(secret_to_file(dir.path()).status.code(), Some(1));
    }

    // packages.matrix.org: the secret in conf.d/.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf.d")).unwrap();
    std::fs::write(dir.path().join("homeserver.yaml"), "report_stats: false\n").unwrap();
    let in_confd = dir.path().join("conf.d/secret.yaml");
    std::fs::write(&in_confd, "registration_shared_secret: \"s3cr3t\"\n").unwrap();
    let output = secret_to_file(dir.path());
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        secret_in(&[dir.path().join("homeserver.yaml"), in_confd.clone()]),
        "s3cr3t"
    );
    assert!(
        !std::fs::read_to_string(&in_confd)
            .unwrap()
            .contains("s3cr3t")
    );

    // Forms it cannot copy exactly: refused, the config as it was.
    for line in [
        "registration_shared_secret: \"with\\\"escape\"",
        "registration_shared_secret: |",
        "registration_shared_secret: abc # a comment",
        "registration_shared_secret: 'it''s'",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("homeserver.yaml");
        std::fs::write(&config, format!("{line}\n")).unwrap();
        let output = secret_to_file(dir.path());
        assert_eq!(output.status.code(), Some(1), "{line}");
        assert!(text(&output.stderr).contains("move it by hand"), "{line}");
        assert_eq!(
            std::fs::read_to_string(&config).unwrap(),
            format!("{line}\n")
        );
        assert!(!dir.path().join("registration_shared_secret").exists());
    }
}

/// `ansible-playbook` from scripts/ansible (which installs it the first time).
fn ansible_playbook() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ansible");
    let output = Command::new(script).arg("path").output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    PathBuf::from(text(&output.stdout).trim())
}

struct Play {
    code: Option<i32>,
    output: String,
}

impl Play {
    /// Per-item results of the registration task reported changed.
    fn changed_items(&self) -> usize {
        self.output
            .lines()
            .filter(|l| l.starts_with("changed: [localhost] => (item="))
            .count()
    }

    /// `changed=N` in the play recap.
    fn recap_changed(&self) -> u32 {
        let recap = self.output.rsplit("PLAY RECAP").next().unwrap();
        let at = recap.find("changed=").unwrap() + "changed=".len();
        recap[at..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

fn play(playbook: &Path, dir: &Path, vars: &Value) -> Play {
    play_with(playbook, dir, vars, &playbook.with_file_name("python"))
}

/// The playbook with this Python as the host's interpreter.
fn play_with(playbook: &Path, dir: &Path, vars: &Value, python: &Path) -> Play {
    let vars_file = dir.join(format!("vars-{}.json", unique("v")));
    write_private(&vars_file, &vars.to_string());
    std::fs::write(
        dir.join("inventory"),
        format!(
            "[synapse]\nlocalhost ansible_connection=local ansible_python_interpreter={}\n",
            python.display()
        ),
    )
    .unwrap();
    let output = command(playbook)
        .arg("-v")
        .args(["-i", "inventory"])
        .arg(contrib("ansible/matrix-users.yml"))
        .arg("-e")
        .arg(format!("@{}", vars_file.display()))
        .current_dir(dir)
        .env("LC_ALL", "C.UTF-8")
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_HOME", dir.join("ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-tmp"))
        .env("ANSIBLE_REMOTE_TEMP", dir.join("ansible-tmp"))
        .output()
        .unwrap();
    Play {
        code: output.status.code(),
        output: format!("{}{}", text(&output.stdout), text(&output.stderr)),
    }
}

#[test]
#[ignore = "needs the real Synapse that scripts/test starts, and ansible-core (scripts/ansible)"]
fn ansible_playbook_reports_created_accounts_changed_then_nothing() {
    let synapse = Synapse::get();
    let playbook = ansible_playbook();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    write_private(&secret_file, &synapse.secret);
    // The tool as Ansible runs it, with its argv written down.
    let argv_log = dir.path().join("argv.log");
    let wrapper = dir.path().join("register_new_matrix_user");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{BIN}' \"$@\"\n",
            argv_log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o700)).unwrap();

    let (admin, bot, plain) = (unique("ansadmin"), unique("ansbot"), unique("ansuser"));
    let passwords = [password(), password(), password()];
    let bot_password_file = dir.path().join("bot.password");
    write_private(&bot_password_file, &passwords[1]);
    let mut vars = serde_json::json!({
        "rnmu_binary": wrapper,
        "rnmu_server_url": synapse.url,
        "rnmu_shared_secret_file": secret_file,
        "matrix_users": [
            {"localpart": admin, "admin": true, "password": passwords[0]},
            {"localpart": bot, "user_type": "bot", "display_name": "Helper Bot",
             "password_file": bot_password_file},
            {"localpart": plain, "password": passwords[2]},
        ],
    });
    let leaks = |what: &str, text: &str| {
        for password in &passwords {
            assert!(
                !text.contains(password.as_str()),
                "{what} shows a password:\n{text}"
            );
        }
        assert!(
            !text.contains("syt_"),
            "{what} shows an access token:\n{text}"
        );
    };

    let first = play(&playbook, dir.path(), &vars);
    assert_eq!(first.code, Some(0), "{}", first.output);
    assert_eq!(first.changed_items(), 3, "{}", first.output);
    assert_eq!(first.recap_changed(), 1, "{}", first.output);
    assert!(
        first
            .output
            .contains(&format!("created: ['{admin}', '{bot}', '{plain}']"))
    );
    leaks("the first run", &first.output);

    let second = play(&playbook, dir.path(), &vars);
    assert_eq!(second.code, Some(0), "{}", second.output);
    assert_eq!(second.changed_items(), 0, "{}", second.output);
    assert_eq!(second.recap_changed(), 0, "{}", second.output);
    assert!(second.output.contains("created: []"), "{}", second.output);
    leaks("the second run", &second.output);

    let admin_id = synapse.user_id(&admin);
    assert_eq!(synapse.admin_user(&admin_id).unwrap()["admin"], true);
    let bot_account = synapse.admin_user(&synapse.user_id(&bot)).unwrap();
    assert_eq!(bot_account["user_type"], "bot");
    assert_eq!(bot_account["displayname"], "Helper Bot");
    assert_eq!(bot_account["admin"], false);
    for (user, password) in [&admin, &bot, &plain].into_iter().zip(&passwords) {
        assert!(synapse.login(user, password).is_ok(), "{user}");
    }

    // A failure names the account and the tool's error, and nothing else.
    vars["matrix_users"] = serde_json::json!([
        {"localpart": "Bad User", "password": passwords[0]},
    ]);
    let failed = play(&playbook, dir.path(), &vars);
    assert_eq!(failed.code, Some(2), "{}", failed.output);
    assert!(
        failed
            .output
            .contains("Bad User: exit 3: error: -u/--user:"),
        "{}",
        failed.output
    );
    leaks("the failed run", &failed.output);

    // No Python where the inventory says: Ansible's module never starts,
    // and the message says so rather than "exit 127".
    let no_python = play_with(
        &playbook,
        dir.path(),
        &vars,
        &dir.path().join("no-such-python"),
    );
    assert_ne!(no_python.code, Some(0), "{}", no_python.output);
    assert!(
        no_python
            .output
            .contains("Bad User: Ansible could not run its command module")
            && no_python.output.contains("ansible_python_interpreter"),
        "{}",
        no_python.output
    );

    // The shipped users.example.yml as it is, but for names, paths and the
    // password's value: every variable it uses is defined in it.
    let mut example: Value = serde_yaml::from_str(
        &std::fs::read_to_string(contrib("ansible/users.example.yml")).unwrap(),
    )
    .unwrap();
    let alice = unique("ansalice");
    let helper = unique("anshelper");
    example["rnmu_binary"] = serde_json::json!(wrapper);
    example["rnmu_server_url"] = serde_json::json!(synapse.url);
    example["rnmu_shared_secret_file"] = serde_json::json!(secret_file);
    example["vault_alice_password"] = serde_json::json!(passwords[2]);
    example["matrix_users"][0]["localpart"] = serde_json::json!(alice);
    assert_eq!(
        example["matrix_users"][0]["password"],
        "{{ vault_alice_password }}"
    );
    example["matrix_users"][1]["localpart"] = serde_json::json!(helper);
    example["matrix_users"][1]["password_file"] = serde_json::json!(bot_password_file);
    let shipped = play(&playbook, dir.path(), &example);
    assert_eq!(shipped.code, Some(0), "{}", shipped.output);
    assert!(
        shipped
            .output
            .contains(&format!("created: ['{alice}', '{helper}']")),
        "{}",
        shipped.output
    );
    assert!(synapse.login(&alice, &passwords[2]).is_ok());
    leaks("the example's run", &shipped.output);

    let argv = std::fs::read_to_string(&argv_log).unwrap();
    assert_eq!(argv.lines().count(), 9, "{argv}");
    leaks("the tool's argv", &argv);
}

/// The `{{ name }}` variables a YAML text's templates use.
fn template_variables(text: &str) -> Vec<String> {
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split("}}").next())
        .map(|inside| {
            inside
                .trim()
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// What a newcomer copies: an inventory with the playbook's group and a
/// host, and a users file defining every variable its templates use.
#[test]
fn ansible_examples_define_what_the_playbook_uses() {
    let playbook = std::fs::read_to_string(contrib("ansible/matrix-users.yml")).unwrap();
    assert!(playbook.contains("\n  hosts: synapse\n"));
    let inventory = std::fs::read_to_string(contrib("ansible/inventory.example")).unwrap();
    let hosts: Vec<&str> = inventory
        .lines()
        .skip_while(|line| *line != "[synapse]")
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    assert_eq!(hosts, ["matrix.example.org"]);

    let text = std::fs::read_to_string(contrib("ansible/users.example.yml")).unwrap();
    let users: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let used = template_variables(&text);
    assert_eq!(used, ["vault_alice_password"]);
    for name in used
        .iter()
        .map(String::as_str)
        .chain(["rnmu_shared_secret_file", "matrix_users"])
    {
        assert!(
            users.get(name).is_some(),
            "users.example.yml does not define {name}"
        );
    }
    for user in list_of(&users["matrix_users"], "matrix_users") {
        assert!(
            user.get("password").is_some() != user.get("password_file").is_some(),
            "{user:?}: one of password and password_file"
        );
    }
}
