//! Generated passwords.

use crate::cli::error::{Error, Result};
use crate::secret::SecretString;

/// Long enough to resist guessing (24 × log2(62) ≈ 143 bits) and short
/// enough to type.
pub const GENERATED_LENGTH: usize = 24;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A random password from the OS's secure generator, letters and digits only
/// so that it survives shells, CSV files and copy-paste.
pub fn generate() -> Result<SecretString> {
    let mut password = String::with_capacity(GENERATED_LENGTH);
    let mut bytes = zeroize::Zeroizing::new([0u8; 64]);
    // 62 does not divide 256: bytes of 248 and above are dropped so that
    // every character is equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    while password.len() < GENERATED_LENGTH {
        getrandom::fill(bytes.as_mut()).map_err(|e| {
            Error::input(
                "--generate-password",
                format!("the OS's random generator failed: {e}"),
            )
        })?;
        password.extend(
            bytes
                .iter()
                .filter(|&&b| (b as usize) < limit)
                .map(|&b| ALPHABET[b as usize % ALPHABET.len()] as char)
                .take(GENERATED_LENGTH - password.len()),
        );
    }
    Ok(SecretString::new(password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_are_long_random_and_alphanumeric() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.expose().len(), GENERATED_LENGTH);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
