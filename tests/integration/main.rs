//! Integration tests: one binary (link time matters on small machines), one module per
//! concern.

mod conformance;
mod demo_flows;
mod middleware;
mod remix_vectors;
