//! Puts the commit into `--version` when the crate is built from a git
//! checkout; a packaged crate (crates.io, `cargo package`) says the version
//! alone.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let described = match commit(Path::new(&manifest_dir)) {
        Some(commit) => format!("{version} (commit {commit})"),
        None => version,
    };
    println!("cargo:rustc-env=BUILD_VERSION={described}");
}

/// The short hash of HEAD, and cargo told to build again when HEAD moves.
fn commit(dir: &Path) -> Option<String> {
    // This directory's own checkout only: `cargo package` unpacks the crate
    // under target/, inside the repository, whose commit is not what the
    // packaged sources were built from.
    if !dir.join(".git").exists() {
        return None;
    }
    // `.git` may be a file (a worktree): ask git where HEAD and the refs live.
    let git_dir = dir.join(git(dir, &["rev-parse", "--git-dir"])?);
    let common_dir = dir.join(git(dir, &["rev-parse", "--git-common-dir"])?);
    watch(&git_dir.join("HEAD"));
    // On a branch, a commit changes the branch's ref (loose or packed), not HEAD.
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch(&common_dir.join(branch));
        watch(&common_dir.join("packed-refs"));
    }
    git(dir, &["rev-parse", "--short", "HEAD"])
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (output.status.success() && !text.is_empty()).then(|| text.to_owned())
}

/// Only files that exist: cargo reruns the script on every build for one
/// that does not.
fn watch(path: &Path) {
    if path.exists() {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
