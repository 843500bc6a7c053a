//! How many registrations a batch keeps in flight: a fixed `--jobs N`, or
//! `--jobs auto`, which finds the server's capacity as it goes.
//!
//! The server's cost is hashing the password, done in a pool of threads: up
//! to its capacity, one more request in flight adds throughput and leaves
//! the answer time as it was; past it, requests queue, and answer times grow
//! as fast as the requests in flight, with no more throughput (Little's law).
//! So the controller watches answer times against the fastest seen (the
//! server unloaded) and:
//!
//! - starts at [`AUTO_START`] and, while answers come back as fast as ever
//!   with every slot in use, adds seven slots per answer (eight times as
//!   many once per answer time: TCP's slow start, faster);
//! - then decides once per window (as many answers as slots, at least 4, all
//!   from requests started under the current limit): up by a quarter (at
//!   least one) while answer times stay within 15% of the fastest and every
//!   slot is in use; down, when they have grown by more than half, to what
//!   the server serves without queueing (requests in flight × fastest ÷
//!   answer time) plus a quarter (at least one), in one step: the window's
//!   requests all started with the queue as long, so its answer time is the
//!   queue's;
//! - never cuts below the capacity it has measured (the most answers per
//!   second a window had, times the fastest answer) plus that margin: answers
//!   that grow slower at the same rate are requests queueing, but answers
//!   that grow slower while the rate falls are the server itself slowing down
//!   (drift), where fewer in flight would only cost throughput;
//! - grows up to [`AUTO_CEILING`] (256) in flight, as far as the server
//!   sustains;
//! - keeps answer times well within `--timeout`: no more in flight once
//!   answers take a quarter of it, and down to where they would take a
//!   quarter once a window's take half;
//! - halves on an answer that says the server is overloaded (429, 502, 503,
//!   504) or a request that could not reach it or timed out, but not again
//!   for requests that were already in flight then, and forgets the capacity
//!   measured (these, and answers near `--timeout`, are the only cuts below
//!   it);
//! - one at a time and still slow, takes that as the server's new unloaded
//!   answer time (it got slower, or other clients load it).
//!
//! Everything here is driven by times passed in by the caller ([`Controller`]
//! never reads a clock), so that its decisions can be tested without
//! sleeping; [`Limiter`] puts it behind a lock for the batch's workers.
//!
//! `controller` holds the decisions, `limiter` the lock and the clock.

mod controller;
mod limiter;
#[cfg(test)]
mod tests;

pub use controller::Controller;
pub use limiter::Limiter;

use std::fmt;
use std::time::Duration;

/// `--jobs`: a fixed number, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jobs {
    Fixed(u16),
    Auto,
}

impl fmt::Display for Jobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jobs::Fixed(n) => write!(f, "{n}"),
            Jobs::Auto => f.write_str("auto"),
        }
    }
}

/// What one finished request says about the server's load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A registration went through: its answer time counts.
    Answered,
    /// Says nothing about the load (an existing user, a refusal): an
    /// `M_USER_IN_USE` answer, for one, comes before any hashing.
    Neutral,
    /// The server answered this status (429, 502, 503, 504).
    Overloaded(u16),
    /// The request could not reach the server, or timed out.
    Unreachable,
}

/// One request in flight: when it started, under which limit.
#[derive(Debug, Clone, Copy)]
pub struct Ticket {
    started: Duration,
    /// The limit's generation when the request started: answers to requests
    /// started before a change say nothing about the new limit.
    epoch: u64,
}

/// A change of the limit, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Since the batch started.
    pub at: Duration,
    pub from: usize,
    pub to: usize,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// Slow start: the answer came as fast as the fastest.
    AsFastAsEver {
        latency: Duration,
    },
    /// A window's answer times stayed flat with every slot in use.
    Flat {
        latency: Duration,
        fastest: Duration,
    },
    /// A window's answer times grew without more throughput.
    Queueing {
        latency: Duration,
        fastest: Duration,
    },
    /// A window's answer times took more than half the request timeout.
    NearTimeout {
        latency: Duration,
        timeout: Duration,
    },
    Overloaded(u16),
    Unreachable,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "concurrency {} -> {} at {:.2} s: ",
            self.from,
            self.to,
            self.at.as_secs_f64()
        )?;
        let secs = |d: &Duration| d.as_secs_f64();
        match &self.reason {
            Reason::AsFastAsEver { latency } => write!(
                f,
                "answers come back as fast as ever ({:.3} s): more in flight still adds throughput",
                secs(latency)
            ),
            Reason::Flat { latency, fastest } => write!(
                f,
                "answer times stay flat ({:.3} s, fastest {:.3} s): more in flight still adds throughput",
                secs(latency),
                secs(fastest)
            ),
            Reason::Queueing { latency, fastest } => write!(
                f,
                "answer times grew to {:.1}x the fastest ({:.3} s vs {:.3} s) without more throughput: requests are queueing",
                secs(latency) / secs(fastest),
                secs(latency),
                secs(fastest)
            ),
            Reason::NearTimeout { latency, timeout } => write!(
                f,
                "answers take {:.1} s, more than half of --timeout ({:.0} s)",
                secs(latency),
                secs(timeout)
            ),
            Reason::Overloaded(status) => {
                write!(f, "the server answered {status}: it is overloaded")
            }
            Reason::Unreachable => f.write_str("a request failed or timed out"),
        }
    }
}
