//! The conformance suite, run for every storage this workspace ships.

mod memory {
    use session_memory_store::MemoryStore;
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    storage_conformance!(MemoryStore::new());
    backend_conformance!(MemoryStore::new(), Capabilities::SERVER_SIDE);
}

mod fs_remix {
    use session_fs_store::FsStore;
    use session_tests::{backend_conformance, storage_conformance, Alternating, Capabilities};

    use crate::fs_store::{shared_dir, store};

    storage_conformance!(FsStore::open(shared_dir("conformance-remix")).expect("store"));
    backend_conformance!(
        FsStore::open(shared_dir("conformance-remix")).expect("store"),
        Capabilities::MERGING
    );

    /// Two store instances on one directory, taking turns: every case again, as two
    /// processes sharing the directory would see it.
    mod two_instances {
        use super::*;

        storage_conformance!(Alternating::new(
            store("two-remix", Default::default()),
            store("two-remix", Default::default())
        ));
        backend_conformance!(
            Alternating::new(
                store("two-remix", Default::default()),
                store("two-remix", Default::default())
            ),
            Capabilities::MERGING
        );
    }
}

mod fs_react_router {
    use session_fs_store::{FileLayout, FsStore};
    use session_tests::{backend_conformance, storage_conformance, Alternating, Capabilities};

    use crate::fs_store::{shared_dir, store};

    fn react_router() -> FsStore {
        FsStore::builder(shared_dir("conformance-rr"))
            .layout(FileLayout::ReactRouter)
            .build()
            .expect("store")
    }

    storage_conformance!(react_router());
    backend_conformance!(react_router(), Capabilities::MERGING);

    mod two_instances {
        use super::*;

        storage_conformance!(Alternating::new(
            store("two-rr", FileLayout::ReactRouter),
            store("two-rr", FileLayout::ReactRouter)
        ));
        backend_conformance!(
            Alternating::new(
                store("two-rr", FileLayout::ReactRouter),
                store("two-rr", FileLayout::ReactRouter)
            ),
            Capabilities::MERGING
        );
    }
}

mod cookie_react_router {
    use session_cookie_store::CookieStore;
    use session_tests::{backend_conformance, Capabilities};

    // Its cookie holds no ID, as React Router's does not.
    backend_conformance!(
        CookieStore::react_router(),
        Capabilities {
            stable_ids: false,
            ..Capabilities::CLIENT_SIDE
        }
    );
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
    use session_core::{Error, SessionId, SessionStorage, StoredSession};
    use session_memory_store::MemoryStore;
    use session_tests::{backend_conformance, storage_conformance, Capabilities};

    /// The memory store behind the four required methods only.
    struct WholeRecord(MemoryStore);
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

    /// The merge cases catch the bug they are named for: a whole-record store, run
    /// as if it merged, loses keys, increments, removals and a new flash.
    #[tokio::test]
    async fn the_merge_cases_catch_a_whole_record_store() {
        use std::future::Future;
        use std::pin::Pin;
        use std::sync::Arc;

        use session_tests::{merge, SessionBackend};

        type Case =
            fn(Arc<dyn SessionBackend>, Capabilities) -> Pin<Box<dyn Future<Output = ()> + Send>>;
        let cases: [(&str, Case); 4] = [
            ("keys", |b, c| {
                Box::pin(merge::parallel_requests_keep_each_others_keys(b, c))
            }),
            ("increments", |b, c| {
                Box::pin(merge::parallel_increments_all_count(b, c))
            }),
            ("removal", |b, c| {
                Box::pin(merge::a_removed_key_stays_removed(b, c))
            }),
            ("new flash", |b, c| {
                Box::pin(merge::a_new_flash_survives_the_consumption_of_an_older_one(
                    b, c,
                ))
            }),
        ];
        for (name, case) in cases {
            let backend: Arc<dyn SessionBackend> = Arc::new(WholeRecord(MemoryStore::new()));
            let outcome = tokio::spawn(case(backend, Capabilities::SERVER_SIDE)).await;
            assert!(
                outcome.is_err_and(|error| error.is_panic()),
                "the {name} case passed on a whole-record store"
            );
        }
    }
}
