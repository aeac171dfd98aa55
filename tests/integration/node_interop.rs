//! Live interop with the real Node packages (`tests/node`: react-router and
//! @react-router/node 8.5.1, @remix-run/session 0.4.2 with @remix-run/cookie 0.5.3,
//! pinned by its lock file): a session started on one side continues on the other and
//! back, a login made by one is honoured by the other, and a flash set by one is shown
//! exactly once by the other. Over React Router's cookie storage, React Router's file
//! storage and Remix 3's fs storage, each sharing a directory with our file store.
//!
//! `scripts/test` runs `npm ci` in `tests/node` when Node is installed and then
//! requires these tests to run (`SESSION_NODE_INTEROP=required`); without Node they
//! print a notice and pass.

use std::path::{Path, PathBuf};
use std::process::Command;

use http::{header, HeaderMap, HeaderValue};
use serde_json::{json, Value};
use session_cookie_store::CookieStore;
use session_core::SessionBackend;
use session_fs_store::{FileLayout, FsStore};
use session_middleware::{SessionCookie, SessionManager, SigningFormat};

const SECRET: &str = "an interop secret, shared by the Node app and us";

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// True when the Node side can run; otherwise prints why, and fails instead when
/// `scripts/test` said Node is there.
fn node_available() -> bool {
    let installed = node_dir().join("node_modules").is_dir()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
    if !installed {
        assert_ne!(
            std::env::var("SESSION_NODE_INTEROP").as_deref(),
            Ok("required"),
            "Node is installed but tests/node has no node_modules: run `npm ci --prefix tests/node`"
        );
        eprintln!("notice: Node or tests/node/node_modules missing; the live Node interop test is skipped");
    }
    installed
}

/// One request of the Node app; what it saw, and the `name=value` of its Set-Cookie.
fn node_request(storage: &str, cookie: &str, dir: Option<&Path>) -> (Value, String) {
    let mut command = Command::new("node");
    command.current_dir(node_dir()).args([
        "interop.mjs",
        storage,
        SECRET,
        &format!("__session={cookie}"),
    ]);
    if let Some(dir) = dir {
        command.arg(dir);
    }
    let out = command.output().expect("node runs");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    let set_cookie = reply["setCookie"]
        .as_str()
        .expect("a Set-Cookie")
        .to_owned();
    (reply["seen"].clone(), value_of(&set_cookie).to_owned())
}

/// The value in `__session=value; …`.
fn value_of(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().expect("a pair");
    pair.strip_prefix("__session=").expect("our cookie")
}

fn manager(format: SigningFormat, storage: impl SessionBackend) -> SessionManager {
    let cookie = SessionCookie::builder("__session")
        .secret(SECRET)
        .format(format)
        .build()
        .expect("valid");
    SessionManager::new(cookie, storage).expect("manager")
}

/// One request of ours, carrying `cookie`: `handle` sees the session; returns the
/// value of the cookie we answer with (the one sent if we set none).
async fn our_request(
    manager: &SessionManager,
    cookie: &str,
    handle: impl FnOnce(&session_core::Session),
) -> String {
    let mut headers = HeaderMap::new();
    if !cookie.is_empty() {
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("__session={cookie}")).expect("header"),
        );
    }
    let session = manager.session_from_headers(&headers);
    session.load().await.expect("load");
    handle(&session);
    let mut answer = HeaderMap::new();
    manager.commit(&session, &mut answer).await.expect("commit");
    match answer.get(header::SET_COOKIE) {
        Some(set) => value_of(set.to_str().expect("ascii")).to_owned(),
        None => cookie.to_owned(),
    }
}

fn text(session: &session_core::Session, key: &str) -> Option<String> {
    session.get::<String>(key).expect("get")
}

/// Rust starts, Node continues, Rust continues (and logs in), Node continues.
async fn both_ways(node_storage: &str, manager: SessionManager, dir: Option<&Path>) {
    // Ours first: a count and a flash.
    let cookie = our_request(&manager, "", |s| {
        s.set("count", 1).expect("set");
        s.flash("notice", "from rust").expect("flash");
    })
    .await;
    // Node continues it, sees our flash, logs in as grace and flashes back.
    let (seen, cookie) = node_request(node_storage, &cookie, dir);
    assert_eq!(
        seen,
        json!({"count": 1, "user": null, "notice": "from rust"}),
        "{node_storage}"
    );
    // We continue Node's session: its count, its login, its flash, shown once.
    let cookie = our_request(&manager, &cookie, |s| {
        assert_eq!(
            s.get::<i64>("count").expect("get"),
            Some(2),
            "{node_storage}"
        );
        assert_eq!(
            text(s, "user").as_deref(),
            Some("grace"),
            "Node's login is honoured"
        );
        assert_eq!(text(s, "notice").as_deref(), Some("from node"));
        s.increment("count", 1).expect("increment");
    })
    .await;
    let cookie = our_request(&manager, &cookie, |s| {
        assert_eq!(
            text(s, "notice"),
            None,
            "{node_storage}: a flash is shown once"
        );
        // Our login: a new ID, another user.
        s.regenerate_id().expect("regenerate");
        s.set("user", "ada").expect("set");
    })
    .await;
    // Node sees our login and no flash.
    let (seen, _) = node_request(node_storage, &cookie, dir);
    assert_eq!(
        seen,
        json!({"count": 3, "user": "ada", "notice": null}),
        "{node_storage}"
    );
}

#[tokio::test]
async fn react_router_cookie_storage_both_ways() {
    if !node_available() {
        return;
    }
    let manager = manager(SigningFormat::ReactRouter, CookieStore::react_router());
    both_ways("rr-cookie", manager, None).await;
}

#[tokio::test]
async fn react_router_file_storage_both_ways() {
    if !node_available() {
        return;
    }
    let dir = crate::fs_store::unique_dir("node-rr");
    let store = FsStore::builder(&dir)
        .layout(FileLayout::ReactRouter)
        .build()
        .expect("store");
    both_ways(
        "rr-file",
        manager(SigningFormat::ReactRouter, store),
        Some(&dir),
    )
    .await;
}

#[tokio::test]
async fn remix_fs_storage_both_ways() {
    if !node_available() {
        return;
    }
    let dir = crate::fs_store::unique_dir("node-remix");
    let store = FsStore::open(&dir).expect("store");
    both_ways("remix-fs", manager(SigningFormat::Remix, store), Some(&dir)).await;
}

/// A store directory shared with Node's (whose files are 0644 and whose updates go
/// through a temporary directory) is swept without harm.
#[tokio::test]
async fn sweeping_a_directory_node_writes_to_is_harmless() {
    if !node_available() {
        return;
    }
    let dir = crate::fs_store::unique_dir("node-sweep");
    let store = FsStore::builder(&dir)
        .layout(FileLayout::ReactRouter)
        .build()
        .expect("store");
    let (_, cookie) = node_request("rr-file", "", Some(&dir));
    let (_, _) = node_request("rr-file", &cookie, Some(&dir));
    assert_eq!(store.purge_expired().await.expect("sweep"), 0);
    let manager = manager(SigningFormat::ReactRouter, store);
    our_request(&manager, &cookie, |s| {
        assert_eq!(s.get::<i64>("count").expect("get"), Some(2));
    })
    .await;
}
