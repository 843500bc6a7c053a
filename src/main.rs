use register_new_matrix_user::__private::{Cli, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse_args(std::env::args_os()).unwrap_or_else(|error| error.exit());
    // Every status the tool documents (0 to 5, 128 + a signal) fits a byte.
    ExitCode::from(u8::try_from(run(cli)).unwrap_or(u8::MAX))
}
