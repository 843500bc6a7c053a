//! MAS's password rule, checked before anything is sent.

/// MAS's default `passwords.minimum_complexity`.
pub const DEFAULT_MINIMUM_COMPLEXITY: u8 = 3;

/// Checks a password as MAS will, with the same estimator (zxcvbn, no user
/// inputs): `None` when it is strong enough, else what is wrong with it.
pub fn password_too_weak(password: &str, minimum_complexity: u8) -> Option<String> {
    let estimate = zxcvbn::zxcvbn(password, &[]);
    let score = u8::from(estimate.score());
    if score >= minimum_complexity {
        return None;
    }
    let mut problem = format!(
        "is too weak for Matrix Authentication Service (zxcvbn score {score} of 4; its passwords.minimum_complexity is {minimum_complexity})"
    );
    if let Some(warning) = estimate.feedback().and_then(|f| f.warning()) {
        problem.push_str(&format!(": {warning}"));
    }
    Some(problem)
}
