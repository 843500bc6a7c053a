use super::UNREACHABLE_STREAK;
use super::check::*;
use super::fields::*;
use super::format::Format;
use super::lines::*;
use super::rows::Rows;
use super::spool::Tee;
use super::tally::*;
use super::worker::RowEnd;
use std::io::{self, BufReader};
use std::time::Duration;

pub(super) fn rows(text: &str) -> Vec<std::result::Result<WrittenRow, Problem>> {
    Rows::new(text.as_bytes()).unwrap().collect()
}

/// Every problem of a file, as "line: message".
pub(super) fn problems(text: &str, rules: &Rules) -> (CheckSummary, Vec<(u64, String)>) {
    let mut found = Vec::new();
    let checked = check_rows(io::Cursor::new(text), rules, &mut |p: &Problem| {
        found.push((p.line, p.message.clone()))
    })
    .unwrap();
    // Duplicates come after the other problems, from a second reading.
    found.sort_by_key(|(line, _)| *line);
    (checked, found)
}

pub(super) fn good(text: &str, rules: &Rules) -> Vec<CheckedRow> {
    Rows::new(text.as_bytes())
        .unwrap()
        .map(|item| item.and_then(|e| rules.check(e)).unwrap())
        .collect()
}

#[test]
pub(super) fn format_is_detected_from_the_content() {
    let detect = |text: &str| Rows::new(text.as_bytes()).unwrap().format();
    assert_eq!(detect("localpart\nalice\n"), Format::Csv);
    assert_eq!(detect("{\"localpart\": \"alice\"}\n"), Format::JsonLines);
    assert_eq!(
        detect("\u{feff}\n\n  {\"user\": \"a\"}\n"),
        Format::JsonLines
    );
    assert_eq!(detect("\u{feff}user,password\n"), Format::Csv);
    assert_eq!(detect(""), Format::Csv);
}

#[test]
pub(super) fn csv_rows_with_quotes_and_line_numbers() {
    let text = "\u{feff}\nLocalpart, Password ,admin,user_type,displayname\r\n\
                alice,\"pa,ss\"\"word\",yes,bot,\"Alice, \"\"A\"\" Liddell\"\r\n\
                bob,\"two\nlines\",,,\n\
                \n\
                carol,,0,,\n";
    let entries: Vec<WrittenRow> = rows(text).into_iter().map(Result::unwrap).collect();
    assert_eq!(entries.len(), 3);
    let alice = &entries[0];
    assert_eq!(alice.line, 3);
    assert_eq!(alice.localpart.as_deref(), Some("alice"));
    assert_eq!(alice.password.as_ref().unwrap().expose(), "pa,ss\"word");
    assert_eq!(alice.admin, Some(true));
    assert_eq!(alice.user_type.as_deref(), Some("bot"));
    assert_eq!(alice.displayname.as_deref(), Some("Alice, \"A\" Liddell"));
    let bob = &entries[1];
    assert_eq!(bob.line, 4);
    assert_eq!(bob.password.as_ref().unwrap().expose(), "two\nlines");
    assert_eq!(bob.admin, None);
    // A quoted field over two lines: carol is on line 7, after a blank line.
    let carol = &entries[2];
    assert_eq!(carol.line, 7);
    assert!(carol.password.is_none(), "empty: generated");
    assert_eq!(carol.admin, Some(false));
}

#[test]
pub(super) fn csv_line_numbers_count_blank_lines_and_crlf() {
    let lines = |text: &str| -> Vec<(u64, String)> {
        rows(text)
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                (e.line, e.localpart.unwrap())
            })
            .collect()
    };
    let expected = [(3, "b".to_owned()), (6, "c".to_owned())];
    assert_eq!(lines("user\r\n\r\nb\r\n\r\n\r\nc\r\n"), expected);
    assert_eq!(lines("user\n\nb\n\n\nc"), expected);
    assert_eq!(
        lines("user,password\r\nb,\"x\r\ny\"\r\n\r\n\r\nc,\"z\"\r\n"),
        [(2, "b".to_owned()), (6, "c".to_owned())]
    );
    assert_eq!(
        lines("\n\n\"user\"\n\"b\"\nc\n"),
        [(4, "b".to_owned()), (5, "c".to_owned())]
    );
    // A quote left open would run to the end of the file, newlines and
    // the rows after it included (other users' passwords in one cell):
    // refused, on the line where the quote opens, without the cell.
    let open = |line| {
        Problem::new(
            line,
            "a quoted field opens on this line and is never closed: the rest of the file would be read into it",
        )
    };
    let items = rows("user,password\nb,pw\nu1,\"S3cret\nu2,pw2\nu3,pw3\n");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().line, 2);
    assert_eq!(items[1].as_ref().unwrap_err(), &open(3));
    let error = |text| rows(text).pop().unwrap().err();
    assert_eq!(error("user\nb\n\"c\nd\n"), Some(open(3)));
    assert_eq!(error("user\n\"c\n\n"), Some(open(2)));
    // On the row's second line, after a quoted field that does close.
    assert_eq!(error("user,pw\n\"a\nb\",\"x\r\n"), Some(open(3)));
    // Closed at the very end, or a quote inside an unquoted field: read.
    assert_eq!(lines("user,pw\nb,\"x\ny\""), [(2, "b".to_owned())]);
    assert_eq!(lines("user,pw\nb,x\"y\n"), [(2, "b".to_owned())]);
    assert_eq!(lines("user,pw\nb,\"x\"\"\"\n"), [(2, "b".to_owned())]);
    assert_eq!(
        lines("user\nb\nc"),
        [(2, "b".to_owned()), (3, "c".to_owned())]
    );
    // Also found by fuzzing: a lone `\r` ends a CSV line (old Mac files),
    // and every row of such a file was said to be on line 1.
    assert_eq!(
        lines("\r\ruser\rb\r\"x\ry\"\r\rc\n\r\nd"),
        [
            (4, "b".to_owned()),
            (5, "x\ry".to_owned()),
            (8, "c".to_owned()),
            (10, "d".to_owned())
        ]
    );
}

#[test]
pub(super) fn json_lines_rows() {
    let text = "{\"localpart\": \"alice\", \"password\": \"pw\", \"admin\": true}\n\
                \n\
                {\"user\": \"bob\", \"admin\": \"no\", \"user_type\": null, \"displayname\": \"Bob\"}\n\
                {\"user\": \"carol\", \"admin\": 1, \"password\": \"\"}\n";
    let entries: Vec<WrittenRow> = rows(text).into_iter().map(Result::unwrap).collect();
    assert_eq!(
        entries.iter().map(|e| e.line).collect::<Vec<_>>(),
        [1, 3, 4]
    );
    assert_eq!(entries[0].admin, Some(true));
    assert_eq!(entries[0].password.as_ref().unwrap().expose(), "pw");
    assert_eq!(entries[1].localpart.as_deref(), Some("bob"));
    assert_eq!(entries[1].admin, Some(false));
    assert_eq!(entries[1].user_type, None);
    assert_eq!(entries[1].displayname.as_deref(), Some("Bob"));
    assert_eq!(entries[2].admin, Some(true));
    assert!(entries[2].password.is_none());
}

#[test]
pub(super) fn admin_values() {
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
pub(super) fn command_line_defaults_apply_to_rows_that_do_not_say() {
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
pub(super) fn full_user_ids_are_accepted_when_the_server_matches() {
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
pub(super) fn every_bad_row_is_reported_with_its_line() {
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
pub(super) fn a_password_that_is_not_a_string_is_not_echoed() {
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
pub(super) fn every_bad_json_line_is_reported_with_its_line() {
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
pub(super) fn header_problems() {
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

#[test]
pub(super) fn invalid_utf8_is_an_unparsable_line() {
    let mut found = Vec::new();
    check_rows(
        io::Cursor::new(b"user,password\nalice,pw\nbob,\xff\xfe\ncarol,pw\n"),
        &Rules::default(),
        &mut |p: &Problem| found.push((p.line, p.message.clone())),
    )
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, 3);
    assert!(found[0].1.contains("not valid UTF-8"));
    let mut found = Vec::new();
    check_rows(
        io::Cursor::new(b"{\"user\": \"a\"}\n{\"user\": \"\xff\"}\n"),
        &Rules::default(),
        &mut |p: &Problem| found.push(p.line),
    )
    .unwrap();
    assert_eq!(found, [2]);
}

#[test]
pub(super) fn the_spool_copies_everything_read() {
    let text = "user\nalice\nbob\n";
    let mut copy = Vec::new();
    let (checked, _) = scan(
        BufReader::new(Tee {
            inner: text.as_bytes(),
            copy: &mut copy,
        }),
        &Rules::default(),
        &mut |p: &Problem| panic!("{p:?}"),
    )
    .unwrap();
    assert_eq!(checked.rows, 2);
    assert_eq!(copy, text.as_bytes());
}

#[test]
pub(super) fn progress_bar_shows_counts() {
    let mut tally = Tally::new(8, UNREACHABLE_STREAK, false);
    tally.set_concurrency(8, 8);
    let wide = |tally: &Tally, elapsed| progress_line(tally, elapsed, 200);
    assert_eq!(
        wide(&tally, Duration::ZERO),
        "[------------------------] 0/8  created 0, already there 0, failed 0  jobs 8, 0.0 users/s"
    );
    tally.created = 3;
    tally.existing = 1;
    tally.set_concurrency(11, 11);
    assert_eq!(
        wide(&tally, Duration::from_secs(2)),
        "[############------------] 4/8  created 3, already there 1, failed 0  jobs 11, 2.0 users/s, ETA 2s"
    );
    tally.failed = 2;
    assert_eq!(
        wide(&tally, Duration::from_secs(60)),
        "[##################------] 6/8  created 3, already there 1, failed 2  jobs 11, 0.1 users/s, ETA 20s"
    );
    tally.existing = 3;
    assert_eq!(
        wide(&tally, Duration::from_secs(60)),
        "[########################] 8/8  created 3, already there 3, failed 2  jobs 11, 0.1 users/s, ETA 0s"
    );
}

/// At 80 columns (and fewer) the line fits: the bar narrows, then the
/// counts go, zero ones first; a terminal too narrow for any bar gets the
/// text alone.
/// At 80 columns (and fewer) the line fits: the bar narrows, then the
/// zero counts go, then the bar, then the counts; a terminal too narrow for
/// even the rows done and the pace gets them cut by the drawing.
#[test]
pub(super) fn progress_bar_fits_the_terminal() {
    let mut tally = Tally::new(8, UNREACHABLE_STREAK, false);
    tally.set_concurrency(11, 11);
    tally.created = 3;
    tally.existing = 1;
    let elapsed = Duration::from_secs(2);
    assert_eq!(
        progress_line(&tally, elapsed, 80),
        "[########--------] 4/8  created 3, already there 1  jobs 11, 2.0 users/s, ETA 2s"
    );
    assert_eq!(
        progress_line(&tally, elapsed, 50),
        "4/8  created 3  jobs 11, 2.0 users/s, ETA 2s"
    );
    (tally.existing, tally.failed) = (0, 1);
    assert_eq!(
        progress_line(&tally, elapsed, 80),
        "[###########------------] 4/8  created 3, failed 1  jobs 11, 1.5 users/s, ETA 2s"
    );
    let mut big = Tally::new(123_456, UNREACHABLE_STREAK, false);
    big.set_concurrency(64, 64);
    (big.created, big.existing, big.failed) = (60_000, 30_000, 9_999);
    let elapsed = Duration::from_secs(100);
    assert_eq!(
        progress_line(&big, elapsed, 80),
        "99999/123456  created 60000, failed 9999  jobs 64, 900.0 users/s, ETA 24s"
    );
    assert_eq!(
        progress_line(&big, elapsed, 60),
        "[#########---] 99999/123456  jobs 64, 900.0 users/s, ETA 24s"
    );
    let least = "99999/123456  jobs 64, 900.0 users/s, ETA 24s";
    assert_eq!(progress_line(&big, elapsed, 50), least);
    for width in 1..=200 {
        let line = progress_line(&big, elapsed, width);
        assert!(line.len() <= width.max(least.len()), "{width}: {line}");
        let line = progress_line(&tally, Duration::from_secs(2), width);
        assert!(line.len() <= width.max(39), "{width}: {line}");
    }
}

#[test]
pub(super) fn unreachable_rows_in_a_row_stop_the_batch() {
    let mut tally = Tally::new(100, 3, false);
    let unreachable = RowEnd::Failed { unreachable: true };
    let refused = RowEnd::Failed { unreachable: false };
    assert!(!tally.count(unreachable));
    assert!(!tally.count(unreachable));
    assert!(
        !tally.count(RowEnd::Created),
        "a row that got through resets the streak"
    );
    assert!(!tally.count(unreachable));
    assert!(
        !tally.count(refused),
        "so does a refusal: the server answered"
    );
    assert!(!tally.count(unreachable));
    assert!(!tally.count(unreachable));
    assert!(tally.count(unreachable));
    assert_eq!((tally.created, tally.failed, tally.done()), (1, 7, 8));
}

#[test]
pub(super) fn rows_longer_than_the_limit_are_bad_rows() {
    let limit = MAX_ROW_BYTES as usize;
    let too_long = RowTooLong.to_string();
    let not_read = format!("{too_long}; the rest of the file was not read");
    // CSV, measured from the end of the row before, line break included.
    let fits = "d".repeat(limit - "alice,\n".len());
    let over = "d".repeat(limit - "bob,\n".len() + 1);
    let items = rows(&format!(
        "user,displayname\nalice,{fits}\nbob,{over}\ncarol,\n"
    ));
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0].as_ref().unwrap().displayname.as_deref(),
        Some(&*fits)
    );
    assert_eq!(items[1].as_ref().unwrap_err(), &Problem::new(3, &too_long));
    assert_eq!(items[2].as_ref().unwrap().line, 4);
    // Far longer: not read whole, and reading stops there, at the
    // row's first line even when a quote left open runs on.
    let far = "x\n".repeat(limit);
    let items = rows(&format!("user,displayname\nann,\n\ncid,\"{far}\"\ndee,\n"));
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].as_ref().unwrap_err(), &Problem::new(4, &not_read));
    // Blank lines between rows count, and are said to.
    let blank = "\n".repeat(limit / 2);
    let items = rows(&format!("user\nann\n{blank}bob,{fits}\ncid\n"));
    let problem = format!(
        "the row, with the {} blank lines before it, is longer than 64 KiB",
        limit / 2
    );
    // Whether all of it was read before the limit depends on where the
    // reads fall; the line and the reason do not.
    let found = items[1].as_ref().unwrap_err();
    assert_eq!(found.line, 3 + limit as u64 / 2);
    assert!(found.message.starts_with(&problem), "{found:?}");
    let items = rows(&format!("user\nann\n{blank}{blank}{blank}bob\n"));
    assert_eq!(
        items[1].as_ref().unwrap_err(),
        &Problem::new(
            3,
            "more than 64 KiB of blank lines; the rest of the file was not read"
        )
    );
    // The header too, whole or not.
    let far_line = "x".repeat(2 * limit);
    for header in [format!("user,{over}\n"), format!("user,{far_line}\n")] {
        let (checked, found) = problems(&header, &Rules::default());
        assert_eq!(found, [(1, not_read.clone())]);
        assert_eq!(checked.rows, 0);
    }
    // JSON Lines: the line (its `\n` not counted) is skipped, unkept.
    let fits = format!(
        "{{\"user\": \"a\", \"displayname\": \"{}\"}}",
        "d".repeat(limit - 32)
    );
    assert_eq!(fits.len(), limit);
    let over = format!("{fits} ");
    let items = rows(&format!(
        "{fits}\n{over}\n{over}{far_line}\n{{\"user\": \"b\"}}"
    ));
    assert_eq!(items.len(), 4);
    assert!(items[0].is_ok());
    assert_eq!(items[1].as_ref().unwrap_err(), &Problem::new(2, &too_long));
    assert_eq!(items[2].as_ref().unwrap_err(), &Problem::new(3, &too_long));
    assert_eq!(items[3].as_ref().unwrap().line, 4);
}

#[test]
pub(super) fn a_json_key_given_twice_is_a_bad_row() {
    let text = "{\"user\": \"alice\", \"password\": \"first\", \"password\": \"second\"}\n\
                {\"user\": \"bob\", \"admin\": true, \"admin\": false}\n";
    let found: Vec<String> = rows(text)
        .into_iter()
        .map(|row| row.unwrap_err().message)
        .collect();
    assert_eq!(
        found,
        ["'password' is given twice", "'admin' is given twice"]
    );
}

#[test]
pub(super) fn eta_is_the_rows_left_at_the_pace_so_far() {
    assert_eq!(eta(10, 0, Duration::from_secs(5)), None);
    assert_eq!(eta(10, 5, Duration::ZERO), None);
    assert_eq!(
        eta(12, 4, Duration::from_secs(2)),
        Some(Duration::from_secs(6))
    );
    let long = eta(995, 5, Duration::from_millis(330)).unwrap();
    assert_eq!(duration_text(long), "1m06s");
}

#[test]
pub(super) fn eta_is_zero_when_no_row_is_left() {
    assert_eq!(eta(0, 5, Duration::from_secs(1)), Some(Duration::ZERO));
}

#[test]
pub(super) fn eta_reads_as_hours_minutes_seconds() {
    assert_eq!(duration_text(Duration::ZERO), "0s");
    assert_eq!(duration_text(Duration::from_millis(200)), "1s");
    assert_eq!(duration_text(Duration::from_secs(59)), "59s");
    assert_eq!(duration_text(Duration::from_secs(65)), "1m05s");
    assert_eq!(duration_text(Duration::from_millis(64_100)), "1m05s");
    assert_eq!(duration_text(Duration::from_secs(3600)), "1h00m00s");
    assert_eq!(duration_text(Duration::from_secs(7389)), "2h03m09s");
}

#[test]
pub(super) fn the_exit_status_says_how_the_batch_ended() {
    let ended = |ends: &[RowEnd], output_error: bool| {
        let mut tally = Tally::new(ends.len() as u64 + 1, 2, false);
        for &end in ends {
            tally.count(end);
        }
        if output_error {
            tally.output_error = Some(io::ErrorKind::BrokenPipe.into());
        }
        (
            tally.existing,
            tally.finish(std::time::Instant::now(), "jobs 1"),
        )
    };
    let unreachable = RowEnd::Failed { unreachable: true };
    let refused = RowEnd::Failed { unreachable: false };
    assert_eq!(ended(&[RowEnd::Created, RowEnd::Existing], false), (1, 0));
    assert_eq!(ended(&[RowEnd::Created, refused], false), (0, 1));
    assert_eq!(ended(&[unreachable, unreachable], false), (0, 4));
    // stdout going away outranks every other ending.
    assert_eq!(ended(&[unreachable, unreachable], true), (0, 5));
    assert_eq!(ended(&[RowEnd::Created], true), (0, 5));
}

/// The redaction invariant for batch cells: a value in any column but the
/// localpart (which is shown so that the row can be found), as any JSON
/// type, good or bad, CSV or JSON Lines, is never repeated in a problem.
/// A new message that quoted a cell would fail here.
#[test]
pub(super) fn no_problem_repeats_a_cell_but_the_localpart() {
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
