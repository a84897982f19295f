//! Errors, classed by who is at fault, each mapped to one problem type.
//!
//! Three kinds of failure exist in this crate:
//!
//! - [`ParseError`]: bytes received from a peer are not well-formed. It says what is
//!   wrong, in which field, and at which byte offset of the value that was parsed.
//! - [`FormatError`]: the local caller asked for something that cannot be sent
//!   (a CR/LF in a quoted value, an invalid parameter name).
//! - [`BindingError`]: the challenge-binding key or its inputs are unusable.
//!
//! Each error reports its [`Fault`] and the [`ProblemType`] a server answers with.

use core::fmt;

use crate::problem_type::ProblemType;

/// Who is at fault for an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// Bytes received from the peer are not well-formed.
    Malformed,
    /// Well-formed input that breaks a rule of the protocol: a tampered echo, an
    /// expired or reused challenge, a proof that does not verify.
    Protocol,
    /// The local caller used the API wrongly: a weak secret, a value that cannot be
    /// put on the wire. Servers answer these with a 500.
    Caller,
}

/// A parameter of a Payment challenge, as named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    /// `id`
    Id,
    /// `realm`
    Realm,
    /// `method`
    Method,
    /// `intent`
    Intent,
    /// `request`
    Request,
    /// `expires`
    Expires,
    /// `digest`
    Digest,
    /// `description`
    Description,
    /// `opaque`
    Opaque,
    /// `header`
    Header,
    /// An extension parameter this crate does not interpret.
    Extension,
}

impl Param {
    /// Every parameter this crate interprets, in the order they are formatted.
    pub const KNOWN: [Param; 10] = [
        Param::Id,
        Param::Realm,
        Param::Method,
        Param::Intent,
        Param::Request,
        Param::Expires,
        Param::Digest,
        Param::Description,
        Param::Opaque,
        Param::Header,
    ];

    /// The parameter's wire name (lowercase).
    pub const fn name(self) -> &'static str {
        match self {
            Param::Id => "id",
            Param::Realm => "realm",
            Param::Method => "method",
            Param::Intent => "intent",
            Param::Request => "request",
            Param::Expires => "expires",
            Param::Digest => "digest",
            Param::Description => "description",
            Param::Opaque => "opaque",
            Param::Header => "header",
            Param::Extension => "extension parameter",
        }
    }

    /// The known parameter with this name, matched ASCII case-insensitively
    /// (RFC 9110 §11.2); `None` for an extension parameter.
    pub fn from_name(name: &[u8]) -> Option<Param> {
        // Length and first letter pick the one candidate; then one comparison.
        let candidate = match (name.len(), name.first()?.to_ascii_lowercase()) {
            (2, b'i') => Param::Id,
            (5, b'r') => Param::Realm,
            (6, b'm') => Param::Method,
            (6, b'i') => Param::Intent,
            (6, b'd') => Param::Digest,
            (6, b'o') => Param::Opaque,
            (6, b'h') => Param::Header,
            (7, b'r') => Param::Request,
            (7, b'e') => Param::Expires,
            (11, b'd') => Param::Description,
            _ => return None,
        };
        let known = candidate.name().as_bytes();
        (known == name || known.eq_ignore_ascii_case(name)).then_some(candidate)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What is wrong with a received value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    // -- sizes
    /// The field value is empty (or only whitespace).
    Empty,
    /// The input is longer than the configured limit (bytes).
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },

    // -- RFC 9110 §11 authentication syntax
    /// A list element does not start with an auth-scheme token.
    ExpectedScheme,
    /// An auth-scheme is followed by something other than a space, `,` or the end.
    ExpectedSpace,
    /// An auth-param name was expected.
    ExpectedParamName,
    /// An auth-param name is not followed by `=`.
    ExpectedEquals,
    /// An auth-param value (token or quoted-string) was expected after `=`.
    ExpectedValue,
    /// Something other than `,` or the end of the field follows a parameter.
    ExpectedComma,
    /// An auth-param follows a scheme that has no parameters or a token68.
    ParamOutsideChallenge,
    /// A quoted-string has no closing quote.
    UnterminatedQuotedString,
    /// A backslash is followed by a byte a quoted-pair may not contain.
    InvalidQuotedPair,
    /// A `\u` escape is not four hex digits, or is an unpaired UTF-16 surrogate.
    InvalidUnicodeEscape,
    /// A control character (CR, LF, NUL, ...) in a value, raw or escaped.
    ControlCharacter,
    /// The same parameter occurs twice (names compare case-insensitively).
    DuplicateParameter(Param),
    /// More extension parameters than [`crate::ParseOptions::max_extensions`].
    TooManyParameters,
    /// The Payment scheme appears with no parameters.
    NoParameters,
    /// The field value holds no Payment challenge at all.
    NoPaymentChallenge,
    /// The Payment scheme carries a token68 where auth-params are required.
    Token68NotAllowed,

    // -- Payment challenge parameters
    /// A required parameter is absent.
    MissingParameter(Param),
    /// A parameter that must not be empty is empty.
    EmptyParameter(Param),
    /// `method` is not `[a-z][a-z0-9:_-]*`.
    InvalidMethod,
    /// `intent` is not `1*(ALPHA / DIGIT / "-")`.
    InvalidIntent,
    /// A value contains `|`, which would let bytes move between HMAC slots.
    PipeInBoundField(Param),
    /// `header` names a field other than `Payment-Authorization`.
    UnsupportedHeader,
    /// The decoded `request` exceeds the configured limit.
    RequestTooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },

    // -- encodings
    /// A character outside the base64url alphabet (or misplaced padding).
    InvalidBase64,
    /// The base64url text has an impossible length or non-zero trailing bits.
    NonCanonicalBase64,
    /// Decoded bytes are not UTF-8.
    InvalidUtf8,

    // -- JSON (RFC 8259, I-JSON names)
    /// The JSON text is not valid JSON.
    InvalidJson,
    /// A JSON object has the same member name twice.
    DuplicateJsonKey,
    /// JSON nesting is deeper than the limit.
    JsonTooDeep,
    /// A JSON number is outside the range of an IEEE 754 double.
    JsonNumberOutOfRange,
    /// The value must be a JSON object.
    ExpectedJsonObject,
    /// `opaque` must map strings to strings.
    ExpectedStringMap,
    /// A required JSON member is absent.
    MissingField,
    /// A JSON member has the wrong type or an invalid value.
    InvalidField,

    // -- other value types
    /// Not an RFC 3339 date-time.
    InvalidTimestamp,
    /// Not a base-10 integer amount (`0` or a digit string without leading zeros).
    InvalidAmount,
    /// Not an RFC 9530 digest (`sha-256=:…:`).
    InvalidDigest,
    /// A digest algorithm other than `sha-256` or `sha-512`.
    UnsupportedDigestAlgorithm,
    /// A `Payment-Receipt` whose `status` is not `"success"`.
    ReceiptStatus,
    /// Not an `Accept-Payment` range (`method/intent` with an optional `;q=`).
    InvalidPaymentRange,
    /// Not an RFC 9110 qvalue (`0` to `1` with at most three decimals).
    InvalidWeight,
    /// A credential that uses another authentication scheme.
    WrongScheme,
    /// Not an RFC 9457 problem details object.
    InvalidProblem,
}

impl ParseErrorKind {
    /// A stable, kebab-case code for the kind: `missing-parameter`,
    /// `invalid-base64`, `duplicate-json-key`, …
    ///
    /// Codes are part of the crate's public contract: the cross-SDK conformance
    /// vectors compare them (as the `class` of an error), so a code never changes
    /// once published, and a new kind gets a new code. Kinds that carry data share
    /// one code whatever the data (`missing-parameter` for every parameter; the
    /// parameter is reported apart).
    ///
    /// ```
    /// use mpp_core::{Param, ParseErrorKind};
    ///
    /// assert_eq!(ParseErrorKind::MissingParameter(Param::Realm).code(), "missing-parameter");
    /// assert_eq!(ParseErrorKind::NonCanonicalBase64.code(), "non-canonical-base64");
    /// ```
    pub const fn code(self) -> &'static str {
        use ParseErrorKind::*;
        match self {
            Empty => "empty",
            TooLarge { .. } => "too-large",
            ExpectedScheme => "expected-scheme",
            ExpectedSpace => "expected-space",
            ExpectedParamName => "expected-parameter-name",
            ExpectedEquals => "expected-equals",
            ExpectedValue => "expected-value",
            ExpectedComma => "expected-comma",
            ParamOutsideChallenge => "parameter-outside-challenge",
            UnterminatedQuotedString => "unterminated-quoted-string",
            InvalidQuotedPair => "invalid-quoted-pair",
            InvalidUnicodeEscape => "invalid-unicode-escape",
            ControlCharacter => "control-character",
            DuplicateParameter(_) => "duplicate-parameter",
            TooManyParameters => "too-many-parameters",
            NoParameters => "no-parameters",
            NoPaymentChallenge => "no-payment-challenge",
            Token68NotAllowed => "token68-not-allowed",
            MissingParameter(_) => "missing-parameter",
            EmptyParameter(_) => "empty-parameter",
            InvalidMethod => "invalid-method",
            InvalidIntent => "invalid-intent",
            PipeInBoundField(_) => "pipe-in-bound-field",
            UnsupportedHeader => "unsupported-header",
            RequestTooLarge { .. } => "request-too-large",
            InvalidBase64 => "invalid-base64",
            NonCanonicalBase64 => "non-canonical-base64",
            InvalidUtf8 => "invalid-utf8",
            InvalidJson => "invalid-json",
            DuplicateJsonKey => "duplicate-json-key",
            JsonTooDeep => "json-too-deep",
            JsonNumberOutOfRange => "json-number-out-of-range",
            ExpectedJsonObject => "expected-json-object",
            ExpectedStringMap => "expected-string-map",
            MissingField => "missing-field",
            InvalidField => "invalid-field",
            InvalidTimestamp => "invalid-timestamp",
            InvalidAmount => "invalid-amount",
            InvalidDigest => "invalid-digest",
            UnsupportedDigestAlgorithm => "unsupported-digest-algorithm",
            ReceiptStatus => "receipt-status",
            InvalidPaymentRange => "invalid-payment-range",
            InvalidWeight => "invalid-weight",
            WrongScheme => "wrong-scheme",
            InvalidProblem => "invalid-problem",
        }
    }

    /// The challenge parameter the kind names, for the kinds that name one
    /// (duplicate, missing, empty, `|` in a bound field).
    pub const fn param(self) -> Option<Param> {
        match self {
            ParseErrorKind::DuplicateParameter(p)
            | ParseErrorKind::MissingParameter(p)
            | ParseErrorKind::EmptyParameter(p)
            | ParseErrorKind::PipeInBoundField(p) => Some(p),
            _ => None,
        }
    }

    fn describe(self) -> &'static str {
        use ParseErrorKind::*;
        match self {
            Empty => "empty value",
            TooLarge { .. } => "value exceeds the size limit",
            ExpectedScheme => "expected an auth-scheme token",
            ExpectedSpace => "auth-scheme not followed by a space",
            ExpectedParamName => "expected an auth-param name",
            ExpectedEquals => "auth-param name not followed by `=`",
            ExpectedValue => "expected a token or quoted-string value after `=`",
            ExpectedComma => "expected `,` or the end of the field after a parameter",
            ParamOutsideChallenge => "auth-param outside of any challenge",
            UnterminatedQuotedString => "unterminated quoted-string",
            InvalidQuotedPair => "invalid quoted-pair",
            InvalidUnicodeEscape => "invalid \\u escape",
            ControlCharacter => "control character in value",
            DuplicateParameter(_) => "duplicate parameter",
            TooManyParameters => "too many extension parameters",
            NoParameters => "Payment challenge without parameters",
            NoPaymentChallenge => "no Payment challenge",
            Token68NotAllowed => "Payment challenge with a token68 instead of auth-params",
            MissingParameter(_) => "missing required parameter",
            EmptyParameter(_) => "empty parameter",
            InvalidMethod => "invalid method (expected [a-z][a-z0-9:_-]*)",
            InvalidIntent => "invalid intent (expected letters, digits and `-`)",
            PipeInBoundField(_) => "`|` in a field bound into the challenge id",
            UnsupportedHeader => "`header` other than Payment-Authorization",
            RequestTooLarge { .. } => "decoded request exceeds the size limit",
            InvalidBase64 => "invalid base64url character",
            NonCanonicalBase64 => "invalid base64url length or trailing bits",
            InvalidUtf8 => "invalid UTF-8",
            InvalidJson => "invalid JSON",
            DuplicateJsonKey => "duplicate JSON member name",
            JsonTooDeep => "JSON nested too deeply",
            JsonNumberOutOfRange => "JSON number out of range",
            ExpectedJsonObject => "expected a JSON object",
            ExpectedStringMap => "expected a JSON object of strings",
            MissingField => "missing required member",
            InvalidField => "invalid member",
            InvalidTimestamp => "invalid RFC 3339 date-time",
            InvalidAmount => "invalid amount (expected a base-10 integer string)",
            InvalidDigest => "invalid digest (expected sha-256=:base64:)",
            UnsupportedDigestAlgorithm => "unsupported digest algorithm",
            ReceiptStatus => "receipt status is not \"success\"",
            InvalidPaymentRange => "invalid Accept-Payment range",
            InvalidWeight => "invalid weight (expected q=0 to q=1, three decimals at most)",
            WrongScheme => "not a Payment credential",
            InvalidProblem => "invalid problem details",
        }
    }
}

/// A malformed value received from a peer: what is wrong, in which field, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ParseErrorKind,
    offset: usize,
    field: Option<&'static str>,
}

impl ParseError {
    pub(crate) const fn new(kind: ParseErrorKind, offset: usize) -> Self {
        ParseError {
            kind,
            offset,
            field: None,
        }
    }

    /// What is wrong.
    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The byte offset, in the value given to the parser, where the problem was found.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// The field the problem is in (`"request"`, `"challenge.id"`, …), when known.
    pub const fn field(&self) -> Option<&'static str> {
        self.field
    }

    /// Malformed input is the peer's fault.
    pub const fn fault(&self) -> Fault {
        Fault::Malformed
    }

    /// The problem type a server answers a malformed credential with.
    pub const fn problem_type(&self) -> ProblemType {
        ProblemType::MalformedCredential
    }

    /// Moves the offset by `base`, for an error found in a slice of a larger input.
    pub(crate) const fn shifted(mut self, base: usize) -> Self {
        self.offset += base;
        self
    }

    /// Names the field, unless a more precise one is already named.
    pub(crate) const fn in_field(mut self, field: &'static str) -> Self {
        if self.field.is_none() {
            self.field = Some(field);
        }
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        match self.kind {
            ParseErrorKind::DuplicateParameter(p)
            | ParseErrorKind::MissingParameter(p)
            | ParseErrorKind::EmptyParameter(p)
            | ParseErrorKind::PipeInBoundField(p) => write!(f, " `{p}`")?,
            ParseErrorKind::TooLarge { limit } | ParseErrorKind::RequestTooLarge { limit } => {
                write!(f, " ({limit} bytes)")?
            }
            _ => {}
        }
        if let Some(field) = self.field {
            write!(f, " in `{field}`")?;
        }
        write!(f, " at byte {}", self.offset)
    }
}

impl core::error::Error for ParseError {}

/// Why a value cannot be formatted for the wire. Always the caller's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FormatError {
    /// A CR, LF or other control character would break the header (header injection).
    ControlCharacter(Param),
    /// An extension parameter name is not a lowercase token.
    InvalidParamName,
    /// An extension parameter reuses a name this crate interprets, or appears twice.
    DuplicateParameter,
    /// The formatted challenge exceeds the configured size limit (D11).
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },
}

impl FormatError {
    /// A stable, kebab-case code for the error (`control-character`, …); like
    /// [`ParseErrorKind::code`], never changed once published.
    pub const fn code(&self) -> &'static str {
        match self {
            FormatError::ControlCharacter(_) => "control-character",
            FormatError::InvalidParamName => "invalid-parameter-name",
            FormatError::DuplicateParameter => "duplicate-parameter",
            FormatError::TooLarge { .. } => "too-large",
        }
    }

    /// Formatting errors are the caller's fault.
    pub const fn fault(&self) -> Fault {
        Fault::Caller
    }

    /// A server that cannot format its own challenge has an internal error.
    pub const fn problem_type(&self) -> ProblemType {
        ProblemType::InternalPaymentError
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::ControlCharacter(p) => {
                write!(
                    f,
                    "control character (CR, LF, NUL, …) in `{p}` cannot be sent"
                )
            }
            FormatError::InvalidParamName => {
                f.write_str("extension parameter name is not a lowercase token")
            }
            FormatError::DuplicateParameter => f.write_str("parameter name used twice"),
            FormatError::TooLarge { limit } => {
                write!(f, "formatted challenge exceeds {limit} bytes")
            }
        }
    }
}

impl core::error::Error for FormatError {}

/// Why a challenge id cannot be computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BindingError {
    /// The secret is shorter than the minimum ([`crate::binding::MIN_SECRET_LEN`]).
    WeakSecret {
        /// The length of the refused secret.
        len: usize,
        /// The fewest bytes a secret may have.
        min: usize,
    },
    /// A bound field contains `|`, which would let bytes move between slots.
    PipeInField(Param),
    /// The `request` (or `opaque`) to bind cannot be decoded.
    Undecodable(ParseError),
    /// The expiry falls outside the years RFC 3339 can write (a wrong clock).
    TimeOutOfRange,
}

impl BindingError {
    /// A stable, kebab-case code for the error (`weak-secret`, …); like
    /// [`ParseErrorKind::code`], never changed once published. An undecodable field
    /// has the code of its parse error.
    pub const fn code(&self) -> &'static str {
        match self {
            BindingError::WeakSecret { .. } => "weak-secret",
            BindingError::PipeInField(_) => "pipe-in-bound-field",
            BindingError::Undecodable(e) => e.kind().code(),
            BindingError::TimeOutOfRange => "time-out-of-range",
        }
    }

    /// A weak secret or an unencodable field is the caller's fault; an undecodable
    /// echo is the peer's.
    pub const fn fault(&self) -> Fault {
        match self {
            BindingError::Undecodable(_) => Fault::Malformed,
            _ => Fault::Caller,
        }
    }

    /// The problem type a server answers with.
    pub const fn problem_type(&self) -> ProblemType {
        match self {
            BindingError::Undecodable(_) => ProblemType::MalformedCredential,
            _ => ProblemType::InternalPaymentError,
        }
    }
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BindingError::WeakSecret { len, min } => write!(
                f,
                "challenge-binding secret has {len} bytes; at least {min} are required"
            ),
            BindingError::PipeInField(p) => write!(f, "`|` in bound field `{p}`"),
            BindingError::Undecodable(e) => write!(f, "cannot canonicalise bound field: {e}"),
            BindingError::TimeOutOfRange => {
                f.write_str("the expiry time is outside the years RFC 3339 can write")
            }
        }
    }
}

impl core::error::Error for BindingError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    /// Every kind, one value each. The exhaustive match in `listed` fails to compile
    /// when a kind is added without being listed here.
    fn every_kind() -> Vec<ParseErrorKind> {
        use ParseErrorKind::*;
        let all = alloc::vec![
            Empty,
            TooLarge { limit: 1 },
            ExpectedScheme,
            ExpectedSpace,
            ExpectedParamName,
            ExpectedEquals,
            ExpectedValue,
            ExpectedComma,
            ParamOutsideChallenge,
            UnterminatedQuotedString,
            InvalidQuotedPair,
            InvalidUnicodeEscape,
            ControlCharacter,
            DuplicateParameter(Param::Id),
            TooManyParameters,
            NoParameters,
            NoPaymentChallenge,
            Token68NotAllowed,
            MissingParameter(Param::Realm),
            EmptyParameter(Param::Method),
            InvalidMethod,
            InvalidIntent,
            PipeInBoundField(Param::Realm),
            UnsupportedHeader,
            RequestTooLarge { limit: 1 },
            InvalidBase64,
            NonCanonicalBase64,
            InvalidUtf8,
            InvalidJson,
            DuplicateJsonKey,
            JsonTooDeep,
            JsonNumberOutOfRange,
            ExpectedJsonObject,
            ExpectedStringMap,
            MissingField,
            InvalidField,
            InvalidTimestamp,
            InvalidAmount,
            InvalidDigest,
            UnsupportedDigestAlgorithm,
            ReceiptStatus,
            InvalidPaymentRange,
            InvalidWeight,
            WrongScheme,
            InvalidProblem,
        ];
        fn listed(kind: ParseErrorKind) {
            use ParseErrorKind::*;
            match kind {
                Empty
                | TooLarge { .. }
                | ExpectedScheme
                | ExpectedSpace
                | ExpectedParamName
                | ExpectedEquals
                | ExpectedValue
                | ExpectedComma
                | ParamOutsideChallenge
                | UnterminatedQuotedString
                | InvalidQuotedPair
                | InvalidUnicodeEscape
                | ControlCharacter
                | DuplicateParameter(_)
                | TooManyParameters
                | NoParameters
                | NoPaymentChallenge
                | Token68NotAllowed
                | MissingParameter(_)
                | EmptyParameter(_)
                | InvalidMethod
                | InvalidIntent
                | PipeInBoundField(_)
                | UnsupportedHeader
                | RequestTooLarge { .. }
                | InvalidBase64
                | NonCanonicalBase64
                | InvalidUtf8
                | InvalidJson
                | DuplicateJsonKey
                | JsonTooDeep
                | JsonNumberOutOfRange
                | ExpectedJsonObject
                | ExpectedStringMap
                | MissingField
                | InvalidField
                | InvalidTimestamp
                | InvalidAmount
                | InvalidDigest
                | UnsupportedDigestAlgorithm
                | ReceiptStatus
                | InvalidPaymentRange
                | InvalidWeight
                | WrongScheme
                | InvalidProblem => {}
            }
        }
        all.iter().copied().for_each(listed);
        all
    }

    fn is_kebab(code: &str) -> bool {
        !code.is_empty()
            && code.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
    }

    #[test]
    fn parse_error_codes_are_distinct_kebab_case() {
        let kinds = every_kind();
        let codes: BTreeSet<&str> = kinds.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), kinds.len(), "one code per kind");
        for code in codes {
            assert!(is_kebab(code), "{code}");
        }
        // Data does not change the code.
        assert_eq!(
            ParseErrorKind::MissingParameter(Param::Id).code(),
            ParseErrorKind::MissingParameter(Param::Request).code()
        );
        assert_eq!(
            ParseErrorKind::TooLarge { limit: 7 }.code(),
            ParseErrorKind::TooLarge { limit: 9 }.code()
        );
    }

    #[test]
    fn published_codes_do_not_change() {
        // The conformance vectors compare these; changing one breaks every SDK's run.
        use ParseErrorKind::*;
        for (kind, code) in [
            (MissingParameter(Param::Realm), "missing-parameter"),
            (EmptyParameter(Param::Id), "empty-parameter"),
            (DuplicateParameter(Param::Id), "duplicate-parameter"),
            (InvalidBase64, "invalid-base64"),
            (NonCanonicalBase64, "non-canonical-base64"),
            (ExpectedJsonObject, "expected-json-object"),
            (InvalidTimestamp, "invalid-timestamp"),
            (UnsupportedHeader, "unsupported-header"),
            (InvalidMethod, "invalid-method"),
            (PipeInBoundField(Param::Realm), "pipe-in-bound-field"),
            (UnterminatedQuotedString, "unterminated-quoted-string"),
            (Token68NotAllowed, "token68-not-allowed"),
            (WrongScheme, "wrong-scheme"),
            (MissingField, "missing-field"),
            (ReceiptStatus, "receipt-status"),
        ] {
            assert_eq!(kind.code(), code);
        }
        assert_eq!(
            FormatError::ControlCharacter(Param::Description).code(),
            "control-character"
        );
        assert_eq!(
            BindingError::WeakSecret { len: 3, min: 32 }.code(),
            "weak-secret"
        );
        assert_eq!(
            BindingError::Undecodable(ParseError::new(InvalidJson, 0)).code(),
            "invalid-json"
        );
    }

    #[test]
    fn format_and_binding_codes_are_kebab_case() {
        for code in [
            FormatError::ControlCharacter(Param::Realm).code(),
            FormatError::InvalidParamName.code(),
            FormatError::DuplicateParameter.code(),
            FormatError::TooLarge { limit: 1 }.code(),
            BindingError::WeakSecret { len: 0, min: 32 }.code(),
            BindingError::PipeInField(Param::Realm).code(),
            BindingError::TimeOutOfRange.code(),
        ] {
            assert!(is_kebab(code), "{code}");
        }
    }

    #[test]
    fn param_is_named_only_by_the_kinds_that_carry_one() {
        for kind in every_kind() {
            let named = matches!(
                kind,
                ParseErrorKind::DuplicateParameter(_)
                    | ParseErrorKind::MissingParameter(_)
                    | ParseErrorKind::EmptyParameter(_)
                    | ParseErrorKind::PipeInBoundField(_)
            );
            assert_eq!(kind.param().is_some(), named, "{kind:?}");
        }
        assert_eq!(
            ParseErrorKind::MissingParameter(Param::Intent).param(),
            Some(Param::Intent)
        );
    }
}
