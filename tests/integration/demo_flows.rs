//! HTTP-level tests of every demo flow (placeholder).
