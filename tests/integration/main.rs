//! Integration tests: one binary (link time matters on small machines), one module per
//! concern.

mod conformance;
mod connection_counts;
mod cookie_details;
mod demo_flows;
mod error_bodies;
mod fuzz_corpora;
mod memcache_store;
mod middleware;
mod numbers;
mod policy_details;
mod redis_clients;
mod redis_secured;
mod redis_store;
mod redis_topologies;
mod remix_vectors;
mod requirements;
mod support;
