use register_new_matrix_user::cli::Cli;

fn main() {
    let cli = Cli::parse_args(std::env::args_os()).unwrap_or_else(|error| error.exit());
    std::process::exit(register_new_matrix_user::run::run(cli));
}
