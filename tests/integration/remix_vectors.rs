//! The vectors the real Remix packages produced (`tests/fixtures/remix-vectors.json`, a
//! copy of `shared/remix-vectors.json`): signing, rotation, rejects, attributes, the
//! cookie-storage payload and the server-side record layout.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use http::{header, Request};
use http_body_util::BodyExt;
use serde_json::Value;
use session_cookie_store::CookieStore;
use session_core::{CookieUpdate, Session, SessionData};
use session_demo::{DemoConfig, StorageKind};
use session_middleware::{SameSite, SessionCookie, SessionCookieBuilder, SigningFormat};
use tower::ServiceExt;

fn vectors() -> Value {
    serde_json::from_str(include_str!("../fixtures/remix-vectors.json")).expect("valid JSON")
}

/// A JSON array of strings, as the vectors list secrets.
pub(crate) fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

fn remix_cookie(secrets: &[String]) -> SessionCookieBuilder {
    SessionCookie::builder("__session")
        .secrets(secrets.iter().map(String::as_str))
        .format(SigningFormat::Remix)
}

/// `name=value` and the set of attributes, compared without regard to order or case
/// (browsers ignore both; Remix writes `SameSite=lax` verbatim when given `lax`).
fn parts(set_cookie: &str) -> (String, BTreeSet<String>) {
    let mut pieces = set_cookie.split("; ");
    let pair = pieces.next().expect("name=value").to_owned();
    (pair, pieces.map(str::to_ascii_lowercase).collect())
}

fn header_text(value: &http::HeaderValue) -> &str {
    value.to_str().expect("ASCII header")
}

#[test]
fn every_signing_vector_signs_and_verifies_identically() {
    let vectors = vectors();
    let signing = vectors["signing"].as_array().expect("signing vectors");
    assert_eq!(signing.len(), 18);
    for vector in signing {
        let secrets = strings(&vector["secrets"]);
        let cookie = remix_cookie(&secrets)
            .http_only(true)
            .secure(true)
            .same_site(SameSite::Lax)
            .build()
            .expect("valid cookie");
        let value = vector["value"].as_str().expect("value");
        let signed = vector["cookie_value"].as_str().expect("cookie_value");
        assert_eq!(
            cookie.sign(value).expect("sign"),
            signed,
            "signing {value:?} with {secrets:?}"
        );
        assert_eq!(
            cookie.verify(signed).as_deref(),
            vector["parsed_back"].as_str()
        );
        let ours = cookie.set_cookie(value).expect("fits");
        let theirs = vector["set_cookie"].as_str().expect("set_cookie");
        assert_eq!(parts(header_text(&ours)), parts(theirs));
    }
}

#[test]
fn the_rotation_vector_verifies_with_new_and_old_secrets() {
    let rotation = &vectors()["rotation"];
    let verify_with = strings(&rotation["verify_with"]);
    let signed_with = strings(&rotation["signed_with"]);
    let signed = rotation["cookie_value"].as_str().expect("cookie_value");
    let parsed = rotation["parsed"].as_str().expect("parsed");

    let old = remix_cookie(&signed_with).build().expect("valid");
    assert_eq!(old.sign(parsed).expect("sign"), signed);

    let rotated = remix_cookie(&verify_with)
        .http_only(false)
        .secure(false)
        .build()
        .expect("valid");
    assert_eq!(rotated.verify(signed).as_deref(), Some(parsed));
    let resigned = rotated.set_cookie(parsed).expect("fits");
    let expected = rotation["resigned_set_cookie"].as_str().expect("resigned");
    assert_eq!(parts(header_text(&resigned)), parts(expected));

    let new_only = remix_cookie(&verify_with[..1]).build().expect("valid");
    assert_eq!(new_only.verify(signed), None, "the old secret was needed");
}

#[test]
fn every_reject_vector_is_rejected() {
    let vectors = vectors();
    let rejects = vectors["rejects"].as_array().expect("rejects");
    assert_eq!(rejects.len(), 6);
    for vector in rejects {
        let cookie = remix_cookie(&strings(&vector["secrets"]))
            .build()
            .expect("valid");
        let signed = vector["cookie_value"].as_str().expect("cookie_value");
        assert_eq!(cookie.verify(signed), None, "{signed:?} verified");
        // And in our own format, which must reject them as well.
        let ours = SessionCookie::builder("__session")
            .secrets(strings(&vector["secrets"]))
            .build()
            .expect("valid");
        assert_eq!(ours.verify(signed), None);
    }
}

/// Seconds since the epoch of an ISO date at midnight UTC ("2030-01-01T00:00:00.000Z").
fn iso_midnight(text: &str) -> SystemTime {
    let date: Vec<i64> = text[..10]
        .split('-')
        .map(|n| n.parse().expect("digits"))
        .collect();
    let (y, m, d) = (date[0], date[1], date[2]);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    UNIX_EPOCH + Duration::from_secs(u64::try_from(days * 86_400).expect("after 1970"))
}

fn cookie_from_options(options: &Value) -> SessionCookie {
    let mut builder = remix_cookie(&strings(&options["secrets"]))
        // Remix's cookie package adds neither unless asked.
        .http_only(options["httpOnly"].as_bool().unwrap_or(false))
        .secure(options["secure"].as_bool().unwrap_or(false))
        .partitioned(options["partitioned"].as_bool().unwrap_or(false));
    if let Some(same_site) = options["sameSite"].as_str() {
        builder = builder.same_site(match same_site {
            "Strict" => SameSite::Strict,
            "None" => SameSite::None,
            _ => SameSite::Lax,
        });
    }
    if let Some(max_age) = options["maxAge"].as_u64() {
        builder = builder.max_age(Duration::from_secs(max_age));
    }
    if let Some(domain) = options["domain"].as_str() {
        builder = builder.domain(domain);
    }
    if let Some(path) = options["path"].as_str() {
        builder = builder.path(path);
    }
    if let Some(expires) = options["expires"].as_str() {
        builder = builder.expires(iso_midnight(expires));
    }
    builder.build().expect("valid cookie")
}

#[test]
fn attribute_vectors_serialise_like_remix_and_clear_for_real() {
    let vectors = vectors();
    let attributes = vectors["attributes"].as_array().expect("attributes");
    assert_eq!(attributes.len(), 4);
    for vector in attributes {
        let cookie = cookie_from_options(&vector["options"]);
        let ours = cookie.set_cookie("v").expect("fits");
        let theirs = vector["set_cookie"].as_str().expect("set_cookie");
        assert_eq!(parts(header_text(&ours)), parts(theirs));

        // Remix clears with an empty value and leaves the cookie's lifetime alone, so
        // browsers keep an empty cookie. We send the same attributes but really expire
        // it: Max-Age=0 and an Expires in 1970 replace the configured ones.
        let (their_pair, their_attributes) =
            parts(vector["clear_cookie"].as_str().expect("clear_cookie"));
        let mut expected: BTreeSet<String> = their_attributes
            .into_iter()
            .filter(|a| !a.starts_with("max-age=") && !a.starts_with("expires="))
            .collect();
        expected.insert("max-age=0".into());
        expected.insert("expires=thu, 01 jan 1970 00:00:00 gmt".into());
        let clear = cookie.clear_cookie().expect("renders");
        assert_eq!(parts(header_text(&clear)), (their_pair, expected));
    }
}

#[tokio::test]
async fn a_remix_cookie_storage_payload_reads_and_saves_identically() {
    let vectors = vectors();
    let vector = &vectors["cookie_storage"];
    let after = &vector["after_read"];
    let payload = vector["payload"].as_str().expect("payload");
    let session = Session::new(Arc::new(CookieStore::new()), Some(payload.to_owned()));
    session.load().await.expect("load");
    assert_eq!(
        session.id().expect("id").as_str(),
        vector["session_id"].as_str().expect("id")
    );
    for (key, value) in after["values"].as_object().expect("values") {
        assert_eq!(session.get_value(key).expect("get").as_ref(), Some(value));
    }
    assert_eq!(
        session.get_value("notice").expect("get").as_ref(),
        Some(&after["flash_visible"])
    );
    assert_eq!(Value::Bool(session.is_dirty()), after["dirty_on_load"]);
    let update = session.commit().await.expect("commit");
    let next = after["next_save"].as_str().expect("next_save");
    let expected = CookieUpdate::Set {
        value: next.to_owned(),
        expires: None,
        // A cookie-storage payload changes with the data: always sent.
        same_value: false,
        persistent: true,
    };
    assert_eq!(update, expected);
}

#[test]
fn the_server_side_record_layout_is_remixs() {
    let vectors = vectors();
    let record = &vectors["server_side_record"];
    for field in ["redis_value", "memcache_value"] {
        let text = record[field].as_str().expect("record");
        let data: SessionData = serde_json::from_str(text).expect("a Remix record parses");
        assert_eq!(data.values["user"]["name"], "Zoë");
        assert_eq!(data.flash["notice"], "saved");
        assert_eq!(serde_json::to_string(&data).expect("serializes"), text);
    }
}

/// A cookie that Node's Remix signed (`{"i":…,"d":[{"count":3},{}]}`) is read by the
/// Rust demo in Remix format, and the counter goes on from 3.
#[tokio::test]
async fn the_demo_continues_a_session_that_remix_signed() {
    let vectors = vectors();
    let vector = vectors["signing"]
        .as_array()
        .expect("signing")
        .iter()
        .find(|v| v["value"].as_str().is_some_and(|s| s.starts_with("{\"i\"")))
        .expect("a cookie-storage vector");
    let mut config = DemoConfig::new("s3cr3t");
    config.storage = StorageKind::Cookie;
    config.cookie_format = SigningFormat::Remix;
    let app = session_demo::app(&config).expect("app");
    let cookie = format!(
        "__session={}",
        vector["cookie_value"].as_str().expect("value")
    );
    let request = Request::get("/")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("response");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&body[..], b"Count: 4");
}

/// A session record Remix wrote (the vector, under the vector's key) that a request
/// here changes and saves by merging: the result is still Remix's layout, with the
/// member the request did not touch copied byte for byte, on Redis and on memcached.
#[tokio::test]
async fn a_remix_record_merged_here_is_still_remixs_layout() {
    use async_memcached::AsciiProtocol;
    use redis::AsyncCommands;
    use session_core::SessionBackend;

    let vectors = vectors();
    let record = &vectors["server_side_record"];
    let text = |field: &str| record[field].as_str().expect("a vector field").to_owned();
    let id = text("session_id");

    let redis_store = session_redis_store::RedisStore::builder()
        .url(session_tests::servers::redis_url())
        .build()
        .expect("valid");
    let mut redis = redis::Client::open(session_tests::servers::redis_url())
        .expect("URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let _: () = redis
        .set(text("redis_key"), text("redis_value"))
        .await
        .expect("set");
    save_a_change(Arc::new(redis_store), &id).await;
    let merged: String = redis.get(text("redis_key")).await.expect("get");
    assert_remix_layout_after_the_change(&merged);

    let servers = session_tests::servers::memcache_servers();
    let memcache_store = session_memcache_store::MemcacheStore::builder()
        .servers(servers.clone())
        .build()
        .expect("valid");
    let key = text("memcache_key");
    let session_id = session_core::SessionId::parse(&id).expect("a UUID is a valid ID");
    let server = memcache_store.server_for(&session_id).to_owned();
    let mut memcached = async_memcached::Client::new(format!("tcp://{server}"))
        .await
        .expect("memcached answers");
    memcached
        .set(&key, &text("memcache_value"), None, None)
        .await
        .expect("set");
    save_a_change(Arc::new(memcache_store), &id).await;
    let merged = memcached
        .get(&key)
        .await
        .expect("get")
        .and_then(|value| value.data)
        .expect("still there");
    assert_remix_layout_after_the_change(std::str::from_utf8(&merged).expect("UTF-8"));

    /// One request on the Remix session: reads the flash, bumps the counter.
    async fn save_a_change(backend: Arc<dyn SessionBackend>, id: &str) {
        let session = Session::new(backend, Some(id.to_owned()));
        session.load().await.expect("load");
        assert_eq!(session.get::<u32>("count").expect("count"), Some(3));
        assert_eq!(
            session.get::<String>("notice").expect("flash").as_deref(),
            Some("saved")
        );
        session.increment("count", 1).expect("a counter");
        let update = session.commit().await.expect("commit");
        assert!(matches!(update, CookieUpdate::Set { .. }), "{update:?}");
    }

    /// What `JSON.parse(record)` gives Remix: `[0]` the values, `[1]` the flash.
    fn assert_remix_layout_after_the_change(merged: &str) {
        let parsed: Value = serde_json::from_str(merged).expect("JSON");
        assert_eq!(parsed[0]["count"], 4, "{merged}");
        assert_eq!(parsed[0]["user"]["name"], "Zoë", "{merged}");
        assert_eq!(parsed[1], serde_json::json!({}), "the flash was consumed");
        assert!(
            merged.contains(r#""user":{"id":7,"name":"Zoë"}"#),
            "{merged}"
        );
    }
}
