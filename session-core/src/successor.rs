//! The pointer a renewal leaves under the old ID: the new ID, sealed with the old one.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::{constant_time_eq, SessionId};

/// The ID that replaced a renewed one ([`StoredSession::successor`]), as the old ID's
/// short-lived record keeps it: sealed with the old ID, so that someone who reads the
/// store (a replica, a backup, `MONITOR`) but holds no ID learns no ID that works, as
/// with hashed keys. Only a request presenting the old ID can [`open`](Self::open) it.
///
/// ```
/// use session_core::{SessionId, Successor};
///
/// let (old, new) = (SessionId::generate()?, SessionId::generate()?);
/// let sealed = Successor::seal(&old, &new);
/// assert!(!sealed.as_str().contains(new.as_str()));
/// assert_eq!(sealed.open(&old), Some(new));
/// assert_eq!(sealed.open(&SessionId::generate()?), None);
/// # Ok::<(), session_core::Error>(())
/// ```
///
/// [`StoredSession::successor`]: crate::StoredSession::successor
#[derive(Clone, PartialEq, Eq)]
pub struct Successor(String);

/// The most bytes an ID's text has (43 for native IDs; Remix's UUIDs are 36).
const MAX_ID_LEN: usize = 64;

impl Successor {
    /// `to`, sealed with `from`.
    pub fn seal(from: &SessionId, to: &SessionId) -> Self {
        let mut bytes = to.as_str().as_bytes().to_vec();
        xor_with_keystream(&mut bytes, from);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The ID sealed in here, if `from` is the ID it was sealed with.
    pub fn open(&self, from: &SessionId) -> Option<SessionId> {
        // At most 66 bytes: `from_stored` bounds the text, `seal` the ID.
        let mut bytes = URL_SAFE_NO_PAD.decode(&self.0).ok()?;
        xor_with_keystream(&mut bytes, from);
        let id = SessionId::parse(std::str::from_utf8(&bytes).ok()?)?;
        // Opened with another ID, the bytes are noise: parsing fails all but always,
        // and sealing again tells the rare survivor apart.
        constant_time_eq(Self::seal(from, &id).0.as_bytes(), self.0.as_bytes()).then_some(id)
    }

    /// The sealed text, as a record stores it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A successor as a record stored it; `None` for text that cannot be one.
    pub fn from_stored(text: String) -> Option<Self> {
        let fits = !text.is_empty()
            && text.len() <= MAX_ID_LEN.div_ceil(3) * 4
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        fits.then_some(Self(text))
    }
}

/// XORs `bytes` with SHA-256 blocks keyed by `from`, one per 32 bytes.
fn xor_with_keystream(bytes: &mut [u8], from: &SessionId) {
    for (block, chunk) in bytes.chunks_mut(32).enumerate() {
        let mut hasher = Sha256::new();
        hasher.update(b"session successor\0");
        hasher.update([u8::try_from(block).unwrap_or(u8::MAX)]);
        hasher.update(from.as_str().as_bytes());
        for (byte, key) in chunk.iter_mut().zip(hasher.finalize()) {
            *byte ^= key;
        }
    }
}

impl fmt::Debug for Successor {
    /// Sealed or not, it leads to a session: never shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Successor(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_old_id_opens_it_and_stored_text_is_checked() {
        let (old, new) = (
            SessionId::generate().expect("id"),
            SessionId::generate().expect("id"),
        );
        let sealed = Successor::seal(&old, &new);
        assert_eq!(sealed.open(&old).as_ref(), Some(&new));
        assert_eq!(sealed.open(&new), None);
        let uuid = SessionId::parse("f81d4fae-7dec-11d0-a765-00a0c91e6bf6").expect("a UUID");
        assert_eq!(Successor::seal(&uuid, &new).open(&uuid), Some(new.clone()));
        let stored = Successor::from_stored(sealed.as_str().to_owned()).expect("valid");
        assert_eq!(stored, sealed);
        for bad in ["", "../etc", "a b", &"A".repeat(200)] {
            assert_eq!(Successor::from_stored(bad.to_owned()), None, "{bad}");
        }
        assert_eq!(format!("{sealed:?}"), "Successor(<redacted>)");
    }
}
