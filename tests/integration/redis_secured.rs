//! Redis as production runs it: over TLS (with and without client certificates) and
//! behind a password and an ACL user. Each test starts its own servers, on a
//! throw-away PKI the openssl CLI makes at test time (`session_tests::servers`).

use std::time::Duration;

use session_core::{Error, SessionId, SessionStorage, StoredSession};
use session_redis_store::{RedisStore, RedisStoreBuilder};
use session_tests::servers::{ClientCerts, RedisServer, TestPki};
use session_tests::Hosted;

use crate::support::full_message;

/// A TLS server (client certificates `certs`) and the PKI it runs on.
struct TlsServer {
    pki: TestPki,
    server: RedisServer,
}

impl TlsServer {
    fn start(certs: ClientCerts) -> Self {
        let pki = TestPki::generate();
        let server = RedisServer::start_tls(&pki, certs);
        Self { pki, server }
    }

    /// A builder for this server that trusts its CA.
    fn builder(&self) -> RedisStoreBuilder {
        RedisStore::builder()
            .url(self.server.tls_url())
            .ca_certificate_file(self.pki.ca_cert_path())
            .connect_timeout(Duration::from_secs(2))
            .command_timeout(Duration::from_secs(2))
    }
}

fn tls_store() -> Hosted<RedisStore> {
    let tls = TlsServer::start(ClientCerts::Optional);
    let store = tls.builder().build().expect("valid TLS configuration");
    Hosted::new(store, tls)
}

fn mutual_tls_store() -> Hosted<RedisStore> {
    let tls = TlsServer::start(ClientCerts::Required);
    let store = tls
        .builder()
        .client_certificate_files(tls.pki.client_cert_path(), tls.pki.client_key_path())
        .build()
        .expect("valid mutual TLS configuration");
    Hosted::new(store, tls)
}

fn acl_store() -> Hosted<RedisStore> {
    let server = RedisServer::start_with_acl();
    let store = RedisStore::builder()
        .url(server.url())
        .username(RedisServer::ACL_USER)
        .password(RedisServer::ACL_PASSWORD)
        .build()
        .expect("valid ACL configuration");
    Hosted::new(store, server)
}

mod tls {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(tls_store());
    backend_conformance!(tls_store(), Capabilities::SERVER_SIDE);
}

mod mutual_tls {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(mutual_tls_store());
    backend_conformance!(mutual_tls_store(), Capabilities::SERVER_SIDE);
}

mod acl {
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    use super::*;

    storage_conformance!(acl_store());
    backend_conformance!(acl_store(), Capabilities::SERVER_SIDE);
}

/// The error a read through `store` gives, within a bound far above the timeouts (a
/// hang fails the test instead of stalling the suite).
async fn read_error(store: &RedisStore) -> Error {
    let id = SessionId::generate().expect("id");
    let read = tokio::time::timeout(Duration::from_secs(20), store.read(&id))
        .await
        .expect("the store answers within its timeouts, never hangs");
    read.expect_err("the read must fail")
}

#[tokio::test]
async fn an_untrusted_ca_is_named_as_such() {
    let tls = TlsServer::start(ClientCerts::Optional);
    let store = tls
        .builder()
        .ca_certificate_file(tls.pki.other_ca_cert_path())
        .build()
        .expect("valid configuration");
    let error = read_error(&store).await;
    assert!(error.is_unavailable(), "{error}");
    let message = full_message(&error);
    assert!(
        message.contains("not signed by a CA this store trusts"),
        "{message}"
    );
}

#[tokio::test]
async fn a_hostname_mismatch_is_named_as_such() {
    let tls = TlsServer::start(ClientCerts::Optional);
    // The server's certificate names localhost only.
    let store = tls
        .builder()
        .url(tls.server.tls_url().replace("localhost", "127.0.0.1"))
        .build()
        .expect("valid configuration");
    let message = full_message(&read_error(&store).await);
    assert!(
        message.contains("does not name the host in the URL"),
        "{message}"
    );
}

#[tokio::test]
async fn a_missing_client_certificate_is_named_as_such() {
    let tls = TlsServer::start(ClientCerts::Required);
    let store = tls.builder().build().expect("valid configuration");
    let message = full_message(&read_error(&store).await);
    assert!(
        message.contains("requires a client certificate"),
        "{message}"
    );
}

#[tokio::test]
async fn skipping_verification_is_possible_but_explicit() {
    let tls = TlsServer::start(ClientCerts::Optional);
    let store = tls
        .builder()
        .url(tls.server.tls_url().replace("localhost", "127.0.0.1"))
        .ca_certificate_file(tls.pki.other_ca_cert_path())
        .danger_accept_invalid_certificates(true)
        .build()
        .expect("valid configuration");
    let id = SessionId::generate().expect("id");
    assert!(store
        .create(&id, &StoredSession::default())
        .await
        .expect("no verification: connects"));
    assert!(store.read(&id).await.expect("reads").is_some());
}

#[test]
fn tls_settings_are_checked_when_the_store_is_built() {
    let url = "rediss://localhost:6380/";
    let missing = RedisStore::builder()
        .url(url)
        .ca_certificate_file("/nonexistent/ca.pem")
        .build()
        .expect_err("no such file");
    assert!(matches!(missing, Error::Config { .. }), "{missing}");
    assert!(
        missing.to_string().contains("/nonexistent/ca.pem"),
        "{missing}"
    );

    let plain = RedisStore::builder()
        .url("redis://127.0.0.1:6379/")
        .ca_certificate_pem("any")
        .build()
        .expect_err("TLS options without TLS");
    assert!(plain.to_string().contains("use rediss://"), "{plain}");

    let garbage = RedisStore::builder()
        .url(url)
        .client_certificate_pem("not a certificate", "not a key")
        .build()
        .expect_err("no PEM in it");
    assert!(matches!(garbage, Error::Config { .. }), "{garbage}");
}

#[tokio::test]
async fn credentials_in_the_url_work_too() {
    let server = RedisServer::start_with_acl();
    let url = server.url().replace(
        "redis://",
        &format!(
            "redis://{}:{}@",
            RedisServer::ACL_USER,
            RedisServer::ACL_PASSWORD
        ),
    );
    let store = RedisStore::builder().url(url).build().expect("valid");
    let id = SessionId::generate().expect("id");
    assert!(store
        .create(&id, &StoredSession::default())
        .await
        .expect("authenticated"));
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_error_without_the_password() {
    let server = RedisServer::start_with_acl();
    let wrong = "not-the-password-7f3a";
    let store = RedisStore::builder()
        .url(server.url())
        .username(RedisServer::ACL_USER)
        .password(wrong)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("valid configuration");
    let error = read_error(&store).await;
    let message = full_message(&error);
    assert!(message.contains("authentication failed"), "{message}");
    assert!(!message.contains(wrong), "the password leaked: {message}");
    assert!(!format!("{error:?}").contains(wrong), "the password leaked");
    assert!(!format!("{store:?}").contains(wrong));
}

#[tokio::test]
async fn no_password_says_one_is_required() {
    let server = RedisServer::start_with_acl();
    let store = RedisStore::builder()
        .url(server.url())
        .build()
        .expect("valid configuration");
    let message = full_message(&read_error(&store).await);
    assert!(message.contains("authentication required"), "{message}");
}

#[test]
fn the_builder_never_shows_credentials() {
    let builder = RedisStore::builder()
        .url("redis://user:url-secret@127.0.0.1:6379/")
        .username("user")
        .password("builder-secret");
    let shown = format!("{builder:?}");
    assert!(!shown.contains("url-secret") && !shown.contains("builder-secret"));
}
