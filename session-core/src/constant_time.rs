//! Comparing secrets without leaking where they differ.

use std::hint::black_box;

/// True when `a` and `b` hold the same bytes, in time that depends only on their
/// lengths (which are public: a session ID or an HMAC tag has a fixed length).
///
/// Used for session IDs and cookie signatures. It folds every byte's difference into
/// one accumulator and looks at it once; `black_box` keeps the optimizer from turning
/// the loop into an early-exit comparison. (The `subtle` crate does the same per byte
/// through a non-inlined call each, which costs more than the HMAC check it guards.)
///
/// # Example
///
/// ```
/// use session_core::constant_time_eq;
///
/// assert!(constant_time_eq(b"tag", b"tag"));
/// assert!(!constant_time_eq(b"tag", b"taG"));
/// assert!(!constant_time_eq(b"tag", b"tags"));
/// ```
#[must_use]
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (a, b) = (black_box(a), black_box(b));
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_only_when_every_byte_is() {
        let tag = [0x5au8; 32];
        assert!(constant_time_eq(&tag, &tag));
        for i in 0..tag.len() {
            for bit in 0..8 {
                let mut other = tag;
                other[i] ^= 1 << bit;
                assert!(!constant_time_eq(&tag, &other), "byte {i} bit {bit}");
            }
        }
        // Two bytes off by the same bits: differences must add up, not cancel out.
        assert!(!constant_time_eq(b"aa", b"``"));
        assert!(constant_time_eq(&[], &[]));
        assert!(!constant_time_eq(&tag, &tag[..31]));
    }
}
