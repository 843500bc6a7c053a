//! Waiting for the server: backoff between retries while it cannot be
//! reached, the nonce fetched until it answers, and what a wait that ran
//! out says.

use super::answer::{Body, Stage};
use super::{Client, Failure, Request, parse_nonce};
use crate::error::{Error, Hint, Result, Setting};
use std::time::{Duration, Instant};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Exponential backoff within a deadline.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(100),
        }
    }
}

impl Backoff {
    pub(crate) fn may_retry(&self, deadline: Option<Instant>) -> bool {
        deadline.is_some_and(|d| Instant::now() < d)
    }

    /// On the runtime's timer: a blocking client's thread waits in
    /// `block_on`, an async caller's task yields.
    pub(crate) async fn sleep(&mut self, deadline: Option<Instant>) {
        let remaining = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        tokio::time::sleep(self.next.min(remaining)).await;
        self.next = (self.next * 2).min(MAX_BACKOFF);
    }
}

impl Client {
    /// Fetches a nonce, retrying while the server cannot be reached and the
    /// deadline allows.
    pub(super) async fn fetch_nonce_until(
        &self,
        deadline: Option<Instant>,
        backoff: &mut Backoff,
    ) -> Result<String> {
        loop {
            let error = match self.exchange(&Request::get(&self.endpoint)).await {
                Ok((response, _)) => match self.ok_body(response, Stage::Nonce).await {
                    Ok(Body::Complete(body)) => return parse_nonce(&body),
                    Ok(Body::Unreadable(error)) => return Err(error),
                    Err(Error::Refused(refusal)) if refusal.is_unavailable() => {
                        Error::Refused(refusal)
                    }
                    Err(error) => return Err(error),
                },
                Err(Failure::Connect(error)) => Failure::Connect(error).into_error(),
                Err(failure) => return Err(failure.into_error()),
            };
            if !backoff.may_retry(deadline) {
                return Err(self.after_waiting(error));
            }
            self.note_retry(&error);
            backoff.sleep(deadline).await;
        }
    }

    /// The last failure of a wait that ran out, saying that it waited and
    /// how long: without it, the error reads as if nothing had been tried.
    /// A 502, 503 or 504 becomes a transport error (still exit 4), as its
    /// hint to retry with a wait no longer fits.
    pub(super) fn after_waiting(&self, error: Error) -> Error {
        let Some(wait) = self.options.wait else {
            return error;
        };
        let waited = format!("gave up after waiting {} s", wait.as_secs_f64());
        match error {
            Error::Transport {
                problem,
                hint,
                source,
            } => Error::Transport {
                problem: format!("{problem}; {waited}"),
                hint,
                source,
            },
            Error::Refused(refusal) if refusal.is_unavailable() => Error::transport_with(
                format!("{}; {waited}", Error::Refused(refusal)),
                Hint::text("the server (or a proxy in front of it) did not become available: see its log, or wait longer with ")
                    .setting(Setting::Wait),
            ),
            error => error,
        }
    }

    pub(super) fn note_retry(&self, error: &Error) {
        log::info!("{error}; retrying");
    }
}

/// When a wait that starts now ends. A wait too long for the clock to
/// represent (`Duration::MAX`) is waited for a century instead.
pub(super) fn deadline_after(wait: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let now = Instant::now();
    now.checked_add(wait)
        .or_else(|| now.checked_add(CENTURY))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    #[test]
    fn any_wait_has_a_deadline_without_overflow() {
        let now = Instant::now();
        assert!(super::deadline_after(Duration::MAX) > now + Duration::from_secs(1_000_000));
        let soon = super::deadline_after(Duration::from_secs(5));
        assert!(soon >= now + Duration::from_secs(5) && soon < now + Duration::from_secs(6));
    }
}
