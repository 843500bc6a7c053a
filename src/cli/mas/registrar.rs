//! The registrar a run uses: the shared-secret client or MAS's, built
//! from the checked route and HTTP options.

use super::{MasCredentials, MasRoute, Route};
use crate::blocking::MasClient;
use crate::cli::error::Result;
use crate::client::{CaCert, Client, HttpOptions, IfExists};
use crate::register::Register;
use reqwest::Url;

/// The way this run registers: the shared-secret endpoint, or MAS.
pub enum Registrar {
    SharedSecret(Box<crate::blocking::Client>),
    Mas(Box<MasClient>),
}

impl Registrar {
    /// `access_tokens`: whether MAS gives each account a token (a personal
    /// session), for the outputs that show one.
    pub fn new(
        route: &Route,
        server_url: &Url,
        if_exists: IfExists,
        http: HttpOptions,
        access_tokens: bool,
    ) -> Result<Registrar> {
        match route {
            Route::SharedSecret(secret) => {
                let mut builder = Client::builder(server_url.as_str())
                    .shared_secret(secret.expose())
                    .if_exists(if_exists)
                    .timeout(http.timeout)
                    .danger_accept_invalid_certs(http.insecure)
                    .max_idle_connections(http.pool_size);
                if let Some(wait) = http.wait {
                    builder = builder.wait(wait);
                }
                builder = match http.cacert {
                    Some(CaCert::File(path)) => builder.cacert(path),
                    Some(CaCert::Pem(pem)) => builder.cacert_pem(pem),
                    None => builder,
                };
                if let Some(socket) = http.unix_socket {
                    builder = builder.unix_socket(socket);
                }
                Ok(Registrar::SharedSecret(Box::new(builder.build_blocking()?)))
            }
            Route::Mas(route) => Registrar::mas(route, if_exists, &http, access_tokens),
        }
    }

    /// The shared-secret client, whose 404 may mean a delegating server.
    pub fn shared_secret_client(&self) -> Option<&crate::blocking::Client> {
        match self {
            Registrar::SharedSecret(client) => Some(client.as_ref()),
            Registrar::Mas(_) => None,
        }
    }

    fn mas(
        route: &MasRoute,
        if_exists: IfExists,
        http: &HttpOptions,
        access_tokens: bool,
    ) -> Result<Registrar> {
        let mut builder = crate::MasClient::builder(route.url.as_str())
            .if_exists(if_exists)
            .access_tokens(access_tokens)
            .timeout(http.timeout)
            .danger_accept_invalid_certs(http.insecure)
            .max_idle_connections(http.pool_size);
        builder = match &route.credentials {
            MasCredentials::Client { id, secret, post } => builder
                .client_credentials(id.clone(), secret.expose().to_owned())
                .client_secret_post(*post),
            MasCredentials::Token(token) => builder.admin_token(token.expose().to_owned()),
        };
        if let Some(wait) = http.wait {
            builder = builder.wait(wait);
        }
        builder = match &http.cacert {
            Some(CaCert::File(path)) => builder.cacert(path),
            Some(CaCert::Pem(pem)) => builder.cacert_pem(pem.clone()),
            None => builder,
        };
        Ok(Registrar::Mas(Box::new(builder.build_blocking()?)))
    }

    pub fn as_register(&self) -> &dyn Register {
        match self {
            Registrar::SharedSecret(client) => client.as_ref(),
            Registrar::Mas(client) => client.as_ref(),
        }
    }
}
