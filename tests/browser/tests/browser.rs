//! The demo in a real browser: headless Chromium, driven over WebDriver, is the judge of
//! what the cookie attributes mean (a persistent cookie only with "Remember me", a
//! cleared cookie after logout), of the flash messages, and of the sessions page seen
//! from two browser profiles (two WebDriver sessions: two separate profiles).
//!
//! `scripts/e2e` runs it: `cargo test -p session-browser-tests -- --ignored`, with
//! `CHROMEDRIVER_URL` and `DEMO_URL` set.

use std::error::Error;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

type TestResult<T = ()> = Result<T, Box<dyn Error>>;

fn env(name: &str) -> TestResult<String> {
    std::env::var(name)
        .map_err(|_| format!("{name} is not set: run this through scripts/e2e").into())
}

/// A fresh browser profile.
async fn browser() -> TestResult<Client> {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        }),
    );
    Ok(ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&env("CHROMEDRIVER_URL")?)
        .await?)
}

fn url(path: &str) -> TestResult<String> {
    Ok(format!("{}{path}", env("DEMO_URL")?))
}

/// The session cookie as the browser keeps it, if it keeps one.
async fn session_cookie(
    client: &Client,
) -> TestResult<Option<fantoccini::cookies::Cookie<'static>>> {
    Ok(client
        .get_all_cookies()
        .await?
        .into_iter()
        .find(|cookie| cookie.name() == "__session"))
}

async fn log_in(client: &Client, remember: bool) -> TestResult {
    client.goto(&url("/login")?).await?;
    client
        .find(Locator::Css("input[name=username]"))
        .await?
        .send_keys("alice")
        .await?;
    client
        .find(Locator::Css("input[name=password]"))
        .await?
        .send_keys("wonderland")
        .await?;
    if remember {
        client
            .find(Locator::Css("input[name=remember]"))
            .await?
            .click()
            .await?;
    }
    client
        .find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    at_path(client, "/dashboard").await?;
    assert!(body(client).await?.contains("Dashboard for user 1"));
    Ok(())
}

/// The page's text. A click returns before the page it leads to has loaded, so the
/// body found may belong to the page being left: asked again until it reads.
async fn body(client: &Client) -> TestResult<String> {
    let mut last = String::new();
    for _ in 0..50 {
        match client.find(Locator::Css("body")).await {
            Ok(body) => match body.text().await {
                Ok(text) => return Ok(text),
                Err(error) => last = error.to_string(),
            },
            Err(error) => last = error.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no readable page: {last}").into())
}

/// Waits, at most 5 s, for the browser to be at `path`: a click does not wait for the
/// navigation it starts.
async fn at_path(client: &Client, path: &str) -> TestResult {
    let mut seen = String::new();
    for _ in 0..50 {
        seen = client.current_url().await?.path().to_owned();
        if seen == path {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("expected to be at {path}, still at {seen}").into())
}

/// Waits, at most 5 s, for the sessions page to list `count` sessions.
async fn listed_sessions(client: &Client, count: usize) -> TestResult {
    let mut seen = 0;
    for _ in 0..50 {
        if let Ok(listed) = client.find_all(Locator::Css("#sessions li")).await {
            seen = listed.len();
            if seen == count {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("expected {count} listed sessions, saw {seen}").into())
}

#[tokio::test]
#[ignore = "needs Chromium, ChromeDriver and the demo: run by scripts/e2e"]
async fn login_remember_me_flash_sessions_page_and_logout() -> TestResult {
    let laptop = browser().await?;
    let phone = browser().await?;
    let outcome = flows(&laptop, &phone).await;
    laptop.close().await?;
    phone.close().await?;
    outcome
}

async fn flows(laptop: &Client, phone: &Client) -> TestResult {
    // The guard's flash, shown once.
    laptop.goto(&url("/dashboard")?).await?;
    at_path(laptop, "/login").await?;
    assert!(body(laptop).await?.contains("Please log in to continue"));
    laptop.refresh().await?;
    assert!(
        !body(laptop).await?.contains("Please log in to continue"),
        "a flash shows once"
    );

    // Without "Remember me": a cookie that ends with the browser session.
    log_in(laptop, false).await?;
    let cookie = session_cookie(laptop).await?.ok_or("a session cookie")?;
    assert!(
        cookie.expires().is_none(),
        "kept past the browser session: expires {:?}",
        cookie.expires_datetime()
    );
    assert_eq!(cookie.http_only(), Some(true));

    // With it: a cookie the browser keeps for about 30 days.
    log_in(phone, true).await?;
    let cookie = session_cookie(phone).await?.ok_or("a session cookie")?;
    let expires = cookie
        .expires_datetime()
        .ok_or("a remembered cookie has an expiry, this one is a browser-session cookie")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let days = (expires.unix_timestamp() - i64::try_from(now)?) / 86_400;
    assert!((29..=30).contains(&days), "kept for {days} days");

    // The sessions page, from the laptop: both, this one marked.
    laptop.goto(&url("/sessions")?).await?;
    listed_sessions(laptop, 2).await?;
    let current = laptop
        .find_all(Locator::Css("#sessions li.current"))
        .await?;
    assert_eq!(current.len(), 1);
    assert!(current[0].text().await?.contains("(this session)"));

    // "Log out other sessions" ends the phone's.
    laptop
        .find(Locator::Css("#revoke-others"))
        .await?
        .click()
        .await?;
    listed_sessions(laptop, 1).await?;
    phone.goto(&url("/dashboard")?).await?;
    at_path(phone, "/login")
        .await
        .map_err(|error| format!("the phone was not logged out: {error}"))?;

    // Logout deletes the cookie: the browser drops it (the page it lands on, the
    // counter, starts a new anonymous session with a cookie of its own).
    laptop.goto(&url("/sessions")?).await?;
    let before = session_cookie(laptop).await?.ok_or("a session cookie")?;
    laptop.find(Locator::Css("#logout")).await?.click().await?;
    at_path(laptop, "/").await?;
    assert!(
        body(laptop).await?.contains("Count: 1"),
        "a fresh session after logout"
    );
    let after = session_cookie(laptop).await?;
    assert!(
        after
            .as_ref()
            .is_none_or(|after| after.value() != before.value()),
        "the logged-out cookie is still in the browser"
    );
    laptop.goto(&url("/dashboard")?).await?;
    at_path(laptop, "/login").await?;
    Ok(())
}
