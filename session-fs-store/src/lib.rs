//! File-system session storage, in the on-disk layout of Remix 3's
//! `createFsSessionStorage` or of React Router's `createFileSessionStorage`
//! ([`FileLayout`]), so a Node app can share the directory.
//!
//! # Example
//!
//! ```
//! use session_core::{SessionId, SessionStorage, StoredSession};
//! use session_fs_store::FsStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let dir = std::env::temp_dir().join(format!("fs-store-doc-{}", std::process::id()));
//! let store = FsStore::open(&dir)?;
//! let id = SessionId::generate()?;
//! assert!(store.create(&id, &StoredSession::default()).await?);
//! assert!(!store.create(&id, &StoredSession::default()).await?, "create is exclusive");
//! assert!(store.read(&id).await?.is_some());
//! assert!(store.delete(&id).await?);
//! assert!(store.read(&id).await?.is_none());
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(()) })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Guarantees
//!
//! - **Atomic writes**: a temporary file in the record's directory, flushed to disk,
//!   then renamed (or, for a create, hard-linked) into place: a reader never sees half
//!   a record, and a crash leaves the old record or the new one.
//! - **Create only if absent, update only if present**, across threads, store
//!   instances and processes sharing the directory: creates take their name with a
//!   hard link, which fails if it exists; updates, merges and deletes run under an
//!   exclusive lock of the record's shard (`flock` on `<shard>/.lock`). A save racing
//!   a logout never brings the session back.
//! - **Parallel requests keep each other's writes**: a merge reads, applies the
//!   request's changes and writes under the shard's lock (see
//!   `SessionStorage::merge`).
//! - **No path from client input**: a file's name is built from hex digits only (the
//!   SHA-256 of the ID, or in React Router's layout the ID itself once it is checked to
//!   be 16 lowercase hex digits); anything else never touches the disk.
//! - **Private by default**: directories `0700`, files `0600`
//!   ([`FsStoreBuilder::dir_mode`], [`FsStoreBuilder::file_mode`]).
//! - **Expiry**: a record past its deadline is never returned (and is deleted when
//!   read); the sweeper, a thread that stops with the store, removes expired files
//!   every [`DEFAULT_SWEEP_INTERVAL`], files written without a deadline once they are
//!   [`ttl`](FsStoreBuilder::ttl) old, and temporary files a crash left behind.
//! - **A corrupt file gives a fresh session**, logged as a warning, never an error.
//! - **The executor never blocks**: every file operation runs on tokio's blocking pool
//!   (or inline, outside a tokio runtime).
//!
//! # Limits
//!
//! - A user's sessions cannot be listed or revoked: [`Error::Unsupported`] (there is no
//!   per-user index on disk).
//! - ID renewal on a timer moves the record at once (no grace period for the old ID).
//! - A React Router process writing the same directory takes no lock: last writer
//!   wins, as among React Router processes. React Router 8 writes through a temporary
//!   file and a rename; React Router 7 and Remix 2 rewrite the file in place, so a read
//!   racing such a write may see a torn record, which reads as no session (the user
//!   gets a fresh one). A record React Router rewrites loses our stamp (creation time,
//!   login choices): its absolute timeout then counts from our next read.
//! - Symbolic links inside the directory are followed: keep the directory the
//!   service's own (the default modes do).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod files;
mod layout;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use session_core::{Error, SessionChanges, SessionId, SessionRules, SessionStorage, StoredSession};

pub use builder::FsStoreBuilder;
pub use layout::FileLayout;

use files::Modes;

/// How often the sweeper removes expired files, unless configured.
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Session storage in a directory, one file per session. Cheap to clone: clones share
/// the directory and the sweeper.
#[derive(Clone, Debug)]
pub struct FsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    layout: FileLayout,
    modes: Modes,
    ttl: Duration,
    /// Dropping this (with the store) wakes the sweeper thread and ends it.
    _stop_sweeper: std::sync::mpsc::Sender<()>,
}

impl FsStore {
    /// A store in `dir` with the defaults (Remix's layout, private modes), creating
    /// the directory if it is missing.
    ///
    /// # Errors
    ///
    /// As [`FsStoreBuilder::build`].
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, Error> {
        Self::builder(dir).build()
    }

    /// A builder for a store in `dir`.
    pub fn builder(dir: impl Into<PathBuf>) -> FsStoreBuilder {
        FsStoreBuilder::new(dir.into())
    }

    /// The directory the sessions live in.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The on-disk layout.
    pub fn layout(&self) -> FileLayout {
        self.inner.layout
    }

    /// Removes expired files now (the sweeper does it periodically) and returns how
    /// many records it removed.
    ///
    /// # Errors
    ///
    /// When the directory cannot be listed.
    pub async fn purge_expired(&self) -> Result<usize, Error> {
        let inner = self.inner.clone();
        blocking("sweep the session directory", move || inner.sweep()).await
    }

    /// The record file of `id`, or `None` when this layout keeps none for such an ID.
    fn path(&self, id: &SessionId) -> Option<PathBuf> {
        self.inner.layout.path(&self.inner.dir, id)
    }

    /// Runs `f` on the blocking pool with the store's state and `id`'s file.
    async fn with_file<R: Send + 'static>(
        &self,
        operation: &'static str,
        id: &SessionId,
        f: impl FnOnce(&Inner, &Path) -> io::Result<R> + Send + 'static,
    ) -> Result<Option<R>, Error> {
        let Some(path) = self.path(id) else {
            return Ok(None);
        };
        let inner = self.inner.clone();
        blocking(operation, move || f(&inner, &path).map(Some)).await
    }
}

/// How long ago `path` was last written (zero if unknown).
fn age(path: &Path) -> Duration {
    std::fs::metadata(path)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .unwrap_or_default()
}

/// Runs blocking file work off the executor: on tokio's blocking pool, or inline
/// when there is no tokio runtime (then there is no executor to hold up).
async fn blocking<R: Send + 'static>(
    operation: &'static str,
    f: impl FnOnce() -> io::Result<R> + Send + 'static,
) -> Result<R, Error> {
    let result = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime
            .spawn_blocking(f)
            .await
            .map_err(|_| Error::Internal("a session file operation panicked"))?,
        Err(_) => f(),
    };
    result.map_err(|error| Error::storage(operation, error))
}

impl Inner {
    /// The live record in `path`, or `None` (missing, expired, corrupt).
    fn read_live(&self, path: &Path) -> io::Result<Option<StoredSession>> {
        let Some(bytes) = files::read(path)? else {
            return Ok(None);
        };
        match self.layout.decode(&bytes) {
            Ok(record) if record.is_expired() => Ok(None),
            Ok(record) => Ok(Some(record)),
            Err(_) => {
                tracing::warn!(
                    backend = "file",
                    "ignoring a corrupt session file; the user gets a fresh session"
                );
                Ok(None)
            }
        }
    }

    /// True when `path` holds a record past its deadline (not when it is missing or
    /// corrupt).
    fn is_expired(&self, path: &Path) -> io::Result<bool> {
        Ok(files::read(path)?.is_some_and(|bytes| {
            self.layout
                .decode(&bytes)
                .is_ok_and(|record| record.is_expired())
        }))
    }

    /// The shard directory of a record file.
    fn shard(path: &Path) -> &Path {
        path.parent().expect("record paths have a shard directory")
    }

    fn encode(&self, record: &StoredSession) -> io::Result<Vec<u8>> {
        self.layout
            .encode(record)
            .map(String::into_bytes)
            .map_err(io::Error::other)
    }

    /// Removes every expired record, and temporary files older than an hour (a crash
    /// between writing and renaming one). Returns how many records it removed.
    fn sweep(&self) -> io::Result<usize> {
        let mut removed = 0;
        for shard in std::fs::read_dir(&self.dir)? {
            let shard = shard?;
            let name = shard.file_name();
            if !name.to_str().is_some_and(|name| self.layout.is_shard(name)) {
                continue;
            }
            for file in std::fs::read_dir(shard.path())? {
                let file = file?;
                // React Router 8 writes through a temporary directory of its own.
                if file.file_type()?.is_dir() {
                    continue;
                }
                let name = file.file_name();
                let Some(name) = name.to_str() else { continue };
                let path = file.path();
                if name.starts_with(files::TEMP_PREFIX) {
                    if age(&path) > Duration::from_secs(3600) {
                        files::remove(&path)?;
                    }
                    continue;
                }
                if name.starts_with('.') {
                    continue;
                }
                // Judged under the lock, on the record as it is now: an update landing
                // between the listing and here is what counts.
                let _lock = files::lock(&shard.path(), self.modes)?;
                let age = age(&path);
                let stale = match files::read(&path)? {
                    None => false,
                    Some(bytes) => match self.layout.decode(&bytes) {
                        Ok(record) if record.expires.is_none() => age > self.ttl,
                        Ok(record) => record.is_expired(),
                        // Corrupt files are left for someone to look at; reads ignore them.
                        Err(_) => false,
                    },
                };
                if stale && files::remove(&path)? {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}
impl SessionStorage for FsStore {
    fn rules(&self) -> SessionRules {
        self.inner.layout.rules()
    }

    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
        let found = self
            .with_file("read a session", id, |inner, path| {
                let Some(bytes) = files::read(path)? else {
                    return Ok(None);
                };
                match inner.layout.decode(&bytes) {
                    // As React Router does: an expired file is deleted when read, under
                    // the lock and only if it is still expired (a file another program
                    // is rewriting in place may read as corrupt for a moment: kept).
                    Ok(record) if record.is_expired() => {
                        let _lock = files::lock(Inner::shard(path), inner.modes)?;
                        if inner.is_expired(path)? {
                            files::remove(path)?;
                        }
                        Ok(None)
                    }
                    Ok(record) => Ok(Some(record)),
                    Err(_) => inner.read_live(path),
                }
            })
            .await?;
        Ok(found.flatten())
    }

    async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        if self.path(id).is_none() {
            return Err(Error::Internal(
                "React Router's file layout stores only 16-hex-digit IDs, and the session minted another",
            ));
        }
        let record = record.clone();
        let created = self
            .with_file("create a session", id, move |inner, path| {
                let bytes = inner.encode(&record)?;
                if files::create(path, &bytes, inner.modes)? {
                    return Ok(true);
                }
                // An expired record counts as absent: it is replaced, under the lock.
                let _lock = files::lock(Inner::shard(path), inner.modes)?;
                if !inner.is_expired(path)? {
                    return Ok(false);
                }
                files::replace(path, &bytes, inner.modes)?;
                Ok(true)
            })
            .await?;
        Ok(created.unwrap_or(false))
    }

    async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
        let record = record.clone();
        let updated = self
            .with_file("update a session", id, move |inner, path| {
                if !path.exists() {
                    return Ok(false);
                }
                let _lock = files::lock(Inner::shard(path), inner.modes)?;
                if inner.read_live(path)?.is_none() {
                    return Ok(false);
                }
                files::replace(path, &inner.encode(&record)?, inner.modes)?;
                Ok(true)
            })
            .await?;
        Ok(updated.unwrap_or(false))
    }

    async fn merge(
        &self,
        id: &SessionId,
        record: &StoredSession,
        changes: &SessionChanges,
    ) -> Result<bool, Error> {
        let (record, changes) = (record.clone(), changes.clone());
        let merged = self
            .with_file("save a session", id, move |inner, path| {
                if !path.exists() {
                    return Ok(false);
                }
                let _lock = files::lock(Inner::shard(path), inner.modes)?;
                let Some(mut stored) = inner.read_live(path)? else {
                    return Ok(false);
                };
                changes.merge_into(&mut stored, &record);
                files::replace(path, &inner.encode(&stored)?, inner.modes)?;
                Ok(true)
            })
            .await?;
        Ok(merged.unwrap_or(false))
    }

    async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
        let deleted = self
            .with_file("delete a session", id, |inner, path| {
                // Nothing to delete, nothing to lock: no shard is created for an ID
                // that has none (a later create is then simply after this delete).
                if !path.exists() {
                    return Ok(false);
                }
                let _lock = files::lock(Inner::shard(path), inner.modes)?;
                let live = inner.read_live(path)?.is_some();
                Ok(files::remove(path)? && live)
            })
            .await?;
        Ok(deleted.unwrap_or(false))
    }
}
