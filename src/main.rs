use clap::Parser;
use register_new_matrix_user::cli::Cli;

fn main() {
    std::process::exit(register_new_matrix_user::run::run(Cli::parse()));
}
