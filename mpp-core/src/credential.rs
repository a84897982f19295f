//! Payment credentials: `Payment <base64url JSON>` in `Authorization` (or in
//! `Payment-Authorization`, when the challenge asks for it).
//!
//! The JSON holds the `challenge` echo (with `request` as the base64url string the
//! server sent), the method's `payload` object, and an optional payer `source`.
//! Unknown members are ignored, as the spec requires. A credential is as sensitive
//! as a password: its `Debug` output shows the challenge it answers, never the
//! payload or the payer.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use crate::challenge::{Challenge, SCHEME};
use crate::digest::ContentDigest;
use crate::error::{ParseError, ParseErrorKind};
use crate::json::{self, JsonObject};
use crate::options::ParseOptions;
use crate::time::Timestamp;
use crate::value::{Base64Json, ChallengeId, IntentName, MethodName, Opaque, Realm, check_text};
use crate::{base64, grammar, jcs};

/// Kept at its old path; a challenge's `header` parameter names the field.
pub use crate::challenge::CredentialField;

/// A Payment credential.
#[derive(Clone, PartialEq)]
pub struct Credential {
    /// The challenge it answers, as echoed (no extension parameters).
    pub challenge: Challenge<'static>,
    /// The method-specific proof.
    pub payload: JsonObject,
    /// The payer, when given (a DID is recommended).
    pub source: Option<String>,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("challenge_id", &self.challenge.id.as_str())
            .field("method", &self.challenge.method.as_str())
            .field("intent", &self.challenge.intent.as_str())
            .field("payload", &"<redacted>")
            .field("source", &self.source.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Credential {
    /// Parses an `Authorization` (or `Payment-Authorization`) value with the strict
    /// defaults.
    pub fn parse(value: &[u8]) -> Result<Credential, ParseError> {
        Self::parse_with(value, &ParseOptions::STRICT)
    }

    /// Parses an `Authorization` (or `Payment-Authorization`) value:
    /// `Payment` (any case), one or more spaces, base64url, optional surrounding
    /// whitespace.
    pub fn parse_with(value: &[u8], options: &ParseOptions) -> Result<Credential, ParseError> {
        if value.len() > options.max_field_len {
            return Err(ParseError::new(
                ParseErrorKind::TooLarge {
                    limit: options.max_field_len,
                },
                options.max_field_len,
            ));
        }
        let (start, value) = grammar::trim_ows(value);
        if value.is_empty() {
            return Err(ParseError::new(ParseErrorKind::Empty, start));
        }
        let token = scheme_end(value).ok_or(ParseError::new(ParseErrorKind::WrongScheme, start))?;
        let (text, token_at) = (&value[token..], start + token);
        if text.is_empty() {
            return Err(ParseError::new(ParseErrorKind::Empty, token_at));
        }
        let mut bytes = Vec::new();
        base64::decode_into(text, options.base64_alphabet(), &mut bytes)
            .map_err(|e| e.shifted(token_at))?;
        let object = json::parse_object(&bytes).map_err(|e| ParseError::new(e.kind(), token_at))?;
        Self::from_json(object, options).map_err(|e| e.shifted(token_at))
    }

    /// Reads the decoded JSON of a credential. Error offsets are 0; the field names
    /// (`challenge.realm`, …) say where the problem is.
    pub fn from_json(
        mut object: JsonObject,
        options: &ParseOptions,
    ) -> Result<Credential, ParseError> {
        let challenge = match object.remove("challenge") {
            Some(Value::Object(echo)) => echo_from_json(echo, options)?,
            Some(_) => return Err(invalid("challenge")),
            None => return Err(missing("challenge")),
        };
        let payload = match object.remove("payload") {
            Some(Value::Object(payload)) => payload,
            Some(_) => return Err(invalid("payload")),
            None => return Err(missing("payload")),
        };
        let source = match object.remove("source") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(invalid("source")),
        };
        Ok(Credential {
            challenge,
            payload,
            source,
        })
    }

    /// The wire JSON object: the echo with `request` as its base64url string.
    pub fn to_json(&self) -> JsonObject {
        let c = &self.challenge;
        let mut echo = JsonObject::new();
        let mut put = |k: &str, v: &str| {
            echo.insert(k.into(), Value::String(v.into()));
        };
        put("id", &c.id);
        put("realm", &c.realm);
        put("method", &c.method);
        put("intent", &c.intent);
        put("request", c.request.as_str());
        if let Some(v) = &c.expires {
            put("expires", v.as_str());
        }
        if let Some(v) = &c.digest {
            put("digest", v.as_str());
        }
        if let Some(v) = &c.description {
            put("description", v);
        }
        if let Some(v) = &c.opaque {
            put("opaque", v.as_str());
        }
        if let Some(v) = c.credential_field.header_param() {
            put("header", v);
        }
        let mut object = JsonObject::new();
        object.insert("challenge".into(), Value::Object(echo));
        object.insert("payload".into(), Value::Object(self.payload.clone()));
        if let Some(source) = &self.source {
            object.insert("source".into(), Value::String(source.clone()));
        }
        object
    }

    /// The header value: `Payment <base64url(JCS(json))>`.
    pub fn to_header(&self) -> String {
        let json = jcs::object_to_string(&self.to_json());
        let mut out = String::with_capacity(SCHEME.len() + 1 + base64::encoded_len(json.len()));
        out.push_str(SCHEME);
        out.push(' ');
        base64::encode_into(json.as_bytes(), base64::URL_SAFE, false, &mut out);
        out
    }

    /// The field this credential must be sent in.
    pub fn field(&self) -> CredentialField {
        self.challenge.credential_field
    }

    /// The credential answering `challenge` with a method's `payload`. The echo is
    /// the challenge without its extension parameters.
    pub fn answer(
        challenge: &Challenge<'_>,
        payload: JsonObject,
        source: Option<String>,
    ) -> Credential {
        let mut echo = challenge.clone().into_owned();
        echo.extensions.clear();
        Credential {
            challenge: echo,
            payload,
            source,
        }
    }
}

fn missing(field: &'static str) -> ParseError {
    ParseError::new(ParseErrorKind::MissingField, 0).in_field(field)
}

fn invalid(field: &'static str) -> ParseError {
    ParseError::new(ParseErrorKind::InvalidField, 0).in_field(field)
}

pub(crate) fn echo_from_json(
    mut echo: JsonObject,
    options: &ParseOptions,
) -> Result<Challenge<'static>, ParseError> {
    let mut take = |field: &'static str| -> Result<Option<String>, ParseError> {
        let key = &field["challenge.".len()..];
        match echo.remove(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(field)),
        }
    };
    let field_error =
        |field: &'static str| move |e: ParseError| ParseError::new(e.kind(), 0).in_field(field);
    let mut required = |field: &'static str| take(field)?.ok_or_else(|| missing(field));
    let id =
        ChallengeId::from_string(required("challenge.id")?).map_err(field_error("challenge.id"))?;
    let realm =
        Realm::from_string(required("challenge.realm")?).map_err(field_error("challenge.realm"))?;
    let method = MethodName::from_string(required("challenge.method")?)
        .map_err(field_error("challenge.method"))?;
    let intent = IntentName::from_string(required("challenge.intent")?)
        .map_err(field_error("challenge.intent"))?;
    let request = Base64Json::from_cow(Cow::Owned(required("challenge.request")?), options)
        .map_err(field_error("challenge.request"))?;
    let expires = take("challenge.expires")?
        .map(Timestamp::from_string)
        .transpose()
        .map_err(field_error("challenge.expires"))?;
    let digest = take("challenge.digest")?
        .map(ContentDigest::from_string)
        .transpose()
        .map_err(field_error("challenge.digest"))?;
    let description = take("challenge.description")?;
    if let Some(d) = &description {
        check_text(d).map_err(field_error("challenge.description"))?;
    }
    let opaque = take("challenge.opaque")?
        .map(|t| Opaque::from_cow(Cow::Owned(t), options))
        .transpose()
        .map_err(field_error("challenge.opaque"))?;
    let credential_field = match take("challenge.header")? {
        None => CredentialField::Authorization,
        Some(h) => CredentialField::from_header_param(&h).ok_or_else(|| {
            ParseError::new(ParseErrorKind::UnsupportedHeader, 0).in_field("challenge.header")
        })?,
    };
    Ok(Challenge {
        id,
        realm,
        method,
        intent,
        request,
        expires,
        digest,
        description: description.map(Cow::Owned),
        opaque,
        credential_field,
        extensions: Vec::new(),
    })
}

/// If `value` starts with the Payment scheme, followed by spaces or nothing, the
/// offset of what follows the spaces.
fn scheme_end(value: &[u8]) -> Option<usize> {
    let scheme = value.get(..SCHEME.len())?;
    if !scheme.eq_ignore_ascii_case(SCHEME.as_bytes())
        || !matches!(value.get(SCHEME.len()), None | Some(b' '))
    {
        return None;
    }
    let spaces = value[SCHEME.len()..]
        .iter()
        .take_while(|b| **b == b' ')
        .count();
    Some(SCHEME.len() + spaces)
}

/// A Payment credential found in a request's headers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FoundCredential<'a> {
    /// The field it was in.
    pub field: CredentialField,
    /// The credential (`Payment …`), trimmed, ready for [`Credential::parse`].
    pub value: &'a [u8],
}

impl fmt::Debug for FoundCredential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoundCredential")
            .field("field", &self.field)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// Every Payment credential in a request's header fields, in order.
///
/// Looks in `Authorization` and `Payment-Authorization` (names compared
/// case-insensitively), on every field line, and inside comma-joined values, where a
/// list element starting with the `Payment` scheme counts (commas inside
/// quoted-strings do not split). A server refuses a request with more than one
/// (400 `bad-request`), and accepts one only from the field its challenge selected.
///
/// Works with any header map whose iterator yields names and byte values, such as
/// `http::HeaderMap`.
pub fn find_credentials<'a, I, N, V>(headers: I) -> Vec<FoundCredential<'a>>
where
    I: IntoIterator<Item = (N, &'a V)>,
    N: AsRef<str>,
    V: AsRef<[u8]> + ?Sized + 'a,
{
    let mut found = Vec::new();
    for (name, value) in headers {
        let Some(field) = CredentialField::from_name(name.as_ref()) else {
            continue;
        };
        for element in list_elements(value.as_ref()) {
            if scheme_end(element).is_some() {
                found.push(FoundCredential {
                    field,
                    value: element,
                });
            }
        }
    }
    found
}

/// The trimmed, non-empty elements of a comma-separated field value; commas inside
/// quoted-strings do not separate.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0;
    core::iter::from_fn(move || {
        while pos < value.len() {
            let start = pos;
            let mut quoted = false;
            while pos < value.len() {
                match value[pos] {
                    b'\\' if quoted => pos += 1,
                    b'"' => quoted = !quoted,
                    b',' if !quoted => break,
                    _ => {}
                }
                pos += 1;
            }
            let (_, element) = grammar::trim_ows(&value[start..pos.min(value.len())]);
            pos += 1;
            if !element.is_empty() {
                return Some(element);
            }
        }
        None
    })
}
