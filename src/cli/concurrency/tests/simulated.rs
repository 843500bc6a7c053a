//! Whole batches on a simulated clock against simulated servers (the
//! stand-in `scripts/bench` uses, and servers whose threads share cores),
//! `--jobs auto` compared with fixed settings.

use super::*;
use std::collections::VecDeque;

const HOLD: Duration = Duration::from_millis(200);
/// The fixed `--jobs` that `scripts/bench` compares with.
const FIXED: [u16; 8] = [1, 2, 4, 8, 16, 32, 64, 128];

/// A simulated server: requests arrive, and finish some time later.
trait Server {
    fn arrive(&mut self, id: usize, now: Duration);
    /// The next request to finish, and when; it is then gone.
    fn finish_next(&mut self) -> Option<(Duration, usize)>;
}

/// The stand-in of `scripts/bench`: holds each registration for `HOLD`,
/// `capacity` at once, the others waiting in order; each row's nonce request
/// (answered at once) takes `NONCE` before the registration arrives.
struct Slots {
    capacity: usize,
    /// How much longer a registration is held per second of the run, as a
    /// fraction of `HOLD`, up to four times `HOLD`: a server slowing down by
    /// itself, not from load.
    drift: f64,
    serving: Vec<(Duration, usize)>,
    /// Registrations waiting for a slot, and when each arrived.
    waiting: VecDeque<(Duration, usize)>,
}

/// The round trip of the nonce request on the loopback interface.
const NONCE: Duration = Duration::from_micros(500);

impl Slots {
    fn hold(&self, from: Duration) -> Duration {
        HOLD.mul_f64((1.0 + self.drift * from.as_secs_f64()).min(4.0))
    }
}

impl Server for Slots {
    fn arrive(&mut self, id: usize, now: Duration) {
        let arrival = now + NONCE;
        if self.serving.len() < self.capacity {
            self.serving.push((arrival + self.hold(arrival), id));
        } else {
            self.waiting.push_back((arrival, id));
        }
    }

    fn finish_next(&mut self) -> Option<(Duration, usize)> {
        let next = (0..self.serving.len()).min_by_key(|&i| self.serving[i])?;
        let (at, id) = self.serving.swap_remove(next);
        if let Some((arrival, waiting)) = self.waiting.pop_front() {
            let from = at.max(arrival);
            self.serving.push((from + self.hold(from), waiting));
        }
        Some((at, id))
    }
}

/// A server hashing with threads that share `cores` (as Synapse's
/// bcrypt does): each request needs `HOLD` of one core, and all those in
/// progress slow down together when they outnumber the cores.
struct SharedCores {
    cores: f64,
    /// The most hashed at once (a thread pool); the others wait in order.
    threads: usize,
    /// Work added to every request in progress per request waiting for a
    /// thread, as a fraction of `HOLD`: a server that spends time on its
    /// queue (connections, its event loop, locks) serves fewer per second
    /// the longer the queue.
    thrash: f64,
    now: f64,
    /// Work left (seconds of one core) per request.
    working: Vec<(f64, usize)>,
    waiting: VecDeque<usize>,
}

impl Server for SharedCores {
    fn arrive(&mut self, id: usize, now: Duration) {
        self.advance(now.as_secs_f64());
        if self.working.len() < self.threads {
            self.working.push((HOLD.as_secs_f64(), id));
        } else {
            self.waiting.push_back(id);
        }
    }

    fn finish_next(&mut self) -> Option<(Duration, usize)> {
        let next = (0..self.working.len())
            .min_by(|&a, &b| self.working[a].0.total_cmp(&self.working[b].0))?;
        let rate = self.rate();
        let at = self.now + self.working[next].0 / rate;
        let (_, id) = self.working.swap_remove(next);
        self.advance_by(at - self.now, rate);
        self.now = at;
        if let Some(waiting) = self.waiting.pop_front() {
            self.working.push((HOLD.as_secs_f64(), waiting));
        }
        Some((Duration::from_secs_f64(at), id))
    }
}

impl SharedCores {
    fn rate(&self) -> f64 {
        (self.cores / self.working.len().max(1) as f64).min(1.0)
            / (1.0 + self.thrash * self.waiting.len() as f64)
    }

    fn advance(&mut self, to: f64) {
        let rate = self.rate();
        self.advance_by(to - self.now, rate);
        self.now = self.now.max(to);
    }

    fn advance_by(&mut self, elapsed: f64, rate: f64) {
        for (left, _) in &mut self.working {
            *left -= elapsed.max(0.0) * rate;
        }
    }
}

/// What a simulated batch did.
struct Run {
    elapsed: Duration,
    changes: Vec<Change>,
    settled: usize,
    peak: usize,
    /// The longest answer time.
    slowest: Duration,
}

/// A batch of `rows` against a simulated server, on a simulated clock;
/// the tool's own time is taken as nothing.
fn simulate(jobs: Jobs, server: &mut dyn Server, rows: usize) -> Run {
    simulate_with_timeout(jobs, server, rows, TIMEOUT)
}

fn simulate_with_timeout(
    jobs: Jobs,
    server: &mut dyn Server,
    rows: usize,
    timeout: Duration,
) -> Run {
    let mut controller = Controller::new(jobs, timeout);
    let mut tickets: Vec<Ticket> = Vec::new();
    let (mut now, mut changes, mut peak) = (Duration::ZERO, Vec::new(), 0);
    let mut slowest = Duration::ZERO;
    loop {
        while tickets.len() < rows {
            let Some(ticket) = controller.try_start(now) else {
                break;
            };
            server.arrive(tickets.len(), now);
            tickets.push(ticket);
        }
        peak = peak.max(controller.slots());
        let Some((done, id)) = server.finish_next() else {
            break;
        };
        now = done;
        slowest = slowest.max(now - tickets[id].started);
        changes.extend(controller.finish(tickets[id], now, Signal::Answered));
    }
    Run {
        elapsed: now,
        changes,
        settled: controller.settled(now),
        peak,
        slowest,
    }
}

fn slots(capacity: usize) -> Slots {
    drifting(capacity, 0.0)
}

fn drifting(capacity: usize, drift: f64) -> Slots {
    Slots {
        capacity,
        drift,
        serving: Vec::new(),
        waiting: Default::default(),
    }
}

fn shared_cores(cores: usize) -> SharedCores {
    thread_pool(cores, usize::MAX, 0.0)
}

fn thread_pool(cores: usize, threads: usize, thrash: f64) -> SharedCores {
    SharedCores {
        cores: cores as f64,
        threads,
        thrash,
        now: 0.0,
        working: Vec::new(),
        waiting: VecDeque::new(),
    }
}

/// The best a fixed `--jobs` does against the server `make` gives, of the
/// powers of two up to `most` and the server's slots plus a quarter (fewer
/// than the slots are slower by their ratio, and more only queue): its wall
/// time and setting.
fn best_fixed(make: &dyn Fn() -> Slots, rows: usize, most: u16) -> (Duration, u16) {
    let slots = make().capacity as u16;
    std::iter::successors(Some(1u16), |jobs| Some(jobs * 2))
        .take_while(|&jobs| jobs <= most)
        .chain([slots + slots / 4])
        .map(|jobs| (simulate(Jobs::Fixed(jobs), &mut make(), rows).elapsed, jobs))
        .min()
        .unwrap()
}

/// Auto's throughput over the best fixed `--jobs` (1 to twice the server's
/// slots), and over `--jobs 4`.
fn against_fixed(make: &dyn Fn() -> Slots, rows: usize) -> (f64, f64, Run) {
    let most = (make().capacity * 2) as u16;
    let auto = simulate(Jobs::Auto, &mut make(), rows);
    let (best, _) = best_fixed(make, rows, most);
    let four = simulate(Jobs::Fixed(4), &mut make(), rows).elapsed;
    let ratio = |fixed: Duration| fixed.as_secs_f64() / auto.elapsed.as_secs_f64();
    (ratio(best), ratio(four), auto)
}

#[test]
fn short_and_long_batches_keep_servers_of_every_size_busy() {
    // 50 and 250 rows per server slot: 10 and 50 answer times at best.
    for capacity in [1, 4, 16, 64] {
        for per_slot in [50, 250] {
            let rows = capacity * per_slot;
            let (best, four, auto) = against_fixed(&|| slots(capacity), rows);
            let case =
                format!("{capacity} slots, {rows} rows: {best:.3} of the best, {four:.3} of 4");
            // Ramping up from 4 to 256 takes two answer times (at 4, then
            // 32): 4% of a 64-slot server's 50, and nothing smaller.
            let goal = if capacity == 64 && per_slot == 50 {
                0.95
            } else {
                0.98
            };
            assert!(best >= goal, "{case}");
            assert!(four >= 0.999, "{case}");
            // Settled on the slots plus a short queue, at most twice them.
            assert!(
                auto.settled >= capacity && auto.settled <= (capacity * 2).max(2),
                "{case}: settled at {}",
                auto.settled
            );
        }
    }
}

#[test]
fn a_big_server_gets_more_in_flight_than_64() {
    // 200 slots, 50 rows each: a fixed 64 is the old ceiling.
    let (best, _, auto) = against_fixed(&|| slots(200), 200 * 50);
    assert!(best >= 0.95, "{best}");
    assert!(
        auto.peak > 200 && auto.peak <= AUTO_CEILING,
        "{}",
        auto.peak
    );
    let old_ceiling = simulate(Jobs::Fixed(64), &mut slots(200), 200 * 50);
    assert!(auto.elapsed.as_secs_f64() * 2.5 < old_ceiling.elapsed.as_secs_f64());
}

#[test]
fn a_server_slowing_down_by_itself_keeps_what_it_was_seen_to_serve() {
    // Answer times grow by a tenth of 200 ms each second, up to 800 ms,
    // whatever the load: slower answers at the same limit are no sign of
    // queueing, and fewer in flight would only cost throughput.
    for capacity in [4, 16, 64] {
        let rows = capacity * 50;
        let (best, four, auto) = against_fixed(&|| drifting(capacity, 0.1), rows);
        let case = format!("{capacity} slots: {best:.3} of the best, {four:.3} of 4");
        assert!(best >= 0.93, "{case}");
        assert!(four >= 0.999, "{case}");
        assert!(
            auto.settled >= capacity,
            "{case}: settled at {}",
            auto.settled
        );
    }
}

#[test]
fn simulated_servers_whose_threads_share_their_cores() {
    for cores in [1, 2, 4, 8, 16] {
        let auto = simulate(Jobs::Auto, &mut shared_cores(cores), 1000);
        let best = FIXED
            .into_iter()
            .map(|jobs| simulate(Jobs::Fixed(jobs), &mut shared_cores(cores), 1000).elapsed)
            .min()
            .unwrap();
        let fraction = best.as_secs_f64() / auto.elapsed.as_secs_f64();
        assert!(fraction >= 0.95, "{cores} cores: {fraction}");
        // Past the cores, more in flight only adds answer time. Four at
        // once on one core are answered all alike, as four cores would:
        // auto cannot tell, and keeps the 4 it started with plus a quarter.
        assert!(
            auto.settled >= cores && auto.settled <= (cores * 2 + 1).max(AUTO_START + 1),
            "{cores} cores: settled at {} ({:?})",
            auto.settled,
            auto.changes.iter().map(|c| c.to).collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_small_server_that_queues_gets_back_to_its_capacity_after_slow_start_overshoots() {
    // The real Synapse here: two cores shared by a pool of 10 hashing
    // threads, the others waiting in order, and every request waiting
    // slows those hashed (by 1% of a hash each). Four at once are answered
    // all alike, as by an idle server, so slow start overshoots; a short
    // batch (80 rows, 40 answer times at best) must not spend itself there.
    let rows = 80;
    let server = || thread_pool(2, 10, 0.01);
    let auto = simulate(Jobs::Auto, &mut server(), rows);
    let best = FIXED
        .into_iter()
        .map(|jobs| simulate(Jobs::Fixed(jobs), &mut server(), rows).elapsed)
        .min()
        .unwrap();
    let fraction = best.as_secs_f64() / auto.elapsed.as_secs_f64();
    let limits: Vec<_> = auto.changes.iter().map(|c| (c.at, c.to)).collect();
    assert!(fraction >= 0.9, "{fraction:.3} of the best: {limits:?}");
    // Back to no more than the pool's threads within one answer time at
    // the overshoot (its slowest), not after the overshoot has drained.
    let overshoot = auto.changes.iter().find(|c| c.to == auto.peak).unwrap().at;
    let back = auto.changes.iter().find(|c| c.at > overshoot && c.to <= 10);
    assert!(
        back.is_some_and(|c| c.at - overshoot < auto.slowest),
        "{limits:?}, slowest answer {:?}",
        auto.slowest
    );
}

#[test]
fn a_slow_server_is_not_pushed_into_timeouts() {
    // One core, 200 ms a hash: 4 at once take 0.8 s. With a 4 s
    // timeout, slow start grows no further than where answers would take
    // 1 s (5 at once), not eight times.
    let timeout = Duration::from_secs(4);
    let auto = simulate_with_timeout(Jobs::Auto, &mut shared_cores(1), 300, timeout);
    assert!(auto.slowest < timeout, "{:?}", auto.slowest);
    assert_eq!(auto.peak, 5, "{:?}", auto.changes);
    // With the default 30 s, the same server gets more, until answer
    // times say it queues.
    let auto = simulate(Jobs::Auto, &mut shared_cores(1), 300);
    assert!(auto.peak > AUTO_START);
    assert!(auto.slowest < TIMEOUT, "{:?}", auto.slowest);
    // Answers that take over half the timeout lower the limit to where
    // they would take a quarter.
    let mut controller = Controller::new(Jobs::Fixed(1), timeout);
    assert_eq!(controller.slots(), 1, "(a fixed limit is never lowered)");
    controller = Controller::new(Jobs::Auto, timeout);
    let tickets = fill(&mut controller, ms(0));
    controller.finish(tickets[0], ms(2500), Signal::Answered);
    for ticket in &tickets[1..] {
        controller.finish(*ticket, ms(2500), Signal::Neutral);
    }
    let mut changes = Vec::new();
    for ticket in fill(&mut controller, ms(2500)) {
        changes.extend(controller.finish(ticket, ms(5000), Signal::Answered));
    }
    assert_eq!(
        changes,
        [Change {
            at: ms(5000),
            from: 4,
            to: 2,
            reason: Reason::NearTimeout {
                latency: ms(2500),
                timeout
            }
        }]
    );
    assert_eq!(
        changes[0].to_string(),
        "concurrency 4 -> 2 at 5.00 s: answers take 2.5 s, more than half of --timeout (4 s)"
    );
}
