//! The message authentication code that proves knowledge of the shared
//! secret without sending it.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Lower-case hex HMAC-SHA1 keyed with the shared secret over
/// `nonce NUL username NUL password NUL admin|notadmin [NUL user_type]`.
/// The user type is included only when set and non-empty, as the server
/// expects.
pub fn registration_mac(
    shared_secret: &str,
    nonce: &str,
    username: &str,
    password: &str,
    admin: bool,
    user_type: Option<&str>,
) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha1>::new_from_slice(shared_secret.as_bytes())
        .expect("HMAC takes keys of any length");
    let admin_word: &[u8] = if admin { b"admin" } else { b"notadmin" };
    let mut parts: Vec<&[u8]> = vec![
        nonce.as_bytes(),
        username.as_bytes(),
        password.as_bytes(),
        admin_word,
    ];
    if let Some(user_type) = user_type.filter(|t| !t.is_empty()) {
        parts.push(user_type.as_bytes());
    }
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(b"\0");
        }
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors computed independently with:
    //   printf 'abc\0alice\0wonderland\0notadmin' | openssl sha1 -hmac s3cret
    //   printf 'abc\0alice\0wonderland\0admin' | openssl sha1 -hmac s3cret
    //   printf 'abc\0bot1\0pw\0notadmin\0bot' | openssl sha1 -hmac s3cret
    //   printf 'n\0\xc3\xa9l\xc3\xa8ve\0p\xc3\xa4ss\0admin' | openssl sha1 -hmac 'sécret'
    #[test]
    fn matches_openssl_vectors() {
        assert_eq!(
            registration_mac("s3cret", "abc", "alice", "wonderland", false, None),
            "0990086676491b864c4f49a565ffd176dad1c36f"
        );
        assert_eq!(
            registration_mac("s3cret", "abc", "alice", "wonderland", true, None),
            "3d40a70151a228464dd58940bf2e0d6bd2555bab"
        );
        assert_eq!(
            registration_mac("s3cret", "abc", "bot1", "pw", false, Some("bot")),
            "3434baa5f202b3ca856387c3dae7d29d38d8812c"
        );
        assert_eq!(
            registration_mac("sécret", "n", "élève", "päss", true, None),
            "f56904da3eabc2c850ca92f8ce9bb86e0e5f3530"
        );
    }

    #[test]
    fn empty_user_type_is_left_out() {
        assert_eq!(
            registration_mac("s3cret", "abc", "alice", "wonderland", false, Some("")),
            registration_mac("s3cret", "abc", "alice", "wonderland", false, None)
        );
    }
}
