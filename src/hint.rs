//! Hints: advice for a failure, with the settings it recommends kept as
//! data, so that each program names them in its own terms.

use crate::redact::escape_control_characters;
use std::fmt;

/// A setting a hint recommends. Each program names it as its users know it
/// (the command line as a flag); [`Hint`]'s `Display` names the method of
/// [`ClientBuilder`](crate::ClientBuilder) that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    /// Treat an existing account as success: [`IfExists::Succeed`](crate::IfExists::Succeed).
    ExistsOk,
    /// A longer time limit per request.
    Timeout,
    /// Keep retrying while the server cannot be reached.
    Wait,
    /// A PEM file of certificates to trust.
    CaCert,
    /// Skip certificate verification.
    Insecure,
}

impl Setting {
    /// How the library names the setting.
    fn api_name(self) -> &'static str {
        match self {
            Setting::ExistsOk => "ClientBuilder::if_exists(IfExists::Succeed)",
            Setting::Timeout => "ClientBuilder::timeout",
            Setting::Wait => "ClientBuilder::wait",
            Setting::CaCert => "ClientBuilder::cacert",
            Setting::Insecure => "ClientBuilder::danger_accept_invalid_certs",
        }
    }
}

/// Advice for a failure: text, with the settings it recommends kept as data
/// so that a program can name them in its own terms ([`Hint::render`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint(pub(crate) Vec<HintPart>);

/// A piece of a [`Hint`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HintPart {
    /// Words to show as they are.
    Text(String),
    /// A setting, to name as the program's users know it.
    Setting(Setting),
}

impl Hint {
    pub(crate) fn text(text: impl Into<String>) -> Self {
        Hint(vec![HintPart::Text(text.into())])
    }

    pub(crate) fn setting(mut self, setting: Setting) -> Self {
        self.0.push(HintPart::Setting(setting));
        self
    }

    pub(crate) fn then(mut self, text: impl Into<String>) -> Self {
        self.0.push(HintPart::Text(text.into()));
        self
    }

    pub(crate) fn escaped(self) -> Self {
        let parts = self.0.into_iter().map(|part| match part {
            HintPart::Text(text) => HintPart::Text(escape_control_characters(&text)),
            setting => setting,
        });
        Hint(parts.collect())
    }

    /// The hint's pieces in order: text, and the settings it recommends.
    pub fn parts(&self) -> &[HintPart] {
        &self.0
    }

    /// The hint as one text, each setting named by `name`.
    pub fn render(&self, name: impl Fn(Setting) -> &'static str) -> String {
        self.0
            .iter()
            .map(|part| match part {
                HintPart::Text(text) => text.as_str(),
                HintPart::Setting(setting) => name(*setting),
            })
            .collect()
    }
}

impl From<&str> for Hint {
    fn from(text: &str) -> Self {
        Hint::text(text)
    }
}

impl From<String> for Hint {
    fn from(text: String) -> Self {
        Hint::text(text)
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Setting::api_name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_names_its_settings_as_its_reader_knows_them() {
        let hint = Hint::text("retry with ")
            .setting(Setting::ExistsOk)
            .then(".");
        assert_eq!(
            hint.to_string(),
            "retry with ClientBuilder::if_exists(IfExists::Succeed)."
        );
        assert_eq!(hint.render(|_| "--exists-ok"), "retry with --exists-ok.");
        assert_eq!(hint.parts()[1], HintPart::Setting(Setting::ExistsOk));
    }
}
