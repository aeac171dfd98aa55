//! Criterion micro-benchmarks of the hot path: cookie signing and verification in each
//! format, record encoding, `Session` operations, the layer's own overhead over a bare
//! service, the merge path (what a save of a loaded session costs a merging store,
//! against a whole-record update), and the memory store under contention.
//!
//! Run: `cd bench && cargo bench --bench micro` (reports in bench/target/criterion).

use std::sync::Arc;
use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use http::{header, Request, Response};
use session_core::{
    Session, SessionChanges, SessionId, SessionStorage, StoredSession, ValueChange,
};
use session_memory_store::MemoryStore;
use session_middleware::{session, CookieStore, SessionBody, SessionCookie, SigningFormat};
use tower::{service_fn, Layer, Service, ServiceExt};

const SECRET: &str = "a benchmark secret that is at least thirty-two bytes";

fn cookie(format: SigningFormat) -> SessionCookie {
    SessionCookie::builder("__session")
        .secret(SECRET)
        .format(format)
        .build()
        .expect("valid cookie")
}

fn signing(c: &mut Criterion) {
    let payload = r#"{"i":"f81d4fae-7dec-11d0-a765-00a0c91e6bf6","d":[{"count":3},{}]}"#;
    for (name, format) in [
        ("name-bound", SigningFormat::NameBound),
        ("remix", SigningFormat::Remix),
        ("private", SigningFormat::Private),
    ] {
        let cookie = cookie(format);
        let signed = cookie.sign(payload).expect("sign");
        c.bench_function(&format!("sign/{name}"), |b| {
            b.iter(|| cookie.sign(black_box(payload)))
        });
        c.bench_function(&format!("verify/{name}"), |b| {
            b.iter(|| cookie.verify(black_box(&signed)))
        });
    }
    // Signing plus rendering the whole `Set-Cookie` header.
    let cookie = cookie(SigningFormat::NameBound);
    c.bench_function("set-cookie/name-bound", |b| {
        b.iter(|| cookie.set_cookie(black_box(payload)))
    });
}

fn encoding(c: &mut Criterion) {
    let mut record = StoredSession::default();
    record.data.values.insert("count".into(), 3.into());
    record
        .data
        .values
        .insert("user".into(), serde_json::json!({"id": 7, "name": "Zoë"}));
    let text = record.to_json().expect("json");
    c.bench_function("record/encode", |b| b.iter(|| black_box(&record).to_json()));
    c.bench_function("record/decode", |b| {
        b.iter(|| StoredSession::from_json(black_box(&text)))
    });
}

fn session_ops(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let session = Session::detached().expect("session");
    runtime.block_on(session.load()).expect("load");
    session.set("count", 1u64).expect("set");
    c.bench_function("session/get", |b| {
        b.iter(|| session.get::<u64>(black_box("count")))
    });
    c.bench_function("session/set", |b| {
        b.iter(|| session.set(black_box("count"), black_box(2u64)))
    });
    c.bench_function("session/flash", |b| {
        b.iter(|| session.flash(black_box("notice"), black_box("saved")))
    });
}

/// One request through the layer (memory storage, counter handler, live cookie) against
/// the same handler without the layer.
fn middleware(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let bare = service_fn(|_: Request<String>| async {
        Ok::<_, std::convert::Infallible>(Response::new("Count: 1".to_owned()))
    });
    let counter = service_fn(|request: Request<String>| async move {
        let session = request
            .extensions()
            .get::<Session>()
            .cloned()
            .expect("layer");
        session.load().await.expect("load");
        let count = session.get::<u64>("count").expect("get").unwrap_or(0) + 1;
        session.set("count", count).expect("set");
        Ok::<_, std::convert::Infallible>(Response::new(format!("Count: {count}")))
    });
    let read_only = service_fn(|request: Request<String>| async move {
        let session = request
            .extensions()
            .get::<Session>()
            .cloned()
            .expect("layer");
        session.load().await.expect("load");
        let count = session.get::<u64>("count").expect("get").unwrap_or(0);
        Ok::<_, std::convert::Infallible>(Response::new(format!("Count: {count}")))
    });
    let untouched = service_fn(|_: Request<String>| async {
        Ok::<_, std::convert::Infallible>(Response::new("untouched".to_owned()))
    });
    let memory = MemoryStore::new();
    let layer = |storage: &MemoryStore| {
        runtime.block_on(async {
            session(cookie(SigningFormat::NameBound), storage.clone()).expect("layer")
        })
    };
    let counter_memory = layer(&memory).layer(counter);
    let read_only_memory = layer(&memory).layer(read_only);
    let untouched_memory = layer(&memory).layer(untouched);
    let counter_cookie = runtime.block_on(async {
        session(cookie(SigningFormat::NameBound), CookieStore::new())
            .expect("layer")
            .layer(counter)
    });
    // A live session cookie from each storage's first response.
    let live = |response: Response<SessionBody<String>>| {
        let set_cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .expect("ascii");
        set_cookie.split(';').next().unwrap_or_default().to_owned()
    };
    let live_memory = live(
        runtime
            .block_on(counter_memory.clone().oneshot(Request::new(String::new())))
            .expect("infallible"),
    );
    let live_cookie = live(
        runtime
            .block_on(counter_cookie.clone().oneshot(Request::new(String::new())))
            .expect("infallible"),
    );
    let with_cookie = |cookie: &str| {
        Request::builder()
            .header(header::COOKIE, cookie)
            .body(String::new())
            .expect("request")
    };

    c.bench_function("request/bare", |b| {
        b.to_async(&runtime).iter_batched(
            || (bare, with_cookie(&live_memory)),
            |(mut service, request)| async move { service.call(request).await },
            BatchSize::SmallInput,
        )
    });
    let runtime = &runtime;
    bench_request(c, runtime, "memory-counter", &counter_memory, &live_memory);
    bench_request(
        c,
        runtime,
        "memory-read-only",
        &read_only_memory,
        &live_memory,
    );
    bench_request(
        c,
        runtime,
        "memory-untouched",
        &untouched_memory,
        &live_memory,
    );
    bench_request(c, runtime, "cookie-counter", &counter_cookie, &live_cookie);
}

/// One request with a live session `cookie` through `service` (a session layer).
fn bench_request<S>(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    service: &S,
    cookie: &str,
) where
    S: Service<Request<String>, Response = Response<SessionBody<String>>> + Clone,
    S::Error: std::fmt::Debug,
{
    c.bench_function(&format!("request/session-layer-{name}"), |b| {
        b.to_async(runtime).iter_batched(
            || {
                let request = Request::builder()
                    .header(header::COOKIE, cookie)
                    .body(String::new())
                    .expect("request");
                (service.clone(), request)
            },
            |(mut service, request)| async move { service.call(request).await.expect("served") },
            BatchSize::SmallInput,
        )
    });
}

/// A save of a loaded session with ten values, one of them changed: the whole-record
/// `update` a non-merging store does, against the `merge` the memory store does, and
/// the reference merge alone.
fn merging(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut record = StoredSession::default();
    for n in 0..10 {
        record
            .data
            .values
            .insert(format!("key{n}"), serde_json::json!({"n": n, "name": "Zoë"}));
    }
    let mut changes = SessionChanges::default();
    changes
        .values
        .insert("key3".into(), ValueChange::Set(serde_json::json!(3)));
    changes.values.insert("hits".into(), ValueChange::Increment(1));
    let store = MemoryStore::new();
    let id = SessionId::generate().expect("id");
    runtime
        .block_on(store.create(&id, &record))
        .expect("create");
    c.bench_function("memory-store/update-whole-record", |b| {
        b.iter(|| runtime.block_on(store.update(&id, black_box(&record))))
    });
    c.bench_function("memory-store/merge-two-keys", |b| {
        b.iter(|| runtime.block_on(store.merge(&id, &record, black_box(&changes))))
    });
    c.bench_function("changes/apply-to", |b| {
        b.iter_batched(
            || record.data.clone(),
            |mut data| changes.apply_to(&mut data),
            BatchSize::SmallInput,
        )
    });
    let session = Session::detached().expect("session");
    runtime.block_on(session.load()).expect("load");
    c.bench_function("session/increment", |b| {
        b.iter(|| session.increment(black_box("hits"), 1))
    });
}

/// Eight tasks reading and writing their own sessions in one memory store.
fn contention(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let store = Arc::new(runtime.block_on(async { MemoryStore::new() }));
    let ids: Vec<SessionId> = (0..8).map(|_| SessionId::generate().expect("id")).collect();
    let record = StoredSession::default();
    runtime.block_on(async {
        for id in &ids {
            store.create(id, &record).await.expect("create");
        }
    });
    c.bench_function("memory-store/8-tasks-read-update", |b| {
        b.to_async(&runtime).iter(|| {
            let (store, ids, record) = (store.clone(), ids.clone(), record.clone());
            async move {
                let mut tasks = tokio::task::JoinSet::new();
                for id in ids {
                    let (store, record) = (store.clone(), record.clone());
                    tasks.spawn(async move {
                        let _ = store.read(&id).await;
                        let _ = store.update(&id, &record).await;
                    });
                }
                while tasks.join_next().await.is_some() {}
            }
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    targets = signing, encoding, session_ops, middleware, merging, contention
}
criterion_main!(benches);
