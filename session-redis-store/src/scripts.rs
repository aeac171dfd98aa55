//! The store's Lua scripts, run by `EVALSHA` (the script's SHA-1, sent once per
//! command instead of its text) and sent whole with `EVAL` only when a server answers
//! `NOSCRIPT` (a restart, `SCRIPT FLUSH`, a cluster node that never saw it), which also
//! caches it there again.

use std::fmt::Write as _;
use std::sync::LazyLock;

use session_core::{Error, SessionChanges, ValueChange};

/// A script's text and its SHA-1, the name `EVALSHA` calls it by.
pub(crate) struct LuaScript {
    pub(crate) text: &'static str,
    pub(crate) sha: String,
}

impl LuaScript {
    fn new(text: &'static str) -> Self {
        let sha = redis::Script::new(text).get_hash().to_owned();
        Self { text, sha }
    }
}

/// Merges one request's changes into a record: `merge.lua`, which says how and why it
/// copies untouched members as text.
pub(crate) static MERGE: LazyLock<LuaScript> =
    LazyLock::new(|| LuaScript::new(include_str!("scripts/merge.lua")));

/// Moves a record: `KEYS[1]` to `KEYS[2]` with the new value `ARGV[1]` and a TTL of
/// `ARGV[2]` milliseconds (0: none). Answers 0 when `KEYS[1]` was gone (nothing is
/// written), 1 when moved, 2 when `KEYS[2]` was taken (`KEYS[1]` is deleted all the
/// same, as `SessionStorage::move_record` says): see `MoveReply`.
pub(crate) static MOVE: LazyLock<LuaScript> = LazyLock::new(|| {
    LuaScript::new(
        "\
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
local stored
if ARGV[2] == '0' then
  stored = redis.call('SET', KEYS[2], ARGV[1], 'NX')
else
  stored = redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2])
end
if stored then return 1 end
return 2",
    )
});

/// Turns the record at `KEYS[1]` into a renewal's successor record `ARGV[1]` for
/// `ARGV[2]` milliseconds, only if it is a whole session (present, and not already a
/// successor record, which holds `"next":` in an otherwise empty record) and still the
/// one the request loaded (its stamp's `"rev"` is `ARGV[3]`). Answers 1 when done, 0
/// when the record was gone or a successor, 2 when it changed since it was loaded.
pub(crate) static FORWARD: LazyLock<LuaScript> = LazyLock::new(|| {
    LuaScript::new(
        "\
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if string.sub(raw, 1, 8) == '[{},{},{' and string.find(raw, '\"next\":\"', 1, true) then
  return 0
end
if ARGV[3] == '' or string.match(string.sub(raw, -40), '\"rev\":(%d+)}%]$') ~= ARGV[3] then
  return 2
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1",
    )
});

/// Notes in the user index `KEYS[1]` (a sorted set) that record key `ARGV[1]` lives
/// until `ARGV[2]` (ms since the epoch, the score), drops entries past their end
/// (score before `ARGV[3]`, now), and gives the index the TTL of its longest-lived
/// entry, so that no entry outlives its session for long and the index dies with the
/// user's last session. Answers 1.
pub(crate) static INDEX: LazyLock<LuaScript> = LazyLock::new(|| {
    LuaScript::new(
        "\
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], last[2]) end
return 1",
    )
});

/// A fresh revision for a record about to be written (the stamp's `"rev"`): random, so
/// that writes from different processes never share one. Only uniqueness matters (a
/// repeat would let the merge script take a changed record for the one a request
/// read), not secrecy: a fresh `RandomState` is seeded differently each time.
pub(crate) fn new_revision() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::hash::RandomState::new().build_hasher().finish()
}

/// `text` (a stamp or a whole record, which end in `"rev":<old>}` or
/// `"rev":<old>}]`) with revision `new` in place of `old`.
pub(crate) fn revised(text: &str, old: u64, new: u64) -> String {
    let old = format!("\"rev\":{old}}}");
    match text.rfind(&old) {
        Some(at) => format!("{}\"rev\":{new}}}{}", &text[..at], &text[at + old.len()..]),
        // No revision in it: nothing to replace.
        None => text.to_owned(),
    }
}

/// The merge script's arguments after the TTL, the stamp, the revision loaded and the
/// whole record: `(op, key, value)` per
/// change, keys and values as JSON text, in the order `SessionChanges::apply_to`
/// applies them (values, then consumed flash values, then flash values set), and last
/// the login choices if the request changed them.
pub(crate) fn merge_arguments(changes: &SessionChanges) -> Result<Vec<String>, Error> {
    let count = changes.values.len() + changes.flash_consumed.len() + changes.flash_set.len();
    let mut out = Vec::with_capacity(3 * count);
    let mut push = |op: &str, key: &str, value: String| -> Result<(), Error> {
        out.push(op.to_owned());
        out.push(json(key, &key)?);
        out.push(value);
        Ok(())
    };
    for (key, change) in &changes.values {
        match change {
            ValueChange::Set(value) => push("s", key, json(key, value)?)?,
            ValueChange::Remove => push("r", key, String::new())?,
            ValueChange::Increment(by) => {
                let mut text = String::new();
                let _ = write!(text, "{by}");
                push("i", key, text)?;
            }
        }
    }
    for (key, value) in &changes.flash_consumed {
        push("c", key, json(key, value)?)?;
    }
    for (key, value) in &changes.flash_set {
        push("f", key, json(key, value)?)?;
    }
    if let Some(meta) = &changes.meta {
        push("m", "", json("(meta)", meta)?)?;
    }
    Ok(out)
}

/// `value` as JSON text, the form the record holds (serde_json's, compact).
fn json(key: &str, value: &impl serde::Serialize) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|source| Error::Json {
        key: key.to_owned(),
        source: source.into(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_resend_swaps_the_revision_at_the_end_only() {
        let whole = r#"[{"rev":5},{},{"expires":1,"rev":5}]"#;
        assert_eq!(
            revised(whole, 5, 77),
            r#"[{"rev":5},{},{"expires":1,"rev":77}]"#
        );
        assert_eq!(revised(r#"{"rev":5}"#, 5, 6), r#"{"rev":6}"#);
        assert_eq!(revised("", 5, 6), "");
    }

    #[test]
    fn changes_become_triples_in_the_order_the_merge_applies_them() {
        let mut changes = SessionChanges::default();
        changes
            .values
            .insert("a\"b".into(), ValueChange::Set(json!({"x": [1, 2.5]})));
        changes.values.insert("gone".into(), ValueChange::Remove);
        changes
            .values
            .insert("hits".into(), ValueChange::Increment(-3));
        changes.flash_set.insert("notice".into(), json!("new"));
        changes.flash_consumed.insert("notice".into(), json!("old"));
        let args = merge_arguments(&changes).expect("JSON");
        let expected = [
            "s",
            r#""a\"b""#,
            r#"{"x":[1,2.5]}"#,
            "r",
            r#""gone""#,
            "",
            "i",
            r#""hits""#,
            "-3",
            "c",
            r#""notice""#,
            r#""old""#,
            "f",
            r#""notice""#,
            r#""new""#,
        ];
        assert_eq!(args, expected);
    }
}
