//! Config parsing and listener discovery: up to four homeserver config files
//! (the input split at 0xFF bytes, which never occur in UTF-8 text), merged
//! in order as `-c a -c b` does, then every question the tool asks of them.

#![no_main]

use libfuzzer_sys::fuzz_target;
use register_new_matrix_user::__private::{ClientListener, Config, SecretSource};
use std::path::PathBuf;

fuzz_target!(|data: &[u8]| {
    let mut config = Config::default();
    for (i, bytes) in data.split(|&b| b == 0xFF).take(4).enumerate() {
        let path = PathBuf::from(format!("homeserver{i}.yaml"));
        if let Err(error) = config.add_file(&path, bytes) {
            assert!(error.to_string().starts_with(path.to_str().unwrap()));
            return;
        }
    }
    // `secret_source`, not `shared_secret`: a fuzzed path must not make us
    // read /dev/stdin or a FIFO.
    match config.secret_source() {
        Ok(SecretSource::Inline(secret)) => assert!(!secret.is_empty()),
        Ok(SecretSource::File { path, .. }) => assert!(!path.as_os_str().is_empty()),
        Err(error) => assert!(!error.to_string().is_empty()),
    }
    if let Ok(Some(ClientListener::Tcp(url))) = config.client_listener() {
        // The host is localhost or an address the listener binds.
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{url}"
        );
        let (_, port) = url
            .rsplit_once(':')
            .unwrap_or_else(|| panic!("no port: {url}"));
        let port: u32 = port.parse().unwrap();
        assert!((1..=65535).contains(&port), "{url}");
    }
    let _ = config.server_name();
    let _ = config.extra_user_types();
});
