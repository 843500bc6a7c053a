//! A [`Controller`] behind a lock, on the wall clock, for the batch's workers.

use super::{Controller, Jobs, Signal, Ticket};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A [`Controller`] shared by the batch's workers, on the wall clock.
pub struct Limiter {
    controller: Mutex<Controller>,
    freed: Condvar,
    started: Instant,
}

impl Limiter {
    pub fn new(jobs: Jobs, timeout: Duration) -> Limiter {
        Limiter {
            controller: Mutex::new(Controller::new(jobs, timeout)),
            freed: Condvar::new(),
            started: Instant::now(),
        }
    }

    /// Waits for a free slot.
    pub fn acquire(&self) -> Ticket {
        let mut controller = self.lock();
        loop {
            if let Some(ticket) = controller.try_start(self.started.elapsed()) {
                return ticket;
            }
            let waiting = controller.waiting;
            controller.wait(waiting + 1);
            controller = self
                .freed
                .wait(controller)
                .unwrap_or_else(PoisonError::into_inner);
            let waiting = controller.waiting;
            controller.wait(waiting - 1);
        }
    }

    /// Frees a slot, telling the controller how the request went.
    pub fn release(&self, ticket: Ticket, signal: Signal) {
        let change = self.lock().finish(ticket, self.started.elapsed(), signal);
        // One slot freed wakes one worker: with up to 256 waiting, waking
        // them all for each answer costs the client more CPU than the
        // requests. A higher limit frees many at once.
        match &change {
            Some(change) if change.to > change.from => self.freed.notify_all(),
            _ => self.freed.notify_one(),
        }
        // `-v` shows each change of the limit and why.
        if let Some(change) = change {
            log::info!("{change}");
        }
    }

    pub fn slots(&self) -> usize {
        self.lock().slots()
    }

    pub fn ceiling(&self) -> usize {
        self.lock().ceiling()
    }

    pub fn peak(&self) -> usize {
        self.lock().peak()
    }

    pub fn settled(&self) -> usize {
        self.lock().settled(self.started.elapsed())
    }

    fn lock(&self) -> MutexGuard<'_, Controller> {
        self.controller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
