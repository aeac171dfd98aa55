//! Unit tests: paths, permissions, corrupt files, the sweeper.

use std::path::PathBuf;

use session_core::{IdForm, SessionId, SessionStorage, StoredSession};

use super::*;

/// A fresh directory under the system's temporary one, removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).expect("randomness");
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Self(std::env::temp_dir().join(format!("session-fs-{name}-{suffix}")))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn remix_layout_names_files_by_the_ids_hash() {
    let dir = TempDir::new("remix");
    let store = FsStore::open(&dir.0).expect("store");
    let id = SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").expect("id");
    assert!(store
        .create(&id, &StoredSession::default())
        .await
        .expect("create"));
    // sha256("f81d4fae-…"), lowercase hex, as Remix's fs storage names the file.
    let expected = dir
        .0
        .join("30")
        .join("a5154b77ab8b2ddbe19f5e7af72f33cc2a4a41f22940d965102650a1c72863");
    assert_eq!(
        layout::FileLayout::Remix.path(&dir.0, &id),
        Some(expected.clone())
    );
    assert_eq!(
        files_under(&dir.0)
            .iter()
            .filter(|p| !p.ends_with(".lock"))
            .count(),
        1
    );
    assert_eq!(std::fs::read_to_string(&expected).expect("file"), "[{},{}]");
}

#[tokio::test]
async fn react_router_layout_names_files_by_the_id_and_refuses_others() {
    let dir = TempDir::new("rr");
    let store = FsStore::builder(&dir.0)
        .layout(FileLayout::ReactRouter)
        .build()
        .expect("store");
    assert_eq!(store.rules(), SessionRules::REACT_ROUTER_FILES);
    let id = SessionId::parse("deadbeef01234567").expect("id");
    assert!(store
        .create(&id, &StoredSession::default())
        .await
        .expect("create"));
    let file = dir.0.join("dead").join("beef01234567");
    assert_eq!(
        std::fs::read_to_string(&file).expect("file"),
        r#"{"data":{}}"#
    );
    // A native ID has no file in this layout: nothing read, nothing written.
    let native = SessionId::generate_in(IdForm::Native).expect("id");
    assert!(store.read(&native).await.expect("read").is_none());
    assert!(!store
        .update(&native, &StoredSession::default())
        .await
        .expect("update"));
    assert!(!store.delete(&native).await.expect("delete"));
    assert!(store
        .create(&native, &StoredSession::default())
        .await
        .is_err());
    assert_eq!(
        files_under(&dir.0)
            .iter()
            .filter(|p| !p.ends_with(".lock"))
            .count(),
        1
    );
}

#[cfg(unix)]
#[tokio::test]
async fn directories_and_files_are_private_unless_configured() {
    use std::os::unix::fs::PermissionsExt;

    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    let dir = TempDir::new("modes");
    let store = FsStore::open(dir.0.join("sessions")).expect("store");
    let id = SessionId::generate().expect("id");
    assert!(store
        .create(&id, &StoredSession::default())
        .await
        .expect("create"));
    let file = FileLayout::Remix.path(store.dir(), &id).expect("path");
    assert_eq!(mode(store.dir()), 0o700);
    assert_eq!(mode(file.parent().expect("shard")), 0o700);
    assert_eq!(mode(&file), 0o600);

    let shared = FsStore::builder(dir.0.join("shared"))
        .dir_mode(0o750)
        .file_mode(0o640)
        .build()
        .expect("store");
    assert!(shared
        .create(&id, &StoredSession::default())
        .await
        .expect("create"));
    let file = FileLayout::Remix.path(shared.dir(), &id).expect("path");
    assert_eq!(mode(shared.dir()), 0o750);
    assert_eq!(mode(&file), 0o640);
    let file = FileLayout::Remix.path(store.dir(), &id).expect("path");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(store
        .update(&id, &StoredSession::default())
        .await
        .expect("update"));
    assert_eq!(mode(&file), 0o644, "an update keeps the mode");
}

#[tokio::test]
async fn a_corrupt_file_reads_as_no_session() {
    let dir = TempDir::new("corrupt");
    let store = FsStore::open(&dir.0).expect("store");
    let id = SessionId::generate().expect("id");
    assert!(store
        .create(&id, &StoredSession::default())
        .await
        .expect("create"));
    let file = FileLayout::Remix.path(&dir.0, &id).expect("path");
    for garbage in [&b"{not json"[..], b"\xff\xfe", b"", b"{}"] {
        std::fs::write(&file, garbage).expect("write");
        assert!(store.read(&id).await.expect("no error").is_none());
        assert!(!store
            .update(&id, &StoredSession::default())
            .await
            .expect("update"));
    }
}

#[tokio::test]
async fn the_sweeper_removes_expired_and_stale_files_and_stops_with_the_store() {
    let dir = TempDir::new("sweep");
    let store = FsStore::builder(&dir.0)
        .ttl(Duration::from_secs(3600))
        .build()
        .expect("store");
    let (live, expired, undated) = (
        SessionId::generate().expect("id"),
        SessionId::generate().expect("id"),
        SessionId::generate().expect("id"),
    );
    let mut record = StoredSession {
        expires: Some(SystemTime::now() + Duration::from_secs(600)),
        ..StoredSession::default()
    };
    assert!(store.create(&live, &record).await.expect("create"));
    record.expires = Some(SystemTime::now() + Duration::from_millis(50));
    assert!(store.create(&expired, &record).await.expect("create"));
    assert!(store
        .create(&undated, &StoredSession::default())
        .await
        .expect("create"));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(store.purge_expired().await.expect("sweep"), 1);
    assert!(store.read(&live).await.expect("read").is_some());
    assert!(
        store.read(&undated).await.expect("read").is_some(),
        "younger than its TTL"
    );
    assert!(!FileLayout::Remix
        .path(&dir.0, &expired)
        .expect("path")
        .exists());

    let weak = Arc::downgrade(&store.inner);
    drop(store);
    assert!(weak.upgrade().is_none(), "the sweeper kept the store alive");
}

#[tokio::test]
async fn the_sweeper_removes_undated_records_past_their_ttl_and_crash_leftovers() {
    let dir = TempDir::new("sweep-stale");
    let store = FsStore::builder(&dir.0)
        .ttl(Duration::from_millis(50))
        .build()
        .expect("store");
    let id = SessionId::generate().expect("id");
    assert!(store
        .create(&id, &StoredSession::default())
        .await
        .expect("create"));
    let file = FileLayout::Remix.path(&dir.0, &id).expect("path");
    let shard = file.parent().expect("shard").to_path_buf();
    // A temporary file a crash left behind, an hour and a bit old, and a fresh one.
    let (old_temp, new_temp) = (
        shard.join(".tmp-0123456789abcdef"),
        shard.join(".tmp-fedcba9876543210"),
    );
    for temp in [&old_temp, &new_temp] {
        std::fs::write(temp, "partial").expect("write");
    }
    let hour_ago = SystemTime::now() - Duration::from_secs(3700);
    std::fs::File::options()
        .write(true)
        .open(&old_temp)
        .and_then(|f| f.set_modified(hour_ago))
        .expect("backdate");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        store.purge_expired().await.expect("sweep"),
        1,
        "the undated record"
    );
    assert!(!file.exists());
    assert!(!old_temp.exists(), "the crash leftover is removed");
    assert!(new_temp.exists(), "a write in progress is left alone");
}

#[tokio::test]
async fn update_merge_and_delete_of_an_unknown_id_create_nothing() {
    let dir = TempDir::new("unknown");
    let store = FsStore::open(&dir.0).expect("store");
    let id = SessionId::generate().expect("id");
    assert!(!store
        .update(&id, &StoredSession::default())
        .await
        .expect("update"));
    let changes = session_core::SessionChanges::default();
    assert!(!store
        .merge(&id, &StoredSession::default(), &changes)
        .await
        .expect("merge"));
    assert!(!store.delete(&id).await.expect("delete"));
    assert!(files_under(&dir.0).is_empty(), "{:?}", files_under(&dir.0));
}

#[tokio::test]
async fn an_expired_record_counts_as_absent_for_a_create() {
    let dir = TempDir::new("expired-create");
    let store = FsStore::open(&dir.0).expect("store");
    let id = SessionId::generate().expect("id");
    let expired = StoredSession {
        expires: Some(SystemTime::now() + Duration::from_millis(30)),
        ..StoredSession::default()
    };
    assert!(store.create(&id, &expired).await.expect("create"));
    std::thread::sleep(Duration::from_millis(60));
    assert!(store
        .create(&id, &StoredSession::default())
        .await
        .expect("create over expired"));
    assert!(store.read(&id).await.expect("read").is_some());
    assert!(
        !store
            .create(&id, &StoredSession::default())
            .await
            .expect("create"),
        "a live one is kept"
    );
}

#[tokio::test]
async fn expired_records_are_not_returned_updated_or_counted_as_deleted() {
    let dir = TempDir::new("expired");
    let store = FsStore::builder(&dir.0)
        .layout(FileLayout::ReactRouter)
        .build()
        .expect("store");
    assert_eq!(store.layout(), FileLayout::ReactRouter);
    let id = SessionId::generate_in(IdForm::ShortHex).expect("id");
    let soon = StoredSession {
        expires: Some(SystemTime::now() + Duration::from_millis(30)),
        ..StoredSession::default()
    };
    assert!(store.create(&id, &soon).await.expect("create"));
    std::thread::sleep(Duration::from_millis(60));
    let changes = session_core::SessionChanges::default();
    assert!(!store
        .update(&id, &StoredSession::default())
        .await
        .expect("update"));
    assert!(!store
        .merge(&id, &StoredSession::default(), &changes)
        .await
        .expect("merge"));
    assert!(
        !store.delete(&id).await.expect("delete"),
        "no live record was there"
    );
    assert!(store.create(&id, &soon).await.expect("create"));
    std::thread::sleep(Duration::from_millis(60));
    let file = FileLayout::ReactRouter.path(&dir.0, &id).expect("path");
    assert!(file.exists());
    assert!(store.read(&id).await.expect("read").is_none());
    assert!(!file.exists(), "an expired file is deleted when read");
}

#[tokio::test]
async fn a_merge_applies_the_changes_to_the_stored_record() {
    let dir = TempDir::new("merge");
    let store = FsStore::open(&dir.0).expect("store");
    let id = SessionId::generate().expect("id");
    let mut stored = StoredSession::default();
    stored
        .data
        .values
        .insert("kept".into(), serde_json::json!(1));
    assert!(store.create(&id, &stored).await.expect("create"));
    let mut changes = session_core::SessionChanges::default();
    changes.values.insert(
        "added".into(),
        session_core::ValueChange::Set(serde_json::json!(2)),
    );
    assert!(store
        .merge(&id, &StoredSession::default(), &changes)
        .await
        .expect("merge"));
    let read = store.read(&id).await.expect("read").expect("found");
    assert_eq!(read.data.values.get("kept"), Some(&serde_json::json!(1)));
    assert_eq!(read.data.values.get("added"), Some(&serde_json::json!(2)));
}

#[tokio::test]
async fn the_sweeper_leaves_what_is_not_a_shard_alone() {
    let dir = TempDir::new("foreign");
    let store = FsStore::open(&dir.0).expect("store");
    // A directory that is no shard name, holding an expired record, and a file whose
    // name is hex but no shard's length.
    let foreign = dir.0.join("zz");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("record"), r#"[{},{},{"expires":1}]"#).expect("write");
    std::fs::write(dir.0.join("abcdef"), "notes").expect("write");
    assert_eq!(store.purge_expired().await.expect("sweep"), 0);
    assert!(foreign.join("record").exists());
    assert!(dir.0.join("abcdef").exists());
}

#[tokio::test]
async fn a_record_path_that_cannot_be_read_is_an_error_not_a_missing_session() {
    let dir = TempDir::new("unreadable");
    let store = FsStore::open(&dir.0).expect("store");
    let id = SessionId::generate().expect("id");
    let file = FileLayout::Remix.path(&dir.0, &id).expect("path");
    std::fs::create_dir_all(&file).expect("a directory where the file would be");
    assert!(store.read(&id).await.is_err());
}

mod files_unit {
    use super::*;
    use crate::files::{self, Modes};

    const MODES: Modes = Modes {
        dir: 0o700,
        file: 0o600,
    };

    #[test]
    fn missing_files_are_none_or_false_and_other_failures_are_errors() {
        let dir = TempDir::new("files");
        files::create_dir(&dir.0, MODES).expect("mkdir");
        let missing = dir.0.join("missing");
        assert!(files::read(&missing).expect("no error").is_none());
        assert!(!files::remove(&missing).expect("no error"));
        let a_dir = dir.0.join("a-dir");
        files::create_dir(&a_dir, MODES).expect("mkdir");
        assert!(files::read(&a_dir).is_err());
        assert!(files::remove(&a_dir).is_err());
        let file = dir.0.join("file");
        assert!(files::create(&file, b"one", MODES).expect("create"));
        assert!(!files::create(&file, b"two", MODES).expect("taken"));
        assert!(files::remove(&file).expect("remove"));
        // A name the file system refuses is an error, not "taken".
        let too_long = dir.0.join("x".repeat(300));
        assert!(files::create(&too_long, b"x", MODES).is_err());
    }
}
