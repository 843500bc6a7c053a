//! The first pass: rows checked against the rules, every problem said with
//! its line, and no cell but the localpart repeated in one.

use super::*;

#[test]
fn admin_values() {
    for (text, expected) in [
        ("true", Some(true)),
        ("TRUE", Some(true)),
        ("yes", Some(true)),
        (" Yes ", Some(true)),
        ("1", Some(true)),
        ("false", Some(false)),
        ("no", Some(false)),
        ("0", Some(false)),
        ("", None),
        ("  ", None),
    ] {
        assert_eq!(parse_admin(text), Ok(expected), "{text:?}");
    }
    for bad in ["y", "n", "2", "admin", "on"] {
        assert!(parse_admin(bad).is_err(), "{bad}");
    }
    let (_, found) = problems(
        "{\"user\": \"a\", \"admin\": 2}\n{\"user\": \"b\", \"admin\": [true]}\n",
        &Rules::default(),
    );
    assert_eq!(found.len(), 2, "{found:?}");
}

#[test]
fn command_line_defaults_apply_to_rows_that_do_not_say() {
    let rules = Rules {
        admin: true,
        user_type: Some("bot".to_owned()),
        ..Rules::default()
    };
    let rows = good("user,admin,user_type\nalice,,\nbob,no,support\n", &rules);
    assert!(rows[0].admin);
    assert_eq!(rows[0].user_type.as_deref(), Some("bot"));
    assert!(!rows[1].admin);
    assert_eq!(rows[1].user_type.as_deref(), Some("support"));
    let rows = good("{\"user\": \"carol\"}\n", &Rules::default());
    assert!(!rows[0].admin, "not admin without -a");
    assert_eq!(rows[0].user_type, None);
    assert!(rows[0].password.is_none());
}

#[test]
fn full_user_ids_are_accepted_when_the_server_matches() {
    let rules = Rules {
        server_name: Some("example.org".to_owned()),
        ..Rules::default()
    };
    let rows = good("user\n@Alice:example.org\n", &rules);
    assert_eq!(rows[0].localpart, "Alice");
    let (_, found) = problems("user\n@alice:other.org\n", &rules);
    assert_eq!(found.len(), 1);
    assert!(found[0].1.contains("other.org"), "{found:?}");
}

#[test]
fn every_bad_row_is_reported_with_its_line() {
    let long = "x".repeat(513);
    let csv = format!(
        "localpart,password,admin,colour\n\
         alice,pw,,red\n\
         bad user,pw,,\n\
         ALICE,pw,,\n\
         bob,{long},,\n\
         carol,pw,maybe,\n\
         dave,pw\n\
         ,pw,,\n\
         _eve,pw,,\n\
         12345,pw,,\n\
         frank,pw,,\n"
    );
    // A config that does not allow a leading '_'.
    let rules = Rules {
        refuse_underscore_prefix: true,
        ..Rules::default()
    };
    let (checked, found) = problems(&csv, &rules);
    let lines: Vec<u64> = found.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [1, 3, 4, 5, 6, 7, 8, 9, 10], "{found:#?}");
    assert!(found[0].1.contains("unknown column 'colour'"));
    assert!(found[1].1.starts_with("bad localpart"));
    assert!(
        found[2]
            .1
            .contains("duplicate localpart 'ALICE': already on line 2")
    );
    assert!(found[3].1.contains("513 characters"));
    assert!(!found[3].1.contains("xxx"), "the password is not shown");
    assert!(found[4].1.contains("admin is not true/false"));
    assert!(!found[4].1.contains("maybe"), "the cell is not shown");
    assert!(
        found[5]
            .1
            .contains("unparsable line: 2 fields where the header has 4")
    );
    assert!(found[6].1.contains("bad localpart: it is empty"));
    assert!(found[7].1.contains("starts with '_'"));
    assert!(found[8].1.contains("all digits"));
    assert_eq!(checked.rows, 2, "alice and frank");
    assert_eq!(checked.problems, 9);
}

// Found while writing the property tests (tests/properties.rs): the
// value was echoed in the problem, on stderr.
#[test]
fn a_password_that_is_not_a_string_is_not_echoed() {
    let text = "{\"user\": \"h\", \"password\": 123456}\n\
                {\"user\": \"i\", \"Password\": [\"hunter2\"]}\n";
    let (_, found) = problems(text, &Rules::default());
    assert_eq!(
        found[0],
        (1, "password must be a string, not a number".to_owned())
    );
    assert_eq!(
        found[1],
        (2, "Password must be a string, not a list".to_owned())
    );
}

#[test]
fn every_bad_json_line_is_reported_with_its_line() {
    let text = "{\"user\": \"alice\"}\n\
                {\"user\": \"bob\", \"pasword\": \"x\"}\n\
                {\"user\": \"carol\"\n\
                [\"dave\"]\n\
                {\"localpart\": \"erin\", \"user\": \"erin\"}\n\
                {\"user\": 42}\n\
                {\"user\": \"Alice\"}\n\
                {\"password\": \"pw\"}\n\
                {\"user\": \"gina\", \"user_type\": \"robot\"}\n";
    let rules = Rules {
        extra_user_types: Some(Vec::new()),
        ..Rules::default()
    };
    let (checked, found) = problems(text, &rules);
    let lines: Vec<u64> = found.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 8, 9], "{found:#?}");
    assert!(found[0].1.contains("unknown column 'pasword'"));
    assert!(found[1].1.starts_with("unparsable line"));
    assert!(found[2].1.starts_with("unparsable line"));
    assert!(found[3].1.contains("same column"));
    assert!(found[4].1.contains("must be a string"));
    assert!(found[5].1.contains("already on line 1"));
    assert!(found[6].1.contains("bad localpart: it is empty"));
    assert!(
        found[7]
            .1
            .starts_with("unknown user type (the value is not shown")
    );
    assert!(!found[7].1.contains("robot"), "the cell is not shown");
    assert_eq!(checked.rows, 1);
}

#[test]
fn header_problems() {
    let (checked, found) = problems("password,admin\npw,yes\n", &Rules::default());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 1);
    assert!(
        found[0]
            .1
            .starts_with("the header has no localpart (or user) column")
    );
    assert_eq!(checked.rows, 0);
    // A file without its header: the first row's password is not echoed.
    let (_, found) = problems("alice,hunter2secret,yes\n", &Rules::default());
    assert_eq!(found.len(), 1);
    assert!(
        found[0].1.contains("is the header row missing?"),
        "{found:?}"
    );
    assert!(!found[0].1.contains("hunter2secret"), "{found:?}");
    let (_, found) = problems("\n\nlocalpart,user\na,b\n", &Rules::default());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 3);
    assert!(found[0].1.contains("given twice"), "{found:?}");
    let (_, found) = problems("", &Rules::default());
    assert!(found[0].1.contains("the file is empty"), "{found:?}");
    let (checked, found) = problems("localpart\n", &Rules::default());
    assert!(found.is_empty());
    assert_eq!(checked.rows, 0);
}

/// The redaction invariant for batch cells: a value in any column but the
/// localpart (which is shown so that the row can be found), as any JSON
/// type, good or bad, CSV or JSON Lines, is never repeated in a problem.
/// A new message that quoted a cell would fail here.
#[test]
fn no_problem_repeats_a_cell_but_the_localpart() {
    let rules = Rules {
        extra_user_types: Some(Vec::new()),
        ..Rules::default()
    };
    let long = "Zq9canary".repeat(60);
    let values = [
        "Zq9canary".to_owned(),
        "Zq9canary with, comma".to_owned(),
        "Zq9canary\u{1b}[2J".to_owned(),
        long,
    ];
    let columns = ["password", "admin", "user_type", "displayname"];
    let mut texts = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        for value in &values {
            let mut cells = vec![String::new(); columns.len()];
            cells[i] = format!("\"{}\"", value.replace('"', "\"\""));
            texts.push(format!(
                "user,{}\nalice,{}\n",
                columns.join(","),
                cells.join(",")
            ));
            let json = serde_json::to_string(value).unwrap();
            texts.push(format!("{{\"user\": \"alice\", \"{column}\": {json}}}\n"));
            texts.push(format!("{{\"user\": \"alice\", \"{column}\": [{json}]}}\n"));
            texts.push(format!(
                "{{\"user\": \"alice\", \"{column}\": {{\"k\": {json}}}}}\n"
            ));
        }
        texts.push(format!(
            "{{\"user\": \"alice\", \"{column}\": 9753108642097531}}\n"
        ));
        texts.push(format!("{{\"user\": \"alice\", \"{column}\": 97.531e3}}\n"));
        // Lines that are JSON, but not objects.
        for line in [
            "\"Zq9canary\"",
            "9753108642097531",
            "[\"Zq9canary\"]",
            "\"Zq9canary",
        ] {
            texts.push(format!("{{\"user\": \"alice\"}}\n{line}\n"));
        }
        texts.push(format!(
            "{{\"user\": \"alice\", \"{column}\": \"x\", \"{}\": 9753108642097531}}\n",
            column.to_uppercase()
        ));
    }
    for text in &texts {
        let (_, found) = problems(text, &rules);
        for (_, message) in &found {
            assert!(
                !message.contains("Zq9canary") && !message.contains("97531"),
                "{text:?}: {message}"
            );
        }
    }
}
