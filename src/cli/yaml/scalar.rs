//! What a scalar means: PyYAML's YAML 1.1 resolution of plain scalars by
//! their text (`yes` is true, `010` is octal, `1:30` is base 60), and the
//! values its safe constructors build from them. Problems are worded
//! without the scalar's text: it may be a secret.

use super::value::{Int, Value};

pub(super) const CORE: &str = "tag:yaml.org,2002:";

/// What a scalar is, once its tag is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Timestamp,
    Binary,
    /// A plain `<<`: a merge key in a mapping, refused anywhere else.
    Merge,
    /// A plain `=`: a string as a key, refused anywhere else.
    Equals,
}

/// The kind of a scalar with this tag (as the event gives it, expanded),
/// `plain` when it was written without quotes; `Err` names the problem.
pub(super) fn kind(text: &str, plain: bool, tag: Option<&str>) -> Result<Kind, String> {
    Ok(match tag {
        None if plain => implicit_kind(text),
        None => Kind::Str,
        // PyYAML resolves a `!` scalar by its text, quoted or not.
        Some("!") => implicit_kind(text),
        Some(tag) => match tag.strip_prefix(CORE) {
            Some("null") => Kind::Null,
            Some("bool") => Kind::Bool,
            Some("int") => Kind::Int,
            Some("float") => Kind::Float,
            Some("str") => Kind::Str,
            Some("timestamp") => Kind::Timestamp,
            Some("binary") => Kind::Binary,
            Some("merge") => Kind::Merge,
            Some("value") => Kind::Equals,
            Some("seq" | "omap" | "pairs") => {
                return Err("is tagged as a list but is a single value".to_owned());
            }
            Some("map" | "set") => {
                return Err("is tagged as a mapping but is a single value".to_owned());
            }
            _ => return Err(unknown_tag(tag)),
        },
    })
}

pub(super) fn unknown_tag(tag: &str) -> String {
    format!(
        "has the tag '{}', which the server's loader cannot read",
        tag.replace(CORE, "!!")
    )
}

/// The value PyYAML's constructor builds for a scalar of this kind; `Err` is
/// what is wrong with it, as Synapse would fail to start on it.
pub(super) fn construct(kind: Kind, text: &str) -> Result<Value, &'static str> {
    Ok(match kind {
        Kind::Null => Value::Null,
        Kind::Bool => match text.to_lowercase().as_str() {
            "yes" | "true" | "on" => Value::Bool(true),
            "no" | "false" | "off" => Value::Bool(false),
            _ => return Err("is tagged as a boolean but is not yes, no, true, false, on or off"),
        },
        Kind::Int => Value::Int(int(text)?),
        Kind::Float => Value::Float(float(text).ok_or("is tagged as a float but is not a number")?),
        Kind::Str | Kind::Equals => Value::Str(text.into()),
        Kind::Timestamp => {
            if !is_valid_timestamp(text) {
                return Err("is tagged as a date but is not a valid date or time");
            }
            Value::Other {
                kind: "a date",
                truthy: true,
            }
        }
        // Python keeps characters outside base64's alphabet out of the bytes.
        Kind::Binary => Value::Other {
            kind: "bytes (!!binary)",
            truthy: text
                .chars()
                .any(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/'),
        },
        Kind::Merge => unreachable!("the loader handles merge keys"),
    })
}

/// What an untagged plain scalar is, by PyYAML's implicit resolvers, tried
/// in its order (a text both a float and an int is a float).
fn implicit_kind(text: &str) -> Kind {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Kind::Null,
        "yes" | "Yes" | "YES" | "no" | "No" | "NO" | "true" | "True" | "TRUE" | "false"
        | "False" | "FALSE" | "on" | "On" | "ON" | "off" | "Off" | "OFF" => Kind::Bool,
        "<<" => Kind::Merge,
        "=" => Kind::Equals,
        _ if is_float(text) => Kind::Float,
        _ if is_int(text) => Kind::Int,
        _ if is_timestamp(text) => Kind::Timestamp,
        _ => Kind::Str,
    }
}

fn strip_sign(text: &str) -> &str {
    text.strip_prefix(['-', '+']).unwrap_or(text)
}

fn all(text: &str, allowed: impl Fn(char) -> bool) -> bool {
    text.chars().all(allowed)
}

fn digit_or_underscore(c: char) -> bool {
    c.is_ascii_digit() || c == '_'
}

/// `:[0-5]?[0-9]` repeated at least once: the base-60 part of `1:30`.
fn is_sexagesimal_tail(tail: &str) -> bool {
    !tail.is_empty()
        && tail.split(':').all(|part| {
            let bytes = part.as_bytes();
            match bytes {
                [d] => d.is_ascii_digit(),
                [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
                _ => false,
            }
        })
}

/// `[0-9][0-9_]*` followed by a base-60 tail.
fn is_sexagesimal(text: &str) -> bool {
    match text.split_once(':') {
        Some((head, tail)) => {
            head.starts_with(|c: char| c.is_ascii_digit())
                && all(head, digit_or_underscore)
                && is_sexagesimal_tail(tail)
        }
        None => false,
    }
}

fn is_int(text: &str) -> bool {
    let body = strip_sign(text);
    if let Some(binary) = body.strip_prefix("0b") {
        return !binary.is_empty() && all(binary, |c| matches!(c, '0' | '1' | '_'));
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && all(hex, |c| c.is_ascii_hexdigit() || c == '_');
    }
    if let Some(octal) = body.strip_prefix('0') {
        return octal.is_empty() || all(octal, |c| matches!(c, '0'..='7' | '_'));
    }
    if body.starts_with(|c: char| matches!(c, '1'..='9')) {
        return all(body, digit_or_underscore) || is_sexagesimal(body);
    }
    false
}

fn is_float(text: &str) -> bool {
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let body = strip_sign(text);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    // `.5`, without a sign.
    if let Some(fraction) = text.strip_prefix('.') {
        return fraction.starts_with(|c: char| c.is_ascii_digit()) && is_fraction(fraction);
    }
    // `1:30.5`
    if let Some((whole, fraction)) = body.split_once('.') {
        if is_sexagesimal(whole) {
            return all(fraction, digit_or_underscore);
        }
        return whole.starts_with(|c: char| c.is_ascii_digit())
            && all(whole, digit_or_underscore)
            && is_fraction(fraction);
    }
    false
}

/// `[0-9_]*` with an optional exponent `[eE][-+][0-9]+` (the sign is required).
fn is_fraction(text: &str) -> bool {
    let (digits, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    all(digits, digit_or_underscore)
        && exponent.is_none_or(|e| {
            e.strip_prefix(['-', '+'])
                .is_some_and(|d| !d.is_empty() && all(d, |c| c.is_ascii_digit()))
        })
}

/// Python 3.11+ refuses to turn longer digit strings into an integer.
const MAX_INT_DIGITS: usize = 4300;

/// An integer as PyYAML builds one: underscores dropped, `0b`, `0x`, a
/// leading `0` for octal (Python also takes `0o` there), `:` for base 60.
fn int(text: &str) -> Result<Int, &'static str> {
    const NOT_AN_INTEGER: &str = "is tagged as an integer but is not one";
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let (negative, body) = match cleaned.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    // Python's int() allows spaces around the digits.
    let trimmed = |t: &str| t.trim_matches(|c: char| c.is_whitespace()).to_owned();
    let (digits, radix) = if body == "0" {
        ("0".to_owned(), 10)
    } else if let Some(binary) = body.strip_prefix("0b") {
        (trimmed(binary), 2)
    } else if let Some(hex) = body.strip_prefix("0x") {
        (trimmed(hex), 16)
    } else if body.starts_with('0') {
        let octal = trimmed(body);
        let octal = octal.strip_prefix("0o").unwrap_or(&octal).to_owned();
        (octal, 8)
    } else if body.contains(':') {
        let mut total: Option<i128> = Some(0);
        for part in body.split(':') {
            let part = trimmed(part);
            if part.is_empty() || part.len() > MAX_INT_DIGITS || !all(&part, |c| c.is_ascii_digit())
            {
                return Err(NOT_AN_INTEGER);
            }
            total = total.and_then(|t| t.checked_mul(60)?.checked_add(part.parse().ok()?));
        }
        return Ok(small(total, negative));
    } else {
        (trimmed(body), 10)
    };
    if digits.is_empty() || !all(&digits, |c| c.is_digit(radix)) {
        return Err(NOT_AN_INTEGER);
    }
    if digits.len() > MAX_INT_DIGITS {
        return Err("is an integer of more than 4300 digits, which Python refuses to read");
    }
    Ok(small(i128::from_str_radix(&digits, radix).ok(), negative))
}

fn small(magnitude: Option<i128>, negative: bool) -> Int {
    magnitude
        .map(|m| if negative { -m } else { m })
        .and_then(|v| i64::try_from(v).ok())
        .map_or(Int::Big, Int::Small)
}

/// A float as PyYAML builds one.
fn float(text: &str) -> Option<f64> {
    let cleaned = text.replace('_', "").to_lowercase();
    let (sign, body) = match cleaned.strip_prefix('-') {
        Some(body) => (-1.0, body),
        None => (1.0, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    // Python's float() allows spaces around, as Rust's parse does not.
    let number = |t: &str| t.trim().parse::<f64>().ok();
    let magnitude = match body {
        ".inf" => f64::INFINITY,
        ".nan" => f64::NAN,
        _ if body.contains(':') => body
            .split(':')
            .try_fold(0.0, |total, part| Some(total * 60.0 + number(part)?))?,
        _ => number(body)?,
    };
    Some(sign * magnitude)
}

/// PyYAML's implicit timestamp: `2001-12-14`, or a date with a time:
/// `2001-12-14t21:59:43.10-05:00`, `2001-12-14 21:59:43.10 -5`.
fn is_timestamp(text: &str) -> bool {
    timestamp_fields(text).is_some()
}

/// Year, month, day and, with a time, hour, minute, second and the zone's
/// hour and minute, when `text` has the timestamp's form.
fn timestamp_fields(text: &str) -> Option<[u32; 8]> {
    let b = text.as_bytes();
    let digits = |from: usize, min: usize, max: usize| -> Option<(u32, usize)> {
        let n = b[from.min(b.len())..]
            .iter()
            .take(max)
            .take_while(|c| c.is_ascii_digit())
            .count();
        (n >= min).then(|| (text[from..from + n].parse().unwrap_or(0), from + n))
    };
    let expect = |at: usize, c: u8| (b.get(at) == Some(&c)).then_some(at + 1);
    let (year, i) = digits(0, 4, 4)?;
    let i = expect(i, b'-')?;
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let (month, _) = digits(5, 2, 2)?;
        let (day, end) = digits(8, 2, 2)?;
        return (end == 10).then_some([year, month, day, 0, 0, 0, 0, 0]);
    }
    let (month, i) = digits(i, 1, 2)?;
    let i = expect(i, b'-')?;
    let (day, mut i) = digits(i, 1, 2)?;
    // `[Tt]` or `[ \t]+` between the date and the time.
    match b.get(i) {
        Some(b'T' | b't') => i += 1,
        Some(b' ' | b'\t') => {
            while matches!(b.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
        }
        _ => return None,
    }
    let (hour, i) = digits(i, 1, 2)?;
    let i = expect(i, b':')?;
    let (minute, i) = digits(i, 2, 2)?;
    let i = expect(i, b':')?;
    let (second, mut i) = digits(i, 2, 2)?;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let mut zone = [0, 0];
    let mut j = i;
    while matches!(b.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    match b.get(j) {
        Some(b'Z') => i = j + 1,
        Some(b'-' | b'+') => {
            let (zone_hour, k) = digits(j + 1, 1, 2)?;
            i = k;
            zone[0] = zone_hour;
            if b.get(k) == Some(&b':') {
                let (zone_minute, k) = digits(k + 1, 2, 2)?;
                zone[1] = zone_minute;
                i = k;
            }
        }
        _ => {}
    }
    (i == b.len()).then_some([year, month, day, hour, minute, second, zone[0], zone[1]])
}

/// Whether Python's datetime accepts the fields PyYAML passes it.
fn is_valid_timestamp(text: &str) -> bool {
    let Some(
        [
            year,
            month,
            day,
            hour,
            minute,
            second,
            zone_hour,
            zone_minute,
        ],
    ) = timestamp_fields(text)
    else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year >= 1
        && (1..=days).contains(&day)
        && hour < 24
        && minute < 60
        && second < 60
        && zone_hour * 60 + zone_minute < 24 * 60
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_resolve_as_in_pyyaml() {
        for date in [
            "2001-12-14",
            "2001-12-14t21:59:43.10-05:00",
            "2001-12-14 21:59:43.10 -5",
            "2001-12-14 21:59:43.10",
            "2001-1-4 1:59:43Z",
        ] {
            assert_eq!(implicit_kind(date), Kind::Timestamp, "{date}");
        }
        for text in [
            "2001-12-1",
            "2001-12-14x",
            "2001-12-14 21:59",
            "20011-12-14",
        ] {
            assert_eq!(implicit_kind(text), Kind::Str, "{text}");
        }
        assert!(!is_valid_timestamp("2001-02-29"));
        assert!(is_valid_timestamp("2000-02-29"));
        assert!(!is_valid_timestamp("0000-01-01"));
    }
}
