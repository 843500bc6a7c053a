//! The one registration contract both ways of creating an account keep, as
//! the blocking clients offer it: the shared-secret endpoint
//! ([`blocking::Client`]) and Matrix Authentication Service's admin API
//! ([`blocking::MasClient`](crate::blocking::MasClient)). The async clients
//! have the same methods, `async`.

use crate::client::blocking;
use crate::client::{NewUser, Outcome};
use crate::error::Result;

/// Creates accounts, blocking: [`blocking::Client`] through Synapse's
/// shared-secret endpoint, [`blocking::MasClient`](crate::blocking::MasClient)
/// through MAS's admin API. The same [`NewUser`] in, the same [`Outcome`]
/// or [`Error`](crate::Error) out.
///
/// # Panics
///
/// Inside an async runtime, as the blocking clients do: use the async
/// [`Client`](crate::Client) or [`MasClient`](crate::MasClient) there.
pub trait Register: Sync {
    /// Registers one user.
    ///
    /// # Errors
    ///
    /// A refusal, a failure to reach the server; when the error
    /// [`is_unconfirmed`](crate::Error::is_unconfirmed), the account may exist.
    fn register(&self, user: &NewUser<'_>) -> Result<Outcome> {
        self.register_announced(user, &mut || Ok(()))
    }

    /// As [`Register::register`], calling `before_sending` once what cannot
    /// create the account is done (a nonce, an access token) and before the
    /// first request that can; an error from it stops there, with nothing
    /// sent that could create the account, and is returned as it is
    /// ([`Error::Stopped`](crate::Error::Stopped) says "stopped by the
    /// caller"; a caller keeps its own reason beside it).
    ///
    /// # Errors
    ///
    /// As [`Register::register`], and `before_sending`'s own.
    fn register_announced(
        &self,
        user: &NewUser<'_>,
        before_sending: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Outcome>;
}

impl Register for blocking::Client {
    fn register_announced(
        &self,
        user: &NewUser<'_>,
        before_sending: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Outcome> {
        let prepared = self.prepare(user)?;
        before_sending()?;
        prepared.send()
    }
}
