use register_new_matrix_user::__private::{Cli, run};

fn main() {
    let cli = Cli::parse_args(std::env::args_os()).unwrap_or_else(|error| error.exit());
    std::process::exit(run(cli));
}
