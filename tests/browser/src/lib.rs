//! Browser tests of the demo: see `tests/browser.rs`, run by `scripts/e2e`, which
//! installs Chromium and ChromeDriver, starts both and the demo, and passes their
//! addresses in `CHROMEDRIVER_URL` and `DEMO_URL`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
