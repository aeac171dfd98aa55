//! The demo's pages and messages, shared by the axum and actix-web apps so that both
//! answer byte for byte alike.

use crate::escape_html;

/// The flash after a failed login.
pub(crate) const INVALID_LOGIN: &str = "Invalid username or password";
/// The flash when the guard turns a visitor away.
pub(crate) const PLEASE_LOG_IN: &str = "Please log in to continue";
/// The flash after a post.
pub(crate) const POST_CREATED: &str = "Post created successfully!";

/// The counter's answer.
pub(crate) fn count(count: u64) -> String {
    format!("Count: {count}")
}

/// The login form, with a flashed error above it.
pub(crate) fn login(error: Option<&str>) -> String {
    let error = error
        .map(|error| format!(r#"<div class="error">{}</div>"#, escape_html(error)))
        .unwrap_or_default();
    format!(
        r#"<html>
<body>
<h1>Login</h1>
{error}
<form method="POST" action="/login">
<input type="text" name="username" placeholder="Username" />
<input type="password" name="password" placeholder="Password" />
<label><input type="checkbox" name="remember" /> Remember me</label>
<button type="submit">Login</button>
</form>
</body>
</html>
"#
    )
}

/// The guarded dashboard.
pub(crate) fn dashboard(user_id: u32) -> String {
    format!("<h1>Dashboard for user {user_id}</h1>")
}

/// The guarded profile.
pub(crate) fn profile(user_id: u32) -> String {
    format!("<h1>Profile for user {user_id}</h1>")
}

/// The posts page, with a flashed success message.
pub(crate) fn posts(success: Option<&str>) -> String {
    let success = success
        .map(|message| format!(r#"<div class="success">{}</div>"#, escape_html(message)))
        .unwrap_or_default();
    format!("<html>\n<body>\n{success}\n<h1>Posts</h1>\n</body>\n</html>\n")
}
