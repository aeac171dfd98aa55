//! What a real login adds to the seed's: "Remember me", the list of the user's
//! sessions with "log out other sessions" and "log out everywhere", and the same
//! sessions for API clients through a bearer token.

use axum::extract::{Extension, Form};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use session_middleware::{Error, Session, SessionManager, Transport};

use crate::{escape_html, redirect, Credentials};

/// How long a "Remember me" session lasts without use.
pub(crate) const REMEMBERED_FOR: std::time::Duration =
    std::time::Duration::from_secs(30 * 24 * 60 * 60);

/// The login form's extra field.
#[derive(Deserialize)]
pub(crate) struct Remember {
    #[serde(default)]
    remember: Option<String>,
}

/// What a successful login does to the session, for the form and the API alike:
/// a new ID, the user bound, labelled with the client's user agent, and the
/// "Remember me" choice.
pub(crate) fn bind(
    session: &Session,
    user_id: u32,
    remember: bool,
    user_agent: Option<&str>,
) -> Result<(), Error> {
    // A new ID at every privilege change: the pre-login ID dies with this response.
    session.regenerate_id()?;
    session.set("userId", user_id)?;
    session.set_user(user_id.to_string())?;
    let agent = user_agent.unwrap_or("unknown client");
    session.set_label(agent.chars().take(120).collect::<String>())?;
    session.set_persistent(remember)?;
    session.set_lifetime(remember.then_some(REMEMBERED_FOR))?;
    Ok(())
}

impl Remember {
    pub(crate) fn ticked(&self) -> bool {
        self.remember.as_deref() == Some("on")
    }
}

/// `GET /sessions`: where the user is logged in, this session marked.
pub(crate) async fn list(session: Session) -> Result<Response, Error> {
    let listed = match session.user_sessions().await {
        Ok(listed) => listed,
        Err(error @ Error::Unsupported { .. }) => {
            return Ok((StatusCode::NOT_IMPLEMENTED, error.to_string()).into_response());
        }
        Err(error) => return Err(error),
    };
    let rows: String = listed
        .iter()
        .map(|listed| {
            format!(
                r#"<li class="session{}" data-handle="{}">{}{}</li>
"#,
                if listed.current { " current" } else { "" },
                escape_html(&listed.handle),
                escape_html(listed.label.as_deref().unwrap_or("unlabelled")),
                if listed.current {
                    " (this session)"
                } else {
                    ""
                },
            )
        })
        .collect();
    Ok(Html(format!(
        r#"<html>
<body>
<h1>Your sessions</h1>
<ul id="sessions">
{rows}</ul>
<form method="POST" action="/sessions/revoke-others"><button id="revoke-others" type="submit">Log out other sessions</button></form>
<form method="POST" action="/sessions/revoke-all"><button id="revoke-all" type="submit">Log out everywhere</button></form>
<form method="POST" action="/logout"><button id="logout" type="submit">Log out</button></form>
</body>
</html>
"#
    ))
    .into_response())
}

/// `POST /sessions/revoke-others`: every other session of the user ends.
pub(crate) async fn revoke_others(session: Session) -> Result<Response, Error> {
    session.revoke_other_sessions().await?;
    Ok(redirect("/sessions"))
}

/// `POST /sessions/revoke-all`: every session of the user ends, this one too.
pub(crate) async fn revoke_all(session: Session) -> Result<Response, Error> {
    session.revoke_all_sessions().await?;
    Ok(redirect("/login"))
}

/// `POST /api/login`: the form's fields in, `{"token": "…"}` out, for a client that
/// sends it back as `Authorization: Bearer …`.
pub(crate) async fn api_login(
    session: Session,
    Extension(manager): Extension<SessionManager>,
    headers: HeaderMap,
    Form(credentials): Form<Credentials>,
) -> Result<Response, Error> {
    let Some(user_id) = crate::authenticate(&credentials) else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"invalid username or password"}"#,
        )
            .into_response());
    };
    bind(&session, user_id, true, crate::user_agent(&headers))?;
    session.set_transport(Transport::Header);
    let token = manager
        .commit_token(&session)
        .await?
        .ok_or(Error::Internal("a login saved nothing"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::json!({ "token": token }).to_string(),
    )
        .into_response())
}

/// `GET /api/me`: `{"userId": "1"}` for a logged-in token, 401 otherwise.
pub(crate) async fn api_me(session: Session) -> Result<Response, Error> {
    let Some(user_id) = session.get::<u32>("userId")? else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":"not logged in"}"#,
        )
            .into_response());
    };
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "userId": user_id.to_string() }).to_string(),
    )
        .into_response())
}
