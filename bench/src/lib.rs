//! Benchmark support: the no-session baseline server and the memory-per-session
//! measurement live in `src/bin/`; the criterion micro-benchmarks in `benches/micro.rs`.
