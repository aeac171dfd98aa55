//! Protecting cookie values: HMAC-SHA256 in Remix's format or in our name-bound
//! default, or AES-256-GCM in the private format (`private.rs`).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use session_core::{constant_time_eq, Error, VerifiedToken};
use sha2::Sha256;

use super::private::Sealer;
use super::react_router;

type HmacSha256 = Hmac<Sha256>;

/// Bytes in an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;
/// Characters in such a tag in unpadded base64.
const CANONICAL_TAG_LEN: usize = 43;

/// Domain-separation label of the default format, version 1. It starts every MAC input,
/// and it contains NUL bytes, which a Remix MAC input (base64 text) never does: a tag
/// made for one format can never verify in the other, even with the same secret.
const DEFAULT_V1_LABEL: &[u8] = b"session-middleware\0signed-cookie\0v1\0";

/// How a session cookie's value is protected.
///
/// The signed formats put `payload "." tag` in the cookie, with an HMAC-SHA256 tag
/// checked in constant time before anything else is done with the value; the private
/// format encrypts. The algorithm is fixed by this setting, never read from the cookie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigningFormat {
    /// The default: payload in URL-safe base64, and a tag that covers a format version
    /// and the cookie's name as well as the payload. A value signed for another cookie
    /// with the same secret is refused.
    ///
    /// Wire format: `payload "." tag`, where `payload` is the value in base64url
    /// without padding and `tag` is, also in base64url without padding,
    /// `HMAC-SHA256(secret, "session-middleware\0signed-cookie\0v1\0" ‖ name ‖ "\0" ‖ payload)`
    /// (`\0` a NUL byte). Known-answer vectors: `src/cookie/vectors.json`.
    #[default]
    NameBound,
    /// Byte-identical to Remix's `@remix-run/cookie`: payload in standard base64, tag
    /// over the payload alone. Choose it to share sessions with a Node Remix app.
    ///
    /// Weaker: any cookie signed with the same secret (say, a user-controlled preference
    /// cookie) verifies as a session cookie. Never reuse the secret elsewhere.
    Remix,
    /// Encrypted and authenticated with AES-256-GCM (key derived from each secret with
    /// HKDF-SHA256, a fresh random nonce per cookie, the cookie name and a format
    /// version as associated data): the client can neither read nor change the value.
    /// Use it with cookie storage when the session holds anything the user must not
    /// see. Not readable by Remix.
    ///
    /// Wire format: base64url without padding of `nonce ‖ ciphertext ‖ tag` (a 12-byte
    /// random nonce, a 16-byte tag), AES-256-GCM with the key
    /// `HKDF-SHA256(salt: none, ikm: secret, info: "session-middleware\0private-cookie\0aes-256-gcm\0v1")`
    /// and the associated data `"session-middleware\0private-cookie\0v1\0" ‖ name`.
    /// Known-answer vectors: `src/cookie/vectors.json`.
    Private,
    /// Byte-identical to React Router 7 and 8 and Remix 2 (`createCookie` in
    /// `react-router`, `@remix-run/node` 2): the cookie holds the JSON of the value
    /// (a by-ID session's ID as a JSON string; with
    /// `CookieStore::react_router`, the session's data as an object), in standard
    /// base64 with padding, then `.` and the unpadded HMAC-SHA256 of that, the whole
    /// URI-encoded (`=`, `+`, `/` as `%3D`, `%2B`, `%2F`). `Set-Cookie` attributes
    /// follow React Router's order, a cleared cookie is `name=` with an `Expires` in
    /// 1970, and the whole `Set-Cookie` must fit in 4096 bytes. Choose it to share
    /// sessions with a React Router or Remix 2 app.
    ///
    /// Reading: a value is URI-decoded only if it contains `%`, split at its last `.`,
    /// checked against every secret in constant time, then decoded (base64 with or
    /// without padding, strict UTF-8, JSON). **Signatures must be canonical**: the
    /// 43-character form every line writes. React Router 7 and 8 also accept a padded
    /// signature or one whose last character differs in its two unused bits (Remix 2
    /// does not); this format refuses both, so one cookie has one spelling.
    ///
    /// As weak as [`Remix`](Self::Remix) against a cookie signed with the same secret
    /// for another purpose: never reuse the secret.
    ReactRouter,
}

/// Remix decodes with `atob`, which accepts base64 with or without padding.
const REMIX_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const REMIX_TAG_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// React Router's payload, read as `atob` reads it: padding optional, stray low bits
/// in the last character ignored. The MAC covers the text, so this leniency changes
/// nothing about what verifies.
const REACT_ROUTER_PAYLOAD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// React Router's tag, read strictly: no padding, canonical last character.
const REACT_ROUTER_TAG_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// A signing secret as the builder collects it: bytes with nothing to show. After
/// `build` only the keyed state derived from it remains.
#[derive(Clone)]
pub(crate) struct Secret(Vec<u8>);

impl Secret {
    pub(crate) fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Signs with the first secret and verifies with all of them (key rotation).
///
/// One enum, so the format and the key material can never disagree: a private cookie
/// always has ciphers, a signed one always has MAC keys. Each secret's state is keyed
/// (and, in the name-bound format, fed the label and the cookie name) once at
/// construction; a request only clones that state. With no secrets it only encodes;
/// the session layer refuses such a cookie.
#[derive(Clone)]
pub(crate) enum Signer {
    /// HMAC-SHA256 tags: [`SigningFormat::NameBound`], [`SigningFormat::Remix`] or
    /// [`SigningFormat::ReactRouter`].
    Mac {
        format: SigningFormat,
        keys: Vec<HmacSha256>,
    },
    /// AES-256-GCM: [`SigningFormat::Private`].
    Private(Sealer),
}

impl Signer {
    pub(crate) fn new(format: SigningFormat, cookie_name: &str, secrets: &[Secret]) -> Self {
        if format == SigningFormat::Private {
            return Self::Private(Sealer::new(cookie_name, secrets));
        }
        let keys = secrets
            .iter()
            .map(|secret| {
                let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
                    .expect("HMAC accepts keys of any length");
                if format == SigningFormat::NameBound {
                    mac.update(DEFAULT_V1_LABEL);
                    // Cookie names cannot contain NUL, so `name NUL payload` is unambiguous.
                    mac.update(cookie_name.as_bytes());
                    mac.update(b"\0");
                }
                mac
            })
            .collect();
        Self::Mac { format, keys }
    }

    pub(crate) fn format(&self) -> SigningFormat {
        match self {
            Self::Mac { format, .. } => *format,
            Self::Private(_) => SigningFormat::Private,
        }
    }

    /// How many secrets verify (0: the cookie is unsigned).
    pub(crate) fn secret_count(&self) -> usize {
        match self {
            Self::Mac { keys, .. } => keys.len(),
            Self::Private(sealer) => sealer.secret_count(),
        }
    }

    /// Encodes `value` and signs it with the first secret (or encrypts it, in the
    /// private format).
    ///
    /// # Errors
    ///
    /// Only the private format can fail: no randomness for the nonce, or no secret.
    pub(crate) fn sign(&self, value: &str) -> Result<String, Error> {
        let (format, keys) = match self {
            Self::Private(sealer) => return sealer.sign(value),
            Self::Mac { format, keys } => (*format, keys),
        };
        if format == SigningFormat::ReactRouter {
            return Ok(react_router::uri_encode(&Self::tagged(
                REMIX_BASE64.encode(react_router::to_json_text(value)),
                keys,
            )));
        }
        let remix = format == SigningFormat::Remix;
        let payload = if remix {
            REMIX_BASE64.encode(value)
        } else {
            URL_SAFE_NO_PAD.encode(value)
        };
        let Some(key) = keys.first() else {
            return Ok(payload);
        };
        let mut mac = key.clone();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut signed = payload;
        signed.push('.');
        if remix {
            REMIX_TAG_BASE64.encode_string(tag, &mut signed);
        } else {
            URL_SAFE_NO_PAD.encode_string(tag, &mut signed);
        }
        Ok(signed)
    }

    /// `payload`, then `.` and its tag in Remix's form (standard base64, unpadded) with
    /// the first key; `payload` alone without keys.
    fn tagged(payload: String, keys: &[HmacSha256]) -> String {
        let Some(key) = keys.first() else {
            return payload;
        };
        let mut mac = key.clone();
        mac.update(payload.as_bytes());
        let mut signed = payload;
        signed.push('.');
        REMIX_TAG_BASE64.encode_string(mac.finalize().into_bytes(), &mut signed);
        signed
    }

    /// React Router's `parse` of a cookie value, with canonical signatures only.
    fn verify_react_router(keys: &[HmacSha256], raw: &str) -> Option<VerifiedToken> {
        let signed = react_router::uri_decode(raw);
        let (payload, tag_text) = signed.rsplit_once('.')?;
        let mut tag = [0u8; TAG_LEN + 3];
        if tag_text.len() != CANONICAL_TAG_LEN
            || REACT_ROUTER_TAG_BASE64
                .decode_slice(tag_text, &mut tag)
                .ok()?
                != TAG_LEN
        {
            return None;
        }
        let key = Self::verifying_key(keys, payload, &tag[..TAG_LEN])?;
        let json = String::from_utf8(REACT_ROUTER_PAYLOAD_BASE64.decode(payload).ok()?).ok()?;
        Some(VerifiedToken {
            value: react_router::from_json_text(json)?,
            by_old_secret: key > 0,
        })
    }

    /// The index of the first key whose tag over `payload` is `tag`, each compared in
    /// constant time.
    fn verifying_key(keys: &[HmacSha256], payload: &str, tag: &[u8]) -> Option<usize> {
        keys.iter().position(|key| {
            let mut mac = key.clone();
            mac.update(payload.as_bytes());
            constant_time_eq(&mac.finalize().into_bytes(), tag)
        })
    }

    /// Checks the tag against every secret, in constant time per secret, and only then
    /// decodes the payload (or, in the private format, authenticates and decrypts).
    /// `None` for anything that does not verify or decode.
    pub(crate) fn verify(&self, signed: &str) -> Option<VerifiedToken> {
        let (format, keys) = match self {
            Self::Private(sealer) => return sealer.verify(signed),
            Self::Mac { format, keys } => (*format, keys),
        };
        if format == SigningFormat::ReactRouter {
            return Self::verify_react_router(keys, signed);
        }
        let remix = format == SigningFormat::Remix;
        let (payload, tag_text) = signed.rsplit_once('.')?;
        let mut tag = [0u8; TAG_LEN + 3];
        let tag_len = if remix {
            REMIX_TAG_BASE64.decode_slice(tag_text, &mut tag)
        } else {
            URL_SAFE_NO_PAD.decode_slice(tag_text, &mut tag)
        }
        .ok()?;
        if tag_len != TAG_LEN {
            return None;
        }
        let key = Self::verifying_key(keys, payload, &tag[..TAG_LEN])?;
        let bytes = if remix {
            REMIX_BASE64.decode(payload)
        } else {
            URL_SAFE_NO_PAD.decode(payload)
        }
        .ok()?;
        Some(VerifiedToken {
            value: String::from_utf8(bytes).ok()?,
            by_old_secret: key > 0,
        })
    }
}

#[cfg(test)]
mod tests;
