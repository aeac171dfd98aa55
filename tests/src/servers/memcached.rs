//! Dedicated memcached processes.

use super::process::{is_root, Process};

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
        Self::start_with(&[])
    }

    /// As [`start`](Self::start), with more command-line arguments (`-I 1k` for a
    /// small item size limit, say).
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start), or when memcached refuses the arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let binary = std::env::var("MEMCACHED_BIN").unwrap_or_else(|_| "memcached".into());
        let process = Process::start(
            binary,
            |port| {
                let mut args: Vec<String> = ["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0"]
                    .into_iter()
                    .chain(extra.iter().copied())
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
        format!("127.0.0.1:{}", self.process.port())
    }

    /// The port it listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// Freezes the process (SIGSTOP): connections are accepted by the kernel but
    /// nothing is answered, like a server that hangs.
    pub fn pause(&self) {
        self.process.pause();
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
