//! The heart of the session workspace: the [`Session`] handlers use, the
//! [`SessionStorage`] trait server-side backends implement, and the one [`Error`] type.
//!
//! This crate does no I/O and knows nothing of HTTP: cookies, headers and the tower
//! layer live in `session-middleware`, each backend in its own crate
//! (`session-memory-store`, `session-cookie-store`, …). The one exception is the
//! optional `axum` feature, which only lets axum handlers take a `Session` argument.
//!
//! # Example
//!
//! A handler's view of a session, here without any middleware:
//!
//! ```
//! use session_core::Session;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let session = Session::detached()?;
//! session.load().await?;
//!
//! let count = session.get::<u64>("count")?.unwrap_or(0) + 1;
//! session.set("count", count)?;
//! assert_eq!(session.get::<u64>("count")?, Some(1));
//! # Ok::<(), session_core::Error>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `axum` | `impl FromRequestParts for Session`, and `IntoResponse` for [`Error`] |
//!
//! # Security
//!
//! - [`SessionId`]s carry 256 bits from the OS CSPRNG, are parsed canonically, compare in
//!   constant time and never print.
//! - Unknown or expired IDs are never adopted: loading them starts a fresh session.
//! - [`Session::regenerate_id`] deletes the old record when the session is saved; new
//!   records are created only where none exists, and a save never brings back a record
//!   that a concurrent logout deleted.
//! - Idle and absolute timeouts ([`SessionPolicy`]) are enforced on the server.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod backend;
mod changes;
mod clock;
mod constant_time;
mod data;
mod error;
mod id;
mod meta;
mod policy;
mod record;
mod rules;
mod session;
mod storage;
mod successor;
pub mod sweeper;

#[cfg(feature = "axum")]
mod axum;

pub use backend::{
    FoundSession, SessionBackend, SessionWrite, TokenVerifier, VerifiedToken, WriteMode,
    WriteOutcome,
};
pub use changes::{SessionChanges, ValueChange};
pub use clock::{Clock, ManualClock};
pub use constant_time::constant_time_eq;
pub use data::{SessionData, ValueMap};
pub use error::{BoxError, Error, JsonError};
pub use id::{hashed_key, session_handle, IdForm, SessionId};
pub use meta::{Revoke, SessionMeta, UserSession, REVOKE_ROUNDS};
pub use policy::{IdleRefresh, SessionPolicy};
pub use record::{time_from_unix_millis, unix_millis, FlatData};
pub use rules::{FlashLifetime, SessionRules};
pub use session::{CookieUpdate, Session, Transport};
pub use storage::{MoveOutcome, SessionStorage, StoredSession, DEFAULT_TTL};
pub use successor::Successor;

/// Re-exported so backends implement [`SessionBackend`] with the same macro version
/// ([`SessionStorage`] needs none: its methods are plain `async fn`s).
pub use async_trait::async_trait;
