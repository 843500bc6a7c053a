//! `--batch` against the real Synapse that `scripts/test` starts, checked
//! through the server: the admin API for each account's attributes, logging
//! in with the passwords. `#[ignore]`d so that a plain `cargo test` needs no
//! server.

use crate::tool;
use serde_json::Value;
use support::real::{Synapse, unique};
use support::tool::BatchRun;

fn batch(s: &Synapse, file: &std::path::Path, args: &[&str]) -> BatchRun {
    let output = tool()
        .args(["-c", &s.config, "--batch"])
        .arg(file)
        .args(args)
        .run();
    BatchRun::from_outcome(output)
}

fn account(s: &Synapse, localpart: &str) -> Value {
    s.admin_user(&s.user_id(localpart))
        .unwrap_or_else(|| panic!("{localpart} exists"))
}

#[test]
#[ignore = "needs the real Synapse from scripts/test"]
fn every_row_is_created_with_its_attributes() {
    let s = Synapse::get();
    let names: Vec<String> = ["Adm", "bot", "sup", "plain", "gen"]
        .iter()
        .map(|p| unique(p))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(
        &file,
        format!(
            "user,password,admin,user_type,displayname\n\
             {},\"pw, admin\",yes,,\"Admin, The\"\n\
             @{}:{},pw-bot,,bot,Bot\n\
             {},pw-sup,0,support,\n\
             {},pw-plain,,,\n\
             {},,true,,Generated\n",
            names[0], names[1], s.server_name, names[2], names[3], names[4]
        ),
    )
    .unwrap();
    let run = batch(&s, &file, &["--jobs", "3"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.rows.len(), 5);

    let admin = account(&s, &names[0]);
    assert_eq!(admin["admin"], true);
    assert_eq!(admin["user_type"], Value::Null);
    assert_eq!(admin["displayname"], "Admin, The");
    let bot = account(&s, &names[1]);
    assert_eq!(bot["admin"], false);
    assert_eq!(bot["user_type"], "bot");
    assert_eq!(bot["displayname"], "Bot");
    let support = account(&s, &names[2]);
    assert_eq!(support["admin"], false);
    assert_eq!(support["user_type"], "support");
    let plain = account(&s, &names[3]);
    assert_eq!(plain["admin"], false, "not admin unless said");
    assert_eq!(plain["user_type"], Value::Null);
    assert_eq!(account(&s, &names[4])["admin"], true);

    for (name, password) in [
        (&names[0], "pw, admin"),
        (&names[1], "pw-bot"),
        (&names[2], "pw-sup"),
        (&names[3], "pw-plain"),
    ] {
        assert!(s.login(&name.to_lowercase(), password).is_ok(), "{name}");
    }
    // The generated password is in its row, and it logs in.
    let generated = run.row(6)["password"].as_str().expect("generated password");
    assert!(s.login(&names[4].to_lowercase(), generated).is_ok());
    // The access token of each row is the new account's.
    for line in 2..=6 {
        let row = run.row(line);
        let token = row["access_token"].as_str().unwrap();
        assert_eq!(s.whoami(token).unwrap(), row["user_id"].as_str().unwrap());
    }
    assert_eq!(run.row(2)["user_id"], s.user_id(&names[0]));
}

#[test]
#[ignore = "needs the real Synapse from scripts/test"]
fn exists_ok_completes_a_partial_run_and_is_idempotent() {
    let s = Synapse::get();
    let names: Vec<String> = (0..6).map(|_| unique("re")).collect();
    let all: String = names
        .iter()
        .map(|n| format!("{{\"user\": \"{n}\", \"password\": \"pw-{n}\"}}\n"))
        .collect();
    let first_half: String = all.lines().take(3).map(|l| format!("{l}\n")).collect();
    let dir = tempfile::tempdir().unwrap();
    let partial = dir.path().join("partial.jsonl");
    let full = dir.path().join("full.jsonl");
    std::fs::write(&partial, first_half).unwrap();
    std::fs::write(&full, all).unwrap();

    let run = batch(&s, &partial, &["--exists-ok"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for name in &names[3..] {
        assert!(s.admin_user(&s.user_id(name)).is_none(), "{name} not yet");
    }

    let run = batch(&s, &full, &["--exists-ok", "--jobs", "2"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("created 3, already there 3, failed 0"),
        "{}",
        run.stderr
    );
    for line in 1..=3 {
        assert_eq!(run.row(line)["created"], false);
    }
    for line in 4..=6 {
        assert_eq!(run.row(line)["created"], true);
    }

    let run = batch(&s, &full, &["--exists-ok"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("created 0, already there 6, failed 0"),
        "{}",
        run.stderr
    );
    // Accounts that existed were left alone: their passwords still work.
    for name in &names {
        assert!(s.login(name, &format!("pw-{name}")).is_ok(), "{name}");
    }

    // Without --exists-ok every row fails, and says why.
    let run = batch(&s, &full, &[]);
    assert_eq!(run.code, Some(1));
    assert!(run.rows.iter().all(|r| r["errcode"] == "M_USER_IN_USE"));
}

#[test]
#[ignore = "needs the real Synapse from scripts/test"]
fn a_bad_file_registers_no_one() {
    let s = Synapse::get();
    let good: Vec<String> = (0..3).map(|_| unique("never")).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(
        &file,
        format!(
            "localpart,password\n{},pw\n{},pw\nnot valid!,pw\n{},pw\n",
            good[0], good[1], good[2]
        ),
    )
    .unwrap();
    let run = batch(&s, &file, &[]);
    assert_eq!(run.code, Some(3), "{}", run.stderr);
    assert!(run.rows.is_empty());
    assert!(
        run.stderr.contains("line 4: bad localpart"),
        "{}",
        run.stderr
    );
    for name in &good {
        assert!(
            s.admin_user(&s.user_id(name)).is_none(),
            "{name} was not created"
        );
    }
}

#[test]
#[ignore = "needs the real Synapse from scripts/test"]
fn json_lines_on_stdin_over_tls() {
    let s = Synapse::get();
    let names: Vec<String> = (0..8).map(|_| unique("tls")).collect();
    let lines: String = names
        .iter()
        .map(|n| format!("{{\"localpart\": \"{n}\", \"admin\": \"no\"}}\n"))
        .collect();
    let output = tool()
        .args([
            "-k", &s.secret, "--batch", "-", "--jobs", "4", "--cacert", &s.ca, &s.tls_url,
        ])
        .stdin(lines)
        .run();
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert!(output.utf8, "stdout is UTF-8");
    let rows: Vec<Value> = output
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 8);
    for row in &rows {
        let name = row["localpart"].as_str().unwrap();
        let password = row["password"].as_str().expect("generated");
        assert!(s.login(name, password).is_ok(), "{name}");
        assert_eq!(account(&s, name)["admin"], false);
    }
}
