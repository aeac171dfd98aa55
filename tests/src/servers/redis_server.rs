//! Dedicated redis-server processes: plain, TLS, and with passwords and an ACL user.

use super::pki::TestPki;
use super::process::{free_port, free_ports, redis_server_binary, Process, TempDir};
use std::path::PathBuf;

/// Whether a TLS [`RedisServer`] asks clients for a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCerts {
    /// The server asks for none (`--tls-auth-clients no`): every client connects, with
    /// or without a certificate configured (a configured one is simply never sent).
    Optional,
    /// Mutual TLS (`--tls-auth-clients yes`): the handshake fails unless the client
    /// presents a certificate signed by the [`TestPki`]'s CA.
    Required,
}

/// A redis-server process owned by one test, on a free loopback port, with an
/// append-only file so that its data survives a [`restart`](Self::restart).
///
/// [`start`](Self::start) is a plain server; [`start_tls`](Self::start_tls) adds a TLS
/// port; [`start_with_acl`](Self::start_with_acl) requires a password.
pub struct RedisServer {
    process: Process,
    tls_port: Option<u16>,
    /// Last, so that the process is gone before its directory is removed.
    _dir: TempDir,
}

impl RedisServer {
    /// The ACL user [`start_with_acl`](Self::start_with_acl) creates, with every
    /// permission.
    pub const ACL_USER: &'static str = "sessions";
    /// [`ACL_USER`](Self::ACL_USER)'s password.
    pub const ACL_PASSWORD: &'static str = "sessions-user-password";
    /// The `default` user's password on a server started with
    /// [`start_with_acl`](Self::start_with_acl) (`requirepass`): `AUTH PASSWORD` with no
    /// user name.
    pub const DEFAULT_PASSWORD: &'static str = "default-user-password";

    /// Starts a plain server and waits until it answers.
    ///
    /// # Panics
    ///
    /// When redis-server cannot be started (`REDIS_SERVER_BIN` or `redis-server` on the
    /// `PATH`; scripts/test installs it).
    pub fn start() -> Self {
        Self::start_with(free_port(), &[], None, b"PING\r\n", b"+PONG\r\n")
    }

    /// Starts a server with a TLS port (certificate and key from `pki`, trusting its CA
    /// for client certificates) and waits until it answers.
    ///
    /// It keeps a plain port too, which only the readiness probe uses: tests connect to
    /// [`tls_url`](Self::tls_url). It listens on 127.0.0.1 and, when the machine has
    /// it, on ::1, so `localhost` reaches it whichever address a client tries first.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start); also when this redis-server was built without TLS.
    pub fn start_tls(pki: &TestPki, client_certs: ClientCerts) -> Self {
        let ports = free_ports(2);
        let (port, tls_port) = (ports[0], ports[1]);
        let args = tls_args(pki, tls_port, client_certs);
        Self::start_with(port, &args, Some(tls_port), b"PING\r\n", b"+PONG\r\n")
    }

    /// Starts a server that requires authentication and waits until it answers:
    /// `requirepass` [`DEFAULT_PASSWORD`](Self::DEFAULT_PASSWORD) for the `default`
    /// user, and the ACL user [`ACL_USER`](Self::ACL_USER) with
    /// [`ACL_PASSWORD`](Self::ACL_PASSWORD) and every permission. [`url`](Self::url)
    /// carries no credentials; commands before `AUTH` fail with `NOAUTH`.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start).
    pub fn start_with_acl() -> Self {
        let args = [
            "--requirepass".to_owned(),
            Self::DEFAULT_PASSWORD.to_owned(),
            // `user NAME on >PASSWORD ~* &* +@all`: the config directive, whose
            // arguments redis-server joins from the words after `--user`.
            "--user".to_owned(),
            Self::ACL_USER.to_owned(),
            "on".to_owned(),
            format!(">{}", Self::ACL_PASSWORD),
            "~*".to_owned(),
            "&*".to_owned(),
            "+@all".to_owned(),
        ];
        // The probe authenticates, which also checks that the password took effect.
        let probe = format!("AUTH {}\r\nPING\r\n", Self::DEFAULT_PASSWORD);
        Self::start_with(
            free_port(),
            &args,
            None,
            probe.as_bytes(),
            b"+OK\r\n+PONG\r\n",
        )
    }

    fn start_with(
        port: u16,
        extra: &[String],
        tls_port: Option<u16>,
        probe: &[u8],
        reply: &[u8],
    ) -> Self {
        let dir = TempDir::new("redis");
        let data_dir = dir.path().to_string_lossy().into_owned();
        let process = Process::start_on(
            port,
            redis_server_binary(),
            |port| {
                // `-::1`: IPv6 loopback when there is one, no error when there is not.
                ["--bind", "127.0.0.1", "-::1", "--port", &port.to_string()]
                    .into_iter()
                    .chain([
                        "--save",
                        "",
                        "--appendonly",
                        "yes",
                        "--appendfsync",
                        "always",
                    ])
                    .chain(["--dir", &data_dir])
                    .map(str::to_owned)
                    .chain(extra.iter().cloned())
                    .collect()
            },
            probe,
            reply,
        );
        Self {
            process,
            tls_port,
            _dir: dir,
        }
    }

    /// `redis://127.0.0.1:PORT/`: the plain port, without credentials.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.process.port())
    }

    /// The plain port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// `rediss://localhost:TLS_PORT/`, the name the server certificate is for.
    ///
    /// # Panics
    ///
    /// When the server was not started with [`start_tls`](Self::start_tls).
    pub fn tls_url(&self) -> String {
        format!("rediss://localhost:{}/", self.tls_port())
    }

    /// The TLS port.
    ///
    /// # Panics
    ///
    /// When the server was not started with [`start_tls`](Self::start_tls).
    pub fn tls_port(&self) -> u16 {
        self.tls_port
            .expect("a TLS port: start the server with RedisServer::start_tls")
    }

    /// Kills the process (SIGKILL: no goodbye to clients) and waits for it to be gone.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the server again on the same ports with the same data and settings.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process.spawn();
    }

    /// Freezes the process (SIGSTOP): a Redis that hangs.
    pub fn pause(&self) {
        self.process.pause();
    }

    /// Thaws a paused process (SIGCONT).
    pub fn resume(&self) {
        self.process.signal("-CONT");
    }
}

/// The arguments for a TLS port with the [`TestPki`]'s server certificate, trusting its
/// CA for client certificates.
pub(super) fn tls_args(pki: &TestPki, tls_port: u16, client_certs: ClientCerts) -> Vec<String> {
    let path = |path: PathBuf| path.to_string_lossy().into_owned();
    let auth = match client_certs {
        ClientCerts::Optional => "no",
        ClientCerts::Required => "yes",
    };
    [
        "--tls-port".to_owned(),
        tls_port.to_string(),
        "--tls-cert-file".to_owned(),
        path(pki.server_cert_path()),
        "--tls-key-file".to_owned(),
        path(pki.server_key_path()),
        "--tls-ca-cert-file".to_owned(),
        path(pki.ca_cert_path()),
        "--tls-auth-clients".to_owned(),
        auth.to_owned(),
    ]
    .into()
}

/// Runs `redis-cli` with the given arguments; its trimmed output, or `Err` with the
/// output when it failed. For creating a cluster, and for the fixtures' own tests (the
/// `redis` crate here has no TLS).
pub(super) fn redis_cli(args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new("redis-cli")
        .args(args)
        .output()
        .expect("redis-cli runs (scripts/test installs it with redis-server)");
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // redis-cli exits 0 after most server errors: those are failures here too.
    if output.status.success() && !text.starts_with("ERR") && !text.contains("NOAUTH") {
        Ok(text)
    } else {
        Err(format!("{text} {stderr}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tls_ping(server: &RedisServer, ca: &Path, extra: &[&str]) -> Result<String, String> {
        let port = server.tls_port().to_string();
        let ca = ca.to_string_lossy();
        let mut args = vec!["--tls", "--cacert", &ca, "-h", "localhost", "-p", &port];
        args.extend_from_slice(extra);
        args.push("PING");
        redis_cli(&args)
    }

    #[test]
    fn a_tls_server_answers_on_its_tls_port() {
        let pki = TestPki::generate();
        let server = RedisServer::start_tls(&pki, ClientCerts::Optional);
        assert_eq!(
            server.tls_url(),
            format!("rediss://localhost:{}/", server.tls_port())
        );
        assert_eq!(
            tls_ping(&server, &pki.ca_cert_path(), &[]).as_deref(),
            Ok("PONG")
        );
        assert!(
            tls_ping(&server, &pki.other_ca_cert_path(), &[]).is_err(),
            "a client trusting another CA must fail"
        );
    }

    #[test]
    fn a_mutual_tls_server_wants_the_client_certificate() {
        let pki = TestPki::generate();
        let mut server = RedisServer::start_tls(&pki, ClientCerts::Required);
        assert!(
            tls_ping(&server, &pki.ca_cert_path(), &[]).is_err(),
            "no certificate"
        );
        let (cert, key) = (pki.client_cert_path(), pki.client_key_path());
        let with_cert = [
            "--cert",
            &cert.to_string_lossy(),
            "--key",
            &key.to_string_lossy(),
        ]
        .map(|arg| arg.to_string());
        let with_cert: Vec<&str> = with_cert.iter().map(String::as_str).collect();
        assert_eq!(
            tls_ping(&server, &pki.ca_cert_path(), &with_cert).as_deref(),
            Ok("PONG")
        );
        server.restart();
        assert_eq!(
            tls_ping(&server, &pki.ca_cert_path(), &with_cert).as_deref(),
            Ok("PONG")
        );
    }

    #[test]
    fn an_acl_server_requires_a_password() {
        let server = RedisServer::start_with_acl();
        let port = server.port().to_string();
        let cli = |extra: &[&str]| {
            let mut args = vec!["--no-auth-warning", "-h", "127.0.0.1", "-p", &port];
            args.extend_from_slice(extra);
            args.push("PING");
            redis_cli(&args)
        };
        assert!(cli(&[]).is_err(), "NOAUTH without a password");
        let user = [
            "--user",
            RedisServer::ACL_USER,
            "--pass",
            RedisServer::ACL_PASSWORD,
        ];
        assert_eq!(cli(&user).as_deref(), Ok("PONG"));
        assert_eq!(
            cli(&["--pass", RedisServer::DEFAULT_PASSWORD]).as_deref(),
            Ok("PONG")
        );
        assert!(cli(&["--user", RedisServer::ACL_USER, "--pass", "wrong"]).is_err());
        assert!(!server.url().contains('@'), "no credentials in the URL");
    }
}
