//! The cross-SDK conformance adapter: one JSON request in, one JSON line out.
//!
//! Request: `{"schema":1,"op":OP,"input":INPUT,"context":{...}}`. Response:
//! `{"ok":true,"value":VALUE}` or
//! `{"ok":false,"error":{"type":TYPE,"message":TEXT,"class":CODE,"parameter":NAME,"field":PATH}}`,
//! where `class` (a stable [`mpp_core::ParseErrorKind::code`] or the code of a format
//! or binding error), `parameter` (the challenge parameter the error names) and
//! `field` (where the error was found: `request`, `challenge.id`, `status`) appear
//! only when known. Absent optional fields are omitted, never `null`.
//! `context.now` (RFC 3339 text or Unix seconds) fixes the clock for `server.verify`
//! and `tempo.fee_payer.cosign`; without it the system clock is used.
//!
//! Every operation, its input and its output are described in
//! `conformance/adapter.json`; [`OPERATIONS`] lists them. The `tempo.*` operations
//! live in `adapter/tempo.rs`, the client flow (`http.payment_request`) in
//! `adapter/client.rs`, the JSON-RPC conversions (`jsonrpc.*`) in `adapter/jsonrpc.rs`.

mod client;
mod jsonrpc;
mod stripe;
mod tempo;

use std::collections::BTreeSet;

use mpp_core::accept::AcceptPayment;
use mpp_core::binding::{BindingInput, ChallengeBinder, Secret};
use mpp_core::challenge::{Challenge, ChallengeBuilder};
use mpp_core::credential::{Credential, CredentialField};
use mpp_core::digest::{ContentDigest, DigestAlgorithm};
use mpp_core::json::JsonObject;
use mpp_core::problem::ProblemType;
use mpp_core::receipt::Receipt;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{Base64Json, ChallengeId, IntentName, MethodName, Opaque, Realm};
use mpp_core::verify::{self, EchoError, Offer};
use mpp_core::{
    BindingError, FormatError, Param, ParseError, ParseErrorKind, ParseOptions, base64, jcs,
};
use serde_json::{Value, json};

/// The ABI version this adapter speaks.
pub const SCHEMA: u64 = 1;

/// Every operation the adapter answers.
pub const OPERATIONS: [&str; 32] = [
    "challenge.parse",
    "challenge.parse-all",
    "challenge.format",
    "challenge.id",
    "credential.parse",
    "credential.format",
    "receipt.parse",
    "receipt.format",
    "base64url.encode",
    "base64url.decode",
    "jcs.canonicalize",
    "digest.compute",
    "digest.verify",
    "accept.rank",
    "problem.describe",
    "server.verify",
    "charge.sequence",
    "tempo.receipt.verify",
    "tempo.transaction.verify",
    "tempo.proof.typed_data",
    "tempo.fee_payer.cosign",
    "http.payment_request",
    "stripe.external_id_binding",
    "jsonrpc.challenge_to_json",
    "jsonrpc.challenge_from_json",
    "jsonrpc.credential_to_json",
    "jsonrpc.credential_from_json",
    "jsonrpc.find_credential",
    "jsonrpc.receipt_to_json",
    "jsonrpc.receipt_from_json",
    "jsonrpc.payment_required",
    "capabilities",
];

/// An operation's failure: the ABI error type, a message, and what the error names.
struct Failure {
    kind: &'static str,
    message: String,
    class: Option<&'static str>,
    parameter: Option<&'static str>,
    field: Option<String>,
}

impl Failure {
    fn new(kind: &'static str, message: impl ToString) -> Self {
        Failure {
            kind,
            message: message.to_string(),
            class: None,
            parameter: None,
            field: None,
        }
    }

    /// A failure that reports a parse error: its code as `class`, the parameter its
    /// kind names, and the field it was found in.
    fn parse(kind: &'static str, e: &ParseError) -> Self {
        Failure {
            class: Some(e.kind().code()),
            parameter: e.kind().param().and_then(param_name),
            field: e.field().map(str::to_owned),
            ..Failure::new(kind, e)
        }
    }

    fn format(kind: &'static str, e: &FormatError) -> Self {
        let parameter = match e {
            FormatError::ControlCharacter(p) => param_name(*p),
            _ => None,
        };
        Failure {
            class: Some(e.code()),
            parameter,
            field: parameter.map(str::to_owned),
            ..Failure::new(kind, e)
        }
    }

    fn binding(kind: &'static str, e: &BindingError) -> Self {
        match e {
            BindingError::Undecodable(p) => Failure::parse(kind, p),
            BindingError::PipeInField(p) => Failure {
                class: Some(e.code()),
                parameter: param_name(*p),
                field: param_name(*p).map(str::to_owned),
                ..Failure::new(kind, e)
            },
            _ => Failure {
                class: Some(e.code()),
                ..Failure::new(kind, e)
            },
        }
    }

    fn class(mut self, kind: ParseErrorKind) -> Self {
        self.class = Some(kind.code());
        self.parameter = kind.param().and_then(param_name);
        self
    }

    /// Prefixes the message with the field, as the adapter always reported it.
    fn with_message_field(mut self, field: &str) -> Self {
        self.message = format!("`{field}`: {}", self.message);
        self
    }

    /// Names the field, unless a more precise one is already named.
    fn in_field(mut self, field: impl Into<String>) -> Self {
        if self.field.is_none() {
            self.field = Some(field.into());
        }
        self
    }

    fn to_json(&self) -> Value {
        let mut error = JsonObject::new();
        error.insert("type".into(), self.kind.into());
        error.insert("message".into(), self.message.as_str().into());
        if let Some(class) = self.class {
            error.insert("class".into(), class.into());
        }
        if let Some(parameter) = self.parameter {
            error.insert("parameter".into(), parameter.into());
        }
        if let Some(field) = &self.field {
            error.insert("field".into(), field.as_str().into());
        }
        Value::Object(error)
    }
}

/// The wire name of a known parameter; extension parameters have none to report.
fn param_name(p: Param) -> Option<&'static str> {
    (p != Param::Extension).then(|| p.name())
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
        Err(f) => json!({ "ok": false, "error": f.to_json() }).to_string(),
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
        "challenge.parse-all" => challenge_parse_all(input),
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
                base64::decode_utf8(text).map_err(|e| Failure::parse("encoding_error", &e))?;
            Ok(json!({ "text": decoded }))
        }
        "jcs.canonicalize" => jcs_canonicalize(input),
        "digest.compute" => digest_compute(input),
        "digest.verify" => digest_verify(input),
        "accept.rank" => accept_rank(input),
        "problem.describe" => problem_describe(input),
        "server.verify" => server_verify(input, now),
        "charge.sequence" => charge_sequence(input),
        "tempo.receipt.verify" => tempo::receipt_verify(input),
        "tempo.transaction.verify" => tempo::transaction_verify(input),
        "tempo.proof.typed_data" => tempo::proof_typed_data(input),
        "tempo.fee_payer.cosign" => tempo::fee_payer_cosign(input, now),
        "http.payment_request" => client::payment_request(input),
        "stripe.external_id_binding" => stripe::external_id_binding(input, now),
        "jsonrpc.challenge_to_json" => jsonrpc::challenge_to_json(input),
        "jsonrpc.challenge_from_json" => jsonrpc::challenge_from_json(input),
        "jsonrpc.credential_to_json" => jsonrpc::credential_to_json(input),
        "jsonrpc.credential_from_json" => jsonrpc::credential_from_json(input),
        "jsonrpc.find_credential" => jsonrpc::find_credential(input),
        "jsonrpc.receipt_to_json" => jsonrpc::receipt_to_json(input),
        "jsonrpc.receipt_from_json" => jsonrpc::receipt_from_json(input),
        "jsonrpc.payment_required" => jsonrpc::payment_required(input),
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

/// A missing or mistyped member of the input, with its class and field.
fn member_failure(input: &Value, field: &str, kind: &'static str, what: &str) -> Failure {
    let class = if input.get(field).is_none() {
        ParseErrorKind::MissingField
    } else {
        ParseErrorKind::InvalidField
    };
    Failure::new(kind, format!("`{field}` must be {what}"))
        .class(class)
        .in_field(field)
}

fn string<'v>(input: &'v Value, field: &str, kind: &'static str) -> Result<&'v str, Failure> {
    input
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| member_failure(input, field, kind, "a string"))
}

fn optional<'v>(
    input: &'v Value,
    field: &str,
    kind: &'static str,
) -> Result<Option<&'v str>, Failure> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(member_failure(input, field, kind, "a string")),
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
        .ok_or_else(|| member_failure(input, field, kind, "a JSON object"))
}

/// Bytes given as base64url text (for bodies, which may be binary).
fn bytes(input: &Value, field: &str) -> Result<Vec<u8>, Failure> {
    let text = string(input, field, "invalid_request")?;
    base64::decode(text).map_err(|e| Failure::parse("invalid_request", &e).in_field(field))
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

/// Builds a challenge from the ABI's view, validating every field. `prefix` goes
/// before the field names errors report (`challenge.` inside a credential).
fn challenge_from_json(
    input: &Value,
    kind: &'static str,
    prefix: &str,
) -> Result<Challenge<'static>, Failure> {
    // Every error here concerns one member of the challenge object.
    let named = |mut f: Failure, field: &str| {
        f.field = Some(format!("{prefix}{field}"));
        f
    };
    let fail = |field: &'static str| {
        move |e: ParseError| named(Failure::parse(kind, &e), field).with_message_field(field)
    };
    let text = |field: &'static str| {
        string(input, field, kind)
            .map(str::to_owned)
            .map_err(|f| named(f, field))
    };
    let opt = |field: &'static str| optional(input, field, kind).map_err(|f| named(f, field));
    let expires = opt("expires")?
        .map(|t| Timestamp::from_string(t.into()))
        .transpose()
        .map_err(fail("expires"))?;
    let digest = opt("digest")?
        .map(|t| ContentDigest::from_string(t.into()))
        .transpose()
        .map_err(fail("digest"))?;
    let opaque = opt("opaque")?
        .map(|t| Opaque::from_cow(t.to_owned().into(), &ParseOptions::STRICT))
        .transpose()
        .map_err(fail("opaque"))?;
    let credential_field = match opt("header")? {
        None => CredentialField::Authorization,
        Some(h) => CredentialField::from_header_param(h).ok_or_else(|| {
            named(
                Failure::new(kind, "`header` must be Payment-Authorization")
                    .class(ParseErrorKind::UnsupportedHeader),
                "header",
            )
        })?,
    };
    Ok(Challenge {
        id: ChallengeId::from_string(text("id")?).map_err(fail("id"))?,
        realm: Realm::from_string(text("realm")?).map_err(fail("realm"))?,
        method: MethodName::from_string(text("method")?).map_err(fail("method"))?,
        intent: IntentName::from_string(text("intent")?).map_err(fail("intent"))?,
        request: Base64Json::encode(
            object(input, "request", kind).map_err(|f| named(f, "request"))?,
        ),
        expires,
        digest,
        description: opt("description")?.map(|d| d.to_owned().into()),
        opaque,
        credential_field,
        extensions: Vec::new(),
    })
}

fn challenge_parse(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let challenge =
        Challenge::parse(header.as_bytes()).map_err(|e| Failure::parse("parse_error", &e))?;
    let out = challenge_json(&challenge, true).map_err(|e| Failure::parse("parse_error", &e))?;
    Ok(Value::Object(out))
}

fn challenge_parse_all(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let challenges: Vec<Value> = Challenge::parse_all(header.as_bytes())
        .map(
            |parsed| match parsed.and_then(|c| challenge_json(&c, true)) {
                Ok(c) => json!({ "ok": true, "value": c }),
                Err(e) => {
                    json!({ "ok": false, "error": Failure::parse("parse_error", &e).to_json() })
                }
            },
        )
        .collect();
    Ok(json!({ "challenges": challenges }))
}

fn challenge_format(input: &Value) -> OpResult {
    let challenge = challenge_from_json(input, "format_error", "")?;
    let header = challenge
        .to_header()
        .map_err(|e| Failure::format("format_error", &e))?;
    Ok(json!({ "header": header }))
}

fn credential_parse(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let credential =
        Credential::parse(header.as_bytes()).map_err(|e| Failure::parse("parse_error", &e))?;
    credential_json(&credential).map_err(|e| Failure::parse("parse_error", &e))
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
        .ok_or_else(|| member_failure(input, "challenge", kind, "a JSON object"))?;
    Ok(Credential {
        challenge: challenge_from_json(echo, kind, "challenge.")?,
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
    let receipt =
        Receipt::parse(header.as_bytes()).map_err(|e| Failure::parse("parse_error", &e))?;
    Ok(Value::Object(receipt.to_json()))
}

fn receipt_format(input: &Value) -> OpResult {
    let object = input.as_object().ok_or_else(|| {
        Failure::new("format_error", "the receipt must be a JSON object")
            .class(ParseErrorKind::ExpectedJsonObject)
    })?;
    let receipt =
        Receipt::from_json(object.clone()).map_err(|e| Failure::parse("format_error", &e))?;
    Ok(json!({ "header": receipt.to_header() }))
}

fn challenge_id(input: &Value) -> OpResult {
    const KIND: &str = "generation_error";
    let secret = Secret::new(string(input, "secretKey", KIND)?)
        .map_err(|e| Failure::binding(KIND, &e).in_field("secretKey"))?;
    let request = Base64Json::encode(object(input, "request", KIND)?);
    let header = match optional(input, "header", KIND)? {
        None => None,
        Some(h) => Some(
            CredentialField::from_header_param(h)
                .and_then(CredentialField::header_param)
                .ok_or_else(|| {
                    Failure::new(KIND, "`header` must be Payment-Authorization")
                        .class(ParseErrorKind::UnsupportedHeader)
                        .in_field("header")
                })?,
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
        .map_err(|e| Failure::binding(KIND, &e))?;
    Ok(json!({ "id": id.as_str() }))
}

fn jcs_canonicalize(input: &Value) -> OpResult {
    let text = string(input, "text", "parse_error")?;
    let value = mpp_core::json::parse_value(text.as_bytes())
        .map_err(|e| Failure::parse("parse_error", &e))?;
    Ok(json!({ "text": jcs::to_string(&value) }))
}

fn digest_compute(input: &Value) -> OpResult {
    let body = bytes(input, "body")?;
    let algorithm = match optional(input, "algorithm", "invalid_request")? {
        None => DigestAlgorithm::Sha256,
        Some(name) => DigestAlgorithm::from_name(name).ok_or_else(|| {
            Failure::new("invalid_request", format!("unsupported algorithm {name:?}"))
                .class(ParseErrorKind::UnsupportedDigestAlgorithm)
                .in_field("algorithm")
        })?,
    };
    Ok(json!({ "digest": ContentDigest::compute(algorithm, &body).as_str() }))
}

fn digest_verify(input: &Value) -> OpResult {
    let digest = ContentDigest::new(string(input, "digest", "parse_error")?)
        .map_err(|e| Failure::parse("parse_error", &e).in_field("digest"))?;
    let body = bytes(input, "body")?;
    Ok(json!({ "matches": digest.matches(&body) }))
}

fn accept_rank(input: &Value) -> OpResult {
    let accept = AcceptPayment::parse(string(input, "header", "parse_error")?)
        .map_err(|e| Failure::parse("parse_error", &e).in_field("header"))?;
    let offers = input
        .get("offers")
        .and_then(Value::as_array)
        .ok_or_else(|| member_failure(input, "offers", "invalid_request", "an array"))?
        .iter()
        .map(|offer| {
            Ok((
                string(offer, "method", "invalid_request")?,
                string(offer, "intent", "invalid_request")?,
            ))
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let kept: Vec<Value> = accept
        .rank(offers.iter().copied())
        .into_iter()
        .map(|i| json!({ "method": offers[i].0, "intent": offers[i].1 }))
        .collect();
    Ok(json!({ "offers": kept }))
}

fn problem_describe(input: &Value) -> OpResult {
    let slug = string(input, "slug", "invalid_request")?;
    let problem = ProblemType::ALL
        .into_iter()
        .find(|p| p.slug() == slug)
        .ok_or_else(|| Failure::new("not_found", format!("no problem type {slug:?}")))?;
    Ok(json!({ "type": problem.uri(), "title": problem.title(), "status": problem.status() }))
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
        return verdict(echo_outcome(&e));
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

/// The outcome name of a refused echo.
fn echo_outcome(e: &EchoError) -> &'static str {
    match e {
        EchoError::Expired => "payment_expired",
        EchoError::Malformed(_) => "malformed_credential",
        _ => "invalid_challenge",
    }
}

/// `charge.sequence`: a server issues one charge challenge, then receives one
/// credential per step. See `conformance/adapter.json` for the rules.
fn charge_sequence(input: &Value) -> OpResult {
    const KIND: &str = "invalid_request";
    let secret = Secret::new(string(input, "secretKey", KIND)?)
        .map_err(|e| Failure::binding("generation_error", &e).in_field("secretKey"))?;
    let binder = ChallengeBinder::new(secret);
    let expires = Timestamp::from_string(string(input, "expires", KIND)?.to_owned())
        .map_err(|e| Failure::parse(KIND, &e).in_field("expires"))?;
    let request = object(input, "request", KIND)?;
    let mut builder = ChallengeBuilder::new(
        string(input, "realm", KIND)?,
        string(input, "method", KIND)?,
        string(input, "intent", KIND)?,
        request,
    )
    .map_err(|e| Failure::parse(KIND, &e))?
    .expires(expires);
    if let Some(text) = optional(input, "description", KIND)? {
        builder = builder.description(text);
    }
    let issued = builder
        .issue(&binder)
        .map_err(|e| Failure::binding("generation_error", &e))?;
    let offer = Offer {
        realm: issued.realm.clone(),
        method: issued.method.clone(),
        intent: issued.intent.clone(),
        request: request.clone(),
        opaque: None,
        credential_field: CredentialField::Authorization,
    };
    let wire_echo = Credential::answer(&issued, JsonObject::new(), None).to_json()["challenge"]
        .as_object()
        .cloned()
        .unwrap_or_default();

    let steps = input
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| member_failure(input, "steps", KIND, "an array"))?;
    let mut claimed = BTreeSet::new();
    let mut outcomes = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let at = |f: Failure| {
            let field = f.field.clone().unwrap_or_default();
            f.in_field(format!("steps[{i}].{field}"))
        };
        let now = clock(step.get("now").unwrap_or(&Value::Null)).map_err(at)?;
        let valid_proof = match string(step, "proof", KIND).map_err(at)? {
            "valid" => true,
            "invalid" => false,
            other => {
                return Err(Failure::new(
                    KIND,
                    format!("steps[{i}].proof: {other:?} is neither \"valid\" nor \"invalid\""),
                ));
            }
        };
        let mut echo = wire_echo.clone();
        if let Some(remove) = step.get("remove") {
            for name in remove.as_array().into_iter().flatten() {
                let name = name.as_str().ok_or_else(|| {
                    Failure::new(KIND, format!("steps[{i}].remove holds a non-string"))
                })?;
                echo.remove(name);
            }
        }
        if let Some(set) = step.get("set") {
            let set = set
                .as_object()
                .ok_or_else(|| Failure::new(KIND, format!("steps[{i}].set is not an object")))?;
            for (name, value) in set {
                echo.insert(name.clone(), value.clone());
            }
        }
        let mut wire = JsonObject::new();
        wire.insert("challenge".into(), Value::Object(echo));
        wire.insert("payload".into(), Value::Object(JsonObject::new()));
        let outcome = match Credential::from_json(wire, &ParseOptions::STRICT) {
            Err(_) => "malformed_credential",
            Ok(credential) => {
                let echo = &credential.challenge;
                match verify::check_echo(&binder, &offer, echo, now) {
                    Err(e) => echo_outcome(&e),
                    // D9: the id is claimed before the proof is checked, so it is used
                    // whether or not the proof verifies.
                    Ok(()) if !claimed.insert(echo.id.to_string()) => "invalid_challenge",
                    Ok(()) if valid_proof => "granted",
                    Ok(()) => "verification_failed",
                }
            }
        };
        outcomes.push(Value::from(outcome));
    }
    Ok(json!({ "outcomes": outcomes }))
}
