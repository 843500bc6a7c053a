//! What a registration is of, and what came of it.

use super::Registered;
use crate::error::Error;
use std::fmt;

/// One account to create: a localpart and a password, and optionally the
/// admin flag, a user type and a display name.
///
/// ```
/// use register_new_matrix_user::NewUser;
/// let user = NewUser::new("alice", "correct horse").admin(true).display_name("Alice");
/// assert!(!format!("{user:?}").contains("horse"));
/// ```
#[derive(Clone)]
pub struct NewUser<'a> {
    /// Sent exactly as given; the server lowercases it.
    pub(crate) localpart: &'a str,
    pub(crate) password: &'a str,
    pub(crate) admin: bool,
    pub(crate) user_type: Option<&'a str>,
    pub(crate) display_name: Option<&'a str>,
}

impl<'a> NewUser<'a> {
    /// A user without admin rights, user type or display name. The
    /// localpart is sent as given (Synapse lowercases it).
    pub fn new(localpart: &'a str, password: &'a str) -> Self {
        NewUser {
            localpart,
            password,
            admin: false,
            user_type: None,
            display_name: None,
        }
    }

    /// Whether the account is a server admin.
    pub fn admin(mut self, admin: bool) -> Self {
        self.admin = admin;
        self
    }

    /// The user type (Synapse knows `bot` and `support`, and those its
    /// config adds); `None` for a regular user.
    pub fn user_type(mut self, user_type: impl Into<Option<&'a str>>) -> Self {
        self.user_type = user_type.into();
        self
    }

    /// The display name; `None` lets the server use the localpart.
    pub fn display_name(mut self, display_name: impl Into<Option<&'a str>>) -> Self {
        self.display_name = display_name.into();
        self
    }
}

/// The password is left out.
impl fmt::Debug for NewUser<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("localpart", &self.localpart)
            .field("admin", &self.admin)
            .field("user_type", &self.user_type)
            .field("display_name", &self.display_name)
            .finish_non_exhaustive()
    }
}

/// The result of one registration.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// The account was created; what the server answered about it.
    Created(Registered),
    /// The server answered `200 OK`, so the account exists, but the rest of
    /// its answer is missing or unreadable; the error says what is wrong with
    /// it. The reference reports success on the status alone.
    CreatedIncomplete(Error),
    /// `M_USER_IN_USE` with [`IfExists::Succeed`](crate::IfExists::Succeed).
    AlreadyExists,
}
