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

/// The largest buffer an entry is looked up with.
const MAX_BUFFER: usize = 1 << 20;

/// Runs one of the `get*id_r` functions, which fill in `Entry` with
/// strings kept in the buffer given, and copies out the name `name` points
/// at while the buffer lives; `None` when the id has no entry, or the call
/// fails.
fn lookup<Entry>(
    mut call: impl FnMut(*mut Entry, &mut [c_char], *mut *mut Entry) -> c_int,
    name: impl FnOnce(&Entry) -> *const c_char,
) -> Option<CString> {
    let mut entry = MaybeUninit::<Entry>::zeroed();
    let mut buffer = vec![0 as c_char; 4096];
    let mut found: *mut Entry = std::ptr::null_mut();
    loop {
        match call(entry.as_mut_ptr(), &mut buffer, &mut found) {
            0 => break,
            // The entry does not fit (a group with thousands of members):
            // again with a larger buffer, up to a bound.
            libc::ERANGE if buffer.len() < MAX_BUFFER => buffer.resize(buffer.len() * 2, 0),
            _ => return None,
        }
    }
    if found.is_null() {
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

    /// An entry larger than the first buffer (a group with thousands of
    /// members): the call answers ERANGE, and the name is still found.
    #[test]
    fn an_entry_larger_than_the_buffer_is_found() {
        let needed = 100_000;
        let name = lookup(
            |entry: *mut libc::group, buffer: &mut [c_char], found| {
                if buffer.len() < needed {
                    return libc::ERANGE;
                }
                for (slot, byte) in buffer.iter_mut().zip(b"big-group\0") {
                    *slot = *byte as c_char;
                }
                // SAFETY: `entry` and `found` point at the lookup's own
                // entry and result, valid for writes.
                unsafe {
                    (*entry).gr_name = buffer.as_mut_ptr();
                    *found = entry;
                }
                0
            },
            |entry| entry.gr_name,
        );
        assert_eq!(name.as_deref(), Some(c"big-group"));
    }
}
