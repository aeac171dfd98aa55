//! The file store: React Router's file-storage vectors read and written byte for byte,
//! Remix 3's fs layout, path-traversal attempts, and two store instances racing on one
//! directory. (The conformance suite runs it in `conformance.rs`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::{header, HeaderMap, HeaderValue};
use serde_json::{json, Value};
use session_core::{Session, SessionId, SessionStorage, StoredSession};
use session_fs_store::{FileLayout, FsStore};
use session_middleware::{SessionCookie, SessionManager, SigningFormat};

use crate::react_router_vectors::{vectors, LINES};

/// A directory for this test process under cargo's temporary directory, named `name`.
pub(crate) fn shared_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fs-{name}-{}", std::process::id()))
}

/// A directory no other test uses (for tests that run the demo on the file store).
pub(crate) fn unique_dir(name: &str) -> PathBuf {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).expect("randomness");
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    shared_dir(&format!("{name}-{suffix}"))
}

/// A store on [`shared_dir`]`(name)` in `layout`.
pub(crate) fn store(name: &str, layout: FileLayout) -> FsStore {
    FsStore::builder(shared_dir(name))
        .layout(layout)
        .build()
        .expect("store")
}

/// A directory of its own for one test, emptied first.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = shared_dir(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file under `dir`, relative, but the store's lock files.
fn listing(dir: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if !path.ends_with(".lock") {
                let relative = path.strip_prefix(root).expect("under root");
                out.insert(relative.to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

fn rr_store(dir: &Path) -> FsStore {
    FsStore::builder(dir)
        .layout(FileLayout::ReactRouter)
        .build()
        .expect("store")
}

fn record_of(data: &Value) -> StoredSession {
    let flat: session_core::ValueMap = serde_json::from_value(data.clone()).expect("object");
    StoredSession {
        data: session_core::SessionData::from_flat(flat),
        ..StoredSession::default()
    }
}

/// The `file_storage` section, identical in all three lines: what React Router writes,
/// we write byte for byte; what it wrote, we read.
#[tokio::test]
async fn react_router_file_records_are_read_and_written_byte_for_byte() {
    let vectors = vectors();
    assert_eq!(
        vectors["differences_between_lines"]["file_storage"],
        "identical in all lines"
    );
    let files = &vectors["react_router_8"]["file_storage"];
    let dir = fresh_dir("rr-vectors");
    let store = rr_store(&dir);
    let id = SessionId::parse("deadbeef01234567").expect("a React Router ID");

    // create
    let created = &files["create"]["files"]["dead/beef01234567"]["content"];
    let data = json!({"count": 3, "user": {"id": 7, "name": "Zoë"}, "__flash_notice__": "saved"});
    assert!(store.create(&id, &record_of(&data)).await.expect("create"));
    let path = dir.join("dead/beef01234567");
    assert_eq!(
        std::fs::read_to_string(&path).expect("file"),
        created.as_str().expect("text")
    );
    let cookie = SessionCookie::builder("__session")
        .secret("s3cr3t")
        .format(SigningFormat::ReactRouter)
        .build()
        .expect("valid");
    assert_eq!(
        cookie
            .set_cookie(id.as_str())
            .expect("fits")
            .to_str()
            .expect("ascii"),
        files["create"]["set_cookie"]
    );

    // read back, then a read of the flash and the update it causes
    let backend = Arc::new(store.clone());
    let session = Session::new(backend.clone(), Some(id.as_str().to_owned()));
    session.load().await.expect("load");
    assert_eq!(
        session.get::<String>("notice").expect("get").as_deref(),
        Some("saved")
    );
    session.commit().await.expect("commit");
    let updated = &files["update_after_reading_flash"]["files"]["dead/beef01234567"]["content"];
    let text = std::fs::read_to_string(&path).expect("file");
    let (ours, theirs): (Value, Value) = (
        serde_json::from_str(&text).expect("json"),
        serde_json::from_str(updated.as_str().expect("text")).expect("json"),
    );
    assert_eq!(
        ours["data"], theirs["data"],
        "the flash was removed, nothing else"
    );

    // an expiry, written as `toISOString` writes it
    let dated = SessionId::parse("0001020304050607").expect("id");
    let mut record = record_of(&json!({"a": 1}));
    record.expires = Some(UNIX_EPOCH + Duration::from_secs(1_893_456_000));
    assert!(store.create(&dated, &record).await.expect("create"));
    assert_eq!(
        std::fs::read_to_string(dir.join("0001/020304050607")).expect("file"),
        files["create_with_expires"]["file"]["content"]
            .as_str()
            .expect("text")
    );

    // a record React Router wrote, flash inside, and an expired one (deleted on read)
    let foreign = &files["foreign_record_read"];
    let foreign_path = dir.join(foreign["path"].as_str().expect("path"));
    std::fs::create_dir_all(foreign_path.parent().expect("shard")).expect("mkdir");
    std::fs::write(&foreign_path, json!({"data": foreign["data"]}).to_string()).expect("write");
    let read = store
        .read(&SessionId::parse("cafef00dcafef00d").expect("id"))
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.data.flash["msg"], foreign["flash_msg"]);
    assert_eq!(read.data.values["from"], "rust");

    let expired = &files["expired_record"];
    let expired_path = dir.join("aaaa/aaaaaaaaaaaa");
    std::fs::create_dir_all(expired_path.parent().expect("shard")).expect("mkdir");
    std::fs::write(
        &expired_path,
        expired["file_written_by_script"].as_str().expect("text"),
    )
    .expect("write");
    let aaaa = SessionId::parse("aaaaaaaaaaaaaaaa").expect("id");
    assert!(store.read(&aaaa).await.expect("read").is_none());
    assert_eq!(expired["file_exists_after_read"], false);
    assert!(
        !expired_path.exists(),
        "an expired file is deleted when read"
    );

    // destroy
    assert!(store.delete(&id).await.expect("delete"));
    assert!(!path.exists());
    assert_eq!(
        cookie
            .clear_cookie()
            .expect("renders")
            .to_str()
            .expect("ascii"),
        files["destroy"]["set_cookie"]
    );
}

/// The IDs React Router would read but we refuse, and the ID that would walk out of
/// the directory: none touches a file, and the session starts fresh.
#[tokio::test]
async fn hostile_and_foreign_ids_never_touch_a_file() {
    let vectors = vectors();
    let files = &vectors["react_router_8"]["file_storage"];
    for layout in [FileLayout::ReactRouter, FileLayout::Remix] {
        let parent = fresh_dir(&format!("hostile-{layout:?}"));
        let dir = parent.join("sessions");
        let store = FsStore::builder(&dir)
            .layout(layout)
            .build()
            .expect("store");
        // Something for a traversal to find, beside and above the directory.
        std::fs::write(parent.join("secret"), "do not read").expect("write");
        let format = match layout {
            FileLayout::ReactRouter => SigningFormat::ReactRouter,
            _ => SigningFormat::NameBound,
        };
        let cookie = SessionCookie::builder("__session")
            .secret("s3cr3t")
            .format(format)
            .build()
            .expect("valid");
        let manager = SessionManager::new(cookie.clone(), store.clone()).expect("manager");
        let invalid = files["invalid_id"]["session"]["id"].as_str().expect("id");
        let upper = files["uppercase_id"]["id"].as_str().expect("id");
        let long = "a".repeat(5000);
        let attempts = [
            invalid,
            "../secret",
            "/etc/passwd",
            "..",
            "dead/../../secret",
            "dead\0beef01234567",
            upper,
            long.as_str(),
            "deadbeef0123456",
            "deadbeef012345678",
        ];
        let before = listing(&parent);
        for attempt in attempts {
            let mut headers = HeaderMap::new();
            let signed = cookie.sign(attempt).expect("sign");
            headers.insert(
                header::COOKIE,
                HeaderValue::from_str(&format!("__session={signed}")).expect("header"),
            );
            let session = manager.session_from_headers(&headers);
            session.load().await.expect("a fresh session, not an error");
            assert!(session.is_empty().expect("len"), "{layout:?}: {attempt:?}");
            assert_ne!(session.id().expect("id").as_str(), attempt);
            session.set("written", true).expect("set");
            session.commit().await.expect("commit");
        }
        let after = listing(&parent);
        let added: Vec<_> = after.difference(&before).collect();
        assert_eq!(
            added.len(),
            attempts.len(),
            "{layout:?}: one new session each, {added:?}"
        );
        assert!(
            added.iter().all(|file| file.starts_with("sessions/")),
            "{added:?}"
        );
        assert_eq!(
            std::fs::read_to_string(parent.join("secret")).expect("file"),
            "do not read"
        );
        // What the upper-case ID would have named (React Router keeps its case) never
        // appeared.
        assert!(!dir.join("DEAD").exists());
    }
}

/// Remix 3's fs layout: `<dir>/<sha256(id)[0..2]>/<sha256(id)[2..]>` holding the
/// `[values, flash]` JSON; a record Remix wrote reads, and one of ours has Remix's bytes
/// when it carries no stamp.
#[tokio::test]
async fn remix_fs_records_are_remixs_layout() {
    let dir = fresh_dir("remix-layout");
    let store = FsStore::open(&dir).expect("store");
    let id = SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").expect("a Remix id");
    let path = dir
        .join("30")
        .join("a5154b77ab8b2ddbe19f5e7af72f33cc2a4a41f22940d965102650a1c72863");
    std::fs::create_dir_all(path.parent().expect("shard")).expect("mkdir");
    let remix_wrote = r#"[{"count":3,"user":{"id":7,"name":"Zoë"}},{"notice":"saved"}]"#;
    std::fs::write(&path, remix_wrote).expect("write");
    let read = store.read(&id).await.expect("read").expect("found");
    assert_eq!(read.data.values["count"], 3);
    assert_eq!(read.data.flash["notice"], "saved");
    assert!(store
        .update(
            &id,
            &StoredSession {
                data: read.data,
                ..StoredSession::default()
            }
        )
        .await
        .expect("update"));
    assert_eq!(std::fs::read_to_string(&path).expect("file"), remix_wrote);
}

/// Two store instances on one directory, as two processes would be: of many creates
/// of one ID exactly one wins, and updates racing a delete never bring the record back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_racing_on_one_directory_keep_the_rules() {
    for layout in [FileLayout::Remix, FileLayout::ReactRouter] {
        let dir = fresh_dir(&format!("race-{layout:?}"));
        let stores = [
            FsStore::builder(&dir)
                .layout(layout)
                .build()
                .expect("store"),
            FsStore::builder(&dir)
                .layout(layout)
                .build()
                .expect("store"),
        ];
        let ids = layout_ids(layout, 20);
        for id in &ids {
            let creates = (0..8).map(|i| {
                let (store, id) = (stores[i % 2].clone(), id.clone());
                let record = record_of(&json!({ "writer": i }));
                tokio::spawn(async move { store.create(&id, &record).await.expect("create") })
            });
            let won = futures_count(creates).await;
            assert_eq!(won, 1, "{layout:?}: exactly one create of an ID wins");
        }
        for id in &ids {
            // Updates and merges from both instances, and deletes, all released at
            // once: whatever the order, the record ends deleted.
            let start = Arc::new(tokio::sync::Barrier::new(9));
            let mut tasks = Vec::new();
            for i in 0..8 {
                let (store, id, start) = (stores[i % 2].clone(), id.clone(), start.clone());
                tasks.push(tokio::spawn(async move {
                    let record = record_of(&json!({ "writer": i }));
                    start.wait().await;
                    if i % 4 == 0 {
                        store.delete(&id).await.expect("delete");
                    } else if i % 2 == 0 {
                        store.update(&id, &record).await.expect("update");
                    } else {
                        let mut changes = session_core::SessionChanges::default();
                        changes
                            .values
                            .insert("merged".into(), session_core::ValueChange::Set(json!(i)));
                        store.merge(&id, &record, &changes).await.expect("merge");
                    }
                }));
            }
            start.wait().await;
            for task in tasks {
                task.await.expect("task");
            }
            assert!(
                stores[0].read(id).await.expect("read").is_none(),
                "{layout:?}: resurrected"
            );
        }
        assert!(
            listing(&dir).iter().all(|f| !f.contains(".tmp-")),
            "no temporary file left"
        );
    }
}

fn layout_ids(layout: FileLayout, n: usize) -> Vec<SessionId> {
    let form = match layout {
        FileLayout::ReactRouter => session_core::IdForm::ShortHex,
        _ => session_core::IdForm::Native,
    };
    (0..n)
        .map(|_| SessionId::generate_in(form).expect("id"))
        .collect()
}

async fn futures_count(tasks: impl Iterator<Item = tokio::task::JoinHandle<bool>>) -> usize {
    let mut won = 0;
    for task in tasks.collect::<Vec<_>>() {
        won += usize::from(task.await.expect("task"));
    }
    won
}

/// Where React Router put each file of its run (`final_listing`), our store puts it
/// too, for every ID we accept; the upper-case one we refuse, and no temporary entry
/// is left behind (`leftover_entries`).
#[tokio::test]
async fn every_file_lands_where_react_router_puts_it() {
    let vectors = vectors();
    for line in LINES {
        let files = &vectors[line]["file_storage"];
        let dir = fresh_dir(&format!("listing-{line}"));
        let store = rr_store(&dir);
        for entry in files["final_listing"].as_array().expect("listing") {
            let entry = entry.as_str().expect("name");
            let id = entry.replace('/', "");
            match SessionId::parse(&id) {
                Some(id) => {
                    assert!(store
                        .create(&id, &StoredSession::default())
                        .await
                        .expect("create"));
                    assert!(dir.join(entry).is_file(), "{line}: {entry}");
                }
                None => assert_eq!(
                    entry, files["uppercase_id"]["file"],
                    "only the upper-case ID is refused"
                ),
            }
        }
        assert_eq!(files["leftover_entries"], json!([]));
        assert!(
            listing(&dir).iter().all(|f| !f.contains(".tmp")),
            "{line}: a temporary file was left"
        );
    }
}

/// `create_when_first_id_exists`: a create never touches an existing file;
/// `update_of_chmod_600_file`: an update keeps a file's mode and writes React Router's
/// bytes; `destroy_new_session`: destroying a session that was never stored clears
/// the cookie the same way.
#[tokio::test]
async fn creates_updates_and_destroys_as_react_router_does() {
    let vectors = vectors();
    let files = &vectors["react_router_8"]["file_storage"];
    let dir = fresh_dir("rr-create-update");
    let store = rr_store(&dir);
    let id = SessionId::parse("3031323334353637").expect("id");
    let existing = &files["create_when_first_id_exists"]["existing_file_untouched"];
    let first = record_of(&json!({"count": 3, "user": {"id": 7, "name": "Zoë"}}));
    assert!(store.create(&id, &first).await.expect("create"));
    assert!(!store
        .create(&id, &record_of(&json!({"other": 1})))
        .await
        .expect("create"));
    let path = dir.join("3031/323334353637");
    assert_eq!(
        std::fs::read_to_string(&path).expect("file"),
        existing["content"].as_str().expect("text")
    );

    let chmod = &files["update_of_chmod_600_file"];
    let updated = record_of(&json!({"count": 4, "user": {"id": 7, "name": "Zoë"}}));
    assert!(store.update(&id, &updated).await.expect("update"));
    assert_eq!(
        std::fs::read_to_string(&path).expect("file"),
        chmod["content"].as_str().expect("text")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(format!("{mode:04o}"), chmod["mode"].as_str().expect("mode"));
    }
    let cookie = SessionCookie::builder("__session")
        .secret("s3cr3t")
        .format(SigningFormat::ReactRouter)
        .build()
        .expect("valid");
    let manager = SessionManager::new(cookie, store).expect("manager");
    let mut headers = HeaderMap::new();
    headers.insert(
        header::COOKIE,
        HeaderValue::from_static("__session=whatever"),
    );
    let session = manager.session_from_headers(&headers);
    session.load().await.expect("load");
    session.destroy().expect("destroy");
    let mut answer = HeaderMap::new();
    manager.commit(&session, &mut answer).await.expect("commit");
    let cleared = answer.get(header::SET_COOKIE).expect("cleared");
    assert_eq!(
        cleared.to_str().expect("ascii"),
        files["destroy_new_session"]
    );
}
