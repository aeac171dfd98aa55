//! Known-answer vectors for our own formats (`vectors.json`), computed by
//! `scripts/own-format-vectors` in Python from the documented constructions, never by
//! this crate: dropping the format version, the cookie name or the HKDF step, or any
//! other change to the wire format, fails here even though every round trip passes.

use serde_json::Value;

use session_core::{TokenVerifier, VerifiedToken};

use super::signing::Signer;
use super::{SessionCookie, SigningFormat};

fn vectors(format: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(include_str!("vectors.json")).expect("valid JSON");
    let list = all[format].as_array().expect("a list of vectors").clone();
    assert!(!list.is_empty(), "no {format} vectors");
    list
}

fn text<'v>(vector: &'v Value, field: &str) -> &'v str {
    vector[field]
        .as_str()
        .unwrap_or_else(|| panic!("vector field {field} is not a string: {vector}"))
}

fn cookie(vector: &Value, format: SigningFormat, secrets: &[&str]) -> SessionCookie {
    SessionCookie::builder(text(vector, "name"))
        .secrets(secrets.iter().copied())
        .format(format)
        .build()
        .expect("a valid vector cookie")
}

/// Verifying with a newer secret first still opens the vector, as an old secret's.
fn assert_opens_after_rotation(vector: &Value, format: SigningFormat) {
    let rotated = cookie(vector, format, &["a newer secret", text(vector, "secret")]);
    assert_eq!(
        TokenVerifier::verify(&rotated, text(vector, "signed")),
        Some(VerifiedToken {
            value: text(vector, "value").to_owned(),
            by_old_secret: true,
        }),
        "{vector}"
    );
}

#[test]
fn name_bound_vectors_sign_and_verify_exactly() {
    for vector in vectors("name_bound") {
        let cookie = cookie(
            &vector,
            SigningFormat::NameBound,
            &[text(&vector, "secret")],
        );
        let (value, signed) = (text(&vector, "value"), text(&vector, "signed"));
        assert_eq!(cookie.sign(value).expect("sign"), signed, "{vector}");
        assert_eq!(cookie.verify(signed).as_deref(), Some(value), "{vector}");
        assert_opens_after_rotation(&vector, SigningFormat::NameBound);
    }
}

#[test]
fn private_vectors_seal_and_open_exactly() {
    for vector in vectors("private") {
        let cookie = cookie(&vector, SigningFormat::Private, &[text(&vector, "secret")]);
        let (value, signed) = (text(&vector, "value"), text(&vector, "signed"));
        let nonce_hex = text(&vector, "nonce_hex");
        let nonce: [u8; 12] = (0..nonce_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&nonce_hex[i..i + 2], 16).expect("hex nonce"))
            .collect::<Vec<_>>()
            .try_into()
            .expect("a 12-byte nonce");
        let Signer::Private(sealer) = &cookie.signer else {
            panic!("a private cookie has a sealer");
        };
        assert_eq!(
            sealer.sign_with_nonce(value, nonce).expect("seal"),
            signed,
            "{vector}"
        );
        assert_eq!(cookie.verify(signed).as_deref(), Some(value), "{vector}");
        assert_opens_after_rotation(&vector, SigningFormat::Private);
    }
}

/// The vectors under two names with the same secret and value differ, and neither
/// opens under the other name: the name really is part of what was computed.
#[test]
fn vectors_for_another_name_do_not_verify() {
    for (group, format) in [
        ("name_bound", SigningFormat::NameBound),
        ("private", SigningFormat::Private),
    ] {
        let list = vectors(group);
        let (session, prefs) = (&list[0], &list[1]);
        assert_eq!(
            (text(session, "name"), text(prefs, "name")),
            ("__session", "prefs"),
            "the first two {group} vectors differ only by name"
        );
        assert_ne!(text(session, "signed"), text(prefs, "signed"));
        let under_prefs = cookie(prefs, format, &[text(prefs, "secret")]);
        assert_eq!(under_prefs.verify(text(session, "signed")), None, "{group}");
    }
}
