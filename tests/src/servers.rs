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

/// A redis-server process owned by one test, on a free loopback port, with an
/// append-only file so that its data survives a [`restart`](Self::restart).
pub struct RedisServer {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one and waits until it answers.
    ///
    /// # Panics
    ///
    /// When redis-server cannot be started (`REDIS_SERVER_BIN` or `redis-server` on the
    /// `PATH`; scripts/test installs it).
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("session-tests-redis-{port}"));
        std::fs::create_dir_all(&dir).expect("a data directory");
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let binary = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {binary}: {error}; run scripts/test, which installs it")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0u8; 7];
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .is_ok()
            && stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the process (SIGKILL: no goodbye to clients) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same data.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

/// A memcached process owned by one test, on a free loopback port, that the test can
/// kill, restart, pause (SIGSTOP: a server that hangs) and resume.
pub struct MemcachedServer {
    port: u16,
    child: Option<Child>,
}

impl MemcachedServer {
    /// Starts one and waits until it answers.
    ///
    /// # Panics
    ///
    /// When memcached cannot be started (`MEMCACHED_BIN` or `memcached` on the `PATH`;
    /// scripts/test installs it).
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut server = Self { port, child: None };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let binary = std::env::var("MEMCACHED_BIN").unwrap_or_else(|_| "memcached".into());
        let mut command = Command::new(&binary);
        command.args(["-l", "127.0.0.1", "-p", &self.port.to_string(), "-U", "0"]);
        // memcached refuses to run as root unless told which user to be.
        if is_root() {
            command.args(["-u", "root"]);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {binary}: {error}; run scripts/test, which installs it")
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "memcached did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0u8; 7];
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .is_ok()
            && stream.write_all(b"version\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"VERSION"
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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

    /// Freezes the process (SIGSTOP): connections are accepted by the kernel but
    /// nothing is answered, like a server that hangs.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused process (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Kills the process and waits for it to be gone. Its data is lost (memcached
    /// keeps nothing on disk).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for MemcachedServer {
    fn drop(&mut self) {
        self.resume();
        self.kill();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| output.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}
