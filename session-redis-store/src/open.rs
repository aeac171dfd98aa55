//! Turning a builder's target into connections: parsing URLs and sentinel addresses,
//! applying credentials and TLS, building the redis clients. Nothing is dialled here:
//! connections open on first use (`session-connections`).

use std::fmt;

use redis::{AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo};
use session_connections::Slots;
use session_core::Error;

use crate::builder::{Credentials, RedisStoreBuilder, Target};
use crate::connections::Connections;
use crate::dialers::{GivenNode, UrlDialer};

fn config(reason: impl fmt::Display) -> Error {
    Error::Config {
        backend: "Redis",
        reason: reason.to_string(),
    }
}

/// The connections `builder` describes.
pub(crate) fn connections(builder: &RedisStoreBuilder) -> Result<Connections, Error> {
    let settings = builder.settings;
    let timeout = settings.command_timeout;
    match &builder.target {
        Target::Url(url) => {
            let info = parse_url(url)?;
            let info = with_credentials(info, &builder.credentials);
            let client = client(builder, info)?;
            let config = connection_config(builder);
            Ok(Connections::Url(Slots::new(
                UrlDialer { client, config },
                settings,
            )))
        }
        #[cfg(feature = "cluster")]
        Target::Cluster(urls) => cluster(builder, urls),
        #[cfg(feature = "sentinel")]
        Target::Sentinel { addresses, master } => sentinel(builder, addresses, master),
        Target::Multiplexed(connection) => {
            own_client_only(builder)?;
            let connection = connection.clone();
            let dialer = GivenNode {
                connection,
                timeout,
            };
            Ok(Connections::Multiplexed(Slots::new(dialer, settings)))
        }
        #[cfg(feature = "connection-manager")]
        Target::Manager(manager) => {
            own_client_only(builder)?;
            let connection = manager.clone();
            let dialer = GivenNode {
                connection,
                timeout,
            };
            Ok(Connections::Manager(Slots::new(dialer, settings)))
        }
        #[cfg(feature = "deadpool")]
        Target::Pool(pool) => {
            own_client_only(builder)?;
            let dialer = crate::dialers::PoolDialer {
                pool: pool.clone(),
                timeout,
            };
            Ok(Connections::Pool(Slots::new(dialer, settings)))
        }
        #[cfg(feature = "cluster")]
        Target::ClusterConnection(connection) => {
            own_client_only(builder)?;
            let dialer = crate::dialers::GivenCluster {
                connection: connection.clone(),
                timeout,
            };
            Ok(Connections::GivenCluster(Slots::new(dialer, settings)))
        }
    }
}

fn connection_config(builder: &RedisStoreBuilder) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(builder.settings.connect_timeout))
        .set_response_timeout(Some(builder.settings.command_timeout))
}

fn parse_url(url: &str) -> Result<ConnectionInfo, Error> {
    if url.starts_with("rediss://") && !cfg!(feature = "tls") {
        return Err(config(
            "a rediss:// URL needs TLS: enable the `tls` feature of session-redis-store \
             (`redis-tls` of session-middleware)",
        ));
    }
    url.into_connection_info().map_err(|error| {
        config(format_args!(
            "the URL is not a valid Redis URL ({error}); use redis://[user:password@]host[:port][/db] \
             or rediss://… for TLS"
        ))
    })
}

fn with_credentials(info: ConnectionInfo, credentials: &Credentials) -> ConnectionInfo {
    let mut settings = info.redis_settings().clone();
    if let Some(username) = &credentials.username {
        settings = settings.set_username(username);
    }
    if let Some(password) = &credentials.password {
        settings = settings.set_password(password);
    }
    info.set_redis_settings(settings)
}

/// Credentials and TLS belong to the application's client when it brings one.
fn own_client_only(builder: &RedisStoreBuilder) -> Result<(), Error> {
    #[cfg(feature = "tls")]
    let tls = builder.tls.is_set();
    #[cfg(not(feature = "tls"))]
    let tls = false;
    if !builder.credentials.is_empty() || tls {
        return Err(config(
            "credentials and TLS options apply to connections the store opens; configure \
             them on the application's own client instead",
        ));
    }
    Ok(())
}

/// The client for one node, with the builder's TLS settings when the URL asks for TLS.
fn client(builder: &RedisStoreBuilder, info: ConnectionInfo) -> Result<Client, Error> {
    let invalid = |error: redis::RedisError| {
        config(format_args!(
            "the connection settings are not valid ({error})"
        ))
    };
    let is_tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
    #[cfg(feature = "tls")]
    {
        if !is_tls && builder.tls.is_set() {
            return Err(config(
                "TLS options were given for a redis:// URL; use rediss:// to connect over TLS",
            ));
        }
        if is_tls {
            crate::tls::ensure_crypto_provider();
            refuse_insecure_fragment(
                builder,
                matches!(info.addr(), ConnectionAddr::TcpTls { insecure: true, .. }),
            )?;
            let info = if builder.tls.accept_invalid_certificates {
                warn_insecure();
                let ConnectionAddr::TcpTls { host, port, .. } = info.addr().clone() else {
                    unreachable!("checked to be TLS just above");
                };
                info.set_addr(ConnectionAddr::TcpTls {
                    host,
                    port,
                    insecure: true,
                    tls_params: None,
                })
            } else {
                info
            };
            return match builder.tls.certificates()? {
                Some(certificates) => Client::build_with_tls(info, certificates).map_err(invalid),
                None => Client::open(info).map_err(invalid),
            };
        }
    }
    #[cfg(not(feature = "tls"))]
    let _ = (builder, is_tls);
    Client::open(info).map_err(invalid)
}

/// redis-rs turns verification off for a URL ending in `#insecure`: only with the
/// explicit, logged opt-in.
#[cfg(feature = "tls")]
fn refuse_insecure_fragment(builder: &RedisStoreBuilder, insecure_url: bool) -> Result<(), Error> {
    if insecure_url && !builder.tls.accept_invalid_certificates {
        return Err(config(
            "the URL's #insecure fragment turns TLS certificate verification off; remove it, \
             or call danger_accept_invalid_certificates(true) if that is really meant",
        ));
    }
    Ok(())
}

#[cfg(feature = "tls")]
fn warn_insecure() {
    tracing::warn!(
        "TLS certificate verification is off for Redis (danger_accept_invalid_certificates): \
         anyone on the network path can read and change sessions"
    );
}

/// Redirects and reconnects the cluster client may make for one command (its default
/// is 16, which could stretch a request far past the command timeout).
#[cfg(feature = "cluster")]
const CLUSTER_RETRIES: u32 = 3;

#[cfg(feature = "cluster")]
fn cluster(builder: &RedisStoreBuilder, urls: &[String]) -> Result<Connections, Error> {
    // The cluster client follows MOVED/ASK redirects and re-sends after a broken
    // connection by itself, counting both as retries; a few are needed for slot
    // migrations. Our own time bound (`dialers.rs`) still caps the whole.
    let mut client = redis::cluster::ClusterClient::builder(urls.to_vec())
        .connection_timeout(builder.settings.connect_timeout)
        .response_timeout(builder.settings.command_timeout)
        .retries(CLUSTER_RETRIES);
    if let Some(username) = &builder.credentials.username {
        client = client.username(username);
    }
    if let Some(password) = &builder.credentials.password {
        client = client.password(password);
    }
    let is_tls = urls.iter().any(|url| url.starts_with("rediss://"));
    if is_tls && !cfg!(feature = "tls") {
        return Err(config(
            "rediss:// cluster nodes need TLS: enable the `tls` feature of session-redis-store",
        ));
    }
    #[cfg(feature = "tls")]
    {
        if !is_tls && builder.tls.is_set() {
            return Err(config(
                "TLS options were given for redis:// cluster nodes; use rediss:// URLs",
            ));
        }
        if is_tls {
            crate::tls::ensure_crypto_provider();
            refuse_insecure_fragment(builder, urls.iter().any(|url| url.ends_with("#insecure")))?;
            if let Some(certificates) = builder.tls.certificates()? {
                client = client.certs(certificates);
            }
            client = if builder.tls.accept_invalid_certificates {
                warn_insecure();
                client.tls(redis::TlsMode::Insecure)
            } else {
                client.tls(redis::TlsMode::Secure)
            };
        }
    }
    let client = client.build().map_err(|error| {
        config(format_args!(
            "the cluster node URLs are not valid Redis URLs ({error})"
        ))
    })?;
    let dialer = crate::dialers::ClusterDialer {
        client,
        timeout: builder.settings.connect_timeout + builder.settings.command_timeout,
    };
    Ok(Connections::Cluster(Slots::new(dialer, builder.settings)))
}

#[cfg(feature = "sentinel")]
fn sentinel(
    builder: &RedisStoreBuilder,
    addresses: &[String],
    master: &str,
) -> Result<Connections, Error> {
    use redis::sentinel::{SentinelClientBuilder, SentinelServerType};

    let mut sentinels = Vec::with_capacity(addresses.len());
    let mut tls = None;
    let mut sentinel_credentials = Credentials::default();
    for address in addresses {
        let url = if address.contains("://") {
            address.clone()
        } else {
            format!("redis://{address}")
        };
        let info = parse_url(&url)?;
        #[cfg(feature = "tls")]
        refuse_insecure_fragment(
            builder,
            matches!(info.addr(), ConnectionAddr::TcpTls { insecure: true, .. }),
        )?;
        let (host, port, is_tls) = match info.addr() {
            ConnectionAddr::Tcp(host, port) => (host.clone(), *port, false),
            ConnectionAddr::TcpTls { host, port, .. } => (host.clone(), *port, true),
            _ => return Err(config("sentinels must be reached over TCP")),
        };
        if tls.is_some_and(|tls| tls != is_tls) {
            return Err(config(
                "the sentinel addresses mix redis:// and rediss://; use one for all",
            ));
        }
        tls = Some(is_tls);
        let settings = info.redis_settings();
        if sentinel_credentials.is_empty() {
            sentinel_credentials.username = settings.username().map(str::to_owned);
            sentinel_credentials.password = settings.password().map(str::to_owned);
        }
        // The TLS mode is set on the builder below; redis-rs wants TLS addresses for it.
        sentinels.push(if is_tls {
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(host, port)
        });
    }
    if sentinels.is_empty() {
        return Err(config("Sentinel needs at least one sentinel address"));
    }
    let mut client = SentinelClientBuilder::new(sentinels, master, SentinelServerType::Master)
        .map_err(|error| config(format_args!("invalid Sentinel settings ({error})")))?;
    if let Some(username) = &builder.credentials.username {
        client = client.set_client_to_redis_username(username);
    }
    if let Some(password) = &builder.credentials.password {
        client = client.set_client_to_redis_password(password);
    }
    let own = &builder.sentinel_credentials;
    if let Some(username) = own
        .username
        .as_ref()
        .or(sentinel_credentials.username.as_ref())
    {
        client = client.set_client_to_sentinel_username(username);
    }
    if let Some(password) = own
        .password
        .as_ref()
        .or(sentinel_credentials.password.as_ref())
    {
        client = client.set_client_to_sentinel_password(password);
    }
    if tls == Some(true) {
        #[cfg(feature = "tls")]
        {
            crate::tls::ensure_crypto_provider();
            let mode = if builder.tls.accept_invalid_certificates {
                warn_insecure();
                redis::TlsMode::Insecure
            } else {
                redis::TlsMode::Secure
            };
            client = client
                .set_client_to_redis_tls_mode(mode)
                .set_client_to_sentinel_tls_mode(mode);
            if let Some(certificates) = builder.tls.certificates()? {
                client = client
                    .set_client_to_redis_certificates(certificates.clone())
                    .set_client_to_sentinel_certificates(certificates);
            }
        }
    } else {
        #[cfg(feature = "tls")]
        if builder.tls.is_set() {
            return Err(config(
                "TLS options were given for redis:// sentinels; use rediss:// addresses",
            ));
        }
    }
    let client = client
        .build()
        .map_err(|error| config(format_args!("invalid Sentinel settings ({error})")))?;
    let dialer = crate::dialers::SentinelDialer {
        client: tokio::sync::Mutex::new(client),
        config: connection_config(builder),
    };
    Ok(Connections::Sentinel(Slots::new(dialer, builder.settings)))
}
