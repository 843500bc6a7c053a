//! The library's async client against the real Synapse: the example
//! program's 20 concurrent registrations, each account then logged in to.

use register_new_matrix_user::{Client, Outcome};
use support::real::{Synapse, unique};

#[path = "../../examples/register_many.rs"]
// Its `main` is the example's own, unused here.
#[allow(dead_code)]
mod register_many;

#[test]
#[ignore = "needs the real Synapse from scripts/test"]
fn the_example_registers_20_users_concurrently_on_the_real_synapse() {
    let s = Synapse::get();
    let client = Client::builder(&s.url)
        .shared_secret(&s.secret)
        .max_idle_connections(20)
        .build()
        .unwrap();
    let prefix = unique("many");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let results = runtime.block_on(register_many::register_many(&client, &prefix, 20));
    assert_eq!(results.len(), 20);
    for (localpart, result) in results {
        match result {
            Ok(Outcome::Created(account)) => assert_eq!(account.user_id, s.user_id(&localpart)),
            other => panic!("{localpart}: {other:?}"),
        }
        let password = format!("{localpart}: an example passphrase, not a secret");
        assert!(s.login(&localpart, &password).is_ok(), "{localpart}");
    }
}
