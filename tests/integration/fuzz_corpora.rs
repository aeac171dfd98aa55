//! The fuzz corpora (`fuzz/corpus/<target>/`), replayed through the same functions the
//! fuzz targets run, so every input a fuzzer ever kept is checked on every test run.

use std::path::PathBuf;

fn replay(target: &str, body: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut replayed = 0;
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        body(&data);
        replayed += 1;
    }
    assert!(replayed > 0, "the {target} corpus is empty");
}

#[test]
fn cookie_header_corpus() {
    replay("cookie_header", session_tests::fuzz::cookie_header);
}

#[test]
fn session_id_corpus() {
    replay("session_id", session_tests::fuzz::session_id);
}

#[test]
fn verify_corpus() {
    replay("verify", session_tests::fuzz::verify);
}

#[test]
fn payload_corpus() {
    replay("payload", session_tests::fuzz::payload);
}
