//! The five memcached meta commands sessions need, their replies, and the opaque tokens
//! that tie each reply to its command.
//!
//! The meta protocol (memcached 1.6+) answers every command with exactly one reply, in
//! order, which is what lets one connection carry many requests at once (see
//! `connection.rs`). Position alone would let a misbehaving server or proxy hand one
//! request another's value, so every command carries an opaque token (`O<n>`, a
//! per-connection counter) that memcached echoes, and a reply is taken only when it
//! carries its command's token. `SERVER_ERROR` lines carry no token (and no data): they
//! are matched by position.
//!
//! | operation | command | replies |
//! |---|---|---|
//! | read | `mg <key> v c O<n>` | `VA <len> c<cas> O<n>` + data, or `EN O<n>` (miss) |
//! | create | `ms <key> <len> T<exptime> ME O<n>` + data ([`SetMode::Create`]) | `HD O<n>`, or `NS O<n>` (exists) |
//! | update | `ms <key> <len> T<exptime> MR O<n>` + data ([`SetMode::Update`]) | `HD O<n>`, or `NS O<n>` (absent) |
//! | merge (compare-and-swap) | `ms <key> <len> T<exptime> C<cas> O<n>` + data | `HD O<n>`, `EX O<n>` (changed since read), or `NF O<n>` (absent) |
//! | delete | `md <key> O<n>` | `HD O<n>`, or `NF O<n>` (absent) |
//! | no-op, ending each dial | `mn` | `MN` |

use std::fmt;

/// A command to send. Keys are checked by the store (printable, no spaces, ≤ 250 bytes).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Command<'a> {
    Get(&'a str),
    /// Store `value` under `key`, on the condition `mode` sets.
    Set {
        key: &'a str,
        value: &'a str,
        exptime: i64,
        mode: SetMode,
    },
    /// Store `value` under `key` only if the item is still the one whose CAS value
    /// was `cas` (nobody wrote it since it was read).
    Swap {
        key: &'a str,
        value: &'a str,
        exptime: i64,
        cas: u64,
    },
    Delete(&'a str),
}

/// When a [`Command::Set`] stores, named after what it does to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetMode {
    /// Only if the key is absent: a new session never overwrites one (memcached's
    /// "add" mode, `ME`).
    Create,
    /// Only if the key is present: saving never resurrects a session deleted meanwhile
    /// (the mode memcached calls "replace", `MR`; our "replace" is a brand-new session
    /// taking a destroyed one's place).
    Update,
    /// Whether or not the key is there (`MS`): for the store's own bookkeeping keys (a
    /// user's revocation generation, its session index), never for a session.
    Overwrite,
}

impl SetMode {
    /// The `M` flag's value on the wire.
    fn flag(self) -> char {
        match self {
            Self::Create => 'E',
            Self::Update => 'R',
            Self::Overwrite => 'S',
        }
    }
}

impl Command<'_> {
    /// The command's bytes on the wire, tagged with the opaque token `token`.
    pub(crate) fn encode(&self, token: u64) -> Vec<u8> {
        use std::io::Write as _;
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        // Writing into a Vec cannot fail.
        let _ = match *self {
            Self::Get(key) => write!(out, "mg {key} v c O{token}\r\n"),
            Self::Set {
                key,
                value,
                exptime,
                mode,
            } => {
                let mode = mode.flag();
                let _ = write!(
                    out,
                    "ms {key} {} T{exptime} M{mode} O{token}\r\n",
                    value.len()
                );
                out.extend_from_slice(value.as_bytes());
                out.write_all(b"\r\n")
            }
            Self::Swap {
                key,
                value,
                exptime,
                cas,
            } => {
                let _ = write!(
                    out,
                    "ms {key} {} T{exptime} C{cas} O{token}\r\n",
                    value.len()
                );
                out.extend_from_slice(value.as_bytes());
                out.write_all(b"\r\n")
            }
            Self::Delete(key) => write!(out, "md {key} O{token}\r\n"),
        };
        out
    }

    fn encoded_len_hint(&self) -> usize {
        match self {
            Self::Get(key) | Self::Delete(key) => key.len() + 32,
            Self::Set { key, value, .. } | Self::Swap { key, value, .. } => {
                key.len() + value.len() + 96
            }
        }
    }

    /// What this command makes of `reply`; `None` when the reply does not belong to
    /// this kind of command (the connection is then out of step and must go).
    pub(crate) fn outcome(&self, reply: Reply) -> Option<Outcome> {
        match (self, reply) {
            (Self::Get(_), Reply::Value(item)) => Some(Outcome::Value(Some(item))),
            (Self::Get(_), Reply::Miss) => Some(Outcome::Value(None)),
            (Self::Set { .. }, Reply::Done) => Some(Outcome::Stored(true)),
            (Self::Set { .. }, Reply::NotStored) => Some(Outcome::Stored(false)),
            (Self::Swap { .. }, Reply::Done) => Some(Outcome::Swapped(Swap::Stored)),
            (Self::Swap { .. }, Reply::Exists) => Some(Outcome::Swapped(Swap::Changed)),
            // `NF` is memcached's answer to a swap of a missing item; `NS` is taken the
            // same way, as some proxies answer it: either way nothing was stored.
            (Self::Swap { .. }, Reply::NotFound | Reply::NotStored) => {
                Some(Outcome::Swapped(Swap::Gone))
            }
            // Deleting what is not there is success: the record is gone either way.
            (Self::Delete(_), Reply::Done) => Some(Outcome::Deleted(true)),
            (Self::Delete(_), Reply::NotFound) => Some(Outcome::Deleted(false)),
            (_, Reply::ServerError(message)) => Some(Outcome::ServerError(message)),
            _ => None,
        }
    }
}

/// What memcached adds to every item besides its key and value, in bytes: the item
/// header (48 on 64-bit builds), the CAS value (8), the key's terminating NUL and the
/// value's CRLF. An item of `key + value + ITEM_OVERHEAD` bytes must fit in the
/// server's `-I` (measured on 1.6: with `-I 1k` and a 78-byte key, 887 value bytes
/// fit and 888 do not).
pub(crate) const ITEM_OVERHEAD: usize = 59;

/// The longest value memcached stores under `key` when its item size limit is
/// `max_item` bytes.
pub(crate) fn largest_value(max_item: usize, key: &str) -> usize {
    max_item.saturating_sub(key.len() + ITEM_OVERHEAD)
}

/// True for the `SERVER_ERROR` memcached answers to a value over its item size limit
/// (after it has deleted the item stored under that key).
pub(crate) fn is_too_large(message: &str) -> bool {
    message.contains("object too large")
}

/// What a command came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `Get`: the item, if any.
    Value(Option<Item>),
    /// `Set`: whether it was stored (`false`: the mode's condition did not hold).
    Stored(bool),
    /// `Swap`: what became of it.
    Swapped(Swap),
    /// `Delete`: done; whether the key was there (`HD`) or not (`NF`), which a move
    /// to a new ID needs to know.
    Deleted(bool),
    /// The server refused this one command (say, a value over its item size limit);
    /// the connection is fine.
    ServerError(String),
}

/// A stored item as a read returns it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) data: Vec<u8>,
    /// Its CAS value, which changes on every write (`None` if the server sent none).
    pub(crate) cas: Option<u64>,
}

/// What became of a [`Command::Swap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Swap {
    /// Stored.
    Stored,
    /// Another write changed the item since it was read: nothing was stored.
    Changed,
    /// No such item (deleted or expired meanwhile): nothing was stored.
    Gone,
}

/// One reply, as read off the wire.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `VA`: a value.
    Value(Item),
    /// `EN`: no such key.
    Miss,
    /// `HD`: done.
    Done,
    /// `NS`: not stored (the set mode's condition did not hold).
    NotStored,
    /// `EX`: not stored, the CAS value did not match.
    Exists,
    /// `NF`: not found.
    NotFound,
    /// `MN`: the answer to the no-op.
    NoOp,
    /// `SERVER_ERROR …`: this command failed on the server.
    ServerError(String),
}

/// A reply and the opaque token it echoed, if any.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Tagged {
    pub(crate) reply: Reply,
    pub(crate) opaque: Option<u64>,
}

impl Tagged {
    /// True when this is the reply to the command tagged `token`.
    pub(crate) fn answers(&self, token: u64) -> bool {
        match self.opaque {
            Some(opaque) => opaque == token,
            // Memcached tags every meta reply but its errors.
            None => matches!(self.reply, Reply::ServerError(_)),
        }
    }
}

/// The stream holds something that is not a meta reply we can take: the connection
/// must go. The message says what, and never quotes a key or data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProtocolError(pub(crate) String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected reply from memcached: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// The longest reply line we accept before the data: anything longer is not memcached.
const MAX_LINE: usize = 1024;

/// Parses the first complete reply in `buffer`: the reply and how many bytes it took,
/// or `None` when more bytes are needed. A value longer than `max_value` is an error
/// as soon as its header is read: it is never buffered.
pub(crate) fn parse(
    buffer: &[u8],
    max_value: usize,
) -> Result<Option<(Tagged, usize)>, ProtocolError> {
    let window = &buffer[..buffer.len().min(MAX_LINE + 2)];
    let Some(end) = window.windows(2).position(|pair| pair == b"\r\n") else {
        if buffer.len() > MAX_LINE {
            return Err(ProtocolError("a reply line that never ends".to_owned()));
        }
        return Ok(None);
    };
    let line = &buffer[..end];
    let after_line = end + 2;
    let mut words = line.split(|&b| b == b' ').filter(|word| !word.is_empty());
    let code = words.next().unwrap_or_default();
    let reply = match code {
        b"EN" => Reply::Miss,
        b"HD" => Reply::Done,
        b"NS" => Reply::NotStored,
        b"EX" => Reply::Exists,
        b"NF" => Reply::NotFound,
        b"MN" => Reply::NoOp,
        b"VA" => {
            let length = words
                .next()
                .and_then(|digits| std::str::from_utf8(digits).ok())
                .and_then(|digits| digits.parse::<u64>().ok())
                .ok_or_else(|| ProtocolError("a value reply without a length".to_owned()))?;
            let length = usize::try_from(length)
                .ok()
                .filter(|length| *length <= max_value)
                .ok_or_else(|| {
                    ProtocolError(format!(
                        "a value of {length} bytes, over the maximum record size \
                         ({max_value} bytes); raise `max_record_size` if the server holds \
                         records that large"
                    ))
                })?;
            let flags: Vec<&[u8]> = words.collect();
            let opaque = opaque(flags.iter().copied())?;
            let cas = cas(flags.iter().copied())?;
            // `length <= max_value`, which is at most memory we agreed to hold.
            let data_end = after_line.saturating_add(length);
            if buffer.len() < data_end.saturating_add(2) {
                return Ok(None);
            }
            if &buffer[data_end..data_end + 2] != b"\r\n" {
                return Err(ProtocolError("a value not followed by CRLF".to_owned()));
            }
            let reply = Reply::Value(Item {
                data: buffer[after_line..data_end].to_vec(),
                cas,
            });
            return Ok(Some((Tagged { reply, opaque }, data_end + 2)));
        }
        b"SERVER_ERROR" => {
            let reply = Reply::ServerError(printable(line));
            return Ok(Some((
                Tagged {
                    reply,
                    opaque: None,
                },
                after_line,
            )));
        }
        // CLIENT_ERROR, ERROR, or anything else: we sent something the server did not
        // understand, or this is not memcached. Either way the stream cannot be trusted.
        _ => return Err(ProtocolError(format!("a {:?} line", first_word(code)))),
    };
    let opaque = opaque(words)?;
    Ok(Some((Tagged { reply, opaque }, after_line)))
}

/// The opaque token among a reply's flags, if there is one.
fn opaque<'a>(flags: impl Iterator<Item = &'a [u8]>) -> Result<Option<u64>, ProtocolError> {
    let mut tokens = flags.filter_map(|flag| flag.strip_prefix(b"O"));
    let Some(token) = tokens.next() else {
        return Ok(None);
    };
    let token = std::str::from_utf8(token)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| ProtocolError("an opaque token we never send".to_owned()))?;
    if tokens.next().is_some() {
        return Err(ProtocolError("a reply with two opaque tokens".to_owned()));
    }
    Ok(Some(token))
}

/// The CAS value among a value reply's flags (`c<n>`), if there is one.
fn cas<'a>(flags: impl Iterator<Item = &'a [u8]>) -> Result<Option<u64>, ProtocolError> {
    let mut values = flags.filter_map(|flag| flag.strip_prefix(b"c"));
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let value = std::str::from_utf8(value)
        .ok()
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| ProtocolError("a CAS value that is not a number".to_owned()))?;
    if values.next().is_some() {
        return Err(ProtocolError("a reply with two CAS values".to_owned()));
    }
    Ok(Some(value))
}

/// A line's first word, cut short: enough to tell what it is, without quoting what
/// follows (out of step, that may be a key or a session's data).
fn first_word(word: &[u8]) -> String {
    printable(&word[..word.len().min(32)])
}

fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned()
}

#[cfg(test)]
mod tests;
