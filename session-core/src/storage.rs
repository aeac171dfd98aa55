//! The by-ID storage trait that server-side backends implement.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::{Error, LoadedSession, SessionBackend, SessionData, SessionId, SessionWrite};

/// A session record as a [`SessionStorage`] returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSession {
    /// The session's values and flash values.
    pub data: SessionData,
    /// When the record stops being valid, as given to [`SessionStorage::update`].
    pub expires: Option<SystemTime>,
}

impl StoredSession {
    /// True when the record has an expiry and it is not after `now`.
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|expires| expires <= now)
    }
}

/// Server-side session storage, keyed by [`SessionId`].
///
/// This is the trait to implement for a new backend (a database, a cache, a file
/// system). The cookie then carries only the ID, and every such storage automatically
/// becomes a [`SessionBackend`] the middleware can drive.
///
/// # Implementing your own
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::SystemTime;
///
/// use async_trait::async_trait;
/// use session_core::{Error, SessionData, SessionId, SessionStorage, StoredSession};
///
/// #[derive(Default)]
/// struct MapStorage(Mutex<HashMap<String, StoredSession>>);
///
/// #[async_trait]
/// impl SessionStorage for MapStorage {
///     async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
///         let map = self.0.lock().map_err(|_| Error::Internal("poisoned lock"))?;
///         Ok(map.get(id.as_str()).cloned())
///     }
///     async fn update(&self, id: &SessionId, data: &SessionData, expires: Option<SystemTime>) -> Result<(), Error> {
///         let mut map = self.0.lock().map_err(|_| Error::Internal("poisoned lock"))?;
///         map.insert(id.as_str().to_owned(), StoredSession { data: data.clone(), expires });
///         Ok(())
///     }
///     async fn delete(&self, id: &SessionId) -> Result<(), Error> {
///         let mut map = self.0.lock().map_err(|_| Error::Internal("poisoned lock"))?;
///         map.remove(id.as_str());
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let storage = MapStorage::default();
/// let id = SessionId::generate()?;
/// storage.update(&id, &SessionData::default(), None).await?;
/// assert!(storage.read(&id).await?.is_some());
/// # Ok::<(), Error>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Contract
///
/// - IDs reaching a storage were already parsed canonically ([`SessionId::parse`]): at
///   most 43 characters of `[A-Za-z0-9_-]`, safe to use in a key as they are.
/// - A storage never creates a record on [`read`](Self::read), and never invents IDs.
/// - Expired records must not come back from [`read`](Self::read) (return `None`), even
///   before the backend's own TTL mechanism removes them. Return the expiry you were
///   given in [`StoredSession::expires`]: the caller checks it once more.
/// - Errors mean the backend could not do the operation. "Not found" is not an error.
#[async_trait]
pub trait SessionStorage: Send + Sync + 'static {
    /// Reads the record stored under `id`, or `None` if there is no live one.
    ///
    /// # Errors
    ///
    /// When the backend could not be asked.
    async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error>;

    /// Stores `data` under `id`, replacing any record there, valid until `expires`
    /// (`None`: no expiry).
    ///
    /// # Errors
    ///
    /// When the record could not be written.
    async fn update(
        &self,
        id: &SessionId,
        data: &SessionData,
        expires: Option<SystemTime>,
    ) -> Result<(), Error>;

    /// Deletes the record stored under `id`. Deleting an unknown ID succeeds.
    ///
    /// # Errors
    ///
    /// When the backend could not be asked.
    async fn delete(&self, id: &SessionId) -> Result<(), Error>;

    /// Moves a session to a new ID ([`Session::regenerate_id`]): deletes `old` and
    /// stores `data` under `id`. Once this returns `Ok`, `old` must be dead.
    ///
    /// The default calls [`delete`](Self::delete) then [`update`](Self::update).
    /// Override it when the backend can do both in one round trip (a pipeline).
    ///
    /// # Errors
    ///
    /// When either step failed.
    ///
    /// [`Session::regenerate_id`]: crate::Session::regenerate_id
    async fn replace(
        &self,
        old: &SessionId,
        id: &SessionId,
        data: &SessionData,
        expires: Option<SystemTime>,
    ) -> Result<(), Error> {
        self.delete(old).await?;
        self.update(id, data, expires).await
    }
}

/// Every by-ID storage is a backend whose cookie value is the session ID.
#[async_trait]
impl<S: SessionStorage> SessionBackend for S {
    async fn load(&self, cookie_value: &str) -> Result<Option<LoadedSession>, Error> {
        // A value that is not a canonical ID never reaches the storage.
        let Some(id) = SessionId::parse(cookie_value) else {
            return Ok(None);
        };
        let Some(stored) = self.read(&id).await? else {
            return Ok(None);
        };
        // Checked here as well as in the storage, so a storage that forgets cannot serve
        // an expired session.
        if stored.is_expired_at(SystemTime::now()) {
            return Ok(None);
        }
        Ok(Some(LoadedSession {
            id,
            data: stored.data,
        }))
    }

    async fn write(&self, write: &SessionWrite<'_>) -> Result<String, Error> {
        match write.replaces {
            Some(old) => {
                self.replace(old, write.id, write.data, write.expires)
                    .await?
            }
            None => self.update(write.id, write.data, write.expires).await?,
        }
        Ok(write.id.as_str().to_owned())
    }

    async fn destroy(&self, id: &SessionId) -> Result<(), Error> {
        self.delete(id).await
    }
}
