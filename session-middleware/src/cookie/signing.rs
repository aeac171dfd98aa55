//! Protecting cookie values: HMAC-SHA256 in Remix's format or in our name-bound
//! default, or AES-256-GCM in the private format (`private.rs`).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use session_core::{constant_time_eq, Error};
use sha2::Sha256;

use super::private::Sealer;

type HmacSha256 = Hmac<Sha256>;

/// Bytes in an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

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
    Private,
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

/// Signs with the first secret and verifies with all of them (key rotation).
///
/// Each secret's HMAC state is keyed (and, in the default format, fed the label and the
/// cookie name) once at construction; a request only clones that state.
#[derive(Clone)]
pub(crate) struct Signer {
    format: SigningFormat,
    keys: Vec<HmacSha256>,
    /// Set for [`SigningFormat::Private`], which encrypts instead of signing.
    sealer: Option<Sealer>,
}

impl Signer {
    /// Without secrets it only encodes; the session layer refuses such a cookie.
    pub(crate) fn new(format: SigningFormat, cookie_name: &str, secrets: &[Vec<u8>]) -> Self {
        if format == SigningFormat::Private {
            return Self {
                format,
                keys: Vec::new(),
                sealer: Some(Sealer::new(cookie_name, secrets)),
            };
        }
        let keys = secrets
            .iter()
            .map(|secret| {
                // HMAC takes keys of any length, so this cannot fail.
                let mut mac = <HmacSha256 as Mac>::new_from_slice(secret)
                    .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
                if format == SigningFormat::NameBound {
                    mac.update(DEFAULT_V1_LABEL);
                    // Cookie names cannot contain NUL, so `name NUL payload` is unambiguous.
                    mac.update(cookie_name.as_bytes());
                    mac.update(b"\0");
                }
                mac
            })
            .collect();
        Self {
            format,
            keys,
            sealer: None,
        }
    }

    /// Encodes `value` and signs it with the first secret (or encrypts it, in the
    /// private format).
    ///
    /// # Errors
    ///
    /// Only the private format can fail: no randomness for the nonce, or no secret.
    pub(crate) fn sign(&self, value: &str) -> Result<String, Error> {
        if let Some(sealer) = &self.sealer {
            return sealer.seal(value);
        }
        let payload = match self.format {
            SigningFormat::Remix => REMIX_BASE64.encode(value),
            _ => URL_SAFE_NO_PAD.encode(value),
        };
        let Some(key) = self.keys.first() else {
            return Ok(payload);
        };
        let mut mac = key.clone();
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut signed = payload;
        signed.push('.');
        match self.format {
            SigningFormat::Remix => REMIX_TAG_BASE64.encode_string(tag, &mut signed),
            _ => URL_SAFE_NO_PAD.encode_string(tag, &mut signed),
        }
        Ok(signed)
    }

    /// Checks the tag against every secret, in constant time per secret, and only then
    /// decodes the payload. `None` for anything that does not verify or decode.
    pub(crate) fn unsign(&self, signed: &str) -> Option<String> {
        self.unsign_keyed(signed).map(|(value, _)| value)
    }

    /// Like [`unsign`](Self::unsign), also saying which secret (by position) verified.
    pub(crate) fn unsign_keyed(&self, signed: &str) -> Option<(String, usize)> {
        if let Some(sealer) = &self.sealer {
            return sealer.open(signed);
        }
        let (payload, tag_text) = signed.rsplit_once('.')?;
        let mut tag = [0u8; TAG_LEN + 3];
        let tag_len = match self.format {
            SigningFormat::Remix => REMIX_TAG_BASE64.decode_slice(tag_text, &mut tag),
            _ => URL_SAFE_NO_PAD.decode_slice(tag_text, &mut tag),
        }
        .ok()?;
        if tag_len != TAG_LEN {
            return None;
        }
        let key = self.keys.iter().position(|key| {
            let mut mac = key.clone();
            mac.update(payload.as_bytes());
            constant_time_eq(&mac.finalize().into_bytes(), &tag[..TAG_LEN])
        })?;
        let bytes = match self.format {
            SigningFormat::Remix => REMIX_BASE64.decode(payload),
            _ => URL_SAFE_NO_PAD.decode(payload),
        }
        .ok()?;
        Some((String::from_utf8(bytes).ok()?, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(format: SigningFormat, name: &str, secrets: &[&str]) -> Signer {
        let secrets: Vec<Vec<u8>> = secrets.iter().map(|s| s.as_bytes().to_vec()).collect();
        Signer::new(format, name, &secrets)
    }

    #[test]
    fn remix_format_matches_remix_research_vectors() {
        // Computed with Remix's own cookie-signing code (research report, section 5).
        let remix = signer(SigningFormat::Remix, "__sess", &["secret1"]);
        assert_eq!(
            remix.sign("hello world").expect("sign"),
            "aGVsbG8gd29ybGQ=.ZskLLPs1joWNLq8B6/7g5iiDEm71SItUSsl7x5L5hW0"
        );
        assert_eq!(
            remix.sign("日本語").expect("sign"),
            "5pel5pys6Kqe.7fy39Oe4JvMJ/z4bMy8yZxj9b+9hxwORNpwmz1yVIEQ"
        );
        // atob is forgiving about padding, and so are we for this format.
        let padded = "aGVsbG8gd29ybGQ=.ZskLLPs1joWNLq8B6/7g5iiDEm71SItUSsl7x5L5hW0=";
        assert_eq!(remix.unsign(padded).as_deref(), Some("hello world"));
    }

    #[test]
    fn default_format_round_trips_and_binds_the_name() {
        let session = signer(SigningFormat::NameBound, "__session", &["k"]);
        let other = signer(SigningFormat::NameBound, "prefs", &["k"]);
        let signed = session.sign("value with ünïcode").expect("sign");
        assert_eq!(
            session.unsign(&signed).as_deref(),
            Some("value with ünïcode")
        );
        assert_eq!(other.unsign(&signed), None, "moved to another cookie name");
        assert_eq!(session.unsign(&other.sign("x").expect("sign")), None);
    }

    #[test]
    fn formats_do_not_verify_each_other() {
        let remix = signer(SigningFormat::Remix, "__session", &["k"]);
        let ours = signer(SigningFormat::NameBound, "__session", &["k"]);
        assert_eq!(ours.unsign(&remix.sign("v").expect("sign")), None);
        assert_eq!(remix.unsign(&ours.sign("v").expect("sign")), None);
    }

    #[test]
    fn rotation_signs_with_the_first_and_verifies_with_all() {
        let old = signer(SigningFormat::NameBound, "n", &["old"]);
        let rotated = signer(SigningFormat::NameBound, "n", &["new", "old"]);
        let new_only = signer(SigningFormat::NameBound, "n", &["new"]);
        let signed_old = old.sign("v").expect("sign");
        assert_eq!(rotated.unsign(&signed_old).as_deref(), Some("v"));
        assert_eq!(new_only.unsign(&signed_old), None);
        assert_eq!(
            new_only
                .unsign(&rotated.sign("v").expect("sign"))
                .as_deref(),
            Some("v")
        );
    }

    #[test]
    fn every_tamper_is_rejected() {
        for format in [SigningFormat::NameBound, SigningFormat::Remix] {
            let s = signer(format, "n", &["secret"]);
            let signed = s.sign("payload").expect("sign");
            let (payload, tag) = signed.rsplit_once('.').expect("dot");
            let bad = [
                format!("{signed}x"),
                format!("{signed}A"),
                signed[..signed.len() - 1].to_string(),
                format!("{payload}."),
                format!(".{tag}"),
                payload.to_string(),
                format!("x{signed}"),
                ".".to_string(),
                String::new(),
            ];
            for candidate in &bad {
                assert_eq!(
                    s.unsign(candidate),
                    None,
                    "{format:?} accepted {candidate:?}"
                );
            }
            // Every single-bit flip of every byte.
            for i in 0..signed.len() {
                for bit in 0..8 {
                    let mut bytes = signed.clone().into_bytes();
                    bytes[i] ^= 1 << bit;
                    if let Ok(flipped) = String::from_utf8(bytes) {
                        if flipped != signed {
                            assert_eq!(s.unsign(&flipped), None, "{format:?} flip {i}/{bit}");
                        }
                    }
                }
            }
        }
    }
}
