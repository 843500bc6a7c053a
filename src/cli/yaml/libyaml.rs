//! libyaml's parser (the c2rust translation `unsafe-libyaml`, the code the C
//! library runs) behind a safe iterator of owned events. The only `unsafe`
//! of the reader is here: the parser lives in a box it never leaves, reads a
//! copy of the text that lives as long as it, and each event is copied out
//! and freed before the next is asked for.

use std::ffi::{CStr, c_char};
use std::mem::MaybeUninit;
use unsafe_libyaml as unsafe_sys;

/// Where an event or a problem is, as libyaml counts: bytes from the start,
/// and line and column (characters) from 0.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Mark {
    pub index: u64,
    pub line: u64,
    pub column: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// An event's data, with tags expanded as libyaml expands them (`!!str` is
/// `tag:yaml.org,2002:str`, a lone `!` stays `!`).
#[derive(Debug)]
pub(super) enum EventData {
    StreamStart,
    StreamEnd,
    DocumentStart,
    DocumentEnd,
    Alias {
        anchor: String,
    },
    Scalar {
        anchor: Option<String>,
        tag: Option<String>,
        value: String,
        style: ScalarStyle,
    },
    SequenceStart {
        anchor: Option<String>,
        tag: Option<String>,
    },
    SequenceEnd,
    MappingStart {
        anchor: Option<String>,
        tag: Option<String>,
    },
    MappingEnd,
}

pub(super) struct Event {
    pub data: EventData,
    pub start: Mark,
    pub end: Mark,
}

/// libyaml's reason for refusing the text: static texts of its own, never
/// a piece of the text.
#[derive(Debug)]
pub(super) struct Problem {
    pub problem: String,
    pub context: Option<String>,
    /// `None` for a reader error (a character YAML does not allow), which
    /// has only `offset`.
    pub mark: Option<Mark>,
    pub offset: u64,
}

pub(super) struct Parser {
    parser: Box<MaybeUninit<unsafe_sys::yaml_parser_t>>,
    /// The text the parser points into; dropped after it.
    _input: Box<[u8]>,
    done: bool,
}

impl Parser {
    pub fn new(text: &str) -> Parser {
        let input: Box<[u8]> = text.as_bytes().into();
        let mut parser = Box::new(MaybeUninit::<unsafe_sys::yaml_parser_t>::uninit());
        // SAFETY: the parser is initialized in place and stays in its box;
        // the input outlives it (both are dropped together, the parser
        // first, in `Drop`). Initialization fails only when out of memory.
        unsafe {
            let raw = parser.as_mut_ptr();
            assert!(
                unsafe_sys::yaml_parser_initialize(raw).ok,
                "libyaml could not allocate its parser"
            );
            unsafe_sys::yaml_parser_set_encoding(raw, unsafe_sys::YAML_UTF8_ENCODING);
            unsafe_sys::yaml_parser_set_input_string(raw, input.as_ptr(), input.len() as u64);
        }
        Parser {
            parser,
            _input: input,
            done: false,
        }
    }

    fn problem(&self) -> Problem {
        // SAFETY: the parser was initialized in `new`; its problem and
        // context are null or static C strings.
        unsafe {
            let parser = &*self.parser.as_ptr();
            let text = |s: *const c_char| {
                (!s.is_null()).then(|| CStr::from_ptr(s).to_string_lossy().into_owned())
            };
            Problem {
                problem: text(parser.problem).unwrap_or_else(|| "unknown problem".to_owned()),
                context: text(parser.context),
                mark: (parser.error != unsafe_sys::YAML_READER_ERROR)
                    .then_some(mark(parser.problem_mark)),
                offset: parser.problem_offset,
            }
        }
    }
}

impl Iterator for Parser {
    type Item = Result<Event, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut event = MaybeUninit::<unsafe_sys::yaml_event_t>::uninit();
        // SAFETY: the parser is initialized; a successful parse initializes
        // the event, which is copied out and then freed exactly once.
        unsafe {
            let raw = self.parser.as_mut_ptr();
            // After an error, `done` keeps the parser from being asked again.
            if unsafe_sys::yaml_parser_parse(raw, event.as_mut_ptr()).fail {
                self.done = true;
                return Some(Err(self.problem()));
            }
            let event = event.as_mut_ptr();
            let converted = Event {
                data: convert(&*event),
                start: mark((*event).start_mark),
                end: mark((*event).end_mark),
            };
            unsafe_sys::yaml_event_delete(event);
            if matches!(converted.data, EventData::StreamEnd) {
                self.done = true;
            }
            Some(Ok(converted))
        }
    }
}

impl Drop for Parser {
    fn drop(&mut self) {
        // SAFETY: initialized in `new`, deleted once.
        unsafe { unsafe_sys::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

fn mark(mark: unsafe_sys::yaml_mark_t) -> Mark {
    Mark {
        index: mark.index,
        line: mark.line,
        column: mark.column,
    }
}

/// # Safety
/// `event` was filled by a successful `yaml_parser_parse`.
unsafe fn convert(event: &unsafe_sys::yaml_event_t) -> EventData {
    // SAFETY: each union field is read only for its event type; strings are
    // null or NUL-terminated, the scalar's value has `length` bytes.
    unsafe {
        match event.type_ {
            unsafe_sys::YAML_STREAM_START_EVENT => EventData::StreamStart,
            unsafe_sys::YAML_DOCUMENT_START_EVENT => EventData::DocumentStart,
            unsafe_sys::YAML_DOCUMENT_END_EVENT => EventData::DocumentEnd,
            unsafe_sys::YAML_ALIAS_EVENT => EventData::Alias {
                anchor: string(event.data.alias.anchor).unwrap_or_default(),
            },
            unsafe_sys::YAML_SCALAR_EVENT => {
                let scalar = &event.data.scalar;
                let bytes = std::slice::from_raw_parts(scalar.value, scalar.length as usize);
                EventData::Scalar {
                    anchor: string(scalar.anchor),
                    tag: string(scalar.tag),
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    style: match scalar.style {
                        unsafe_sys::YAML_SINGLE_QUOTED_SCALAR_STYLE => ScalarStyle::SingleQuoted,
                        unsafe_sys::YAML_DOUBLE_QUOTED_SCALAR_STYLE => ScalarStyle::DoubleQuoted,
                        unsafe_sys::YAML_LITERAL_SCALAR_STYLE => ScalarStyle::Literal,
                        unsafe_sys::YAML_FOLDED_SCALAR_STYLE => ScalarStyle::Folded,
                        _ => ScalarStyle::Plain,
                    },
                }
            }
            unsafe_sys::YAML_SEQUENCE_START_EVENT => EventData::SequenceStart {
                anchor: string(event.data.sequence_start.anchor),
                tag: string(event.data.sequence_start.tag),
            },
            unsafe_sys::YAML_SEQUENCE_END_EVENT => EventData::SequenceEnd,
            unsafe_sys::YAML_MAPPING_START_EVENT => EventData::MappingStart {
                anchor: string(event.data.mapping_start.anchor),
                tag: string(event.data.mapping_start.tag),
            },
            unsafe_sys::YAML_MAPPING_END_EVENT => EventData::MappingEnd,
            // The stream's end (and the no-event libyaml never returns from
            // a successful parse).
            _ => EventData::StreamEnd,
        }
    }
}

/// # Safety
/// `s` is null or a NUL-terminated string.
unsafe fn string(s: *const u8) -> Option<String> {
    (!s.is_null()).then(|| {
        // SAFETY: as the caller promises.
        unsafe { CStr::from_ptr(s.cast()) }
            .to_string_lossy()
            .into_owned()
    })
}
