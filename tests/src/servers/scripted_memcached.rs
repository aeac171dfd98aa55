//! A scripted memcached: just enough of the meta protocol (`mn`, `mg`, `ms`, `md`) to
//! answer like memcached, or to misbehave on purpose in ways no real server does on
//! demand (replies out of order, a wrong opaque token, a truncated reply, garbage, a
//! reply to no command, an absurd value length, silence).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// How one connection behaves, from its first byte. Misbehaviours other than
/// [`Silent`](Self::Silent) and [`Unsolicited`](Self::Unsolicited) answer the `mn`
/// no-op honestly and misbehave on the first other command; the connection is honest
/// after that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemcachedBehaviour {
    /// Answers every command as memcached does.
    Honest,
    /// Reads everything and answers nothing, not even `mn` (frozen before the client
    /// connected).
    Silent,
    /// Answers `mn`, then reads everything and answers nothing (frozen later).
    Freeze,
    /// Waits for two commands and answers them in the reverse order.
    SwapReplies,
    /// Echoes an opaque token one more than the command's.
    WrongOpaque,
    /// Echoes no opaque token.
    NoOpaque,
    /// Answers the first command, then answers the second with the first one's reply
    /// again before its own: a reply to a command that was not sent.
    ExtraReply,
    /// Holds back the reply to the first command until a second command arrives, then
    /// sends it in front of the second one's: a reply that comes after its request
    /// timed out.
    LateReply,
    /// Sends the first half of the reply, then closes the connection.
    TruncateAndClose,
    /// Answers with bytes that are not a reply.
    Garbage,
    /// Sends a reply as soon as the connection is accepted, before any command.
    Unsolicited,
    /// Answers with `VA <length>` and streams that many bytes (at most
    /// [`ScriptedMemcached::STREAM_CAP`], then it stops sending and keeps the connection open).
    ClaimLength(u64),
}

/// A scripted server on a free loopback port, stopped on drop.
pub struct ScriptedMemcached {
    address: SocketAddr,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct State {
    /// The behaviours of the next connections, in accept order; honest after them.
    script: Mutex<VecDeque<MemcachedBehaviour>>,
    values: Mutex<HashMap<String, Vec<u8>>>,
    accepted: AtomicUsize,
    /// Connections on which the client closed its side.
    closed_by_client: AtomicUsize,
    /// Value bytes [`MemcachedBehaviour::ClaimLength`] got onto the wire.
    streamed: AtomicU64,
    /// Every accepted stream, to unblock its thread on drop.
    streams: Mutex<Vec<TcpStream>>,
    stopping: AtomicBool,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ScriptedMemcached {
    /// The most bytes [`MemcachedBehaviour::ClaimLength`] sends.
    pub const STREAM_CAP: u64 = 256 << 20;

    /// Starts a server whose first connections behave as `script` says, in order.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn start(script: impl IntoIterator<Item = MemcachedBehaviour>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let address = listener.local_addr().expect("bound");
        let state = Arc::new(State {
            script: Mutex::new(script.into_iter().collect()),
            ..State::default()
        });
        let acceptor = std::thread::spawn({
            let state = state.clone();
            move || accept_loop(&listener, &state)
        });
        Self {
            address,
            state,
            acceptor: Some(acceptor),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Stores `value` under `key`, as if a client had set it.
    pub fn seed(&self, key: &str, value: &[u8]) {
        lock(&self.state.values).insert(key.to_owned(), value.to_vec());
    }

    /// The value under `key`, if any.
    pub fn value(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.state.values).get(key).cloned()
    }

    /// How many connections were accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// How many connections the client has closed so far.
    pub fn closed_by_client(&self) -> usize {
        self.state.closed_by_client.load(Ordering::SeqCst)
    }

    /// How many value bytes [`MemcachedBehaviour::ClaimLength`] managed to send.
    pub fn streamed(&self) -> u64 {
        self.state.streamed.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptedMemcached {
    fn drop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        // Wakes the acceptor, which then sees `stopping`.
        let _ = TcpStream::connect(self.address);
        for stream in lock(&self.state.streams).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>) {
    for stream in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        state.accepted.fetch_add(1, Ordering::SeqCst);
        let behaviour = lock(&state.script)
            .pop_front()
            .unwrap_or(MemcachedBehaviour::Honest);
        if let Ok(clone) = stream.try_clone() {
            lock(&state.streams).push(clone);
        }
        let state = state.clone();
        std::thread::spawn(move || {
            let _ = serve(stream, behaviour, &state);
        });
    }
}

/// One command as read off the wire.
struct Request {
    verb: String,
    key: String,
    flags: Vec<String>,
    data: Vec<u8>,
}

impl Request {
    fn opaque(&self) -> Option<&str> {
        self.flags.iter().find_map(|flag| flag.strip_prefix('O'))
    }
}

/// Reads one command; `None` at the end of the stream.
fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut words = line.split_whitespace().map(str::to_owned);
    let verb = words.next().unwrap_or_default();
    let key = if verb == "mn" {
        String::new()
    } else {
        words.next().unwrap_or_default()
    };
    let mut flags: Vec<String> = words.collect();
    let mut data = Vec::new();
    if verb == "ms" && !flags.is_empty() {
        let length: usize = flags.remove(0).parse().unwrap_or(0);
        data = vec![0; length + 2];
        reader.read_exact(&mut data)?;
        data.truncate(length);
    }
    Ok(Some(Request {
        verb,
        key,
        flags,
        data,
    }))
}

/// The reply memcached would send, with the opaque token `opaque` (if any).
fn honest_reply(state: &State, request: &Request, opaque: Option<&str>) -> Vec<u8> {
    let tag = opaque.map(|token| format!(" O{token}")).unwrap_or_default();
    let mut values = lock(&state.values);
    let line = |code: &str| format!("{code}{tag}\r\n").into_bytes();
    match request.verb.as_str() {
        "mn" => b"MN\r\n".to_vec(),
        "mg" => match values.get(&request.key) {
            Some(value) => {
                let mut reply = format!("VA {}{tag}\r\n", value.len()).into_bytes();
                reply.extend_from_slice(value);
                reply.extend_from_slice(b"\r\n");
                reply
            }
            None => line("EN"),
        },
        "ms" => {
            let exists = values.contains_key(&request.key);
            let stored = if request.flags.iter().any(|flag| flag == "ME") {
                !exists
            } else if request.flags.iter().any(|flag| flag == "MR") {
                exists
            } else {
                true
            };
            if stored {
                values.insert(request.key.clone(), request.data.clone());
                line("HD")
            } else {
                line("NS")
            }
        }
        "md" => match values.remove(&request.key) {
            Some(_) => line("HD"),
            None => line("NF"),
        },
        _ => b"ERROR\r\n".to_vec(),
    }
}

fn serve(stream: TcpStream, behaviour: MemcachedBehaviour, state: &State) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut behaviour = behaviour;
    if behaviour == MemcachedBehaviour::Unsolicited {
        writer.write_all(b"HD O0\r\n")?;
        behaviour = MemcachedBehaviour::Honest;
    }
    loop {
        let Some(request) = read_request(&mut reader)? else {
            state.closed_by_client.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        };
        let honest = |request: &Request| honest_reply(state, request, request.opaque());
        let misbehave = behaviour != MemcachedBehaviour::Honest
            && (request.verb != "mn" || behaviour == MemcachedBehaviour::Silent);
        if !misbehave {
            writer.write_all(&honest(&request))?;
            continue;
        }
        match behaviour {
            MemcachedBehaviour::Honest => unreachable!("handled above"),
            // Keep reading (to see the client close), never answer.
            MemcachedBehaviour::Silent | MemcachedBehaviour::Freeze => continue,
            MemcachedBehaviour::SwapReplies => {
                let Some(second) = read_request(&mut reader)? else {
                    state.closed_by_client.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                };
                let mut both = honest(&second);
                both.extend(honest(&request));
                writer.write_all(&both)?;
            }
            MemcachedBehaviour::WrongOpaque => {
                let wrong = request
                    .opaque()
                    .and_then(|token| token.parse::<u64>().ok())
                    .map_or(1, |token| token.wrapping_add(1))
                    .to_string();
                writer.write_all(&honest_reply(state, &request, Some(&wrong)))?;
            }
            MemcachedBehaviour::NoOpaque => {
                writer.write_all(&honest_reply(state, &request, None))?
            }
            MemcachedBehaviour::ExtraReply => {
                let first = honest(&request);
                writer.write_all(&first)?;
                let Some(second) = read_request(&mut reader)? else {
                    state.closed_by_client.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                };
                writer.write_all(&[first, honest(&second)].concat())?;
            }
            MemcachedBehaviour::LateReply => {
                let late = honest(&request);
                let Some(second) = read_request(&mut reader)? else {
                    state.closed_by_client.fetch_add(1, Ordering::SeqCst);
                    return Ok(());
                };
                writer.write_all(&[late, honest(&second)].concat())?;
            }
            MemcachedBehaviour::TruncateAndClose => {
                let mut reply = honest(&request);
                if !reply.starts_with(b"VA") {
                    reply = format!("VA 100{}\r\n", tag(&request)).into_bytes();
                    reply.extend_from_slice(&[b'x'; 50]);
                }
                writer.write_all(&reply[..reply.len() / 2])?;
                writer.shutdown(Shutdown::Both)?;
                return Ok(());
            }
            MemcachedBehaviour::Garbage => {
                writer.write_all(b"\x00\x01\xfe not a reply \xff\r\n")?
            }
            MemcachedBehaviour::ClaimLength(length) => {
                writer.write_all(format!("VA {length}{}\r\n", tag(&request)).as_bytes())?;
                stream_value(&mut writer, length, state)?;
            }
            MemcachedBehaviour::Unsolicited => unreachable!("turned honest once sent"),
        }
        behaviour = MemcachedBehaviour::Honest;
    }
}

fn tag(request: &Request) -> String {
    request
        .opaque()
        .map(|token| format!(" O{token}"))
        .unwrap_or_default()
}

/// Sends `length` value bytes (at most [`ScriptedMemcached::STREAM_CAP`]) and the CRLF after them if they
/// all went, counting what got onto the wire.
fn stream_value(writer: &mut TcpStream, length: u64, state: &State) -> std::io::Result<()> {
    let chunk = [b'x'; 64 * 1024];
    let mut left = length.min(ScriptedMemcached::STREAM_CAP);
    while left > 0 {
        let size = usize::try_from(left.min(chunk.len() as u64)).expect("at most a chunk");
        writer.write_all(&chunk[..size])?;
        state.streamed.fetch_add(size as u64, Ordering::SeqCst);
        left -= size as u64;
    }
    if length <= ScriptedMemcached::STREAM_CAP {
        writer.write_all(b"\r\n")?;
    }
    Ok(())
}
