//! Finding the real servers the integration tests use, and starting dedicated ones.
//!
//! Shared servers come from the environment (`REDIS_URL`, `REDIS_CLUSTER_URLS`,
//! `MEMCACHE_SERVERS`), which `scripts/test` sets after starting them. Tests that must
//! own a server (counting its commands, killing, pausing or restarting it) start a
//! [`RedisServer`] or a [`MemcachedServer`] of their own.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the suite with scripts/test, which starts the servers, or point {name} at one")
    })
}

/// The shared single-node Redis (`REDIS_URL`).
///
/// # Panics
///
/// When `REDIS_URL` is not set, with a message saying how to fix it.
pub fn redis_url() -> String {
    required_env("REDIS_URL")
}

/// The shared Redis Cluster's node URLs (`REDIS_CLUSTER_URLS`, comma-separated).
///
/// # Panics
///
/// When `REDIS_CLUSTER_URLS` is not set.
pub fn redis_cluster_urls() -> Vec<String> {
    required_env("REDIS_CLUSTER_URLS")
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A key prefix no other test uses, so tests can share one server.
pub fn unique_prefix(test: &str) -> String {
    let id = session_core::SessionId::generate().expect("os randomness");
    format!("test:{test}:{}:", &id.as_str()[..12])
}

/// The shared memcached servers (`MEMCACHE_SERVERS`, comma-separated `host:port`).
///
/// # Panics
///
/// When `MEMCACHE_SERVERS` is not set.
pub fn memcache_servers() -> Vec<String> {
    required_env("MEMCACHE_SERVERS")
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// A server process owned by one test, on a free loopback port: started, probed until
/// it answers, killed on drop. [`RedisServer`] and [`MemcachedServer`] are two of these.
struct Process {
    port: u16,
    /// The binary, and its arguments for a given port.
    binary: String,
    args: Vec<String>,
    /// What to send to check it is up, and how the answer starts.
    probe: &'static [u8],
    reply: &'static [u8],
    child: Option<Child>,
}

impl Process {
    fn start(
        binary: String,
        args: impl FnOnce(u16) -> Vec<String>,
        probe: &'static [u8],
        reply: &'static [u8],
    ) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut process = Self {
            port,
            binary,
            args: args(port),
            probe,
            reply,
            child: None,
        };
        process.spawn();
        process
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.binary)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; run scripts/test, which installs it",
                    self.binary
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "{} did not start on port {}",
                self.binary,
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = vec![0u8; self.reply.len()];
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .is_ok()
            && stream.write_all(self.probe).is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && reply == self.reply
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill runs");
            assert!(status.success(), "kill {signal} failed");
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A paused process must be thawed to die promptly.
        self.signal("-CONT");
        self.kill();
    }
}

/// A redis-server process owned by one test, on a free loopback port, with an
/// append-only file so that its data survives a [`restart`](Self::restart).
pub struct RedisServer {
    process: Process,
    dir: std::path::PathBuf,
}

impl RedisServer {
    /// Starts one and waits until it answers.
    ///
    /// # Panics
    ///
    /// When redis-server cannot be started (`REDIS_SERVER_BIN` or `redis-server` on the
    /// `PATH`; scripts/test installs it).
    pub fn start() -> Self {
        let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let mut data_dir = None;
        let process = Process::start(
            binary,
            |port| {
                let dir = std::env::temp_dir().join(format!("session-tests-redis-{port}"));
                std::fs::create_dir_all(&dir).expect("a data directory");
                let args = ["--bind", "127.0.0.1", "--port", &port.to_string()]
                    .into_iter()
                    .chain([
                        "--save",
                        "",
                        "--appendonly",
                        "yes",
                        "--appendfsync",
                        "always",
                    ])
                    .chain(["--dir", &dir.to_string_lossy()])
                    .map(str::to_owned)
                    .collect();
                data_dir = Some(dir);
                args
            },
            b"PING\r\n",
            b"+PONG\r\n",
        );
        Self {
            process,
            dir: data_dir.unwrap_or_default(),
        }
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.process.port)
    }

    /// Kills the process (SIGKILL: no goodbye to clients) and waits for it to be gone.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the server again on the same port with the same data.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process.spawn();
    }

    /// Freezes the process (SIGSTOP): a Redis that hangs.
    pub fn pause(&self) {
        self.process.signal("-STOP");
    }

    /// Thaws a paused process (SIGCONT).
    pub fn resume(&self) {
        self.process.signal("-CONT");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.process.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A memcached process owned by one test, on a free loopback port, that the test can
/// kill, restart, pause (SIGSTOP: a server that hangs) and resume.
pub struct MemcachedServer {
    process: Process,
}

impl MemcachedServer {
    /// Starts one and waits until it answers.
    ///
    /// # Panics
    ///
    /// When memcached cannot be started (`MEMCACHED_BIN` or `memcached` on the `PATH`;
    /// scripts/test installs it).
    pub fn start() -> Self {
        let binary = std::env::var("MEMCACHED_BIN").unwrap_or_else(|_| "memcached".into());
        let process = Process::start(
            binary,
            |port| {
                let mut args: Vec<String> = ["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0"]
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                // memcached refuses to run as root unless told which user to be.
                if is_root() {
                    args.extend(["-u".to_owned(), "root".to_owned()]);
                }
                args
            },
            b"version\r\n",
            b"VERSION",
        );
        Self { process }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.process.port)
    }

    /// Freezes the process (SIGSTOP): connections are accepted by the kernel but
    /// nothing is answered, like a server that hangs.
    pub fn pause(&self) {
        self.process.signal("-STOP");
    }

    /// Thaws a paused process (SIGCONT).
    pub fn resume(&self) {
        self.process.signal("-CONT");
    }

    /// Kills the process and waits for it to be gone. Its data is lost (memcached
    /// keeps nothing on disk).
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the server again on the same port, empty.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process.spawn();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| output.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}
