//! actix-session on actix-web, with the demo's benchmarked routes, for scripts/bench.
//!
//! Usage: peer_actix none|cookie|redis PORT [REDIS_URL]
//! (`none` is actix-web without sessions: actix's own baseline)

use actix_session::storage::{CookieSessionStore, RedisSessionStore, SessionStore};
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::Key;
use actix_web::{web, App, HttpResponse, HttpServer};

async fn counter(session: Session) -> HttpResponse {
    let count = session.get::<u64>("count").ok().flatten().unwrap_or(0) + 1;
    let _ = session.insert("count", count);
    HttpResponse::Ok().body(format!("Count: {count}"))
}

async fn dashboard(session: Session) -> HttpResponse {
    let user = session.get::<u32>("userId").ok().flatten().unwrap_or(0);
    HttpResponse::Ok()
        .content_type("text/html")
        .body(format!("<h1>Dashboard for user {user}</h1>"))
}

async fn login(session: Session) -> HttpResponse {
    session.renew();
    let _ = session.insert("userId", 1u32);
    HttpResponse::Ok().body("ok")
}

async fn plain_counter() -> HttpResponse {
    HttpResponse::Ok().body("Count: 1")
}

async fn plain_dashboard() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html")
        .body("<h1>Dashboard for user 1</h1>")
}

async fn untouched() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// The routes behind the session middleware, whatever its store.
fn session_routes(config: &mut web::ServiceConfig) {
    config
        .route("/", web::get().to(counter))
        .route("/dashboard", web::get().to(dashboard))
        .route("/login", web::post().to(login))
        .route("/untouched", web::get().to(untouched));
}

/// Serves the session routes behind actix-session, with a store from `store` per worker.
async fn serve_with<S, F>(store: F, key: Key, port: u16) -> std::io::Result<()>
where
    S: SessionStore + 'static,
    F: Fn() -> S + Clone + Send + 'static,
{
    HttpServer::new(move || {
        App::new()
            .wrap(
                SessionMiddleware::builder(store(), key.clone())
                    .cookie_secure(false)
                    .build(),
            )
            .configure(session_routes)
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let storage = args.next().unwrap_or_default();
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let key = Key::from(&[7u8; 64]);
    match storage.as_str() {
        "none" => {
            HttpServer::new(|| {
                App::new()
                    .route("/", web::get().to(plain_counter))
                    .route("/dashboard", web::get().to(plain_dashboard))
                    .route("/untouched", web::get().to(untouched))
            })
            .bind(("127.0.0.1", port))?
            .run()
            .await
        }
        "cookie" => serve_with(CookieSessionStore::default, key, port).await,
        "redis" => {
            let url = args.next().unwrap_or_default();
            let store = RedisSessionStore::new(url)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            serve_with(move || store.clone(), key, port).await
        }
        other => Err(std::io::Error::other(format!("unknown storage {other}"))),
    }
}
