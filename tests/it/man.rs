//! The man page is generated from the clap definition and committed; this
//! test fails when the committed page no longer matches the command line.
//! Regenerate with `UPDATE_MAN=1 cargo test --test it -- man::`.

use std::path::Path;

#[test]
fn committed_man_page_matches_the_command_line() {
    let mut rendered = Vec::new();
    // The release's version alone: the commit in --version would make the
    // committed page stale at every commit.
    let command = register_new_matrix_user::__private::command().version(env!("CARGO_PKG_VERSION"));
    clap_mangen::Man::new(command)
        .render(&mut rendered)
        .expect("render man page");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("man/register_new_matrix_user.1");
    if std::env::var_os("UPDATE_MAN").is_some() {
        std::fs::write(&path, &rendered).expect("write man page");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "man/register_new_matrix_user.1 is stale: run `UPDATE_MAN=1 cargo test --test it -- man::` and commit it"
    );
}
