//! The Payment scheme over JSON-RPC 2.0 and MCP (draft-payment-transport-mcp-00): its messages as JSON values, converted to and from the HTTP forms.
//!
//! Over JSON-RPC a server cannot answer 402, so the scheme moves into the messages:
//!
//! | HTTP | JSON-RPC |
//! |---|---|
//! | 402 + `WWW-Authenticate: Payment …` | error [`PAYMENT_REQUIRED`] (-32042), `data {httpStatus: 402, challenges, problem?}` |
//! | `Authorization: Payment …` | `params._meta["org.paymentauth/credential"]` (MCP), or `_meta` at the message root |
//! | `Payment-Receipt` | `result._meta["org.paymentauth/receipt"]` (MCP), or the root `_meta`, with `challengeId` |
//! | 402 `verification-failed` | error [`VERIFICATION_FAILED`] (-32043) with fresh challenges and `failure` |
//! | 402 `malformed-credential` | error [`INVALID_PARAMS`] (-32602) |
//! | 500 `internal-payment-error` | error [`INTERNAL_ERROR`] (-32603) |
//!
//! A challenge's `request` travels as a JSON object, not base64url. Its id is still
//! the one HTTP computes: the binder hashes the JCS form of `request` (D2), and
//! reading a JSON challenge or credential re-encodes `request` as base64url of its
//! JCS form, so [`crate::ChallengeBinder::verify_challenge`] gives the same answer on
//! either transport, and a `request` altered in the JSON form fails it.
//!
//! Writers produce the draft's forms only. Readers also accept what deployed SDKs
//! send: -32042 with a `problem` for a refused credential, a tool result carrying
//! the challenges in `_meta["org.paymentauth/payment-required"]` (mppx), `meta` for
//! `opaque` (mppx), and flat `methods`/`intents` lists in the capability (pympp).
//!
//! Everything is plain data and pure functions over `serde_json` values: no I/O.

use alloc::borrow::ToOwned;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde_json::Value;

use crate::challenge::Challenge;
use crate::credential::{Credential, echo_from_json};
use crate::error::{Fault, ParseError, ParseErrorKind};
use crate::json::{self, JsonObject};
use crate::options::ParseOptions;
use crate::problem::{Problem, ProblemType};
use crate::receipt::Receipt;
use crate::value::{Base64Json, ChallengeId, Opaque};

/// Error code: payment required; the challenges are in `error.data`.
pub const PAYMENT_REQUIRED: i64 = -32042;
/// Error code: a credential was presented and refused; fresh challenges in `error.data`.
pub const VERIFICATION_FAILED: i64 = -32043;
/// JSON-RPC "Invalid params": the draft's code for a malformed credential.
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC "Internal error": the draft's code for a payment processor failure.
pub const INTERNAL_ERROR: i64 = -32603;
/// JSON-RPC "Invalid Request": the message is JSON but not a usable request.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC "Parse error": the message is not JSON at all.
pub const PARSE_ERROR: i64 = -32700;

/// The member that carries extension data, in `params`, `result` or the message.
pub const META: &str = "_meta";
/// The `_meta` key of a credential.
pub const CREDENTIAL_KEY: &str = "org.paymentauth/credential";
/// The `_meta` key of a receipt.
pub const RECEIPT_KEY: &str = "org.paymentauth/receipt";
/// The `_meta` key under which mppx puts payment-required data in a tool *result*.
/// Read, never written: the draft signals payment with an error.
pub const PAYMENT_REQUIRED_KEY: &str = "org.paymentauth/payment-required";
/// The `_meta` key of a priced tool in `tools/list` that says what calling it costs
/// ([`ToolOffer`]). This project's extension (D21): the draft has no way to learn a
/// price before a call, and a client must not call a tool just to read its price.
pub const OFFERS_KEY: &str = "org.paymentauth/offers";
/// The member of MCP's `capabilities.experimental` that advertises payment.
pub const CAPABILITY: &str = "payment";
/// The value of `error.data.httpStatus`.
pub const HTTP_STATUS: u16 = 402;

/// Where a `_meta` object sits in a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// In `params` (a request) or `result` (a response): MCP's convention.
    Nested,
    /// At the root of the message: plain JSON-RPC, where `params` may be an array.
    Root,
}

impl Placement {
    fn name(self) -> &'static str {
        match self {
            Placement::Nested => "params._meta",
            Placement::Root => "_meta",
        }
    }
}

/// Why a JSON-RPC payment message cannot be read or written.
///
/// [`code`](Self::code) is the JSON-RPC error a server answers with when the
/// message came from a peer; errors of the caller's own values map to -32603.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JsonRpcError {
    /// The message is not JSON, or nests deeper than [`json::MAX_DEPTH`].
    InvalidJson(ParseError),
    /// The message is longer than the limit given.
    MessageTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The message is JSON but not a JSON-RPC 2.0 object; names what is wrong.
    InvalidMessage(&'static str),
    /// A `_meta` member is present but not an object.
    MetaNotObject(Placement),
    /// A request carries a credential in both `_meta` places, with different values.
    ConflictingCredentials,
    /// The credential is not an object.
    CredentialNotObject,
    /// The credential is malformed: which field, and how.
    InvalidCredential(ParseError),
    /// The credential is longer, as JCS, than [`ParseOptions::max_field_len`].
    CredentialTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A challenge in payment-required data is malformed.
    InvalidChallenge {
        /// Its position in `challenges`.
        index: usize,
        /// What is wrong (field names are those of a credential's echo).
        error: ParseError,
    },
    /// Payment-required data is malformed; names the member.
    InvalidPaymentRequired(&'static str),
    /// A receipt is malformed.
    InvalidReceipt(ParseError),
    /// A payment capability is malformed; names the member.
    InvalidCapability(&'static str),
    /// A tool's [`OFFERS_KEY`] list is malformed; names the member.
    InvalidOffers(&'static str),
    /// A value given by the caller cannot hold `_meta`: names it (`params`, `result`).
    NotAnObject(&'static str),
    /// A challenge or credential given by the caller has a `request` or `opaque`
    /// that does not decode.
    Undecodable(ParseError),
}

impl JsonRpcError {
    /// The JSON-RPC error code to answer with.
    pub const fn code(&self) -> i64 {
        match self {
            JsonRpcError::InvalidJson(_) => PARSE_ERROR,
            JsonRpcError::MessageTooLarge { .. } | JsonRpcError::InvalidMessage(_) => {
                INVALID_REQUEST
            }
            JsonRpcError::MetaNotObject(_)
            | JsonRpcError::ConflictingCredentials
            | JsonRpcError::CredentialNotObject
            | JsonRpcError::InvalidCredential(_)
            | JsonRpcError::CredentialTooLarge { .. } => INVALID_PARAMS,
            JsonRpcError::InvalidChallenge { .. }
            | JsonRpcError::InvalidPaymentRequired(_)
            | JsonRpcError::InvalidReceipt(_)
            | JsonRpcError::InvalidCapability(_)
            | JsonRpcError::InvalidOffers(_)
            | JsonRpcError::NotAnObject(_)
            | JsonRpcError::Undecodable(_) => INTERNAL_ERROR,
        }
    }

    /// The JSON-RPC error message for [`code`](Self::code).
    pub const fn message(&self) -> &'static str {
        match self.code() {
            PARSE_ERROR => "Parse error",
            INVALID_REQUEST => "Invalid Request",
            INVALID_PARAMS => "Invalid params",
            _ => "Internal error",
        }
    }

    /// Who is at fault: the peer ([`Fault::Malformed`]) or the caller.
    pub const fn fault(&self) -> Fault {
        match self {
            JsonRpcError::NotAnObject(_) | JsonRpcError::Undecodable(_) => Fault::Caller,
            _ => Fault::Malformed,
        }
    }

    /// The JSON-RPC `error` object: `code`, `message`, and `data.detail` saying
    /// what is wrong (never a credential's content).
    pub fn to_error_object(&self) -> JsonObject {
        error_object(self.code(), self.message(), detail_data(&self.to_string()))
    }
}

impl fmt::Display for JsonRpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonRpcError::InvalidJson(e) => write!(f, "the message is not valid JSON: {e}"),
            JsonRpcError::MessageTooLarge { limit } => {
                write!(f, "the message is longer than {limit} bytes")
            }
            JsonRpcError::InvalidMessage(what) => write!(f, "not a JSON-RPC 2.0 message: {what}"),
            JsonRpcError::MetaNotObject(p) => write!(f, "`{}` is not an object", p.name()),
            JsonRpcError::ConflictingCredentials => {
                f.write_str("two different credentials, in `params._meta` and in `_meta`; send one")
            }
            JsonRpcError::CredentialNotObject => {
                write!(f, "`{CREDENTIAL_KEY}` is not an object")
            }
            JsonRpcError::InvalidCredential(e) => write!(f, "malformed credential: {e}"),
            JsonRpcError::CredentialTooLarge { limit } => {
                write!(f, "the credential is longer than {limit} bytes")
            }
            JsonRpcError::InvalidChallenge { index, error } => {
                write!(f, "challenge {index} is malformed: {error}")
            }
            JsonRpcError::InvalidPaymentRequired(what) => {
                write!(f, "malformed payment-required data: {what}")
            }
            JsonRpcError::InvalidReceipt(e) => write!(f, "malformed receipt: {e}"),
            JsonRpcError::InvalidCapability(what) => {
                write!(f, "malformed payment capability: {what}")
            }
            JsonRpcError::InvalidOffers(what) => write!(f, "malformed `{OFFERS_KEY}`: {what}"),
            JsonRpcError::NotAnObject(what) => write!(f, "`{what}` is not an object"),
            JsonRpcError::Undecodable(e) => write!(f, "a value does not decode: {e}"),
        }
    }
}

impl core::error::Error for JsonRpcError {}

// --- messages --------------------------------------------------------------

/// Parses one JSON-RPC message (or batch) with the crate's strict JSON reader:
/// duplicate member names, more than [`json::MAX_DEPTH`] levels, and texts longer
/// than `max_len` are refused before anything is built from them.
pub fn parse_message(bytes: &[u8], max_len: usize) -> Result<Value, JsonRpcError> {
    if bytes.len() > max_len {
        return Err(JsonRpcError::MessageTooLarge { limit: max_len });
    }
    json::parse_value(bytes).map_err(JsonRpcError::InvalidJson)
}

/// `{"jsonrpc": "2.0", "id": id, "error": error}`.
pub fn error_response(id: Value, error: JsonObject) -> JsonObject {
    response(id, "error", Value::Object(error))
}

/// `{"jsonrpc": "2.0", "id": id, "result": result}`.
pub fn result_response(id: Value, result: Value) -> JsonObject {
    response(id, "result", result)
}

fn response(id: Value, member: &str, value: Value) -> JsonObject {
    let mut object = JsonObject::new();
    object.insert("jsonrpc".into(), "2.0".into());
    object.insert("id".into(), id);
    object.insert(member.into(), value);
    object
}

fn error_object(code: i64, message: &str, data: JsonObject) -> JsonObject {
    let mut object = JsonObject::new();
    object.insert("code".into(), code.into());
    object.insert("message".into(), message.into());
    object.insert("data".into(), Value::Object(data));
    object
}

fn detail_data(detail: &str) -> JsonObject {
    let mut data = JsonObject::new();
    data.insert("detail".into(), detail.into());
    data
}

// --- challenges ------------------------------------------------------------

/// The JSON form of a challenge: its parameters as members, `request` as an object.
///
/// `opaque` stays the base64url text the id binds; a `header` parameter is kept
/// for the same reason. Extension parameters are dropped: nothing binds them.
pub fn challenge_to_json(challenge: &Challenge<'_>) -> Result<JsonObject, JsonRpcError> {
    let request = challenge
        .request
        .decode()
        .map_err(|e| JsonRpcError::Undecodable(e.in_field("request")))?;
    let mut object = JsonObject::new();
    let mut put = |k: &str, v: &str| {
        object.insert(k.into(), Value::String(v.into()));
    };
    put("id", &challenge.id);
    put("realm", &challenge.realm);
    put("method", &challenge.method);
    put("intent", &challenge.intent);
    if let Some(v) = &challenge.expires {
        put("expires", v.as_str());
    }
    if let Some(v) = &challenge.digest {
        put("digest", v.as_str());
    }
    if let Some(v) = &challenge.description {
        put("description", v);
    }
    if let Some(v) = &challenge.opaque {
        put("opaque", v.as_str());
    }
    if let Some(v) = challenge.credential_field.header_param() {
        put("header", v);
    }
    object.insert("request".into(), Value::Object(request));
    Ok(object)
}

/// Reads the JSON form of a challenge, re-encoding `request` as base64url of its
/// JCS form (and mppx's `meta`, when `opaque` is absent, the same way), so that the
/// id verifies exactly as on HTTP. Unknown members are ignored.
pub fn challenge_from_json(
    object: &JsonObject,
    options: &ParseOptions,
) -> Result<Challenge<'static>, ParseError> {
    echo_from_json(to_http_echo(object)?, options)
}

/// The echo with `request` (and `meta`) in their HTTP encodings.
fn to_http_echo(object: &JsonObject) -> Result<JsonObject, ParseError> {
    let mut echo = object.clone();
    match echo.remove("request") {
        Some(Value::Object(request)) => {
            echo.insert(
                "request".into(),
                Value::String(Base64Json::encode(&request).as_str().to_owned()),
            );
        }
        Some(_) => return Err(invalid("challenge.request")),
        None => return Err(missing("challenge.request")),
    }
    // mppx sends `meta` (the decoded `opaque`) beside or instead of `opaque`; the
    // id binds the text, so `opaque` wins and `meta` only stands in for it.
    match echo.remove("meta") {
        Some(_) if echo.contains_key("opaque") => {}
        None => {}
        Some(Value::Object(meta)) => {
            let mut entries = Vec::with_capacity(meta.len());
            for (k, v) in &meta {
                match v {
                    Value::String(s) => entries.push((k.as_str(), s.as_str())),
                    _ => return Err(invalid("challenge.meta")),
                }
            }
            echo.insert(
                "opaque".into(),
                Value::String(Opaque::encode(entries).as_str().to_owned()),
            );
        }
        Some(_) => return Err(invalid("challenge.meta")),
    }
    Ok(echo)
}

fn missing(field: &'static str) -> ParseError {
    ParseError::new(ParseErrorKind::MissingField, 0).in_field(field)
}

fn invalid(field: &'static str) -> ParseError {
    ParseError::new(ParseErrorKind::InvalidField, 0).in_field(field)
}

// --- credentials -----------------------------------------------------------

/// The JSON form of a credential: the HTTP credential's JSON with the echoed
/// challenge's `request` as an object.
pub fn credential_to_json(credential: &Credential) -> Result<JsonObject, JsonRpcError> {
    let mut object = credential.to_json();
    let request = credential
        .challenge
        .request
        .decode()
        .map_err(|e| JsonRpcError::Undecodable(e.in_field("challenge.request")))?;
    if let Some(Value::Object(echo)) = object.get_mut("challenge") {
        echo.insert("request".into(), Value::Object(request));
    }
    Ok(object)
}

/// Reads the JSON form of a credential (the value of [`CREDENTIAL_KEY`]). Its JCS
/// form may be at most [`ParseOptions::max_field_len`] long, as the header may.
pub fn credential_from_json(
    value: &Value,
    options: &ParseOptions,
) -> Result<Credential, JsonRpcError> {
    let Value::Object(object) = value else {
        return Err(JsonRpcError::CredentialNotObject);
    };
    if crate::jcs::object_to_string(object).len() > options.max_field_len {
        return Err(JsonRpcError::CredentialTooLarge {
            limit: options.max_field_len,
        });
    }
    let mut object = object.clone();
    match object.remove("challenge") {
        Some(Value::Object(echo)) => {
            let echo = to_http_echo(&echo).map_err(JsonRpcError::InvalidCredential)?;
            object.insert("challenge".into(), Value::Object(echo));
        }
        Some(_) => return Err(JsonRpcError::InvalidCredential(invalid("challenge"))),
        None => return Err(JsonRpcError::InvalidCredential(missing("challenge"))),
    }
    Credential::from_json(object, options).map_err(JsonRpcError::InvalidCredential)
}

/// The `_meta` object at `placement` of a message, if there is one. `Ok(None)` for
/// the nested place when the message has no `field` object (`params` may be an
/// array in plain JSON-RPC).
fn meta_of<'m>(
    message: &'m JsonObject,
    field: &str,
    placement: Placement,
) -> Result<Option<&'m JsonObject>, JsonRpcError> {
    let holder = match placement {
        Placement::Root => message,
        Placement::Nested => match message.get(field) {
            Some(Value::Object(inner)) => inner,
            _ => return Ok(None),
        },
    };
    match holder.get(META) {
        None => Ok(None),
        Some(Value::Object(meta)) => Ok(Some(meta)),
        Some(_) => Err(JsonRpcError::MetaNotObject(placement)),
    }
}

/// The credential value in a request and where it was: `params._meta` or the root
/// `_meta`. Both places are read, as the draft requires of servers; the same value
/// in both counts once, different values are refused.
///
/// Call it for priced methods only: the draft has servers ignore a credential sent
/// to a free one, so its `_meta`, however malformed, is none of the paywall's business.
pub fn find_credential(request: &JsonObject) -> Result<Option<(&Value, Placement)>, JsonRpcError> {
    let nested = meta_of(request, "params", Placement::Nested)?.and_then(|m| m.get(CREDENTIAL_KEY));
    let root = meta_of(request, "params", Placement::Root)?.and_then(|m| m.get(CREDENTIAL_KEY));
    match (nested, root) {
        (Some(a), Some(b)) if a != b => Err(JsonRpcError::ConflictingCredentials),
        (Some(a), _) => Ok(Some((a, Placement::Nested))),
        (None, Some(b)) => Ok(Some((b, Placement::Root))),
        (None, None) => Ok(None),
    }
}

/// The credential of a request, read from either place ([`find_credential`]).
pub fn read_credential(
    request: &JsonObject,
    options: &ParseOptions,
) -> Result<Option<(Credential, Placement)>, JsonRpcError> {
    match find_credential(request)? {
        None => Ok(None),
        Some((value, placement)) => Ok(Some((credential_from_json(value, options)?, placement))),
    }
}

/// Puts `credential` into a request at `placement`, creating `params` (for
/// [`Placement::Nested`]) and `_meta` as needed; other `_meta` members are kept.
pub fn attach_credential(
    request: &mut JsonObject,
    credential: &Credential,
    placement: Placement,
) -> Result<(), JsonRpcError> {
    let value = credential_to_json(credential)?;
    insert_meta(request, "params", placement, CREDENTIAL_KEY, value)
}

fn insert_meta(
    message: &mut JsonObject,
    field: &'static str,
    placement: Placement,
    key: &str,
    value: JsonObject,
) -> Result<(), JsonRpcError> {
    let holder = match placement {
        Placement::Root => message,
        Placement::Nested => match message
            .entry(field)
            .or_insert_with(|| Value::Object(JsonObject::new()))
        {
            Value::Object(inner) => inner,
            _ => return Err(JsonRpcError::NotAnObject(field)),
        },
    };
    match holder
        .entry(META)
        .or_insert_with(|| Value::Object(JsonObject::new()))
    {
        Value::Object(meta) => {
            meta.insert(key.into(), Value::Object(value));
            Ok(())
        }
        _ => Err(JsonRpcError::MetaNotObject(placement)),
    }
}

// --- receipts --------------------------------------------------------------

/// A receipt as JSON-RPC carries it: the HTTP receipt and the id of the challenge
/// it settles.
#[derive(Debug, Clone, PartialEq)]
pub struct PaidReceipt {
    /// The receipt (its `extra` no longer holds `challengeId`).
    pub receipt: Receipt,
    /// `challengeId`.
    pub challenge_id: ChallengeId<'static>,
}

impl PaidReceipt {
    /// The JSON form: the receipt's members and `challengeId`.
    pub fn to_json(&self) -> JsonObject {
        let mut object = self.receipt.to_json();
        object.insert("challengeId".into(), self.challenge_id.as_str().into());
        object
    }

    /// Reads the JSON form (the value of [`RECEIPT_KEY`]).
    pub fn from_json(value: &Value) -> Result<PaidReceipt, JsonRpcError> {
        let Value::Object(object) = value else {
            return Err(JsonRpcError::InvalidReceipt(
                ParseError::new(ParseErrorKind::ExpectedJsonObject, 0).in_field(RECEIPT_KEY),
            ));
        };
        let mut receipt =
            Receipt::from_json(object.clone()).map_err(JsonRpcError::InvalidReceipt)?;
        let challenge_id = match receipt.extra.remove("challengeId") {
            Some(Value::String(id)) => ChallengeId::from_string(id).map_err(|e| {
                JsonRpcError::InvalidReceipt(ParseError::new(e.kind(), 0).in_field("challengeId"))
            })?,
            Some(_) => return Err(JsonRpcError::InvalidReceipt(invalid("challengeId"))),
            None => return Err(JsonRpcError::InvalidReceipt(missing("challengeId"))),
        };
        Ok(PaidReceipt {
            receipt,
            challenge_id,
        })
    }
}

/// Puts a receipt into a response: in `result._meta` ([`Placement::Nested`], MCP;
/// `result` must be an object) or the root `_meta`. Other `_meta` members are kept.
pub fn attach_receipt(
    response: &mut JsonObject,
    receipt: &PaidReceipt,
    placement: Placement,
) -> Result<(), JsonRpcError> {
    if placement == Placement::Nested && !matches!(response.get("result"), Some(Value::Object(_))) {
        return Err(JsonRpcError::NotAnObject("result"));
    }
    insert_meta(
        response,
        "result",
        placement,
        RECEIPT_KEY,
        receipt.to_json(),
    )
}

/// The receipt of a response, from `result._meta` or the root `_meta`.
pub fn read_receipt(
    response: &JsonObject,
) -> Result<Option<(PaidReceipt, Placement)>, JsonRpcError> {
    for placement in [Placement::Nested, Placement::Root] {
        let meta = meta_of(response, "result", placement).map_err(|_| {
            JsonRpcError::InvalidReceipt(invalid(match placement {
                Placement::Nested => "result._meta",
                Placement::Root => "_meta",
            }))
        })?;
        if let Some(value) = meta.and_then(|m| m.get(RECEIPT_KEY)) {
            return Ok(Some((PaidReceipt::from_json(value)?, placement)));
        }
    }
    Ok(None)
}

// --- payment-required and the other errors ---------------------------------

/// Why a verification failed (`error.data.failure` of -32043).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Failure {
    /// `reason`: a machine-readable code.
    pub reason: Option<String>,
    /// `detail`: for people. Never a secret or credential content.
    pub detail: Option<String>,
}

impl Failure {
    fn to_json(&self) -> JsonObject {
        let mut object = JsonObject::new();
        if let Some(r) = &self.reason {
            object.insert("reason".into(), r.as_str().into());
        }
        if let Some(d) = &self.detail {
            object.insert("detail".into(), d.as_str().into());
        }
        object
    }

    fn from_json(value: &Value) -> Result<Failure, JsonRpcError> {
        let Value::Object(object) = value else {
            return Err(JsonRpcError::InvalidPaymentRequired("failure"));
        };
        let text = |name: &'static str| match object.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(JsonRpcError::InvalidPaymentRequired(name)),
        };
        Ok(Failure {
            reason: text("reason")?,
            detail: text("detail")?,
        })
    }
}

/// The -32042 `error` object: `{code, message: "Payment Required", data:
/// {httpStatus: 402, challenges, problem?}}`.
pub fn payment_required(
    challenges: &[Challenge<'_>],
    problem: Option<&Problem>,
) -> Result<JsonObject, JsonRpcError> {
    let data = payment_data(challenges, problem, None)?;
    Ok(error_object(PAYMENT_REQUIRED, "Payment Required", data))
}

/// The -32043 `error` object: fresh `challenges`, `failure`, and `problem` if given.
pub fn verification_failed(
    challenges: &[Challenge<'_>],
    failure: &Failure,
    problem: Option<&Problem>,
) -> Result<JsonObject, JsonRpcError> {
    let data = payment_data(challenges, problem, Some(failure))?;
    Ok(error_object(
        VERIFICATION_FAILED,
        "Payment Verification Failed",
        data,
    ))
}

/// The -32602 `error` object for a malformed credential, with `data.detail`.
pub fn invalid_params(detail: &str) -> JsonObject {
    error_object(INVALID_PARAMS, "Invalid params", detail_data(detail))
}

/// The -32603 `error` object for a payment processor failure, with `data.detail`.
pub fn internal_error(detail: &str) -> JsonObject {
    error_object(INTERNAL_ERROR, "Internal error", detail_data(detail))
}

fn payment_data(
    challenges: &[Challenge<'_>],
    problem: Option<&Problem>,
    failure: Option<&Failure>,
) -> Result<JsonObject, JsonRpcError> {
    let mut data = JsonObject::new();
    data.insert("httpStatus".into(), HTTP_STATUS.into());
    let challenges = challenges
        .iter()
        .map(|c| challenge_to_json(c).map(Value::Object))
        .collect::<Result<Vec<_>, _>>()?;
    data.insert("challenges".into(), Value::Array(challenges));
    if let Some(p) = problem {
        data.insert("problem".into(), Value::Object(problem_to_json(p)));
    }
    if let Some(f) = failure {
        data.insert("failure".into(), Value::Object(f.to_json()));
    }
    Ok(data)
}

fn problem_to_json(problem: &Problem) -> JsonObject {
    let mut object = problem.extensions.clone();
    object.insert("type".into(), problem.type_uri.as_str().into());
    object.insert("title".into(), problem.title.as_str().into());
    object.insert("status".into(), problem.status.into());
    if let Some(d) = &problem.detail {
        object.insert("detail".into(), d.as_str().into());
    }
    if let Some(id) = &problem.challenge_id {
        object.insert("challengeId".into(), id.as_str().into());
    }
    object
}

/// Where a client found challenges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// An error with this code: [`PAYMENT_REQUIRED`] or [`VERIFICATION_FAILED`].
    Error(i64),
    /// A successful tool result with [`PAYMENT_REQUIRED_KEY`] in its `_meta` (mppx).
    ResultMeta,
}

/// What a client reads from a payment-required answer, in any deployed form.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRequired {
    /// Where the challenges came from.
    pub signal: Signal,
    /// The well-formed challenges, in the server's order.
    pub challenges: Vec<Challenge<'static>>,
    /// The malformed ones, skipped so that one bad entry does not hide the others.
    pub skipped: Vec<JsonRpcError>,
    /// `problem`, when present and well-formed.
    pub problem: Option<Problem>,
    /// `failure` (the draft's -32043).
    pub failure: Option<Failure>,
}

impl PaymentRequired {
    /// Whether a credential was refused, rather than none sent: -32043 as the draft
    /// says, or -32042 with a `failure` or a problem other than `payment-required`,
    /// as the SDKs send it.
    pub fn refused(&self) -> bool {
        self.signal == Signal::Error(VERIFICATION_FAILED)
            || self.failure.is_some()
            || self
                .problem
                .as_ref()
                .is_some_and(|p| p.problem_type() != Some(ProblemType::PaymentRequired))
    }
}

/// The challenges in a response, from any form deployed peers send: an error
/// -32042 or -32043 with `data.challenges`, or (mppx) a `result` whose `_meta`
/// has [`PAYMENT_REQUIRED_KEY`]. `Ok(None)` when the response asks for no payment,
/// including -32042 without `challenges`, which MCP also uses for URL elicitation.
pub fn read_payment_required(
    response: &JsonObject,
    options: &ParseOptions,
) -> Result<Option<PaymentRequired>, JsonRpcError> {
    if let Some(error) = response.get("error") {
        let Value::Object(error) = error else {
            return Err(JsonRpcError::InvalidMessage("`error` is not an object"));
        };
        return read_payment_error(error, options);
    }
    let meta = match response.get("result") {
        Some(Value::Object(result)) => match result.get(META) {
            Some(Value::Object(meta)) => meta,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    match meta.get(PAYMENT_REQUIRED_KEY) {
        None => Ok(None),
        Some(data) => read_payment_data(Signal::ResultMeta, data, options).map(Some),
    }
}

/// The challenges in a JSON-RPC `error` object (as an MCP SDK hands it over);
/// see [`read_payment_required`].
pub fn read_payment_error(
    error: &JsonObject,
    options: &ParseOptions,
) -> Result<Option<PaymentRequired>, JsonRpcError> {
    let code = error.get("code").and_then(Value::as_i64);
    let Some(code @ (PAYMENT_REQUIRED | VERIFICATION_FAILED)) = code else {
        return Ok(None);
    };
    let data = error.get("data");
    let has_challenges = data
        .and_then(Value::as_object)
        .is_some_and(|d| d.contains_key("challenges"));
    if code == PAYMENT_REQUIRED && !has_challenges {
        return Ok(None);
    }
    let data = data.ok_or(JsonRpcError::InvalidPaymentRequired("data"))?;
    read_payment_data(Signal::Error(code), data, options).map(Some)
}

fn read_payment_data(
    signal: Signal,
    data: &Value,
    options: &ParseOptions,
) -> Result<PaymentRequired, JsonRpcError> {
    let Value::Object(data) = data else {
        return Err(JsonRpcError::InvalidPaymentRequired("data"));
    };
    let entries = match data.get("challenges") {
        Some(Value::Array(entries)) if !entries.is_empty() => entries,
        _ => return Err(JsonRpcError::InvalidPaymentRequired("challenges")),
    };
    let mut challenges = Vec::with_capacity(entries.len());
    let mut skipped = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let read = match entry {
            Value::Object(object) => challenge_from_json(object, options),
            _ => Err(ParseError::new(ParseErrorKind::ExpectedJsonObject, 0)),
        };
        match read {
            Ok(c) => challenges.push(c),
            Err(error) => skipped.push(JsonRpcError::InvalidChallenge { index, error }),
        }
    }
    let problem = match data.get("problem") {
        Some(Value::Object(p)) => {
            // Reuses the HTTP body reader so both transports accept the same problems.
            let text = crate::jcs::object_to_string(p);
            Some(
                Problem::parse(text.as_bytes())
                    .map_err(|_| JsonRpcError::InvalidPaymentRequired("problem"))?,
            )
        }
        None => None,
        Some(_) => return Err(JsonRpcError::InvalidPaymentRequired("problem")),
    };
    let failure = data.get("failure").map(Failure::from_json).transpose()?;
    Ok(PaymentRequired {
        signal,
        challenges,
        skipped,
        problem,
        failure,
    })
}

// --- capability ------------------------------------------------------------

/// The payment methods and intents a peer advertises (`experimental.payment`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PaymentCapability {
    /// Method name to its intents.
    pub methods: BTreeMap<String, Vec<String>>,
}

impl PaymentCapability {
    /// Adds `intent` to `method`.
    pub fn with(mut self, method: &str, intent: &str) -> PaymentCapability {
        let intents = self.methods.entry(method.to_owned()).or_default();
        if !intents.iter().any(|i| i == intent) {
            intents.push(intent.to_owned());
        }
        self
    }

    /// Whether `method`/`intent` is advertised.
    pub fn supports(&self, method: &str, intent: &str) -> bool {
        self.methods
            .get(method)
            .is_some_and(|intents| intents.iter().any(|i| i == intent))
    }

    /// The draft's form: `{"methods": {"tempo": {"intents": ["charge"]}}}`.
    pub fn to_json(&self) -> JsonObject {
        let methods = self
            .methods
            .iter()
            .map(|(method, intents)| {
                let mut entry = JsonObject::new();
                entry.insert(
                    "intents".into(),
                    Value::Array(intents.iter().map(|i| Value::from(i.as_str())).collect()),
                );
                (method.clone(), Value::Object(entry))
            })
            .collect();
        let mut object = JsonObject::new();
        object.insert("methods".into(), Value::Object(methods));
        object
    }

    /// Reads the draft's form, or pympp's `{"methods": [...], "intents": [...]}`,
    /// which offers every listed intent for every listed method.
    pub fn from_json(value: &Value) -> Result<PaymentCapability, JsonRpcError> {
        let bad = JsonRpcError::InvalidCapability;
        let Value::Object(object) = value else {
            return Err(bad("payment"));
        };
        let strings = |value: &Value, what| -> Result<Vec<String>, JsonRpcError> {
            match value {
                Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(ToOwned::to_owned).ok_or(bad(what)))
                    .collect(),
                _ => Err(bad(what)),
            }
        };
        let mut capability = PaymentCapability::default();
        match object.get("methods") {
            Some(Value::Object(methods)) => {
                for (method, entry) in methods {
                    let intents = match entry.get("intents") {
                        Some(list) => strings(list, "methods.*.intents")?,
                        None => return Err(bad("methods.*.intents")),
                    };
                    for intent in intents {
                        capability = capability.with(method, &intent);
                    }
                }
            }
            Some(list @ Value::Array(_)) => {
                let methods = strings(list, "methods")?;
                let intents = match object.get("intents") {
                    Some(list) => strings(list, "intents")?,
                    None => return Err(bad("intents")),
                };
                for method in &methods {
                    capability.methods.entry(method.clone()).or_default();
                    for intent in &intents {
                        capability = capability.with(method, intent);
                    }
                }
            }
            _ => return Err(bad("methods")),
        }
        Ok(capability)
    }
}

/// The entry for MCP's `capabilities.experimental`: `{"payment": {...}}`.
pub fn experimental_capability(capability: &PaymentCapability) -> JsonObject {
    let mut object = JsonObject::new();
    object.insert(CAPABILITY.into(), Value::Object(capability.to_json()));
    object
}

/// The payment capability in an MCP `capabilities` object
/// (`experimental.payment`), if advertised.
pub fn read_capability(
    capabilities: &JsonObject,
) -> Result<Option<PaymentCapability>, JsonRpcError> {
    match capabilities
        .get("experimental")
        .and_then(|e| e.get(CAPABILITY))
    {
        None => Ok(None),
        Some(value) => PaymentCapability::from_json(value).map(Some),
    }
}

// --- prices in tools/list ----------------------------------------------------

/// One way to pay for a tool, as `tools/list` shows it under [`OFFERS_KEY`]:
/// `{"method", "intent", "amount"?, "currency"?}`. Display only: the challenge of
/// the call is what a client pays, after checking it against its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOffer {
    /// The payment method (`tempo`, `stripe`, `lightning`, …).
    pub method: String,
    /// The intent (`charge`, `session`).
    pub intent: String,
    /// The amount in the currency's base units, when the terms state one.
    pub amount: Option<String>,
    /// The currency, when the terms state one.
    pub currency: Option<String>,
}

impl ToolOffer {
    /// The JSON form.
    pub fn to_json(&self) -> JsonObject {
        let mut object = JsonObject::new();
        object.insert("method".into(), self.method.as_str().into());
        object.insert("intent".into(), self.intent.as_str().into());
        if let Some(a) = &self.amount {
            object.insert("amount".into(), a.as_str().into());
        }
        if let Some(c) = &self.currency {
            object.insert("currency".into(), c.as_str().into());
        }
        object
    }

    fn from_json(value: &Value) -> Result<ToolOffer, JsonRpcError> {
        let bad = JsonRpcError::InvalidOffers;
        let Value::Object(object) = value else {
            return Err(bad("an entry is not an object"));
        };
        let text = |name: &'static str| match object.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(name)),
        };
        Ok(ToolOffer {
            method: text("method")?.ok_or(bad("method"))?,
            intent: text("intent")?.ok_or(bad("intent"))?,
            amount: text("amount")?,
            currency: text("currency")?,
        })
    }
}

/// Puts `offers` into a tool definition's `_meta` (created as needed; other
/// members are kept).
pub fn attach_tool_offers(tool: &mut JsonObject, offers: &[ToolOffer]) -> Result<(), JsonRpcError> {
    let list = offers.iter().map(|o| Value::Object(o.to_json())).collect();
    match tool
        .entry(META)
        .or_insert_with(|| Value::Object(JsonObject::new()))
    {
        Value::Object(meta) => {
            meta.insert(OFFERS_KEY.into(), Value::Array(list));
            Ok(())
        }
        _ => Err(JsonRpcError::NotAnObject(META)),
    }
}

/// The offers a tool definition lists; empty when it lists none (a free tool,
/// or a server that does not say).
pub fn read_tool_offers(tool: &JsonObject) -> Result<Vec<ToolOffer>, JsonRpcError> {
    let Some(meta) = tool.get(META) else {
        return Ok(Vec::new());
    };
    let Value::Object(meta) = meta else {
        return Err(JsonRpcError::InvalidOffers("`_meta` is not an object"));
    };
    match meta.get(OFFERS_KEY) {
        None => Ok(Vec::new()),
        Some(Value::Array(entries)) => entries.iter().map(ToolOffer::from_json).collect(),
        Some(_) => Err(JsonRpcError::InvalidOffers("not an array")),
    }
}
