//! The connection settings a store's builder collects.

use std::time::Duration;

/// How many connections to share and how long connecting and commands may take.
///
/// Both store builders collect one of these. [`Slots`](crate::Slots) reads
/// `connections` and `connect_timeout`; `command_timeout` is the store's, which
/// bounds each command once a connection is leased.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use session_connections::ConnectSettings;
///
/// let settings = ConnectSettings {
///     connect_timeout: Duration::from_secs(2),
///     ..ConnectSettings::default()
/// };
/// assert_eq!(settings.connections, 1);
/// assert_eq!(settings.command_timeout, Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectSettings {
    /// How many connections requests are spread over, round robin (0 counts as 1).
    pub connections: usize,
    /// How long getting a connection may take, waiting behind another dial included.
    pub connect_timeout: Duration,
    /// How long one command may take once sent.
    pub command_timeout: Duration,
}

impl Default for ConnectSettings {
    /// One connection, 1 s to connect, 1 s per command.
    ///
    /// ```
    /// use std::time::Duration;
    /// use session_connections::ConnectSettings;
    ///
    /// let settings = ConnectSettings::default();
    /// assert_eq!(settings.connections, 1);
    /// assert_eq!(settings.connect_timeout, Duration::from_secs(1));
    /// ```
    fn default() -> Self {
        Self {
            connections: 1,
            connect_timeout: Duration::from_secs(1),
            command_timeout: Duration::from_secs(1),
        }
    }
}
