//! The no-session baseline for scripts/bench: the demo's benchmarked routes with the same
//! bodies, on axum, without any session layer.
//!
//! Usage: baseline PORT [layered]

use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args()
        .nth(1)
        .ok_or("usage: baseline PORT")?
        .parse()?;
    let app = Router::new()
        .route("/", get(|| async { "Count: 1" }))
        .route(
            "/dashboard",
            get(|| async { axum::response::Html("<h1>Dashboard for user 1</h1>") }),
        )
        .route("/hits", get(|| async { "Hits: 1" }))
        .route("/untouched", get(|| async { "ok" }));
    // `layered`: the same routes behind a layer that does nothing, to show what any
    // tower layer costs an axum app (axum boxes the layered routes and their bodies).
    let app = match std::env::args().nth(2).as_deref() {
        None => app,
        Some("layered") => app.layer(tower::layer::util::Identity::new()),
        Some(other) => return Err(format!("unknown variant {other}: only `layered`").into()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
