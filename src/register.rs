//! The one registration contract both ways of creating an account keep: the
//! shared-secret endpoint ([`Client`]) and Matrix Authentication Service's
//! admin API ([`MasClient`](crate::MasClient)).

use crate::client::{Client, NewUser, Outcome};
use crate::error::Result;

/// Creates accounts: [`Client`] through Synapse's shared-secret endpoint,
/// [`MasClient`](crate::MasClient) through MAS's admin API. The same
/// [`NewUser`] in, the same [`Outcome`] or [`Error`](crate::Error) out.
pub trait Register: Sync {
    /// Registers one user.
    fn register(&self, user: &NewUser<'_>) -> Result<Outcome> {
        self.register_announced(user, &mut || Ok(()))
    }

    /// As [`Register::register`], calling `before_sending` once what cannot
    /// create the account is done (a nonce, an access token) and before the
    /// first request that can; an error from it stops there, with nothing
    /// sent that could create the account, and is returned as it is
    /// ([`Error::Stopped`](crate::Error::Stopped) says "stopped by the
    /// caller"; a caller keeps its own reason beside it).
    fn register_announced(
        &self,
        user: &NewUser<'_>,
        before_sending: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Outcome>;
}

impl Register for Client {
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
