//! What the slots need from a store: how to open a connection, and whether one is
//! still usable.

use std::future::Future;

/// Opens connections of one kind to one server (or one cluster).
///
/// # Example
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use session_connections::Dial;
///
/// /// A "connection" that can be closed from elsewhere, as a socket can.
/// #[derive(Clone, Default)]
/// struct Handle(Arc<AtomicBool>);
///
/// struct Dialer;
///
/// impl Dial for Dialer {
///     type Connection = Handle;
///     type Error = std::io::Error;
///
///     async fn dial(&self) -> std::io::Result<Handle> {
///         Ok(Handle::default())
///     }
///
///     fn is_usable(connection: &Handle) -> bool {
///         !connection.0.load(Ordering::Relaxed)
///     }
/// }
///
/// let handle = Handle::default();
/// assert!(Dialer::is_usable(&handle));
/// handle.0.store(true, Ordering::Relaxed);
/// assert!(!Dialer::is_usable(&handle));
/// ```
pub trait Dial {
    /// A handle on one connection. Every lease gets a clone, so cloning should be cheap
    /// (a channel sender, an `Arc`).
    type Connection: Clone + Send + Sync + 'static;

    /// Why a dial failed.
    type Error;

    /// Opens one connection. The slots bound it by the connect timeout; a dial that
    /// takes longer is dropped.
    fn dial(&self) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// False once `connection` can carry no more commands (its socket closed, the task
    /// driving it stopped): the next lease dials a new one instead. Called on every
    /// lease, under a lock, so it must be cheap. By default every connection is usable
    /// until forgotten.
    ///
    /// ```
    /// use session_connections::Dial;
    ///
    /// struct Dialer;
    ///
    /// impl Dial for Dialer {
    ///     type Connection = ();
    ///     type Error = std::convert::Infallible;
    ///
    ///     async fn dial(&self) -> Result<(), Self::Error> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// assert!(Dialer::is_usable(&()));
    /// ```
    fn is_usable(connection: &Self::Connection) -> bool {
        let _ = connection;
        true
    }
}
