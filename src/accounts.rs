//! The names the system's account databases give a user or a group id
//! (`getpwuid_r`, `getgrgid_r`): the login name a prompt offers, the owner
//! an error about a socket names.

use std::ffi::{CStr, CString, c_char, c_int};
use std::mem::MaybeUninit;

/// The name of the user `uid` in the password database.
pub(crate) fn user_name(uid: u32) -> Option<CString> {
    lookup(
        |entry: *mut libc::passwd, buffer: &mut [c_char], found| {
            // SAFETY: every pointer is valid for the call and the buffer's
            // length is the one passed.
            unsafe { libc::getpwuid_r(uid, entry, buffer.as_mut_ptr(), buffer.len(), found) }
        },
        |entry| entry.pw_name,
    )
}

/// The name of the group `gid` in the group database.
pub(crate) fn group_name(gid: u32) -> Option<CString> {
    lookup(
        |entry: *mut libc::group, buffer: &mut [c_char], found| {
            // SAFETY: as in `user_name`.
            unsafe { libc::getgrgid_r(gid, entry, buffer.as_mut_ptr(), buffer.len(), found) }
        },
        |entry| entry.gr_name,
    )
}

/// Runs one of the `get*id_r` functions, which fill in `Entry` with
/// strings kept in the buffer given, and copies out the name `name` points
/// at while the buffer lives; `None` when the id has no entry, or the call
/// fails.
fn lookup<Entry>(
    call: impl FnOnce(*mut Entry, &mut [c_char], *mut *mut Entry) -> c_int,
    name: impl FnOnce(&Entry) -> *const c_char,
) -> Option<CString> {
    let mut entry = MaybeUninit::<Entry>::zeroed();
    let mut buffer = vec![0 as c_char; 4096];
    let mut found: *mut Entry = std::ptr::null_mut();
    if call(entry.as_mut_ptr(), &mut buffer, &mut found) != 0 || found.is_null() {
        return None;
    }
    // SAFETY: on success the call filled in the entry and set `found` to it.
    let name = name(unsafe { entry.assume_init_ref() });
    if name.is_null() {
        return None;
    }
    // SAFETY: a name set by the call is a C string in `buffer`, alive here.
    Some(unsafe { CStr::from_ptr(name) }.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Root is user and group 0 on every Unix this runs on; an id no one
    /// has has no name.
    #[test]
    fn names_come_from_the_databases() {
        assert_eq!(user_name(0).as_deref(), Some(c"root"));
        assert!(group_name(0).is_some_and(|name| !name.is_empty()));
        assert_eq!(user_name(u32::MAX - 1), None);
        assert_eq!(group_name(u32::MAX - 1), None);
    }
}
