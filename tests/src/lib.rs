//! The storage conformance suite: one set of tests every session storage must pass.
//!
//! Two levels, each a macro that expands to one `#[tokio::test]` per case:
//!
//! - [`storage_conformance!`] checks the [`SessionStorage`] contract directly: reads
//!   never invent records, updates replace, deletes are idempotent, expired records never
//!   come back.
//! - [`backend_conformance!`] drives whole requests through [`Session`] (load, change,
//!   commit, next request with the returned cookie value) over any [`SessionBackend`],
//!   cookie storage included, with [`Capabilities`] for what a backend cannot do.
//!
//! ```
//! mod memory {
//!     session_tests::storage_conformance!(session_memory_store::MemoryStore::new());
//!     session_tests::backend_conformance!(
//!         session_memory_store::MemoryStore::new(),
//!         session_tests::Capabilities::SERVER_SIDE
//!     );
//! }
//! # fn main() {}
//! ```
//!
//! The factory expression is evaluated inside each async test, so it may `.await`
//! (connect to a real server, flush a database) and each test gets a fresh storage.
//!
//! [`Session`]: session_core::Session

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod alternating;
pub mod backend;
mod counted;
mod failing;
pub mod fuzz;
mod hosted;
pub mod login;
pub mod merge;
pub mod servers;
pub mod storage;

pub use alternating::Alternating;
pub use counted::{CallCounts, Counted};
pub use failing::{Failing, Operation};
pub use hosted::Hosted;
pub use session_core::{SessionBackend, SessionStorage};

/// What a backend can do, for the cases that depend on it.
#[derive(Clone, Copy, Debug)]
pub struct Capabilities {
    /// True when a session can be revoked on the server: after logout or
    /// `regenerate_id`, a replayed old cookie must not load the old session. Cookie
    /// storage keeps no server state and cannot do this.
    pub revocable: bool,
    /// True when parallel requests on one session keep each other's writes (the
    /// storage overrides [`SessionStorage::merge`]): the [`merge`] cases run.
    pub merges: bool,
    /// True when the storage lists and revokes a user's sessions
    /// ([`SessionStorage::user_sessions`]); false where it answers `Unsupported`.
    pub users: bool,
    /// True when an ID renewal leaves the old ID serving the renewed session for the
    /// grace period ([`SessionStorage::renew`] overridden); false where the old ID
    /// dies at once.
    pub renewal_grace: bool,
    /// True when a session keeps its ID from request to request; false for React
    /// Router's cookie layout, whose cookie holds no ID (each request sees a new one).
    pub stable_ids: bool,
}

impl Capabilities {
    /// A server-side, by-ID storage that merges (memory, Redis, memcached).
    pub const SERVER_SIDE: Self = Self {
        revocable: true,
        merges: true,
        users: true,
        renewal_grace: true,
        stable_ids: true,
    };
    /// A server-side storage that keeps [`SessionStorage::merge`]'s default (whole
    /// records, last writer wins), as a user's own storage may.
    pub const WHOLE_RECORD: Self = Self {
        revocable: true,
        merges: false,
        users: false,
        renewal_grace: false,
        stable_ids: true,
    };
    /// A server-side storage that merges but keeps no per-user index and renews
    /// without a grace period (the file store).
    pub const MERGING: Self = Self {
        revocable: true,
        merges: true,
        users: false,
        renewal_grace: false,
        stable_ids: true,
    };
    /// A storage that keeps the session in the cookie: the browser holds the only
    /// copy, so there is nothing to revoke and nothing to merge into.
    pub const CLIENT_SIDE: Self = Self {
        revocable: false,
        merges: false,
        users: false,
        renewal_grace: false,
        stable_ids: true,
    };
}

/// Expands to one `#[tokio::test]` per [`storage`] case, each with a fresh storage made
/// by the given expression, on a multi-thread runtime (four workers), so that the
/// concurrent cases really overlap.
///
/// `storage_conformance!(in_one_test NAME, make)` runs every case in turn in one test
/// named NAME, on one storage: for storages whose servers are too heavy to start once
/// per case (a Sentinel topology).
#[macro_export]
macro_rules! storage_conformance {
    (in_one_test $name:ident, $make:expr) => {
        $crate::storage_conformance!(@list @sequence $name, $make);
    };
    ($make:expr) => {
        $crate::storage_conformance!(@list @cases $make);
    };
    (@sequence $name:ident, $make:expr; $($case:ident),+ $(,)?) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let storage = ::std::sync::Arc::new($make);
            $( $crate::storage::$case(&storage).await; )+
        }
    };
    (@list @$how:ident $($args:tt)*) => {
        $crate::storage_conformance!(@$how $($args)*;
            read_of_an_unknown_id_is_none,
            create_then_read_returns_the_record,
            create_never_overwrites,
            update_replaces_the_whole_record,
            update_never_creates,
            replace_moves_the_session_and_never_overwrites,
            delete_removes_the_record,
            delete_of_an_unknown_id_succeeds,
            move_record_moves_only_a_live_record,
            expired_records_are_not_returned,
            future_expiry_is_kept,
            records_without_expiry_persist,
            records_are_independent,
            large_records_round_trip,
            an_update_too_large_keeps_the_previous_record,
            concurrent_writers_do_not_interfere,
            concurrent_creates_of_one_id_have_one_winner,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let storage = ::std::sync::Arc::new($make);
                $crate::storage::$case(&storage).await;
            }
        )+
    };
}

/// Expands to one `#[tokio::test]` per [`backend`] case, each with a fresh backend made
/// by the first expression, checked against the given [`Capabilities`].
///
/// `backend_conformance!(in_one_test NAME, make, capabilities)` runs every case in
/// turn in one test, on one backend (see [`storage_conformance!`]).
#[macro_export]
macro_rules! backend_conformance {
    (in_one_test $name:ident, $make:expr, $capabilities:expr) => {
        $crate::backend_conformance!(@list @sequence $name, $make, $capabilities);
    };
    ($make:expr, $capabilities:expr) => {
        $crate::backend_conformance!(@list @cases $make, $capabilities);
    };
    (@sequence $name:ident, $make:expr, $capabilities:expr; $($module:ident::$case:ident),+ $(,)?) => {
        #[tokio::test]
        async fn $name() {
            let backend: ::std::sync::Arc<dyn $crate::SessionBackend> =
                ::std::sync::Arc::new($make);
            $( $crate::$module::$case(backend.clone(), $capabilities).await; )+
        }
    };
    (@list @$how:ident $($args:tt)*) => {
        $crate::backend_conformance!(@$how $($args)*;
            backend::persists_across_requests,
            backend::an_untouched_session_is_not_written,
            backend::a_fresh_session_without_changes_sets_no_cookie,
            backend::flash_lives_by_the_backends_rule,
            backend::values_of_many_types_round_trip,
            backend::foreign_cookie_values_are_not_adopted,
            backend::regenerate_keeps_the_data_under_a_new_id,
            backend::destroy_clears_the_cookie_and_the_data,
            backend::expired_sessions_are_not_loaded,
            backend::sessions_past_the_absolute_timeout_are_not_loaded,
            backend::sessions_within_their_lifetime_load,
            backend::destroy_then_reuse_starts_a_new_session,
            backend::a_concurrent_logout_is_never_undone,
            backend::a_login_racing_a_logout_is_never_undone,
            merge::parallel_requests_keep_each_others_keys,
            merge::parallel_increments_all_count,
            merge::one_key_written_twice_ends_with_one_of_the_values,
            merge::a_removed_key_stays_removed,
            merge::a_consumed_flash_stays_consumed,
            merge::a_new_flash_survives_the_consumption_of_an_older_one,
            merge::a_parallel_logout_wins,
            merge::a_parallel_regeneration_wins,
            login::the_persistence_choice_is_kept_across_requests_and_regeneration,
            login::a_lifetime_of_its_own_replaces_the_idle_timeout,
            login::a_users_sessions_are_listed_and_revoked,
            login::a_stale_binding_is_never_listed,
            login::renewal_moves_the_session_and_the_old_id_serves_it_for_the_grace_only,
            login::a_save_racing_a_renewal_lands_in_the_renewed_session,
            login::a_parallel_write_keeps_a_binding_made_meanwhile,
            login::revoking_others_at_login_keeps_the_new_session,
            login::parallel_requests_due_for_renewal_keep_the_user_logged_in,
            login::a_write_landing_during_a_renewal_is_kept,
        );
    };
    (@cases $make:expr, $capabilities:expr; $($module:ident::$case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let backend: ::std::sync::Arc<dyn $crate::SessionBackend> =
                    ::std::sync::Arc::new($make);
                $crate::$module::$case(backend, $capabilities).await;
            }
        )+
    };
}

/// The README's Rust examples, compiled as doctests so they stay true: here, where every
/// framework they show (axum, hyper, tonic, actix-web) is a dependency.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
