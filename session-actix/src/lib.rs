//! Signed-cookie sessions for actix-web, on the same [`SessionManager`] as the tower
//! layer: the cookie formats, stores, policies and guarantees are exactly the layer's.
//!
//! Wrap the app in [`SessionMiddleware`] and take a [`Session`] in handlers; the
//! extractor loads it. A handler returns [`SessionError`] (or any error it converts
//! into) so that `?` works on session calls.
//!
//! ```
//! use actix_web::{test, web, App};
//! use session_actix::{Session, SessionError, SessionMiddleware};
//! use session_middleware::{MemoryStore, SessionCookie};
//!
//! async fn counter(session: Session) -> Result<String, SessionError> {
//!     let count = session.get::<u64>("count")?.unwrap_or(0) + 1;
//!     session.set("count", count)?;
//!     Ok(format!("Count: {count}"))
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let cookie = SessionCookie::builder("__session")
//!     .secret("replace me with 32+ random bytes from your secret store")
//!     .build()?;
//! let sessions = SessionMiddleware::new(cookie, MemoryStore::new())?;
//! let app = test::init_service(App::new().wrap(sessions).route("/", web::get().to(counter))).await;
//!
//! let response = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
//! assert!(response.headers().contains_key("set-cookie"));
//! assert_eq!(test::read_body(response).await, "Count: 1");
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What happens on a request
//!
//! As with the tower layer: the middleware finds the cookie (or header token) and puts
//! a not-yet-loaded session in the request extensions; the extractor loads it; after
//! the handler, a changed session is saved and its `Set-Cookie` (with `Vary: Cookie`
//! and a private `Cache-Control`) added. A failed save answers an empty 503 (storage
//! outage) or 500 instead of the handler's response, logged with the cause.
//!
//! actix-web 4 is built on `http` 0.2 and the manager on `http` 1, so the middleware
//! copies to the manager only what it reads: on every request the `Cookie` and token
//! header values, and when a session is saved the response's `Cache-Control` and token
//! header. The headers the commit writes are copied back; every other header is left
//! as the handler set it.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod extract;
mod headers;
mod middleware;
#[cfg(test)]
mod tests;

pub use error::SessionError;
pub use extract::Session;
pub use middleware::{SessionMiddleware, SessionMiddlewareService};
pub use session_middleware::SessionManager;
