//! The Redis half of the scripted server: reading RESP commands, and answering them
//! as Redis would, over the shared map.

use super::{bulk, Map};

/// The client sent something that is not a RESP array of bulk strings.
#[derive(Debug)]
pub(super) struct NotRespCommand;

/// A command's arguments (its name first), and how many bytes of input it took.
pub(super) type Parsed = Option<(Vec<Vec<u8>>, usize)>;

/// One complete command (a RESP array of bulk strings) at the start of `input`, and
/// how many bytes it took; `None` until it has all arrived.
pub(super) fn parse_command(input: &[u8]) -> Result<Parsed, NotRespCommand> {
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
pub(super) struct Session {
    queued: Option<Vec<Vec<Vec<u8>>>>,
}

impl Session {
    pub(super) fn answer(&mut self, command: &[Vec<u8>], data: &Map) -> Vec<u8> {
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
