//! Known answers and tamper checks for the signed formats.

use super::*;

fn signer(format: SigningFormat, name: &str, secrets: &[&str]) -> Signer {
    let secrets: Vec<Secret> = secrets
        .iter()
        .map(|s| Secret::new(s.as_bytes().to_vec()))
        .collect();
    Signer::new(format, name, &secrets)
}

/// The verified value alone.
fn verified_value(signer: &Signer, signed: &str) -> Option<String> {
    signer.verify(signed).map(|verified| verified.value)
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
    assert_eq!(
        verified_value(&remix, padded).as_deref(),
        Some("hello world")
    );
}

#[test]
fn default_format_round_trips_and_binds_the_name() {
    let session = signer(SigningFormat::NameBound, "__session", &["k"]);
    let other = signer(SigningFormat::NameBound, "prefs", &["k"]);
    let signed = session.sign("value with ünïcode").expect("sign");
    assert_eq!(
        verified_value(&session, &signed).as_deref(),
        Some("value with ünïcode")
    );
    assert_eq!(
        verified_value(&other, &signed),
        None,
        "moved to another cookie name"
    );
    assert_eq!(
        verified_value(&session, &other.sign("x").expect("sign")),
        None
    );
}

#[test]
fn formats_do_not_verify_each_other() {
    let remix = signer(SigningFormat::Remix, "__session", &["k"]);
    let ours = signer(SigningFormat::NameBound, "__session", &["k"]);
    assert_eq!(verified_value(&ours, &remix.sign("v").expect("sign")), None);
    assert_eq!(verified_value(&remix, &ours.sign("v").expect("sign")), None);
}

#[test]
fn rotation_signs_with_the_first_and_verifies_with_all() {
    let old = signer(SigningFormat::NameBound, "n", &["old"]);
    let rotated = signer(SigningFormat::NameBound, "n", &["new", "old"]);
    let new_only = signer(SigningFormat::NameBound, "n", &["new"]);
    let signed_old = old.sign("v").expect("sign");
    assert_eq!(verified_value(&rotated, &signed_old).as_deref(), Some("v"));
    assert_eq!(verified_value(&new_only, &signed_old), None);
    assert_eq!(
        verified_value(&new_only, &rotated.sign("v").expect("sign")).as_deref(),
        Some("v")
    );
}

#[test]
fn only_a_value_signed_with_an_older_secret_asks_to_be_reissued() {
    for format in [
        SigningFormat::NameBound,
        SigningFormat::Remix,
        SigningFormat::ReactRouter,
        SigningFormat::Private,
    ] {
        let old = signer(format, "n", &["old"]);
        let rotated = signer(format, "n", &["new", "old"]);
        assert_eq!(rotated.secret_count(), 2);
        assert_eq!(rotated.format(), format);
        let by_new = rotated.verify(&rotated.sign("v").expect("sign"));
        let by_old = rotated.verify(&old.sign("v").expect("sign"));
        assert!(!by_new.expect("verifies").by_old_secret, "{format:?}");
        assert!(by_old.expect("verifies").by_old_secret, "{format:?}");
    }
}

#[test]
fn every_tamper_is_rejected() {
    for format in [
        SigningFormat::NameBound,
        SigningFormat::Remix,
        SigningFormat::ReactRouter,
    ] {
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
                verified_value(&s, candidate),
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
                    // `%3d` is `%3D` spelled another way: the same signed text.
                    let same =
                        react_router::uri_decode(&flipped) == react_router::uri_decode(&signed);
                    if flipped != signed && !same {
                        assert_eq!(
                            verified_value(&s, &flipped),
                            None,
                            "{format:?} flip {i}/{bit}"
                        );
                    }
                }
            }
        }
    }
}
