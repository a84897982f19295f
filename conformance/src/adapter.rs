//! The cross-SDK conformance adapter: one JSON request in, one JSON line out.
//!
//! Request: `{"schema":1,"op":OP,"input":INPUT,"context":{...}}`. Response:
//! `{"ok":true,"value":VALUE}` or `{"ok":false,"error":{"type":TYPE,"message":TEXT}}`.
//! Absent optional fields are omitted, never `null`. `context.now` (RFC 3339 text or
//! Unix seconds) fixes the clock for `server.verify`; without it the system clock is
//! used.

use mpp_core::binding::{BindingInput, ChallengeBinder, Secret};
use mpp_core::challenge::Challenge;
use mpp_core::credential::{Credential, CredentialField};
use mpp_core::json::JsonObject;
use mpp_core::receipt::Receipt;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{Base64Json, ChallengeId, IntentName, MethodName, Opaque, Realm};
use mpp_core::verify::{self, EchoError, Offer};
use mpp_core::{ParseError, ParseOptions, base64};
use serde_json::{Value, json};

/// The ABI version this adapter speaks.
pub const SCHEMA: u64 = 1;

/// Every operation the adapter answers.
pub const OPERATIONS: [&str; 11] = [
    "challenge.parse",
    "challenge.format",
    "challenge.id",
    "credential.parse",
    "credential.format",
    "receipt.parse",
    "receipt.format",
    "base64url.encode",
    "base64url.decode",
    "server.verify",
    "capabilities",
];

/// An operation's failure: the ABI error type and a message.
struct Failure {
    kind: &'static str,
    message: String,
}

impl Failure {
    fn new(kind: &'static str, message: impl ToString) -> Self {
        Failure {
            kind,
            message: message.to_string(),
        }
    }
}

type OpResult = Result<Value, Failure>;

/// Answers one request line. `now` is the clock used when the request gives none.
pub fn handle(request: &str, now: UnixTime) -> String {
    let response = match serde_json::from_str::<Value>(request) {
        Err(e) => Err(Failure::new(
            "invalid_request",
            format!("request is not JSON: {e}"),
        )),
        Ok(request) => dispatch(&request, now),
    };
    match response {
        Ok(value) => json!({ "ok": true, "value": value }).to_string(),
        Err(f) => failure_line(f.kind, &f.message),
    }
}

/// A failure response line.
pub fn failure_line(kind: &str, message: &str) -> String {
    json!({ "ok": false, "error": { "type": kind, "message": message } }).to_string()
}

fn dispatch(request: &Value, now: UnixTime) -> OpResult {
    let schema = request.get("schema").and_then(Value::as_u64);
    if schema != Some(SCHEMA) {
        return Err(Failure::new(
            "unsupported_schema",
            format!("schema {schema:?}; this adapter speaks {SCHEMA}"),
        ));
    }
    let op = request
        .get("op")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let empty = Value::Object(JsonObject::new());
    let input = request.get("input").unwrap_or(&empty);
    let now = match request.pointer("/context/now") {
        Some(v) => clock(v)?,
        None => now,
    };
    match op {
        "challenge.parse" => challenge_parse(input),
        "challenge.format" => challenge_format(input),
        "challenge.id" => challenge_id(input),
        "credential.parse" => credential_parse(input),
        "credential.format" => credential_format(input),
        "receipt.parse" => receipt_parse(input),
        "receipt.format" => receipt_format(input),
        "base64url.encode" => {
            let text = string(input, "text", "encoding_error")?;
            Ok(json!({ "text": base64::encode(text.as_bytes()) }))
        }
        "base64url.decode" => {
            let text = string(input, "text", "encoding_error")?;
            let decoded =
                base64::decode_utf8(text).map_err(|e| Failure::new("encoding_error", e))?;
            Ok(json!({ "text": decoded }))
        }
        "server.verify" => server_verify(input, now),
        "capabilities" => Ok(json!({ "schema": SCHEMA, "operations": OPERATIONS })),
        other => Err(Failure::new(
            "unsupported_operation",
            format!("unknown op {other:?}"),
        )),
    }
}

fn clock(value: &Value) -> Result<UnixTime, Failure> {
    let bad = || {
        Failure::new(
            "invalid_request",
            "context.now must be RFC 3339 text or Unix seconds",
        )
    };
    match value {
        Value::Number(n) => n.as_i64().map(UnixTime::from_secs).ok_or_else(bad),
        Value::String(s) => Timestamp::new(s).map(|t| t.unix()).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

fn string<'v>(input: &'v Value, field: &str, kind: &'static str) -> Result<&'v str, Failure> {
    input
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::new(kind, format!("`{field}` must be a string")))
}

fn optional<'v>(
    input: &'v Value,
    field: &str,
    kind: &'static str,
) -> Result<Option<&'v str>, Failure> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Failure::new(kind, format!("`{field}` must be a string"))),
    }
}

fn object<'v>(
    input: &'v Value,
    field: &str,
    kind: &'static str,
) -> Result<&'v JsonObject, Failure> {
    input
        .get(field)
        .and_then(Value::as_object)
        .ok_or_else(|| Failure::new(kind, format!("`{field}` must be a JSON object")))
}

/// The ABI's view of a challenge: `request` decoded, `opaque` as its wire text.
fn challenge_json(c: &Challenge<'_>, with_description: bool) -> Result<JsonObject, ParseError> {
    let mut out = JsonObject::new();
    out.insert("id".into(), c.id.as_str().into());
    out.insert("realm".into(), c.realm.as_str().into());
    out.insert("method".into(), c.method.as_str().into());
    out.insert("intent".into(), c.intent.as_str().into());
    out.insert("request".into(), Value::Object(c.request.decode()?));
    if let Some(e) = &c.expires {
        out.insert("expires".into(), e.as_str().into());
    }
    if let (true, Some(d)) = (with_description, &c.description) {
        out.insert("description".into(), d.as_ref().into());
    }
    if let Some(d) = &c.digest {
        out.insert("digest".into(), d.as_str().into());
    }
    if let Some(o) = &c.opaque {
        out.insert("opaque".into(), o.as_str().into());
    }
    if let Some(h) = c.credential_field.header_param() {
        out.insert("header".into(), h.into());
    }
    Ok(out)
}

/// Builds a challenge from the ABI's view, validating every field.
fn challenge_from_json(input: &Value, kind: &'static str) -> Result<Challenge<'static>, Failure> {
    let fail =
        |field: &'static str| move |e: ParseError| Failure::new(kind, format!("`{field}`: {e}"));
    let text = |field| string(input, field, kind).map(str::to_owned);
    let expires = optional(input, "expires", kind)?
        .map(|t| Timestamp::from_string(t.into()))
        .transpose()
        .map_err(fail("expires"))?;
    let digest = optional(input, "digest", kind)?
        .map(|t| mpp_core::digest::ContentDigest::from_string(t.into()))
        .transpose()
        .map_err(fail("digest"))?;
    let opaque = optional(input, "opaque", kind)?
        .map(|t| Opaque::from_cow(t.to_owned().into(), &ParseOptions::STRICT))
        .transpose()
        .map_err(fail("opaque"))?;
    let credential_field = match optional(input, "header", kind)? {
        None => CredentialField::Authorization,
        Some(h) => CredentialField::from_header_param(h)
            .ok_or_else(|| Failure::new(kind, "`header` must be Payment-Authorization"))?,
    };
    Ok(Challenge {
        id: ChallengeId::from_string(text("id")?).map_err(fail("id"))?,
        realm: Realm::from_string(text("realm")?).map_err(fail("realm"))?,
        method: MethodName::from_string(text("method")?).map_err(fail("method"))?,
        intent: IntentName::from_string(text("intent")?).map_err(fail("intent"))?,
        request: Base64Json::encode(object(input, "request", kind)?),
        expires,
        digest,
        description: optional(input, "description", kind)?.map(|d| d.to_owned().into()),
        opaque,
        credential_field,
        extensions: Vec::new(),
    })
}

fn challenge_parse(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let challenge =
        Challenge::parse(header.as_bytes()).map_err(|e| Failure::new("parse_error", e))?;
    let out = challenge_json(&challenge, true).map_err(|e| Failure::new("parse_error", e))?;
    Ok(Value::Object(out))
}

fn challenge_format(input: &Value) -> OpResult {
    let challenge = challenge_from_json(input, "format_error")?;
    let header = challenge
        .to_header()
        .map_err(|e| Failure::new("format_error", e))?;
    Ok(json!({ "header": header }))
}

fn credential_parse(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let credential =
        Credential::parse(header.as_bytes()).map_err(|e| Failure::new("parse_error", e))?;
    credential_json(&credential).map_err(|e| Failure::new("parse_error", e))
}

fn credential_json(credential: &Credential) -> Result<Value, ParseError> {
    let mut out = JsonObject::new();
    let echo = challenge_json(&credential.challenge, false)?;
    out.insert("challenge".into(), Value::Object(echo));
    out.insert("payload".into(), Value::Object(credential.payload.clone()));
    if let Some(source) = &credential.source {
        out.insert("source".into(), source.as_str().into());
    }
    Ok(Value::Object(out))
}

fn credential_from_json(input: &Value, kind: &'static str) -> Result<Credential, Failure> {
    let echo = input
        .get("challenge")
        .ok_or_else(|| Failure::new(kind, "`challenge` is required"))?;
    Ok(Credential {
        challenge: challenge_from_json(echo, kind)?,
        payload: object(input, "payload", kind)?.clone(),
        source: optional(input, "source", kind)?.map(str::to_owned),
    })
}

fn credential_format(input: &Value) -> OpResult {
    let credential = credential_from_json(input, "format_error")?;
    Ok(json!({ "header": credential.to_header() }))
}

fn receipt_parse(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let receipt = Receipt::parse(header.as_bytes()).map_err(|e| Failure::new("parse_error", e))?;
    Ok(Value::Object(receipt.to_json()))
}

fn receipt_format(input: &Value) -> OpResult {
    let object = input
        .as_object()
        .ok_or_else(|| Failure::new("format_error", "the receipt must be a JSON object"))?;
    let receipt =
        Receipt::from_json(object.clone()).map_err(|e| Failure::new("format_error", e))?;
    Ok(json!({ "header": receipt.to_header() }))
}

fn challenge_id(input: &Value) -> OpResult {
    const KIND: &str = "generation_error";
    let secret =
        Secret::new(string(input, "secretKey", KIND)?).map_err(|e| Failure::new(KIND, e))?;
    let request = Base64Json::encode(object(input, "request", KIND)?);
    let header = match optional(input, "header", KIND)? {
        None => None,
        Some(h) => Some(
            CredentialField::from_header_param(h)
                .and_then(CredentialField::header_param)
                .ok_or_else(|| Failure::new(KIND, "`header` must be Payment-Authorization"))?,
        ),
    };
    let binding = BindingInput {
        realm: string(input, "realm", KIND)?,
        method: string(input, "method", KIND)?,
        intent: string(input, "intent", KIND)?,
        request: request.as_str(),
        expires: optional(input, "expires", KIND)?,
        digest: optional(input, "digest", KIND)?,
        header,
        opaque: optional(input, "opaque", KIND)?,
    };
    let id = ChallengeBinder::new(secret)
        .id_for(&binding)
        .map_err(|e| Failure::new(KIND, e))?;
    Ok(json!({ "id": id.as_str() }))
}

fn server_verify(input: &Value, now: UnixTime) -> OpResult {
    let verdict = |error_type: &str| Ok(json!({ "ok": false, "errorType": error_type }));
    // The only place a short secret is allowed: conformance vectors use test secrets.
    let binder = ChallengeBinder::new(Secret::new_insecure(string(
        input,
        "secretKey",
        "invalid_request",
    )?));
    let route = |field: &str| -> Result<String, Failure> {
        let text = string(input, field, "invalid_request")?;
        Ok(text.to_owned())
    };
    let invalid = |e: ParseError| Failure::new("invalid_request", format!("route: {e}"));
    let realm = Realm::from_string(route("realm")?).map_err(invalid)?;
    let method = MethodName::from_string(route("method")?).map_err(invalid)?;
    let intent = IntentName::from_string(route("intent")?).map_err(invalid)?;
    let Ok(credential) = input
        .get("credential")
        .ok_or_else(|| Failure::new("malformed_credential", "missing"))
        .and_then(|c| credential_from_json(c, "malformed_credential"))
    else {
        return verdict("malformed_credential");
    };
    let offer = Offer {
        realm,
        method,
        intent,
        request: object(input, "request", "invalid_request")?.clone(),
        // The ABI's route has no opaque or field of its own: the echo's are taken as
        // offered (they are still bound by the HMAC).
        opaque: credential.challenge.opaque.clone(),
        credential_field: credential.challenge.credential_field,
    };
    if let Err(e) = verify::check_echo(&binder, &offer, &credential.challenge, now) {
        return verdict(match e {
            EchoError::Expired => "payment_expired",
            EchoError::Malformed(_) => "malformed_credential",
            _ => "invalid_challenge",
        });
    }
    if input.get("verificationError").is_some_and(|v| !v.is_null()) {
        return verdict("verification_failed");
    }
    Ok(json!({
        "ok": true,
        "receipt": {
            "status": "success",
            "timestamp": "2026-01-29T12:00:00Z",
            "reference": "conformance-receipt",
            "method": credential.challenge.method.as_str(),
        }
    }))
}
