//! `cargo run -p session-demo -- --help`: serves the seed's examples.

#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::{Parser, ValueEnum};
use session_demo::{app, DemoConfig, RedisClient, RedisOptions, StorageKind, COOKIE_NAME};
use session_middleware::{FileLayout, SigningFormat};

/// The Remix session-middleware examples, served by axum with Rust sessions.
// No `Debug`: the arguments hold the secrets and the Redis password.
#[derive(Parser)]
#[command(name = "session-demo", version)]
struct Args {
    /// Where sessions live.
    #[arg(long, value_enum, default_value_t = Storage::Cookie)]
    storage: Storage,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Redis URL for `--storage redis`: redis://[user:password@]host[:port][/db], or
    /// rediss://… for TLS.
    #[arg(long, value_name = "URL", default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// A CA certificate (PEM) to trust for rediss:// instead of the system's roots.
    #[arg(long, value_name = "PATH")]
    redis_ca_cert: Option<PathBuf>,
    /// A client certificate (PEM) for mutual TLS; needs --redis-client-key.
    #[arg(long, value_name = "PATH", requires = "redis_client_key")]
    redis_client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "PATH", requires = "redis_client_cert")]
    redis_client_key: Option<PathBuf>,
    /// The Redis ACL user.
    #[arg(long, value_name = "USER")]
    redis_username: Option<String>,
    /// The Redis password (better: the REDIS_PASSWORD environment variable, which stays
    /// out of the process list).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "REDIS_PASSWORD",
        hide_env_values = true
    )]
    redis_password: Option<String>,
    /// Sentinels to ask for the master, as host:port[,host:port…]; needs
    /// --redis-sentinel-master.
    #[arg(
        long,
        value_name = "ADDRESSES",
        value_delimiter = ',',
        requires = "redis_sentinel_master"
    )]
    redis_sentinel: Vec<String>,
    /// The master name the sentinels know.
    #[arg(long, value_name = "NAME", requires = "redis_sentinel")]
    redis_sentinel_master: Option<String>,
    /// Store sessions under prefix + sha256hex(id), so that reading Redis reveals no
    /// usable session ID (not readable by a Remix app sharing the Redis).
    #[arg(long)]
    redis_hash_keys: bool,
    /// Whose connections the Redis store runs on: its own, or a deadpool pool.
    #[arg(long, value_enum, default_value_t = RedisClientArg::Own)]
    redis_client: RedisClientArg,
    /// memcached servers for `--storage memcache`, as host:port[,host:port…].
    #[arg(
        long,
        value_name = "SERVERS",
        value_delimiter = ',',
        default_value = "127.0.0.1:11211"
    )]
    memcache: Vec<String>,
    /// The directory for `--storage file` (created if missing, mode 0700).
    #[arg(long, value_name = "DIR", default_value = "sessions")]
    file_dir: PathBuf,
    /// The on-disk layout for `--storage file`: `remix` (Remix 3's fs storage) or
    /// `react-router` (React Router's and Remix 2's file storage, 64-bit IDs).
    #[arg(long, value_enum, default_value_t = FileLayoutArg::Remix)]
    file_layout: FileLayoutArg,
    /// Port to listen on.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Cookie signing secret; repeat to rotate (the first one signs). Default: a random
    /// secret for this run only.
    #[arg(long = "secret", value_name = "SECRET")]
    secrets: Vec<String>,
    /// Idle timeout in seconds: a session unused this long ends (enforced on the
    /// server; the cookie's Max-Age follows it). `--ttl` is the old name.
    #[arg(long, value_name = "SECONDS", visible_alias = "ttl")]
    idle_timeout: Option<u64>,
    /// Absolute timeout in seconds: a session this old ends, however active.
    #[arg(long, value_name = "SECONDS")]
    absolute_timeout: Option<u64>,
    /// Cookie format: `default` signs and binds the cookie name into the signature,
    /// `remix` signs byte-compatibly with Remix 3, `react-router` with React Router 7/8
    /// and Remix 2 (cookie storage then uses React Router's layout), `private` encrypts
    /// (AES-256-GCM).
    #[arg(long, value_enum, default_value_t = Format::Default)]
    cookie_format: Format,
    /// Send the cookie without `Secure` (for plain-HTTP clients such as curl).
    #[arg(long)]
    insecure_cookie: bool,
    /// Renew each session's ID this many seconds after it was issued (the old ID
    /// serves the renewed session for a few seconds more).
    #[arg(long, value_name = "SECONDS")]
    id_renewal: Option<u64>,
    /// Store this many bytes of filler in each counter session (`GET /`), written
    /// once: for measuring how the cost grows with a session's size. Default 0.
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    session_padding: usize,
    /// The web framework serving the routes: axum (the tower layer, every route), or
    /// actix-web (`session-actix`, the seed's routes; needs a build with
    /// `--features actix`).
    #[arg(long, value_enum, default_value_t = Framework::Axum)]
    framework: Framework,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Framework {
    Axum,
    Actix,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Storage {
    Cookie,
    Memory,
    Redis,
    Memcache,
    File,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FileLayoutArg {
    Remix,
    ReactRouter,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum RedisClientArg {
    Own,
    Deadpool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Default,
    Remix,
    ReactRouter,
    Private,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let framework = args.framework;
    let mut secrets = args.secrets;
    if secrets.is_empty() {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random)?;
        secrets.push(URL_SAFE_NO_PAD.encode(random));
        tracing::warn!(
            "no --secret given: using a random secret, so sessions end when this process does"
        );
    }
    let config = DemoConfig {
        storage: match args.storage {
            Storage::Cookie => StorageKind::Cookie,
            Storage::Memory => StorageKind::Memory,
            Storage::Redis => StorageKind::Redis(RedisOptions {
                url: args.redis_url,
                ca_cert: args.redis_ca_cert,
                client_cert: args.redis_client_cert.zip(args.redis_client_key),
                username: args.redis_username,
                password: args.redis_password,
                sentinels: args.redis_sentinel,
                sentinel_master: args.redis_sentinel_master,
                hash_keys: args.redis_hash_keys,
                client: match args.redis_client {
                    RedisClientArg::Own => RedisClient::Own,
                    RedisClientArg::Deadpool => RedisClient::Deadpool,
                },
            }),
            Storage::Memcache => StorageKind::Memcache(args.memcache),
            Storage::File => StorageKind::File {
                dir: args.file_dir,
                layout: match args.file_layout {
                    FileLayoutArg::Remix => FileLayout::Remix,
                    FileLayoutArg::ReactRouter => FileLayout::ReactRouter,
                },
            },
        },
        secrets,
        idle_timeout: args.idle_timeout.map(Duration::from_secs),
        absolute_timeout: args.absolute_timeout.map(Duration::from_secs),
        cookie_format: match args.cookie_format {
            Format::Default => SigningFormat::NameBound,
            Format::Remix => SigningFormat::Remix,
            Format::ReactRouter => SigningFormat::ReactRouter,
            Format::Private => SigningFormat::Private,
        },
        insecure_cookie: args.insecure_cookie,
        id_renewal: args.id_renewal.map(Duration::from_secs),
        key_prefix: None,
        session_padding: args.session_padding,
    };
    let address = SocketAddr::new(args.host, args.port);
    if framework == Framework::Actix {
        return serve_actix(&config, address).await;
    }
    let router = app(&config)?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|error| format!("cannot listen on {address}: {error}"))?;
    tracing::info!(
        storage = storage_name(&config.storage),
        cookie = COOKIE_NAME,
        format = ?config.cookie_format,
        secure_cookie = !config.insecure_cookie,
        "session demo listening on http://{}",
        listener.local_addr()?
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            // If the signal handler cannot be installed, run until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await?;
    Ok(())
}

/// Serves the actix-web app until Ctrl-C.
#[cfg(feature = "actix")]
async fn serve_actix(
    config: &DemoConfig,
    address: SocketAddr,
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = std::net::TcpListener::bind(address)
        .map_err(|error| format!("cannot listen on {address}: {error}"))?;
    let server = session_demo::actix::ActixServer::start(config, listener)?;
    tracing::info!(
        storage = storage_name(&config.storage),
        framework = "actix-web",
        "session demo listening on http://{}",
        server.addr()
    );
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handler: run until killed.
        return tokio::task::spawn_blocking(move || server.wait())
            .await?
            .map_err(Into::into);
    }
    tokio::task::spawn_blocking(move || server.stop()).await??;
    Ok(())
}

#[cfg(not(feature = "actix"))]
async fn serve_actix(_: &DemoConfig, _: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    Err("this build has no actix-web: run `cargo run -p session-demo --features actix -- --framework actix`".into())
}

/// The storage's name for the log line: never the Redis URL, which may hold a password.
fn storage_name(storage: &StorageKind) -> &'static str {
    match storage {
        StorageKind::Cookie => "cookie",
        StorageKind::Memory => "memory",
        StorageKind::Redis(_) => "redis",
        StorageKind::Memcache(_) => "memcache",
        StorageKind::File { .. } => "file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redis_flags_parse() {
        let args = Args::try_parse_from([
            "session-demo",
            "--storage",
            "redis",
            "--redis-sentinel",
            "127.0.0.1:26379,127.0.0.1:26380",
            "--redis-sentinel-master",
            "sessions",
            "--redis-client-cert",
            "client.crt",
            "--redis-client-key",
            "client.key",
            "--redis-hash-keys",
        ])
        .expect("parses");
        assert_eq!(args.redis_sentinel.len(), 2);
        assert!(args.redis_hash_keys);
        let lonely = Args::try_parse_from(["session-demo", "--redis-client-cert", "c.crt"]);
        assert!(lonely.is_err(), "a certificate needs its key");
    }

    #[test]
    fn the_idle_timeout_flag_keeps_its_old_name_as_an_alias() {
        for flag in ["--idle-timeout", "--ttl"] {
            let args = Args::try_parse_from(["session-demo", flag, "90"]).expect("parses");
            assert_eq!(args.idle_timeout, Some(90), "{flag}");
        }
    }
}
