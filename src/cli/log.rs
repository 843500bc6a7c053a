//! Where the library's words go: `-v` lines (the `log` facade) and hints,
//! named as the command line names its settings.

use crate::cli::error::Error;
use crate::error::Setting;

/// Writes the library's log records, `-v` output, as lines on stderr.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with(env!("CARGO_CRATE_NAME"))
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            say!("{}", record.args());
        }
    }

    fn flush(&self) {}
}

/// With `-v`, the library's requests, statuses and retries go to stderr.
pub fn install(verbose: bool) {
    if verbose && log::set_logger(&StderrLogger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

/// The flag that sets what a hint recommends.
fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::ExistsOk => "--exists-ok",
        Setting::Timeout => "--timeout SECONDS",
        Setting::Wait => "--wait SECONDS",
        Setting::CaCert => "--cacert FILE",
        Setting::Insecure => "--insecure",
    }
}

/// An error's hint as the command line says it.
pub fn hint_text(error: &Error) -> Option<String> {
    error.hint().map(|hint| hint.render(flag))
}
