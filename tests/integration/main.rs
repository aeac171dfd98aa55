//! Integration tests: one binary (link time matters on small machines), one module per
//! concern.

mod conformance;
mod connection_counts;
mod cookie_details;
mod demo_flows;
mod error_bodies;
mod expired_on_the_server;
mod failed_writes;
mod fuzz_corpora;
mod logs;
mod memcache_faults;
mod memcache_frozen;
mod memcache_limits;
mod memcache_store;
mod middleware;
mod numbers;
mod policy_details;
mod redis_clients;
mod redis_faults;
mod redis_merge;
mod redis_secured;
mod redis_store;
mod redis_topologies;
mod remix_vectors;
mod requirements;
mod support;
