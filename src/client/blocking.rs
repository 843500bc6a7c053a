//! The blocking client: the async [`Client`](super::Client) driven on a
//! runtime the blocking client owns, so that the protocol is written once.

use super::{ClientBuilder, NewUser, Outcome};
use crate::error::{Error, Result};
use std::future::Future;
use std::sync::Arc;

/// What a blocking call inside an async runtime says, naming the fix.
const INSIDE_RUNTIME: &str = "register_new_matrix_user: a blocking client was called from inside an async (tokio) runtime, whose thread it would block: use the async register_new_matrix_user::Client (or MasClient) there, or call the blocking one from a thread of your own";

/// A current-thread tokio runtime, owned by a blocking client and its
/// clones, on which each call is driven with `block_on` from the caller's
/// thread. No thread is started for it; several threads sharing the client
/// each drive their own call, one of them the I/O for all at a time. (A
/// multi-thread runtime's worker would take every request across threads:
/// more CPU per user for a single registration or `--jobs 1`.)
#[derive(Debug)]
pub(crate) struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    pub(crate) fn new() -> Result<Arc<Runtime>> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|runtime| Arc::new(Runtime(Some(runtime))))
            .map_err(|e| Error::transport(format!("cannot start the HTTP runtime: {e}"), None))
    }

    /// Runs `future` to its end on this thread.
    ///
    /// # Panics
    ///
    /// Inside an async runtime's context (a task, `block_on`, or
    /// `spawn_blocking`), with this crate's message, before tokio's
    /// own "Cannot start a runtime from within a runtime" could.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        if tokio::runtime::Handle::try_current().is_ok() {
            panic!("{INSIDE_RUNTIME}");
        }
        match &self.0 {
            Some(runtime) => runtime.block_on(future),
            None => unreachable!("the runtime is taken only when dropped"),
        }
    }
}

/// Without waiting for the runtime's blocking threads (a name being looked
/// up): a wait would block, and tokio refuses it with a panic when the last
/// clone of a client is dropped inside an async runtime.
impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A blocking client for one server's registration endpoint, for scripts,
/// threads and the command line: the async [`Client`](crate::Client)'s
/// protocol, driven on a runtime of its own (no thread is started for it).
/// Cheap to clone and to share between threads: connections are pooled
/// and kept alive. Built with [`ClientBuilder::build_blocking`].
///
/// # Panics
///
/// Each method that sends panics, with this crate's message, when called
/// inside an async runtime (a tokio task, `block_on` or `spawn_blocking`),
/// where it would block the runtime's thread: use the async
/// [`Client`](crate::Client) there. Building and dropping one inside a
/// runtime is fine.
#[derive(Debug, Clone)]
pub struct Client {
    inner: super::Client,
    runtime: Arc<Runtime>,
}

/// A registration ready to send, from [`Client::prepare`]: as
/// [`crate::Prepared`], sent with [`Prepared::send`].
#[derive(Debug)]
pub struct Prepared<'a> {
    inner: super::Prepared<'a>,
    runtime: &'a Runtime,
}

impl ClientBuilder {
    /// As [`build`](ClientBuilder::build), for a [`blocking::Client`](Client).
    ///
    /// # Errors
    ///
    /// As [`build`](ClientBuilder::build), and when the client's runtime
    /// cannot be set up (the system refuses its event queue).
    pub fn build_blocking(self) -> Result<Client> {
        Client::wrap(self.build()?)
    }
}

impl Client {
    /// The async client, driven on a runtime of the blocking client's own.
    fn wrap(inner: super::Client) -> Result<Client> {
        Ok(Client {
            inner,
            runtime: Runtime::new()?,
        })
    }

    /// The registration endpoint's URL.
    pub fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    /// Registers one user: fetches a nonce, computes the MAC and posts
    /// ([`Client::prepare`] and [`Prepared::send`] in one step).
    ///
    /// # Errors
    ///
    /// As [`crate::Client::register`].
    ///
    /// # Panics
    ///
    /// Inside an async runtime: see [`Client`].
    pub fn register(&self, user: &NewUser<'_>) -> Result<Outcome> {
        self.runtime.block_on(self.inner.register(user))
    }

    /// The first step of a registration, as [`crate::Client::prepare`]:
    /// fetches a nonce; nothing that could create the account is sent.
    ///
    /// # Errors
    ///
    /// As [`crate::Client::prepare`].
    ///
    /// # Panics
    ///
    /// Inside an async runtime: see [`Client`].
    pub fn prepare<'a>(&'a self, user: &'a NewUser<'a>) -> Result<Prepared<'a>> {
        let inner = self.runtime.block_on(self.inner.prepare(user))?;
        Ok(Prepared {
            inner,
            runtime: &self.runtime,
        })
    }

    /// [`crate::Client::get_json`], for the delegation probe.
    #[cfg(feature = "cli")]
    pub(crate) fn get_json(&self, path: &str) -> Option<(u16, serde_json::Value)> {
        self.runtime.block_on(self.inner.get_json(path))
    }
}

impl Prepared<'_> {
    /// Posts the registration, as [`crate::Prepared::send`].
    ///
    /// # Errors
    ///
    /// As [`crate::Prepared::send`]: when the error
    /// [`is_unconfirmed`](Error::is_unconfirmed), the account may exist.
    ///
    /// # Panics
    ///
    /// Inside an async runtime: see [`Client`].
    pub fn send(self) -> Result<Outcome> {
        self.runtime.block_on(self.inner.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        crate::Client::builder("http://127.0.0.1:9/")
            .shared_secret("s")
            .build_blocking()
            .unwrap()
    }

    fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    }

    /// The endpoint the blocking client says is the one it posts to: the
    /// server URL's registration path, as the async client's.
    #[test]
    fn the_endpoint_is_the_registration_url() {
        assert_eq!(
            client().endpoint(),
            "http://127.0.0.1:9/_synapse/admin/v1/register"
        );
    }

    /// Built, used and dropped inside a runtime, as a newcomer might: this
    /// crate's message naming the async client, never tokio's panics.
    #[test]
    fn a_blocking_client_inside_a_runtime_says_to_use_the_async_one() {
        for multi_thread in [false, true] {
            let runtime = match multi_thread {
                true => tokio::runtime::Builder::new_multi_thread(),
                false => tokio::runtime::Builder::new_current_thread(),
            }
            .enable_all()
            .build()
            .unwrap();
            let text = runtime.block_on(async {
                let client = client();
                let user = NewUser::new("alice", "pw");
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    client.register(&user)
                }));
                // Dropped here, inside the runtime: no panic either.
                drop(client);
                panic_text(caught.unwrap_err())
            });
            assert_eq!(text, INSIDE_RUNTIME);
            assert!(text.contains("use the async register_new_matrix_user::Client"));
        }
    }
}
