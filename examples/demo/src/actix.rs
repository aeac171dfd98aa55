//! The seed's routes on actix-web (feature `actix`, `--framework actix`): the same
//! pages and the same [`SessionManager`](session_middleware::SessionManager) as the axum
//! app, through `session-actix`'s middleware and extractor.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::http::header::{ContentType, LOCATION, USER_AGENT};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use session_actix::{Session, SessionError, SessionMiddleware};
use session_middleware::Error;

use crate::{accounts, authenticate, pages, session_manager, DemoConfig, LoginForm};

/// The routes, for `App::configure`: counter, untouched, login, logout, posts, and the
/// guarded dashboard and profile.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(counter))
        .route("/untouched", web::get().to(untouched))
        .route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/posts", web::get().to(posts))
        .route("/posts", web::post().to(create_post))
        .route("/dashboard", web::get().to(dashboard))
        .route("/profile", web::get().to(profile));
}

/// The demo on actix-web, serving on a thread of its own (an actix system with one
/// worker) until stopped or dropped.
///
/// ```
/// use session_demo::{actix::ActixServer, DemoConfig};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let server = ActixServer::start(&DemoConfig::new("a secret for the docs"), listener)?;
/// assert!(server.addr().ip().is_loopback());
/// server.stop()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ActixServer {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ActixServer {
    /// Serves the demo `config` describes on `listener`.
    ///
    /// # Errors
    ///
    /// When the configuration is invalid or the server cannot start.
    pub fn start(
        config: &DemoConfig,
        listener: TcpListener,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        if config.session_padding > 0 {
            return Err(
                "--session-padding is a benchmark setting of the axum app only; \
                        leave it out with --framework actix"
                    .into(),
            );
        }
        let sessions = SessionMiddleware::from_manager(session_manager(config)?);
        let addr = listener.local_addr()?;
        let (started, handle) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server =
                    HttpServer::new(move || App::new().wrap(sessions.clone()).configure(routes))
                        .workers(1)
                        .disable_signals()
                        .listen(listener)?
                        .run();
                // The receiver waits for this; it is gone only if `start` already failed.
                let _ = started.send(server.handle());
                server.await
            })
        });
        match handle.recv() {
            Ok(handle) => Ok(Self {
                addr,
                handle,
                thread: Some(thread),
            }),
            Err(_) => Err(match thread.join() {
                Ok(Err(error)) => format!("the actix server did not start: {error}").into(),
                _ => "the actix server did not start".into(),
            }),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs until the server stops (after [`stop`](Self::stop) from another thread, or
    /// for ever).
    ///
    /// # Errors
    ///
    /// The server's error.
    pub fn wait(mut self) -> io::Result<()> {
        self.join()
    }

    /// Stops accepting, finishes the requests in flight, and waits for the thread.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub fn stop(mut self) -> io::Result<()> {
        self.halt();
        self.join()
    }

    fn halt(&self) {
        // The command is sent at once; the returned future only waits for it.
        drop(self.handle.stop(true));
    }

    fn join(&mut self) -> io::Result<()> {
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the actix server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for ActixServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.halt();
            let _ = self.join();
        }
    }
}

/// A 302 redirect, as Remix's `res.redirect` sends.
fn redirect(to: &'static str) -> HttpResponse {
    HttpResponse::Found().insert_header((LOCATION, to)).finish()
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(body)
}

async fn counter(session: Session) -> Result<String, SessionError> {
    Ok(pages::count(crate::count_visit(&session, 0)?))
}

async fn untouched() -> &'static str {
    "ok"
}

async fn login_form(session: Session) -> Result<HttpResponse, SessionError> {
    let error = session.get::<String>("error")?;
    Ok(html(pages::login(error.as_deref())))
}

async fn login(
    session: Session,
    request: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, SessionError> {
    let Some(user_id) = authenticate(&form.credentials) else {
        session.flash("error", pages::INVALID_LOGIN)?;
        return Ok(redirect("/login"));
    };
    let agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok());
    accounts::bind(&session, user_id, form.remember.ticked(), agent)?;
    Ok(redirect("/dashboard"))
}

async fn logout(session: Session) -> Result<HttpResponse, SessionError> {
    session.destroy()?;
    Ok(redirect("/"))
}

/// The seed's `requireAuth`, then `page` for the logged-in user; anyone else is sent
/// to the login page with a flashed error.
fn guarded(session: &Session, page: fn(u32) -> String) -> Result<HttpResponse, Error> {
    let Some(user_id) = session.get::<u32>("userId")? else {
        session.flash("error", pages::PLEASE_LOG_IN)?;
        return Ok(redirect("/login"));
    };
    Ok(html(page(user_id)))
}

async fn dashboard(session: Session) -> Result<HttpResponse, SessionError> {
    Ok(guarded(&session, pages::dashboard)?)
}

async fn profile(session: Session) -> Result<HttpResponse, SessionError> {
    Ok(guarded(&session, pages::profile)?)
}

async fn create_post(session: Session) -> Result<HttpResponse, SessionError> {
    session.flash("success", pages::POST_CREATED)?;
    Ok(redirect("/posts"))
}

async fn posts(session: Session) -> Result<HttpResponse, SessionError> {
    let success = session.get::<String>("success")?;
    Ok(html(pages::posts(success.as_deref())))
}
