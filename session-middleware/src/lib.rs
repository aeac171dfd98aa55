//! Signed-cookie sessions for any `http`-based Rust server: a tower [`Layer`](tower_layer::Layer) (axum,
//! hyper, tonic, …) over pluggable storage, modelled on Remix's `session-middleware`.
//!
//! # Example
//!
//! ```
//! use http::{header, Request, Response};
//! use http_body_util::BodyExt;
//! use session_middleware::{session, MemoryStore, Session, SessionCookie};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let cookie = SessionCookie::builder("__session")
//!     .secret("replace me with 32+ random bytes from your secret store")
//!     .build()?;
//! let layer = session(cookie, MemoryStore::new())?;
//!
//! let app = layer.layer(service_fn(|request: Request<String>| async move {
//!     let session = request.extensions().get::<Session>().cloned().expect("session layer");
//!     session.load().await?;
//!     let count = session.get::<u64>("count")?.unwrap_or(0) + 1;
//!     session.set("count", count)?;
//!     Ok::<_, session_middleware::Error>(Response::new(format!("Count: {count}")))
//! }));
//!
//! let response = app.oneshot(Request::new(String::new())).await?;
//! assert!(response.headers().contains_key(header::SET_COOKIE));
//! // The handler's body, inside the layer's `SessionBody`.
//! let body = response.into_body().collect().await?.to_bytes();
//! assert_eq!(body, "Count: 1");
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! With the `axum` feature, handlers simply take a [`Session`] argument: the extractor
//! loads it.
//!
//! # What happens on a request
//!
//! 1. The layer looks for the session cookie in the `Cookie` headers (other cookies,
//!    duplicates and garbage are tolerated) and puts a not-yet-loaded [`Session`] in the
//!    request extensions. Nothing is verified or read yet.
//! 2. When the handler first loads the session, the cookie's signature is verified in
//!    constant time, then the storage is asked. A missing, tampered, unsigned,
//!    foreign-secret or unknown cookie gives a fresh session with a new ID, never an
//!    error and never the presented ID.
//! 3. After the handler, a changed session is saved and one `Set-Cookie` is appended
//!    (with `Vary: Cookie` and `Cache-Control: no-store`); a destroyed one is deleted and
//!    its cookie cleared; an unchanged or never-loaded one costs nothing.
//! 4. If saving fails, the client gets an empty 503 (storage outage) or 500 response and
//!    a `tracing` error names the cause: success is never reported for a failed write.
//!    A gRPC call gets HTTP 200 with `grpc-status` 14 or 13 instead (trailers-only).
//!
//! # Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `cookie-store` | yes | [`CookieStore`]: the whole session in the signed cookie |
//! | `memory-store` | yes | [`MemoryStore`]: in-process storage with expiry |
//! | `fs-store` | no | `FsStore`: one file per session, in Remix's or React Router's layout |
//! | `redis-store` | no | `RedisStore`: Redis over shared multiplexed connections, concurrent commands batched |
//! | `redis-cluster` | no | Redis Cluster support in `RedisStore` |
//! | `redis-tls` | no | `rediss://` (rustls) in `RedisStore`: custom CAs, client certificates |
//! | `redis-sentinel` | no | Redis Sentinel in `RedisStore` |
//! | `redis-deadpool` | no | `RedisStore` on the application's `deadpool_redis::Pool` |
//! | `redis-connection-manager` | no | `RedisStore` on the application's `redis::aio::ConnectionManager` |
//! | `memcache-store` | no | `MemcacheStore`: memcached over several servers, multiplexed meta-protocol connections |
//! | `axum` | no | `Session` as an axum extractor, [`Error`] as an axum response |
//!
//! # Frameworks without tower
//!
//! [`SessionManager`] does the same work as two calls: build the session from the
//! request headers, then commit it into the response headers. `session-actix` is that, for
//! actix-web: a middleware and a `Session` extractor on the manager.
//!
//! # Security
//!
//! Secure defaults (`HttpOnly`, `Secure`, `SameSite=Lax`, `Path=/`); `__Host-` and
//! `__Secure-` rules checked at construction; a signature bound to the cookie name
//! ([`SigningFormat::NameBound`]) unless you choose Remix's format; IDs of 256 bits
//! from the OS CSPRNG; unknown IDs never adopted; old IDs deleted on regeneration.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod cookie;
mod layer;
mod manager;
mod token;

pub use cookie::{SameSite, SessionCookie, SessionCookieBuilder, SigningFormat, MAX_COOKIE_SIZE};
pub use layer::{ResponseFuture, SessionBody, SessionLayer, SessionService};
pub use manager::SessionManager;
pub use session_core::{
    async_trait, Clock, CookieUpdate, Error, FlashLifetime, FoundSession, IdForm, IdleRefresh,
    ManualClock, MoveOutcome, Revoke, Session, SessionBackend, SessionData, SessionId, SessionMeta,
    SessionPolicy, SessionRules, SessionStorage, SessionWrite, StoredSession, TokenVerifier,
    Transport, UserSession, ValueMap, VerifiedToken, WriteMode, WriteOutcome,
};
pub use token::HeaderTokens;

#[cfg(feature = "cookie-store")]
pub use session_cookie_store::{self as cookie_store, CookieStore};
#[cfg(feature = "fs-store")]
pub use session_fs_store::{self as fs_store, FileLayout, FsStore};
#[cfg(feature = "memcache-store")]
pub use session_memcache_store::{
    self as memcache_store, create_memcache_session_storage, MemcacheStore,
};
#[cfg(feature = "memory-store")]
pub use session_memory_store::{self as memory_store, MemoryStore};
#[cfg(feature = "redis-store")]
pub use session_redis_store::{self as redis_store, create_redis_session_storage, RedisStore};

/// The session middleware: a layer for sessions carried by `cookie` and kept in
/// `storage` (Remix's `session(sessionCookie, sessionStorage)`).
///
/// `storage` is any [`SessionStorage`] (memory, Redis, memcached, your own) or the
/// cookie storage.
///
/// # Errors
///
/// [`Error::UnsignedCookie`] when the cookie has no secret.
///
/// ```
/// use session_middleware::{session, CookieStore, Error, SessionCookie};
///
/// let unsigned = SessionCookie::builder("__session").build()?;
/// assert!(matches!(session(unsigned, CookieStore::new()), Err(Error::UnsignedCookie)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn session(cookie: SessionCookie, storage: impl SessionBackend) -> Result<SessionLayer, Error> {
    SessionLayer::new(cookie, storage)
}
