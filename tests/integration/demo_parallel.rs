//! The demo over a real socket, with requests in parallel on one cookie as a page's
//! parallel fetches send them: none of their writes may be lost.

use std::net::SocketAddr;

use session_demo::{DemoConfig, RedisOptions, StorageKind, COOKIE_NAME};
use session_tests::servers;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

const SECRET: &str = "a test secret that is at least thirty-two bytes long";

/// How many requests run at once.
const PARALLEL: usize = 20;

/// Serves the demo on `storage` on a port of its own.
async fn serve(storage: StorageKind) -> SocketAddr {
    let mut config = DemoConfig::new(SECRET);
    config.storage = storage;
    let app = session_demo::app(&config).expect("a valid demo configuration");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// What came back: the status code, the session cookie set (if any), the body.
struct Reply {
    status: u16,
    cookie: Option<String>,
    body: String,
}

/// `GET path` on a connection of its own, HTTP/1.1, with the session cookie if given.
async fn get(address: SocketAddr, path: &str, cookie: Option<&str>) -> Reply {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let cookie = cookie.map_or(String::new(), |value| {
        format!("Cookie: {COOKIE_NAME}={value}\r\n")
    });
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n{cookie}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let prefix = format!("set-cookie: {COOKIE_NAME}=");
    let cookie = head.lines().find_map(|line| {
        let lower = line.to_ascii_lowercase();
        lower.starts_with(&prefix).then(|| {
            let value = &line[prefix.len()..];
            value.split(';').next().unwrap_or_default().to_owned()
        })
    });
    Reply {
        status,
        cookie,
        body: body.to_owned(),
    }
}

/// `GET` each of `paths` at once with `cookie`; each must answer 200 `ok_body`.
async fn all_at_once(address: SocketAddr, cookie: &str, paths: Vec<String>) -> Vec<String> {
    let mut requests = JoinSet::new();
    for path in paths {
        let cookie = cookie.to_owned();
        requests.spawn(async move { get(address, &path, Some(&cookie)).await });
    }
    let mut bodies = Vec::new();
    while let Some(reply) = requests.join_next().await {
        let reply = reply.expect("the request task did not panic");
        assert_eq!(reply.status, 200, "{}", reply.body);
        bodies.push(reply.body);
    }
    bodies
}

/// 20 parallel `GET /visit/{page}` on one cookie, then `GET /visits` lists all 20.
async fn parallel_visits_are_all_recorded(storage: StorageKind) {
    let address = serve(storage).await;
    let first = get(address, "/visit/home", None).await;
    assert_eq!((first.status, first.body.as_str()), (200, "ok"));
    let cookie = first
        .cookie
        .expect("the first visit sets the session cookie");
    let pages: Vec<String> = (0..PARALLEL).map(|n| format!("p{n:02}")).collect();
    let paths = pages.iter().map(|page| format!("/visit/{page}")).collect();
    for body in all_at_once(address, &cookie, paths).await {
        assert_eq!(body, "ok");
    }
    let visits = get(address, "/visits", Some(&cookie)).await;
    let mut expected = pages;
    expected.push("home".to_owned());
    expected.sort();
    assert_eq!(
        visits.body,
        serde_json::to_string(&expected).expect("JSON"),
        "lost visits"
    );
}

/// 20 parallel `GET /hits` on one cookie all count.
async fn parallel_hits_all_count(storage: StorageKind) {
    let address = serve(storage).await;
    let first = get(address, "/hits", None).await;
    assert_eq!(first.body, "Hits: 1");
    let cookie = first.cookie.expect("the first hit sets the session cookie");
    let paths = (0..PARALLEL).map(|_| "/hits".to_owned()).collect();
    all_at_once(address, &cookie, paths).await;
    let last = get(address, "/hits", Some(&cookie)).await;
    assert_eq!(last.body, format!("Hits: {}", PARALLEL + 2));
}

/// A bad page name is refused with a clear message, and nothing is stored.
#[tokio::test]
async fn a_bad_page_name_is_refused() {
    let address = serve(StorageKind::Memory).await;
    let reply = get(address, "/visit/%3Cscript%3E", None).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("letters, digits"), "{}", reply.body);
    assert_eq!(reply.cookie, None);
}

macro_rules! on_each_merging_storage {
    ($($flow:ident),+) => {
        mod memory {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $flow() { super::$flow(session_demo::StorageKind::Memory).await; } )+
        }
        mod redis {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $flow() {
                let options = super::RedisOptions::new(super::servers::redis_url());
                super::$flow(session_demo::StorageKind::Redis(options)).await;
            } )+
        }
        mod memcached {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $flow() {
                let servers = super::servers::memcache_servers();
                super::$flow(session_demo::StorageKind::Memcache(servers)).await;
            } )+
        }
    };
}

on_each_merging_storage!(parallel_visits_are_all_recorded, parallel_hits_all_count);
