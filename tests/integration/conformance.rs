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
