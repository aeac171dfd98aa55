//! Resident memory per live session in the memory store.
//!
//! Usage: memory_per_session store|data [N]
//!
//! `store` creates N small sessions (`{"count": 1}`, with a deadline and a creation time)
//! in a `MemoryStore`; `data` keeps the same N records in a plain `Vec`, which is what the
//! data alone costs. Each prints the RSS growth per session; the difference is the
//! store's own overhead. Separate processes, because freed memory is not always returned
//! to the OS.

use std::time::{Duration, SystemTime};

use session_core::{SessionId, SessionStorage, StoredSession};
use session_memory_store::MemoryStore;

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

fn record() -> StoredSession {
    let mut record = StoredSession {
        expires: Some(SystemTime::now() + Duration::from_secs(3600)),
        created: Some(SystemTime::now()),
        ..StoredSession::default()
    };
    record.data.values.insert("count".into(), 1.into());
    record
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "store".into());
    let n: usize = std::env::args()
        .nth(2)
        .map_or(Ok(1_000_000), |a| a.parse())?;
    let ids: Vec<SessionId> = (0..n)
        .map(|_| SessionId::generate())
        .collect::<Result<_, _>>()?;
    let template = record();
    let before = rss_bytes();
    let kept: Box<dyn std::any::Any> = match mode.as_str() {
        "store" => {
            // Room for all n: the default cap (100 000) would evict most of them.
            let store = MemoryStore::builder()
                .sweep_interval(Duration::from_secs(3600))
                .max_sessions(n)
                .build();
            for id in &ids {
                store.create(id, &template).await?;
            }
            Box::new(store)
        }
        "data" => Box::new((0..n).map(|_| template.clone()).collect::<Vec<_>>()),
        other => return Err(format!("unknown mode {other}: use store or data").into()),
    };
    let grown = rss_bytes().saturating_sub(before);
    println!(
        "{mode}: {n} sessions, {:.0} bytes each",
        grown as f64 / n as f64
    );
    drop(kept);
    Ok(())
}
