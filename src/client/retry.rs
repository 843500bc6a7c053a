//! Backoff between retries while the server cannot be reached.

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
