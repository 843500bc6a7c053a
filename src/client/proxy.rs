//! Which proxy the environment sends a request through, so that an error
//! can name it.

use reqwest::Url;

/// `host:port` of a URL (the port the scheme implies when none is given).
pub(super) fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => url.to_string(),
    }
}

/// The proxy that `http_proxy`, `https_proxy`, `all_proxy` and `no_proxy`
/// select for this URL, by the same rules reqwest applies, as `host:port`
/// (never its credentials).
pub(super) fn environment_proxy(url: &Url) -> Option<String> {
    if no_proxy_for_any_host() {
        return None;
    }
    let uri: http::Uri = url.as_str().parse().ok()?;
    let intercept = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri)?;
    let proxy = intercept.uri();
    let host = proxy.host()?;
    Some(match proxy.port_u16() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// Whether `no_proxy` is `*`, which curl reads as "no proxy for any host".
/// reqwest matches `*` against host names only, so an IP-address URL would
/// still go through the proxy. The variables are read in reqwest's order.
pub(super) fn no_proxy_for_any_host() -> bool {
    ["NO_PROXY", "no_proxy"]
        .iter()
        .find_map(|name| std::env::var(name).ok())
        .is_some_and(|value| value.trim() == "*")
}
