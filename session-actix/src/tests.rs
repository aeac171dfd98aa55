//! The middleware's own answers, through actix-web's test service (the demo's flows run
//! on a real actix server in `tests/integration/demo_flows.rs`).

use actix_web::dev::ServiceResponse;
use actix_web::http::header::{CACHE_CONTROL, COOKIE, SET_COOKIE};
use actix_web::http::StatusCode;
use actix_web::{test, web, App, HttpResponse};
use session_middleware::{HeaderTokens, MemoryStore, SessionCookie, SessionId, SessionManager};
use session_tests::{Failing, Operation};

use crate::{Session, SessionError, SessionMiddleware};

fn cookie() -> SessionCookie {
    SessionCookie::builder("__session")
        .secret("a test secret of at least thirty-two bytes")
        .build()
        .expect("valid")
}

async fn counter(session: Session) -> Result<HttpResponse, SessionError> {
    let count = session.get::<u64>("count")?.unwrap_or(0) + 1;
    session.set("count", count)?;
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "public, max-age=60"))
        .append_header((SET_COOKIE, "theme=dark"))
        .body(format!("Count: {count}")))
}

async fn untouched() -> &'static str {
    "ok"
}

/// The `__session=…` pair of a response's session `Set-Cookie`.
fn session_pair<B>(response: &ServiceResponse<B>) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("__session="))
        .and_then(|value| value.split(';').next())
        .map(str::to_owned)
}

#[actix_web::test]
async fn a_counter_keeps_the_handlers_headers_and_makes_caching_private() {
    let sessions = SessionMiddleware::new(cookie(), MemoryStore::new()).expect("signed");
    let app = test::init_service(
        App::new()
            .wrap(sessions)
            .route("/", web::get().to(counter))
            .route("/untouched", web::get().to(untouched)),
    )
    .await;
    let first = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let pair = session_pair(&first).expect("a session cookie");
    let cookies: Vec<_> = first.headers().get_all(SET_COOKIE).collect();
    assert_eq!(
        cookies.len(),
        2,
        "the handler's own cookie stays: {cookies:?}"
    );
    assert_eq!(
        first.headers().get(CACHE_CONTROL).expect("set"),
        "private, max-age=60"
    );
    assert_eq!(first.headers().get("vary").expect("set"), "Cookie");
    assert_eq!(test::read_body(first).await, "Count: 1");

    let second = test::TestRequest::get()
        .uri("/")
        .insert_header((COOKIE, pair.as_str()));
    let second = test::call_service(&app, second.to_request()).await;
    assert_eq!(test::read_body(second).await, "Count: 2");

    let untouched = test::TestRequest::get()
        .uri("/untouched")
        .insert_header((COOKIE, pair.as_str()));
    let untouched = test::call_service(&app, untouched.to_request()).await;
    assert!(!untouched.headers().contains_key(SET_COOKIE));
    assert!(!untouched.headers().contains_key(CACHE_CONTROL));
}

async fn renew(session: Session) -> Result<&'static str, SessionError> {
    session.regenerate_id()?;
    Ok("renewed")
}

#[actix_web::test]
async fn a_header_token_travels_in_and_out() {
    let manager = SessionManager::new(cookie(), MemoryStore::new())
        .expect("signed")
        .header_tokens(HeaderTokens::bearer());
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::from_manager(manager))
            .route("/", web::get().to(counter))
            .route("/renew", web::post().to(renew)),
    )
    .await;
    let bearer = |token: &str| ("authorization", format!("Bearer {token}"));
    let first = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    let pair = session_pair(&first).expect("a session cookie");
    let token = pair.trim_start_matches("__session=").to_owned();

    let by_token = test::TestRequest::get()
        .uri("/")
        .insert_header(bearer(&token));
    let by_token = test::call_service(&app, by_token.to_request()).await;
    assert_eq!(
        session_pair(&by_token),
        None,
        "a token-carried session sets no cookie"
    );
    assert!(
        !by_token.headers().contains_key("session-token"),
        "the token is unchanged"
    );
    assert_eq!(test::read_body(by_token).await, "Count: 2");

    let renewed = test::TestRequest::post()
        .uri("/renew")
        .insert_header(bearer(&token));
    let renewed = test::call_service(&app, renewed.to_request()).await;
    assert_eq!(session_pair(&renewed), None);
    let new_token = renewed.headers().get("session-token").expect("a new token");
    let new_token = new_token.to_str().expect("ascii").to_owned();
    assert_ne!(new_token, token);

    let with_new = test::TestRequest::get()
        .uri("/")
        .insert_header(bearer(&new_token));
    let with_new = test::call_service(&app, with_new.to_request()).await;
    assert_eq!(test::read_body(with_new).await, "Count: 3");
    let with_old = test::TestRequest::get()
        .uri("/")
        .insert_header(bearer(&token));
    let with_old = test::call_service(&app, with_old.to_request()).await;
    assert_eq!(
        test::read_body(with_old).await,
        "Count: 1",
        "the old token is dead"
    );
}

/// Memory storage with every operation failing as a refused connection would.
fn down() -> Failing<MemoryStore> {
    let storage = Failing::new(MemoryStore::new());
    for operation in [
        Operation::Read,
        Operation::Create,
        Operation::Update,
        Operation::Delete,
    ] {
        storage.fail(operation);
    }
    storage
}

#[actix_web::test]
async fn failures_answer_empty_503s_and_500s() {
    let down = SessionMiddleware::new(cookie(), down()).expect("signed");
    let app = test::init_service(App::new().wrap(down).route("/", web::get().to(counter))).await;
    // No cookie: the session starts fresh, and the save is what fails.
    let failed = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!failed.headers().contains_key(SET_COOKIE));
    assert!(test::read_body(failed).await.is_empty());

    // A signed cookie makes the extractor read the storage, which is down.
    let signed = cookie()
        .sign(SessionId::generate().expect("id").as_str())
        .expect("sign");
    let load = test::TestRequest::get()
        .uri("/")
        .insert_header((COOKIE, format!("__session={signed}")));
    let load = test::call_service(&app, load.to_request()).await;
    assert_eq!(load.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(test::read_body(load).await.is_empty());

    let twice = SessionMiddleware::new(cookie(), MemoryStore::new()).expect("signed");
    let app = test::init_service(
        App::new()
            .wrap(twice.clone())
            .wrap(twice)
            .route("/", web::get().to(counter)),
    )
    .await;
    let twice = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(twice.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!twice.headers().contains_key(SET_COOKIE));

    let missing = test::init_service(App::new().route("/", web::get().to(counter))).await;
    let missing =
        test::call_service(&missing, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(missing.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(test::read_body(missing).await.is_empty());
}
