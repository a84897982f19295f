//! Small validated value types: an invalid value cannot be constructed.
//!
//! Each type borrows from the parsed input when it can (`'a`) and owns its text
//! otherwise; `into_owned` turns any of them into a `'static` value for storing.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;
use core::ops::Deref;

use crate::base64::{self, Alphabet};
use crate::error::{Param, ParseError, ParseErrorKind};
use crate::jcs;
use crate::json::{self, JsonObject, Shape};
use crate::options::ParseOptions;

macro_rules! validated_str {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name<'a>(Cow<'a, str>);

        impl<'a> $name<'a> {
            /// Validates `value`, borrowing it. The error offset is within `value`.
            pub fn new(value: &'a str) -> Result<Self, ParseError> {
                $check(value)?;
                Ok($name(Cow::Borrowed(value)))
            }

            /// Validates an owned or borrowed value.
            pub fn from_cow(value: Cow<'a, str>) -> Result<Self, ParseError> {
                $check(&value)?;
                Ok($name(value))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A copy that borrows this one's text.
            pub fn borrowed(&self) -> $name<'_> {
                $name(Cow::Borrowed(&self.0))
            }

            /// An owned copy that no longer borrows the input.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }
        }

        impl $name<'static> {
            /// Validates an owned value.
            pub fn from_string(value: String) -> Result<Self, ParseError> {
                Self::from_cow(Cow::Owned(value))
            }
        }

        impl Deref for $name<'_> {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name<'_> {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name<'_> {
            fn eq(&self, other: &str) -> bool {
                *self.0 == *other
            }
        }

        impl PartialEq<&str> for $name<'_> {
            fn eq(&self, other: &&str) -> bool {
                *self.0 == **other
            }
        }

        impl TryFrom<String> for $name<'static> {
            type Error = ParseError;
            fn try_from(value: String) -> Result<Self, ParseError> {
                Self::from_string(value)
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = ParseError;
            fn try_from(value: &'a str) -> Result<Self, ParseError> {
                Self::new(value)
            }
        }
    };
}

validated_str!(
    /// A payment method identifier, `[a-z][a-z0-9:_-]*` (`tempo`, `lightning`,
    /// `vendor:pay`).
    ///
    /// The -01 ABNF says `1*LOWERALPHA`, but every deployed SDK except one accepts the
    /// wider grammar (digits, `:`, `_`, `-` after a first letter); refusing it would
    /// drop their challenges (erratum E3). Case-sensitive: `Tempo` is
    /// invalid, not lowercased.
    MethodName,
    check_method
);

validated_str!(
    /// A payment intent identifier, `1*(ALPHA / DIGIT / "-")` (`charge`, `session`).
    ///
    /// Kept exactly as sent (never lowercased) and not checked against a registry, so
    /// unregistered intents such as `authorize` parse and can be skipped by the caller.
    IntentName,
    check_intent
);

validated_str!(
    /// A challenge id: any non-empty text without control characters. Ids issued by
    /// this crate are 43-character base64url HMAC tags, but other servers may use any
    /// scheme, so only emptiness and control characters are refused.
    ChallengeId,
    check_id
);

validated_str!(
    /// A realm (the protection space): non-empty text without control characters or
    /// `|`, which is the HMAC slot separator (D2).
    Realm,
    check_realm
);

validated_str!(
    /// An amount in base units: a base-10 integer string with no sign, no leading
    /// zeros and at most 78 digits (enough for a 256-bit token amount). `""`, `+1`,
    /// `0x10`, `1_000`, `1.5` and `01` are all invalid.
    Amount,
    check_amount
);

impl Amount<'_> {
    /// The value as a `u128`, when it fits.
    pub fn to_u128(&self) -> Option<u128> {
        self.0.parse().ok()
    }
}

/// Base64url text of a JSON object: the wire form of `request` (and, as [`Opaque`],
/// of `opaque`).
///
/// The text is kept exactly as received, because the credential echoes it; the
/// decoded object is one [`decode`](Self::decode) away. Validation decodes the text
/// (on the stack when it is small) and checks the JSON strictly without building it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Base64Json<'a>(Cow<'a, str>);

impl<'a> Base64Json<'a> {
    /// Validates `text` with the strict defaults.
    pub fn new(text: &'a str) -> Result<Self, ParseError> {
        Self::from_cow(Cow::Borrowed(text), &ParseOptions::STRICT)
    }

    /// Validates `text` with the given limits and leniencies.
    pub fn from_cow(text: Cow<'a, str>, options: &ParseOptions) -> Result<Self, ParseError> {
        check_base64_json(&text, options, Shape::Object)?;
        Ok(Base64Json(text))
    }

    /// The canonical wire form of `object`: base64url (no padding) of its RFC 8785 JCS
    /// serialisation.
    pub fn encode(object: &JsonObject) -> Base64Json<'static> {
        Base64Json(Cow::Owned(base64::encode(
            jcs::object_to_string(object).as_bytes(),
        )))
    }

    /// The decoded object. Duplicate member names are refused.
    pub fn decode(&self) -> Result<JsonObject, ParseError> {
        let mut bytes = alloc::vec::Vec::new();
        base64::decode_into(self.0.as_bytes(), Alphabet::UrlSafeOrStandard, &mut bytes)?;
        json::parse_object(&bytes).map_err(|e| ParseError::new(e.kind(), 0))
    }

    /// The canonical form of this value (D2: the `request` HMAC slot): the text itself
    /// when it is already canonical, as it is when this crate produced it.
    pub fn canonical(&self) -> Result<Cow<'_, str>, ParseError> {
        let canonical = Self::encode(&self.decode()?);
        Ok(if canonical.0 == self.0 {
            Cow::Borrowed(&*self.0)
        } else {
            canonical.0
        })
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A copy that borrows this one's text.
    pub fn borrowed(&self) -> Base64Json<'_> {
        Base64Json(Cow::Borrowed(&self.0))
    }

    /// An owned copy that no longer borrows the input.
    pub fn into_owned(self) -> Base64Json<'static> {
        Base64Json(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Display for Base64Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Base64url text of a JSON object whose values are all strings: the `opaque`
/// parameter, which the server binds and the client echoes unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Opaque<'a>(Base64Json<'a>);

impl<'a> Opaque<'a> {
    /// Validates `text` with the strict defaults.
    pub fn new(text: &'a str) -> Result<Self, ParseError> {
        Self::from_cow(Cow::Borrowed(text), &ParseOptions::STRICT)
    }

    /// Validates `text` with the given limits and leniencies.
    pub fn from_cow(text: Cow<'a, str>, options: &ParseOptions) -> Result<Self, ParseError> {
        check_base64_json(&text, options, Shape::StringMap)?;
        Ok(Opaque(Base64Json(text)))
    }

    /// The canonical wire form of a string map.
    pub fn encode<K: AsRef<str>, V: AsRef<str>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Opaque<'static> {
        let json = jcs::string_map_to_string(entries);
        Opaque(Base64Json(Cow::Owned(base64::encode(json.as_bytes()))))
    }

    /// A copy that borrows this one's text.
    pub fn borrowed(&self) -> Opaque<'_> {
        Opaque(self.0.borrowed())
    }

    /// The decoded string map.
    pub fn decode(&self) -> Result<JsonObject, ParseError> {
        self.0.decode()
    }

    /// The wire text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// An owned copy that no longer borrows the input.
    pub fn into_owned(self) -> Opaque<'static> {
        Opaque(self.0.into_owned())
    }
}

impl fmt::Display for Opaque<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decoded values up to this size are checked in a stack buffer, without allocating.
const STACK_DECODE: usize = 768;

fn check_base64_json(text: &str, options: &ParseOptions, shape: Shape) -> Result<(), ParseError> {
    let alphabet = options.base64_alphabet();
    let len = base64::decoded_len(text.as_bytes(), alphabet)?;
    if len > options.max_request_len {
        return Err(ParseError::new(
            ParseErrorKind::RequestTooLarge {
                limit: options.max_request_len,
            },
            0,
        ));
    }
    let mut stack = [0u8; STACK_DECODE];
    let mut heap = alloc::vec::Vec::new();
    let bytes = if len <= STACK_DECODE {
        base64::decode_to_slice(text.as_bytes(), alphabet, &mut stack)?
    } else {
        base64::decode_into(text.as_bytes(), alphabet, &mut heap)?;
        &heap
    };
    // JSON offsets refer to decoded bytes, which mean nothing in the header: report
    // the start of the value instead.
    json::validate(bytes, shape).map_err(|e| ParseError::new(e.kind(), 0))
}

fn check_method(s: &str) -> Result<(), ParseError> {
    let b = s.as_bytes();
    match b.first() {
        None => Err(ParseError::new(
            ParseErrorKind::EmptyParameter(Param::Method),
            0,
        )),
        Some(c) if !c.is_ascii_lowercase() => {
            Err(ParseError::new(ParseErrorKind::InvalidMethod, 0))
        }
        Some(_) => match b
            .iter()
            .position(|&c| !matches!(c, b'a'..=b'z' | b'0'..=b'9' | b':' | b'_' | b'-'))
        {
            Some(i) => Err(ParseError::new(ParseErrorKind::InvalidMethod, i)),
            None => Ok(()),
        },
    }
}

fn check_intent(s: &str) -> Result<(), ParseError> {
    if s.is_empty() {
        return Err(ParseError::new(
            ParseErrorKind::EmptyParameter(Param::Intent),
            0,
        ));
    }
    match s
        .bytes()
        .position(|c| !(c.is_ascii_alphanumeric() || c == b'-'))
    {
        Some(i) => Err(ParseError::new(ParseErrorKind::InvalidIntent, i)),
        None => Ok(()),
    }
}

/// Refuses C0 controls except HTAB, and DEL: they cannot appear in a quoted-string.
pub(crate) fn check_text(s: &str) -> Result<(), ParseError> {
    match s
        .bytes()
        .position(|c| (c < 0x20 && c != b'\t') || c == 0x7f)
    {
        Some(i) => Err(ParseError::new(ParseErrorKind::ControlCharacter, i)),
        None => Ok(()),
    }
}

fn check_id(s: &str) -> Result<(), ParseError> {
    if s.is_empty() {
        return Err(ParseError::new(
            ParseErrorKind::EmptyParameter(Param::Id),
            0,
        ));
    }
    check_text(s)
}

fn check_realm(s: &str) -> Result<(), ParseError> {
    if s.is_empty() {
        return Err(ParseError::new(
            ParseErrorKind::EmptyParameter(Param::Realm),
            0,
        ));
    }
    check_text(s)?;
    match s.find('|') {
        Some(i) => Err(ParseError::new(
            ParseErrorKind::PipeInBoundField(Param::Realm),
            i,
        )),
        None => Ok(()),
    }
}

fn check_amount(s: &str) -> Result<(), ParseError> {
    let b = s.as_bytes();
    let bad = |i| Err(ParseError::new(ParseErrorKind::InvalidAmount, i));
    if b.is_empty() || b.len() > 78 {
        return bad(0);
    }
    if let Some(i) = b.iter().position(|c| !c.is_ascii_digit()) {
        return bad(i);
    }
    if b.len() > 1 && b[0] == b'0' {
        return bad(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_is_encoded_as_jcs() {
        // req: core.challenge.opaque.jcs core.challenge.opaque.string-map
        // Keys given out of order; U+1F600 (UTF-16 D83D DE00) sorts before U+FB33 in
        // RFC 8785's UTF-16 order, though after it by code point; non-ASCII stays raw
        // and only `"` and `\` are escaped.
        let opaque = Opaque::encode([
            ("\u{FB33}", "y"),
            ("zeta", "say \"hi\" \\ bye"),
            ("\u{1F600}", "x"),
            ("alpha", "\u{e9}"),
        ]);
        let text = base64::decode_utf8(opaque.as_str()).unwrap();
        assert_eq!(
            text,
            "{\"alpha\":\"\u{e9}\",\"zeta\":\"say \\\"hi\\\" \\\\ bye\",\"\u{1F600}\":\"x\",\"\u{FB33}\":\"y\"}"
        );
        assert!(!opaque.as_str().contains('='));
        assert_eq!(Opaque::new(opaque.as_str()).unwrap(), opaque);
    }

    #[test]
    fn method_grammar_is_the_deployed_one() {
        // req: core.challenge.method.case-sensitive core.challenge.method.lowercase
        for ok in [
            "tempo",
            "lightning",
            "tempo-v2",
            "vendor:pay",
            "x402",
            "a_b",
        ] {
            assert!(MethodName::new(ok).is_ok(), "{ok}");
        }
        for (bad, at) in [
            ("Tempo", 0),
            ("1tempo", 0),
            ("tempo!", 5),
            ("*", 0),
            ("te mpo", 2),
        ] {
            let e = MethodName::new(bad).unwrap_err();
            assert_eq!(
                (e.kind(), e.offset()),
                (ParseErrorKind::InvalidMethod, at),
                "{bad}"
            );
        }
        assert_eq!(
            MethodName::new("").unwrap_err().kind(),
            ParseErrorKind::EmptyParameter(Param::Method)
        );
    }

    #[test]
    fn intent_is_kept_as_sent() {
        // req: core.grammar.intent.token
        assert_eq!(IntentName::new("Charge").unwrap(), "Charge");
        assert!(IntentName::new("authorize").is_ok());
        assert!(IntentName::new("charge-v2").is_ok());
        assert!(IntentName::new("char ge").is_err());
        assert!(IntentName::new("").is_err());
    }

    #[test]
    fn realm_refuses_the_slot_separator_and_controls() {
        // req: core.challenge.id.non-empty
        assert!(Realm::new("api.example.com").is_ok());
        assert_eq!(
            Realm::new("a|b").unwrap_err().kind(),
            ParseErrorKind::PipeInBoundField(Param::Realm)
        );
        assert_eq!(
            Realm::new("a\nb").unwrap_err().kind(),
            ParseErrorKind::ControlCharacter
        );
        assert!(Realm::new("").is_err());
        assert!(ChallengeId::new("").is_err());
        assert!(ChallengeId::new("x\0").is_err());
    }

    #[test]
    fn amounts_are_plain_base_ten_integers() {
        for ok in ["0", "1", "1000", &"9".repeat(78)] {
            assert!(Amount::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "+1",
            "-1",
            "0x10",
            "1_000",
            "1.5",
            "01",
            " 1",
            &"9".repeat(79),
        ] {
            assert_eq!(
                Amount::new(bad).unwrap_err().kind(),
                ParseErrorKind::InvalidAmount,
                "{bad}"
            );
        }
        assert_eq!(Amount::new("1000").unwrap().to_u128(), Some(1000));
        assert_eq!(Amount::new(&"9".repeat(40)).unwrap().to_u128(), None);
    }
}
