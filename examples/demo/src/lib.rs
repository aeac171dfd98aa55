//! The seed's examples (Remix's `session-middleware` README) as an axum app: a counter,
//! a login form with flash errors, an auth guard, logout, and a flash after a post.
//!
//! The binary (`cargo run -p session-demo`) parses flags and serves [`app`]; the
//! integration tests drive the same router in-process.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod accounts;
#[cfg(feature = "actix")]
pub mod actix;
mod pages;

use std::path::PathBuf;
use std::time::Duration;

use axum::extract::{Extension, Form, Path, Request};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use session_middleware::redis_store::deadpool_redis;
use session_middleware::{
    CookieStore, Error, FileLayout, FsStore, HeaderTokens, MemcacheStore, MemoryStore, RedisStore,
    Session, SessionCookie, SessionLayer, SessionManager, SigningFormat,
};

/// The session cookie's name, as in the seed.
pub const COOKIE_NAME: &str = "__session";

/// Where the demo keeps sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StorageKind {
    /// The whole session in the signed cookie (needs nothing else).
    #[default]
    Cookie,
    /// In this process's memory.
    Memory,
    /// In Redis, reached as these options say.
    Redis(RedisOptions),
    /// In memcached, on these `host:port` servers.
    Memcache(Vec<String>),
    /// One file per session in `dir`, in `layout` (Remix's or React Router's).
    File {
        /// The directory (created if missing, mode 0700).
        dir: PathBuf,
        /// Whose on-disk layout.
        layout: FileLayout,
    },
}

/// How the demo reaches Redis: a URL (`redis://`, or `rediss://` for TLS) or
/// sentinels, credentials, TLS files, the key layout, and whose client it runs on.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://[user:password@]host[:port][/db]` or `rediss://…`; unused with sentinels.
    pub url: String,
    /// A CA certificate (PEM file) to trust for `rediss://`.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate and its key (PEM files), for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// The ACL user.
    pub username: Option<String>,
    /// The password (never printed).
    pub password: Option<String>,
    /// Sentinel addresses (`host:port`); with [`sentinel_master`](Self::sentinel_master),
    /// the store finds the master through them instead of the URL.
    pub sentinels: Vec<String>,
    /// The master name the sentinels know.
    pub sentinel_master: Option<String>,
    /// Keys `prefix + sha256hex(id)` instead of `prefix + id`.
    pub hash_keys: bool,
    /// Whose connections the store uses.
    pub client: RedisClient,
}

impl RedisOptions {
    /// One node at `url`, every other option at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }
}

impl std::fmt::Debug for RedisOptions {
    /// Leaves out the URL and the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("sentinels", &self.sentinels)
            .field("hash_keys", &self.hash_keys)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// Whose Redis connections the store runs on (for comparing them, say in
/// `scripts/bench`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RedisClient {
    /// The store's own multiplexed, batching connection.
    #[default]
    Own,
    /// A `deadpool_redis::Pool`, as an application that has one would share it.
    Deadpool,
}

/// Everything the demo can be configured with.
#[derive(Clone, Debug)]
pub struct DemoConfig {
    /// Where sessions live.
    pub storage: StorageKind,
    /// Signing secrets; the first signs. Must not be empty.
    pub secrets: Vec<String>,
    /// Idle timeout: a session unused this long ends.
    pub idle_timeout: Option<Duration>,
    /// Absolute timeout: a session this old ends, however active.
    pub absolute_timeout: Option<Duration>,
    /// Cookie signing format.
    pub cookie_format: SigningFormat,
    /// Leave `Secure` off the cookie (plain-HTTP clients such as curl).
    pub insecure_cookie: bool,
    /// Renew session IDs this long after they were issued (`--id-renewal SECONDS`).
    pub id_renewal: Option<Duration>,
    /// The Redis or memcached key prefix (default: Remix's for each).
    pub key_prefix: Option<String>,
    /// Bytes of filler data the counter stores in each session (`--session-padding`),
    /// for the benchmark of how the cost grows with a session's size; 0 by default.
    pub session_padding: usize,
}

impl DemoConfig {
    /// A configuration with one secret and every other setting at its default.
    pub fn new(secret: impl Into<String>) -> Self {
        Self {
            storage: StorageKind::default(),
            secrets: vec![secret.into()],
            idle_timeout: None,
            absolute_timeout: None,
            cookie_format: SigningFormat::default(),
            insecure_cookie: false,
            id_renewal: None,
            key_prefix: None,
            session_padding: 0,
        }
    }
}

/// The demo's router, with the session layer installed.
///
/// Needs no runtime to build: Redis and memcached connections are opened on first use,
/// inside the server's runtime, and the memory store sweeps on a thread of its own.
///
/// # Errors
///
/// When the cookie or storage configuration is invalid (no secret, a bad Redis URL).
///
/// ```
/// let app = session_demo::app(&session_demo::DemoConfig::new("a secret for the docs"))?;
/// # let _ = app;
/// # Ok::<(), session_middleware::Error>(())
/// ```
pub fn app(config: &DemoConfig) -> Result<Router, Error> {
    let layer = SessionLayer::from_manager(session_manager(config)?);
    let padding = config.session_padding;
    let protected = Router::new()
        .route("/dashboard", get(dashboard))
        .route("/profile", get(profile))
        .route("/sessions", get(accounts::list))
        .route("/sessions/revoke-others", post(accounts::revoke_others))
        .route("/sessions/revoke-all", post(accounts::revoke_all))
        .route_layer(middleware::from_fn(require_auth));
    Ok(Router::new()
        .route("/", get(move |session| counter(session, padding)))
        .route("/hits", get(hits))
        .route("/visit/{page}", get(visit))
        .route("/visits", get(visits))
        .route("/untouched", get(untouched))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/posts", get(posts).post(create_post))
        // The manager for `commit_token`, on this route only: an extension on every
        // request would cost each of them an allocation.
        .route(
            "/api/login",
            post(accounts::api_login).layer(Extension(layer.manager().clone())),
        )
        .route("/api/me", get(accounts::api_me))
        .merge(protected)
        .layer(layer))
}

/// The session manager `config` describes: cookie, storage, timeouts, ID renewal and
/// bearer tokens. The axum app wraps it in the tower layer; the actix-web app (feature
/// `actix`) in `session_actix`'s middleware.
///
/// # Errors
///
/// When the cookie or storage configuration is invalid (no secret, a bad Redis URL).
///
/// ```
/// let manager = session_demo::session_manager(&session_demo::DemoConfig::new("a secret for the docs"))?;
/// assert_eq!(manager.cookie().name(), session_demo::COOKIE_NAME);
/// # Ok::<(), session_middleware::Error>(())
/// ```
pub fn session_manager(config: &DemoConfig) -> Result<SessionManager, Error> {
    let cookie = SessionCookie::builder(COOKIE_NAME)
        .secrets(config.secrets.iter().map(String::as_str))
        .format(config.cookie_format)
        .http_only(true)
        .secure(!config.insecure_cookie)
        .build()?;
    let mut manager = match &config.storage {
        // React Router's cookie format carries React Router's cookie-storage layout.
        StorageKind::Cookie if config.cookie_format == SigningFormat::ReactRouter => {
            SessionManager::new(cookie, CookieStore::react_router())?
        }
        StorageKind::Cookie => SessionManager::new(cookie, CookieStore::new())?,
        StorageKind::File { dir, layout } => {
            SessionManager::new(cookie, FsStore::builder(dir).layout(*layout).build()?)?
        }
        StorageKind::Memory => SessionManager::new(cookie, MemoryStore::new())?,
        StorageKind::Redis(options) => {
            SessionManager::new(cookie, redis_store(options, config.key_prefix.as_deref())?)?
        }
        StorageKind::Memcache(servers) => {
            let mut builder = MemcacheStore::builder().servers(servers.iter().cloned());
            if let Some(prefix) = &config.key_prefix {
                builder = builder.key_prefix(prefix);
            }
            SessionManager::new(cookie, builder.build()?)?
        }
    };
    if let Some(idle) = config.idle_timeout {
        manager = manager.idle_timeout(idle);
    }
    if let Some(absolute) = config.absolute_timeout {
        manager = manager.absolute_timeout(absolute);
    }
    if let Some(interval) = config.id_renewal {
        manager = manager.id_renewal(interval);
    }
    Ok(manager.header_tokens(HeaderTokens::bearer()))
}

/// The Redis store `options` describe.
fn redis_store(options: &RedisOptions, key_prefix: Option<&str>) -> Result<RedisStore, Error> {
    let mut builder = RedisStore::builder().hash_keys(options.hash_keys);
    if let Some(prefix) = key_prefix {
        builder = builder.key_prefix(prefix);
    }
    builder = match (&options.sentinel_master, options.client) {
        (Some(master), RedisClient::Own) => {
            builder.sentinel(options.sentinels.iter().cloned(), master)
        }
        (None, RedisClient::Own) => builder.url(&options.url),
        (Some(_), RedisClient::Deadpool) => return Err(demo_config(
            "--redis-client deadpool takes the URL; it cannot be combined with --redis-sentinel",
        )),
        (None, RedisClient::Deadpool) => {
            if options.username.is_some()
                || options.ca_cert.is_some()
                || options.client_cert.is_some()
            {
                return Err(demo_config(
                    "--redis-client deadpool takes credentials and TLS from the URL \
                     (redis[s]://user:password@host…); leave out --redis-username and the \
                     certificate flags",
                ));
            }
            let url = match &options.password {
                // The demo's password flag (or REDIS_PASSWORD) goes into the pool's URL.
                Some(password) => options.url.replacen("://", &format!("://:{password}@"), 1),
                None => options.url.clone(),
            };
            let pool = deadpool_redis::Config::from_url(url)
                .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                .map_err(|error| Error::Config {
                    backend: "Redis",
                    reason: format!("cannot create the deadpool pool: {error}"),
                })?;
            return builder.deadpool(pool).build();
        }
    };
    if let Some(username) = &options.username {
        builder = builder.username(username);
    }
    if let Some(password) = &options.password {
        builder = builder.password(password);
    }
    if let Some(ca) = &options.ca_cert {
        builder = builder.ca_certificate_file(ca);
    }
    if let Some((cert, key)) = &options.client_cert {
        builder = builder.client_certificate_files(cert, key);
    }
    builder.build()
}

fn demo_config(reason: &str) -> Error {
    Error::Config {
        backend: "Redis",
        reason: reason.to_owned(),
    }
}

/// A 302 redirect, as Remix's `res.redirect` sends.
pub(crate) fn redirect(to: &'static str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn counter(session: Session, padding: usize) -> Result<impl IntoResponse, Error> {
    Ok(pages::count(count_visit(&session, padding)?))
}

/// The counter's work, on either framework: one more visit, and (`padding` > 0) the
/// session carries that many bytes of filler, written once.
pub(crate) fn count_visit(session: &Session, padding: usize) -> Result<u64, Error> {
    let count = session.get::<u64>("count")?.unwrap_or(0) + 1;
    session.set("count", count)?;
    if padding > 0 && !session.has("padding")? {
        session.set("padding", "x".repeat(padding))?;
    }
    Ok(count)
}

/// The counter as it should be written when requests run in parallel: an increment
/// the store applies to the value it holds, so none is lost.
async fn hits(session: Session) -> Result<impl IntoResponse, Error> {
    let hits = session.increment("hits", 1)?;
    Ok(format!("Hits: {hits}"))
}

/// The key a visited page is recorded under.
const VISITED: &str = "visited.";

/// Records a visit to `page` under a key of its own, so parallel visits all stay.
async fn visit(session: Session, Path(page): Path<String>) -> Result<Response, Error> {
    let valid = !page.is_empty()
        && page.len() <= 64
        && page
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Ok((
            StatusCode::BAD_REQUEST,
            "page names are 1 to 64 letters, digits, '-' or '_'",
        )
            .into_response());
    }
    session.set(format!("{VISITED}{page}"), true)?;
    Ok("ok".into_response())
}

/// The pages visited, as a sorted JSON list.
async fn visits(session: Session) -> Result<impl IntoResponse, Error> {
    let pages: Vec<String> = session
        .keys()?
        .into_iter()
        .filter_map(|key| key.strip_prefix(VISITED).map(str::to_owned))
        .collect();
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&pages).unwrap_or_else(|_| "[]".to_owned()),
    ))
}

async fn untouched() -> &'static str {
    "ok"
}

async fn login_form(session: Session) -> Result<Html<String>, Error> {
    let error = session.get::<String>("error")?;
    Ok(Html(pages::login(error.as_deref())))
}

/// The login form's fields; missing fields are empty, so they fail like wrong ones.
#[derive(Deserialize)]
pub(crate) struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The demo's user table: `(username, password, id)`.
const USERS: [(&str, &str, u32); 2] = [("alice", "wonderland", 1), ("bob", "builder", 2)];

pub(crate) fn authenticate(credentials: &Credentials) -> Option<u32> {
    USERS
        .iter()
        .find(|(name, password, _)| {
            *name == credentials.username && *password == credentials.password
        })
        .map(|(_, _, id)| *id)
}

async fn login(
    session: Session,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, Error> {
    let Some(user_id) = authenticate(&form.credentials) else {
        session.flash("error", pages::INVALID_LOGIN)?;
        return Ok(redirect("/login"));
    };
    let remember = form.remember.ticked();
    accounts::bind(&session, user_id, remember, user_agent(&headers))?;
    Ok(redirect("/dashboard"))
}

/// The login form: the seed's fields and "Remember me".
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(flatten)]
    credentials: Credentials,
    #[serde(flatten)]
    remember: accounts::Remember,
}

async fn logout(session: Session) -> Result<Response, Error> {
    session.destroy()?;
    Ok(redirect("/"))
}

/// The seed's `requireAuth`: no `userId`, no entry.
async fn require_auth(request: Request, next: Next) -> Result<Response, Error> {
    let session = request
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or(Error::MissingLayer)?;
    session.load().await?;
    if !session.has("userId")? {
        session.flash("error", pages::PLEASE_LOG_IN)?;
        return Ok(redirect("/login"));
    }
    Ok(next.run(request).await)
}

async fn dashboard(session: Session) -> Result<Html<String>, Error> {
    let user_id = session.get::<u32>("userId")?.unwrap_or_default();
    Ok(Html(pages::dashboard(user_id)))
}

async fn profile(session: Session) -> Result<Html<String>, Error> {
    let user_id = session.get::<u32>("userId")?.unwrap_or_default();
    Ok(Html(pages::profile(user_id)))
}

async fn create_post(session: Session) -> Result<Response, Error> {
    session.flash("success", pages::POST_CREATED)?;
    Ok(redirect("/posts"))
}

async fn posts(session: Session) -> Result<Html<String>, Error> {
    let success = session.get::<String>("success")?;
    Ok(Html(pages::posts(success.as_deref())))
}

/// The client's `User-Agent`, the label of its session in the sessions list.
pub(crate) fn user_agent(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok())
}

/// Flash messages are ours today, but whatever lands in a page gets escaped.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<b>"Tom" & 'Jerry'</b>"#),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn authenticates_only_known_pairs() {
        let creds = |u: &str, p: &str| Credentials {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(authenticate(&creds("alice", "wonderland")), Some(1));
        assert_eq!(authenticate(&creds("bob", "builder")), Some(2));
        assert_eq!(authenticate(&creds("alice", "builder")), None);
        assert_eq!(authenticate(&creds("", "")), None);
    }
}
