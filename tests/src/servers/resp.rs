//! A tiny synchronous RESP2 client for the fixtures' admin commands (`SENTINEL …`,
//! `INFO`, `WAIT`). The `redis` crate is only a dev-dependency of this crate, and a
//! fixture needs nothing but one command per connection.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// One RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<String>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a status or bulk string reply.
    pub(super) fn text(&self) -> Option<&str> {
        match self {
            Self::Status(text) | Self::Bulk(Some(text)) => Some(text),
            _ => None,
        }
    }

    /// The elements of an array reply (none for a nil array or another kind).
    pub(super) fn elements(&self) -> &[Reply] {
        match self {
            Self::Array(Some(elements)) => elements,
            _ => &[],
        }
    }

    /// The value of `field` in a flat `[field, value, field, value, …]` array, the shape
    /// of `SENTINEL master` and of each entry of `SENTINEL replicas`.
    pub(super) fn field(&self, field: &str) -> Option<&str> {
        self.elements()
            .chunks(2)
            .find(|pair| pair[0].text() == Some(field))
            .and_then(|pair| pair.get(1)?.text())
    }
}

/// Sends one command to `127.0.0.1:port` on a fresh connection and reads its reply.
/// `-ERR …` replies are `Ok(Reply::Error(…))`; `Err` means the server is unreachable
/// or answered something that is not RESP.
pub(super) fn command(port: u16, args: &[&str]) -> io::Result<Reply> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    // Long enough for `WAIT 1 2000`, short enough that a hung server fails a test.
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    (&stream).write_all(&request)?;
    read_reply(&mut BufReader::new(stream))
}

fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let line = line
        .strip_suffix("\r\n")
        .ok_or_else(|| invalid(format!("unterminated reply line {line:?}")))?;
    let (kind, rest) = line.split_at_checked(1).unwrap_or(("", ""));
    let number = || -> io::Result<i64> {
        rest.parse()
            .map_err(|_| invalid(format!("bad number in {line:?}")))
    };
    Ok(match kind {
        "+" => Reply::Status(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(number()?),
        "$" => match usize::try_from(number()?) {
            Err(_) => Reply::Bulk(None),
            Ok(len) => {
                let mut data = vec![0; len + 2];
                reader.read_exact(&mut data)?;
                data.truncate(len);
                Reply::Bulk(Some(String::from_utf8_lossy(&data).into_owned()))
            }
        },
        "*" => match usize::try_from(number()?) {
            Err(_) => Reply::Array(None),
            Ok(len) => Reply::Array(Some(
                (0..len)
                    .map(|_| read_reply(reader))
                    .collect::<io::Result<_>>()?,
            )),
        },
        _ => return Err(invalid(format!("unknown reply {line:?}"))),
    })
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// The value of `field` in an `INFO` reply (`field:value` lines).
pub(super) fn info_field<'a>(info: &'a Reply, field: &str) -> Option<&'a str> {
    info.text()?.lines().find_map(|line| {
        line.strip_prefix(field)?
            .strip_prefix(':')
            .map(str::trim_end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Reply {
        read_reply(&mut &bytes[..]).expect("a reply")
    }

    #[test]
    fn parses_every_kind_of_reply() {
        assert_eq!(parse(b"+OK\r\n"), Reply::Status("OK".into()));
        assert_eq!(parse(b"-ERR no\r\n"), Reply::Error("ERR no".into()));
        assert_eq!(parse(b":-3\r\n"), Reply::Integer(-3));
        assert_eq!(parse(b"$-1\r\n"), Reply::Bulk(None));
        assert_eq!(parse(b"*-1\r\n"), Reply::Array(None));
        let master = parse(b"*4\r\n$4\r\nname\r\n$2\r\nmy\r\n$5\r\nflags\r\n$6\r\nmaster\r\n");
        assert_eq!(master.field("flags"), Some("master"));
        assert_eq!(master.field("port"), None);
        let info = Reply::Bulk(Some(
            "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n".into(),
        ));
        assert_eq!(info_field(&info, "master_link_status"), Some("up"));
        assert_eq!(info_field(&info, "master"), None);
    }
}
