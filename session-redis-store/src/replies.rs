//! The replies the store accepts, one type per command, each taking exactly the shapes
//! Redis sends for it and nothing else.
//!
//! redis-rs's own conversions are lenient on purpose (an array of integers reads as
//! bytes, any reply as `()`), which here would turn a reply that does not fit the
//! command into a session, a write or a delete that never happened. A reply of any
//! other shape is a parse error: out of step, which breaks the connection. The errors
//! name what was expected, never the reply, which may be a session's data.

use redis::{FromRedisValue, ParsingError, Value};
use session_core::MoveOutcome;

/// `GET`'s or `GETEX`'s reply: the record's bytes, or none.
pub(crate) struct Record(pub(crate) Option<Vec<u8>>);

impl FromRedisValue for Record {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        match value {
            Value::BulkString(bytes) => Ok(Self(Some(bytes))),
            Value::Nil => Ok(Self(None)),
            _ => Err(unexpected("a string or nil to a read")),
        }
    }
}

/// A conditional `SET`'s reply: `OK` when it stored the value, nil when its condition
/// (`NX`, `XX`) did not hold.
pub(crate) struct Written(pub(crate) bool);

impl FromRedisValue for Written {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        written(value)
            .map(Self)
            .ok_or_else(|| unexpected("OK or nil to a write"))
    }
}

fn written(value: Value) -> Option<bool> {
    match value {
        Value::Okay => Some(true),
        Value::Nil => Some(false),
        _ => None,
    }
}

/// `DEL`'s reply: how many keys it removed.
pub(crate) struct Deleted(pub(crate) u64);

impl FromRedisValue for Deleted {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        match value {
            Value::Int(count) => u64::try_from(count)
                .map(Self)
                .map_err(|_| unexpected("a count to a delete")),
            _ => Err(unexpected("an integer to a delete")),
        }
    }
}

/// The move script's reply (`scripts::MOVE`): 0 gone, 1 moved, 2 taken.
pub(crate) struct MoveReply(pub(crate) MoveOutcome);

impl FromRedisValue for MoveReply {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        match value {
            Value::Int(0) => Ok(Self(MoveOutcome::Gone)),
            Value::Int(1) => Ok(Self(MoveOutcome::Moved)),
            Value::Int(2) => Ok(Self(MoveOutcome::IdTaken)),
            _ => Err(unexpected("0, 1 or 2 to the move script")),
        }
    }
}

/// What the merge script (`scripts/merge.lua`) did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MergeOutcome {
    Gone,
    Merged,
    /// The key holds something that is not a session record: nothing was written.
    Corrupt,
}

/// The merge script's reply: 0 gone, 1 merged, 2 not a session record.
pub(crate) struct Merged(pub(crate) MergeOutcome);

impl FromRedisValue for Merged {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        match value {
            Value::Int(0) => Ok(Self(MergeOutcome::Gone)),
            Value::Int(1) => Ok(Self(MergeOutcome::Merged)),
            Value::Int(2) => Ok(Self(MergeOutcome::Corrupt)),
            _ => Err(unexpected("0, 1 or 2 to the merge script")),
        }
    }
}

/// `EXEC`'s reply to `DEL old` + `SET new … NX` (a new session after a logout):
/// whether the new key was written.
pub(crate) struct Replaced(pub(crate) bool);

impl FromRedisValue for Replaced {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        match value {
            Value::Array(replies) => match <[Value; 2]>::try_from(replies) {
                Ok([Value::Int(_), set]) => written(set).map(Self),
                _ => None,
            },
            _ => None,
        }
        .ok_or_else(|| unexpected("a delete's and a write's replies to a transaction"))
    }
}

/// `ZRANGEBYSCORE`'s reply: the members, here record keys.
pub(crate) struct Members(pub(crate) Vec<String>);

impl FromRedisValue for Members {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        let Value::Array(items) = value else {
            return Err(unexpected("an array to an index read"));
        };
        items
            .into_iter()
            .map(|item| match item {
                Value::BulkString(bytes) => String::from_utf8(bytes)
                    .map_err(|_| unexpected("text members to an index read")),
                _ => Err(unexpected("strings to an index read")),
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// `MGET`'s reply: each key's record, or none.
pub(crate) struct Records(pub(crate) Vec<Option<Vec<u8>>>);

impl FromRedisValue for Records {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        let Value::Array(items) = value else {
            return Err(unexpected("an array to a read of several sessions"));
        };
        items
            .into_iter()
            .map(|item| Record::from_redis_value(item).map(|record| record.0))
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// A script's reply that only says it ran: `1`.
pub(crate) struct Done;

impl FromRedisValue for Done {
    fn from_redis_value(value: Value) -> Result<Self, ParsingError> {
        match value {
            Value::Int(1) => Ok(Self),
            _ => Err(unexpected("1 to the index script")),
        }
    }
}

fn unexpected(expected: &str) -> ParsingError {
    format!("Redis answered with a reply of another kind than {expected}").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_shapes_redis_sends_are_accepted() {
        let bulk = || Value::BulkString(b"[{},{}]".to_vec());
        assert!(Record::from_redis_value(bulk()).is_ok_and(|r| r.0.is_some()));
        assert!(Record::from_redis_value(Value::Nil).is_ok_and(|r| r.0.is_none()));
        // `[` and `]`: a lenient conversion would read an empty session.
        let spelled = Value::Array(vec![Value::Int(91), Value::Int(93)]);
        assert!(Record::from_redis_value(spelled).is_err());
        assert!(Record::from_redis_value(Value::Okay).is_err());

        assert!(Written::from_redis_value(Value::Okay).is_ok_and(|w| w.0));
        assert!(Written::from_redis_value(Value::Nil).is_ok_and(|w| !w.0));
        assert!(Written::from_redis_value(Value::BulkString(b"OK".to_vec())).is_err());
        assert!(Written::from_redis_value(Value::Int(1)).is_err());

        assert!(Deleted::from_redis_value(Value::Int(0)).is_ok_and(|d| d.0 == 0));
        assert!(Deleted::from_redis_value(Value::Int(1)).is_ok_and(|d| d.0 == 1));
        assert!(Deleted::from_redis_value(Value::Int(-1)).is_err());
        assert!(Deleted::from_redis_value(Value::Okay).is_err());

        for (reply, outcome) in [
            (0, MoveOutcome::Gone),
            (1, MoveOutcome::Moved),
            (2, MoveOutcome::IdTaken),
        ] {
            assert!(MoveReply::from_redis_value(Value::Int(reply)).is_ok_and(|m| m.0 == outcome));
        }
        assert!(MoveReply::from_redis_value(Value::Int(3)).is_err());
        for (reply, outcome) in [
            (0, MergeOutcome::Gone),
            (1, MergeOutcome::Merged),
            (2, MergeOutcome::Corrupt),
        ] {
            assert!(Merged::from_redis_value(Value::Int(reply)).is_ok_and(|m| m.0 == outcome));
        }
        assert!(Merged::from_redis_value(Value::Int(3)).is_err());
        assert!(Merged::from_redis_value(Value::Okay).is_err());
        assert!(MoveReply::from_redis_value(Value::Okay).is_err());

        let exec = |set| Value::Array(vec![Value::Int(1), set]);
        assert!(Replaced::from_redis_value(exec(Value::Okay)).is_ok_and(|m| m.0));
        assert!(Replaced::from_redis_value(exec(Value::Nil)).is_ok_and(|m| !m.0));
        assert!(Replaced::from_redis_value(exec(Value::Int(1))).is_err());
        assert!(Replaced::from_redis_value(Value::Array(vec![Value::Okay])).is_err());
    }

    #[test]
    fn errors_never_quote_the_reply() {
        let secret = Value::Array(vec![Value::BulkString(b"secret".to_vec())]);
        let error = Record::from_redis_value(secret).err().expect("refused");
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
