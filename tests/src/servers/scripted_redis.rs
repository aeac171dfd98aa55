//! A scripted stand-in for Redis that misbehaves on purpose, for the protocol anomalies
//! no real server produces on demand: garbage, a truncated reply, an absurd length, a
//! reply to a command never sent, two replies swapped, a reply of the wrong type.
//!
//! It speaks just enough RESP2 to serve the Redis store (the connection set-up,
//! `GET`, `GETEX`, `SET … NX|XX PX`, `DEL`, `PING`, `ECHO`, `MULTI`/`EXEC`) over a real
//! key/value map, so a request that meets no anomaly gets a correct answer. Behaviour
//! tests use a real Redis; this is only for what a real one never does.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

mod answers;

use answers::{parse_command, NotRespCommand, Session};

/// What goes wrong at the command that triggers an [`Anomaly`].
#[derive(Clone, Debug)]
pub enum Fault {
    /// These bytes go out as soon as the connection is accepted, before the client
    /// has sent anything (the anomaly's command is ignored).
    OnAccept(Vec<u8>),
    /// These bytes go out instead of the reply; the connection carries on.
    Replace(Vec<u8>),
    /// These bytes go out instead of the reply, then the connection is closed.
    ReplaceThenClose(Vec<u8>),
    /// These bytes go out instead of the reply, then nothing more (the connection
    /// stays open).
    ReplaceThenHang(Vec<u8>),
    /// These bytes (a reply to a command never sent) go out before the reply.
    Before(Vec<u8>),
    /// These bytes go out after the reply.
    After(Vec<u8>),
    /// The reply is held back and sent after the next command's.
    SwapWithNext,
}

/// A fault, and where it strikes: the first command named `command` on the
/// `connection`-th connection the server accepts (counting from 1).
#[derive(Clone, Debug)]
pub struct Anomaly {
    connection: usize,
    command: &'static str,
    fault: Fault,
}

impl Anomaly {
    /// `fault` at the first `command` (a name such as `"GET"`, any case) of the
    /// `connection`-th connection.
    pub fn at(connection: usize, command: &'static str, fault: Fault) -> Self {
        Self {
            connection,
            command,
            fault,
        }
    }
}

type Map = Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>>;

/// What every connection shares: the data, and the names of the commands received.
#[derive(Clone, Default)]
struct Shared {
    data: Map,
    received: Arc<Mutex<Vec<String>>>,
}

/// The scripted server: listening on a free loopback port from [`start`](Self::start)
/// until dropped.
pub struct ScriptedRedis {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    shared: Shared,
    _tasks: JoinSet<()>,
}

impl ScriptedRedis {
    /// Starts a server that applies `anomalies` (each once) and otherwise answers
    /// like Redis.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or when no loopback port can be had.
    pub fn start(anomalies: Vec<Anomaly>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("bound");
        let listener = TcpListener::from_std(listener).expect("inside a tokio runtime");
        let accepted = Arc::new(AtomicUsize::new(0));
        let shared = Shared::default();
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(
            listener,
            anomalies,
            accepted.clone(),
            shared.clone(),
        ));
        Self {
            address,
            accepted,
            shared,
            _tasks: tasks,
        }
    }

    /// The URL to give the store.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.address)
    }

    /// How many connections the server has accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Stores `value` under `key`, as a `SET` would.
    pub fn insert(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.shared
            .data
            .lock()
            .expect("not poisoned")
            .insert(key.into(), value.into());
    }

    /// The value under `key`, if any.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.shared
            .data
            .lock()
            .expect("not poisoned")
            .get(key.as_bytes())
            .cloned()
    }

    /// How many commands named `command` (any case) the server has received, on every
    /// connection.
    pub fn received(&self, command: &str) -> usize {
        let received = self.shared.received.lock().expect("not poisoned");
        received
            .iter()
            .filter(|name| name.eq_ignore_ascii_case(command))
            .count()
    }
}

/// `value` as a RESP bulk string reply, to put in a [`Fault`].
pub fn bulk(value: &[u8]) -> Vec<u8> {
    let mut reply = format!("${}\r\n", value.len()).into_bytes();
    reply.extend_from_slice(value);
    reply.extend_from_slice(b"\r\n");
    reply
}

async fn accept_loop(
    listener: TcpListener,
    anomalies: Vec<Anomaly>,
    accepted: Arc<AtomicUsize>,
    shared: Shared,
) {
    // The connections' tasks end with this one: dropping the server stops everything.
    let mut connections = JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        let number = accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let faults = anomalies
            .iter()
            .filter(|anomaly| anomaly.connection == number)
            .cloned()
            .collect();
        connections.spawn(serve(stream, faults, shared.clone()));
        // Reap finished connections so the set does not grow with every test dial.
        while connections.try_join_next().is_some() {}
    }
}

/// What to do after a reply has gone out.
enum Then {
    Continue,
    Close,
    Hang,
}

async fn serve(mut stream: TcpStream, mut faults: Vec<Anomaly>, shared: Shared) {
    if let Some(index) = faults
        .iter()
        .position(|anomaly| matches!(anomaly.fault, Fault::OnAccept(_)))
    {
        if let Fault::OnAccept(bytes) = faults.remove(index).fault {
            if stream.write_all(&bytes).await.is_err() {
                return;
            }
        }
    }
    let mut session = Session::default();
    let mut input = Vec::new();
    let mut held: Option<Vec<u8>> = None;
    let mut chunk = [0; 16 * 1024];
    loop {
        let mut output = Vec::new();
        let mut then = Then::Continue;
        // Anything but a RESP command is the client's bug: hang up on it.
        while let Some((command, used)) = match parse_command(&input) {
            Ok(parsed) => parsed,
            Err(NotRespCommand) => return,
        } {
            input.drain(..used);
            let reply = session.answer(&command, &shared.data);
            let name = command.first().map(|name| name.to_ascii_uppercase());
            if let Some(name) = &name {
                let name = String::from_utf8_lossy(name).into_owned();
                shared.received.lock().expect("not poisoned").push(name);
            }
            let fault = faults
                .iter()
                .position(|anomaly| {
                    name.as_deref() == Some(anomaly.command.to_ascii_uppercase().as_bytes())
                })
                .map(|index| faults.remove(index).fault);
            let next_held = match fault {
                None | Some(Fault::OnAccept(_)) => {
                    output.extend_from_slice(&reply);
                    None
                }
                Some(Fault::Replace(bytes)) => {
                    output.extend_from_slice(&bytes);
                    None
                }
                Some(Fault::ReplaceThenClose(bytes)) => {
                    output.extend_from_slice(&bytes);
                    then = Then::Close;
                    None
                }
                Some(Fault::ReplaceThenHang(bytes)) => {
                    output.extend_from_slice(&bytes);
                    then = Then::Hang;
                    None
                }
                Some(Fault::Before(bytes)) => {
                    output.extend_from_slice(&bytes);
                    output.extend_from_slice(&reply);
                    None
                }
                Some(Fault::After(bytes)) => {
                    output.extend_from_slice(&reply);
                    output.extend_from_slice(&bytes);
                    None
                }
                Some(Fault::SwapWithNext) => Some(reply),
            };
            // A held reply follows the first reply after it.
            if let Some(reply) = held.take() {
                output.extend_from_slice(&reply);
            }
            held = next_held;
            if !matches!(then, Then::Continue) {
                break;
            }
        }
        if !output.is_empty() && stream.write_all(&output).await.is_err() {
            return;
        }
        match then {
            Then::Continue => {}
            Then::Close => return,
            Then::Hang => return std::future::pending().await,
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => input.extend_from_slice(&chunk[..read]),
        }
    }
}
