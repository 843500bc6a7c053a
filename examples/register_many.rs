//! Registers 20 users at once with the async client on a tokio runtime: one
//! task per user, all through one client, whose connections are pooled.
//!
//! Against a throwaway Synapse (see CONTRIBUTING.md):
//!
//! ```sh
//! scripts/synapse start /tmp/synapse && . /tmp/synapse/env
//! cargo run --example register_many -- "$SYNAPSE_URL" "$SYNAPSE_SECRET"
//! scripts/synapse stop /tmp/synapse
//! ```
//!
//! Without arguments it reads `SYNAPSE_URL` and `SYNAPSE_SECRET`, as that env
//! file sets them. The users are `many01` to `many20`; run again, each is
//! already there (a success). It exits 1 when any registration failed.

use register_new_matrix_user::{Client, Error, IfExists, NewUser, Outcome};
use tokio::task::JoinSet;

const USERS: usize = 20;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut setting = |name: &str| {
        args.next()
            .or_else(|| std::env::var(name).ok())
            .ok_or(format!(
                "usage: register_many SERVER_URL SHARED_SECRET (or set SYNAPSE_URL and SYNAPSE_SECRET); {name} is missing"
            ))
    };
    let url = setting("SYNAPSE_URL")?;
    let secret = setting("SYNAPSE_SECRET")?;
    let client = Client::builder(url)
        .shared_secret(secret)
        .if_exists(IfExists::Succeed)
        .max_idle_connections(USERS)
        .build()?;
    let mut failed = 0;
    for (localpart, result) in register_many(&client, "many", USERS).await {
        match result {
            Ok(Outcome::Created(account)) => println!("created {}", account.user_id),
            Ok(Outcome::CreatedIncomplete(problem)) => {
                println!("{localpart}: created, but {problem}")
            }
            Ok(Outcome::AlreadyExists) => println!("{localpart}: already there"),
            // `Outcome` is non_exhaustive: a later version may add outcomes.
            Ok(other) => println!("{localpart}: {other:?}"),
            Err(error) => {
                failed += 1;
                eprintln!("{localpart}: {error}");
            }
        }
    }
    if failed > 0 {
        return Err(format!("{failed} of {USERS} registrations failed").into());
    }
    Ok(())
}

/// Registers `count` users, PREFIX01 onwards, each in a task of its own;
/// their results, in order.
pub async fn register_many(
    client: &Client,
    prefix: &str,
    count: usize,
) -> Vec<(String, Result<Outcome, Error>)> {
    let mut tasks = JoinSet::new();
    for i in 1..=count {
        // A clone shares the connection pool.
        let client = client.clone();
        let localpart = format!("{prefix}{i:02}");
        tasks.spawn(async move {
            // A real program would generate each password and keep it.
            let password = format!("{localpart}: an example passphrase, not a secret");
            let result = client.register(&NewUser::new(&localpart, &password)).await;
            (localpart, result)
        });
    }
    let mut results = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        // A task panics only if the library does: pass the panic on.
        results.push(joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())));
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    results
}
