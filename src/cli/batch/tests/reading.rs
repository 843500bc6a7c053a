//! Reading a batch file: CSV or JSON Lines told from the content, rows and
//! their line numbers, the row cap, invalid UTF-8, the stdin spool.

use super::*;

#[test]
fn format_is_detected_from_the_content() {
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
fn csv_rows_with_quotes_and_line_numbers() {
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
fn csv_line_numbers_count_blank_lines_and_crlf() {
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
fn json_lines_rows() {
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
fn invalid_utf8_is_an_unparsable_line() {
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
fn the_spool_copies_everything_read() {
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
fn rows_longer_than_the_limit_are_bad_rows() {
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
fn a_json_key_given_twice_is_a_bad_row() {
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
