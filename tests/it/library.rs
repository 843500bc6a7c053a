//! The library's two faces on tokio's two kinds of runtime: the async
//! clients registering concurrently, against the stub Synapse and a stub
//! MAS, and the blocking clients' misuse inside a runtime answered with this
//! crate's message, not tokio's.

use register_new_matrix_user::{Client, IfExists, MasClient, NewUser, Outcome, Register};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::stub::{Reply, Stub};

const SECRET: &str = "s3cret";

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    match multi_thread {
        true => tokio::runtime::Builder::new_multi_thread(),
        false => tokio::runtime::Builder::new_current_thread(),
    }
    .enable_all()
    .build()
    .unwrap()
}

/// Twelve users at once, each in a task of its own: every one created, with
/// its own nonce and MAC.
fn registers_concurrently(multi_thread: bool) {
    let (server, synapse) = Stub::synapse(SECRET);
    let client = Client::builder(server.url())
        .shared_secret(SECRET)
        .max_idle_connections(4)
        .build()
        .unwrap();
    let created = runtime(multi_thread).block_on(async {
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let name = format!("user{i}");
                    client.register(&NewUser::new(&name, "pw")).await
                })
            })
            .collect();
        let mut created = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                Ok(Outcome::Created(account)) => created.push(account.user_id),
                other => panic!("{other:?}"),
            }
        }
        created
    });
    assert_eq!(created.len(), 12);
    assert_eq!(synapse.created().len(), 12);
}

#[test]
fn the_async_client_registers_on_a_current_thread_runtime() {
    registers_concurrently(false);
}

#[test]
fn the_async_client_registers_on_a_multi_thread_runtime() {
    registers_concurrently(true);
}

/// The whole type-state on a runtime: prepare, then send; an existing
/// account as a success when asked.
#[tokio::test]
async fn prepare_and_send_and_if_exists_work_in_async_code() {
    let (server, synapse) = Stub::synapse(SECRET);
    synapse.add_existing("taken");
    let client = Client::builder(server.url())
        .shared_secret(SECRET)
        .if_exists(IfExists::Succeed)
        .build()
        .unwrap();
    let user = NewUser::new("carol", "pw").admin(true);
    let prepared = client.prepare(&user).await.unwrap();
    assert!(synapse.created().is_empty(), "nothing sent by prepare");
    assert!(matches!(prepared.send().await, Ok(Outcome::Created(_))));
    let outcome = client.register(&NewUser::new("taken", "pw")).await;
    assert!(matches!(outcome, Ok(Outcome::AlreadyExists)), "{outcome:?}");
}

/// A stub MAS that counts the admin tokens it issues.
fn mas(tokens: Arc<AtomicUsize>) -> Stub {
    Stub::start(move |request| {
        let path = request.path.as_str();
        match path {
            "/oauth2/token" => {
                tokens.fetch_add(1, Ordering::SeqCst);
                Reply::json(200, json!({"access_token": "mat_x", "expires_in": 300}))
            }
            "/api/admin/v1/site-config" => Reply::json(200, json!({"server_name": "example.org"})),
            "/api/admin/v1/users" => {
                let name = request.json()["username"].as_str().unwrap().to_owned();
                Reply::json(
                    201,
                    json!({"data": {"id": format!("01{name}"), "attributes": {"username": name}}}),
                )
            }
            _ if path.ends_with("/set-password") => Reply::raw(204, "application/json", ""),
            "/api/admin/v1/personal-sessions" => Reply::json(
                201,
                json!({"data": {"attributes": {"access_token": "mpt_x"}}}),
            ),
            _ => Reply::json(404, json!({"errors": [{"title": "Not found"}]})),
        }
    })
}

/// Concurrent registrations through MAS share one admin token: the tasks
/// wait for the one being asked for, across awaits.
#[test]
fn the_async_mas_client_registers_concurrently_with_one_token() {
    for multi_thread in [false, true] {
        let tokens = Arc::new(AtomicUsize::new(0));
        let server = mas(Arc::clone(&tokens));
        let mas = MasClient::builder(server.url())
            .client_credentials("01ADMIN", "secret")
            .build()
            .unwrap();
        let mas = Arc::new(mas);
        runtime(multi_thread).block_on(async {
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let mas = Arc::clone(&mas);
                    tokio::spawn(async move {
                        let name = format!("user{i}");
                        let user = NewUser::new(&name, "quartz-lantern-97-orbit-fable");
                        mas.register(&user).await
                    })
                })
                .collect();
            for task in tasks {
                let outcome = task.await.unwrap();
                assert!(matches!(outcome, Ok(Outcome::Created(_))), "{outcome:?}");
            }
        });
        assert_eq!(tokens.load(Ordering::SeqCst), 1);
    }
}

/// Runs `call` inside a runtime, and returns what it panicked with.
fn panic_inside_runtime(multi_thread: bool, call: impl FnOnce()) -> String {
    let payload = runtime(multi_thread).block_on(async {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).unwrap_err()
    });
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap()
}

/// A newcomer's mistake: a blocking client used in async code. The panic
/// is this crate's, naming the fix; building and dropping one there do not
/// panic at all.
#[test]
fn a_blocking_client_inside_a_runtime_panics_with_this_crates_message() {
    let (server, synapse) = Stub::synapse(SECRET);
    let mas_server = mas(Arc::default());
    for multi_thread in [false, true] {
        let build = || {
            Client::builder(server.url())
                .shared_secret(SECRET)
                .build_blocking()
                .unwrap()
        };
        let build_mas = || {
            MasClient::builder(mas_server.url())
                .admin_token("mat_x")
                .build_blocking()
                .unwrap()
        };
        let user = NewUser::new("dave", "pw");
        let texts = [
            panic_inside_runtime(multi_thread, || drop(build().register(&user))),
            panic_inside_runtime(multi_thread, || drop(build().prepare(&user))),
            panic_inside_runtime(multi_thread, || drop(build_mas().register(&user))),
            panic_inside_runtime(multi_thread, || drop(build_mas().server_name())),
        ];
        for text in texts {
            assert!(text.starts_with("register_new_matrix_user: "), "{text}");
            assert!(
                text.contains("use the async register_new_matrix_user::Client"),
                "{text}"
            );
        }
        // Built, kept and dropped inside the runtime, unused.
        runtime(multi_thread).block_on(async {
            let client = build();
            let mas = build_mas();
            tokio::task::yield_now().await;
            drop((client, mas));
        });
    }
    assert!(synapse.created().is_empty());
    // Outside any runtime, the same client works, from several threads.
    let client = Client::builder(server.url())
        .shared_secret(SECRET)
        .build_blocking()
        .unwrap();
    std::thread::scope(|scope| {
        for i in 0..4 {
            let client = &client;
            scope.spawn(move || {
                let name = format!("thread{i}");
                let outcome = client.register(&NewUser::new(&name, "pw"));
                assert!(matches!(outcome, Ok(Outcome::Created(_))), "{outcome:?}");
            });
        }
    });
    assert_eq!(synapse.created().len(), 4);
}

/// The example program's registrations, run here against the stub.
#[path = "../../examples/register_many.rs"]
// Its `main` is the example's own, unused here.
#[allow(dead_code)]
mod register_many;

#[test]
fn the_example_registers_20_users_concurrently() {
    let (server, synapse) = Stub::synapse(SECRET);
    let client = Client::builder(server.url())
        .shared_secret(SECRET)
        .max_idle_connections(20)
        .build()
        .unwrap();
    let results = runtime(true).block_on(register_many::register_many(&client, "many", 20));
    let names: Vec<&str> = results.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"many01"));
    assert_eq!(names.last(), Some(&"many20"));
    for (name, result) in &results {
        assert!(
            matches!(result, Ok(Outcome::Created(_))),
            "{name}: {result:?}"
        );
    }
    assert_eq!(synapse.created().len(), 20);
}

/// PEM text given to the builder is trusted as a `cacert` file is: a
/// self-signed server is reached with it, and refused without it.
#[test]
fn pem_bytes_trust_a_self_signed_server() {
    let synapse = support::stub::Synapse::new("s3cret");
    let server = Arc::clone(&synapse);
    let stub = Stub::builder().tls().start(move |r| server.reply(r));
    let pem = support::stub::test_cert().pem();
    let client = Client::builder(stub.url())
        .shared_secret("s3cret")
        .cacert_pem(pem)
        .build_blocking()
        .unwrap();
    let outcome = client.register(&NewUser::new("pem", "pw")).unwrap();
    assert!(matches!(outcome, Outcome::Created(_)), "{outcome:?}");
    let untrusted = Client::builder(stub.url())
        .shared_secret("s3cret")
        .build_blocking()
        .unwrap();
    let error = untrusted.register(&NewUser::new("pem2", "pw")).unwrap_err();
    assert!(error.to_string().contains("not trusted"), "{error}");
    // The TLS error underneath is kept as the source.
    assert!(std::error::Error::source(&error).is_some(), "{error:?}");
}
