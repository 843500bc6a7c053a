//! Tests of `--jobs`: the controller's decisions one by one, whole batches
//! against simulated servers, and the limiter the workers share.

use super::controller::*;
use super::*;

mod controller;
mod limiter;
mod simulated;

/// --timeout's default.
const TIMEOUT: Duration = Duration::from_secs(30);

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Starts as many requests as there are free slots.
fn fill(controller: &mut Controller, now: Duration) -> Vec<Ticket> {
    std::iter::from_fn(|| controller.try_start(now)).collect()
}
