//! The bodies of the fuzz targets (`fuzz/fuzz_targets/*.rs`), shared with the test that
//! replays the fuzz corpora on every `scripts/test` run. Each takes arbitrary bytes and
//! must never panic; what each checks beyond that is said on it.

use std::sync::{Arc, OnceLock};

use http::header::{HeaderMap, HeaderValue, COOKIE};
use session_cookie_store::CookieStore;
use session_core::{Session, SessionId, StoredSession};
use session_middleware::{SessionCookie, SessionManager, SigningFormat};

const SECRET: &str = "a fuzzing secret that is at least thirty-two bytes";

fn cookies() -> &'static [SessionCookie; 3] {
    static COOKIES: OnceLock<[SessionCookie; 3]> = OnceLock::new();
    COOKIES.get_or_init(|| {
        [
            SigningFormat::NameBound,
            SigningFormat::Remix,
            SigningFormat::Private,
        ]
        .map(|format| {
            SessionCookie::builder("__session")
                .secret(SECRET)
                .format(format)
                .build()
                .expect("a valid cookie")
        })
    })
}

/// Session ID parsing: anything accepted is canonical (re-parses to itself, is 36 or
/// 43 URL-safe characters).
pub fn session_id(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(id) = SessionId::parse(text) {
        assert_eq!(id.as_str(), text);
        assert!(matches!(text.len(), 36 | 43));
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }
}

/// Signature verification in every format: arbitrary input never verifies unless it is
/// what signing produces, and whatever verifies re-signs to something that verifies to
/// the same value.
pub fn verify(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for cookie in cookies() {
        if let Some(value) = cookie.verify(text) {
            let again = cookie.sign(&value).expect("sign");
            assert_eq!(cookie.verify(&again).as_deref(), Some(value.as_str()));
        }
        // And a genuine value survives being signed.
        let signed = cookie.sign(text).expect("sign");
        assert_eq!(cookie.verify(&signed).as_deref(), Some(text));
    }
}

/// Record and cookie-storage payload decoding: never panics; what parses re-serializes
/// and parses to the same record.
pub fn payload(data: &[u8]) {
    if let Some(record) = StoredSession::decode_live(data, "fuzz") {
        let text = record.to_json().expect("serializes");
        let again = StoredSession::from_json(&text).expect("re-parses");
        assert_eq!(again.data, record.data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let runtime = runtime();
        runtime.block_on(async {
            let session = Session::new(Arc::new(CookieStore::new()), Some(text.to_owned()));
            session
                .load()
                .await
                .expect("cookie storage never fails to load");
            assert!(session.len().is_ok());
        });
    }
}

/// The whole `Cookie` header path: any header bytes give a session (fresh or not),
/// never a panic or an error, whatever the format.
pub fn cookie_header(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, value);
    let runtime = runtime();
    for cookie in cookies() {
        let manager = SessionManager::new(cookie.clone(), CookieStore::new()).expect("signed");
        let session = manager.session_from_headers(&headers);
        runtime.block_on(async {
            session
                .load()
                .await
                .expect("cookie storage never fails to load");
            assert!(session.id().is_ok());
        });
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}
