//! The language-neutral vectors of `spec/vectors/draft-01/` that read headers or
//! encodings, run through mpp-core directly (not through the conformance adapter):
//! every `challenge.parse`, `challenge.parse-all`, `credential.parse`,
//! `receipt.parse`, `accept.rank`, `base64url.*` and `jcs.canonicalize` vector, valid
//! and malformed. The error classes are
//! [`ParseErrorKind::code`]s; a vector's `parameter` and `field` must be the ones
//! mpp-core reports.
//!
//! The files are the single table of these cases: a case that a vector covers is not
//! repeated in mpp-core's own tests.

use std::path::{Path, PathBuf};

use mpp_core::accept::AcceptPayment;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::{self, JsonObject};
use mpp_core::receipt::Receipt;
use mpp_core::{Param, ParseError};
use mpp_core::{base64, jcs};
use serde_json::{Value, json};

fn vector_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/draft-01")
}

/// Every vector of the file of `category`.
fn vectors(category: &str) -> Vec<Value> {
    let path = vector_dir().join(format!("{category}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let file: Value = serde_json::from_str(&text).unwrap();
    file["vectors"].as_array().unwrap().clone()
}

/// The adapter ABI's view of a challenge (`spec/vectors/README.md`).
fn challenge_json(c: &Challenge<'_>, with_description: bool) -> Result<Value, ParseError> {
    let mut out = JsonObject::new();
    out.insert("id".into(), c.id.as_str().into());
    out.insert("realm".into(), c.realm.as_str().into());
    out.insert("method".into(), c.method.as_str().into());
    out.insert("intent".into(), c.intent.as_str().into());
    out.insert("request".into(), Value::Object(c.request.decode()?));
    let optional = [
        ("expires", c.expires.as_ref().map(|e| e.as_str())),
        (
            "description",
            c.description.as_deref().filter(|_| with_description),
        ),
        ("digest", c.digest.as_ref().map(|d| d.as_str())),
        ("opaque", c.opaque.as_ref().map(|o| o.as_str())),
        ("header", c.credential_field.header_param()),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            out.insert(name.into(), v.into());
        }
    }
    Ok(Value::Object(out))
}

fn credential_json(c: &Credential) -> Result<Value, ParseError> {
    let mut out = json!({
        "challenge": challenge_json(&c.challenge, false)?,
        "payload": c.payload,
    });
    if let Some(source) = &c.source {
        out["source"] = source.as_str().into();
    }
    Ok(out)
}

/// An error as a vector states it: class, and the parameter and field it names.
fn error_json(e: &ParseError) -> Value {
    typed_error_json("parse_error", e)
}

fn typed_error_json(kind: &str, e: &ParseError) -> Value {
    let mut error = json!({ "type": kind, "class": e.kind().code() });
    if let Some(p) = e.kind().param().filter(|p| *p != Param::Extension) {
        error["parameter"] = p.name().into();
    }
    if let Some(f) = e.field() {
        error["field"] = f.into();
    }
    json!({ "ok": false, "error": error })
}

fn answer(result: Result<Value, ParseError>) -> Value {
    match result {
        Ok(value) => json!({ "ok": true, "value": value }),
        Err(e) => error_json(&e),
    }
}

/// What mpp-core answers to a vector's input; `None` for operations it is not
/// asked here.
fn run(op: &str, input: &Value) -> Option<Value> {
    let header = input["header"].as_str().unwrap_or_default();
    let text = input["text"].as_str().unwrap_or_default();
    Some(match op {
        "base64url.encode" => {
            json!({ "ok": true, "value": { "text": base64::encode(text.as_bytes()) } })
        }
        "base64url.decode" => match base64::decode_utf8(text) {
            Ok(decoded) => json!({ "ok": true, "value": { "text": decoded } }),
            Err(e) => typed_error_json("encoding_error", &e),
        },
        "jcs.canonicalize" => answer(
            json::parse_value(text.as_bytes()).map(|v| json!({ "text": jcs::to_string(&v) })),
        ),
        "challenge.parse" => {
            answer(Challenge::parse(header.as_bytes()).and_then(|c| challenge_json(&c, true)))
        }
        "challenge.parse-all" => {
            let all: Vec<Value> = Challenge::parse_all(header.as_bytes())
                .map(|c| answer(c.and_then(|c| challenge_json(&c, true))))
                .collect();
            json!({ "ok": true, "value": { "challenges": all } })
        }
        "credential.parse" => {
            answer(Credential::parse(header.as_bytes()).and_then(|c| credential_json(&c)))
        }
        "receipt.parse" => {
            answer(Receipt::parse(header.as_bytes()).map(|r| Value::Object(r.to_json())))
        }
        "accept.rank" => {
            let offers: Vec<(&str, &str)> = input["offers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o["method"].as_str().unwrap(), o["intent"].as_str().unwrap()))
                .collect();
            match AcceptPayment::parse(header) {
                Ok(accept) => {
                    let kept: Vec<Value> = accept
                        .rank(offers.iter().copied())
                        .into_iter()
                        .map(|i| json!({ "method": offers[i].0, "intent": offers[i].1 }))
                        .collect();
                    json!({ "ok": true, "value": { "offers": kept } })
                }
                // The vectors name the header the ranges were read from.
                Err(e) => {
                    let mut error = error_json(&e);
                    error["error"]["field"] = "header".into();
                    error
                }
            }
        }
        _ => return None,
    })
}

/// Strips what a vector leaves unsaid: members of an expected error it does not
/// name, the error's message (vectors never give one).
fn as_stated(actual: Value, expected: &Value) -> Value {
    match (actual, expected) {
        (Value::Object(mut a), Value::Object(e)) if a.contains_key("ok") => {
            if let (Some(Value::Object(err)), Some(Value::Object(want))) =
                (a.get_mut("error"), e.get("error"))
            {
                err.retain(|k, _| want.contains_key(k));
            }
            if let (Some(value), Some(want)) = (a.get_mut("value"), e.get("value")) {
                *value = as_stated(value.take(), want);
            }
            Value::Object(a)
        }
        (Value::Object(mut a), Value::Object(e)) if a.contains_key("challenges") => {
            if let (Some(Value::Array(all)), Some(Value::Array(want))) =
                (a.get_mut("challenges"), e.get("challenges"))
            {
                for (one, w) in all.iter_mut().zip(want) {
                    *one = as_stated(one.take(), w);
                }
            }
            Value::Object(a)
        }
        (a, _) => a,
    }
}

/// Runs every vector of `category` this file answers; returns how many ran.
fn check(category: &str) -> usize {
    let mut ran = 0;
    for v in vectors(category) {
        let id = v["id"].as_str().unwrap();
        let Some(actual) = run(v["op"].as_str().unwrap(), &v["input"]) else {
            continue;
        };
        let expected = &v["expect"];
        assert_eq!(&as_stated(actual, expected), expected, "{id}");
        ran += 1;
    }
    ran
}

#[test]
fn challenge_parse_vectors() {
    // req: core.grammar.challenge.list core.grammar.scheme.case-insensitive
    // req: core.grammar.scheme.space core.grammar.param.value-forms
    // req: core.grammar.param.quoted-string core.grammar.param.whitespace
    // req: core.grammar.param.name-case core.grammar.param.unique
    // req: core.challenge.required-params core.challenge.id.reject-empty
    // req: core.challenge.method.case-sensitive core.challenge.request.json
    // req: core.grammar.expires.rfc3339 core.challenge.header.unrecognised
    // req: core.challenge.opaque.string-map core.challenge.unknown-params
    // req: core.versioning.ignore-unknown core.grammar.intent.token
    assert!(check("challenge-parse") >= 100);
}

#[test]
fn credential_parse_vectors() {
    // req: core.grammar.credential.form core.credential.structure core.credential.echo
    // req: core.errors.malformed-credential
    assert!(check("credential") >= 40);
}

#[test]
fn receipt_parse_vectors() {
    // req: core.grammar.receipt.form core.receipt.status-success
    assert!(check("receipt") >= 15);
}

#[test]
fn accept_payment_vectors() {
    // req: core.grammar.accept-payment core.accept-payment.filter
    // req: core.accept-payment.order core.accept-payment.ties core.accept-payment.specific
    assert!(check("accept-payment") >= 15);
}

#[test]
fn base64url_vectors() {
    // req: core.challenge.request.no-padding
    assert!(check("base64url") >= 30);
}

#[test]
fn jcs_vectors() {
    // req: core.challenge.request.jcs
    assert!(check("jcs") >= 50);
}

#[test]
fn a_wrong_answer_fails_the_check() {
    // The comparison must see a changed class, parameter, field or value.
    let v = &vectors("challenge-parse")
        .into_iter()
        .find(|v| v["id"] == "challenge-parse.error.duplicate-id")
        .unwrap();
    let actual = run("challenge.parse", &v["input"]).unwrap();
    assert_eq!(as_stated(actual.clone(), &v["expect"]), v["expect"]);
    for (member, wrong) in [("class", "expected-comma"), ("parameter", "realm")] {
        let mut broken = actual.clone();
        broken["error"][member] = wrong.into();
        assert_ne!(as_stated(broken, &v["expect"]), v["expect"], "{member}");
    }
    let ok = &vectors("challenge-parse")[0];
    let mut broken = run("challenge.parse", &ok["input"]).unwrap();
    broken["value"]["realm"] = "elsewhere".into();
    assert_ne!(as_stated(broken, &ok["expect"]), ok["expect"]);
}
