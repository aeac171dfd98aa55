//! Session identifiers: minted from the OS CSPRNG, parsed canonically, never printed.

use std::fmt;
use std::hash::{Hash, Hasher};

use crate::{constant_time_eq, Error};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Random bytes in a freshly minted ID: 256 bits, twice the ASVS v5 floor of 128.
const RANDOM_BYTES: usize = 32;
/// Length of a minted ID once encoded: base64url without padding of 32 bytes.
const NATIVE_LEN: usize = 43;
/// Length of a hyphenated UUID, the form Remix (`crypto.randomUUID()`) mints.
const UUID_LEN: usize = 36;
/// Random bytes in a React Router file-storage ID: 64 bits, what that storage mints.
const SHORT_RANDOM_BYTES: usize = 8;
/// Length of a React Router file-storage ID: 16 lowercase hex digits.
const SHORT_HEX_LEN: usize = 16;

/// The form a storage mints its session IDs in ([`SessionRules::ids`]).
///
/// [`SessionRules::ids`]: crate::SessionRules::ids
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdForm {
    /// 256 bits in 43 characters of base64url: every storage's default.
    #[default]
    Native,
    /// 64 bits in 16 lowercase hex digits: the IDs React Router's
    /// `createFileSessionStorage` mints and will only read, so that a Node app shares
    /// the directory. Below the 128 bits OWASP asks for: use it for that sharing only.
    ShortHex,
}

/// An opaque session identifier.
///
/// New IDs carry 256 bits from the operating system's CSPRNG and are written as 43
/// characters of URL-safe base64 (`A–Z a–z 0–9 - _`), safe in cookies, URLs, Redis keys
/// and memcached keys alike; only a storage that shares its files with React Router
/// mints the 64-bit [`IdForm::ShortHex`] instead.
///
/// [`SessionId::parse`] accepts exactly three canonical forms and nothing else, so a
/// malformed ID is turned away before any store sees it:
///
/// - the 43-character form minted here;
/// - a lowercase hyphenated UUID (`8-4-4-4-12` hex digits), the form Remix mints, so
///   sessions written by a Node Remix app can be read during a migration;
/// - 16 lowercase hex digits ([`IdForm::ShortHex`]), the form React Router's file
///   storage mints, minted here only by a storage that shares its files with one.
///
/// An ID is a bearer credential. It never appears in `Debug` output, has no `Display`
/// implementation, and compares in constant time; [`SessionId::as_str`] is the one
/// deliberate way to get at the text (to build a storage key or a cookie value).
///
/// # Example
///
/// ```
/// use session_core::SessionId;
///
/// let id = SessionId::generate()?;
/// assert_eq!(id.as_str().len(), 43);
/// assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
/// assert!(!format!("{id:?}").contains(id.as_str()));
///
/// assert!(SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").is_some());
/// assert!(SessionId::parse("../../etc/passwd").is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SessionId {
    // Inline storage: an ID is at most 43 ASCII bytes, so cloning one never allocates.
    bytes: [u8; NATIVE_LEN],
    len: u8,
}

impl SessionId {
    /// Mints a new ID from the operating system's CSPRNG.
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] when the OS cannot provide random bytes. There is no fallback
    /// to a weaker source: a predictable session ID is worse than a failed request.
    pub fn generate() -> Result<Self, Error> {
        Self::generate_from(getrandom::fill)
    }

    /// Mints a new ID in `form` from the operating system's CSPRNG: what a session
    /// does with its storage's [`SessionRules::ids`](crate::SessionRules::ids).
    ///
    /// ```
    /// use session_core::{IdForm, SessionId};
    ///
    /// let id = SessionId::generate_in(IdForm::ShortHex)?;
    /// assert_eq!(id.as_str().len(), 16);
    /// assert!(id.as_str().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    /// assert_eq!(SessionId::parse(id.as_str()), Some(id));
    /// # Ok::<(), session_core::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Randomness`] when the OS cannot provide random bytes.
    pub fn generate_in(form: IdForm) -> Result<Self, Error> {
        match form {
            IdForm::Native => Self::generate(),
            IdForm::ShortHex => {
                let mut random = [0u8; SHORT_RANDOM_BYTES];
                getrandom::fill(&mut random).map_err(Error::Randomness)?;
                let mut bytes = [0u8; NATIVE_LEN];
                for (i, byte) in random.iter().enumerate() {
                    bytes[2 * i] = HEX[usize::from(byte >> 4)];
                    bytes[2 * i + 1] = HEX[usize::from(byte & 0x0f)];
                }
                Ok(Self {
                    bytes,
                    len: SHORT_HEX_LEN as u8,
                })
            }
        }
    }

    /// [`generate`](Self::generate) with its random bytes from `fill`: the seam the
    /// tests use to make the source fail.
    fn generate_from(
        fill: impl FnOnce(&mut [u8]) -> Result<(), getrandom::Error>,
    ) -> Result<Self, Error> {
        let mut random = [0u8; RANDOM_BYTES];
        fill(&mut random).map_err(Error::Randomness)?;
        let mut bytes = [0u8; NATIVE_LEN];
        let written = URL_SAFE_NO_PAD
            .encode_slice(random, &mut bytes)
            .expect("43 bytes hold the unpadded base64url of 32 bytes");
        debug_assert_eq!(written, NATIVE_LEN);
        Ok(Self {
            bytes,
            len: NATIVE_LEN as u8,
        })
    }

    /// Parses an ID in one of its three canonical forms, or returns `None`.
    ///
    /// Anything else (wrong length, another alphabet, uppercase UUIDs, whitespace,
    /// percent-encoding) is refused, so callers can treat `None` as "no session" without
    /// ever passing attacker-chosen bytes to a backend.
    pub fn parse(text: &str) -> Option<Self> {
        let raw = text.as_bytes();
        let canonical = match raw.len() {
            NATIVE_LEN => is_native(raw),
            UUID_LEN => is_uuid(raw),
            SHORT_HEX_LEN => raw.iter().all(|&b| HEX.contains(&b)),
            _ => false,
        };
        if !canonical {
            return None;
        }
        let mut bytes = [0u8; NATIVE_LEN];
        bytes[..raw.len()].copy_from_slice(raw);
        Some(Self {
            bytes,
            len: raw.len() as u8,
        })
    }

    /// The ID's text, for building a storage key or a cookie value.
    ///
    /// Treat it like a password: do not log it.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)])
            .expect("every constructor checked that the bytes are ASCII")
    }

    /// `prefix` followed by the lowercase hex SHA-256 of the ID: a storage key from
    /// which the ID cannot be recovered, so that whoever reads the store (a replica, a
    /// backup, a `MONITOR` session) finds no key that works as a cookie. Memcached
    /// sessions always live under such keys (Remix's layout); Redis ones on request.
    ///
    /// ```
    /// use session_core::SessionId;
    ///
    /// let id = SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").expect("a UUID");
    /// let key = id.hashed_key("session:");
    /// assert_eq!(key.len(), "session:".len() + 64);
    /// assert!(!key.contains(id.as_str()));
    /// ```
    pub fn hashed_key(&self, prefix: &str) -> String {
        hashed_key(prefix, self.as_str())
    }
}

/// `prefix` followed by the lowercase hex SHA-256 of `name`: a key that names a thing
/// without revealing it (a session ID, a user in a store's per-user index).
///
/// ```
/// let key = session_core::hashed_key("user:", "alice");
/// assert_eq!(key.len(), "user:".len() + 64);
/// assert!(!key.contains("alice"));
/// ```
pub fn hashed_key(prefix: &str, name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let mut key = String::with_capacity(prefix.len() + 2 * digest.len());
    key.push_str(prefix);
    for byte in digest {
        key.push(char::from(HEX[usize::from(byte >> 4)]));
        key.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    key
}

/// The opaque handle a store lists a session under
/// ([`UserSession::handle`](crate::UserSession::handle)): 128 bits of the SHA-256 of
/// `name` (the session's ID, or the key its record is stored under) in hex. Stable, so
/// a "log out this device" form can send it back, and one-way, so the list never
/// reveals an ID that would load the session.
///
/// ```
/// let handle = session_core::session_handle("session:abc");
/// assert_eq!(handle.len(), 32);
/// assert_eq!(handle, session_core::session_handle("session:abc"));
/// assert!(!handle.contains("abc"));
/// ```
pub fn session_handle(name: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"session handle\0");
    hasher.update(name.as_bytes());
    hasher.finalize()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Lowercase hex digits, in order.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Base64url alphabet without padding, and the last character must encode only the
/// two high bits of the final byte (otherwise two spellings would decode to one ID).
fn is_native(raw: &[u8]) -> bool {
    let alphabet_ok = raw
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    // Decoded into the stack: a canonical native ID is exactly 32 bytes. (The check
    // runs on every request; `decode` would allocate a `Vec` for it.)
    let mut decoded = [0u8; RANDOM_BYTES];
    alphabet_ok
        && matches!(
            URL_SAFE_NO_PAD.decode_slice(raw, &mut decoded),
            Ok(RANDOM_BYTES)
        )
}

fn is_uuid(raw: &[u8]) -> bool {
    raw.iter().enumerate().all(|(i, &b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
    })
}

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        // Constant time over the full buffer: lengths are public, contents are not.
        self.len == other.len && constant_time_eq(&self.bytes, &other.bytes)
    }
}

impl Eq for SessionId {}

impl Hash for SessionId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.bytes[..usize::from(self.len)].hash(state);
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_ids_are_canonical_and_distinct() {
        let mut seen = HashSet::new();
        let mut symbols = HashSet::new();
        for _ in 0..10_000 {
            let id = SessionId::generate().expect("os randomness");
            assert_eq!(id.as_str().len(), NATIVE_LEN);
            assert_eq!(SessionId::parse(id.as_str()).as_ref(), Some(&id));
            symbols.extend(id.as_str().bytes());
            assert!(seen.insert(id.as_str().to_owned()), "duplicate id");
        }
        // All 64 symbols of the alphabet show up: the encoding is not truncating entropy.
        assert_eq!(symbols.len(), 64);
    }

    #[test]
    fn a_failing_random_source_is_an_error_never_an_id() {
        let failing = SessionId::generate_from(|_| Err(getrandom::Error::UNSUPPORTED));
        assert!(matches!(failing, Err(Error::Randomness(_))), "{failing:?}");
        // A source that fails after writing some bytes: those bytes are not used either.
        let partial = SessionId::generate_from(|bytes| {
            bytes[..8].fill(0xAB);
            Err(getrandom::Error::UNEXPECTED)
        });
        assert!(matches!(partial, Err(Error::Randomness(_))), "{partial:?}");
        // Positive control: the same seam with a working source gives its bytes.
        let fixed = SessionId::generate_from(|bytes| {
            bytes.fill(0);
            Ok(())
        })
        .expect("an ID");
        assert_eq!(fixed.as_str(), "A".repeat(NATIVE_LEN));
    }

    #[test]
    fn generated_ids_decode_to_256_bits() {
        let id = SessionId::generate().expect("os randomness");
        let decoded = URL_SAFE_NO_PAD.decode(id.as_str()).expect("base64url");
        assert_eq!(decoded.len(), 32);
    }

    #[test]
    fn distinct_ids_hash_apart() {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        // A `Hash` that hashed nothing would still be correct, but would put every
        // session of the memory store in one shard and one probe chain.
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let hashes: HashSet<u64> = (0..100)
            .map(|_| hasher.hash_one(SessionId::generate().expect("os randomness")))
            .collect();
        assert!(hashes.len() > 90, "{} distinct hashes of 100", hashes.len());
        let id = SessionId::generate().expect("os randomness");
        assert_eq!(hasher.hash_one(&id), hasher.hash_one(id.clone()));
    }

    #[test]
    fn hashed_keys_are_the_prefix_and_the_sha256_hex_of_the_id() {
        // Known answer from Python: hashlib.sha256(id.encode()).hexdigest()
        let id = SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").expect("a UUID");
        assert_eq!(
            id.hashed_key("session:"),
            "session:30a5154b77ab8b2ddbe19f5e7af72f33cc2a4a41f22940d965102650a1c72863"
        );
    }

    #[test]
    fn short_hex_ids_are_distinct_and_only_lowercase() {
        let a = SessionId::generate_in(IdForm::ShortHex).expect("os randomness");
        let b = SessionId::generate_in(IdForm::ShortHex).expect("os randomness");
        assert_ne!(a, b);
        assert!(SessionId::parse("deadbeef01234567").is_some());
        assert_eq!(
            SessionId::generate_in(IdForm::Native)
                .expect("id")
                .as_str()
                .len(),
            43
        );
    }

    #[test]
    fn accepts_remix_uuids() {
        let id = SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").expect("uuid");
        assert_eq!(id.as_str(), "f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
    }

    #[test]
    fn refuses_non_canonical_text() {
        let native = SessionId::generate().expect("os randomness");
        let too_long = format!("{}A", native.as_str());
        let with_space = format!(" {}", &native.as_str()[1..]);
        let with_crlf = format!("{}\r\n", &native.as_str()[2..]);
        let percent = format!("%41{}", &native.as_str()[3..]);
        let padded = format!("{}=", &native.as_str()[1..]);
        let huge = "A".repeat(5000);
        for bad in [
            "",
            "abc",
            "F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6",
            "DEADBEEF01234567",
            "deadbeef0123456g",
            "deadbeef012345678",
            "../deadbeef01234",
            "f81d4fae7dec11d0a76500a0c91e6bf6aaaa",
            "f81d4fae-7dec-11d0-a765-00a0c91e6bfg",
            too_long.as_str(),
            with_space.as_str(),
            with_crlf.as_str(),
            percent.as_str(),
            padded.as_str(),
            huge.as_str(),
        ] {
            assert!(SessionId::parse(bad).is_none(), "accepted {bad:?}");
        }
    }

    #[test]
    fn refuses_non_canonical_trailing_bits() {
        // 'A' ends in zero bits; 'B' encodes the same byte with a stray low bit set.
        let canonical = format!("{}A", "A".repeat(42));
        let sloppy = format!("{}B", "A".repeat(42));
        assert!(SessionId::parse(&canonical).is_some());
        assert!(SessionId::parse(&sloppy).is_none());
    }

    #[test]
    fn debug_is_redacted() {
        let id = SessionId::generate().expect("os randomness");
        let shown = format!("{id:?}");
        assert!(!shown.contains(id.as_str()));
        assert_eq!(shown, "SessionId(<redacted>)");
    }
}
