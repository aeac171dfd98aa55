//! The conformance suite, run for every storage this workspace ships.

mod memory {
    use session_memory_store::MemoryStore;
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    storage_conformance!(MemoryStore::new());
    backend_conformance!(MemoryStore::new(), Capabilities::SERVER_SIDE);
}

mod cookie {
    use session_cookie_store::CookieStore;
    use session_tests::{backend_conformance, Capabilities};

    // Cookie storage is not a by-ID `SessionStorage`, so only the whole-request cases
    // apply, and it cannot revoke a copied cookie.
    backend_conformance!(CookieStore::new(), Capabilities::CLIENT_SIDE);
}

/// A user's own storage that keeps `SessionStorage::merge`'s default: it still
/// compiles and passes every other case, writing whole records.
mod whole_record {
    use session_core::{async_trait, Error, SessionId, SessionStorage, StoredSession};
    use session_memory_store::MemoryStore;
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    /// The memory store behind the four required methods only.
    struct WholeRecord(MemoryStore);

    #[async_trait]
    impl SessionStorage for WholeRecord {
        async fn read(&self, id: &SessionId) -> Result<Option<StoredSession>, Error> {
            self.0.read(id).await
        }
        async fn create(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
            self.0.create(id, record).await
        }
        async fn update(&self, id: &SessionId, record: &StoredSession) -> Result<bool, Error> {
            self.0.update(id, record).await
        }
        async fn delete(&self, id: &SessionId) -> Result<bool, Error> {
            self.0.delete(id).await
        }
    }

    storage_conformance!(WholeRecord(MemoryStore::new()));
    backend_conformance!(WholeRecord(MemoryStore::new()), Capabilities::WHOLE_RECORD);
}
