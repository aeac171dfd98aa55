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

/// The client sent something that is not a RESP array of bulk strings.
#[derive(Debug)]
struct NotRespCommand;

/// One complete command (a RESP array of bulk strings) at the start of `input`, and
/// how many bytes it took; `None` until it has all arrived.
fn parse_command(input: &[u8]) -> Result<Option<(Vec<Vec<u8>>, usize)>, NotRespCommand> {
    let Some((count, mut at)) = number_line(input, b'*')? else {
        return Ok(None);
    };
    let mut command = Vec::new();
    for _ in 0..count {
        let Some((len, start)) = number_line(&input[at..], b'$')? else {
            return Ok(None);
        };
        let start = at + start;
        let end = start.checked_add(len).ok_or(NotRespCommand)?;
        if input.len() < end + 2 {
            return Ok(None);
        }
        command.push(input[start..end].to_vec());
        at = end + 2;
    }
    Ok(Some((command, at)))
}

/// The number after `kind` on the first line of `input`, and where the line ends;
/// `None` until the line is complete.
fn number_line(input: &[u8], kind: u8) -> Result<Option<(usize, usize)>, NotRespCommand> {
    match input.first() {
        None => return Ok(None),
        Some(first) if *first != kind => return Err(NotRespCommand),
        Some(_) => {}
    }
    let Some(end) = input.windows(2).position(|pair| pair == b"\r\n") else {
        return Ok(None);
    };
    let number = std::str::from_utf8(&input[1..end])
        .ok()
        .and_then(|line| line.parse().ok())
        .ok_or(NotRespCommand)?;
    Ok(Some((number, end + 2)))
}

/// A connection's state: whether a `MULTI` is open, and what it queued.
#[derive(Default)]
struct Session {
    queued: Option<Vec<Vec<Vec<u8>>>>,
}

impl Session {
    fn answer(&mut self, command: &[Vec<u8>], data: &Map) -> Vec<u8> {
        let name = command
            .first()
            .map(|name| name.to_ascii_uppercase())
            .unwrap_or_default();
        match (name.as_slice(), &mut self.queued) {
            (b"MULTI", None) => {
                self.queued = Some(Vec::new());
                b"+OK\r\n".to_vec()
            }
            (b"EXEC", Some(_)) => {
                let queued = self.queued.take().unwrap_or_default();
                let mut reply = format!("*{}\r\n", queued.len()).into_bytes();
                for command in queued {
                    reply.extend(execute(&command, data));
                }
                reply
            }
            (_, Some(queued)) => {
                queued.push(command.to_vec());
                b"+QUEUED\r\n".to_vec()
            }
            _ => execute(command, data),
        }
    }
}

fn execute(command: &[Vec<u8>], data: &Map) -> Vec<u8> {
    let name = command
        .first()
        .map(|name| name.to_ascii_uppercase())
        .unwrap_or_default();
    let args = &command[1.min(command.len())..];
    let mut data = data.lock().expect("not poisoned");
    match (name.as_slice(), args) {
        (b"PING", []) => b"+PONG\r\n".to_vec(),
        (b"PING" | b"ECHO", [message]) => bulk(message),
        (b"CLIENT" | b"AUTH" | b"SELECT", _) => b"+OK\r\n".to_vec(),
        (b"GET" | b"GETEX", [key, ..]) => match data.get(key) {
            Some(value) => bulk(value),
            None => b"$-1\r\n".to_vec(),
        },
        (b"SET", [key, value, options @ ..]) => {
            let has = |option: &[u8]| options.iter().any(|o| o.eq_ignore_ascii_case(option));
            let exists = data.contains_key(key);
            if (has(b"NX") && exists) || (has(b"XX") && !exists) {
                return b"$-1\r\n".to_vec();
            }
            data.insert(key.clone(), value.clone());
            b"+OK\r\n".to_vec()
        }
        (b"DEL", keys) => {
            let removed = keys
                .iter()
                .filter(|key| data.remove(*key).is_some())
                .count();
            format!(":{removed}\r\n").into_bytes()
        }
        _ => b"-ERR unknown command\r\n".to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_only_once_complete() {
        let set = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n*1\r\n$4\r\nPING\r\n";
        let (command, used) = parse_command(set).expect("RESP").expect("complete");
        assert_eq!(command, [b"SET".to_vec(), b"k".to_vec(), b"v1".to_vec()]);
        let (ping, _) = parse_command(&set[used..])
            .expect("RESP")
            .expect("complete");
        assert_eq!(ping, [b"PING".to_vec()]);
        assert!(parse_command(&set[..used - 1]).expect("RESP").is_none());
        assert!(parse_command(b"GET k\r\n").is_err());
    }

    #[test]
    fn answers_like_redis() {
        let data = Map::default();
        let mut session = Session::default();
        let mut run = |args: &[&str]| {
            let command: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
            String::from_utf8(session.answer(&command, &data)).expect("ASCII")
        };
        assert_eq!(run(&["SET", "k", "v", "NX", "PX", "10"]), "+OK\r\n");
        assert_eq!(run(&["SET", "k", "w", "NX"]), "$-1\r\n");
        assert_eq!(run(&["SET", "other", "w", "XX"]), "$-1\r\n");
        assert_eq!(run(&["GETEX", "k", "PX", "10"]), "$1\r\nv\r\n");
        assert_eq!(run(&["MULTI"]), "+OK\r\n");
        assert_eq!(run(&["DEL", "k"]), "+QUEUED\r\n");
        assert_eq!(run(&["SET", "n", "x", "NX"]), "+QUEUED\r\n");
        assert_eq!(run(&["EXEC"]), "*2\r\n:1\r\n+OK\r\n");
        assert_eq!(run(&["GET", "k"]), "$-1\r\n");
        assert_eq!(run(&["PING", "7"]), "$1\r\n7\r\n");
    }
}
