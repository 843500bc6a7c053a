//! Response parsing: whatever a server or a proxy in front of it answers to
//! the nonce GET and the registration POST. The first line is the HTTP
//! status in decimal, the rest the body (at most 64 KiB, as the client reads).

#![no_main]

use libfuzzer_sys::fuzz_target;
use register_new_matrix_user::__private::{
    MAX_BODY_BYTES, parse_nonce, parse_refusal, parse_registered,
};
use register_new_matrix_user::Error;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = parse_input(data) else {
        return;
    };
    let refusal = parse_refusal(status, body);
    assert_eq!(refusal.status, status);
    // What a hostile server writes ends up on the user's terminal: it must
    // stay one line, with no control characters (escape sequences).
    let mut shown = vec![
        Error::Refused(refusal.clone()).to_string(),
        refusal.error.clone().unwrap_or_default(),
        refusal.hint().map(|hint| hint.to_string()).unwrap_or_default(),
    ];
    if let Err(error) = parse_nonce(body) {
        shown.push(error.to_string());
    }
    match parse_registered(body) {
        Ok(registered) => shown.push(registered.user_id),
        Err(error) => shown.push(error.to_string()),
    }
    for line in shown {
        assert!(!line.chars().any(char::is_control), "{line:?}");
    }
});

fn parse_input(data: &[u8]) -> Option<(u16, &[u8])> {
    let newline = data.iter().position(|&b| b == b'\n')?;
    let status = std::str::from_utf8(&data[..newline]).ok()?.parse().ok()?;
    let body = &data[newline + 1..];
    (body.len() as u64 <= MAX_BODY_BYTES).then_some((status, body))
}
