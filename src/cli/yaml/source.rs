//! The YAML 1.1 events of a config, as PyYAML's pure-Python scanner and
//! parser would give them. They come from libyaml (`libyaml`), which
//! PyYAML's scanner mirrors; where the two differ on text a config may
//! hold, the text or the events are adjusted here, each in one place:
//!
//! - A BOM (U+FEFF) after the first character is content to PyYAML, which
//!   libyaml skips at the start of a line: it is read as a character that
//!   libyaml takes for content, and put back in scalar values.
//! - A `:` followed by `,[]{}` in a flow collection (`{names:[client]}`)
//!   ends a plain scalar for PyYAML, and is an error for libyaml: a space
//!   is inserted after it and the text read again (at most
//!   `MAX_COLON_FIXES` times, each a full reading).
//! - A tag followed by `,` (`[!!str, x]`) is refused, as PyYAML does.
//! - PyYAML allows tabs only inside quoted and block scalars and comments;
//!   libyaml also takes them as separating spaces: those are refused.

use super::libyaml::{Event, EventData, Mark, Parser, Problem, ScalarStyle};

/// How many `key:[` in flow collections are fixed; each costs one more
/// reading of the text. Homeserver configs have a few.
const MAX_COLON_FIXES: usize = 16;

/// A position in the original text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Position {
    /// From 1.
    pub line: usize,
    /// From 1, in characters.
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// One event, with where its node starts in the original text. Scalar
/// values have their BOMs back.
pub(super) struct Located {
    pub data: EventData,
    pub start: Position,
}

/// Why reading stopped: the problem (without any value from the text), or
/// the consumer's own error.
pub(super) enum Stop<E> {
    Invalid(String),
    Consumer(E),
}

/// Reads `text` and hands each event to `consume`, in order. When the text
/// must be read again (see the module's comment), `consume` is given `None`
/// first, to start over.
pub(super) fn read<E>(
    text: &str,
    mut consume: impl FnMut(Option<Located>) -> Result<(), E>,
) -> Result<(), Stop<E>> {
    let mut prepared = Prepared::new(text)?;
    loop {
        match prepared.read_once(&mut consume) {
            Err(Pass::Retry(index, line)) if prepared.inserted.len() < MAX_COLON_FIXES => {
                prepared.insert_space(index, line);
                consume(None).map_err(Stop::Consumer)?;
            }
            Err(Pass::Retry(index, _)) => {
                let at = prepared.position(index);
                return Err(Stop::Invalid(format!(
                    "it has more than {MAX_COLON_FIXES} flow mappings with a ':' right before '[', '{{', ',', ']' or '}}' ({at}); add a space after the ':'"
                )));
            }
            Err(Pass::Stop(stop)) => return Err(stop),
            Ok(()) => return Ok(()),
        }
    }
}

enum Pass<E> {
    /// A `:` at this byte offset, on this line (from 0), needs a space
    /// after it.
    Retry(usize, u64),
    Stop(Stop<E>),
}

impl<E> From<Stop<E>> for Pass<E> {
    fn from(stop: Stop<E>) -> Self {
        Pass::Stop(stop)
    }
}

struct Prepared<'a> {
    original: &'a str,
    text: String,
    /// What stands for U+FEFF in `text`, when the original has one past
    /// its start.
    bom: Option<char>,
    /// Byte offsets in `text` of the spaces inserted, in order, and the line
    /// (from 0) of each.
    inserted: Vec<(usize, u64)>,
}

impl<'a> Prepared<'a> {
    fn new<E>(original: &'a str) -> Result<Self, Stop<E>> {
        let first = original.chars().next().map_or(0, char::len_utf8);
        if !original[first..].contains('\u{feff}') {
            return Ok(Prepared {
                original,
                text: original.to_owned(),
                bom: None,
                inserted: Vec::new(),
            });
        }
        // A private-use character the text does not hold, of the same
        // length in UTF-8, so that positions stay the same.
        let mut used = vec![false; 0x1900];
        for c in original.chars() {
            if ('\u{e000}'..='\u{f8ff}').contains(&c) {
                used[c as usize - 0xe000] = true;
            }
        }
        let Some(free) = used.iter().position(|u| !u) else {
            return Err(Stop::Invalid(
                "it holds a byte order mark and every private-use character, which this tool cannot read apart".to_owned(),
            ));
        };
        let stand_in = char::from_u32(0xe000 + free as u32).expect("a private-use character");
        let text = format!(
            "{}{}",
            &original[..first],
            original[first..].replace('\u{feff}', stand_in.encode_utf8(&mut [0; 4]))
        );
        Ok(Prepared {
            original,
            text,
            bom: Some(stand_in),
            inserted: Vec::new(),
        })
    }

    fn insert_space(&mut self, colon: usize, line: u64) {
        self.text.insert(colon + 1, ' ');
        for (at, _) in &mut self.inserted {
            if *at > colon {
                *at += 1;
            }
        }
        self.inserted.push((colon + 1, line));
    }

    /// The position in the original text of a byte offset in `text`.
    fn position(&self, index: usize) -> Position {
        let before = self.inserted.iter().filter(|(at, _)| *at < index).count();
        let index = (index - before).min(self.original.len());
        let mut line = 1;
        let mut column = 1;
        let mut chars = self.original[..index].chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' => {
                    line += 1;
                    column = 1;
                }
                _ => column += 1,
            }
        }
        Position { line, column }
    }

    /// A mark's position: libyaml counts lines and columns as PyYAML does,
    /// so only the inserted spaces are taken off.
    fn mark(&self, mark: Mark) -> Position {
        let index = usize::try_from(mark.index).unwrap_or(usize::MAX);
        let shift = self
            .inserted
            .iter()
            .filter(|(at, line)| *line == mark.line && *at < index)
            .count();
        Position {
            line: usize::try_from(mark.line).unwrap_or(usize::MAX) + 1,
            column: usize::try_from(mark.column).unwrap_or(usize::MAX) + 1 - shift,
        }
    }

    fn read_once<E>(
        &self,
        consume: &mut impl FnMut(Option<Located>) -> Result<(), E>,
    ) -> Result<(), Pass<E>> {
        let has_tabs = self.text.contains('\t');
        // Where scalars are, and whether a tab may be in them, to tell
        // PyYAML's tabs from libyaml's.
        let mut scalars: Vec<(usize, usize, bool)> = Vec::new();
        for event in Parser::new(&self.text) {
            let Event {
                mut data,
                start: start_mark,
                end: end_mark,
            } = event.map_err(|error| self.problem(&error))?;
            if let EventData::Scalar {
                value, style, tag, ..
            } = &mut data
            {
                // libyaml lets a tag be followed by ',' in a flow collection
                // (`[!!str, x]`); PyYAML wants a space.
                if tag.is_some()
                    && value.is_empty()
                    && *style == ScalarStyle::Plain
                    && usize::try_from(end_mark.index)
                        .is_ok_and(|end| self.text.as_bytes().get(end) == Some(&b','))
                {
                    return Err(Pass::Stop(Stop::Invalid(format!(
                        "is not valid YAML: while scanning a tag, expected a space after it ({})",
                        self.mark(end_mark)
                    ))));
                }
                if has_tabs {
                    let quoted_or_block = *style != ScalarStyle::Plain;
                    scalars.push((
                        usize::try_from(start_mark.index).unwrap_or(0),
                        usize::try_from(end_mark.index).unwrap_or(0),
                        quoted_or_block,
                    ));
                }
                if let Some(stand_in) = self.bom {
                    if value.contains(stand_in) {
                        *value = value.replace(stand_in, "\u{feff}");
                    }
                }
            }
            consume(Some(Located {
                data,
                start: self.mark(start_mark),
            }))
            .map_err(|e| Pass::Stop(Stop::Consumer(e)))?;
        }
        if has_tabs {
            self.check_tabs(&scalars)?;
        }
        Ok(())
    }

    /// libyaml's error, worded without any text from the file.
    fn problem<E>(&self, error: &Problem) -> Pass<E> {
        let Some(mark) = error.mark else {
            // Reader errors: a character neither YAML 1.1 nor PyYAML allow.
            let offset = usize::try_from(error.offset).unwrap_or(usize::MAX);
            let at = self.position(self.text.len().min(offset));
            return Pass::Stop(Stop::Invalid(format!(
                "is not valid YAML: {} ({at})",
                error.problem
            )));
        };
        let index = usize::try_from(mark.index).unwrap_or(usize::MAX);
        if error.problem == "found unexpected ':'"
            && self
                .text
                .get(index + 1..)
                .is_some_and(|rest| rest.starts_with([',', '[', ']', '{', '}']))
        {
            return Pass::Retry(index, mark.line);
        }
        let context = error
            .context
            .as_ref()
            .map(|context| format!("{context}, "))
            .unwrap_or_default();
        Pass::Stop(Stop::Invalid(format!(
            "is not valid YAML: {context}{} ({})",
            error.problem,
            self.mark(mark)
        )))
    }

    /// Refuses a tab outside quoted and block scalars and comments, where
    /// PyYAML's scanner finds "a character that cannot start any token".
    fn check_tabs<E>(&self, scalars: &[(usize, usize, bool)]) -> Result<(), Stop<E>> {
        let bytes = self.text.as_bytes();
        let mut next_scalar = scalars.iter().peekable();
        let mut i = 0;
        while i < bytes.len() {
            while next_scalar.peek().is_some_and(|(_, end, _)| *end <= i) {
                next_scalar.next();
            }
            if let Some(&&(start, end, tabs_allowed)) = next_scalar.peek() {
                if start <= i {
                    if !tabs_allowed {
                        if let Some(tab) = bytes[i..end].iter().position(|&b| b == b'\t') {
                            return Err(self.tab_error(i + tab));
                        }
                    }
                    i = end;
                    continue;
                }
            }
            match bytes[i] {
                b'#' => {
                    // Outside scalars in a text libyaml read, a comment, to
                    // the end of its line.
                    let rest = &self.text[i..];
                    i += rest.find(LINE_BREAKS).unwrap_or(rest.len());
                }
                b'\t' => return Err(self.tab_error(i)),
                _ => i += 1,
            }
        }
        Ok(())
    }

    fn tab_error<E>(&self, index: usize) -> Stop<E> {
        Stop::Invalid(format!(
            "is not valid YAML for the server: a tab character cannot start any token; use spaces ({})",
            self.position(index)
        ))
    }
}

const LINE_BREAKS: [char; 5] = ['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'];
