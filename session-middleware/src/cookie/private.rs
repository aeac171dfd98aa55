//! The private cookie format: AES-256-GCM, so the client can neither read nor change
//! the session it carries.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use session_core::Error;
use sha2::Sha256;

use session_core::VerifiedToken;

use super::signing::Secret;

/// HKDF `info` for the encryption key, version 1. A secret shared with the signed
/// formats (or another app) thus never serves as the same key twice.
const KEY_INFO: &[u8] = b"session-middleware\0private-cookie\0aes-256-gcm\0v1";
/// Associated data prefix: the format version; the cookie name follows.
const AAD_LABEL: &[u8] = b"session-middleware\0private-cookie\0v1\0";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encrypts with the first secret's key and decrypts with any (key rotation).
#[derive(Clone)]
pub(crate) struct Sealer {
    ciphers: Vec<Aes256Gcm>,
    /// Label and cookie name, authenticated with every value: a value sealed for
    /// another cookie does not open here.
    aad: Vec<u8>,
}

impl Sealer {
    pub(crate) fn new(cookie_name: &str, secrets: &[Secret]) -> Self {
        let ciphers = secrets
            .iter()
            .map(|secret| {
                let mut key = [0u8; 32];
                Hkdf::<Sha256>::new(None, secret.as_bytes())
                    .expand(KEY_INFO, &mut key)
                    .expect("32 bytes is far below HKDF-SHA256's 8160-byte limit");
                Aes256Gcm::new(&key.into())
            })
            .collect();
        let mut aad = AAD_LABEL.to_vec();
        aad.extend_from_slice(cookie_name.as_bytes());
        Self { ciphers, aad }
    }

    pub(crate) fn secret_count(&self) -> usize {
        self.ciphers.len()
    }

    /// Encrypts and authenticates `value` with the first key:
    /// `base64url(nonce ‖ ciphertext ‖ tag)`, with a fresh random nonce every time.
    pub(crate) fn sign(&self, value: &str) -> Result<String, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(Error::Randomness)?;
        self.seal(value, nonce)
    }

    /// [`sign`](Self::sign) with a given nonce: the seam for the known-answer vectors
    /// (`vectors.rs`). Never reuse a nonce outside tests.
    #[cfg(test)]
    pub(crate) fn sign_with_nonce(
        &self,
        value: &str,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, Error> {
        self.seal(value, nonce)
    }

    fn seal(&self, value: &str, nonce: [u8; NONCE_LEN]) -> Result<String, Error> {
        let Some(cipher) = self.ciphers.first() else {
            return Err(Error::UnsignedCookie);
        };
        let payload = Payload {
            msg: value.as_bytes(),
            aad: &self.aad,
        };
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| Error::Internal("AES-GCM refused to encrypt a session cookie"))?;
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The plaintext, if `sealed` authenticates under one of the keys; the tag is
    /// checked before any plaintext exists, and nothing is returned when it fails.
    pub(crate) fn verify(&self, sealed: &str) -> Option<VerifiedToken> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let (plain, key) = self.ciphers.iter().enumerate().find_map(|(key, cipher)| {
            let payload = Payload {
                msg: ciphertext,
                aad: &self.aad,
            };
            let plain = cipher.decrypt(Nonce::from_slice(nonce), payload).ok()?;
            Some((plain, key))
        })?;
        Some(VerifiedToken {
            value: String::from_utf8(plain).ok()?,
            by_old_secret: key > 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(name: &str, secrets: &[&str]) -> Sealer {
        let secrets: Vec<Secret> = secrets
            .iter()
            .map(|s| Secret::new(s.as_bytes().to_vec()))
            .collect();
        Sealer::new(name, &secrets)
    }

    #[test]
    fn round_trips_and_hides_the_value() {
        let s = sealer("__session", &["k"]);
        let sealed = s
            .sign(r#"{"i":"x","d":[{"secret":"hunter2"},{}]}"#)
            .expect("seal");
        assert!(!sealed.contains("hunter2"));
        let raw = URL_SAFE_NO_PAD.decode(&sealed).expect("base64url");
        assert!(!String::from_utf8_lossy(&raw).contains("hunter2"));
        assert_eq!(
            s.verify(&sealed).map(|v| v.value).as_deref(),
            Some(r#"{"i":"x","d":[{"secret":"hunter2"},{}]}"#)
        );
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let s = sealer("n", &["k"]);
        assert_ne!(s.sign("same").expect("seal"), s.sign("same").expect("seal"));
    }

    #[test]
    fn refuses_other_names_other_keys_and_tampering() {
        let s = sealer("a", &["k"]);
        let sealed = s.sign("v").expect("seal");
        assert_eq!(
            sealer("b", &["k"]).verify(&sealed),
            None,
            "moved to another cookie"
        );
        assert_eq!(sealer("a", &["other"]).verify(&sealed), None);
        assert_eq!(
            sealer("a", &["new", "k"])
                .verify(&sealed)
                .map(|v| v.value)
                .as_deref(),
            Some("v")
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).expect("base64url");
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            assert_eq!(s.verify(&URL_SAFE_NO_PAD.encode(&bytes)), None, "byte {i}");
            bytes[i] ^= 1;
        }
        assert_eq!(s.verify(&sealed[..sealed.len() - 2]), None);
        assert_eq!(s.verify(""), None);
    }
}
