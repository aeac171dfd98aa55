//! HTTP-level tests of every demo flow: the demo's axum router is driven in-process by a
//! tiny browser-like client with a one-cookie jar, over memory, cookie, Redis and
//! memcached storage; and the seed's flows again on the demo's actix-web app, served on
//! a real socket, over memory and Redis.

use std::error::Error;
use std::time::Duration;

use http::header::{CACHE_CONTROL, VARY};
use http::Method;
use session_demo::{DemoConfig, StorageKind, COOKIE_NAME};
use session_middleware::{FileLayout, SessionCookie, SigningFormat};

mod accounts;
mod client;
mod react_router;

use client::{assert_attributes, Client, Framework, Reply, FRAMEWORK};

type TestResult<T = ()> = Result<T, Box<dyn Error>>;

const SECRET: &str = "a test secret that is at least thirty-two bytes long";
const FOREIGN_SECRET: &str = "another secret, also at least thirty-two bytes long";

fn config(storage: &StorageKind) -> DemoConfig {
    let mut config = DemoConfig::new(SECRET);
    config.storage = storage.clone();
    // Each test its own keys on the shared servers: the sessions page lists, and "log
    // out everywhere" ends, every session of user 1.
    config.key_prefix = Some(session_tests::servers::unique_prefix("demo"));
    config
}

/// A cookie like the demo's, signing with `secret` under `name` (default format).
fn signer(name: &str, secret: &str) -> TestResult<SessionCookie> {
    Ok(SessionCookie::builder(name).secret(secret).build()?)
}

/// The verified, decoded value of a `__session` cookie the demo set.
fn verified(signed: &str) -> TestResult<String> {
    signer(COOKIE_NAME, SECRET)?
        .verify(signed)
        .ok_or_else(|| "the demo's cookie does not verify with its own secret".into())
}

/// True for by-ID storages, whose records the server can delete (unlike cookie storage,
/// where a copied cookie stays valid).
fn server_side(storage: &StorageKind) -> bool {
    !matches!(storage, StorageKind::Cookie)
}

/// The session ID inside a signed `__session` value: the raw value for by-ID storage,
/// the `i` of the `{"i": id, "d": [values, flash]}` payload for cookie storage.
fn session_id(storage: &StorageKind, signed: &str) -> TestResult<String> {
    let raw = verified(signed)?;
    let id = match storage {
        StorageKind::Memory
        | StorageKind::Redis(_)
        | StorageKind::Memcache(_)
        | StorageKind::File { .. } => raw,
        StorageKind::Cookie => {
            let payload: serde_json::Value = serde_json::from_str(&raw)?;
            assert_eq!(payload["d"].as_array().map(Vec::len), Some(2), "{raw}");
            let id = payload["i"].as_str().ok_or("payload without `i`")?;
            id.to_owned()
        }
    };
    let expected = match storage {
        StorageKind::File {
            layout: FileLayout::ReactRouter,
            ..
        } => 16,
        _ => 43,
    };
    assert_eq!(id.len(), expected, "not a session ID of this storage: {id}");
    Ok(id)
}

/// A client whose session already exists (count 1) and then logged in as `username`.
/// Returns the client and its pre-login cookie.
async fn logged_in(storage: &StorageKind, user: (&str, &str)) -> TestResult<(Client, String)> {
    let mut client = Client::new(&config(storage))?;
    client.expect("/", "Count: 1").await?;
    let before = client.cookie()?;
    let reply = client.login(user.0, user.1).await?;
    reply.assert_redirect("/dashboard");
    Ok((client, before))
}

async fn counter(storage: StorageKind) -> TestResult {
    let mut client = Client::new(&config(&storage))?;
    for expected in 1..=3 {
        client.expect("/", &format!("Count: {expected}")).await?;
    }
    Ok(())
}

async fn untouched_route_sets_no_cookie(storage: StorageKind) -> TestResult {
    let mut client = Client::new(&config(&storage))?;
    let reply = client.get("/untouched").await?;
    reply.assert_ok("ok");
    reply.assert_no_set_cookie();
    client.expect("/", "Count: 1").await?;
    let reply = client.get("/untouched").await?;
    reply.assert_ok("ok");
    reply.assert_no_set_cookie();
    // The live session was left alone.
    client.expect("/", "Count: 2").await
}

async fn reading_sets_no_cookie(storage: StorageKind) -> TestResult {
    let (mut client, _) = logged_in(&storage, ("alice", "wonderland")).await?;
    // Logged in and no flash pending: the guard and the page only read the session.
    for _ in 0..2 {
        let reply = client.get("/dashboard").await?;
        reply.assert_ok("<h1>Dashboard for user 1</h1>");
        reply.assert_no_set_cookie();
    }
    Ok(())
}

async fn flash_shows_once(storage: StorageKind) -> TestResult {
    let mut client = Client::new(&config(&storage))?;
    client.post("/posts", None).await?.assert_redirect("/posts");
    let shown = r#"<div class="success">Post created successfully!</div>"#;
    let reply = client.get("/posts").await?;
    reply.assert_body_contains(shown, true);
    let reply = client.get("/posts").await?;
    reply.assert_body_contains(r#"class="success""#, false);
    Ok(())
}

/// GET /login shows `message` as a flashed error, then no longer does.
async fn assert_login_error_once(client: &mut Client, message: &str) -> TestResult {
    let shown = format!(r#"<div class="error">{message}</div>"#);
    let reply = client.get("/login").await?;
    reply.assert_body_contains(&shown, true);
    let reply = client.get("/login").await?;
    reply.assert_body_contains(r#"class="error""#, false);
    Ok(())
}

async fn guard_redirects_to_login(storage: StorageKind) -> TestResult {
    let mut client = Client::new(&config(&storage))?;
    for path in ["/dashboard", "/profile"] {
        client.expect_redirect(path, "/login").await?;
        assert_login_error_once(&mut client, "Please log in to continue").await?;
    }
    Ok(())
}

async fn failed_login_flashes_an_error(storage: StorageKind) -> TestResult {
    let mut client = Client::new(&config(&storage))?;
    for (username, password) in [("alice", "builder"), ("mallory", "wonderland"), ("", "")] {
        let reply = client.login(username, password).await?;
        reply.assert_redirect("/login");
        assert_login_error_once(&mut client, "Invalid username or password").await?;
    }
    client.expect_redirect("/dashboard", "/login").await
}

async fn login_regenerates_the_id(storage: StorageKind) -> TestResult {
    for (user, id) in [(("alice", "wonderland"), 1), (("bob", "builder"), 2)] {
        let (mut client, before) = logged_in(&storage, user).await?;
        let old_id = session_id(&storage, &before)?;
        assert_ne!(session_id(&storage, &client.cookie()?)?, old_id);
        let dashboard = format!("<h1>Dashboard for user {id}</h1>");
        client.expect("/dashboard", &dashboard).await?;
        let profile = format!("<h1>Profile for user {id}</h1>");
        client.expect("/profile", &profile).await?;
        // The old cookie never carried the login.
        let mut replay = client.fork(Some(&before));
        replay.expect_redirect("/dashboard", "/login").await?;
        if server_side(&storage) {
            // And its server-side record is gone: replaying it starts from scratch.
            client.fork(Some(&before)).expect("/", "Count: 1").await?;
        }
        // Regeneration keeps the data.
        client.expect("/", "Count: 2").await?;
    }
    Ok(())
}

async fn logout_clears_the_cookie(storage: StorageKind) -> TestResult {
    let (mut client, _) = logged_in(&storage, ("bob", "builder")).await?;
    let before = client.cookie()?;
    let reply = client.post("/logout", None).await?;
    reply.assert_redirect("/");
    let (cleared, attributes) = reply.session_set_cookie()?;
    assert_eq!(cleared, "", "the cookie is emptied");
    assert_attributes(&attributes, &["Max-Age=0", "Path=/"]);
    assert_attributes(&attributes, &["Expires=Thu, 01 Jan 1970 00:00:00 GMT"]);
    assert_eq!(reply.header(CACHE_CONTROL), Some("no-store"));
    assert_eq!(client.jar, None);
    client.expect_redirect("/dashboard", "/login").await?;
    if server_side(&storage) {
        // The record was deleted: the pre-logout cookie now names nothing.
        let mut replay = client.fork(Some(&before));
        replay.expect_redirect("/dashboard", "/login").await?;
        client.fork(Some(&before)).expect("/", "Count: 1").await?;
    }
    Ok(())
}

async fn bad_cookies_start_fresh(storage: StorageKind) -> TestResult {
    let mut client = Client::new(&config(&storage))?;
    client.expect("/", "Count: 1").await?;
    let valid = client.cookie()?;
    let valid_id = session_id(&storage, &valid)?;
    let raw = verified(&valid)?;
    let (payload, _tag) = valid.rsplit_once('.').ok_or("signed value without a tag")?;
    // Flip the payload's first character: still base64, no longer what was signed.
    let flipped = if payload.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("{flipped}{}", &valid[1..]);
    // Correctly signed, but by someone else or for another cookie: for memory storage the
    // ID inside is live, so adopting it would show "Count: 2".
    let foreign = signer(COOKIE_NAME, FOREIGN_SECRET)?.sign(&raw)?;
    let other_name = signer("other", SECRET)?.sign(&raw)?;
    let long = "x".repeat(5000);
    let long_signed = format!("{}.{}", "x".repeat(3000), "y".repeat(43));
    let unsigned = [payload, &format!("{payload}."), &raw];
    let badly_signed = [tampered.as_str(), &foreign, &other_name];
    let garbage = ["%%%", "a.b.c", "", &long, &long_signed];
    for value in [&unsigned[..], &badly_signed, &garbage].concat() {
        let header = format!("{COOKIE_NAME}={value}");
        let mut stranger = client.fork(None);
        let reply = stranger.send(Method::GET, "/", None, Some(&header)).await?;
        reply.assert_ok("Count: 1");
        // A fresh session with a new ID, never the presented one.
        let fresh_id = session_id(&storage, &stranger.cookie()?)?;
        assert_ne!(fresh_id, valid_id, "{header}");
    }
    // Duplicates (cookie tossing): the one carrying our signature wins, whatever its place.
    let duplicates = [
        ("garbage", valid.as_str()),
        (&foreign, &valid),
        (&valid, "garbage"),
    ];
    let memory = server_side(&storage);
    for (round, (first, second)) in (0..).zip(duplicates) {
        let header = format!("{COOKIE_NAME}={first}; {COOKIE_NAME}={second}");
        let mut twin = client.fork(None);
        let reply = twin.send(Method::GET, "/", None, Some(&header)).await?;
        // Each twin updates the stored record (memory) but only its own cookie copy
        // (cookie storage), so only the server-side count keeps climbing.
        let count = if memory { 2 + round } else { 2 };
        reply.assert_ok(&format!("Count: {count}"));
        if memory {
            // Updated in place under the valid ID: the browser's cookie stays as it is.
            assert!(reply.session_set_cookie().is_err(), "{header}");
        } else {
            assert_eq!(session_id(&storage, &twin.cookie()?)?, valid_id, "{header}");
        }
    }
    Ok(())
}

/// The attributes every session cookie gets, whatever the configuration.
const SAFE_DEFAULTS: [&str; 3] = ["HttpOnly", "SameSite=Lax", "Path=/"];

async fn set_cookie_attributes(storage: StorageKind) -> TestResult {
    let reply = Client::new(&config(&storage))?.get("/").await?;
    reply.assert_ok("Count: 1");
    let (_, attributes) = reply.session_set_cookie()?;
    assert_attributes(&attributes, &SAFE_DEFAULTS);
    assert!(attributes.contains(&"Secure"), "{attributes:?}");
    // No lifetime configured: a browser-session cookie.
    let max_age = attributes.iter().find(|a| a.starts_with("Max-Age"));
    assert_eq!(max_age, None);
    assert_eq!(reply.header(VARY), Some("Cookie"));
    assert_eq!(reply.header(CACHE_CONTROL), Some("no-store"));

    // The plain-HTTP development switch drops `Secure` and nothing else.
    let mut insecure = config(&storage);
    insecure.insecure_cookie = true;
    let reply = Client::new(&insecure)?.get("/").await?;
    let (_, attributes) = reply.session_set_cookie()?;
    assert!(!attributes.contains(&"Secure"), "{attributes:?}");
    assert_attributes(&attributes, &SAFE_DEFAULTS);
    Ok(())
}

async fn idle_timeout_sets_max_age(storage: StorageKind) -> TestResult {
    let mut with_idle_timeout = config(&storage);
    with_idle_timeout.idle_timeout = Some(Duration::from_secs(60));
    let mut client = Client::new(&with_idle_timeout)?;
    let reply = client.get("/").await?;
    reply.assert_ok("Count: 1");
    assert_attributes(&reply.session_set_cookie()?.1, &["Max-Age=60"]);
    // The lifetime does not cut the session short.
    client.expect("/", "Count: 2").await
}

async fn remix_format_counts(storage: StorageKind) -> TestResult {
    let mut remix = config(&storage);
    remix.cookie_format = SigningFormat::Remix;
    let mut client = Client::new(&remix)?;
    for expected in 1..=3 {
        client.expect("/", &format!("Count: {expected}")).await?;
    }
    // Really the Remix format: the name-bound verifier refuses it, a Remix one accepts it.
    let cookie = client.cookie()?;
    assert_eq!(signer(COOKIE_NAME, SECRET)?.verify(&cookie), None);
    let remix_verifier = SessionCookie::builder(COOKIE_NAME)
        .secret(SECRET)
        .format(SigningFormat::Remix)
        .build()?;
    assert!(remix_verifier.verify(&cookie).is_some());
    Ok(())
}

async fn private_format_counts(storage: StorageKind) -> TestResult {
    let mut private = config(&storage);
    private.cookie_format = SigningFormat::Private;
    let mut client = Client::new(&private)?;
    for expected in 1..=3 {
        client.expect("/", &format!("Count: {expected}")).await?;
    }
    // Encrypted: the signed formats cannot read it, and neither can the client.
    let cookie = client.cookie()?;
    assert_eq!(signer(COOKIE_NAME, SECRET)?.verify(&cookie), None);
    let private_reader = SessionCookie::builder(COOKIE_NAME)
        .secret(SECRET)
        .format(SigningFormat::Private)
        .build()?;
    let plain = private_reader
        .verify(&cookie)
        .ok_or("the private cookie does not open")?;
    if storage == StorageKind::Cookie {
        assert!(plain.contains(r#""count":3"#), "{plain}");
        assert!(!cookie.contains("count"));
    }
    Ok(())
}

/// One `#[tokio::test]` per flow, storage and framework, each a module of `flows`
/// run on `framework` over `storage`: `memory::counter`, `actix_redis::counter`, …
macro_rules! flow_tests {
    ($module:ident, $framework:ident, $storage:expr, $($flow:ident),+ $(,)?) => {
        mod $module {
            #[allow(unused_imports)]
            use session_demo::StorageKind;
            #[allow(unused_imports)]
            use session_tests::servers;

            $(
                #[tokio::test]
                async fn $flow() -> super::TestResult {
                    let flow = super::$flow($storage);
                    super::FRAMEWORK.scope(super::Framework::$framework, flow).await
                }
            )+
        }
    };
}

/// The seed's flows on the actix-web app, over memory and Redis.
macro_rules! on_actix {
    ($($flow:ident),+ $(,)?) => {
        flow_tests!(actix_memory, Actix, StorageKind::Memory, $($flow),+);
        flow_tests!(actix_redis, Actix, StorageKind::Redis(session_demo::RedisOptions::new(servers::redis_url())), $($flow),+);
    };
}

on_actix!(
    counter,
    untouched_route_sets_no_cookie,
    reading_sets_no_cookie,
    flash_shows_once,
    guard_redirects_to_login,
    failed_login_flashes_an_error,
    login_regenerates_the_id,
    logout_clears_the_cookie,
    bad_cookies_start_fresh,
    set_cookie_attributes,
    idle_timeout_sets_max_age,
    remix_format_counts,
    private_format_counts,
);

/// Every flow on the axum app, over every storage (Redis and memcached: the real
/// servers scripts/test starts).
macro_rules! for_each_storage {
    ($($flow:ident),+ $(,)?) => {
        flow_tests!(memory, Axum, StorageKind::Memory, $($flow),+);
        flow_tests!(cookie, Axum, StorageKind::Cookie, $($flow),+);
        flow_tests!(redis, Axum, StorageKind::Redis(session_demo::RedisOptions::new(servers::redis_url())), $($flow),+);
        flow_tests!(memcache, Axum, StorageKind::Memcache(servers::memcache_servers()), $($flow),+);
        flow_tests!(
            file,
            Axum,
            StorageKind::File {
                dir: crate::fs_store::unique_dir("demo"),
                layout: session_middleware::FileLayout::Remix,
            },
            $($flow),+
        );
        flow_tests!(
            file_react_router,
            Axum,
            StorageKind::File {
                dir: crate::fs_store::unique_dir("demo-rr"),
                layout: session_middleware::FileLayout::ReactRouter,
            },
            $($flow),+
        );
    };
}

for_each_storage!(
    counter,
    untouched_route_sets_no_cookie,
    reading_sets_no_cookie,
    flash_shows_once,
    guard_redirects_to_login,
    failed_login_flashes_an_error,
    login_regenerates_the_id,
    logout_clears_the_cookie,
    bad_cookies_start_fresh,
    set_cookie_attributes,
    idle_timeout_sets_max_age,
    remix_format_counts,
    private_format_counts,
    remember_me_chooses_the_cookie_lifetime,
    the_sessions_page_lists_and_revokes,
    api_clients_use_bearer_tokens,
);

use accounts::{
    api_clients_use_bearer_tokens, remember_me_chooses_the_cookie_lifetime,
    the_sessions_page_lists_and_revokes,
};

/// The benchmark's `--session-padding`: every counter session carries that much filler,
/// written once, and the count goes on as before.
#[tokio::test]
async fn session_padding_fills_each_counter_session() -> TestResult {
    for padding in [0, 1000] {
        let mut padded = config(&StorageKind::Cookie);
        padded.session_padding = padding;
        let mut client = Client::new(&padded)?;
        for expected in 1..=2 {
            client.expect("/", &format!("Count: {expected}")).await?;
        }
        // Cookie storage: the session is in the cookie, so its data can be read back.
        let payload: serde_json::Value = serde_json::from_str(&verified(&client.cookie()?)?)?;
        let filler = payload["d"][0]["padding"].as_str().map(str::len);
        assert_eq!(filler, (padding > 0).then_some(padding), "{payload}");
        assert_eq!(payload["d"][0]["count"], 2);
    }
    Ok(())
}

/// A setting the actix-web app does not implement is refused, not ignored.
#[test]
fn the_actix_app_refuses_session_padding() -> TestResult {
    let mut padded = config(&StorageKind::Memory);
    padded.session_padding = 100;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let refused = session_demo::actix::ActixServer::start(&padded, listener);
    let message = refused
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(message.contains("--session-padding"), "{message:?}");
    Ok(())
}
