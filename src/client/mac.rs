//! The message authentication code that proves knowledge of the shared
//! secret without sending it.

use super::NewUser;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The MAC a registration of `user` carries with the server's `nonce`:
/// lower-case hex HMAC-SHA1 keyed with the shared secret over
/// `nonce NUL localpart NUL password NUL admin|notadmin [NUL user_type]`.
/// The user type is included only when set and non-empty, as the server
/// expects. [`Client`](crate::Client) computes it itself; this is for a
/// program that checks one, such as a test server.
///
/// ```
/// use register_new_matrix_user::{NewUser, registration_mac};
/// let user = NewUser::new("alice", "wonderland");
/// assert_eq!(
///     registration_mac(&user, "s3cret", "abc"),
///     "0990086676491b864c4f49a565ffd176dad1c36f"
/// );
/// ```
pub fn registration_mac(user: &NewUser<'_>, shared_secret: &str, nonce: &str) -> String {
    let NewUser {
        localpart: username,
        password,
        admin,
        user_type,
        ..
    } = *user;
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
        let alice = NewUser::new("alice", "wonderland");
        assert_eq!(
            registration_mac(&alice, "s3cret", "abc"),
            "0990086676491b864c4f49a565ffd176dad1c36f"
        );
        assert_eq!(
            registration_mac(&alice.clone().admin(true), "s3cret", "abc"),
            "3d40a70151a228464dd58940bf2e0d6bd2555bab"
        );
        let bot = NewUser::new("bot1", "pw").user_type("bot");
        assert_eq!(
            registration_mac(&bot, "s3cret", "abc"),
            "3434baa5f202b3ca856387c3dae7d29d38d8812c"
        );
        let pupil = NewUser::new("élève", "päss").admin(true);
        assert_eq!(
            registration_mac(&pupil, "sécret", "n"),
            "f56904da3eabc2c850ca92f8ce9bb86e0e5f3530"
        );
    }

    #[test]
    fn empty_user_type_is_left_out() {
        let alice = NewUser::new("alice", "wonderland");
        assert_eq!(
            registration_mac(&alice.clone().user_type(""), "s3cret", "abc"),
            registration_mac(&alice, "s3cret", "abc")
        );
    }

    #[test]
    fn the_display_name_is_not_signed() {
        let alice = NewUser::new("alice", "wonderland");
        assert_eq!(
            registration_mac(&alice.clone().display_name("Alice"), "s3cret", "abc"),
            registration_mac(&alice, "s3cret", "abc")
        );
    }
}
