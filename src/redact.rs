//! The one redaction point. A value that came from outside the program (a
//! config file, a batch cell, a URL's userinfo, a server's answer) goes
//! through here before any message repeats it: its control characters are
//! escaped, so that no value can split an `error:` line or drive the
//! terminal, and a value that may be a secret is not repeated at all. Error
//! messages name where such a value was (key or column, line) and what is
//! wrong with it, in the words of [`WITHHELD`].

/// What a message says in place of a value that may be a secret: a cell in
/// the wrong column may hold the password that belongs in the next one.
#[cfg(feature = "cli")]
pub const WITHHELD: &str = "the value is not shown: it may be a secret";

/// Control characters in text for the terminal written as escapes (`\n`,
/// `\u{1b}`): neither input nor a server may split our one `error:` line or
/// send terminal escape sequences.
pub fn escape_control_characters(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// A URL as typed, for a message: the password of its userinfo masked (the
/// whole userinfo when it has no password: a token is often given as the
/// user part, `https://TOKEN@host`), and escaped. The userinfo runs to the last `@`, wherever it is: a password
/// may hold a `/`, `?` or `#` (which end the authority for a URL parser, so
/// an invalid URL is all there is to go on), and a path with an `@` losing
/// some of its text to the mask costs nothing. A server's `Location` goes
/// through here too.
pub fn url(text: &str) -> String {
    let start = text.find("://").map_or(0, |i| i + 3);
    let masked = match text[start..].rfind('@').map(|i| start + i) {
        Some(at) => match text[start..at].find(':').map(|i| start + i) {
            Some(colon) => format!("{}***{}", &text[..=colon], &text[at..]),
            None => format!("{}***{}", &text[..start], &text[at..]),
        },
        None => text.to_owned(),
    };
    escape_control_characters(&masked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_masked_whatever_they_hold() {
        for (typed, shown) in [
            (
                "http://admin:hunter2@host:8008/x",
                "http://admin:***@host:8008/x",
            ),
            ("http://admin:hun/ter2@host", "http://admin:***@host"),
            ("http://admin:hun?ter2@host", "http://admin:***@host"),
            ("http://admin:hun#ter2@host", "http://admin:***@host"),
            ("http://admin:a@b@host", "http://admin:***@host"),
            ("https://u:p%40ss@host", "https://u:***@host"),
            ("u:p@h", "u:***@h"),
            ("http://S3cretToken@host", "http://***@host"),
            ("http://host:8008/", "http://host:8008/"),
            ("http://h\u{1b}[2J:p@x", "http://h\\u{1b}[2J:***@x"),
        ] {
            assert_eq!(url(typed), shown, "{typed}");
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control_characters("a\nb\u{1b}"), "a\\nb\\u{1b}");
        assert_eq!(escape_control_characters("é ok"), "é ok");
    }

    /// The one redaction point is the only escaping code: a message that
    /// escaped text its own way (and masked nothing) fails here.
    #[test]
    fn no_other_module_escapes_text_its_own_way() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut dirs = vec![root.clone()];
        let mut seen = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path == root.join("redact.rs") || path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                seen += 1;
                let text = std::fs::read_to_string(&path).unwrap();
                for pattern in [".escape_default(", ".escape_debug(", ".escape_unicode("] {
                    assert!(
                        !text.contains(pattern),
                        "{} escapes text itself ({pattern}): call crate::redact",
                        path.display()
                    );
                }
            }
        }
        assert!(seen > 20);
    }
}
