//! A Redis Sentinel topology on loopback: one master, one replica, three sentinels.

use super::process::{log_tail, redis_server_binary, Process, TempDir};
use super::resp::{command, info_field, Reply};
use std::time::{Duration, Instant};

/// How many sentinels watch the master; a failover needs the votes of two.
const SENTINELS: usize = 3;
/// How long the first sentinel waits before it calls an unanswering master down.
/// The others wait [`SLOW_DOWN_AFTER`]: when all three noticed together, each voted
/// for itself, no leader was elected, and the retry six seconds later split the same
/// way (seen on CI). With one sentinel noticing first and a quorum of one, that one
/// asks for votes alone and the other two, not in a failover of their own, grant them.
const QUICK_DOWN_AFTER: Duration = Duration::from_millis(500);
/// How long the other sentinels wait: longer than any test waits for a failover.
const SLOW_DOWN_AFTER: Duration = Duration::from_secs(120);
/// How long [`SentinelSetup::start`] waits for replication and for the sentinels to
/// know each other; it normally takes two or three seconds (sentinels announce
/// themselves every two).
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// One master and one replica (redis-server processes on 127.0.0.1) watched by three
/// sentinels, one of which calls the master down after 500 ms without an answer
/// (see `QUICK_DOWN_AFTER` for why only one), each with its own writable config files in a temporary directory.
/// Drop kills every process and removes the directory.
///
/// Clients find the master through [`sentinel_addresses`](Self::sentinel_addresses)
/// and [`master_name`](Self::master_name); a test provokes a failover with
/// [`kill_master`](Self::kill_master) and [`wait_for_failover`](Self::wait_for_failover).
pub struct SentinelSetup {
    master_name: String,
    sentinels: Vec<Process>,
    /// The first master and its replica; after a failover either may be the master.
    nodes: Vec<Process>,
    /// The master address ("IP:PORT") the sentinels agreed on last.
    known_master: String,
    /// When [`kill_master`](Self::kill_master) last killed one.
    killed_at: Option<Instant>,
    /// Last, so that the processes are gone before their files are removed.
    dir: TempDir,
}

impl SentinelSetup {
    /// Starts the master, the replica and the sentinels, and returns once the replica
    /// is in sync and every sentinel sees the master, the replica and both other
    /// sentinels (without the other sentinels, no failover can be agreed on).
    ///
    /// # Panics
    ///
    /// When a process cannot be started (scripts/test installs redis-server), or the
    /// topology is not ready within 20 seconds, with what was missing and the end of a
    /// sentinel's log.
    pub fn start(master_name: &str) -> Self {
        assert!(
            !master_name.is_empty() && !master_name.contains(char::is_whitespace),
            "a sentinel master name is one word, not {master_name:?}"
        );
        let dir = TempDir::new("sentinel");
        let master = node(&dir, &[]);
        let master_port = master.port();
        let replica = node(
            &dir,
            &["--replicaof", "127.0.0.1", &master_port.to_string()],
        );
        // Before the sentinels start: their first INFO of the master then already lists
        // the replica (the next one comes only ten seconds later).
        wait_for(
            "the replica to sync with the master",
            || {
                let info =
                    |port| command(port, &["INFO", "replication"]).map_err(|e| e.to_string());
                let (replica_info, master_info) = (info(replica.port())?, info(master_port)?);
                let link = info_field(&replica_info, "master_link_status");
                let slave = info_field(&master_info, "slave0");
                if link == Some("up") && slave.is_some_and(|s| s.contains("state=online")) {
                    Ok(())
                } else {
                    Err(format!("replica link {link:?}, master's slave0 {slave:?}"))
                }
            },
            || dir.file(&format!("node-{}.log", replica.port())),
        );
        let sentinels = (0..SENTINELS)
            .map(|i| {
                let down_after = if i == 0 {
                    QUICK_DOWN_AFTER
                } else {
                    SLOW_DOWN_AFTER
                };
                sentinel(&dir, master_name, master_port, down_after)
            })
            .collect();
        let setup = Self {
            master_name: master_name.to_owned(),
            sentinels,
            nodes: vec![master, replica],
            known_master: format!("127.0.0.1:{master_port}"),
            killed_at: None,
            dir,
        };
        let first_log = setup
            .dir
            .file(&format!("sentinel-{}.log", setup.sentinels[0].port()));
        wait_for(
            "every sentinel to see the master, the replica and the other sentinels",
            || {
                let states: Vec<Option<String>> = setup
                    .sentinels
                    .iter()
                    .map(|sentinel| setup.unready_reason(sentinel.port()))
                    .collect();
                if states.iter().all(Option::is_none) {
                    Ok(())
                } else {
                    Err(states)
                }
            },
            || first_log.clone(),
        );
        setup
    }

    /// None when the sentinel on `port` is ready, else what it still lacks.
    fn unready_reason(&self, port: u16) -> Option<String> {
        let name = self.master_name.as_str();
        let master = match command(port, &["SENTINEL", "master", name]) {
            Ok(master) => master,
            Err(error) => return Some(format!("unreachable: {error}")),
        };
        let replicas = command(port, &["SENTINEL", "replicas", name]).ok();
        let replica = replicas.as_ref().and_then(|r| r.elements().first());
        let ready = master.field("flags") == Some("master")
            && master.field("num-other-sentinels") == Some("2")
            && replica.is_some_and(|replica| {
                replica.field("flags") == Some("slave")
                    && replica.field("master-link-status") == Some("ok")
            });
        (!ready).then(|| format!("master {master:?}, replica {replica:?}"))
    }

    /// The sentinels, `127.0.0.1:PORT` each.
    pub fn sentinel_addresses(&self) -> Vec<String> {
        self.sentinels
            .iter()
            .map(|sentinel| format!("127.0.0.1:{}", sentinel.port()))
            .collect()
    }

    /// The name the sentinels monitor the master under.
    pub fn master_name(&self) -> &str {
        &self.master_name
    }

    /// The current master as `redis://IP:PORT/`, as the first sentinel that answers
    /// reports it (`SENTINEL get-master-addr-by-name`).
    ///
    /// # Panics
    ///
    /// When no sentinel answers.
    pub fn master_url(&self) -> String {
        format!("redis://{}/", self.current_master())
    }

    /// "IP:PORT" of the current master, from the first sentinel that answers.
    fn current_master(&self) -> String {
        self.sentinels
            .iter()
            .find_map(|sentinel| self.master_address_from(sentinel.port()))
            .expect("a sentinel that answers get-master-addr-by-name")
    }

    fn master_address_from(&self, sentinel_port: u16) -> Option<String> {
        let reply = command(
            sentinel_port,
            &["SENTINEL", "get-master-addr-by-name", &self.master_name],
        )
        .ok()?;
        match reply.elements() {
            [ip, port] => Some(format!("{}:{}", ip.text()?, port.text()?)),
            _ => None,
        }
    }

    /// Waits (up to two seconds) until the replica acknowledged everything written to
    /// the current master so far (`WAIT 1 2000`), so a failover cannot lose it.
    ///
    /// # Panics
    ///
    /// When no replica acknowledged in time (after a failover there is none: the old
    /// master is dead).
    pub fn wait_replicated(&self) {
        let master = self.current_master();
        let reply = command(port_of(&master), &["WAIT", "1", "2000"]);
        assert!(
            matches!(reply, Ok(Reply::Integer(acked)) if acked >= 1),
            "no replica of {master} acknowledged the writes within 2 s: {reply:?}"
        );
    }

    /// Kills the current master (SIGKILL: no goodbye to clients, no handover) and waits
    /// for the process to be gone. The sentinels notice within about half a second.
    ///
    /// # Panics
    ///
    /// When the master the sentinels report is none of this setup's processes.
    pub fn kill_master(&mut self) {
        let master = self.current_master();
        let port = port_of(&master);
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port() == port)
            .unwrap_or_else(|| {
                panic!("the sentinels report {master}, not one of this setup's nodes")
            });
        node.kill();
        self.killed_at = Some(Instant::now());
    }

    /// Polls the sentinels until every one reports a master other than the last known
    /// one and that node answers as a master; returns how long it took, counted from
    /// [`kill_master`](Self::kill_master) when it was called, else from now. Usually
    /// two to five seconds after a kill.
    ///
    /// # Panics
    ///
    /// When that does not happen within `timeout`, with what the sentinels report.
    pub fn wait_for_failover(&mut self, timeout: Duration) -> Duration {
        let since = self.killed_at.take().unwrap_or_else(Instant::now);
        let deadline = Instant::now() + timeout;
        loop {
            let reported: Vec<Option<String>> = self
                .sentinels
                .iter()
                .map(|sentinel| self.master_address_from(sentinel.port()))
                .collect();
            if let Some(Some(new)) = reported.first() {
                let agreed = reported.iter().all(|address| address.as_ref() == Some(new));
                if agreed && *new != self.known_master && is_master(port_of(new)) {
                    self.known_master = new.clone();
                    return since.elapsed();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no failover from {} within {timeout:?}: the sentinels report {reported:?}\n{}",
                self.known_master,
                log_tail(
                    &self
                        .dir
                        .file(&format!("sentinel-{}.log", self.sentinels[0].port())),
                    30
                )
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A redis-server on a free port with its own data directory (a replica writes the
/// master's snapshot there) and log file.
fn node(dir: &TempDir, extra: &[&str]) -> Process {
    Process::start(
        redis_server_binary(),
        |port| {
            let data = dir.file(&format!("node-{port}"));
            std::fs::create_dir_all(&data).expect("a node data directory");
            let log = dir.file(&format!("node-{port}.log"));
            ["--bind", "127.0.0.1", "--port", &port.to_string()]
                .into_iter()
                .chain([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    &data,
                    "--logfile",
                    &log,
                ])
                // A replica syncs at once, instead of after the default five seconds.
                .chain(["--repl-diskless-sync-delay", "0"])
                .chain(extra.iter().copied())
                .map(str::to_owned)
                .collect()
        },
        b"PING\r\n",
        b"+PONG\r\n",
    )
}

/// A sentinel on a free port with its own config file, which it rewrites as it learns
/// the topology (so it must be writable, and unique to it).
fn sentinel(dir: &TempDir, name: &str, master_port: u16, down_after: Duration) -> Process {
    Process::start(
        redis_server_binary(),
        |port| {
            let config = dir.file(&format!("sentinel-{port}.conf"));
            let log = dir.file(&format!("sentinel-{port}.log"));
            let text = format!(
                "port {port}\n\
                 bind 127.0.0.1\n\
                 daemonize no\n\
                 dir \"{dir}\"\n\
                 logfile \"{log}\"\n\
                 sentinel resolve-hostnames no\n\
                 sentinel monitor {name} 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds {name} {down_after}\n\
                 sentinel failover-timeout {name} 3000\n\
                 sentinel parallel-syncs {name} 1\n",
                dir = dir.path().display(),
                down_after = down_after.as_millis(),
            );
            std::fs::write(&config, text).expect("a sentinel config file");
            vec![config, "--sentinel".to_owned()]
        },
        b"PING\r\n",
        b"+PONG\r\n",
    )
}

/// True when the node on `port` answers and says it is a master.
fn is_master(port: u16) -> bool {
    command(port, &["INFO", "replication"])
        .is_ok_and(|info| info_field(&info, "role") == Some("master"))
}

fn port_of(address: &str) -> u16 {
    address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("not an IP:PORT address: {address}"))
}

/// Polls `ready` every 50 ms until it returns `Ok`; after [`READY_TIMEOUT`], panics
/// with the last `Err` and the end of the log file `log` names.
fn wait_for<E: std::fmt::Debug>(
    what: &str,
    mut ready: impl FnMut() -> Result<(), E>,
    log: impl Fn() -> String,
) {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let last = match ready() {
            Ok(()) => return,
            Err(last) => last,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {READY_TIMEOUT:?} waiting for {what}; last state: {last:?}\n{}",
            log_tail(&log(), 30)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_master_is_replaced_by_its_replica_with_the_data() {
        let started = Instant::now();
        let mut setup = SentinelSetup::start("sessions-master");
        let start_time = started.elapsed();
        assert_eq!(setup.master_name(), "sessions-master");
        assert_eq!(setup.sentinel_addresses().len(), 3);
        let first = setup.master_url();
        assert_eq!(
            first,
            format!("redis://127.0.0.1:{}/", setup.nodes[0].port())
        );

        let master_port = port_of(&setup.current_master());
        let set = command(master_port, &["SET", "before-failover", "kept"]);
        assert_eq!(set.ok(), Some(Reply::Status("OK".into())));
        setup.wait_replicated();

        setup.kill_master();
        let failover = setup.wait_for_failover(Duration::from_secs(20));
        let second = setup.master_url();
        assert_ne!(first, second);
        assert_eq!(
            second,
            format!("redis://127.0.0.1:{}/", setup.nodes[1].port())
        );
        let value = command(
            port_of(&setup.current_master()),
            &["GET", "before-failover"],
        );
        assert_eq!(value.ok(), Some(Reply::Bulk(Some("kept".into()))));
        eprintln!("sentinel setup started in {start_time:?}, failed over in {failover:?}");

        let dir = setup.dir.path().to_owned();
        drop(setup);
        assert!(!dir.exists(), "the files are removed on drop");
    }
}
