//! The demo's login features over HTTP on every storage: "Remember me", the sessions
//! page with its two revocations, and the bearer-token API.

use http::header::{AUTHORIZATION, CONTENT_TYPE, SET_COOKIE};
use http::{Method, Request, StatusCode};

use super::*;

/// Cookie storage keeps nothing to list; the file store keeps no per-user index.
fn supports_users(storage: &StorageKind) -> bool {
    !matches!(storage, StorageKind::Cookie | StorageKind::File { .. })
}

/// Logs `client` in as alice, ticking "Remember me" or not; the login's Set-Cookie
/// attributes.
async fn log_in(client: &mut Client, remember: bool) -> TestResult<Vec<String>> {
    let form = if remember {
        "username=alice&password=wonderland&remember=on"
    } else {
        "username=alice&password=wonderland"
    };
    let reply = client.post("/login", Some(form)).await?;
    reply.assert_redirect("/dashboard");
    let (_, attributes) = reply.session_set_cookie()?;
    Ok(attributes.into_iter().map(str::to_owned).collect())
}

pub(super) async fn remember_me_chooses_the_cookie_lifetime(storage: StorageKind) -> TestResult {
    let mut forgetful = Client::new(&config(&storage))?;
    let attributes = log_in(&mut forgetful, false).await?;
    assert!(
        !attributes
            .iter()
            .any(|a| a.starts_with("Max-Age") || a.starts_with("Expires")),
        "a browser-session cookie: {attributes:?}"
    );
    forgetful
        .expect("/dashboard", "<h1>Dashboard for user 1</h1>")
        .await?;

    let mut remembered = Client::new(&config(&storage))?;
    let attributes = log_in(&mut remembered, true).await?;
    let max_age = attributes
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .ok_or("a remembered session's cookie has a Max-Age")?
        .parse::<u64>()?;
    assert!(max_age > 29 * 24 * 3600, "about 30 days: {max_age}");
    // Kept on later writes.
    let reply = remembered.get("/").await?;
    if let Ok((_, attributes)) = reply.session_set_cookie() {
        assert!(
            attributes.iter().any(|a| a.starts_with("Max-Age=")),
            "{attributes:?}"
        );
    }
    Ok(())
}

pub(super) async fn the_sessions_page_lists_and_revokes(storage: StorageKind) -> TestResult {
    let mut laptop = Client::new(&config(&storage))?;
    log_in(&mut laptop, false).await?;
    let reply = laptop.get("/sessions").await?;
    if !supports_users(&storage) {
        assert_eq!(reply.status, StatusCode::NOT_IMPLEMENTED, "{}", reply.body);
        assert!(reply.body.contains("cannot list"), "{}", reply.body);
        return Ok(());
    }
    let mut phone = laptop.fork(None);
    log_in(&mut phone, true).await?;
    let reply = laptop.get("/sessions").await?;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body.matches(r#"<li class="session"#).count(),
        2,
        "{}",
        reply.body
    );
    assert_eq!(
        reply.body.matches("(this session)").count(),
        1,
        "{}",
        reply.body
    );

    laptop
        .post("/sessions/revoke-others", None)
        .await?
        .assert_redirect("/sessions");
    phone.expect_redirect("/dashboard", "/login").await?;
    laptop
        .expect("/dashboard", "<h1>Dashboard for user 1</h1>")
        .await?;
    let reply = laptop.get("/sessions").await?;
    assert_eq!(
        reply.body.matches(r#"<li class="session"#).count(),
        1,
        "{}",
        reply.body
    );

    log_in(&mut phone, false).await?;
    let reply = laptop.post("/sessions/revoke-all", None).await?;
    reply.assert_redirect("/login");
    assert!(laptop.jar.is_none(), "the cookie was cleared");
    phone.expect_redirect("/dashboard", "/login").await?;
    Ok(())
}

/// A request with `Authorization: Bearer token` (or none).
async fn api(
    client: &Client,
    method: Method,
    path: &str,
    token: Option<&str>,
    form: Option<&str>,
) -> TestResult<Reply> {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    if form.is_some() {
        request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    client
        .app
        .call(request.body(form.unwrap_or_default().to_owned())?)
        .await
}

pub(super) async fn api_clients_use_bearer_tokens(storage: StorageKind) -> TestResult {
    let client = Client::new(&config(&storage))?;
    let login = api(
        &client,
        Method::POST,
        "/api/login",
        None,
        Some("username=alice&password=wonderland"),
    )
    .await?;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(
        login.headers.get(SET_COOKIE),
        None,
        "a token login sets no cookie"
    );
    let token: serde_json::Value = serde_json::from_str(&login.body)?;
    let token = token["token"].as_str().ok_or("a token")?.to_owned();

    let me = api(&client, Method::GET, "/api/me", Some(&token), None).await?;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body, r#"{"userId":"1"}"#);
    assert_eq!(
        me.headers.get(SET_COOKIE),
        None,
        "a header session never sets a cookie"
    );

    let anonymous = api(&client, Method::GET, "/api/me", None, None).await?;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let forged = format!("{}x", token);
    let bad = api(&client, Method::GET, "/api/me", Some(&forged), None).await?;
    assert_eq!(
        bad.status,
        StatusCode::UNAUTHORIZED,
        "a bad token is a fresh session: {}",
        bad.body
    );
    let wrong = api(
        &client,
        Method::POST,
        "/api/login",
        None,
        Some("username=alice&password=nope"),
    )
    .await?;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    // Cookies still work on the same router.
    let mut browser = client.fork(None);
    browser.expect("/", "Count: 1").await?;
    browser.expect("/", "Count: 2").await?;
    Ok(())
}
