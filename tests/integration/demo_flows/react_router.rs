//! The demo with `--cookie-format react-router`: the seed's flows, with cookies a React
//! Router app reads (URI-encoded, the JSON of the ID or, on cookie storage, of the
//! data), on cookie, memory and file storage in both layouts.

use super::*;

fn react_router_config(storage: &StorageKind) -> DemoConfig {
    let mut config = config(storage);
    config.cookie_format = SigningFormat::ReactRouter;
    config
}

fn react_router_cookie() -> TestResult<SessionCookie> {
    Ok(SessionCookie::builder(COOKIE_NAME)
        .secret(SECRET)
        .format(SigningFormat::ReactRouter)
        .build()?)
}

/// What a React Router app reads from the demo's cookie: the JSON value inside.
fn read_as_react_router(signed: &str) -> TestResult<serde_json::Value> {
    let decoded = signed
        .replace("%3D", "=")
        .replace("%2B", "+")
        .replace("%2F", "/");
    let (payload, _) = decoded.rsplit_once('.').ok_or("no signature")?;
    use base64::Engine as _;
    let json = base64::engine::general_purpose::STANDARD.decode(payload)?;
    Ok(serde_json::from_slice(&json)?)
}

async fn flows(storage: StorageKind) -> TestResult {
    let mut client = Client::new(&react_router_config(&storage))?;
    for expected in 1..=2 {
        client.expect("/", &format!("Count: {expected}")).await?;
    }
    let cookie = client.cookie()?;
    assert!(
        !cookie.contains('=') && !cookie.contains('/') && !cookie.contains('+'),
        "{cookie}"
    );
    assert!(
        react_router_cookie()?.verify(&cookie).is_some(),
        "not React Router's format"
    );
    let inside = read_as_react_router(&cookie)?;
    match &storage {
        // React Router's cookie storage: the flat data, no ID.
        StorageKind::Cookie => assert_eq!(inside, serde_json::json!({"count": 2})),
        // By ID: the JSON string of the ID.
        _ => assert!(inside.is_string(), "{inside}"),
    }

    // Flash once (React Router's rule on its layouts: until read).
    client.post("/posts", None).await?.assert_redirect("/posts");
    let shown = r#"<div class="success">Post created successfully!</div>"#;
    client
        .get("/posts")
        .await?
        .assert_body_contains(shown, true);
    client
        .get("/posts")
        .await?
        .assert_body_contains(r#"class="success""#, false);

    // Guard, login (a new ID), logout.
    client.expect_redirect("/dashboard", "/login").await?;
    let before = client.cookie()?;
    client
        .login("alice", "wonderland")
        .await?
        .assert_redirect("/dashboard");
    assert_ne!(client.cookie()?, before);
    client
        .expect("/dashboard", "<h1>Dashboard for user 1</h1>")
        .await?;
    client
        .fork(Some(&before))
        .expect_redirect("/dashboard", "/login")
        .await?;
    let reply = client.post("/logout", None).await?;
    reply.assert_redirect("/");
    let (cleared, attributes) = reply.session_set_cookie()?;
    assert_eq!(cleared, "");
    assert_attributes(&attributes, &["Expires=Thu, 01 Jan 1970 00:00:00 GMT"]);
    assert!(
        !attributes.contains(&"Max-Age=0"),
        "React Router's destroy: {attributes:?}"
    );
    client.expect_redirect("/dashboard", "/login").await?;
    Ok(())
}

#[tokio::test]
async fn cookie_storage() -> TestResult {
    flows(StorageKind::Cookie).await
}

#[tokio::test]
async fn memory_storage() -> TestResult {
    flows(StorageKind::Memory).await
}

#[tokio::test]
async fn file_storage_in_react_routers_layout() -> TestResult {
    flows(StorageKind::File {
        dir: crate::fs_store::unique_dir("demo-rr-format"),
        layout: FileLayout::ReactRouter,
    })
    .await
}
