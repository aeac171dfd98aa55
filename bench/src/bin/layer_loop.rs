//! Runs N counter requests through the session layer (memory store, live cookie) in a
//! loop, for profilers: `valgrind --tool=callgrind bench/target/release/layer_loop`.
//!
//! Usage: layer_loop [N] [counter|read|untouched]

use http::{header, Request, Response};
use session_core::Session;
use session_memory_store::MemoryStore;
use session_middleware::{session, SessionCookie};
use tower::{service_fn, Layer, Service, ServiceExt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(20_000), |a| a.parse())?;
    let route = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "counter".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let cookie = SessionCookie::builder("__session")
        .secret("a benchmark secret that is at least thirty-two bytes")
        .build()?;
    let counter = service_fn(move |request: Request<String>| {
        let route = route.clone();
        async move {
            let session = request
                .extensions()
                .get::<Session>()
                .cloned()
                .ok_or("no layer")?;
            if route == "untouched" && request.headers().contains_key(header::COOKIE) {
                return Ok(Response::new("untouched".to_owned()));
            }
            session.load().await?;
            let mut count = session.get::<u64>("count")?.unwrap_or(0);
            if route == "counter" || count == 0 {
                count += 1;
                session.set("count", count)?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Response::new(format!(
                "Count: {count}"
            )))
        }
    });
    let layered = session(cookie, MemoryStore::new())?.layer(counter);
    runtime
        .block_on(async {
            let first = layered.clone().oneshot(Request::new(String::new())).await?;
            let live = first.headers()[header::SET_COOKIE]
                .to_str()?
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned();
            for _ in 0..n {
                let request = Request::builder()
                    .header(header::COOKIE, &live)
                    .body(String::new())?;
                layered.clone().call(request).await?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}
