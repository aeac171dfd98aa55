//! The wire format: commands, replies, tokens and limits.

use super::*;

const MAX: usize = 1 << 20;

fn value(data: &[u8], cas: Option<u64>) -> Reply {
    Reply::Value(Item {
        data: data.to_vec(),
        cas,
    })
}

fn tagged(reply: Reply, opaque: u64) -> Tagged {
    Tagged {
        reply,
        opaque: Some(opaque),
    }
}

#[test]
fn commands_encode_as_meta_commands_with_their_token() {
    assert_eq!(Command::Get("k").encode(7), b"mg k v c O7\r\n");
    assert_eq!(Command::Delete("k").encode(8), b"md k O8\r\n");
    let create = Command::Set {
        key: "k",
        value: "[{},{}]",
        exptime: 60,
        mode: SetMode::Create,
    };
    assert_eq!(create.encode(9), b"ms k 7 T60 ME O9\r\n[{},{}]\r\n");
    let update = Command::Set {
        key: "k",
        value: "ab",
        exptime: 0,
        mode: SetMode::Update,
    };
    assert_eq!(
        update.encode(u64::MAX),
        b"ms k 2 T0 MR O18446744073709551615\r\nab\r\n"
    );
    let swap = Command::Swap {
        key: "k",
        value: "[{},{}]",
        exptime: 60,
        cas: 12,
    };
    assert_eq!(swap.encode(3), b"ms k 7 T60 C12 O3\r\n[{},{}]\r\n");
}

#[test]
fn replies_parse_whole_or_wait_for_more() {
    let stream =
        b"VA 5 c9 O1\r\nhello\r\nEN O2\r\nHD O3\r\nNS O4\r\nNF O5\r\nEX O6\r\nVA 1 O7\r\nx\r\nMN\r\n";
    let mut rest: &[u8] = stream;
    let mut replies = Vec::new();
    while let Some((reply, used)) = parse(rest, MAX).expect("valid") {
        replies.push(reply);
        rest = &rest[used..];
    }
    assert!(rest.is_empty());
    assert_eq!(
        replies,
        [
            tagged(value(b"hello", Some(9)), 1),
            tagged(Reply::Miss, 2),
            tagged(Reply::Done, 3),
            tagged(Reply::NotStored, 4),
            tagged(Reply::NotFound, 5),
            tagged(Reply::Exists, 6),
            tagged(value(b"x", None), 7),
            Tagged {
                reply: Reply::NoOp,
                opaque: None
            },
        ]
    );
    // Every proper prefix of a value reply asks for more bytes.
    for cut in 0..16 {
        assert_eq!(
            parse(&stream[..cut], MAX).expect("valid"),
            None,
            "cut at {cut}"
        );
    }
    // Data may contain CRLF: the length, not the delimiter, ends it; other flags
    // are ignored.
    assert_eq!(
        parse(b"VA 4 f1 O3 t-1\r\na\r\nb\r\n", MAX).expect("valid"),
        Some((tagged(value(b"a\r\nb", None), 3), 22))
    );
}

#[test]
fn a_reply_answers_only_the_command_with_its_token() {
    assert!(tagged(Reply::Done, 4).answers(4));
    assert!(!tagged(Reply::Done, 4).answers(5));
    let untagged = |reply| Tagged {
        reply,
        opaque: None,
    };
    assert!(!untagged(Reply::Done).answers(4));
    assert!(!untagged(value(b"someone else's", None)).answers(4));
    // Memcached's errors carry no token (and no data).
    assert!(untagged(Reply::ServerError("SERVER_ERROR x".to_owned())).answers(4));
}

#[test]
fn value_lengths_are_capped_before_anything_is_buffered() {
    // Exactly at the cap: waits for the data.
    assert_eq!(parse(b"VA 1048576 O1\r\nxx", MAX).expect("valid"), None);
    for huge in [
        &b"VA 1048577 O1\r\n"[..],
        b"VA 9223372036854775807 O1\r\n",
        b"VA 18446744073709551615 O1\r\n",
    ] {
        let error = parse(huge, MAX).expect_err("over the cap");
        assert!(error.0.contains("max_record_size"), "{error}");
    }
    // A length that does not even fit a u64, and no overflow near usize::MAX.
    assert!(parse(b"VA 99999999999999999999999 O1\r\n", MAX).is_err());
    let near_max = format!("VA {} O1\r\n", usize::MAX - 2);
    assert_eq!(parse(near_max.as_bytes(), usize::MAX).expect("waits"), None);
}

#[test]
fn errors_are_told_apart() {
    assert_eq!(
        parse(b"SERVER_ERROR object too large for cache\r\n", MAX).expect("a reply"),
        Some((
            Tagged {
                reply: Reply::ServerError("SERVER_ERROR object too large for cache".to_owned()),
                opaque: None
            },
            41
        ))
    );
    assert!(is_too_large("SERVER_ERROR object too large for cache"));
    assert!(!is_too_large("SERVER_ERROR out of memory storing object"));
    for garbage in [
        &b"CLIENT_ERROR bad data chunk\r\n"[..],
        b"ERROR\r\n",
        b"VALUE k 0 1\r\n",
        b"VA x\r\n",
        b"VA 1 O1\r\nab\r\n",
        b"HD Oabc\r\n",
        b"HD O1 O2\r\n",
        b"\x00\xfe\r\n",
    ] {
        assert!(parse(garbage, MAX).is_err(), "{:?}", printable(garbage));
    }
    assert!(parse(&[b'x'; MAX_LINE + 1], MAX).is_err());
    // Out of step, a line may be a key or data: only its first word is quoted.
    let error = parse(b"VALUE remix:session:abc 0 1\r\n", MAX).expect_err("not meta");
    assert_eq!(
        error.to_string(),
        r#"unexpected reply from memcached: a "VALUE" line"#
    );
}

#[test]
fn items_count_their_key_and_memcacheds_header() {
    let key = "remix:session:0000000000000000000000000000000000000000000000000000000000000000";
    // What memcached 1.6 stores at `-I 1k` under a 78-byte key.
    assert_eq!(largest_value(1024, key), 887);
    assert_eq!(largest_value(10, key), 0);
}

#[test]
fn replies_only_fit_their_command() {
    let get = Command::Get("k");
    assert_eq!(get.outcome(Reply::Miss), Some(Outcome::Value(None)));
    assert_eq!(get.outcome(Reply::Done), None);
    assert_eq!(get.outcome(Reply::NoOp), None);
    let delete = Command::Delete("k");
    assert_eq!(
        delete.outcome(Reply::NotFound),
        Some(Outcome::Deleted(false))
    );
    assert_eq!(delete.outcome(value(b"", None)), None);
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
    let swap = Command::Swap {
        key: "k",
        value: "v",
        exptime: 0,
        cas: 1,
    };
    assert_eq!(
        swap.outcome(Reply::Exists),
        Some(Outcome::Swapped(Swap::Changed))
    );
    assert_eq!(
        swap.outcome(Reply::NotFound),
        Some(Outcome::Swapped(Swap::Gone))
    );
    assert_eq!(
        swap.outcome(Reply::NotStored),
        Some(Outcome::Swapped(Swap::Gone))
    );
    assert_eq!(swap.outcome(Reply::Miss), None);
    assert_eq!(create.outcome(Reply::Exists), None);
    // And each command's success, and a server error for any of them.
    assert_eq!(
        get.outcome(value(b"v", Some(3))),
        Some(Outcome::Value(Some(Item {
            data: b"v".to_vec(),
            cas: Some(3)
        })))
    );
    assert_eq!(create.outcome(Reply::Done), Some(Outcome::Stored(true)));
    assert_eq!(
        swap.outcome(Reply::Done),
        Some(Outcome::Swapped(Swap::Stored))
    );
    assert_eq!(delete.outcome(Reply::Done), Some(Outcome::Deleted(true)));
    for command in [&get, &delete, &create, &swap] {
        assert_eq!(
            command.outcome(Reply::ServerError("SERVER_ERROR busy".to_owned())),
            Some(Outcome::ServerError("SERVER_ERROR busy".to_owned()))
        );
    }
}

#[test]
fn reply_lines_are_capped_at_max_line() {
    // A line of exactly MAX_LINE bytes, then CRLF: a reply.
    let mut longest = b"SERVER_ERROR ".to_vec();
    longest.resize(MAX_LINE, b'x');
    longest.extend_from_slice(b"\r\n");
    assert!(matches!(parse(&longest, MAX), Ok(Some((_, used))) if used == MAX_LINE + 2));
    // A longer one is not memcached, even with its CRLF in the buffer.
    let mut long = b"SERVER_ERROR ".to_vec();
    long.resize(MAX_LINE + 500, b'x');
    long.extend_from_slice(b"\r\n");
    assert!(parse(&long, MAX).is_err());
    // Without a CRLF yet: wait up to MAX_LINE bytes, then give up.
    assert_eq!(parse(&[b'x'; MAX_LINE], MAX).expect("waits"), None);
    assert!(parse(&[b'x'; MAX_LINE + 1], MAX).is_err());
}
