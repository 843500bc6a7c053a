//! The controller's decisions one by one: slow start, overload, answer
//! times, the settled concurrency and what a change says.

use super::*;
use std::collections::VecDeque;

#[test]
fn a_fixed_limit_never_changes() {
    let mut controller = Controller::new(Jobs::Fixed(4), TIMEOUT);
    let tickets = fill(&mut controller, ms(0));
    assert_eq!(tickets.len(), 4);
    let signals = [
        Signal::Answered,
        Signal::Overloaded(429),
        Signal::Unreachable,
        Signal::Answered,
    ];
    for (ticket, signal) in tickets.into_iter().zip(signals) {
        assert_eq!(controller.finish(ticket, ms(200), signal), None);
    }
    assert_eq!(controller.slots(), 4);
    assert_eq!(controller.settled(ms(1000)), 4);
}

#[test]
fn slow_start_grows_eightfold_per_round_of_fast_answers_with_every_slot_busy() {
    let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
    assert_eq!(fill(&mut controller, ms(0)).len(), AUTO_START);
    controller = Controller::new(Jobs::Auto, TIMEOUT);
    // Four answers as fast as the first, each slot taken again at once.
    let (changes, now) = steady(&mut controller, ms(0), ms(200), 4);
    assert_eq!(
        changes,
        [Change {
            at: ms(200),
            from: 4,
            to: 32,
            reason: Reason::AsFastAsEver { latency: ms(200) },
        }]
    );
    // Slower by more than half: slow start ends, without a change; a round
    // as fast as the fastest then adds a quarter, not eight times.
    let (changes, now) = steady(&mut controller, now, ms(400), 1);
    assert_eq!(changes, []);
    let (changes, _) = steady(&mut controller, now, ms(200), 32);
    assert_eq!(
        changes.iter().map(|c| (c.from, c.to)).collect::<Vec<_>>(),
        [(32, 40)]
    );
    // A round with slots left idle (the rows ran short) says nothing
    // about more.
    let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
    for ticket in fill(&mut controller, ms(0)) {
        assert_eq!(controller.finish(ticket, ms(200), Signal::Answered), None);
    }
    assert_eq!(controller.slots(), 4);
}

#[test]
fn a_request_waiting_for_a_slot_counts_as_busy() {
    // Workers are woken when a slot frees, but the next answer may come
    // before they have taken it: the waiting request still shows that
    // the limit is what holds the batch back.
    for (waiting, slots) in [(3, 32), (0, 4)] {
        let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
        let tickets = fill(&mut controller, ms(0));
        controller.wait(waiting);
        for ticket in tickets {
            controller.finish(ticket, ms(200), Signal::Answered);
        }
        assert_eq!(controller.slots(), slots, "{waiting} waiting");
    }
}

#[test]
fn overload_halves_the_limit_once_per_window_down_to_one() {
    let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
    let tickets = fill(&mut controller, ms(0));
    let change = controller.finish(tickets[0], ms(100), Signal::Overloaded(429));
    assert_eq!(
        change.map(|c| (c.from, c.to, c.reason)),
        Some((4, 2, Reason::Overloaded(429)))
    );
    assert!(
        controller.try_start(ms(100)).is_none(),
        "3 in flight, 2 slots"
    );
    // The others in flight then say the same thing: no second halving.
    assert_eq!(
        controller.finish(tickets[1], ms(110), Signal::Overloaded(503)),
        None
    );
    assert_eq!(
        controller.finish(tickets[2], ms(120), Signal::Unreachable),
        None
    );
    for ticket in &tickets[3..] {
        controller.finish(*ticket, ms(130), Signal::Neutral);
    }
    let mut slots = Vec::new();
    for at in 1..=4 {
        let ticket = controller.try_start(ms(200 * at)).unwrap();
        controller.finish(ticket, ms(200 * at + 50), Signal::Unreachable);
        slots.push(controller.slots());
    }
    assert_eq!(slots, [1, 1, 1, 1]);
}

// Found by the stub test of a 429: a slow answer ended slow start (a new
// window) just before the 429 came, and the 429, from a request started
// before, was taken for one already acted upon.
#[test]
fn an_overload_after_slow_start_ends_still_halves_the_limit() {
    let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
    // Three rows, four slots.
    let tickets: Vec<Ticket> = (0..3)
        .map(|_| controller.try_start(ms(0)).unwrap())
        .collect();
    assert_eq!(controller.finish(tickets[0], ms(2), Signal::Answered), None);
    assert_eq!(controller.finish(tickets[1], ms(4), Signal::Answered), None);
    let change = controller.finish(tickets[2], ms(5), Signal::Overloaded(429));
    assert_eq!(change.map(|c| (c.from, c.to)), Some((4, 2)));
}

#[test]
fn answer_times_grown_by_more_than_half_lower_the_limit_to_the_capacity_seen() {
    let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
    // One request alone: the server unloaded answers in 200 ms.
    let alone = controller.try_start(ms(0)).unwrap();
    assert_eq!(controller.finish(alone, ms(200), Signal::Answered), None);
    // Four at once take 400 ms: slow start ends; these four answers
    // started before, so they are not a window of their own.
    for ticket in fill(&mut controller, ms(200)) {
        assert_eq!(controller.finish(ticket, ms(600), Signal::Answered), None);
    }
    // A window: four answers, each 400 ms, with 4 to 1 in flight (2.5 on
    // average): the server serves 2.5 × 200 / 400 = 1.25 at once. Plus
    // a quarter (at least one) is 2.25.
    let tickets = fill(&mut controller, ms(600));
    let mut changes = Vec::new();
    for ticket in tickets {
        changes.extend(controller.finish(ticket, ms(1000), Signal::Answered));
    }
    assert_eq!(
        changes,
        [Change {
            at: ms(1000),
            from: 4,
            to: 2,
            reason: Reason::Queueing {
                latency: ms(400),
                fastest: ms(200)
            },
        }]
    );
    // The next window, with every slot kept busy and answers as fast as
    // the fastest: up by a quarter, at least one.
    let (changes, _) = steady(&mut controller, ms(1000), ms(200), 4);
    assert_eq!(
        changes.iter().map(|c| (c.from, c.to)).collect::<Vec<_>>(),
        [(2, 3)]
    );
    assert!(matches!(changes[0].reason, Reason::Flat { .. }));
}

/// Keeps every slot busy, each request answered `latency` after it
/// started, until `answers` have come; the rest are then ended as neutral.
fn steady(
    controller: &mut Controller,
    from: Duration,
    latency: Duration,
    answers: usize,
) -> (Vec<Change>, Duration) {
    let mut now = from;
    let mut flight: VecDeque<Ticket> = fill(controller, now).into();
    let mut changes = Vec::new();
    for _ in 0..answers {
        let ticket = flight.pop_front().unwrap();
        now = ticket.started + latency;
        changes.extend(controller.finish(ticket, now, Signal::Answered));
        flight.extend(fill(controller, now));
    }
    for ticket in flight {
        controller.finish(ticket, now, Signal::Neutral);
    }
    (changes, now)
}

#[test]
fn answers_slowing_down_at_the_same_limit_cut_no_lower_than_the_capacity_measured() {
    let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
    // Slow start: 4 to 32, then a slower answer ends it.
    let (_, now) = steady(&mut controller, ms(0), ms(200), 4);
    let (_, now) = steady(&mut controller, now, ms(400), 1);
    // A window of 32 answers within 15% of the fastest, every slot busy:
    // 32 in flight ÷ 0.22 s = 145 answers a second, so the server has been
    // seen serving 145 × 0.2 s = 29 at once. Up by a quarter.
    let (changes, now) = steady(&mut controller, now, ms(220), 32);
    assert_eq!(changes.iter().map(|c| c.to).collect::<Vec<_>>(), [40]);
    // Then the server slows down by itself: three times the fastest with
    // 40 in flight. Little's law alone would say it serves 40 ÷ 3 = 13
    // (and the limit would go to 17), but it has served 29: the limit
    // goes to 29 plus a quarter, and stays there window after window.
    let (changes, _) = steady(&mut controller, now, ms(600), 40 * 5);
    assert_eq!(
        changes.iter().map(|c| (c.from, c.to)).collect::<Vec<_>>(),
        [(40, 36)]
    );
    assert!(matches!(changes[0].reason, Reason::Queueing { .. }));
    // An overload answer is the server's word: it halves, and what was
    // measured is no floor any more.
    let ticket = controller.try_start(ms(100_000)).unwrap();
    controller.finish(ticket, ms(100_100), Signal::Overloaded(503));
    assert_eq!(controller.slots(), 18);
    let (changes, _) = steady(&mut controller, ms(101_000), ms(600), 18 * 2);
    assert_eq!(
        changes.iter().map(|c| (c.from, c.to)).collect::<Vec<_>>(),
        [(18, 8)]
    );
}

#[test]
fn one_at_a_time_and_still_slow_takes_that_as_the_unloaded_time() {
    let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
    let tickets = fill(&mut controller, ms(0));
    controller.finish(tickets[0], ms(100), Signal::Answered);
    for ticket in &tickets[1..] {
        controller.finish(*ticket, ms(100), Signal::Neutral);
    }
    // Down to one slot.
    for at in 1..=4 {
        let ticket = controller.try_start(ms(1000 * at)).unwrap();
        controller.finish(ticket, ms(1000 * at + 10), Signal::Overloaded(503));
    }
    assert_eq!(controller.slots(), 1);
    // The server now takes 500 ms even alone: no lower limit to go to,
    // so 500 ms becomes the unloaded time, and the next window, as fast,
    // finds room for more.
    let mut changes = Vec::new();
    for answer in 0..8 {
        let start = ms(10_000 + 500 * answer);
        let ticket = controller.try_start(start).unwrap();
        changes.extend(controller.finish(ticket, start + ms(500), Signal::Answered));
    }
    assert_eq!(
        changes.iter().map(|c| (c.from, c.to)).collect::<Vec<_>>(),
        [(1, 2)]
    );
}

#[test]
fn the_settled_concurrency_is_the_one_in_force_longest() {
    let mut controller = Controller::new(Jobs::Auto, TIMEOUT);
    steady(&mut controller, ms(0), ms(200), 4);
    assert_eq!(controller.slots(), 32);
    assert_eq!(controller.settled(ms(300)), 4, "4 for 0.2 s, 32 for 0.1 s");
    assert_eq!(controller.settled(ms(1000)), 32);
}

#[test]
fn a_change_says_why() {
    let change = Change {
        at: ms(1500),
        from: 20,
        to: 10,
        reason: Reason::Queueing {
            latency: ms(500),
            fastest: ms(200),
        },
    };
    assert_eq!(
        change.to_string(),
        "concurrency 20 -> 10 at 1.50 s: answer times grew to 2.5x the fastest (0.500 s vs 0.200 s) without more throughput: requests are queueing"
    );
    let change = Change {
        reason: Reason::Overloaded(429),
        ..change
    };
    assert!(
        change
            .to_string()
            .ends_with("the server answered 429: it is overloaded")
    );
}
