//! What the library logs, looked at: the start-up warnings for weak configuration are
//! there, and no log line on any failure path carries a session ID, a secret or a
//! session value (security.md: logs are read by more people than the data is).

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, OnceLock};

use http::StatusCode;
use session_cookie_store::CookieStore;
use session_core::{Session, SessionBackend, StoredSession};
use session_memory_store::MemoryStore;
use session_middleware::{session, SessionCookie, SessionManager};
use session_tests::{Failing, Operation};

use crate::support::{app_on, body_text, cookie, send, session_cookie, session_id, SECRET};

/// A value no log line may ever contain.
const SECRET_VALUE: &str = "hunter2-session-value";

thread_local! {
    /// What this thread's events were formatted into while a capture is on.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Writes into this thread's capture, if one is on; otherwise drops the text.
struct ThreadCapture;

impl Write for ThreadCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|captured| {
            if let Some(buffer) = captured.borrow_mut().as_mut() {
                buffer.extend_from_slice(bytes);
            }
        });
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A capture of what this thread logs, until [`Capture::text`].
struct Capture;

impl Capture {
    /// Everything captured so far; ends the capture.
    fn text(self) -> String {
        let bytes = CAPTURED.with(|captured| captured.borrow_mut().take());
        String::from_utf8_lossy(&bytes.unwrap_or_default()).into_owned()
    }
}

/// Starts capturing what this thread logs, at every level.
///
/// One global subscriber for the whole test binary, writing per thread: a thread-local
/// default subscriber is not enough, since a callsite first reached on another thread
/// while no subscriber wanted it can stay cached as "never interesting".
fn capture() -> Capture {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| ThreadCapture)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in the test binary");
    });
    CAPTURED.with(|captured| *captured.borrow_mut() = Some(Vec::new()));
    Capture
}

fn assert_nothing_secret(logs: &str, ids: &[String]) {
    assert!(
        !logs.contains(SECRET_VALUE),
        "a session value in the logs:\n{logs}"
    );
    assert!(
        !logs.contains(SECRET),
        "the cookie secret in the logs:\n{logs}"
    );
    for id in ids {
        assert!(
            !logs.contains(id.as_str()),
            "a session ID in the logs:\n{logs}"
        );
    }
}

#[test]
fn weak_configuration_is_warned_about_without_the_secret() {
    let captured = capture();
    let weak = "short-secret-value";
    let cookie = SessionCookie::builder("sid")
        .secret(weak)
        .http_only(false)
        .build()
        .expect("valid, if weak");
    SessionManager::new(cookie, MemoryStore::new()).expect("signed");
    let logs = captured.text();
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("shorter than 32 bytes"), "{logs}");
    assert!(logs.contains("without HttpOnly"), "{logs}");
    assert!(!logs.contains(weak), "the secret in the logs:\n{logs}");
}

#[test]
fn a_corrupt_record_is_warned_about_without_its_content() {
    let captured = capture();
    let corrupt = format!(r#"[{{"user": "{SECRET_VALUE}"}}, "not a map"]"#);
    assert!(StoredSession::decode_live(corrupt.as_bytes(), "Redis").is_none());
    let logs = captured.text();
    assert!(logs.contains("corrupt session record"), "{logs}");
    assert_nothing_secret(&logs, &[]);
}

#[tokio::test]
async fn a_signed_cookie_with_a_bad_payload_is_warned_about_without_its_content() {
    let captured = capture();
    // Validly signed (it came from an app holding our secret), but not a payload: the
    // JSON parser's message would quote the value.
    let payload = format!(r#"{{"i": "an-id", "d": "{SECRET_VALUE}"}}"#);
    let backend: Arc<dyn SessionBackend> = Arc::new(CookieStore::new());
    let session = Session::new(backend, Some(payload));
    session.load().await.expect("a fresh session, not an error");
    let logs = captured.text();
    assert!(logs.contains("no valid session payload"), "{logs}");
    assert_nothing_secret(&logs, &[]);
}

/// A forged cookie is refused on its signature before its payload is looked at: the
/// same bytes that are reported as "no valid session payload" once validly signed are,
/// with a wrong tag, only a failed signature (at debug, since any client can send one).
#[tokio::test]
async fn a_forged_cookie_is_refused_before_its_payload_is_parsed() {
    let app = app_on(session(cookie(), CookieStore::new()).expect("layer"));
    let signed = cookie().sign("not session JSON").expect("signed");
    let tag = signed.rfind('.').expect("payload.tag") + 1;
    let mut forged = signed.clone().into_bytes();
    forged[tag] = if forged[tag] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).expect("ASCII");

    let captured = capture();
    let response = send(&app, "/read", Some(&forged)).await;
    let logs = captured.text();
    assert_eq!(body_text(response).await, "Ok(None)");
    assert!(logs.contains("failed signature verification"), "{logs}");
    assert!(
        !logs.contains("no valid session payload"),
        "parsed before it was verified:\n{logs}"
    );

    let captured = capture();
    let response = send(&app, "/read", Some(&signed)).await;
    let logs = captured.text();
    assert_eq!(body_text(response).await, "Ok(None)");
    assert!(
        logs.contains("no valid session payload"),
        "positive control:\n{logs}"
    );
}

#[tokio::test]
async fn failure_paths_log_no_id_and_no_data() {
    let captured = capture();
    let storage = Failing::new(MemoryStore::new());
    let app = app_on(session(cookie(), storage.clone()).expect("layer"));
    let fail_open = app_on(
        session(cookie(), storage.clone())
            .expect("layer")
            .fail_open(true),
    );
    let live = session_cookie(&send(&app, "/write", None).await).expect("a session");
    let id = session_id(&live).as_str().to_owned();

    for (operation, path, app, status) in [
        (
            Operation::Read,
            "/read",
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (Operation::Read, "/read", &fail_open, StatusCode::OK),
        (
            Operation::Update,
            "/write",
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            Operation::Move,
            "/regenerate",
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (
            Operation::Delete,
            "/destroy",
            &app,
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ] {
        storage.fail(operation);
        let response = send(app, path, Some(&live)).await;
        storage.heal();
        assert_eq!(
            response.status(),
            status,
            "{path} while {operation:?} fails"
        );
    }
    let logs = captured.text();
    assert!(logs.contains("failing open"), "{logs}");
    assert!(logs.contains("session could not be saved"), "{logs}");
    assert_nothing_secret(&logs, &[id, live]);
}
