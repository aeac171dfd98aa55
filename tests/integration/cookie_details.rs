//! Cookie details, each pinned where a regression would show: which of several cookies
//! is ours, `SessionCookie::parse`, `Partitioned` on the wire, and the `Max-Age`
//! that follows the server's idle timeout.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::Router;
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue, Request};
use session_core::{ManualClock, SessionStorage};
use session_memory_store::MemoryStore;
use session_middleware::{session, SameSite, SessionCookie, SessionManager, MAX_COOKIE_SIZE};
use tower::ServiceExt;

use crate::support::{
    app, app_on, app_with, body_text, cookie, send, session_cookie, session_id, SECRET,
};

/// `GET /read` with these `Cookie` headers; the body (`Ok(Some(n))` or `Ok(None)`).
async fn read_with(app: &Router, cookie_headers: &[&str]) -> String {
    let mut request = Request::get("/read");
    for header in cookie_headers {
        request = request.header(COOKIE, *header);
    }
    let request = request.body(Body::empty()).expect("request");
    body_text(app.clone().oneshot(request).await.expect("infallible")).await
}

/// A session of `app` whose count is `n`, and its cookie value.
async fn session_with_count(app: &Router, n: u64) -> String {
    let live = session_cookie(&send(app, "/write", None).await).expect("a session cookie");
    for _ in 1..n {
        send(app, "/write", Some(&live)).await;
    }
    live
}

/// Two cookies of our name, both validly signed by us (a sibling subdomain tossed a
/// session of its own): the first one in the request wins, as SECURITY.md says.
#[tokio::test]
async fn of_two_validly_signed_duplicates_the_first_wins() {
    let app = app(MemoryStore::new());
    let one = session_with_count(&app, 1).await;
    let two = session_with_count(&app, 2).await;
    let forged = SessionCookie::builder("sid")
        .secret("an attacker's secret, thirty-two bytes or more")
        .build()
        .expect("valid")
        .sign("x")
        .expect("sign");
    let cases = [
        (vec![format!("sid={one}; sid={two}")], "Ok(Some(1))"),
        (vec![format!("sid={two}; sid={one}")], "Ok(Some(2))"),
        (
            vec![format!("sid={two}"), format!("sid={one}")],
            "Ok(Some(2))",
        ),
        (
            vec![format!("sid={forged}; sid={one}; sid={two}")],
            "Ok(Some(1))",
        ),
    ];
    for (headers, expected) in cases {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        assert_eq!(read_with(&app, &headers).await, expected, "{headers:?}");
    }
}

/// Cookie names are case-sensitive and matched whole: our signed value under a name
/// that differs by case, or that has ours as a prefix or suffix, is not our cookie.
#[tokio::test]
async fn a_name_matching_only_by_case_or_prefix_is_not_ours() {
    let app = app(MemoryStore::new());
    let live = session_with_count(&app, 1).await;
    assert_eq!(
        read_with(&app, &[&format!(" sid = {live}")]).await,
        "Ok(Some(1))"
    );
    for name in [
        "SID",
        "Sid",
        "sID",
        "sid2",
        "sid_old",
        "xsid",
        "__Host-sid",
        "si",
        "s",
    ] {
        let header = format!("{name}={live}");
        assert_eq!(read_with(&app, &[&header]).await, "Ok(None)", "{header}");
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        HeaderValue::from_str(&format!("SID={live}; sidx={live}")).expect("header"),
    );
    assert_eq!(cookie().parse(&headers), None);
}

/// `SessionCookie::parse` (Remix's `cookie.parse`): the decoded value of the first
/// cookie of our name that verifies, across every `Cookie` header.
#[test]
fn parse_returns_the_first_value_that_verifies() {
    let ours = cookie();
    let forged = SessionCookie::builder("sid")
        .secret("another secret, thirty-two bytes or more!")
        .build()
        .expect("valid")
        .sign("forged")
        .expect("sign");
    let first = ours.sign("first").expect("sign");
    let second = ours.sign("second").expect("sign");
    let headers = |values: &[String]| {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(COOKIE, HeaderValue::from_str(value).expect("header"));
        }
        map
    };
    let cases = [
        (
            vec![
                format!("theme=dark; sid={forged}; sid={first}"),
                format!("sid={second}"),
            ],
            Some("first"),
        ),
        (
            vec![format!("sid=garbage"), format!("sid={second}; sid={first}")],
            Some("second"),
        ),
        (vec![format!("sid={forged}; other={first}")], None),
        (vec![], None),
    ];
    for (values, expected) in cases {
        assert_eq!(
            ours.parse(&headers(&values)).as_deref(),
            expected,
            "{values:?}"
        );
    }
}

/// `Partitioned` (CHIPS) reaches the browser, on the cookie that sets the session and
/// on the one that clears it (a clear without it would not match the partitioned one).
#[tokio::test]
async fn partitioned_is_sent_when_setting_and_clearing() {
    let partitioned = SessionCookie::builder("sid")
        .secret(SECRET)
        .same_site(SameSite::None)
        .partitioned(true)
        .build()
        .expect("valid");
    let app = app_with(partitioned.clone(), MemoryStore::new());
    let set = send(&app, "/write", None).await;
    let live = session_cookie(&set).expect("a session cookie");
    let clear = send(&app, "/destroy", Some(&live)).await;
    let headers = [
        set.headers()[http::header::SET_COOKIE].clone(),
        clear.headers()[http::header::SET_COOKIE].clone(),
        partitioned.set_cookie("v").expect("renders"),
        partitioned.clear_cookie().expect("renders"),
    ];
    for header in headers {
        let text = header.to_str().expect("ASCII");
        let attributes: Vec<&str> = text.split("; ").skip(1).collect();
        for expected in ["Partitioned", "Secure", "SameSite=None"] {
            assert!(
                attributes.contains(&expected),
                "{expected} missing in {text}"
            );
        }
    }
}

/// The `Max-Age` a response sends, if any.
fn max_age(response: &http::Response<Body>) -> Option<String> {
    let header = response
        .headers()
        .get(http::header::SET_COOKIE)?
        .to_str()
        .ok()?;
    header
        .split("; ")
        .find_map(|attribute| attribute.strip_prefix("Max-Age="))
        .map(str::to_owned)
}

/// `Max-Age` counts whole seconds up to the server's deadline, rounding a fraction up:
/// the browser may keep the cookie a moment longer than the server, never drop it
/// while the server still holds the session. On a manual clock, so the fraction is
/// exact.
#[tokio::test]
async fn max_age_rounds_the_time_left_up_to_whole_seconds() {
    let time = ManualClock::starting_now();
    let layer = session(cookie(), MemoryStore::new())
        .expect("layer")
        .idle_timeout(Duration::from_secs(60))
        .absolute_timeout(Duration::from_secs(100))
        .clock(time.clock());
    let app = app_on(layer);
    let response = send(&app, "/write", None).await;
    assert_eq!(
        max_age(&response).as_deref(),
        Some("60"),
        "a whole minute left"
    );
    let live = session_cookie(&response).expect("cookie");
    // 40.5 s on, a read pushes the idle deadline, capped by the absolute one at 100 s:
    // 59.5 s left.
    time.advance(Duration::from_millis(40_500));
    let response = send(&app, "/read", Some(&live)).await;
    assert_eq!(
        max_age(&response).as_deref(),
        Some("60"),
        "59.5 s, rounded up"
    );
}

/// By default the cookie's `Max-Age` is also the server's idle timeout (Remix's one
/// lifetime knob): the stored record gets that deadline. An idle timeout set on the
/// layer wins, and the cookie's `Max-Age` then follows it, not the configured one.
#[tokio::test]
async fn max_age_and_the_server_idle_timeout_follow_each_other() {
    let hour = Duration::from_secs(3600);
    let with_max_age = SessionCookie::builder("sid")
        .secret(SECRET)
        .max_age(hour)
        .build()
        .expect("valid");
    let storage = MemoryStore::new();
    let app = app_with(with_max_age.clone(), storage.clone());
    let before = SystemTime::now();
    let response = send(&app, "/write", None).await;
    let after = SystemTime::now();
    assert_eq!(max_age(&response).as_deref(), Some("3600"));
    let live = session_cookie(&response).expect("a session cookie");
    let stored = storage
        .read(&session_id(&live))
        .await
        .expect("read")
        .expect("stored");
    let deadline = stored
        .expires
        .expect("the cookie's Max-Age is the server's idle timeout");
    assert!(
        before + hour <= deadline && deadline <= after + hour,
        "the stored deadline is not the save time plus the cookie's Max-Age"
    );

    let manager = SessionManager::new(with_max_age.clone(), MemoryStore::new()).expect("manager");
    assert_eq!(manager.session_policy().idle_timeout, Some(hour));

    let layer = session(with_max_age, MemoryStore::new())
        .expect("layer")
        .idle_timeout(Duration::from_secs(60));
    let response = send(&app_on(layer), "/write", None).await;
    assert_eq!(
        max_age(&response).as_deref(),
        Some("60"),
        "the server's idle timeout"
    );
}

/// Browsers cap a cookie's lifetime at 400 days; so does the layer, whatever the
/// server-side idle timeout (which stays as configured).
#[tokio::test]
async fn a_long_idle_timeout_sends_at_most_400_days() {
    let ten_years = Duration::from_secs(10 * 365 * 24 * 3600);
    let layer = session(cookie(), MemoryStore::new())
        .expect("layer")
        .idle_timeout(ten_years);
    let response = send(&app_on(layer), "/write", None).await;
    assert_eq!(max_age(&response).as_deref(), Some("34560000"));
}

/// The 4096-byte cap holds on the way in too: a validly signed value just over it is
/// ignored (a fresh session), one exactly at it loads. "Just over" is 4098 bytes: with
/// the 44 bytes of `.tag`, no payload length gives unpadded base64 of exactly 4097.
#[tokio::test]
async fn validly_signed_values_over_the_cap_are_ignored_on_read() {
    let app = app(session_cookie_store::CookieStore::new());
    let live = session_cookie(&send(&app, "/write", None).await).expect("cookie");
    let payload = cookie().verify(&live).expect("ours");
    // JSON allows trailing whitespace: pad the payload to the length wanted.
    let signed_at = |length: usize| {
        (0..4096)
            .map(|pad| {
                cookie()
                    .sign(&format!("{payload}{}", " ".repeat(pad)))
                    .expect("signed")
            })
            .find(|signed| signed.len() == length)
            .expect("a padding gives that length")
    };
    let read = |value: String| {
        let app = app.clone();
        async move { body_text(send(&app, "/read", Some(&value)).await).await }
    };
    assert_eq!(read(signed_at(MAX_COOKIE_SIZE)).await, "Ok(Some(1))");
    assert_eq!(read(signed_at(MAX_COOKIE_SIZE + 2)).await, "Ok(None)");
}
