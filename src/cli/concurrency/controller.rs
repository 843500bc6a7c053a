//! The `--jobs auto` controller: the limit on requests in flight, decided
//! from answer times passed in by the caller.

use super::{Change, Jobs, Reason, Signal, Ticket};
use std::time::Duration;

/// Where `--jobs auto` starts: what a fixed `--jobs` gives when not asked
/// otherwise, so that auto is never behind it in the first answer time.
pub const AUTO_START: usize = 4;
/// The most registrations `--jobs auto` keeps in flight, however much the
/// server sustains: each is a worker thread and a connection here, and a
/// request in flight at the server.
pub const AUTO_CEILING: usize = 256;
/// Growth per round of slow start: a round is three quarters of the slots
/// answered, all as fast as the fastest, with every slot in use; from 4, a
/// server of 64 cores is full after two answer times (a batch of 50 rows per
/// core takes 50 answer times: every one spent ramping up costs 2%). The
/// overshoot on a small server is seen one answer time later and costs it
/// nothing but answer time while it lasts: its hashing threads are busy
/// either way.
pub(super) const SLOW_START_GROWTH: f64 = 8.0;
/// A window closes after this many answers at least, so that a low limit
/// does not decide on one or two answer times.
pub(super) const MIN_WINDOW: usize = 4;
/// Answer times within this factor of the fastest: the server is not queueing.
pub(super) const FLAT: f64 = 1.15;
/// Answer times beyond this factor of the fastest: requests are queueing.
pub(super) const QUEUEING: f64 = 1.5;
/// Growth per window while answer times stay flat, and the margin kept above
/// the server's estimated capacity (a short queue costs a little answer time
/// and keeps every server thread busy).
pub(super) const STEP: f64 = 1.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    SlowStart,
    Steady,
}

/// Answers to requests started under the current limit.
#[derive(Debug, Default)]
pub(super) struct Window {
    answers: usize,
    total_latency: Duration,
    /// Slots in use when each answer came, summed: was the limit the bound?
    total_busy: usize,
}

/// The limit on requests in flight, and what it is decided from.
#[derive(Debug)]
pub struct Controller {
    auto: bool,
    /// Fractional, so that growth by a quarter works at small limits; the
    /// slots are its rounded value.
    limit: f64,
    ceiling: usize,
    in_flight: usize,
    /// Requests waiting for a slot (see [`Controller::wait`]).
    pub(super) waiting: usize,
    /// When the limit was last halved for an overload.
    cut: Option<Duration>,
    peak: usize,
    phase: Phase,
    /// The fastest answer seen: the server unloaded.
    fastest: Option<Duration>,
    /// The most answers per second a window had (requests in flight over
    /// answer time): with the fastest answer, the capacity measured.
    sustained: f64,
    epoch: u64,
    window: Window,
    /// When slow start ended on a queued answer: the first window after it
    /// counts every answer, whenever its request started, and decides on
    /// the rate they come at (see [`Controller::after_overshoot`]).
    overshot: Option<Duration>,
    /// How long each number of slots was in force, for [`Controller::settled`].
    time_at: Vec<Duration>,
    since: Duration,
    /// A quarter of the request timeout: answers slower than this get no
    /// more in flight, and twice this cuts the limit, so that a slow server
    /// is not pushed into timeouts.
    patience: Duration,
}

impl Controller {
    /// `timeout`: how long a request may take before it fails (--timeout).
    pub fn new(jobs: Jobs, timeout: Duration) -> Controller {
        let (auto, start, ceiling) = match jobs {
            Jobs::Fixed(n) => (false, usize::from(n).max(1), usize::from(n).max(1)),
            Jobs::Auto => (true, AUTO_START, AUTO_CEILING),
        };
        Controller {
            auto,
            limit: start as f64,
            ceiling,
            in_flight: 0,
            waiting: 0,
            cut: None,
            peak: start,
            phase: Phase::SlowStart,
            fastest: None,
            sustained: 0.0,
            epoch: 0,
            window: Window::default(),
            overshot: None,
            time_at: vec![Duration::ZERO; ceiling + 1],
            patience: timeout / 4,
            since: Duration::ZERO,
        }
    }

    /// The most requests allowed in flight now.
    pub fn slots(&self) -> usize {
        (self.limit.round() as usize).clamp(1, self.ceiling)
    }

    /// The most slots there can ever be (the workers to start).
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// The most slots there have been so far.
    pub fn peak(&self) -> usize {
        self.peak
    }

    /// Starts a request if a slot is free.
    pub fn try_start(&mut self, now: Duration) -> Option<Ticket> {
        (self.in_flight < self.slots()).then(|| {
            self.in_flight += 1;
            Ticket {
                started: now,
                epoch: self.epoch,
            }
        })
    }

    /// Says how many requests wait for a slot ([`Controller::try_start`]
    /// found none free): they show that the limit is what holds the batch
    /// back.
    pub fn wait(&mut self, waiting: usize) {
        self.waiting = waiting;
    }

    /// Ends a request; returns the change of the limit it caused, if any.
    pub fn finish(&mut self, ticket: Ticket, now: Duration, signal: Signal) -> Option<Change> {
        // A request waiting for a slot takes this one at once: the slots
        // are all busy as far as the server will see, even if the worker
        // that was woken has not started it yet.
        let busy = if self.waiting > 0 {
            self.in_flight.max(self.slots())
        } else {
            self.in_flight
        };
        self.in_flight = self.in_flight.saturating_sub(1);
        if !self.auto {
            return None;
        }
        let latency = now.saturating_sub(ticket.started);
        match signal {
            Signal::Neutral => None,
            // Once per round: the requests already in flight when the
            // limit was cut say nothing new.
            Signal::Overloaded(_) | Signal::Unreachable
                if self.cut.is_some_and(|cut| ticket.started < cut) =>
            {
                None
            }
            Signal::Overloaded(status) => self.cut(now, Reason::Overloaded(status)),
            Signal::Unreachable => self.cut(now, Reason::Unreachable),
            Signal::Answered => self.answered(ticket, latency, busy, now),
        }
    }

    fn answered(
        &mut self,
        ticket: Ticket,
        latency: Duration,
        busy: usize,
        now: Duration,
    ) -> Option<Change> {
        let fastest = self.fastest.map_or(latency, |fastest| fastest.min(latency));
        self.fastest = Some(fastest);
        if self.phase == Phase::SlowStart
            && (slowdown_of(latency, fastest) > QUEUEING || latency >= self.patience)
        {
            // Requests are queueing, or answers are slow enough already:
            // from now on decide per window, on requests started from here
            // on.
            self.phase = Phase::Steady;
            self.new_window();
            self.overshot = (self.slots() > AUTO_START).then_some(now);
            return None;
        }
        if let Some(since) = self.overshot {
            return self.after_overshoot(since, latency, busy, now);
        }
        if ticket.epoch != self.epoch {
            return None;
        }
        self.window.answers += 1;
        self.window.total_latency += latency;
        self.window.total_busy += busy;
        let slots = self.slots();
        // A round of slow start needs no more answers than are sure to be
        // from requests started under its limit: the slots freed just
        // before it began were taken under the one before.
        let window = match self.phase {
            Phase::SlowStart => slots - slots / 4,
            Phase::Steady => slots,
        };
        if self.window.answers < window.max(MIN_WINDOW) {
            return None;
        }
        let answers = self.window.answers as u32;
        let mean = self.window.total_latency / answers;
        let mean_busy = self.window.total_busy as f64 / f64::from(answers);
        let slowdown = slowdown_of(mean, fastest);
        self.new_window();
        if mean > self.patience * 2 {
            let target = self.limit * self.patience.as_secs_f64() / mean.as_secs_f64();
            let reason = Reason::NearTimeout {
                latency: mean,
                timeout: self.patience * 4,
            };
            return self.set(target, now, reason);
        }
        if self.phase == Phase::SlowStart {
            // Every answer of the round as fast as the fastest (a slower one
            // ends slow start): grow while the limit holds the batch back.
            if mean_busy < 0.8 * slots as f64 {
                return None;
            }
            // No further than where answers would take a quarter of the
            // timeout, were the server already full.
            let growth = SLOW_START_GROWTH.min(self.patience.as_secs_f64() / mean.as_secs_f64());
            let reason = Reason::AsFastAsEver { latency: mean };
            return self.set(self.limit * growth, now, reason);
        }
        // Little's law: what the server serves without queueing, if the
        // fastest answer was the server unloaded.
        let capacity = mean_busy / slowdown;
        // Answers per second: the most seen is what the server has
        // sustained, so the capacity measured is never below that rate
        // times the fastest answer.
        self.sustained = self.sustained.max(mean_busy / mean.as_secs_f64());
        if slowdown > QUEUEING {
            if slots == 1 {
                // One at a time and still slow: the server itself got slower
                // (or other clients load it). Take this as its unloaded time.
                self.fastest = Some(mean);
                self.sustained = 0.0;
                return None;
            }
            // A short queue keeps every server thread busy. Never below the
            // capacity measured: answers slower without a fall of the rate
            // are queueing, but answers slower at the same limit can be the
            // server itself slowing down (drift), where fewer in flight would
            // only cost throughput.
            let target = with_margin(capacity).max(with_margin(self.measured()));
            if target.round() as usize >= slots {
                return None;
            }
            return self.set(
                target,
                now,
                Reason::Queueing {
                    latency: mean,
                    fastest,
                },
            );
        }
        if slowdown < FLAT {
            // Grow only when the limit was what held the batch back.
            if mean_busy >= 0.8 * slots as f64 && mean < self.patience {
                return self.set(
                    (self.limit * STEP).max(self.limit + 1.0),
                    now,
                    Reason::Flat {
                        latency: mean,
                        fastest,
                    },
                );
            }
        }
        None
    }

    /// The first window after slow start overshot (grew, then answers
    /// queued). A window of its own would wait for answers to requests
    /// started after it, behind all those queued by the overshoot: on a
    /// short batch against a server that queues, most of the run. A full
    /// server answers at the rate it sustains, whatever is queued, so that
    /// rate, over a quarter of the slots' answers and at least the fastest
    /// answer time, gives its capacity at once. Answers not queueing after
    /// all leave the window to go on as any other.
    fn after_overshoot(
        &mut self,
        since: Duration,
        latency: Duration,
        busy: usize,
        now: Duration,
    ) -> Option<Change> {
        self.window.answers += 1;
        self.window.total_latency += latency;
        self.window.total_busy += busy;
        let fastest = self.fastest?;
        let elapsed = now.saturating_sub(since);
        if self.window.answers < (self.slots() / 4).max(MIN_WINDOW) || elapsed < fastest {
            return None;
        }
        self.overshot = None;
        let mean = self.window.total_latency / self.window.answers as u32;
        if slowdown_of(mean, fastest) <= QUEUEING {
            return None;
        }
        self.sustained = self
            .sustained
            .max(self.window.answers as f64 / elapsed.as_secs_f64());
        self.new_window();
        let target = with_margin(self.measured());
        if target.round() as usize >= self.slots() {
            return None;
        }
        self.set(
            target,
            now,
            Reason::Queueing {
                latency: mean,
                fastest,
            },
        )
    }

    /// What the server has been seen to serve at once: the most answers per
    /// second times the fastest answer.
    fn measured(&self) -> f64 {
        self.sustained * self.fastest.map_or(0.0, |fastest| fastest.as_secs_f64())
    }

    /// Halves the limit: the server is overloaded, and what it served
    /// before is no floor any more.
    fn cut(&mut self, now: Duration, reason: Reason) -> Option<Change> {
        self.phase = Phase::Steady;
        self.overshot = None;
        self.cut = Some(now);
        self.sustained = 0.0;
        self.set(self.limit / 2.0, now, reason)
    }

    fn new_window(&mut self) {
        self.epoch += 1;
        self.window = Window::default();
    }

    /// Sets the limit; a change when the slots change.
    fn set(&mut self, limit: f64, now: Duration, reason: Reason) -> Option<Change> {
        let from = self.slots();
        self.limit = limit.clamp(1.0, self.ceiling as f64);
        let to = self.slots();
        self.peak = self.peak.max(to);
        if to == from {
            return None;
        }
        self.record_time(now, from);
        self.new_window();
        Some(Change {
            at: now,
            from,
            to,
            reason,
        })
    }

    fn record_time(&mut self, now: Duration, slots: usize) {
        self.time_at[slots] += now.saturating_sub(self.since);
        self.since = now;
    }

    /// The number of slots in force longest up to `now`: what the batch
    /// settled on.
    pub fn settled(&self, now: Duration) -> usize {
        let mut time_at = self.time_at.clone();
        time_at[self.slots()] += now.saturating_sub(self.since);
        (1..time_at.len())
            .max_by_key(|&slots| time_at[slots])
            .unwrap_or(1)
    }
}

/// A capacity plus the margin kept above it: a quarter, at least one.
fn with_margin(capacity: f64) -> f64 {
    capacity + (capacity * (STEP - 1.0)).max(1.0)
}

pub(super) fn slowdown_of(latency: Duration, fastest: Duration) -> f64 {
    latency.as_secs_f64() / fastest.as_secs_f64().max(1e-6)
}
