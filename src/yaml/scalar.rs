//! What a scalar means: PyYAML's YAML 1.1 resolution of plain scalars by
//! their text (`yes` is true, `010` is octal, `1:30` is base 60), and the
//! values its constructors build from them.

use super::{CORE, MERGE_TAG, at, unknown_tag};
use saphyr_parser::{ScalarStyle, Span, Tag};
use serde_yaml::{Number, Value};

/// A scalar's value: plain ones are resolved by their text, as YAML 1.1
/// (and PyYAML) says; quoted ones are strings unless tagged.
pub(super) fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&Tag>,
    span: Span,
) -> Result<Value, String> {
    let invalid = |kind: &str| at(span, &format!("'{text}' is not {kind}"));
    let kind = match tag {
        Some(tag) if tag.handle == CORE => tag.suffix.as_str(),
        // `!` alone marks a plain scalar as a string.
        Some(tag) if tag.handle == "!" && tag.suffix.is_empty() => "str",
        Some(tag) => return Err(unknown_tag(tag, span)),
        None if style == ScalarStyle::Plain => implicit_kind(text),
        None => "str",
    };
    Ok(match kind {
        "null" => Value::Null,
        "bool" => match text.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Value::Bool(true),
            "no" | "false" | "off" => Value::Bool(false),
            _ => return Err(invalid("a boolean")),
        },
        "int" => int(text).ok_or_else(|| invalid("an integer"))?,
        "float" => float(text).ok_or_else(|| invalid("a number"))?,
        // Dates and base64 become other Python types, all true when not empty.
        "str" | "timestamp" | "binary" => Value::String(text.to_owned()),
        "merge" => Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
            tag: serde_yaml::value::Tag::new(MERGE_TAG),
            value: Value::String(text.to_owned()),
        })),
        "value" => return Err(at(span, "a plain '=' is a value it cannot read")),
        _ => return Err(unknown_tag(tag.expect("only tags give other kinds"), span)),
    })
}

/// What an untagged plain scalar is, by PyYAML's implicit resolvers (tried
/// in its order: a text both a float and an int is a float).
fn implicit_kind(text: &str) -> &'static str {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => "null",
        "yes" | "Yes" | "YES" | "no" | "No" | "NO" | "true" | "True" | "TRUE" | "false"
        | "False" | "FALSE" | "on" | "On" | "ON" | "off" | "Off" | "OFF" => "bool",
        "<<" => "merge",
        "=" => "value",
        _ if is_float(text) => "float",
        _ if is_int(text) => "int",
        // Dates are not told apart: they would be strings here all the same.
        _ => "str",
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

/// `[1-9][0-9_]*` followed by a base-60 tail.
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

/// An integer as PyYAML builds one: underscores dropped, `0b`, `0x`, a
/// leading `0` for octal, `:` for base 60.
fn int(text: &str) -> Option<Value> {
    let cleaned = text.replace('_', "");
    let (negative, body) = match cleaned.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let magnitude: i128 = if body == "0" {
        0
    } else if let Some(binary) = body.strip_prefix("0b") {
        i128::from_str_radix(binary, 2).ok()?
    } else if let Some(hex) = body.strip_prefix("0x") {
        i128::from_str_radix(hex, 16).ok()?
    } else if let Some(octal) = body.strip_prefix('0') {
        i128::from_str_radix(octal, 8).ok()?
    } else if body.contains(':') {
        body.split(':').try_fold(0i128, |total, part| {
            total.checked_mul(60)?.checked_add(part.parse().ok()?)
        })?
    } else {
        body.parse().ok()?
    };
    let value = if negative { -magnitude } else { magnitude };
    Some(Value::Number(if let Ok(v) = u64::try_from(value) {
        Number::from(v)
    } else if let Ok(v) = i64::try_from(value) {
        Number::from(v)
    } else {
        // Python's integers have no limit; no setting we read is this large.
        Number::from(value as f64)
    }))
}

/// A float as PyYAML builds one.
fn float(text: &str) -> Option<Value> {
    let cleaned = text.replace('_', "").to_ascii_lowercase();
    let (sign, body) = match cleaned.strip_prefix('-') {
        Some(body) => (-1.0, body),
        None => (1.0, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let magnitude = match body {
        ".inf" => f64::INFINITY,
        ".nan" => f64::NAN,
        _ if body.contains(':') => body.split(':').try_fold(0.0, |total, part| {
            Some(total * 60.0 + part.parse::<f64>().ok()?)
        })?,
        _ => body.parse().ok()?,
    };
    Some(Value::Number(Number::from(sign * magnitude)))
}
