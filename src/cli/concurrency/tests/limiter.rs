//! The limiter: workers wait for a free slot.

use super::*;

#[test]
fn the_limiter_makes_workers_wait_for_a_free_slot() {
    let limiter = std::sync::Arc::new(Limiter::new(Jobs::Fixed(2), TIMEOUT));
    let (a, b) = (limiter.acquire(), limiter.acquire());
    let (sender, receiver) = std::sync::mpsc::channel();
    let waiting = std::sync::Arc::clone(&limiter);
    let third = std::thread::spawn(move || {
        let ticket = waiting.acquire();
        sender.send(()).unwrap();
        waiting.release(ticket, Signal::Answered);
    });
    assert!(
        receiver.recv_timeout(ms(100)).is_err(),
        "both slots are taken"
    );
    limiter.release(a, Signal::Answered);
    receiver.recv().unwrap();
    third.join().unwrap();
    limiter.release(b, Signal::Answered);
    assert_eq!(
        (
            limiter.slots(),
            limiter.ceiling(),
            limiter.settled(),
            limiter.peak()
        ),
        (2, 2, 2, 2)
    );
}
