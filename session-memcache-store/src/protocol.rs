//! The four memcached meta commands sessions need, and their replies.
//!
//! The meta protocol (memcached 1.6+) answers every command with exactly one reply, in
//! order, which is what lets one connection carry many requests at once (see
//! `connection.rs`): replies are matched to commands by position.
//!
//! | operation | command | replies |
//! |---|---|---|
//! | read | `mg <key> v` | `VA <len>` + data, or `EN` (miss) |
//! | create | `ms <key> <len> T<exptime> ME` + data ([`SetMode::Create`]) | `HD`, or `NS` (exists) |
//! | update | `ms <key> <len> T<exptime> MR` + data ([`SetMode::Update`]) | `HD`, or `NS` (absent) |
//! | delete | `md <key>` | `HD`, or `NF` (absent) |

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
    Delete(&'a str),
}

/// When a [`Command::Set`] stores, named after what it does to a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SetMode {
    /// Only if the key is absent: a new session never overwrites one (memcached's
    /// "add" mode, `ME`).
    Create,
    /// Only if the key is present: saving never resurrects a session deleted meanwhile
    /// (the mode memcached calls "replace", `MR`; our "replace" is moving a session
    /// to a new ID).
    Update,
}

impl SetMode {
    /// The `M` flag's value on the wire.
    fn flag(self) -> u8 {
        match self {
            Self::Create => b'E',
            Self::Update => b'R',
        }
    }
}

impl Command<'_> {
    /// The command's bytes on the wire.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        match *self {
            Self::Get(key) => {
                out.extend_from_slice(b"mg ");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b" v\r\n");
            }
            Self::Set {
                key,
                value,
                exptime,
                mode,
            } => encode_set(&mut out, key, value, exptime, mode.flag()),
            Self::Delete(key) => {
                out.extend_from_slice(b"md ");
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
        }
        out
    }

    fn encoded_len_hint(&self) -> usize {
        match self {
            Self::Get(key) | Self::Delete(key) => key.len() + 8,
            Self::Set { key, value, .. } => key.len() + value.len() + 48,
        }
    }

    /// What this command makes of `reply`; `None` when the reply does not belong to
    /// this kind of command (the connection is then out of step and must go).
    pub(crate) fn outcome(&self, reply: Reply) -> Option<Outcome> {
        match (self, reply) {
            (Self::Get(_), Reply::Value(value)) => Some(Outcome::Value(Some(value))),
            (Self::Get(_), Reply::Miss) => Some(Outcome::Value(None)),
            (Self::Set { .. }, Reply::Done) => Some(Outcome::Stored(true)),
            (Self::Set { .. }, Reply::NotStored) => Some(Outcome::Stored(false)),
            // Deleting what is not there is success: the record is gone either way.
            (Self::Delete(_), Reply::Done) => Some(Outcome::Deleted(true)),
            (Self::Delete(_), Reply::NotFound) => Some(Outcome::Deleted(false)),
            (_, Reply::ServerError(message)) => Some(Outcome::ServerError(message)),
            _ => None,
        }
    }
}

fn encode_set(out: &mut Vec<u8>, key: &str, value: &str, exptime: i64, mode: u8) {
    use std::io::Write as _;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "ms {key} {} T{exptime} M", value.len());
    out.push(mode);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// What a command came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `Get`: the value, if any.
    Value(Option<Vec<u8>>),
    /// `Set`: whether it was stored (`false`: the mode's condition did not hold).
    Stored(bool),
    /// `Delete`: done; whether the key was there (`HD`) or not (`NF`), which a move
    /// to a new ID needs to know.
    Deleted(bool),
    /// The server refused this one command (say, a value over its item size limit);
    /// the connection is fine.
    ServerError(String),
}

/// One reply, as read off the wire.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `VA`: a value.
    Value(Vec<u8>),
    /// `EN`: no such key.
    Miss,
    /// `HD`: done.
    Done,
    /// `NS`: not stored (the set mode's condition did not hold).
    NotStored,
    /// `NF`: not found.
    NotFound,
    /// `SERVER_ERROR …`: this command failed on the server.
    ServerError(String),
}

/// The stream holds something that is not a meta reply: the connection must go.
#[derive(Debug, PartialEq, Eq)]
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
/// or `None` when more bytes are needed.
pub(crate) fn parse(buffer: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    let Some(end) = buffer.windows(2).position(|pair| pair == b"\r\n") else {
        if buffer.len() > MAX_LINE {
            return Err(ProtocolError("a reply line that never ends".to_owned()));
        }
        return Ok(None);
    };
    let line = &buffer[..end];
    let after_line = end + 2;
    let reply = match line {
        b"EN" => Reply::Miss,
        b"HD" => Reply::Done,
        b"NS" => Reply::NotStored,
        b"NF" => Reply::NotFound,
        _ if line.starts_with(b"VA ") => {
            let length = line[3..]
                .split(|&b| b == b' ')
                .next()
                .and_then(|digits| std::str::from_utf8(digits).ok())
                .and_then(|digits| digits.parse::<usize>().ok())
                .ok_or_else(|| ProtocolError("a value reply without a length".to_owned()))?;
            let data_end = after_line + length;
            if buffer.len() < data_end + 2 {
                return Ok(None);
            }
            if &buffer[data_end..data_end + 2] != b"\r\n" {
                return Err(ProtocolError("a value not followed by CRLF".to_owned()));
            }
            let value = buffer[after_line..data_end].to_vec();
            return Ok(Some((Reply::Value(value), data_end + 2)));
        }
        _ if line.starts_with(b"SERVER_ERROR") => Reply::ServerError(printable(line)),
        // CLIENT_ERROR, ERROR, or anything else: we sent something the server did not
        // understand, or this is not memcached. Either way the stream cannot be trusted.
        _ => return Err(ProtocolError(format!("a {:?} line", code(line)))),
    };
    Ok(Some((reply, after_line)))
}

/// A line's first word: enough to tell what it is, without quoting what follows (out
/// of step, that may be a key or a session's data).
fn code(line: &[u8]) -> String {
    let word = line.split(|&b| b == b' ').next().unwrap_or_default();
    printable(&word[..word.len().min(32)])
}

fn printable(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(200)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_meta_commands() {
        assert_eq!(Command::Get("k").encode(), b"mg k v\r\n");
        assert_eq!(Command::Delete("k").encode(), b"md k\r\n");
        let create = Command::Set {
            key: "k",
            value: "[{},{}]",
            exptime: 60,
            mode: SetMode::Create,
        };
        assert_eq!(create.encode(), b"ms k 7 T60 ME\r\n[{},{}]\r\n");
        let update = Command::Set {
            key: "k",
            value: "ab",
            exptime: 0,
            mode: SetMode::Update,
        };
        assert_eq!(update.encode(), b"ms k 2 T0 MR\r\nab\r\n");
    }

    #[test]
    fn replies_parse_whole_or_wait_for_more() {
        let stream = b"VA 5\r\nhello\r\nEN\r\nHD\r\nNS\r\nNF\r\n";
        let mut rest: &[u8] = stream;
        let mut replies = Vec::new();
        while let Some((reply, used)) = parse(rest).expect("valid") {
            replies.push(reply);
            rest = &rest[used..];
        }
        assert!(rest.is_empty());
        assert_eq!(
            replies,
            [
                Reply::Value(b"hello".to_vec()),
                Reply::Miss,
                Reply::Done,
                Reply::NotStored,
                Reply::NotFound
            ]
        );
        // Every proper prefix of a value reply asks for more bytes.
        for cut in 0..13 {
            assert_eq!(parse(&stream[..cut]).expect("valid"), None, "cut at {cut}");
        }
        // Data may contain CRLF: the length, not the delimiter, ends it.
        assert_eq!(
            parse(b"VA 4 f1\r\na\r\nb\r\n").expect("valid"),
            Some((Reply::Value(b"a\r\nb".to_vec()), 15))
        );
    }

    #[test]
    fn errors_are_told_apart() {
        assert_eq!(
            parse(b"SERVER_ERROR object too large for cache\r\n").expect("a reply"),
            Some((
                Reply::ServerError("SERVER_ERROR object too large for cache".to_owned()),
                41
            ))
        );
        for garbage in [
            &b"CLIENT_ERROR bad data chunk\r\n"[..],
            b"ERROR\r\n",
            b"VALUE k 0 1\r\n",
            b"VA x\r\n",
            b"VA 1\r\nab\r\n",
        ] {
            assert!(parse(garbage).is_err(), "{:?}", printable(garbage));
        }
        assert!(parse(&[b'x'; MAX_LINE + 1]).is_err());
        // Out of step, a line may be a key or data: only its first word is quoted.
        let error = parse(b"VALUE remix:session:abc 0 1\r\n").expect_err("not meta");
        assert_eq!(
            error.to_string(),
            r#"unexpected reply from memcached: a "VALUE" line"#
        );
    }

    #[test]
    fn replies_only_fit_their_command() {
        let get = Command::Get("k");
        assert_eq!(get.outcome(Reply::Miss), Some(Outcome::Value(None)));
        assert_eq!(get.outcome(Reply::Done), None);
        let delete = Command::Delete("k");
        assert_eq!(
            delete.outcome(Reply::NotFound),
            Some(Outcome::Deleted(false))
        );
        assert_eq!(delete.outcome(Reply::Value(Vec::new())), None);
        let create = Command::Set {
            key: "k",
            value: "v",
            exptime: 0,
            mode: SetMode::Create,
        };
        assert_eq!(
            create.outcome(Reply::NotStored),
            Some(Outcome::Stored(false))
        );
    }
}
