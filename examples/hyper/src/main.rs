//! `cargo run -p session-example-hyper`: the hyper example on http://127.0.0.1:3001.

#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("SESSION_SECRET")
        .unwrap_or_else(|_| "a development secret of thirty-two bytes or more".to_owned());
    let layer = session_example_hyper::layer(&secret)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("listening on http://{}", listener.local_addr()?);
    session_example_hyper::serve(listener, layer).await?;
    Ok(())
}
