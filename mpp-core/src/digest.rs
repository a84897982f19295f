//! RFC 9530 content digests that bind a request body into a challenge (the `digest` parameter).
//!
//! A server that answers a request carrying a body puts the body's digest in the
//! challenge; the challenge id binds it, and on the retry the server checks that the
//! body it now receives still has that digest ([`ContentDigest::matches`]).
//!
//! # Forms accepted
//!
//! The value is one member of an RFC 9530 `Content-Digest` dictionary:
//!
//! ```text
//! digest = algorithm "=" ":" base64 ":"      ; RFC 8941 byte sequence (canonical)
//!        / algorithm "=" base64              ; legacy bare form, no colons
//! algorithm = "sha-256" / "sha-512"
//! ```
//!
//! - The colon form is the one RFC 9530 and the core draft's example use, and the only
//!   one [`ContentDigest::compute`] produces.
//! - The bare form without colons is not RFC 9530. It is accepted because deployed
//!   peers and the cross-SDK conformance vectors send it (`sha-256=X48E…=`).
//! - The base64 is the standard alphabet (`+`, `/`), with its trailing `=` padding
//!   present or absent, and canonical (zero trailing bits). Bytes must decode to the
//!   algorithm's output length exactly.
//! - Exactly one member: a dictionary with several algorithms, RFC 8941 parameters
//!   (`;…`) and surrounding whitespace are refused.
//!
//! The value is an HMAC input that peers echo, so it is kept byte for byte as
//! received, and two digests are equal only when their texts are: the colon and bare
//! forms of the same bytes differ. It can never contain `|`, the HMAC slot separator,
//! because neither the algorithm names nor base64 contain one.
//!
//! # Errors
//!
//! A well-formed lowercase algorithm key other than `sha-256` and `sha-512` (`md5`,
//! `sha`, `unixsum`, `id-sha-256`, …) gives
//! [`UnsupportedDigestAlgorithm`](ParseErrorKind::UnsupportedDigestAlgorithm) at
//! offset 0, whatever follows it: the algorithm is judged first because it is the
//! actionable fault. Every other fault, including a bad base64 character or length,
//! gives [`InvalidDigest`](ParseErrorKind::InvalidDigest) at the offending byte of the
//! digest text (a decoded length that does not fit the algorithm, at the first base64
//! character). The base64 module's own kinds are not surfaced, so a caller only has
//! two kinds to handle.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::base64::{self, Alphabet};
use crate::error::{ParseError, ParseErrorKind};

/// The longest digest output of the supported algorithms (SHA-512).
const MAX_OUTPUT_LEN: usize = 64;

/// A hash algorithm of the IANA "Hash Algorithms for HTTP Digest Fields" registry
/// that RFC 9530 marks active. The deprecated ones (`md5`, `sha`, `unixsum`, …) are not
/// supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// SHA-256, key `sha-256`: 32-byte digests.
    Sha256,
    /// SHA-512, key `sha-512`: 64-byte digests.
    Sha512,
}

impl DigestAlgorithm {
    /// The dictionary key RFC 9530 registers (`sha-256`, `sha-512`).
    pub const fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "sha-256",
            DigestAlgorithm::Sha512 => "sha-512",
        }
    }

    /// The digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 32,
            DigestAlgorithm::Sha512 => 64,
        }
    }

    /// The algorithm with this key. Keys are case-sensitive (RFC 8941 keys are
    /// lowercase), so `SHA-256` is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha-256" => Some(DigestAlgorithm::Sha256),
            "sha-512" => Some(DigestAlgorithm::Sha512),
            _ => None,
        }
    }

    /// The digest of `body`, in the first [`output_len`](Self::output_len) bytes.
    fn hash(self, body: &[u8]) -> [u8; MAX_OUTPUT_LEN] {
        let mut out = [0; MAX_OUTPUT_LEN];
        match self {
            DigestAlgorithm::Sha256 => out[..32].copy_from_slice(&Sha256::digest(body)),
            DigestAlgorithm::Sha512 => out.copy_from_slice(&Sha512::digest(body)),
        }
        out
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A validated `digest` parameter: its text, its algorithm and the digest bytes.
///
/// The bytes live inline (no second allocation), and the text borrows the parsed input
/// when it can.
///
/// ```
/// use mpp_core::digest::{ContentDigest, DigestAlgorithm};
///
/// let body = br#"{"hello": "world"}"#;
/// let digest = ContentDigest::compute(DigestAlgorithm::Sha256, body);
/// assert_eq!(digest.as_str(), "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
///
/// let echoed = ContentDigest::new("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:").unwrap();
/// assert!(echoed.matches(body));
/// assert!(!echoed.matches(br#"{"hello": "world!"}"#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentDigest<'a> {
    text: Cow<'a, str>,
    algorithm: DigestAlgorithm,
    bytes: [u8; MAX_OUTPUT_LEN],
}

impl<'a> ContentDigest<'a> {
    /// Validates `text`, borrowing it. The error offset is within `text`.
    pub fn new(text: &'a str) -> Result<Self, ParseError> {
        Self::from_cow(Cow::Borrowed(text))
    }

    /// Validates an owned or borrowed text.
    pub fn from_cow(text: Cow<'a, str>) -> Result<Self, ParseError> {
        let (algorithm, bytes) = parse(&text)?;
        Ok(ContentDigest {
            text,
            algorithm,
            bytes,
        })
    }

    /// The algorithm.
    pub const fn algorithm(&self) -> DigestAlgorithm {
        self.algorithm
    }

    /// The text, exactly as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The decoded digest ([`DigestAlgorithm::output_len`] bytes).
    pub fn digest_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.output_len()]
    }

    /// Whether `body` has this digest. The comparison takes the same time wherever
    /// the digests differ, so a client probing with bodies learns nothing from timing.
    pub fn matches(&self, body: &[u8]) -> bool {
        let computed = self.algorithm.hash(body);
        let len = self.algorithm.output_len();
        self.digest_bytes().ct_eq(&computed[..len]).into()
    }

    /// A copy that borrows this one's text.
    pub fn borrowed(&self) -> ContentDigest<'_> {
        ContentDigest {
            text: Cow::Borrowed(&self.text),
            algorithm: self.algorithm,
            bytes: self.bytes,
        }
    }

    /// An owned copy that no longer borrows the input.
    pub fn into_owned(self) -> ContentDigest<'static> {
        ContentDigest {
            text: Cow::Owned(self.text.into_owned()),
            algorithm: self.algorithm,
            bytes: self.bytes,
        }
    }
}

impl ContentDigest<'static> {
    /// The digest of `body` in the canonical RFC 9530 form,
    /// `sha-256=:<padded standard base64>:`.
    pub fn compute(algorithm: DigestAlgorithm, body: &[u8]) -> Self {
        let bytes = algorithm.hash(body);
        let encoded = base64::encode_standard(&bytes[..algorithm.output_len()]);
        let mut text = String::with_capacity(algorithm.name().len() + encoded.len() + 3);
        text.push_str(algorithm.name());
        text.push_str("=:");
        text.push_str(&encoded);
        text.push(':');
        ContentDigest {
            text: Cow::Owned(text),
            algorithm,
            bytes,
        }
    }

    /// Validates an owned text.
    pub fn from_string(text: String) -> Result<Self, ParseError> {
        Self::from_cow(Cow::Owned(text))
    }
}

impl AsRef<str> for ContentDigest<'_> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ContentDigest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'a> TryFrom<&'a str> for ContentDigest<'a> {
    type Error = ParseError;
    fn try_from(text: &'a str) -> Result<Self, ParseError> {
        Self::new(text)
    }
}

impl TryFrom<String> for ContentDigest<'static> {
    type Error = ParseError;
    fn try_from(text: String) -> Result<Self, ParseError> {
        Self::from_string(text)
    }
}

/// RFC 8941 `key` characters after the first (`lcalpha / "*"`).
fn is_key_char(c: u8) -> bool {
    matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
}

fn parse(text: &str) -> Result<(DigestAlgorithm, [u8; MAX_OUTPUT_LEN]), ParseError> {
    let invalid = |at| ParseError::new(ParseErrorKind::InvalidDigest, at);
    let b = text.as_bytes();

    let key_len = match b.split_first() {
        Some((&first, rest)) if first.is_ascii_lowercase() || first == b'*' => {
            1 + rest.iter().take_while(|&&c| is_key_char(c)).count()
        }
        _ => return Err(invalid(0)),
    };
    if b.get(key_len) != Some(&b'=') {
        return Err(invalid(key_len));
    }
    // The key is ASCII, so `key_len` is a character boundary.
    let algorithm = DigestAlgorithm::from_name(&text[..key_len]).ok_or(ParseError::new(
        ParseErrorKind::UnsupportedDigestAlgorithm,
        0,
    ))?;

    let value_at = key_len + 1;
    let (start, end) = if b.get(value_at) == Some(&b':') {
        let start = value_at + 1;
        let close = match b[start..].iter().position(|&c| c == b':') {
            Some(i) => start + i,
            None => return Err(invalid(b.len())),
        };
        if close + 1 != b.len() {
            return Err(invalid(close + 1));
        }
        (start, close)
    } else {
        (value_at, b.len())
    };

    let encoded = &b[start..end];
    let in_digest = |e: ParseError| invalid(start + e.offset());
    // The length is checked before decoding so that the fixed buffer always fits.
    if base64::validated_len(encoded, Alphabet::Standard).map_err(in_digest)?
        != algorithm.output_len()
    {
        return Err(invalid(start));
    }
    let mut bytes = [0; MAX_OUTPUT_LEN];
    base64::decode_to_slice(encoded, Alphabet::Standard, &mut bytes).map_err(in_digest)?;
    Ok((algorithm, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    // RFC 9530 Appendix B.1: the body `{"hello": "world"}` (recomputed with
    // Python's hashlib and base64 to confirm).
    const HELLO: &[u8] = br#"{"hello": "world"}"#;
    const HELLO_SHA256: &str = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=";
    const HELLO_SHA512: &str =
        "WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==";

    #[test]
    fn computes_the_rfc_9530_examples() {
        // req: core.digest.verify
        for (algorithm, b64) in [
            (DigestAlgorithm::Sha256, HELLO_SHA256),
            (DigestAlgorithm::Sha512, HELLO_SHA512),
        ] {
            let d = ContentDigest::compute(algorithm, HELLO);
            assert_eq!(d.as_str(), format!("{}=:{b64}:", algorithm.name()));
            assert_eq!(d.algorithm(), algorithm);
            assert_eq!(d.digest_bytes().len(), algorithm.output_len());
            assert!(d.matches(HELLO));
            let parsed = ContentDigest::new(d.as_str()).unwrap();
            assert_eq!(parsed, d);
            assert!(parsed.matches(HELLO));
        }
        // The empty body: SHA-256 of nothing.
        assert_eq!(
            ContentDigest::compute(DigestAlgorithm::Sha256, b"").as_str(),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    #[test]
    fn legacy_bare_form_and_unpadded_base64_are_accepted() {
        let canonical =
            ContentDigest::new("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:").unwrap();
        for text in [
            "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:",
        ] {
            let d = ContentDigest::new(text).unwrap();
            assert!(d.matches(HELLO), "{text}");
            assert_eq!(d.digest_bytes(), canonical.digest_bytes());
            assert_eq!(d.as_str(), text);
            // The text is an HMAC input: other spellings are other values.
            assert_ne!(d, canonical);
        }
        let d = ContentDigest::new(
            "sha-512=WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==",
        )
        .unwrap();
        assert_eq!(d.algorithm(), DigestAlgorithm::Sha512);
        assert!(d.matches(HELLO));
    }

    #[test]
    fn unsupported_algorithms_are_named_as_such() {
        for text in [
            "md5=:XrY7u+Ae7tCTyyK7j1rNww==:",
            "sha=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "unixsum=:AAAA:",
            "id-sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "sha-384=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "md5=garbage!",
            "*=:AAAA:",
        ] {
            let e = ContentDigest::new(text).unwrap_err();
            assert_eq!(
                (e.kind(), e.offset()),
                (ParseErrorKind::UnsupportedDigestAlgorithm, 0),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_digests_are_refused_at_the_offending_byte() {
        let sha512_as_256 = format!("sha-256=:{HELLO_SHA512}:");
        let sha256_as_512 = format!("sha-512=:{HELLO_SHA256}:");
        let url_safe = format!("sha-512=:{}:", HELLO_SHA512.replace('/', "_"));
        let two = format!("sha-256=:{HELLO_SHA256}:, sha-512=:{HELLO_SHA512}:");
        let two_bare = format!("sha-256={HELLO_SHA256}, sha-512={HELLO_SHA512}");
        let cases: Vec<(&str, usize)> = alloc::vec![
            ("", 0),
            ("sha-256", 7),
            ("sha-256:", 7),
            ("SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", 0),
            ("Sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", 0),
            ("sHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", 1),
            (" sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", 0),
            ("sha-256 =:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", 7),
            ("sha-256= :X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", 8),
            (
                "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=: ",
                54
            ),
            (
                "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:x",
                54
            ),
            (
                "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;a=1",
                54
            ),
            ("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", 53),
            ("sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", 51),
            ("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPF=:", 51),
            ("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBP=:", 51),
            (
                "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE==:",
                52
            ),
            (
                "sha-256=:X48E 9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
                13
            ),
            ("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPé:", 51),
            ("sha-256=::", 9),
            ("sha-256=", 8),
            ("sha-256=:|:", 9),
            (&sha512_as_256, 9),
            (&sha256_as_512, 9),
            (&url_safe, 16),
            (&two, 54),
            (&two_bare, 51),
        ];
        for (text, at) in cases {
            let e = ContentDigest::new(text).unwrap_err();
            assert_eq!(
                (e.kind(), e.offset()),
                (ParseErrorKind::InvalidDigest, at),
                "{text}"
            );
        }
    }

    #[test]
    fn a_one_byte_change_does_not_match() {
        // req: core.digest.verify
        for algorithm in [DigestAlgorithm::Sha256, DigestAlgorithm::Sha512] {
            let d = ContentDigest::compute(algorithm, HELLO);
            let mut changed = HELLO.to_vec();
            changed[3] ^= 1;
            assert!(!d.matches(&changed));
            assert!(!d.matches(&HELLO[..HELLO.len() - 1]));
            assert!(!d.matches(b""));
        }
    }

    #[test]
    fn names_owned_forms_and_conversions() {
        assert_eq!(
            DigestAlgorithm::from_name("sha-512"),
            Some(DigestAlgorithm::Sha512)
        );
        assert_eq!(DigestAlgorithm::from_name("SHA-512"), None);
        assert_eq!(format!("{}", DigestAlgorithm::Sha256), "sha-256");
        let text = format!("sha-256=:{HELLO_SHA256}:");
        let borrowed = ContentDigest::new(&text).unwrap();
        let owned = ContentDigest::from_string(text.clone()).unwrap();
        assert_eq!(borrowed, owned);
        assert_eq!(borrowed.clone().into_owned(), owned);
        assert_eq!(format!("{owned}"), text);
        assert_eq!(owned.as_ref(), text);
        assert_eq!(ContentDigest::try_from(text.as_str()), Ok(borrowed));
        assert!(ContentDigest::try_from(String::from("sha-256=")).is_err());
    }

    #[test]
    fn long_inputs_are_refused_in_linear_time() {
        let long = format!("sha-256=:{}:", "A".repeat(1 << 20));
        assert_eq!(
            ContentDigest::new(&long).unwrap_err().kind(),
            ParseErrorKind::InvalidDigest
        );
        let colons = format!("sha-256={}", ":".repeat(1 << 20));
        assert_eq!(ContentDigest::new(&colons).unwrap_err().offset(), 10);
        let key = format!("{}=:AAAA:", "a".repeat(1 << 20));
        assert_eq!(
            ContentDigest::new(&key).unwrap_err().kind(),
            ParseErrorKind::UnsupportedDigestAlgorithm
        );
    }

    fn algorithms() -> impl Strategy<Value = DigestAlgorithm> {
        prop_oneof![Just(DigestAlgorithm::Sha256), Just(DigestAlgorithm::Sha512)]
    }

    proptest! {
        #[test]
        fn computed_digests_parse_back_and_match(algorithm in algorithms(), body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let d = ContentDigest::compute(algorithm, &body);
            let parsed = ContentDigest::new(d.as_str()).unwrap();
            prop_assert_eq!(&parsed, &d);
            prop_assert!(parsed.matches(&body));
            let bare = d.as_str().replacen("=:", "=", 1);
            let bare = ContentDigest::new(bare.trim_end_matches(':')).unwrap();
            prop_assert_eq!(bare.digest_bytes(), d.digest_bytes());
            let mut other = body.clone();
            other.push(0);
            prop_assert!(!parsed.matches(&other));
        }

        #[test]
        fn arbitrary_text_never_panics_and_never_holds_a_pipe(text in "(sha-256=|sha-512=)?:?[A-Za-z0-9+/=:|, -]{0,100}") {
            if let Ok(d) = ContentDigest::new(&text) {
                prop_assert!(!d.as_str().contains('|'));
            }
        }

        #[test]
        fn any_text_never_panics(text in "\\PC{0,120}") {
            let _ = ContentDigest::new(&text);
        }
    }
}
