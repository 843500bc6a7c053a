//! The release tarball as `scripts/release` packs it (`--pack`, with the
//! binary under test instead of a release build): the same bytes under any
//! umask, the recipes inside, and every relative link of every packed
//! document resolving inside the tarball.
//!
//! What is packed as the binary is a two-line script that runs the binary
//! under test: the completions come from it all the same, and gzip -9 of a
//! 75 MB debug binary would take most of these tests' time.

use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use crate::BIN;

const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Packs the binary under test with `umask` into a new directory; the
/// directory and the tarball's path.
fn pack(umask: &str) -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let binary = out.path().join("register_new_matrix_user");
    std::fs::write(&binary, format!("#!/bin/sh\nexec '{BIN}' \"$@\"\n")).unwrap();
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = out.path().join("dist");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release");
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask {umask} && exec \"$0\" --pack \"$1\" {TRIPLE} \"$2\""
        ))
        .arg(&script)
        .arg(&binary)
        .arg(&out_dir)
        // A fixed time: the commit's would differ between checkouts.
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "scripts/release --pack: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let tarball = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".tar.gz"))
        .expect("a tarball");
    (out, tarball)
}

/// The tarball unpacked into a new directory; the directory and the
/// tarball's top directory within it.
fn unpack(tarball: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let top = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    (dir, top)
}

/// Every file and directory under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}

/// The targets of a Markdown document's links, `[text](target)` and
/// `[label]: target`, outside code blocks and code spans.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Code spans are the odd-numbered pieces between backticks.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        if let Some(rest) = prose.trim_start().strip_prefix('[')
            && let Some((_, target)) = rest.split_once("]: ")
        {
            targets.push(target.trim().to_owned());
        }
        for (_, after) in prose
            .match_indices("](")
            .map(|(i, _)| prose.split_at(i + 2))
        {
            if let Some(end) = after.find(')') {
                targets.push(after[..end].to_owned());
            }
        }
    }
    targets
}

/// Where a relative link from `document` leads, if it stays within `top`.
fn resolve(top: &Path, document: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split('#').next().unwrap();
    let mut resolved = document
        .parent()
        .unwrap()
        .strip_prefix(top)
        .unwrap()
        .to_path_buf();
    for component in Path::new(path).components() {
        match component {
            Component::ParentDir => {
                if !resolved.pop() {
                    return None;
                }
            }
            Component::Normal(part) => resolved.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(top.join(resolved))
}

#[test]
fn the_tarball_is_the_same_under_any_umask() {
    let (_usual, usual) = pack("022");
    let (_strict, strict) = pack("077");
    assert!(
        std::fs::read(&usual).unwrap() == std::fs::read(&strict).unwrap(),
        "umask 077 packs other bytes than umask 022"
    );
    let (_dir, top) = unpack(&strict);
    for path in walk(&top) {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // The scripts in contrib/ keep the executable bit they have here.
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(path.strip_prefix(&top).unwrap());
        let executable = path.is_dir()
            || path.ends_with("register_new_matrix_user")
            || (source.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib"))
                && std::fs::metadata(&source).unwrap().permissions().mode() & 0o100 != 0);
        let expected = if executable { 0o755 } else { 0o644 };
        assert_eq!(mode, expected, "{} is {mode:o}", path.display());
    }
}

#[test]
fn every_link_in_a_packed_document_resolves_inside_the_tarball() {
    let (_out, tarball) = pack("022");
    let (_dir, top) = unpack(&tarball);
    for packed in [
        "register_new_matrix_user",
        "register_new_matrix_user.1",
        "completions/register_new_matrix_user.bash",
        "completions/_register_new_matrix_user",
        "completions/register_new_matrix_user.fish",
        "README.md",
        "docs/guide.md",
        "docs/recipes.md",
        "contrib/ansible/matrix-users.yml",
        "contrib/systemd/synapse-first-admin.service",
    ] {
        assert!(top.join(packed).exists(), "{packed} is not packed");
    }
    let documents: Vec<PathBuf> = walk(&top)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    assert!(documents.len() >= 8, "{documents:?}");
    let mut checked = 0;
    let mut broken = Vec::new();
    for document in &documents {
        let text = std::fs::read_to_string(document).unwrap();
        for target in link_targets(&text) {
            // Web addresses and anchors within the document itself.
            if target.contains("://") || target.starts_with("mailto:") || target.starts_with('#') {
                continue;
            }
            checked += 1;
            if !resolve(&top, document, &target).is_some_and(|path| path.exists()) {
                broken.push(format!(
                    "{}: {target}",
                    document.strip_prefix(&top).unwrap().display()
                ));
            }
        }
    }
    // README alone links to the guide, recipes and licenses dozens of times:
    // finding none would mean the link reader is broken, not the links.
    assert!(checked > 40, "only {checked} relative links found");
    assert!(
        broken.is_empty(),
        "links that lead nowhere in the tarball: {broken:#?}"
    );
}

#[test]
fn the_link_reader_finds_both_link_forms_and_skips_code() {
    let markdown = "See [the guide](docs/guide.md#install) and `[not](a-link)`.\n\
                    [ref]: ../contrib\n\
                    ```\n[in](code.md)\n```\n";
    assert_eq!(
        link_targets(markdown),
        ["docs/guide.md#install".to_owned(), "../contrib".to_owned()]
    );
}
