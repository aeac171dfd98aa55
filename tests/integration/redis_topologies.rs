//! Redis topologies beyond one node: Sentinel (including a failover with SIGKILL) and
//! a TLS Redis Cluster. Each test starts its own servers (`session_tests::servers`);
//! since a topology takes seconds to start, the conformance cases run in turn on one.

use std::time::{Duration, Instant};

use http::StatusCode;
use session_redis_store::RedisStore;
use session_tests::servers::{ClientCerts, SentinelSetup, TestPki, TlsRedisCluster};
use session_tests::{backend_conformance, storage_conformance, Capabilities, Hosted};

use crate::support::{app, body_text, send, session_cookie};

/// Short, so that the failover test sees requests fail fast while the master is gone.
const FAILOVER_TIMEOUT: Duration = Duration::from_millis(500);

fn sentinel_builder(
    setup: &SentinelSetup,
    timeout: Duration,
) -> session_redis_store::RedisStoreBuilder {
    RedisStore::builder()
        .sentinel(setup.sentinel_addresses(), setup.master_name())
        .connect_timeout(timeout)
        .command_timeout(timeout)
}

fn sentinel_store() -> Hosted<RedisStore> {
    let setup = SentinelSetup::start("sessions");
    // A dial asks a sentinel, checks the master's role and connects: room for all
    // three on a busy machine.
    let store = sentinel_builder(&setup, Duration::from_secs(3))
        .build()
        .expect("valid");
    Hosted::new(store, setup)
}

fn tls_cluster_store() -> Hosted<RedisStore> {
    let pki = TestPki::generate();
    let cluster = TlsRedisCluster::start(&pki, ClientCerts::Optional);
    let store = RedisStore::builder()
        .cluster(cluster.tls_node_urls())
        .ca_certificate_file(pki.ca_cert_path())
        .build()
        .expect("valid");
    Hosted::new(store, (cluster, pki))
}

storage_conformance!(in_one_test sentinel_storage_conformance, sentinel_store());
backend_conformance!(
    in_one_test sentinel_backend_conformance,
    sentinel_store(),
    Capabilities::SERVER_SIDE
);
storage_conformance!(in_one_test tls_cluster_storage_conformance, tls_cluster_store());

/// SIGKILL the master: requests fail with a 503 while the sentinels promote the
/// replica (none hangs: each is bounded by the timeouts), then the store finds the new
/// master by itself and serves the sessions written before the failover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_failover_the_store_finds_the_new_master() {
    let mut setup = SentinelSetup::start("sessions");
    let app = app(sentinel_builder(&setup, FAILOVER_TIMEOUT)
        .build()
        .expect("valid"));
    let mut cookies = Vec::new();
    for _ in 0..5 {
        let response = send(&app, "/write", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        cookies.push(session_cookie(&response).expect("a cookie"));
    }
    // Make sure the replica has them before its master dies.
    setup.wait_replicated();
    setup.kill_master();
    let killed = Instant::now();

    let (mut failed, mut first_failure, mut last_failure) = (0, None, None);
    let served_again = loop {
        // An outer bound far above the timeouts: a hang fails here, not in CI's limit.
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            send(&app, "/read", Some(&cookies[0])),
        )
        .await
        .expect("no request hangs during a failover");
        match response.status() {
            StatusCode::OK => break killed.elapsed(),
            StatusCode::SERVICE_UNAVAILABLE => {
                failed += 1;
                first_failure.get_or_insert(killed.elapsed());
                last_failure = Some(killed.elapsed());
            }
            other => panic!("a failover gave {other}, not a 503"),
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the store never found the new master"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let promoted = setup.wait_for_failover(Duration::from_secs(20));
    // The figures for the closing note: `cargo test … after_a_failover -- --nocapture`.
    eprintln!(
        "failover: {failed} requests failed (first at {first_failure:?}, last at \
         {last_failure:?} after the kill); sentinels promoted the replica {promoted:?} \
         after it; the store served again {served_again:?} after it"
    );
    for cookie in &cookies {
        let response = send(&app, "/read", Some(cookie)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            body_text(response).await,
            "Ok(Some(1))",
            "written before the failover"
        );
    }
    let response = send(&app, "/write", Some(&cookies[1])).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the new master takes writes"
    );
    assert_eq!(body_text(response).await, "2");
}
