//! The `--jobs auto` controller: the limit on requests in flight, decided
//! from answer times passed in by the caller.

use super::{Change, Jobs, Reason, Signal, Ticket};
use std::time::Duration;

/// Where `--jobs auto` starts. Starting lower costs a server with many
/// cores whole answer times of ramping up (1,000 rows take 16 answer times
/// at 64 at once); starting higher only queues a little at a small one.
pub const AUTO_START: usize = 8;
/// The most registrations `--jobs auto` keeps in flight.
pub const AUTO_CEILING: usize = 64;
/// Slots added per answer in slow start: eight times as many per answer
/// time, so that a server of 64 cores is full after one answer time (1,000
/// rows take 16 answer times at 64 at once: every one spent ramping up
/// costs 6%). The overshoot on a small server is seen one answer time later
/// and costs it nothing but answer time while it lasts: its hashing threads
/// are busy either way.
pub(super) const SLOW_START_GAIN: f64 = 7.0;
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
    /// The fewest requests in flight when an answer came as fast as the
    /// fastest (within [`FLAT`]): the server serves at least this many at once.
    fastest_busy: usize,
    epoch: u64,
    window: Window,
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
            fastest_busy: usize::MAX,
            epoch: 0,
            window: Window::default(),
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
        if latency <= fastest.mul_f64(FLAT) {
            self.fastest_busy = self.fastest_busy.min(busy);
        }
        if self.phase == Phase::SlowStart {
            if slowdown_of(latency, fastest) > QUEUEING || latency >= self.patience {
                // Requests are queueing, or answers are slow enough already:
                // from now on decide per window, on requests started from
                // here on.
                self.phase = Phase::Steady;
                self.new_window();
                return None;
            }
            if busy >= self.slots() {
                return self.set(
                    self.limit + SLOW_START_GAIN,
                    now,
                    Reason::AsFastAsEver { latency },
                );
            }
            return None;
        }
        if ticket.epoch != self.epoch {
            return None;
        }
        self.window.answers += 1;
        self.window.total_latency += latency;
        self.window.total_busy += busy;
        let slots = self.slots();
        if self.window.answers < slots.max(MIN_WINDOW) {
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
        // Little's law: what the server serves without queueing, if the
        // fastest answer was the server unloaded.
        let capacity = mean_busy / slowdown;
        if slowdown >= FLAT
            && slots > 1
            && self.fastest_busy > 1
            && self.fastest_busy as f64 >= capacity
        {
            // The fastest answer came with this many or more in flight: the
            // server may have been queueing already (threads sharing its
            // cores all slow down together), so its capacity may be lower
            // still. Measure with fewer.
            let reason = Reason::Probing {
                latency: mean,
                fastest,
                busy: self.fastest_busy,
            };
            // Not below two, where a server with two cores would idle.
            return self.set((capacity / 2.0).max(2.0), now, reason);
        }
        if slowdown > QUEUEING {
            if slots == 1 {
                // One at a time and still slow: the server itself got slower
                // (or other clients load it). Take this as its unloaded time.
                self.fastest = Some(mean);
                self.fastest_busy = 1;
                return None;
            }
            // A short queue keeps every server thread busy.
            let target = capacity + (capacity * (STEP - 1.0)).max(1.0);
            let target = target.max(self.limit / 2.0);
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
            // As fast as the fastest with this many in flight: the server
            // serves at least this many at once.
            self.fastest_busy = self.fastest_busy.min(mean_busy.round() as usize);
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

    /// Halves the limit: the server is overloaded.
    fn cut(&mut self, now: Duration, reason: Reason) -> Option<Change> {
        self.phase = Phase::Steady;
        self.cut = Some(now);
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

pub(super) fn slowdown_of(latency: Duration, fastest: Duration) -> f64 {
    latency.as_secs_f64() / fastest.as_secs_f64().max(1e-6)
}
