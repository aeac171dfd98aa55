//! The store's unit tests: configuration, keys and lifetimes (no server).

use super::*;

#[test]
fn invalid_urls_are_config_errors() {
    let err = RedisStore::builder()
        .url("http://not-redis")
        .build()
        .expect_err("not a redis URL");
    assert!(
        matches!(
            err,
            Error::Config {
                backend: "Redis",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn keys_use_the_prefix() {
    let store = RedisStore::builder()
        .key_prefix("app:")
        .build()
        .expect("valid");
    let id = SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").expect("uuid");
    assert_eq!(store.key(&id), "app:f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
    let default = create_redis_session_storage("localhost", 6379).expect("valid");
    assert_eq!(
        default.key(&id),
        "session:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"
    );
}

#[test]
fn debug_leaves_out_the_url() {
    let builder = RedisStore::builder().url("redis://:hunter2@localhost/");
    assert!(!format!("{builder:?}").contains("hunter2"));
}

#[cfg(feature = "tls")]
#[test]
fn an_insecure_url_fragment_needs_the_explicit_opt_in() {
    let url = "rediss://localhost:6380/#insecure";
    let refused = RedisStore::builder()
        .url(url)
        .build()
        .expect_err("silent opt-out");
    assert!(refused.to_string().contains("#insecure"), "{refused}");
    RedisStore::builder()
        .url(url)
        .danger_accept_invalid_certificates(true)
        .build()
        .expect("explicitly insecure");
}

#[cfg(all(feature = "tls", feature = "sentinel"))]
#[test]
fn tls_sentinels_are_accepted() {
    RedisStore::builder()
        .sentinel(
            ["rediss://127.0.0.1:26379", "rediss://127.0.0.1:26380"],
            "sessions",
        )
        .build()
        .expect("TLS sentinels");
    let mixed = RedisStore::builder()
        .sentinel(["rediss://127.0.0.1:26379", "127.0.0.1:26380"], "sessions")
        .build()
        .expect_err("mixed schemes");
    assert!(mixed.to_string().contains("mix"), "{mixed}");
}

#[test]
fn lifetimes_take_the_shortest_limit() {
    let store = RedisStore::builder()
        .ttl(Duration::from_secs(100))
        .sliding_ttl(Duration::from_secs(10))
        .build()
        .expect("valid");
    let inner = &store.inner;
    assert!(matches!(inner.lifetime(None), Lifetime::Ttl(Some(d)) if d == Duration::from_secs(10)));
    let past = SystemTime::now() - Duration::from_secs(1);
    assert!(matches!(inner.lifetime(Some(past)), Lifetime::Over));
    let soon = SystemTime::now() + Duration::from_secs(5);
    assert!(
        matches!(inner.lifetime(Some(soon)), Lifetime::Ttl(Some(d)) if d <= Duration::from_secs(5))
    );
}
