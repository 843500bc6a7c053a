use register_new_matrix_user::__private::{Cli, arguments_refused, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    let status = match Cli::parse_args(std::env::args_os()) {
        Ok(cli) => run(cli),
        Err(error) => arguments_refused(error),
    };
    // Every status the tool documents (0 to 5, 128 + a signal) fits a byte.
    ExitCode::from(u8::try_from(status).unwrap_or(u8::MAX))
}
