//! The storage conformance suite (placeholder).
