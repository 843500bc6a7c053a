//! The blocking MAS client: the async [`MasClient`](super::MasClient) driven
//! on a runtime of its own, as [`blocking::Client`](crate::blocking::Client) is.

use super::MasClientBuilder;
use crate::client::blocking::Runtime;
use crate::client::{NewUser, Outcome};
use crate::error::Result;
use crate::register::Register;
use std::sync::Arc;

/// A blocking client for Matrix Authentication Service's admin API: the
/// async [`MasClient`](crate::MasClient)'s steps, driven on a runtime of its
/// own. Cheap to share between threads; the admin token is shared, and
/// renewed before it expires. Built with
/// [`MasClientBuilder::build_blocking`]; registers through [`Register`].
///
/// # Panics
///
/// Each method that sends panics, with this crate's message, when called
/// inside an async runtime, as [`blocking::Client`](crate::blocking::Client)'s
/// do: use the async [`MasClient`](crate::MasClient) there.
#[derive(Debug)]
pub struct MasClient {
    inner: super::MasClient,
    runtime: Arc<Runtime>,
}

impl MasClientBuilder {
    /// As [`build`](MasClientBuilder::build), for a
    /// [`blocking::MasClient`](MasClient).
    ///
    /// # Errors
    ///
    /// As [`build`](MasClientBuilder::build), and when the client's runtime
    /// cannot be set up.
    pub fn build_blocking(self) -> Result<MasClient> {
        Ok(MasClient {
            inner: self.build()?,
            runtime: Runtime::new()?,
        })
    }
}

impl MasClient {
    /// The homeserver's name, as [`crate::MasClient::server_name`].
    ///
    /// # Errors
    ///
    /// As [`crate::MasClient::server_name`].
    ///
    /// # Panics
    ///
    /// Inside an async runtime: see [`MasClient`].
    pub fn server_name(&self) -> Result<String> {
        self.runtime.block_on(self.inner.server_name())
    }
}

impl Register for MasClient {
    fn register_announced(
        &self,
        user: &NewUser<'_>,
        before_sending: &mut dyn FnMut() -> Result<()>,
    ) -> Result<Outcome> {
        self.runtime
            .block_on(self.inner.register_announced(user, before_sending))
    }
}
