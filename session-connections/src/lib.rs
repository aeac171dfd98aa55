//! A few shared connections to one server: dialled on first use, handed out round
//! robin, forgotten when they fail; and the batching of concurrent commands into one
//! write.
//!
//! # Why requests share a few connections instead of a pool
//!
//! The session stores talk to Redis and memcached over multiplexed connections: one
//! connection carries any number of concurrent commands. Each request takes a handle
//! on it (a [`Lease`]), sends its command and awaits its own reply, while the
//! connection writes the commands of all concurrent requests in one syscall and the
//! server answers them in one batch. A pool that checks a connection out to one request
//! at a time throws that away: one socket per in-flight request, one read and one write
//! per command on both sides, plus a semaphore, a mutex and (in deadpool-redis's
//! default manager) a `PING` per checkout. Worse, a pooled connection whose request
//! gave up mid-command still owes a reply, which the next request then reads as its
//! own; a multiplexed connection matches replies to requests itself and drops a late
//! one. `scripts/bench` measured the difference; BENCHMARKS.md has the figures.
//!
//! So requests share [`ConnectSettings::connections`] connections (one is enough for
//! most services), taken round robin.
//!
//! # How a connection comes and goes
//!
//! - It is dialled on first use, behind a dial lock per slot: a burst of requests on a
//!   cold slot dials once, the rest wait for that dial.
//! - [`ConnectSettings::connect_timeout`] bounds the whole slow path, waiting behind
//!   someone else's dial included, so requests queued behind a dial to an unreachable
//!   host fail in time ([`DialError::TimedOut`]). When that dial runs out of time, the
//!   requests that waited behind it fail with it instead of each dialling again in
//!   turn: a host that does not answer gets one dial per slot per connect timeout.
//! - A request whose command failed at the connection level calls [`Lease::forget`]:
//!   that connection, and only it (never a fresh one dialled meanwhile), leaves its
//!   slot, and the next request dials again. That is how service resumes by itself
//!   once a restarted server is back.
//! - A connection that [`Dial::is_usable`] finds dead (its task stopped with its
//!   runtime, its socket closed) is dialled again on the next lease, before any request
//!   fails on it.
//!
//! What a connection is, which failures break it, and what a command is are the
//! store's business: this crate never sends, retries or pings anything. It only helps a
//! store's writer gather what is queued into one write ([`next_batch`], which says why).
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use session_connections::{ConnectSettings, Dial, Slots};
//!
//! /// Dials "connections" that are just numbers: 0, 1, 2, …
//! #[derive(Default)]
//! struct Numbers(AtomicUsize);
//!
//! impl Dial for Numbers {
//!     type Connection = usize;
//!     type Error = Infallible;
//!
//!     async fn dial(&self) -> Result<usize, Infallible> {
//!         Ok(self.0.fetch_add(1, Ordering::Relaxed))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let slots = Slots::new(Numbers::default(), ConnectSettings::default());
//! let first = slots.lease().await.expect("dialled");
//! assert_eq!(*first, 0);
//! // The command failed at the connection level: the next lease dials again.
//! first.forget();
//! assert_eq!(*slots.lease().await.expect("dialled"), 1);
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod batch;
mod dial;
mod error;
mod settings;
mod slots;

pub use batch::next_batch;
pub use dial::Dial;
pub use error::DialError;
pub use settings::ConnectSettings;
pub use slots::{Lease, Slots};
