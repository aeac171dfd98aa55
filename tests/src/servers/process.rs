//! What every dedicated server fixture is built from: a free port, a child process that
//! is probed until it answers and killed on drop, and a temporary directory removed on
//! drop.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A loopback port that is free on 127.0.0.1, and on ::1 as well when this machine has
/// IPv6, because servers reached as `localhost` listen on both.
pub(super) fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        match TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
            Err(error) if error.kind() == ErrorKind::AddrInUse => continue,
            // Free there too, or no IPv6 at all (the servers bind ::1 only optionally).
            _ => return port,
        }
    }
}

/// `count` distinct [`free_port`]s, for a process or a group of processes that needs
/// several (a port just released may be handed out again).
pub(super) fn free_ports(count: usize) -> Vec<u16> {
    let mut ports = Vec::with_capacity(count);
    while ports.len() < count {
        let port = free_port();
        if !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports
}

/// A directory of its own under the system's temporary directory, removed on drop.
pub(super) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// `session-tests-LABEL-PID-N`: unique among the live processes, so parallel test
    /// binaries never share one; a leftover of a crashed run with the same name is
    /// cleared first.
    pub(super) fn new(label: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("session-tests-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        Self { path }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory, as a string for command lines and config files.
    pub(super) fn file(&self, name: &str) -> String {
        self.path.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The redis-server binary: `REDIS_SERVER_BIN` (set by scripts/test) or the one on the
/// `PATH`.
pub(super) fn redis_server_binary() -> String {
    std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into())
}

/// A server process owned by one test, on a free loopback port: started, probed until
/// it answers, killed on drop.
pub(super) struct Process {
    port: u16,
    /// The binary, and its arguments for the given port.
    binary: String,
    args: Vec<String>,
    /// What to send to check it is up, and how the answer starts.
    probe: Vec<u8>,
    reply: Vec<u8>,
    child: Option<Child>,
}

impl Process {
    pub(super) fn start(
        binary: String,
        args: impl FnOnce(u16) -> Vec<String>,
        probe: &[u8],
        reply: &[u8],
    ) -> Self {
        Self::start_on(free_port(), binary, args, probe, reply)
    }

    /// As [`start`](Self::start), on a port the caller picked (together with the other
    /// ports the process needs, so that none of them collide).
    pub(super) fn start_on(
        port: u16,
        binary: String,
        args: impl FnOnce(u16) -> Vec<String>,
        probe: &[u8],
        reply: &[u8],
    ) -> Self {
        let mut process = Self {
            port,
            binary,
            args: args(port),
            probe: probe.to_vec(),
            reply: reply.to_vec(),
            child: None,
        };
        process.spawn();
        process
    }

    pub(super) fn port(&self) -> u16 {
        self.port
    }

    pub(super) fn spawn(&mut self) {
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
            if let Some(status) = self.child.as_mut().and_then(|child| child.try_wait().ok()?) {
                // Reaped: nothing left to signal or kill on drop.
                self.child = None;
                panic!(
                    "{} exited with {status} instead of answering on port {} (arguments: {:?})",
                    self.binary, self.port, self.args
                );
            }
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
            && stream.write_all(&self.probe).is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && reply == self.reply
    }

    pub(super) fn signal(&self, signal: &str) {
        assert!(self.send(signal), "kill {signal} failed");
    }

    /// SIGSTOP, then waits until every thread of the process has stopped: `kill`
    /// returns once the signal is queued, and a server still running for a moment
    /// could answer a request sent "after" the pause.
    pub(super) fn pause(&self) {
        self.signal("-STOP");
        let Some(child) = &self.child else {
            return;
        };
        let tasks = format!("/proc/{}/task", child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while !all_threads_stopped(&tasks) {
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGSTOP"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Sends a signal with `kill`; true when there was no process or it was sent.
    fn send(&self, signal: &str) -> bool {
        let Some(child) = &self.child else {
            return true;
        };
        Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success())
    }

    /// SIGKILL (no goodbye to clients), then waits for the process to be gone.
    pub(super) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A paused process must be thawed to die promptly. Not asserted: a panic while
        // unwinding would abort the whole test binary.
        self.send("-CONT");
        self.kill();
    }
}

/// The last `lines` lines of a log file, for panic messages (the file is usually in a
/// [`TempDir`] that is gone once the panic unwinds).
pub(super) fn log_tail(path: &str, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

pub(super) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|output| output.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// True when no thread under `/proc/PID/task` can run (stopped, traced or dead).
fn all_threads_stopped(tasks: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(tasks) else {
        return true; // gone: nothing runs
    };
    entries.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            // "PID (comm) STATE …": the state follows the last ')'.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                // Stopped, traced, or already a zombie: none of them runs.
                .is_some_and(|state| matches!(state, 'T' | 't' | 'Z' | 'X'))
        })
    })
}
