//! The fault matrix (tests/matrix/fault_rows.rs): one test per row, each
//! also run with -v, against a local misbehaving server; and
//! docs/fault-matrix.md, rendered from the rows, kept current.

mod matrix;
mod stub;

matrix::row_tests!(crate::matrix::fault_rows::ROWS =>
    connection_refused,
    never_answers,
    headers_then_stall,
    closes_mid_response,
    closes_without_answer,
    connection_reset,
    registration_answer_lost,
    proxy_502_html,
    unavailable_503,
    server_error_500_empty,
    ok_not_json,
    nonce_missing,
    nonce_not_a_string,
    huge_body,
    redirect_on_nonce,
    redirect_on_registration,
    rate_limited_429,
    endpoint_not_found,
    wrong_shared_secret,
    registration_disabled,
    nonce_never_recognised,
    tls_to_silent_plain_port,
    tls_to_plain_port,
    plain_http_to_tls_port,
    self_signed_refused,
    self_signed_with_cacert,
    stdout_full,
    stdout_closed,
    trickled_answer,
    custom_reason_phrase,
    registered_empty_answer,
    registered_without_user_id,
    openssl_default_cert_with_cacert,
    cacert_not_the_servers,
    dendrite_bad_mac,
    spam_checker_429,
    proxy_forbids_admin_path,
    delegated_auth_metadata,
);

/// Regenerate with `UPDATE_DOCS=1 cargo test --test faults`.
#[test]
fn fault_matrix_doc_is_current() {
    matrix::check_doc();
}
