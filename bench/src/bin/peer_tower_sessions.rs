//! tower-sessions on axum, with the demo's benchmarked routes, for scripts/bench.
//!
//! Usage: peer_tower_sessions memory|redis PORT [REDIS_URL]
//! (memory: tower-sessions 0.15 `MemoryStore`; redis: tower-sessions 0.14 with
//! tower-sessions-redis-store 0.16, the newest pair that fits together)

use axum::routing::{get, post};
use axum::Router;

/// The same three handlers for either tower-sessions version.
macro_rules! routes {
    ($ts:ident) => {{
        async fn counter(session: $ts::Session) -> String {
            let count = session
                .get::<u64>("count")
                .await
                .ok()
                .flatten()
                .unwrap_or(0)
                + 1;
            let _ = session.insert("count", count).await;
            format!("Count: {count}")
        }
        async fn dashboard(session: $ts::Session) -> axum::response::Html<String> {
            let user = session
                .get::<u32>("userId")
                .await
                .ok()
                .flatten()
                .unwrap_or(0);
            axum::response::Html(format!("<h1>Dashboard for user {user}</h1>"))
        }
        async fn login(session: $ts::Session) -> &'static str {
            let _ = session.cycle_id().await;
            let _ = session.insert("userId", 1u32).await;
            "ok"
        }
        Router::new()
            .route("/", get(counter))
            .route("/dashboard", get(dashboard))
            .route("/login", post(login))
            .route("/untouched", get(|| async { "ok" }))
    }};
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let storage = args
        .next()
        .ok_or("usage: peer_tower_sessions memory|redis PORT [REDIS_URL]")?;
    let port: u16 = args.next().ok_or("missing PORT")?.parse()?;
    let app = match storage.as_str() {
        "memory" => {
            let layer =
                tower_sessions::SessionManagerLayer::new(tower_sessions::MemoryStore::default())
                    .with_secure(false);
            routes!(tower_sessions).layer(layer)
        }
        "redis" => {
            use tower_sessions_redis_store::fred::prelude::*;
            let url = args.next().ok_or("missing REDIS_URL")?;
            let pool = Pool::new(Config::from_url(&url)?, None, None, None, 6)?;
            let _connection = pool.connect();
            pool.wait_for_connect().await?;
            let store = tower_sessions_redis_store::RedisStore::new(pool);
            let layer = tower_sessions_014::SessionManagerLayer::new(store).with_secure(false);
            routes!(tower_sessions_014).layer(layer)
        }
        other => return Err(format!("unknown storage {other}").into()),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
