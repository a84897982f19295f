//! Payment challenges: the `WWW-Authenticate: Payment …` values a server sends with 402.
//!
//! Parsing borrows from the header bytes: a typical challenge parses without touching
//! the heap. [`Challenge::parse_all`] walks every challenge of one field line (other
//! schemes are skipped, never mistaken for Payment); [`Challenge::parse_fields`] does
//! so across several lines. Each malformed Payment challenge yields an error that
//! names the problem and its byte offset, and the challenges beside it still parse.
//!
//! Formatting follows decision D5: every value quoted, only `"` and `\` escaped,
//! non-ASCII written as `\uXXXX` (so the header is plain ASCII whatever the peer's
//! HTTP stack does with other bytes), control characters refused.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::binding::{BindingInput, ChallengeBinder, ComputedId};
use crate::digest::ContentDigest;
use crate::error::{BindingError, FormatError, Param, ParseError, ParseErrorKind};
use crate::grammar::{self, Body, LexedParam, Lexer};
use crate::json::JsonObject;
use crate::options::ParseOptions;
use crate::scan;
use crate::time::{Timestamp, UnixTime};
use crate::value::{Base64Json, ChallengeId, IntentName, MethodName, Opaque, Realm};

/// The longest challenge this crate formats (D11: 8 KiB).
pub const MAX_CHALLENGE_LEN: usize = 8 * 1024;

/// The auth-scheme name.
pub const SCHEME: &str = "Payment";

/// The header field a credential travels in (-01 §credential-header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CredentialField {
    /// `Authorization`, the default.
    #[default]
    Authorization,
    /// `Payment-Authorization`, selected by `header="Payment-Authorization"`, for
    /// requests whose `Authorization` carries another scheme.
    PaymentAuthorization,
}

impl CredentialField {
    /// The field name.
    pub const fn name(self) -> &'static str {
        match self {
            CredentialField::Authorization => "Authorization",
            CredentialField::PaymentAuthorization => "Payment-Authorization",
        }
    }

    /// The field with this name (case-insensitive), if it can carry a credential.
    pub fn from_name(name: &str) -> Option<CredentialField> {
        [
            CredentialField::Authorization,
            CredentialField::PaymentAuthorization,
        ]
        .into_iter()
        .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The value of the challenge's `header` parameter: present only for
    /// `Payment-Authorization`.
    pub const fn header_param(self) -> Option<&'static str> {
        match self {
            CredentialField::Authorization => None,
            CredentialField::PaymentAuthorization => Some("Payment-Authorization"),
        }
    }

    /// Reads a `header` parameter. Only `Payment-Authorization` is valid (-01); it is
    /// compared case-insensitively because field names are (decision D13).
    pub fn from_header_param(value: &str) -> Option<CredentialField> {
        value
            .eq_ignore_ascii_case("Payment-Authorization")
            .then_some(CredentialField::PaymentAuthorization)
    }
}

/// One Payment challenge.
///
/// Fields hold validated values; `description` and extension values are checked for
/// control characters when formatted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// `id`: binds the other parameters (see [`crate::binding`]).
    pub id: ChallengeId<'a>,
    /// `realm`: the protection space.
    pub realm: Realm<'a>,
    /// `method`: the payment method.
    pub method: MethodName<'a>,
    /// `intent`: the kind of payment (`charge`, `session`, …).
    pub intent: IntentName<'a>,
    /// `request`: the method- and intent-specific terms, as base64url JSON.
    pub request: Base64Json<'a>,
    /// `expires`: after this instant the challenge may not be paid.
    pub expires: Option<Timestamp<'a>>,
    /// `digest`: the RFC 9530 digest of the request body the credential must resend.
    pub digest: Option<ContentDigest<'a>>,
    /// `description`: for display only; never used to decide anything.
    pub description: Option<Cow<'a, str>>,
    /// `opaque`: server data the client echoes unchanged.
    pub opaque: Option<Opaque<'a>>,
    /// The field the credential goes in: `Payment-Authorization` when the challenge has
    /// `header="Payment-Authorization"`, else `Authorization`.
    pub credential_field: CredentialField,
    /// Parameters this crate does not interpret, lowercase names, in order. Clients
    /// must ignore them; they are kept for tools that show them.
    pub extensions: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Challenge<'a> {
    /// Parses the first Payment challenge in a `WWW-Authenticate` field value, with
    /// the strict defaults. Other schemes before it are skipped; a malformed first
    /// Payment challenge is an error even if a later one is valid.
    pub fn parse(field_value: &'a [u8]) -> Result<Challenge<'a>, ParseError> {
        Self::parse_all(field_value)
            .next()
            .unwrap_or(Err(ParseError::new(ParseErrorKind::NoPaymentChallenge, 0)))
    }

    /// Every Payment challenge of one field value, with the strict defaults.
    pub fn parse_all(field_value: &'a [u8]) -> Challenges<'a> {
        Self::parse_all_with(field_value, ParseOptions::STRICT)
    }

    /// Every Payment challenge of one field value.
    pub fn parse_all_with(field_value: &'a [u8], options: ParseOptions) -> Challenges<'a> {
        Challenges {
            lexer: Lexer::new(field_value, options.legacy_unescaped_quotes),
            too_large: field_value.len() > options.max_field_len,
            options,
        }
    }

    /// Every Payment challenge of several `WWW-Authenticate` field lines, in order.
    /// Lines are parsed separately: a quote left open on one cannot hide the next.
    pub fn parse_fields<I, V>(
        lines: I,
        options: ParseOptions,
    ) -> impl Iterator<Item = Result<Challenge<'a>, ParseError>>
    where
        I: IntoIterator<Item = &'a V>,
        V: AsRef<[u8]> + ?Sized + 'a,
    {
        lines
            .into_iter()
            .flat_map(move |line| Self::parse_all_with(line.as_ref(), options))
    }

    /// An owned copy that no longer borrows the header.
    pub fn into_owned(self) -> Challenge<'static> {
        Challenge {
            id: self.id.into_owned(),
            realm: self.realm.into_owned(),
            method: self.method.into_owned(),
            intent: self.intent.into_owned(),
            request: self.request.into_owned(),
            expires: self.expires.map(Timestamp::into_owned),
            digest: self.digest.map(ContentDigest::into_owned),
            description: self.description.map(|d| Cow::Owned(d.into_owned())),
            opaque: self.opaque.map(Opaque::into_owned),
            credential_field: self.credential_field,
            extensions: self
                .extensions
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        }
    }

    /// Whether the challenge has expired at `now` (`now >= expires`, D8). A challenge
    /// without `expires` never expires by this test; servers must refuse such echoes.
    pub fn is_expired_at(&self, now: UnixTime) -> bool {
        self.expires.as_ref().is_some_and(|e| e.is_expired_at(now))
    }

    /// The `WWW-Authenticate` value: `Payment id="…", realm="…", …`.
    pub fn to_header(&self) -> Result<String, FormatError> {
        let values = [
            self.id.len(),
            self.realm.len(),
            self.request.as_str().len(),
            self.description.as_ref().map_or(0, |d| d.len()),
            self.opaque.as_ref().map_or(0, |o| o.as_str().len()),
        ];
        // Room for the names, quotes and separators, and for fixed-size values.
        let mut out = String::with_capacity(values.iter().sum::<usize>() + 240);
        self.write_header(&mut out)?;
        Ok(out)
    }

    /// Appends the `WWW-Authenticate` value to `out`. On error `out` is left as it was.
    pub fn write_header(&self, out: &mut String) -> Result<(), FormatError> {
        let start = out.len();
        let result = self.write_params(out);
        if result.is_err() || out.len() - start > MAX_CHALLENGE_LEN {
            out.truncate(start);
            return result.and(Err(FormatError::TooLarge {
                limit: MAX_CHALLENGE_LEN,
            }));
        }
        Ok(())
    }

    fn write_params(&self, out: &mut String) -> Result<(), FormatError> {
        out.push_str(SCHEME);
        let mut sep = " ";
        let mut param = |out: &mut String, name: &str, p: Param, value: &str| {
            out.push_str(sep);
            sep = ", ";
            out.push_str(name);
            out.push('=');
            write_quoted(out, value).map_err(|()| FormatError::ControlCharacter(p))
        };
        param(out, "id", Param::Id, &self.id)?;
        param(out, "realm", Param::Realm, &self.realm)?;
        param(out, "method", Param::Method, &self.method)?;
        param(out, "intent", Param::Intent, &self.intent)?;
        param(out, "request", Param::Request, self.request.as_str())?;
        if let Some(v) = &self.expires {
            param(out, "expires", Param::Expires, v.as_str())?;
        }
        if let Some(v) = &self.digest {
            param(out, "digest", Param::Digest, v.as_str())?;
        }
        if let Some(v) = &self.description {
            param(out, "description", Param::Description, v)?;
        }
        if let Some(v) = &self.opaque {
            param(out, "opaque", Param::Opaque, v.as_str())?;
        }
        if self.credential_field == CredentialField::PaymentAuthorization {
            param(
                out,
                "header",
                Param::Header,
                CredentialField::PaymentAuthorization.name(),
            )?;
        }
        for (i, (name, value)) in self.extensions.iter().enumerate() {
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| grammar::is_tchar(b) && !b.is_ascii_uppercase());
            if !valid {
                return Err(FormatError::InvalidParamName);
            }
            let reused = Param::from_name(name.as_bytes()).is_some()
                || self.extensions[..i].iter().any(|(n, _)| n == name);
            if reused {
                return Err(FormatError::DuplicateParameter);
            }
            param(out, name, Param::Extension, value)?;
        }
        Ok(())
    }
}

/// Writes `value` as a quoted-string (D5). Fails on control characters.
pub(crate) fn write_quoted(out: &mut String, value: &str) -> Result<(), ()> {
    out.push('"');
    let mut rest = value;
    // Runs of printable ASCII (what every base64url value is) are copied whole.
    loop {
        let i = scan::printable(rest.as_bytes(), 0);
        if i == rest.len() {
            break;
        }
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(c) = rest.chars().next() else { break };
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push(c),
            c if grammar::is_forbidden(c) => return Err(()),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
        rest = &rest[c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
    Ok(())
}

/// Iterator over the Payment challenges of one field value.
#[derive(Debug, Clone)]
pub struct Challenges<'a> {
    lexer: Lexer<'a>,
    options: ParseOptions,
    too_large: bool,
}

impl<'a> Iterator for Challenges<'a> {
    type Item = Result<Challenge<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.too_large {
            self.too_large = false;
            self.lexer = Lexer::new(&[], false);
            return Some(Err(ParseError::new(
                ParseErrorKind::TooLarge {
                    limit: self.options.max_field_len,
                },
                self.options.max_field_len,
            )));
        }
        loop {
            let (scheme, start) = match self.lexer.scheme()? {
                Ok(found) => found,
                Err(e) => {
                    self.lexer.recover();
                    return Some(Err(e));
                }
            };
            if !scheme.eq_ignore_ascii_case(SCHEME.as_bytes()) {
                if self.lexer.body(start, |_| Ok(())).is_err() {
                    self.lexer.recover();
                }
                continue;
            }
            let mut params = Params::new(&self.options);
            // After a lexing error the lexer must skip the rest of this challenge; after
            // a semantic one it already stands at the next challenge.
            let body = match self.lexer.body(start, |p| params.add(p)) {
                Ok(body) => body,
                Err(e) => {
                    self.lexer.recover();
                    return Some(Err(e));
                }
            };
            return Some(match body {
                Body::Params(..) => params.build(start),
                Body::Bare => Err(ParseError::new(ParseErrorKind::NoParameters, start)),
                Body::Token68(at, _) => Err(ParseError::new(ParseErrorKind::Token68NotAllowed, at)),
            });
        }
    }
}

/// The parameters of one Payment challenge, collected while lexing.
struct Params<'a, 'o> {
    known: [Option<LexedParam<'a>>; Param::KNOWN.len()],
    extensions: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    options: &'o ParseOptions,
}

impl<'a, 'o> Params<'a, 'o> {
    fn new(options: &'o ParseOptions) -> Self {
        Params {
            known: [None; Param::KNOWN.len()],
            extensions: Vec::new(),
            options,
        }
    }

    fn add(&mut self, p: LexedParam<'a>) -> Result<(), ParseError> {
        let duplicate =
            |param| ParseError::new(ParseErrorKind::DuplicateParameter(param), p.name_at);
        match Param::from_name(p.name) {
            Some(param) => {
                let slot = &mut self.known[param as usize];
                if slot.is_some() {
                    return Err(duplicate(param));
                }
                *slot = Some(p);
            }
            None => {
                if self.extensions.len() == self.options.max_extensions {
                    return Err(ParseError::new(
                        ParseErrorKind::TooManyParameters,
                        p.name_at,
                    ));
                }
                // Bounded by `max_extensions`, so this scan keeps parsing linear.
                if self
                    .extensions
                    .iter()
                    .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(p.name))
                {
                    return Err(duplicate(Param::Extension));
                }
                let name = grammar::ascii(p.name);
                let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(name.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(name)
                };
                let value = match p.plain {
                    Some(text) => Cow::Borrowed(text),
                    None => p.value.unescape().map_err(|e| e.shifted(p.value_at))?,
                };
                self.extensions.push((name, value));
            }
        }
        Ok(())
    }

    /// The unescaped text of a parameter, with errors placed in the header.
    fn text(&self, param: Param) -> Option<Result<(Cow<'a, str>, usize), ParseError>> {
        let p = self.known[param as usize]?;
        let text = match p.plain {
            Some(text) => Ok(Cow::Borrowed(text)),
            None => p.value.unescape(),
        };
        Some(
            text.map(|text| (text, p.value_at))
                .map_err(|e| e.shifted(p.value_at).in_field(param.name())),
        )
    }

    fn required<T>(
        &self,
        param: Param,
        start: usize,
        make: impl FnOnce(Cow<'a, str>) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        let (text, at) = self.text(param).unwrap_or(Err(ParseError::new(
            ParseErrorKind::MissingParameter(param),
            start,
        )))?;
        // One error for every required parameter sent empty, whatever its type.
        if text.is_empty() {
            return Err(
                ParseError::new(ParseErrorKind::EmptyParameter(param), at).in_field(param.name())
            );
        }
        make(text).map_err(|e| e.shifted(at).in_field(param.name()))
    }

    fn optional<T>(
        &self,
        param: Param,
        make: impl FnOnce(Cow<'a, str>) -> Result<T, ParseError>,
    ) -> Result<Option<T>, ParseError> {
        match self.text(param) {
            None => Ok(None),
            Some(found) => {
                let (text, at) = found?;
                make(text)
                    .map(Some)
                    .map_err(|e| e.shifted(at).in_field(param.name()))
            }
        }
    }

    fn build(self, start: usize) -> Result<Challenge<'a>, ParseError> {
        let options = self.options;
        let id = self.required(Param::Id, start, ChallengeId::from_cow)?;
        let realm = self.required(Param::Realm, start, Realm::from_cow)?;
        let method = self.required(Param::Method, start, MethodName::from_cow)?;
        let intent = self.required(Param::Intent, start, IntentName::from_cow)?;
        let request = self.required(Param::Request, start, |t| Base64Json::from_cow(t, options))?;
        let expires = self.optional(Param::Expires, Timestamp::from_cow)?;
        let digest = self.optional(Param::Digest, ContentDigest::from_cow)?;
        let description = self.optional(Param::Description, Ok)?;
        let opaque = self.optional(Param::Opaque, |t| Opaque::from_cow(t, options))?;
        let credential_field = self
            .optional(Param::Header, |t| {
                CredentialField::from_header_param(&t)
                    .ok_or(ParseError::new(ParseErrorKind::UnsupportedHeader, 0))
            })?
            .unwrap_or(CredentialField::Authorization);
        Ok(Challenge {
            id,
            realm,
            method,
            intent,
            request,
            expires,
            digest,
            description,
            opaque,
            credential_field,
            extensions: self.extensions,
        })
    }
}

// The binding primitive works on slots; reading the slots of a challenge lives here,
// next to the type, so `binding` never needs to know what a challenge is.
impl<'a> BindingInput<'a> {
    /// The slots of `challenge`, given its `request` in canonical form.
    pub fn of(challenge: &'a Challenge<'_>, canonical_request: &'a str) -> BindingInput<'a> {
        BindingInput {
            realm: &challenge.realm,
            method: &challenge.method,
            intent: &challenge.intent,
            request: canonical_request,
            expires: challenge.expires.as_ref().map(|e| e.as_str()),
            digest: challenge.digest.as_ref().map(|d| d.as_str()),
            header: challenge.credential_field.header_param(),
            opaque: challenge.opaque.as_ref().map(|o| o.as_str()),
        }
    }
}

impl ChallengeBinder {
    /// The id `challenge` should have, under the current secret.
    pub fn id_for_challenge(&self, challenge: &Challenge<'_>) -> Result<ComputedId, BindingError> {
        let request = challenge
            .request
            .canonical()
            .map_err(BindingError::Undecodable)?;
        self.id_for(&BindingInput::of(challenge, &request))
    }

    /// Whether `challenge.id` binds its other parameters (the echo check of a server).
    pub fn verify_challenge(&self, challenge: &Challenge<'_>) -> Result<bool, BindingError> {
        let request = challenge
            .request
            .canonical()
            .map_err(BindingError::Undecodable)?;
        self.verify(&BindingInput::of(challenge, &request), &challenge.id)
    }
}

/// Builds a challenge and computes its id: what a server issues.
///
/// ```
/// use mpp_core::binding::{ChallengeBinder, Secret};
/// use mpp_core::challenge::ChallengeBuilder;
/// use mpp_core::json::JsonObject;
/// use mpp_core::time::{Timestamp, UnixTime};
///
/// let binder = ChallengeBinder::new(Secret::new([7u8; 32]).unwrap());
/// let mut request = JsonObject::new();
/// request.insert("amount".into(), "1000".into());
/// request.insert("currency".into(), "usd".into());
/// let expires = Timestamp::from_unix(UnixTime::from_secs(1_800_000_000)).unwrap();
/// let challenge = ChallengeBuilder::new("api.example.com", "tempo", "charge", &request)
///     .unwrap()
///     .expires(expires)
///     .description("One API call")
///     .issue(&binder)
///     .unwrap();
/// assert_eq!(challenge.id.len(), 43);
/// assert!(binder.verify_challenge(&challenge).unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct ChallengeBuilder<'a> {
    realm: Realm<'a>,
    method: MethodName<'a>,
    intent: IntentName<'a>,
    request: Base64Json<'a>,
    expires: Option<Timestamp<'a>>,
    digest: Option<ContentDigest<'a>>,
    description: Option<Cow<'a, str>>,
    opaque: Option<Opaque<'a>>,
    credential_field: CredentialField,
}

impl<'a> ChallengeBuilder<'a> {
    /// A challenge for `method`/`intent` in `realm` with these request terms.
    pub fn new(
        realm: &'a str,
        method: &'a str,
        intent: &'a str,
        request: &JsonObject,
    ) -> Result<Self, ParseError> {
        Ok(ChallengeBuilder {
            realm: Realm::new(realm)?,
            method: MethodName::new(method)?,
            intent: IntentName::new(intent)?,
            request: Base64Json::encode(request),
            expires: None,
            digest: None,
            description: None,
            opaque: None,
            credential_field: CredentialField::Authorization,
        })
    }

    /// A challenge from validated parts, with `request` already in canonical form
    /// ([`Base64Json::encode`]); for servers that encode each offer once.
    pub fn from_parts(
        realm: Realm<'a>,
        method: MethodName<'a>,
        intent: IntentName<'a>,
        request: Base64Json<'a>,
    ) -> Self {
        ChallengeBuilder {
            realm,
            method,
            intent,
            request,
            expires: None,
            digest: None,
            description: None,
            opaque: None,
            credential_field: CredentialField::Authorization,
        }
    }

    /// Sets `expires`.
    pub fn expires(mut self, expires: Timestamp<'a>) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Sets `digest`, binding the request body.
    pub fn digest(mut self, digest: ContentDigest<'a>) -> Self {
        self.digest = Some(digest);
        self
    }

    /// Sets `description` (display only, not bound).
    pub fn description(mut self, description: impl Into<Cow<'a, str>>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets `opaque`.
    pub fn opaque(mut self, opaque: Opaque<'a>) -> Self {
        self.opaque = Some(opaque);
        self
    }

    /// Asks for the credential in `Payment-Authorization` (`header` parameter), for
    /// routes where `Authorization` carries other credentials.
    pub fn payment_authorization(mut self) -> Self {
        self.credential_field = CredentialField::PaymentAuthorization;
        self
    }

    /// Computes the id with the binder's newest secret and returns the challenge.
    pub fn issue(self, binder: &ChallengeBinder) -> Result<Challenge<'a>, BindingError> {
        let id = binder.id_for(&BindingInput {
            realm: &self.realm,
            method: &self.method,
            intent: &self.intent,
            // Canonical already: `new` encoded it, `from_parts` requires it.
            request: self.request.as_str(),
            expires: self.expires.as_ref().map(|e| e.as_str()),
            digest: self.digest.as_ref().map(|d| d.as_str()),
            header: self.credential_field.header_param(),
            opaque: self.opaque.as_ref().map(|o| o.as_str()),
        })?;
        Ok(Challenge {
            id: id.to_challenge_id(),
            realm: self.realm,
            method: self.method,
            intent: self.intent,
            request: self.request,
            expires: self.expires,
            digest: self.digest,
            description: self.description,
            opaque: self.opaque,
            credential_field: self.credential_field,
            extensions: Vec::new(),
        })
    }
}
