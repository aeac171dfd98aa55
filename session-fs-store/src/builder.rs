//! The file store's settings.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use session_core::{Error, DEFAULT_TTL};

use crate::files::{self, Modes};
use crate::{FileLayout, FsStore, Inner, DEFAULT_SWEEP_INTERVAL};

/// Builds an [`FsStore`]; see there for the defaults.
#[derive(Clone, Debug)]
#[must_use = "call `build()` to get the store"]
pub struct FsStoreBuilder {
    dir: PathBuf,
    layout: FileLayout,
    modes: Modes,
    ttl: Duration,
    sweep_interval: Duration,
}

impl FsStoreBuilder {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            layout: FileLayout::default(),
            modes: Modes {
                dir: 0o700,
                file: 0o600,
            },
            ttl: DEFAULT_TTL,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
        }
    }

    /// The on-disk layout (default [`FileLayout::Remix`]).
    pub fn layout(mut self, layout: FileLayout) -> Self {
        self.layout = layout;
        self
    }

    /// The mode of the directories the store creates (default `0o700`: only the
    /// service's user can list them). Unix only.
    pub fn dir_mode(mut self, mode: u32) -> Self {
        self.modes.dir = mode;
        self
    }

    /// The mode of the files the store creates (default `0o600`). Unix only. A Node
    /// process sharing the directory under another user needs a wider one.
    pub fn file_mode(mut self, mode: u32) -> Self {
        self.modes.file = mode;
        self
    }

    /// How long a record written without a deadline (no timeout configured) lives,
    /// counted from its last write (default [`DEFAULT_TTL`], two weeks).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How often the sweeper removes expired files (default
    /// [`DEFAULT_SWEEP_INTERVAL`]).
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Creates the directory (with its mode) if it is missing, and starts the sweeper.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] when the directory cannot be created, or the path exists and
    /// is not a directory.
    pub fn build(self) -> Result<FsStore, Error> {
        const OPEN: &str = "open the session directory";
        files::create_dir(&self.dir, self.modes).map_err(|error| Error::storage(OPEN, error))?;
        if !self.dir.is_dir() {
            return Err(Error::storage(
                OPEN,
                "the path exists and is not a directory",
            ));
        }
        let (stop, stopped) = std::sync::mpsc::channel();
        let inner = Arc::new(Inner {
            dir: self.dir,
            layout: self.layout,
            modes: self.modes,
            ttl: self.ttl,
            _stop_sweeper: stop,
        });
        // Detached: it ends on its own when the store is dropped.
        drop(session_core::sweeper::start(
            "session-fs-sweeper",
            Arc::downgrade(&inner),
            self.sweep_interval,
            stopped,
            |inner: &Inner| {
                if let Err(error) = inner.sweep() {
                    tracing::warn!(%error, "sweeping the session directory failed; retrying at the next interval");
                }
            },
        ));
        Ok(FsStore { inner })
    }
}
