//! A Redis Cluster over TLS on loopback: three masters, every slot covered.

use super::pki::TestPki;
use super::process::{free_ports, log_tail, redis_server_binary, Process, TempDir};
use super::redis_server::{redis_cli, tls_args, ClientCerts};
use super::resp::{command, info_field};
use std::time::{Duration, Instant};

const MASTERS: usize = 3;

/// Three redis-server masters in cluster mode, speaking TLS to clients, to each other
/// (`--tls-cluster yes`) and to replicas (`--tls-replication yes`), with the slots
/// spread by `redis-cli --cluster create`. Drop kills them and removes their files.
///
/// The nodes announce themselves as `localhost` (`cluster-announce-hostname`,
/// `cluster-preferred-endpoint-type hostname`), so the node addresses a client learns
/// from `CLUSTER SLOTS` match the server certificate, which is for `DNS:localhost`
/// only. Each node also has a plain port, used only to check readiness.
pub struct TlsRedisCluster {
    nodes: Vec<Process>,
    tls_ports: Vec<u16>,
    /// Last, so that the processes are gone before their files are removed.
    dir: TempDir,
}

impl TlsRedisCluster {
    /// Starts the three masters, joins them into one cluster and waits until every node
    /// says `cluster_state:ok`.
    ///
    /// The nodes present the client certificate of `pki` when they connect to each
    /// other (as a TLS server, Redis wants a client certificate from its peers, and the
    /// server certificate is for serverAuth only). `client_certs` says whether
    /// application clients need one too.
    ///
    /// # Panics
    ///
    /// When a node cannot be started, `redis-cli --cluster create` fails, or the
    /// cluster is not ready within 20 seconds.
    pub fn start(pki: &TestPki, client_certs: ClientCerts) -> Self {
        let dir = TempDir::new("tls-cluster");
        // Per node: the plain port, the TLS port and the cluster bus port.
        let ports = free_ports(3 * MASTERS);
        let path = |path: std::path::PathBuf| path.to_string_lossy().into_owned();
        let (client_cert, client_key) = (path(pki.client_cert_path()), path(pki.client_key_path()));
        let nodes: Vec<Process> = ports
            .chunks(3)
            .map(|node| {
                let (port, tls_port, bus_port) = (node[0], node[1], node[2]);
                let dir = &dir;
                let (client_cert, client_key) = (&client_cert, &client_key);
                Process::start_on(
                    port,
                    redis_server_binary(),
                    move |port| {
                        let mut args: Vec<String> = [
                            "--bind",
                            "127.0.0.1",
                            "-::1",
                            "--save",
                            "",
                            "--appendonly",
                            "no",
                            "--cluster-enabled",
                            "yes",
                            "--cluster-node-timeout",
                            "2000",
                            "--tls-cluster",
                            "yes",
                            "--tls-replication",
                            "yes",
                            "--cluster-announce-hostname",
                            "localhost",
                            "--cluster-preferred-endpoint-type",
                            "hostname",
                        ]
                        .map(str::to_owned)
                        .into();
                        args.extend(["--port".to_owned(), port.to_string()]);
                        args.extend(["--cluster-port".to_owned(), bus_port.to_string()]);
                        args.extend(["--dir".to_owned(), dir.path().to_string_lossy().into()]);
                        args.extend([
                            "--cluster-config-file".to_owned(),
                            format!("nodes-{port}.conf"),
                        ]);
                        args.extend([
                            "--logfile".to_owned(),
                            dir.file(&format!("node-{port}.log")),
                        ]);
                        args.extend(tls_args(pki, tls_port, client_certs));
                        args.extend(["--tls-client-cert-file".to_owned(), client_cert.clone()]);
                        args.extend(["--tls-client-key-file".to_owned(), client_key.clone()]);
                        args
                    },
                    b"PING\r\n",
                    b"+PONG\r\n",
                )
            })
            .collect();
        let tls_ports: Vec<u16> = ports.chunks(3).map(|node| node[1]).collect();
        let cluster = Self {
            nodes,
            tls_ports,
            dir,
        };
        cluster.create(pki);
        cluster
    }

    fn create(&self, pki: &TestPki) {
        let ca = pki.ca_cert_path().to_string_lossy().into_owned();
        let cert = pki.client_cert_path().to_string_lossy().into_owned();
        let key = pki.client_key_path().to_string_lossy().into_owned();
        let addresses: Vec<String> = self
            .tls_ports
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let mut args = vec!["--tls", "--cacert", &ca, "--cert", &cert, "--key", &key];
        args.push("--cluster");
        args.push("create");
        args.extend(addresses.iter().map(String::as_str));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        if let Err(output) = redis_cli(&args) {
            panic!("redis-cli --cluster create failed: {output}");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let states: Vec<Option<String>> = self
                .nodes
                .iter()
                .map(|node| {
                    let info = command(node.port(), &["CLUSTER", "INFO"]).ok()?;
                    info_field(&info, "cluster_state").map(str::to_owned)
                })
                .collect();
            if states.iter().all(|state| state.as_deref() == Some("ok")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the TLS cluster is not ready after 20 s: cluster_state per node {states:?}\n{}",
                log_tail(
                    &self.dir.file(&format!("node-{}.log", self.nodes[0].port())),
                    30
                )
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `rediss://localhost:TLS_PORT/` for each node.
    pub fn tls_node_urls(&self) -> Vec<String> {
        self.tls_ports
            .iter()
            .map(|port| format!("rediss://localhost:{port}/"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tls_cluster_serves_every_slot_and_announces_localhost() {
        let pki = TestPki::generate();
        let cluster = TlsRedisCluster::start(&pki, ClientCerts::Required);
        let urls = cluster.tls_node_urls();
        assert_eq!(urls.len(), 3);
        let ca = pki.ca_cert_path().to_string_lossy().into_owned();
        let cert = pki.client_cert_path().to_string_lossy().into_owned();
        let key = pki.client_key_path().to_string_lossy().into_owned();
        let cli = |port: u16, command: &[&str]| {
            let port = port.to_string();
            let mut args = vec![
                "-c", "--tls", "--cacert", &ca, "--cert", &cert, "--key", &key,
            ];
            args.extend(["-h", "localhost", "-p", &port]);
            args.extend_from_slice(command);
            redis_cli(&args)
        };
        // Keys on different slots, written through one node and read through another:
        // `-c` follows the MOVED redirections to the announced `localhost` addresses.
        for key in ["a", "b", "c", "d"] {
            assert_eq!(
                cli(cluster.tls_ports[0], &["SET", key, key]).as_deref(),
                Ok("OK")
            );
            assert_eq!(cli(cluster.tls_ports[2], &["GET", key]).as_deref(), Ok(key));
        }
        let slots = cli(cluster.tls_ports[1], &["CLUSTER", "SLOTS"]).expect("CLUSTER SLOTS");
        // redis-cli prints one element of the nested reply a line; each node is
        // `endpoint, port, id, metadata` (the metadata names its IP too).
        let lines: Vec<&str> = slots.lines().map(str::trim).collect();
        for port in &cluster.tls_ports {
            let node = ["localhost", &port.to_string()];
            assert!(
                lines.windows(2).any(|pair| pair == node),
                "{node:?} announced in {slots}"
            );
        }
    }
}
