//! The published crate: what `cargo package` puts in it, and the Rust version
//! it promises (`rust-version`). CI also builds the packaged sources and
//! installs them (scripts/check-package).

use serde_json::Value;
use std::process::Command;

fn cargo(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_package_holds_what_builds_and_what_installers_need() {
    let listed = cargo(&["package", "--list", "--allow-dirty", "--offline"]);
    let files: Vec<&str> = listed.lines().collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src/main.rs",
        "src/lib.rs",
        "README.md",
        "CHANGELOG.md",
        "LICENSE-MIT",
        "LICENSE-APACHE",
        "man/register_new_matrix_user.1",
        "examples/register_many.rs",
    ] {
        assert!(
            files.contains(&needed),
            "{needed} is not packaged: {files:?}"
        );
    }
    // Nothing else: no tests, fuzz targets or corpus, benchmark output,
    // scripts or recipes (cargo adds its own two files); of the examples,
    // the one the README links to.
    for file in &files {
        let expected = file.starts_with("src/")
            || [
                "Cargo.toml",
                "Cargo.toml.orig",
                ".cargo_vcs_info.json",
                "Cargo.lock",
                "build.rs",
                "README.md",
                "CHANGELOG.md",
                "LICENSE-MIT",
                "LICENSE-APACHE",
                "man/register_new_matrix_user.1",
                "examples/register_many.rs",
            ]
            .contains(file);
        assert!(expected, "{file} should not be packaged");
    }
}

/// `1.85` and `1.85.0` alike, as numbers.
fn version(text: &str) -> [u64; 3] {
    let mut parts = text.split('.').map(|part| part.parse().unwrap());
    [(); 3].map(|()| parts.next().unwrap_or(0))
}

/// The platform this test was built for, as rustc names it.
fn host() -> String {
    let output = Command::new("rustc").arg("-vV").output().unwrap();
    let said = String::from_utf8(output.stdout).unwrap();
    said.lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// clippy's `incompatible_msrv` lint (in `scripts/test`, with `-D warnings`)
/// catches standard library items newer than `rust-version`; this catches
/// dependencies that need a newer Rust.
///
/// Offline, it can read only the manifests a build has downloaded: those of
/// this platform's dependencies. Without `--filter-platform`, cargo wants the
/// Windows-only crates too, which a fresh cargo cache on Linux never holds
/// (`.ci/run` runs this test with an empty `CARGO_HOME`).
#[test]
fn no_dependency_needs_a_newer_rust_than_rust_version() {
    let metadata: Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--offline",
        "--filter-platform",
        &host(),
    ]))
    .unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let ours = packages
        .iter()
        .find(|p| p["name"] == "register_new_matrix_user")
        .unwrap();
    let msrv = version(ours["rust_version"].as_str().expect("rust-version is set"));
    let too_new: Vec<String> = packages
        .iter()
        .filter(|p| {
            p["rust_version"]
                .as_str()
                .is_some_and(|v| version(v) > msrv)
        })
        .map(|p| {
            format!(
                "{} {} needs Rust {}",
                p["name"], p["version"], p["rust_version"]
            )
        })
        .collect();
    assert!(too_new.is_empty(), "rust-version is {msrv:?}: {too_new:?}");
}
