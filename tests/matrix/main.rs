//! The fault and bad-input tables (fault_rows.rs, bad_input_rows.rs): every
//! row is a test case of its own, named after the row, run once as is and
//! once with `-v` (`faults::verbose::ROW`), against a local stub server; and
//! `docs/fault-matrix.md`, rendered from the rows, kept current
//! (`UPDATE_DOCS=1 cargo test --test matrix` rewrites it).
//!
//! A harness of its own (libtest-mimic) makes the cases from the tables, so
//! that a new row is a new test without a list to keep beside it. It takes
//! libtest's usual arguments: `cargo test --test matrix -- faults::huge_body`.

mod bad_input_rows;
mod check;
mod fault_rows;
mod stub_mas;

use check::Row;
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::HashSet;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_register_new_matrix_user");

fn main() {
    let mut trials = Vec::new();
    for (table, rows) in [
        ("faults", fault_rows::ROWS),
        ("bad_input", bad_input_rows::ROWS),
    ] {
        for row in rows {
            trials.push(Trial::test(format!("{table}::{}", row.id), move || {
                check::check(row, false);
                Ok(())
            }));
        }
        // The same rows with -v: nothing secret shows at any verbosity.
        for row in rows {
            trials.push(Trial::test(
                format!("{table}::verbose::{}", row.id),
                move || {
                    check::check(row, true);
                    Ok(())
                },
            ));
        }
        trials.push(Trial::test(
            format!("{table}::ids_name_one_row_each"),
            move || ids_name_one_row_each(rows),
        ));
    }
    trials.push(Trial::test("fault_matrix_doc_is_current", || {
        check::check_doc();
        Ok(())
    }));
    trials.push(Trial::test("patterns_and_placeholders", || {
        check::patterns_and_placeholders();
        Ok(())
    }));
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

/// A row's id is its test's name: it must be a plain identifier and unique
/// in its table, or one case would hide another.
fn ids_name_one_row_each(rows: &[Row]) -> Result<(), Failed> {
    let mut seen = HashSet::new();
    for row in rows {
        let plain = !row.id.is_empty()
            && !row.id.starts_with(|c: char| c.is_ascii_digit())
            && row
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(format!("row id {:?} is not a plain identifier", row.id).into());
        }
        if !seen.insert(row.id) {
            return Err(format!("two rows share the id {:?}", row.id).into());
        }
    }
    Ok(())
}
