//! Batch-file parsing: a `--batch` file, CSV or JSON Lines, read and checked
//! as the first pass does, with and without a config's server name and user
//! types.

#![no_main]

use libfuzzer_sys::fuzz_target;
use register_new_matrix_user::__private::{Rows, Rules, check_rows};

fuzz_target!(|data: &[u8]| {
    // Lines as CSV counts them (`\n`, `\r\n` or `\r`); JSON Lines has no more.
    let breaks = data.iter().zip(data.iter().skip(1).chain([&0]));
    let lines = 1 + breaks
        .filter(|&(&b, &next)| b == b'\n' || (b == b'\r' && next != b'\n'))
        .count() as u64;

    // Every row is reported on its own line, in order, within the file.
    let rows = Rows::new(data).unwrap();
    let mut last = 0;
    for problem in rows.header_problems() {
        assert!((1..=lines).contains(&problem.line), "{problem:?}");
        last = problem.line;
    }
    for item in rows {
        let line = match item {
            Ok(entry) => entry.line,
            Err(problem) => problem.line,
        };
        assert!(
            line > last && line <= lines,
            "line {line} after {last} of {lines}"
        );
        last = line;
    }

    let with_config = Rules {
        server_name: Some("example.org".to_owned()),
        extra_user_types: Some(vec!["bridge".to_owned()]),
        ..Rules::default()
    };
    for rules in [Rules::default(), with_config] {
        let mut reported = 0;
        let checked = check_rows(std::io::Cursor::new(data), &rules, &mut |problem| {
            assert!((1..=lines).contains(&problem.line), "{problem:?}");
            assert!(!problem.message.is_empty());
            reported += 1;
        })
        .unwrap();
        assert_eq!(checked.problems, reported);
    }
});
