//! The slots: one shared connection each, dialled on demand, leased round robin.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::{ConnectSettings, Dial, DialError};

/// A few shared connections made by one dialer, leased round robin.
///
/// See the [crate docs](crate) for why connections are shared and how they are
/// replaced.
///
/// # Example
///
/// ```
/// use std::convert::Infallible;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use session_connections::{ConnectSettings, Dial, Slots};
///
/// #[derive(Default)]
/// struct Numbers(AtomicUsize);
///
/// impl Dial for Numbers {
///     type Connection = usize;
///     type Error = Infallible;
///
///     async fn dial(&self) -> Result<usize, Infallible> {
///         Ok(self.0.fetch_add(1, Ordering::Relaxed))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let settings = ConnectSettings { connections: 2, ..ConnectSettings::default() };
/// let slots = Slots::new(Numbers::default(), settings);
/// let mut seen = Vec::new();
/// for _ in 0..4 {
///     seen.push(*slots.lease().await.expect("dialled"));
/// }
/// // Two slots, each dialled once, taken in turn.
/// assert_eq!(seen, [0, 1, 0, 1]);
/// # }
/// ```
pub struct Slots<D: Dial> {
    dialer: D,
    slots: Box<[Slot<D::Connection>]>,
    next: AtomicUsize,
    connect_timeout: Duration,
}

impl<D: Dial> Slots<D> {
    /// `settings.connections` empty slots (at least one) for `dialer`'s connections.
    /// Nothing is dialled until the first lease.
    ///
    /// ```
    /// use session_connections::{ConnectSettings, Dial, Slots};
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
    /// let none = ConnectSettings { connections: 0, ..ConnectSettings::default() };
    /// assert_eq!(Slots::new(Dialer, none).count(), 1);
    /// ```
    pub fn new(dialer: D, settings: ConnectSettings) -> Self {
        Self {
            dialer,
            slots: (0..settings.connections.max(1))
                .map(|_| Slot::default())
                .collect(),
            next: AtomicUsize::new(0),
            connect_timeout: settings.connect_timeout,
        }
    }

    /// The dialer (say, to name the server it dials in an error).
    ///
    /// ```
    /// use session_connections::{ConnectSettings, Dial, Slots};
    ///
    /// struct Dialer { address: &'static str }
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
    /// let slots = Slots::new(Dialer { address: "cache:11211" }, ConnectSettings::default());
    /// assert_eq!(slots.dialer().address, "cache:11211");
    /// ```
    pub fn dialer(&self) -> &D {
        &self.dialer
    }

    /// How many slots there are (what [`ConnectSettings::connections`] asked for, at
    /// least one).
    ///
    /// ```
    /// use session_connections::{ConnectSettings, Dial, Slots};
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
    /// let four = ConnectSettings { connections: 4, ..ConnectSettings::default() };
    /// assert_eq!(Slots::new(Dialer, four).count(), 4);
    /// ```
    pub fn count(&self) -> usize {
        self.slots.len()
    }

    /// A connection from the next slot, round robin: the slot's own when it has a usable
    /// one, else one dialled now (or by the request already dialling for this slot).
    ///
    /// # Errors
    ///
    /// [`DialError::Failed`] when the dial failed; [`DialError::TimedOut`] when no
    /// connection came within the connect timeout, waiting included.
    ///
    /// ```
    /// use session_connections::{ConnectSettings, Dial, DialError, Slots};
    ///
    /// struct Unreachable;
    ///
    /// impl Dial for Unreachable {
    ///     type Connection = ();
    ///     type Error = std::io::Error;
    ///
    ///     async fn dial(&self) -> std::io::Result<()> {
    ///         Err(std::io::ErrorKind::ConnectionRefused.into())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let slots = Slots::new(Unreachable, ConnectSettings::default());
    /// assert!(matches!(slots.lease().await, Err(DialError::Failed(_))));
    /// # }
    /// ```
    pub async fn lease(&self) -> Result<Lease<'_, D::Connection>, DialError<D::Error>> {
        let index = match self.slots.len() {
            1 => 0,
            n => self.next.fetch_add(1, Ordering::Relaxed) % n,
        };
        self.lease_at(index).await
    }

    /// Forgets `broken`'s connection and leases its slot again: a connection dialled
    /// after the failure (or by another request since), never one that was already
    /// there when `broken` failed. For the one retry of a command that is safe to send
    /// twice; a plain [`lease`](Self::lease) could land on another slot whose
    /// connection is just as dead.
    ///
    /// # Errors
    ///
    /// As for [`lease`](Self::lease).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use session_connections::{ConnectSettings, Dial, Slots};
    ///
    /// #[derive(Default)]
    /// struct Numbers(AtomicUsize);
    ///
    /// impl Dial for Numbers {
    ///     type Connection = usize;
    ///     type Error = Infallible;
    ///
    ///     async fn dial(&self) -> Result<usize, Infallible> {
    ///         Ok(self.0.fetch_add(1, Ordering::Relaxed))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let settings = ConnectSettings { connections: 2, ..ConnectSettings::default() };
    /// let slots = Slots::new(Numbers::default(), settings);
    /// let (first, second) = (slots.lease().await.unwrap(), slots.lease().await.unwrap());
    /// assert_eq!((*first, *second), (0, 1));
    /// // The first slot's connection broke: the retry gets a new one in that slot.
    /// let again = slots.redial(first).await.unwrap();
    /// assert_eq!(*again, 2);
    /// assert!(again.is_fresh());
    /// # }
    /// ```
    pub async fn redial(
        &self,
        broken: Lease<'_, D::Connection>,
    ) -> Result<Lease<'_, D::Connection>, DialError<D::Error>> {
        let index = broken.index;
        debug_assert!(
            std::ptr::eq(broken.slot, &self.slots[index]),
            "a lease of other slots"
        );
        broken.forget();
        self.lease_at(index).await
    }

    async fn lease_at(
        &self,
        index: usize,
    ) -> Result<Lease<'_, D::Connection>, DialError<D::Error>> {
        let slot = &self.slots[index];
        if let Some(lease) = slot.lease(D::is_usable, index) {
            return Ok(lease);
        }
        // Slow path, bounded as a whole: requests queued behind a dial to an
        // unreachable host fail in time too.
        let dial = async {
            let abandoned = slot.abandoned.load(Ordering::SeqCst);
            let _dialing = slot.dialing.lock().await;
            // Whoever held the lock before us may have dialled already.
            if let Some(lease) = slot.lease(D::is_usable, index) {
                return Ok(lease);
            }
            // The dial we waited behind ran out of time: ours, with less of it left,
            // would not do better. Failing with it keeps a host that does not answer
            // (a frozen server still completes TCP handshakes) at one dial per slot
            // per connect timeout, whatever the request rate.
            if slot.abandoned.load(Ordering::SeqCst) != abandoned {
                return Err(DialError::TimedOut(self.connect_timeout));
            }
            let abandon = Abandon(&slot.abandoned);
            let dialled = self.dialer.dial().await;
            std::mem::forget(abandon);
            Ok(slot.install(dialled.map_err(DialError::Failed)?, index))
        };
        tokio::time::timeout(self.connect_timeout, dial)
            .await
            .unwrap_or(Err(DialError::TimedOut(self.connect_timeout)))
    }
}

/// One shared connection, dialled on demand.
struct Slot<C> {
    state: Mutex<State<C>>,
    /// Held while dialling, so a burst of requests opens one connection, not one each.
    dialing: tokio::sync::Mutex<()>,
    /// How many dials were dropped unfinished (their request's connect timeout).
    abandoned: AtomicUsize,
}

/// Counts a dial as abandoned when dropped before it finished (`mem::forget` once it
/// has).
struct Abandon<'a>(&'a AtomicUsize);

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct State<C> {
    /// The connection and its generation, so that a request forgets only the
    /// connection it used, never a fresh one dialled meanwhile.
    live: Option<(u64, C)>,
    /// How many connections this slot has dialled: the next one's generation.
    dialled: u64,
}

impl<C> Default for Slot<C> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                live: None,
                dialled: 0,
            }),
            dialing: tokio::sync::Mutex::new(()),
            abandoned: AtomicUsize::new(0),
        }
    }
}

impl<C> Slot<C> {
    fn state(&self) -> MutexGuard<'_, State<C>> {
        // The state is whole after every statement, so a panic elsewhere leaves it sound.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forget(&self, generation: u64) {
        let mut state = self.state();
        if state
            .live
            .as_ref()
            .is_some_and(|(live, _)| *live == generation)
        {
            state.live = None;
        }
    }
}

impl<C: Clone> Slot<C> {
    /// A lease on the live connection, if there is one and `is_usable` says it is.
    fn lease(&self, is_usable: fn(&C) -> bool, index: usize) -> Option<Lease<'_, C>> {
        let mut state = self.state();
        if state
            .live
            .as_ref()
            .is_some_and(|(_, connection)| !is_usable(connection))
        {
            state.live = None;
        }
        let (generation, connection) = state.live.clone()?;
        Some(Lease {
            slot: self,
            index,
            generation,
            connection,
            fresh: false,
        })
    }

    /// Makes `connection` the slot's live one, of a new generation.
    fn install(&self, connection: C, index: usize) -> Lease<'_, C> {
        let mut state = self.state();
        let generation = state.dialled;
        state.dialled += 1;
        state.live = Some((generation, connection.clone()));
        Lease {
            slot: self,
            index,
            generation,
            connection,
            fresh: true,
        }
    }
}

/// A handle on one slot's connection, for one command (or a few).
///
/// It derefs to the connection. Dropping it leaves the connection in its slot for the
/// next request; [`forget`](Self::forget) takes it out, after a failure that broke it.
///
/// # Example
///
/// ```
/// use std::convert::Infallible;
/// use session_connections::{ConnectSettings, Dial, Slots};
///
/// struct Dialer;
///
/// impl Dial for Dialer {
///     type Connection = Vec<&'static str>;
///     type Error = Infallible;
///
///     async fn dial(&self) -> Result<Self::Connection, Infallible> {
///         Ok(Vec::new())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let slots = Slots::new(Dialer, ConnectSettings::default());
/// let mut lease = slots.lease().await.expect("dialled");
/// // The lease holds its own clone: changing it changes no one else's.
/// lease.push("mine");
/// assert_eq!(lease.len(), 1);
/// assert!(slots.lease().await.expect("live").is_empty());
/// # }
/// ```
pub struct Lease<'a, C> {
    slot: &'a Slot<C>,
    /// The slot's place among its `Slots`, for [`Slots::redial`].
    index: usize,
    generation: u64,
    connection: C,
    /// Dialled by the `lease` call that made this lease.
    fresh: bool,
}

impl<C> Lease<'_, C> {
    /// True when the call that made this lease dialled the connection; false when the
    /// slot already had it (it may have served earlier requests, or have been dialled
    /// by a request this one waited for). A command that fails on a connection that was
    /// not fresh may have met a server that restarted since: a store may send a command
    /// that is safe to repeat once more, after [`Slots::redial`].
    ///
    /// ```
    /// use session_connections::{ConnectSettings, Dial, Slots};
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
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let slots = Slots::new(Dialer, ConnectSettings::default());
    /// assert!(slots.lease().await.expect("dialled").is_fresh());
    /// assert!(!slots.lease().await.expect("live").is_fresh());
    /// # }
    /// ```
    pub fn is_fresh(&self) -> bool {
        self.fresh
    }

    /// Takes this lease's connection out of its slot (a command on it failed at the
    /// connection level), so the next lease dials a new one. A newer connection,
    /// dialled since this one was leased, stays.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use session_connections::{ConnectSettings, Dial, Slots};
    ///
    /// #[derive(Default)]
    /// struct Numbers(AtomicUsize);
    ///
    /// impl Dial for Numbers {
    ///     type Connection = usize;
    ///     type Error = Infallible;
    ///
    ///     async fn dial(&self) -> Result<usize, Infallible> {
    ///         Ok(self.0.fetch_add(1, Ordering::Relaxed))
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let slots = Slots::new(Numbers::default(), ConnectSettings::default());
    /// let (first, same) = (slots.lease().await.unwrap(), slots.lease().await.unwrap());
    /// first.forget();
    /// let fresh = slots.lease().await.unwrap();
    /// assert_eq!(*fresh, 1);
    /// // The other request on the broken connection forgets it too: the fresh one stays.
    /// same.forget();
    /// assert_eq!(*slots.lease().await.unwrap(), 1);
    /// # }
    /// ```
    pub fn forget(self) {
        self.slot.forget(self.generation);
    }
}

impl<C> Deref for Lease<'_, C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.connection
    }
}

impl<C> DerefMut for Lease<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.connection
    }
}

impl<D: Dial> fmt::Debug for Slots<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slots")
            .field("count", &self.slots.len())
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl<C: fmt::Debug> fmt::Debug for Lease<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("generation", &self.generation)
            .field("connection", &self.connection)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
