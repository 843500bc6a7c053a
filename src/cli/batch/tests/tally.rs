//! Counting the rows: the progress line, the ETA, the unreachable streak
//! and the exit status.

use super::*;

#[test]
fn progress_bar_shows_counts() {
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
/// zero counts go, then the bar, then the counts; a terminal too narrow for
/// even the rows done and the pace gets them cut by the drawing.
#[test]
fn progress_bar_fits_the_terminal() {
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
fn unreachable_rows_in_a_row_stop_the_batch() {
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
fn eta_is_the_rows_left_at_the_pace_so_far() {
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
fn eta_is_zero_when_no_row_is_left() {
    assert_eq!(eta(0, 5, Duration::from_secs(1)), Some(Duration::ZERO));
}

#[test]
fn eta_reads_as_hours_minutes_seconds() {
    assert_eq!(duration_text(Duration::ZERO), "0s");
    assert_eq!(duration_text(Duration::from_millis(200)), "1s");
    assert_eq!(duration_text(Duration::from_secs(59)), "59s");
    assert_eq!(duration_text(Duration::from_secs(65)), "1m05s");
    assert_eq!(duration_text(Duration::from_millis(64_100)), "1m05s");
    assert_eq!(duration_text(Duration::from_secs(3600)), "1h00m00s");
    assert_eq!(duration_text(Duration::from_secs(7389)), "2h03m09s");
}

#[test]
fn the_exit_status_says_how_the_batch_ended() {
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
