//! `--help`, `--version` and `--completions`: generated from the same clap
//! definition as the man page.

use crate::tool;

#[test]
fn help_documents_exit_codes_and_the_environment() {
    let output = tool().arg("--help").run();
    assert_eq!(output.code, Some(0));
    assert!(output.utf8);
    let help = output.stdout;
    for needle in [
        "Exit status:",
        "130  interrupted",
        "MATRIX_REGISTRATION_SHARED_SECRET",
        "--user_type",
        "--exists-ok",
        "--password-file",
        "--shared-secret-file",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn completions_are_generated_for_common_shells() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef register_new_matrix_user"),
        ("fish", "complete -c register_new_matrix_user"),
    ] {
        let output = tool().args(["--completions", shell]).run();
        assert_eq!(output.code, Some(0), "{shell}");
        assert!(output.utf8, "{shell}");
        let script = output.stdout;
        assert!(script.contains(marker), "{shell}: {script:.200}");
        assert!(script.contains("--shared-secret-file"), "{shell}");
    }
}

/// What bash completes after `words` (the last one being typed), run
/// through the generated script as bash's programmable completion calls it.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = tool().args(["--completions", "bash"]).run().stdout;
    let program = format!(
        "{script}\n\
         COMP_WORDS=(register_new_matrix_user {words})\n\
         COMP_CWORD={cword}\n\
         _register_new_matrix_user register_new_matrix_user \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words
            .iter()
            .map(|word| format!("'{word}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len(),
    );
    let output = std::process::Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_auto_for_jobs_and_the_formats_for_output() {
    assert_eq!(
        bash_completes(&["--batch", "users.csv", "--jobs", ""]),
        ["auto"]
    );
    assert_eq!(bash_completes(&["-o", ""]), ["text", "json", "token"]);
    assert_eq!(bash_completes(&["--output", "j"]), ["json"]);
}

#[test]
fn completions_take_no_other_option() {
    let output = tool().args(["--completions", "bash", "-u", "x"]).run();
    assert_eq!(output.code, Some(2));
}

#[test]
fn usage_errors_exit_2_like_the_reference() {
    for args in [
        &["-u", "a"][..],
        &["-k", "s", "-c", "x.yaml"],
        &["-k", "s", "-a", "--no-admin"],
        &["-k", "s", "-p", "a", "--password-file", "f"],
        &["-k", "s", "--no-such-option"],
    ] {
        let output = tool().args(args).run();
        assert_eq!(output.code, Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(output.utf8, "{args:?}");
        let stderr = output.stderr;
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
}

#[test]
fn version_names_the_commit_of_a_git_checkout() {
    let output = tool().arg("--version").run();
    assert_eq!(output.code, Some(0));
    assert!(output.utf8);
    let version = output.stdout;
    let plain = format!("register_new_matrix_user {}", env!("CARGO_PKG_VERSION"));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // Built from a checkout (as here) the commit follows; a packaged crate
    // has no .git, and CI checks that its binary prints the version alone.
    let expected = if root.join(".git").exists() {
        let head = std::process::Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(root)
            .output()
            .expect("git runs");
        let head = String::from_utf8(head.stdout).unwrap();
        format!("{plain} (commit {})\n", head.trim())
    } else {
        format!("{plain}\n")
    };
    assert_eq!(version, expected);
}
