//! The man page is generated from the clap definition and committed; this
//! test fails when the committed page no longer matches the command line.
//! Regenerate with `UPDATE_MAN=1 cargo test --test it -- man::`.
//!
//! clap_mangen renders the title, name, description, options and version;
//! the synopsis (with each option's argument) and the sections man pages
//! are read for (EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, SEE ALSO) are
//! rendered here. EXIT STATUS and ENVIRONMENT come from the text after
//! `--help`, which says them once.

use clap_mangen::roff::{Inline, Roff, bold, italic, roman};
use std::path::Path;

const NAME: &str = "register_new_matrix_user";

/// The command as the page describes it: the release's version alone (the
/// commit in --version would make the committed page stale at every commit).
fn command() -> clap::Command {
    let mut command =
        register_new_matrix_user::__private::command().version(env!("CARGO_PKG_VERSION"));
    command.build();
    command
}

/// `[-u|--user USER]`, `[--exists-ok]`, `[server_url]`: every option with
/// the argument it takes.
fn synopsis(command: &clap::Command) -> Vec<Inline> {
    let mut line = vec![bold(NAME)];
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        line.push(roman(" ["));
        if arg.is_positional() {
            line.push(italic(arg.get_id().as_str()));
        } else {
            if let Some(short) = arg.get_short() {
                line.push(bold(format!("-{short}")));
                line.push(roman("|"));
            }
            line.push(bold(format!("--{}", arg.get_long().expect("a long name"))));
            if arg.get_action().takes_values() {
                for value in arg.get_value_names().into_iter().flatten() {
                    line.push(roman(" "));
                    line.push(italic(value.as_str()));
                }
            }
        }
        line.push(roman("]"));
    }
    line
}

/// The part of the text after `--help` that starts at `heading`, up to the
/// next heading (a line ending in ':' with no indent) or the end.
fn help_part<'a>(after_help: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = after_help.lines().skip_while(|line| *line != heading);
    assert_eq!(lines.next(), Some(heading), "no {heading:?} after --help");
    lines
        .take_while(|line| line.starts_with(' ') || line.is_empty())
        .collect()
}

/// An indented table of `--help` (`  TERM text`, continued at the text's
/// indent) as man's tagged paragraphs; `term_width` is where the text starts
/// on a term's line, 0 for a term alone on its line.
fn tagged_paragraphs(roff: &mut Roff, lines: &[&str], term_width: usize) {
    let mut text = String::new();
    let flush = |roff: &mut Roff, text: &mut String| {
        if !text.is_empty() {
            roff.text([roman(text.trim())]);
            text.clear();
        }
    };
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent > 2 {
            text.push(' ');
            text.push_str(line.trim());
            continue;
        }
        flush(roff, &mut text);
        let (term, rest) = if term_width == 0 {
            (line.trim(), "")
        } else {
            line.split_at(term_width.min(line.len()))
        };
        roff.control("TP", []).text([bold(term.trim())]);
        text.push_str(rest.trim());
    }
    flush(roff, &mut text);
}

fn exit_status(roff: &mut Roff, after_help: &str) {
    roff.control("SH", ["EXIT STATUS"]);
    tagged_paragraphs(roff, &help_part(after_help, "Exit status:"), 7);
    roff.control("SS", ["With --batch"]);
    tagged_paragraphs(roff, &help_part(after_help, "With --batch:"), 7);
}

fn environment(roff: &mut Roff, after_help: &str) {
    roff.control("SH", ["ENVIRONMENT"]);
    tagged_paragraphs(roff, &help_part(after_help, "Environment:"), 0);
    // The paragraphs after the last heading: where the secret comes from.
    let rest = after_help
        .split("\n\n")
        .skip_while(|part| !part.starts_with("Environment:"))
        .skip(1);
    for paragraph in rest {
        roff.control("PP", [])
            .text([roman(paragraph.replace('\n', " "))]);
    }
}

fn files(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    for (file, what) in [
        (
            "/etc/matrix-synapse/homeserver.yaml",
            "The homeserver config of a Debian or packages.matrix.org install: \
             -c reads the shared secret, the server name and the client listener from it.",
        ),
        (
            "/etc/matrix-synapse/conf.d/",
            "The rest of such a config, where server_name and often the shared secret \
             are: give it as a second -c, as the service reads it.",
        ),
        (
            "registration_shared_secret_path",
            "The file a config names under this key holds the shared secret; \
             it is read like --shared-secret-file.",
        ),
    ] {
        roff.control("TP", [])
            .text([italic(file)])
            .text([roman(what)]);
    }
}

fn examples(roff: &mut Roff) {
    roff.control("SH", ["EXAMPLES"]);
    for (what, example) in [
        (
            "Read the secret and the client listener from a packaged install's config; prompt for the rest:",
            "register_new_matrix_user -c /etc/matrix-synapse/homeserver.yaml -c /etc/matrix-synapse/conf.d",
        ),
        (
            "Unattended, as provisioning scripts call it:",
            "register_new_matrix_user -c homeserver.yaml -u alice --password-file pw.txt --no-admin --exists-ok",
        ),
        (
            "The first admin, and its access token for the admin API:",
            "TOKEN=$(register_new_matrix_user -c homeserver.yaml -u admin -a --password-stdin -o token < pw.txt)",
        ),
        (
            "A list of users, one JSON object per row on stdout:",
            "register_new_matrix_user -c homeserver.yaml --batch users.csv > results.jsonl",
        ),
    ] {
        roff.control("PP", []).text([roman(what)]);
        roff.control("RS", ["4"]);
        roff.control("EX", [])
            .text([roman(example)])
            .control("EE", []);
        roff.control("RE", []);
    }
}

fn see_also(roff: &mut Roff) {
    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(
        "docs/guide.md (every option, with examples) and docs/recipes.md \
         (Ansible, systemd, containers, Kubernetes), in the release tarball and the sources; \
         Synapse's shared-secret registration API: \
         https://element-hq.github.io/synapse/latest/admin_api/register_api.html",
    )]);
}

fn render() -> Vec<u8> {
    let command = command();
    let man = clap_mangen::Man::new(command.clone());
    let after_help = command
        .get_after_help()
        .expect("text after --help")
        .to_string();
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    let mut roff = Roff::new();
    roff.control("SH", ["SYNOPSIS"]).text(synopsis(&command));
    roff.to_writer(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    let mut roff = Roff::new();
    exit_status(&mut roff, &after_help);
    environment(&mut roff, &after_help);
    files(&mut roff);
    examples(&mut roff);
    see_also(&mut roff);
    roff.to_writer(&mut page).unwrap();
    man.render_version_section(&mut page).unwrap();
    page
}

#[test]
fn committed_man_page_matches_the_command_line() {
    let rendered = render();
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

/// The section headings of a roff page, in order.
fn sections(page: &str) -> Vec<&str> {
    page.lines()
        .filter_map(|line| line.strip_prefix(".SH "))
        .map(|name| name.trim_matches('"'))
        .collect()
}

#[test]
fn the_page_has_the_sections_man_pages_are_read_for() {
    let page = String::from_utf8(render()).unwrap();
    assert_eq!(
        sections(&page),
        [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            // clap_mangen gives the options under a help heading a section.
            "SERVERS THAT DELEGATE ACCOUNTS TO MATRIX AUTHENTICATION SERVICE",
            "EXIT STATUS",
            "ENVIRONMENT",
            "FILES",
            "EXAMPLES",
            "SEE ALSO",
            "VERSION"
        ]
    );
    // Every exit status and the variable, each as a tagged paragraph.
    for term in [
        "0",
        "1",
        "2",
        "3",
        "4",
        "5",
        "130",
        "2, 3",
        "MATRIX_REGISTRATION_SHARED_SECRET",
        "MAS_CLIENT_SECRET",
        "http_proxy, https_proxy, all_proxy, no_proxy",
    ] {
        assert!(
            page.contains(&format!(".TP\n\\fB{term}\\fR\n")),
            "no entry for {term}"
        );
    }
}

#[test]
fn the_synopsis_names_each_option_argument() {
    let page = String::from_utf8(render()).unwrap();
    let synopsis = page
        .lines()
        .skip_while(|line| *line != ".SH SYNOPSIS")
        .nth(1)
        .unwrap();
    for expected in [
        "[\\fB\\-u\\fR|\\fB\\-\\-user\\fR \\fIUSER\\fR]",
        "[\\fB\\-\\-exists\\-ok\\fR]",
        "[\\fB\\-\\-jobs\\fR \\fIN|auto\\fR]",
        "[\\fB\\-o\\fR|\\fB\\-\\-output\\fR \\fIFORMAT\\fR]",
        "[\\fIserver_url\\fR]",
    ] {
        assert!(synopsis.contains(expected), "{expected} not in {synopsis}");
    }
}

/// Markdown does not render in a man page: no code spans or links.
#[test]
fn the_page_has_no_markdown_and_no_benchmark_talk() {
    let page = String::from_utf8(render()).unwrap();
    for line in page.lines() {
        assert!(!line.contains('`'), "Markdown code span: {line}");
        assert!(!line.contains("]("), "Markdown link: {line}");
        assert!(!line.contains("BENCHMARKS"), "benchmark rationale: {line}");
    }
}
