//! `connections(n)` on the network stores really opens n connections (to each
//! server), as counted by the servers themselves: Redis's `CLIENT LIST`, memcached's
//! `stats conns`. Dedicated servers, so that no other test's clients are counted.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use session_memcache_store::MemcacheStore;
use session_redis_store::RedisStore;
use session_tests::servers::{MemcachedServer, RedisServer};

use crate::support::{app, send, session_cookie, session_id};

/// More than the default of one, so that a setting that is ignored shows.
const CONNECTIONS: usize = 3;

/// A server registers and drops connections on its own schedule (the fixture's
/// readiness probe may still be closing): ask up to this many times, a tick apart,
/// until the count is the expected one. Only the final count is asserted.
const POLLS: usize = 50;
const TICK: Duration = Duration::from_millis(100);

#[tokio::test]
async fn redis_connections_n_opens_n_connections() {
    let server = RedisServer::start();
    let store = RedisStore::builder()
        .url(server.url())
        .connections(CONNECTIONS)
        .build()
        .expect("valid");
    let app = app(store);
    // Round robin: every slot is leased, so dialled, within n requests; six times as
    // many must open no more.
    for _ in 0..3 * CONNECTIONS {
        let cookie = session_cookie(&send(&app, "/write", None).await).expect("a session cookie");
        send(&app, "/read", Some(&cookie)).await;
    }

    let mut admin = redis::Client::open(server.url())
        .expect("valid URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let own: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query_async(&mut admin)
        .await
        .expect("CLIENT ID");
    let own = format!("id={own} ");
    let mut clients = Vec::new();
    for _ in 0..POLLS {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut admin)
            .await
            .expect("CLIENT LIST");
        clients = list
            .lines()
            .filter(|line| !line.starts_with(&own))
            .map(str::to_owned)
            .collect();
        if clients.len() == CONNECTIONS {
            break;
        }
        tokio::time::sleep(TICK).await;
    }
    assert_eq!(
        clients.len(),
        CONNECTIONS,
        "the store's connections open on Redis: {clients:#?}"
    );
}

/// The client connections memcached lists in `stats conns` (`STAT <fd>:<field>
/// <value>` lines; only accepted connections have a `listen_addr`), other than the one
/// asking: each one's `addr`.
fn memcached_clients(stats: &mut BufReader<TcpStream>) -> Vec<String> {
    let own = format!(
        "tcp:{}",
        stats.get_ref().local_addr().expect("local address")
    );
    stats
        .get_mut()
        .write_all(b"stats conns\r\n")
        .expect("send stats conns");
    let mut connections: HashMap<String, HashMap<String, String>> = HashMap::new();
    loop {
        let mut line = String::new();
        stats.read_line(&mut line).expect("read stats conns");
        let Some(stat) = line.trim_end().strip_prefix("STAT ") else {
            break; // END
        };
        let (fd_field, value) = stat.split_once(' ').unwrap_or((stat, ""));
        let (fd, field) = fd_field.split_once(':').unwrap_or((fd_field, ""));
        connections
            .entry(fd.to_owned())
            .or_default()
            .insert(field.to_owned(), value.to_owned());
    }
    connections
        .into_values()
        .filter(|fields| fields.contains_key("listen_addr"))
        .filter_map(|mut fields| fields.remove("addr"))
        .filter(|addr| *addr != own)
        .collect()
}

#[tokio::test]
async fn memcached_connections_n_opens_n_connections_to_each_server() {
    let servers = [MemcachedServer::start(), MemcachedServer::start()];
    let addresses: Vec<String> = servers.iter().map(MemcachedServer::address).collect();
    let store = MemcacheStore::builder()
        .servers(addresses.clone())
        .connections(CONNECTIONS)
        .build()
        .expect("valid");
    let app = app(store.clone());
    // Each server's connections are leased round robin: three times as many requests
    // as connections reach every one of them, and must open no more.
    let mut requests: HashMap<String, usize> = HashMap::new();
    while addresses
        .iter()
        .any(|address| requests.get(address).copied().unwrap_or(0) < 3 * CONNECTIONS)
    {
        let cookie = session_cookie(&send(&app, "/write", None).await).expect("a session cookie");
        let server = store.server_for(&session_id(&cookie)).to_owned();
        *requests.entry(server).or_default() += 1;
    }

    for address in &addresses {
        let stream = TcpStream::connect(address).expect("memcached answers");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut stats = BufReader::new(stream);
        let mut clients = Vec::new();
        for _ in 0..POLLS {
            clients = memcached_clients(&mut stats);
            if clients.len() == CONNECTIONS {
                break;
            }
            std::thread::sleep(TICK);
        }
        assert_eq!(
            clients.len(),
            CONNECTIONS,
            "the store's connections open on {address}: {clients:#?}"
        );
    }
}
