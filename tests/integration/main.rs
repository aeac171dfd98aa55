//! Integration tests: one binary (link time matters on small machines), one module per
//! concern.

mod demo_flows;
