//! The adapter's `jsonrpc.*` operations: the conversions of `mpp_core::jsonrpc`
//! between the HTTP forms of the Payment scheme and the JSON forms that
//! draft-payment-transport-mcp-00 carries in JSON-RPC messages.
//!
//! Readers of what a *server* receives (`jsonrpc.credential_from_json`,
//! `jsonrpc.find_credential`) report refusals as `jsonrpc_error`, whose class names
//! the JSON-RPC error a server answers with, because that code is what other SDKs
//! must agree on. Readers of what a *client* receives report `parse_error` with
//! mpp-core's class, as the HTTP readers do.

use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::{self, JsonObject};
use mpp_core::jsonrpc::{self, JsonRpcError, PaidReceipt, Placement, Signal};
use mpp_core::receipt::Receipt;
use mpp_core::value::ChallengeId;
use mpp_core::{ParseErrorKind, ParseOptions};
use serde_json::{Value, json};

use super::{Failure, OpResult, challenge_json, object, optional, string};

const STRICT: ParseOptions = ParseOptions::STRICT;

/// The longest JSON text the operations read: far above any vector, so that the
/// limit never decides a vector's outcome.
const MAX_TEXT: usize = 1 << 20;

/// The kebab-case name of a JSON-RPC error code, as `class` reports it.
fn code_class(code: i64) -> &'static str {
    match code {
        jsonrpc::PARSE_ERROR => "parse-error",
        jsonrpc::INVALID_REQUEST => "invalid-request",
        jsonrpc::INVALID_PARAMS => "invalid-params",
        _ => "internal-error",
    }
}

/// A refusal a server answers with a JSON-RPC error: `class` is that error,
/// `field` where the problem is.
fn rpc_failure(e: &JsonRpcError) -> Failure {
    let field = match e {
        JsonRpcError::InvalidJson(p) | JsonRpcError::InvalidCredential(p) => {
            p.field().map(str::to_owned)
        }
        JsonRpcError::MetaNotObject(Placement::Nested) => Some("params._meta".into()),
        JsonRpcError::MetaNotObject(Placement::Root) => Some("_meta".into()),
        JsonRpcError::ConflictingCredentials
        | JsonRpcError::CredentialNotObject
        | JsonRpcError::CredentialTooLarge { .. } => Some(jsonrpc::CREDENTIAL_KEY.into()),
        _ => None,
    };
    Failure {
        class: Some(code_class(e.code())),
        field,
        ..Failure::new("jsonrpc_error", e)
    }
}

/// A malformed value a client received: mpp-core's class and field.
fn client_failure(e: &JsonRpcError) -> Failure {
    match e {
        JsonRpcError::InvalidReceipt(p)
        | JsonRpcError::InvalidJson(p)
        | JsonRpcError::InvalidChallenge { error: p, .. } => Failure::parse("parse_error", p),
        JsonRpcError::InvalidPaymentRequired(member) => Failure::new("parse_error", e)
            .class(ParseErrorKind::InvalidField)
            .in_field(*member),
        _ => Failure::new("parse_error", e).class(ParseErrorKind::InvalidField),
    }
}

/// The binder of an optional `secretKey` (at least 32 bytes, as servers require).
fn binder(input: &Value) -> Result<Option<ChallengeBinder>, Failure> {
    let Some(key) = optional(input, "secretKey", "invalid_request")? else {
        return Ok(None);
    };
    let secret = Secret::new(key)
        .map_err(|e| Failure::binding("invalid_request", &e).in_field("secretKey"))?;
    Ok(Some(ChallengeBinder::new(secret)))
}

/// Adds `verified` (whether the id binds the other parameters) when a secret is given.
fn verified(
    out: &mut JsonObject,
    binder: Option<&ChallengeBinder>,
    c: &Challenge<'_>,
) -> Result<(), Failure> {
    if let Some(binder) = binder {
        let ok = binder
            .verify_challenge(c)
            .map_err(|e| Failure::binding("parse_error", &e))?;
        out.insert("verified".into(), ok.into());
    }
    Ok(())
}

/// A challenge's parameters exactly as `WWW-Authenticate` carries them: `request`
/// as base64url of its JCS form, `opaque` as its wire text.
fn http_params(c: &Challenge<'_>) -> JsonObject {
    let mut out = JsonObject::new();
    let mut put = |k: &str, v: &str| {
        out.insert(k.into(), v.into());
    };
    put("id", c.id.as_str());
    put("realm", c.realm.as_str());
    put("method", c.method.as_str());
    put("intent", c.intent.as_str());
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
    out
}

/// `jsonrpc.challenge_to_json`: a `WWW-Authenticate` value to the JSON challenge.
pub(super) fn challenge_to_json(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let challenge =
        Challenge::parse(header.as_bytes()).map_err(|e| Failure::parse("parse_error", &e))?;
    let out = jsonrpc::challenge_to_json(&challenge).map_err(|e| client_failure(&e))?;
    Ok(Value::Object(out))
}

/// `jsonrpc.challenge_from_json`: JSON text of a challenge to its HTTP parameters,
/// and whether its id verifies under `secretKey`.
pub(super) fn challenge_from_json(input: &Value) -> OpResult {
    let binder = binder(input)?;
    let text = string(input, "text", "parse_error")?;
    let value =
        json::parse_value(text.as_bytes()).map_err(|e| Failure::parse("parse_error", &e))?;
    let Value::Object(object) = value else {
        return Err(
            Failure::new("parse_error", "the challenge is not a JSON object")
                .class(ParseErrorKind::ExpectedJsonObject),
        );
    };
    let challenge = jsonrpc::challenge_from_json(&object, &STRICT)
        .map_err(|e| Failure::parse("parse_error", &e))?;
    let mut out = JsonObject::new();
    out.insert("params".into(), Value::Object(http_params(&challenge)));
    verified(&mut out, binder.as_ref(), &challenge)?;
    Ok(Value::Object(out))
}

/// `jsonrpc.credential_to_json`: an `Authorization: Payment` value to the JSON credential.
pub(super) fn credential_to_json(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let credential =
        Credential::parse(header.as_bytes()).map_err(|e| Failure::parse("parse_error", &e))?;
    let out = jsonrpc::credential_to_json(&credential).map_err(|e| client_failure(&e))?;
    Ok(Value::Object(out))
}

/// `jsonrpc.credential_from_json`: JSON text of a credential to its
/// `Authorization` value, and whether its echo's id verifies under `secretKey`.
pub(super) fn credential_from_json(input: &Value) -> OpResult {
    let binder = binder(input)?;
    let text = string(input, "text", "invalid_request")?;
    let value = jsonrpc::parse_message(text.as_bytes(), MAX_TEXT).map_err(|e| rpc_failure(&e))?;
    let credential = jsonrpc::credential_from_json(&value, &STRICT).map_err(|e| rpc_failure(&e))?;
    let mut out = JsonObject::new();
    out.insert("header".into(), credential.to_header().into());
    verified(&mut out, binder.as_ref(), &credential.challenge)?;
    Ok(Value::Object(out))
}

/// `jsonrpc.find_credential`: where a request carries its credential.
pub(super) fn find_credential(input: &Value) -> OpResult {
    let request = object(input, "request", "invalid_request")?;
    let placement = match jsonrpc::find_credential(request).map_err(|e| rpc_failure(&e))? {
        None => "none",
        Some((_, Placement::Nested)) => "params._meta",
        Some((_, Placement::Root)) => "_meta",
    };
    Ok(json!({ "placement": placement }))
}

/// `jsonrpc.receipt_to_json`: a `Payment-Receipt` value and the id of the challenge
/// it settles to the JSON receipt.
pub(super) fn receipt_to_json(input: &Value) -> OpResult {
    let header = string(input, "header", "parse_error")?;
    let receipt =
        Receipt::parse(header.as_bytes()).map_err(|e| Failure::parse("parse_error", &e))?;
    let id = string(input, "challengeId", "invalid_request")?;
    let challenge_id = ChallengeId::from_string(id.to_owned())
        .map_err(|e| Failure::parse("invalid_request", &e).in_field("challengeId"))?;
    let paid = PaidReceipt {
        receipt,
        challenge_id,
    };
    Ok(Value::Object(paid.to_json()))
}

/// `jsonrpc.receipt_from_json`: a JSON receipt to its `Payment-Receipt` value and
/// `challengeId`.
pub(super) fn receipt_from_json(input: &Value) -> OpResult {
    let value = input.get("receipt").ok_or_else(|| {
        Failure::new("invalid_request", "`receipt` is missing")
            .class(ParseErrorKind::MissingField)
            .in_field("receipt")
    })?;
    let paid = PaidReceipt::from_json(value).map_err(|e| client_failure(&e))?;
    Ok(json!({
        "header": paid.receipt.to_header(),
        "challengeId": paid.challenge_id.as_str(),
    }))
}

/// `jsonrpc.payment_required`: what a client reads from a response.
pub(super) fn payment_required(input: &Value) -> OpResult {
    let response = object(input, "response", "invalid_request")?;
    let read = jsonrpc::read_payment_required(response, &STRICT).map_err(|e| client_failure(&e))?;
    let Some(read) = read else {
        return Ok(json!({ "paymentRequired": false }));
    };
    let mut out = JsonObject::new();
    out.insert("paymentRequired".into(), true.into());
    match read.signal {
        Signal::Error(code) => {
            out.insert("signal".into(), "error".into());
            out.insert("code".into(), code.into());
        }
        Signal::ResultMeta => {
            out.insert("signal".into(), "result-meta".into());
        }
    }
    out.insert("refused".into(), read.refused().into());
    let challenges = read
        .challenges
        .iter()
        .map(|c| challenge_json(c, true).map(Value::Object))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::parse("parse_error", &e))?;
    out.insert("challenges".into(), Value::Array(challenges));
    let skipped: Vec<Value> = read
        .skipped
        .iter()
        .filter_map(|e| match e {
            JsonRpcError::InvalidChallenge { index, .. } => Some(Value::from(*index)),
            _ => None,
        })
        .collect();
    out.insert("skipped".into(), Value::Array(skipped));
    if let Some(p) = &read.problem {
        out.insert("problem".into(), p.type_uri.as_str().into());
    }
    if let Some(f) = &read.failure {
        let mut failure = JsonObject::new();
        if let Some(r) = &f.reason {
            failure.insert("reason".into(), r.as_str().into());
        }
        if let Some(d) = &f.detail {
            failure.insert("detail".into(), d.as_str().into());
        }
        out.insert("failure".into(), Value::Object(failure));
    }
    Ok(Value::Object(out))
}
