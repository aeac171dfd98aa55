//! Property tests of cookie signing (security.md §5): whatever the value, name and
//! secrets, a signed value round-trips, and no bit flip, truncation, extension, name
//! swap or foreign secret gets through.

use proptest::prelude::*;

use super::{SessionCookie, SigningFormat, MAX_COOKIE_SIZE};

fn format() -> impl Strategy<Value = SigningFormat> {
    prop_oneof![
        Just(SigningFormat::NameBound),
        Just(SigningFormat::Remix),
        Just(SigningFormat::Private)
    ]
}

/// Valid cookie names: RFC 7230 tokens.
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,24}"
}

fn secret() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..64)
}

fn cookie(format: SigningFormat, name: &str, secrets: &[Vec<u8>]) -> SessionCookie {
    SessionCookie::builder(name)
        .secrets(secrets.iter().cloned())
        .format(format)
        .build()
        .expect("a valid cookie")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn signed_values_round_trip(
        format in format(),
        name in name(),
        secrets in prop::collection::vec(secret(), 1..4),
        value in any::<String>(),
    ) {
        let cookie = cookie(format, &name, &secrets);
        prop_assert_eq!(cookie.verify(&cookie.sign(&value).expect("sign")), Some(value));
    }

    #[test]
    fn any_bit_flip_is_rejected(
        format in format(),
        secret in secret(),
        value in any::<String>(),
        position in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let cookie = cookie(format, "s", &[secret]);
        let signed = cookie.sign(&value).expect("sign");
        let mut bytes = signed.clone().into_bytes();
        let at = position.index(bytes.len());
        bytes[at] ^= 1 << bit;
        if let Ok(flipped) = String::from_utf8(bytes) {
            prop_assert_eq!(cookie.verify(&flipped), None, "{} verified", flipped);
        }
    }

    #[test]
    fn truncations_and_extensions_are_rejected(
        format in format(),
        secret in secret(),
        value in any::<String>(),
        keep in any::<prop::sample::Index>(),
        suffix in "[A-Za-z0-9+/=._-]{1,8}",
    ) {
        let cookie = cookie(format, "s", &[secret]);
        let signed = cookie.sign(&value).expect("sign");
        let cut = &signed[..keep.index(signed.len())];
        prop_assert_eq!(cookie.verify(cut), None);
        let extended = format!("{signed}{suffix}");
        // Remix's format tolerates `=` padding on the tag, as Remix does.
        if !(format == SigningFormat::Remix && suffix.chars().all(|c| c == '=')) {
            prop_assert_eq!(cookie.verify(&extended), None, "{} verified", extended);
        }
    }

    #[test]
    fn values_never_move_between_cookie_names(
        secret in secret(),
        value in any::<String>(),
        first in name(),
        second in name(),
    ) {
        prop_assume!(first != second);
        for format in [SigningFormat::NameBound, SigningFormat::Private] {
            let from = cookie(format, &first, std::slice::from_ref(&secret));
            let to = cookie(format, &second, std::slice::from_ref(&secret));
            prop_assert_eq!(to.verify(&from.sign(&value).expect("sign")), None);
        }
    }

    #[test]
    fn rotation_verifies_old_values_until_the_old_secret_is_dropped(
        format in format(),
        old in secret(),
        new in secret(),
        value in any::<String>(),
    ) {
        prop_assume!(old != new);
        let signed = cookie(format, "s", std::slice::from_ref(&old)).sign(&value).expect("sign");
        let rotated = cookie(format, "s", &[new.clone(), old]);
        prop_assert_eq!(rotated.verify(&signed), Some(value.clone()));
        // The rotated cookie signs with the new secret only.
        let resigned = rotated.sign(&value).expect("sign");
        prop_assert_eq!(cookie(format, "s", &[new]).verify(&resigned), Some(value));
        prop_assert_eq!(cookie(format, "s", &[new_or_other(&signed)]).verify(&signed), None);
    }

    #[test]
    fn the_size_limit_is_exact(
        format in format(),
        name in name(),
        length in 2900usize..3200,
    ) {
        let cookie = cookie(format, &name, &[b"k".to_vec()]);
        let value = "x".repeat(length);
        let size = name.len() + cookie.sign(&value).expect("sign").len();
        let result = cookie.set_cookie(&value);
        prop_assert_eq!(result.is_ok(), size <= MAX_COOKIE_SIZE, "size {}", size);
    }
}

/// A secret that certainly differs from the one that signed `signed`.
fn new_or_other(signed: &str) -> Vec<u8> {
    format!("not the secret of {signed}").into_bytes()
}
