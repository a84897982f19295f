//! `credential` and `receipt`.

use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::receipt::Receipt;
use mpp_core::{base64, jcs};
use serde_json::{Value, json};

use super::challenge::{Model, Quirk, base_model, small_model};
use super::values::{self, canonical_reading, layout};
use super::{Case, Cases, Mark};
use crate::rng::Rng;

fn random_payload(rng: &mut Rng) -> JsonObject {
    let mut p = JsonObject::new();
    match rng.below(4) {
        0 => {
            p.insert(
                "preimage".into(),
                values::word(rng, b"0123456789abcdef", 64, 64).into(),
            );
        }
        1 => {
            p.insert("type".into(), "transaction".into());
            p.insert(
                "signature".into(),
                format!("0x{}", values::word(rng, b"0123456789abcdef", 130, 130)).into(),
            );
        }
        2 => {
            p.insert("token".into(), base64::encode(&rng.bytes(24)).into());
        }
        _ => p = values::object(rng, 2, 4),
    }
    p
}

const SOURCES: [&str; 3] = [
    "did:pkh:eip155:4217:0x742d35Cc6634C0532925a3b844Bc9e7595f8fE21",
    "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
    "did:web:payer.example",
];

/// The JSON of a credential answering `model`, as a client sends it.
fn wire(model: &Model, payload: &JsonObject, source: Option<&str>, description: bool) -> Value {
    let mut echo = JsonObject::new();
    for (name, value) in model.params() {
        if name != "description" || description {
            echo.insert(name, value.into());
        }
    }
    let mut out = json!({ "challenge": echo, "payload": payload });
    if let Some(s) = source {
        out["source"] = s.into();
    }
    out
}

/// `credential`.
pub(crate) fn credential(cases: &mut Cases, rng: &mut Rng) {
    let op = "credential.parse";
    let reqs = [
        "core.credential.structure",
        "core.grammar.credential.form",
        "core.credential.echo",
    ];
    for n in 1..=8 {
        let quirk = match rng.below(10) {
            0 => Quirk::WideMethod,
            1 => Quirk::BareDigest,
            _ => Quirk::None,
        };
        let mut model = Model::random(rng, quirk);
        let mut decision = model.decision;
        let mut r = reqs.to_vec();
        if rng.chance(25) {
            // Deployed clients re-encode request; the server recomputes its canonical form.
            let mut text = String::new();
            layout(rng, &Value::Object(model.request.clone()), &mut text);
            model.request_wire = base64::encode(text.as_bytes());
        }
        let payload = random_payload(rng);
        let source = rng.chance(50).then(|| rng.pick(&SOURCES));
        let description = model.description.is_some() && rng.chance(50);
        if description {
            decision = Some("E16");
        }
        let mut json = wire(&model, &payload, source, description);
        if rng.chance(25) {
            json["challenge"]["x-extra"] = json!({"note": "ignored"});
            json["version"] = 2.into();
            r.push("core.versioning.ignore-unknown");
        }
        let mut text = String::new();
        layout(rng, &json, &mut text);
        let mut token = base64::encode(text.as_bytes());
        if decision.is_none() && rng.chance(15) && token.len() % 4 != 0 {
            token.push_str(&"=".repeat(4 - token.len() % 4));
            decision = Some("E4");
        }
        let scheme = rng.pick(&["Payment", "Payment", "Payment", "payment", "PAYMENT"]);
        if scheme != "Payment" {
            r.push("core.grammar.scheme.case-insensitive");
        }
        let spaces = if rng.chance(85) { 1 } else { 3 };
        if spaces > 1 {
            r.push("core.grammar.scheme.space");
        }
        let (lead, trail) = if rng.chance(15) {
            (" ", " \t")
        } else {
            ("", "")
        };
        let header = format!("{lead}{scheme}{}{token}{trail}", " ".repeat(spaces));
        let mut expected = json!({
            "challenge": model.abi(false, &canonical_reading(&model.request)),
            "payload": canonical_reading(&payload),
        });
        if let Some(s) = source {
            expected["source"] = s.into();
        }
        let what = match decision {
            Some("E16") => " (its echoed description is not in the ABI's output)",
            Some("E4") => " (base64url with = padding)",
            Some("E3") => " (a method with digits or punctuation)",
            Some("E8") => " (a digest without colons)",
            _ => "",
        };
        let v = cases.add(case! { id: format!("parse.generated.{n:03}"), description: format!("generated credential {n}, JSON in a random layout{what}"), reqs: r, op, input: json!({ "header": header }), value: expected });
        if let Some(d) = decision {
            v.decision(d);
        }
    }

    let base = base_model();
    let payload: JsonObject =
        serde_json::from_value(json!({"preimage": "9f1c6e0b2f4d"})).unwrap_or_default();
    let source = SOURCES[1];
    let base_json = wire(&base, &payload, Some(source), false);
    let encode = |v: &Value| base64::encode(jcs::to_string(v).as_bytes());
    let header = format!("Payment {}", encode(&base_json));
    let mut parsed = json!({
        "challenge": base.abi(false, &base.request),
        "payload": payload,
        "source": source,
    });
    cases.add(case! { id: "parse.valid.base", description: "Payment, one space, base64url of the credential JSON", reqs: &reqs, op, input: json!({ "header": header }), value: parsed.clone() });
    cases.add(case! { id: "parse.valid.spaces", description: "lower-case scheme, three spaces, whitespace around the value", reqs: &["core.grammar.scheme.case-insensitive", "core.grammar.scheme.space"], op, input: json!({ "header": format!(" payment   {} \t", encode(&base_json)) }), value: parsed.clone() });
    let token = encode(&base_json);
    let padded = format!("{token}{}", "=".repeat((4 - token.len() % 4) % 4));
    let mut one_more = base_json.clone();
    if padded == token {
        one_more["source"] = "did:web:payer.example.org".into();
    }
    let (padded, padded_expect) = if padded == token {
        let t = encode(&one_more);
        let mut e = parsed.clone();
        e["source"] = "did:web:payer.example.org".into();
        (format!("{t}{}", "=".repeat((4 - t.len() % 4) % 4)), e)
    } else {
        (padded, parsed.clone())
    };
    cases.add(case! { id: "parse.valid.padded", description: "base64url with = padding is accepted on input", reqs: &["core.grammar.credential.form"], op, input: json!({ "header": format!("Payment {padded}") }), value: padded_expect, decision: "E4" });
    let mut extra = base_json.clone();
    extra["challenge"]["future"] = json!(["x"]);
    extra["payload"]["nested"] = json!({"a": [1, 2.5, null]});
    extra["extension"] = json!({"any": true});
    let mut extra_expect = parsed.clone();
    extra_expect["payload"]["nested"] = json!({"a": [1, 2.5, null]});
    cases.add(case! { id: "parse.valid.unknown-members", description: "unknown members of the credential and of its echo are ignored", reqs: &["core.versioning.ignore-unknown"], op, input: json!({ "header": format!("Payment {}", encode(&extra)) }), value: extra_expect });
    let mut described = base_json.clone();
    described["challenge"]["description"] = "One call".into();
    cases.add(case! { id: "parse.valid.description-echo", description: "an echoed description is read but not part of the ABI's challenge object", reqs: &["core.credential.echo"], op, input: json!({ "header": format!("Payment {}", encode(&described)) }), value: parsed.clone(), decision: "E16" });
    let mut with_header = base_json.clone();
    with_header["challenge"]["header"] = "Payment-Authorization".into();
    let mut header_expect = parsed.clone();
    header_expect["challenge"]["header"] = "Payment-Authorization".into();
    cases.add(case! { id: "parse.valid.header-echo", description: "an echoed header parameter", reqs: &["core.credential.header.echo"], op, input: json!({ "header": format!("Payment {}", encode(&with_header)) }), value: header_expect });
    let mut reencoded = base_json.clone();
    reencoded["challenge"]["request"] =
        base64::encode(br#"{ "currency": "usd", "recipient": "acct_123", "amount": "1000" }"#)
            .into();
    cases.add(case! { id: "parse.valid.request-re-encoded", description: "an echoed request in another JSON layout is read as the same terms", reqs: &["core.credential.echo"], op, input: json!({ "header": format!("Payment {}", encode(&reencoded)) }), value: parsed.clone() });
    let mut no_source = base_json.clone();
    if let Some(o) = no_source.as_object_mut() {
        o.remove("source");
    }
    if let Some(o) = parsed.as_object_mut() {
        o.remove("source");
    }
    cases.add(case! { id: "parse.valid.no-source", description: "source is optional", reqs: &["core.credential.structure"], op, input: json!({ "header": format!("Payment {}", encode(&no_source)) }), value: parsed });

    let small = wire(&small_model(), &payload, None, false);
    credential_errors(cases, &small);
    credential_format(cases, rng);
}

fn credential_errors(cases: &mut Cases, base: &Value) {
    let op = "credential.parse";
    let encode = |v: &Value| format!("Payment {}", base64::encode(jcs::to_string(v).as_bytes()));
    let raw = |text: &str| format!("Payment {}", base64::encode(text.as_bytes()));
    let edit = |path: &[&str], value: Option<Value>| {
        let mut v = base.clone();
        let (last, parents) = path.split_last().unwrap_or_else(|| unreachable!());
        let mut at = &mut v;
        for p in parents {
            at = &mut at[*p];
        }
        match value {
            Some(x) => at[*last] = x,
            None => {
                if let Some(o) = at.as_object_mut() {
                    o.remove(*last);
                }
            }
        }
        encode(&v)
    };
    let text = jcs::to_string(base);
    let structure = &["core.credential.structure"][..];
    let form = &["core.grammar.credential.form"][..];
    let h = |header: String| json!({ "header": header });
    let list = [
        case! { id: "empty", description: "an empty value", input: h(String::new()), class: "empty", reqs: form },
        case! { id: "scheme-only", description: "the scheme without a value", input: h("Payment ".into()), class: "empty", reqs: form },
        case! { id: "other-scheme", description: "a Bearer credential", input: h("Bearer eyJhbGciOiJIUzI1NiJ9".into()), class: "wrong-scheme", reqs: form },
        case! { id: "scheme-prefix", description: "a scheme that only starts with Payment", input: h(format!("Paymentx {}", &encode(base)[8..])), class: "wrong-scheme", reqs: form },
        case! { id: "tab-after-scheme", description: "a tab instead of a space after the scheme", input: h(encode(base).replacen(' ', "\t", 1)), class: "wrong-scheme", reqs: &["core.grammar.scheme.space"], decision: "E12" },
        case! { id: "auth-params", description: "auth-params instead of one base64url value", input: h("Payment id=\"abc\", realm=\"api.example.com\"".into()), class: "invalid-base64", reqs: form },
        case! { id: "two-values", description: "two base64url values", input: h(format!("{} e30", encode(base))), class: "invalid-base64", reqs: form },
        case! { id: "bad-character", description: "characters outside base64url", input: h("Payment !!!".into()), class: "invalid-base64", reqs: form },
        case! { id: "standard-alphabet", description: "standard base64 (+ and /)", input: h(encode(base).replace('-', "+").replace('_', "/") + if encode(base).contains(['-', '_']) { "" } else { "+/" }), class: "invalid-base64", reqs: form, decision: "E4" },
        case! { id: "trailing-bits", description: "a final character with non-zero unused bits", input: h("Payment e31".into()), class: "non-canonical-base64", reqs: form, decision: "E4" },
        case! { id: "not-utf8", description: "bytes that are not UTF-8", input: h(format!("Payment {}", base64::encode(b"{\"challenge\":\"\xff\"}"))), class: "invalid-utf8", reqs: &["core.errors.malformed-credential"] },
        case! { id: "not-json", description: "text that is not JSON", input: h(raw("challenge=abc")), class: "invalid-json", reqs: &["core.errors.malformed-credential"] },
        case! { id: "array", description: "a JSON array", input: h("Payment W10".into()), class: "expected-json-object", reqs: structure },
        case! { id: "duplicate-member", description: "the payload member twice", input: h(raw(&text.replacen("\"payload\":", "\"payload\":{},\"payload\":", 1))), class: "duplicate-json-key", reqs: structure, decision: "E11" },
        case! { id: "number-range", description: "a number beyond a double in the payload", input: h(raw(&text.replacen("\"payload\":{", "\"payload\":{\"n\":1e999,", 1))), class: "json-number-out-of-range", reqs: structure },
        case! { id: "too-deep", description: "a payload nested 70 levels deep", input: h(raw(&text.replacen("\"payload\":{", &format!("\"payload\":{{\"deep\":{}0{},", "[".repeat(70), "]".repeat(70)), 1))), class: "json-too-deep", reqs: structure, decision: "D11" },
        case! { id: "no-challenge", description: "no challenge member", input: h(edit(&["challenge"], None)), class: "missing-field", field: "challenge", reqs: structure },
        case! { id: "no-payload", description: "no payload member", input: h(edit(&["payload"], None)), class: "missing-field", field: "payload", reqs: structure },
        case! { id: "challenge-string", description: "challenge given as a string", input: h(edit(&["challenge"], Some("abc".into()))), class: "invalid-field", field: "challenge", reqs: structure },
        case! { id: "payload-array", description: "payload given as an array", input: h(edit(&["payload"], Some(json!([])))), class: "invalid-field", field: "payload", reqs: structure },
        case! { id: "source-number", description: "source given as a number", input: h(edit(&["source"], Some(42.into()))), class: "invalid-field", field: "source", reqs: structure },
        case! { id: "no-id", description: "an echo without id", input: h(edit(&["challenge", "id"], None)), class: "missing-field", field: "challenge.id", reqs: structure },
        case! { id: "no-realm", description: "an echo without realm", input: h(edit(&["challenge", "realm"], None)), class: "missing-field", field: "challenge.realm", reqs: &["core.credential.echo"] },
        case! { id: "no-method", description: "an echo without method", input: h(edit(&["challenge", "method"], None)), class: "missing-field", field: "challenge.method", reqs: &["core.credential.echo"] },
        case! { id: "no-intent", description: "an echo without intent", input: h(edit(&["challenge", "intent"], None)), class: "missing-field", field: "challenge.intent", reqs: &["core.credential.echo"] },
        case! { id: "no-request", description: "an echo without request", input: h(edit(&["challenge", "request"], None)), class: "missing-field", field: "challenge.request", reqs: &["core.credential.echo"] },
        case! { id: "id-number", description: "an echoed id that is a number", input: h(edit(&["challenge", "id"], Some(123.into()))), class: "invalid-field", field: "challenge.id", reqs: structure },
        case! { id: "empty-id", description: "an empty echoed id", input: h(edit(&["challenge", "id"], Some("".into()))), class: "empty-parameter", parameter: "id", field: "challenge.id", reqs: &["core.challenge.id.reject-empty"] },
        case! { id: "uppercase-method", description: "an echoed method Tempo", input: h(edit(&["challenge", "method"], Some("Tempo".into()))), class: "invalid-method", field: "challenge.method", reqs: &["core.challenge.method.case-sensitive"] },
        case! { id: "bad-intent", description: "an echoed intent with a space", input: h(edit(&["challenge", "intent"], Some("char ge".into()))), class: "invalid-intent", field: "challenge.intent", reqs: &["core.grammar.intent.token"] },
        case! { id: "pipe-in-realm", description: "an echoed realm with |", input: h(edit(&["challenge", "realm"], Some("api|example.com".into()))), class: "pipe-in-bound-field", parameter: "realm", field: "challenge.realm", reqs: &["core.binding.hmac.recipe"], decision: "D2" },
        case! { id: "control-in-description", description: "an echoed description with a line feed", input: h(edit(&["challenge", "description"], Some("a\nb".into()))), class: "control-character", field: "challenge.description", decision: "D4" },
        case! { id: "request-bad-base64", description: "an echoed request that is not base64url", input: h(edit(&["challenge", "request"], Some("%%%".into()))), class: "invalid-base64", field: "challenge.request", reqs: &["core.challenge.request.json"] },
        case! { id: "request-array", description: "an echoed request that decodes to an array", input: h(edit(&["challenge", "request"], Some("W10".into()))), class: "expected-json-object", field: "challenge.request", reqs: &["core.challenge.request.json"] },
        case! { id: "request-object", description: "an echoed request given as an object instead of its base64url text", input: h(edit(&["challenge", "request"], Some(json!({"amount": "1000"})))), class: "invalid-field", field: "challenge.request", reqs: &["core.credential.echo"] },
        case! { id: "bad-expires", description: "an echoed expires that is not RFC 3339", input: h(edit(&["challenge", "expires"], Some("tomorrow".into()))), class: "invalid-timestamp", field: "challenge.expires", reqs: &["core.grammar.expires.rfc3339"] },
        case! { id: "bad-digest", description: "an echoed digest without its algorithm", input: h(edit(&["challenge", "digest"], Some("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=".into()))), class: "invalid-digest", field: "challenge.digest" },
        case! { id: "md5-digest", description: "an echoed md5 digest", input: h(edit(&["challenge", "digest"], Some("md5=:HUXZLQLMuI/KZ5KDcJPcOA==:".into()))), class: "unsupported-digest-algorithm", field: "challenge.digest", decision: "E8" },
        case! { id: "opaque-not-strings", description: "an echoed opaque whose member is a number", input: h(edit(&["challenge", "opaque"], Some(base64::encode(br#"{"n":1}"#).into()))), class: "expected-string-map", field: "challenge.opaque", reqs: &["core.challenge.opaque.string-map"] },
        case! { id: "header-authorization", description: "an echoed header other than Payment-Authorization", input: h(edit(&["challenge", "header"], Some("Authorization".into()))), class: "unsupported-header", field: "challenge.header", reqs: &["core.challenge.header.unrecognised"] },
    ];
    for case in list {
        cases.add(Case {
            id: format!("parse.error.{}", case.id),
            op,
            error: "parse_error",
            ..case
        });
    }
}

fn credential_format(cases: &mut Cases, rng: &mut Rng) {
    let op = "credential.format";
    for n in 1..=4 {
        let model = Model::random(rng, Quirk::None);
        let payload = random_payload(rng);
        let source = rng.chance(50).then(|| rng.pick(&SOURCES).to_owned());
        let description = model.description.is_some() && rng.chance(50);
        let mut challenge = model.challenge();
        if !description {
            challenge.description = None;
        }
        let credential = Credential {
            challenge,
            payload: payload.clone(),
            source: source.clone(),
        };
        let mut input = json!({
            "challenge": model.abi(description, &model.request),
            "payload": payload,
        });
        if let Some(s) = source {
            input["source"] = s.into();
        }
        cases.add(case! { id: format!("format.generated.{n:03}"), description: format!("generated credential {n}: Payment and base64url of its JCS form, request in canonical form"), reqs: &["core.credential.echo", "core.grammar.credential.form"], op, input, value: json!({ "header": credential.to_header() }) });
    }
    let base = base_model();
    let input = json!({ "challenge": base.abi(false, &base.request), "payload": {"preimage": "9f1c6e0b2f4d"} });
    let echo = |name: &str, value: &str| {
        let mut i = input.clone();
        i["challenge"][name] = value.into();
        i
    };
    let errors = [
        case! { id: "no-challenge", description: "no challenge", input: json!({ "payload": {} }), class: "missing-field", field: "challenge" },
        case! { id: "no-payload", description: "no payload", input: json!({ "challenge": input["challenge"] }), class: "missing-field", field: "payload" },
        case! { id: "uppercase-method", description: "method Tempo in the echo", input: echo("method", "Tempo"), class: "invalid-method", field: "challenge.method" },
        case! { id: "header-authorization", description: "header Authorization in the echo", input: echo("header", "Authorization"), class: "unsupported-header", field: "challenge.header" },
    ];
    for case in errors {
        cases.add(Case {
            id: format!("format.error.{}", case.id),
            reqs: vec!["core.credential.structure"],
            op,
            error: "format_error",
            ..case
        });
    }
}

fn random_receipt(rng: &mut Rng) -> JsonObject {
    let mut r = JsonObject::new();
    r.insert("status".into(), "success".into());
    r.insert("method".into(), values::method(rng, false).into());
    r.insert("timestamp".into(), values::random_timestamp(rng).into());
    let reference = match rng.below(3) {
        0 => format!("0x{}", values::word(rng, b"0123456789abcdef", 64, 64)),
        1 => format!(
            "pi_{}",
            values::word(
                rng,
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                24,
                24
            )
        ),
        _ => values::text(rng, 1, 12, "-_:/", true),
    };
    r.insert("reference".into(), reference.into());
    if rng.chance(60) {
        r.insert("challengeId".into(), base64::encode(&rng.bytes(32)).into());
    }
    if rng.chance(40) {
        r.insert("intent".into(), values::intent(rng).into());
    }
    if rng.chance(30) {
        r.insert("chainId".into(), rng.pick(&[4217, 42431, 1, 8453]).into());
    }
    if rng.chance(30) {
        r.insert(
            "spent".into(),
            json!({ "amount": rng.range(1, 100_000).to_string(), "currency": "usd" }),
        );
    }
    if rng.chance(20) {
        r.insert("extra".into(), values::value(rng, 2));
    }
    r
}

/// `receipt`.
pub(crate) fn receipt(cases: &mut Cases, rng: &mut Rng) {
    let op = "receipt.parse";
    for n in 1..=6 {
        let receipt = random_receipt(rng);
        let mut text = String::new();
        layout(rng, &Value::Object(receipt.clone()), &mut text);
        let mut token = base64::encode(text.as_bytes());
        let mut decision = None;
        if rng.chance(15) && token.len() % 4 != 0 {
            token.push_str(&"=".repeat(4 - token.len() % 4));
            decision = Some("E4");
        }
        let header = if rng.chance(15) {
            format!(" {token}\t")
        } else {
            token
        };
        let v = cases.add(case! { id: format!("parse.generated.{n:03}"), description: format!("generated receipt {n}, JSON in a random layout, method members kept"), reqs: &["core.grammar.receipt.form", "core.receipt.status-success"], op, input: json!({ "header": header }), value: Value::Object(canonical_reading(&receipt)) });
        if let Some(d) = decision {
            v.decision(d);
        }
    }
    let base = json!({
        "status": "success",
        "method": "tempo",
        "timestamp": "2026-01-29T12:00:03Z",
        "reference": "0x3f1a9c",
        "challengeId": "kM9xPqWvT2nJrHsLcZ4yBfDgA7eU1iOo3tV6wXyZ0a8",
    });
    let encode = |v: &Value| base64::encode(jcs::to_string(v).as_bytes());
    cases.add(case! { id: "parse.valid.base", description: "base64url of the receipt JSON, no scheme", reqs: &["core.grammar.receipt.form"], op, input: json!({ "header": encode(&base) }), value: base.clone() });
    let edit = |name: &str, value: Option<Value>| {
        let mut v = base.clone();
        match value {
            Some(x) => v[name] = x,
            None => {
                if let Some(o) = v.as_object_mut() {
                    o.remove(name);
                }
            }
        }
        encode(&v)
    };
    let h = |header: String| json!({ "header": header });
    let errors = [
        case! { id: "empty", description: "an empty value", input: h(String::new()), class: "empty", reqs: &["core.grammar.receipt.form"] },
        case! { id: "with-scheme", description: "a Payment scheme before the value", input: h(format!("Payment {}", encode(&base))), class: "invalid-base64", reqs: &["core.grammar.receipt.form"] },
        case! { id: "bad-character", description: "characters outside base64url", input: h("!!!".into()), class: "invalid-base64", reqs: &["core.grammar.receipt.form"] },
        case! { id: "array", description: "a JSON array", input: h("W10".into()), class: "expected-json-object", reqs: &["core.grammar.receipt.form"] },
        case! { id: "not-json", description: "text that is not JSON", input: h(base64::encode(b"status=success")), class: "invalid-json", reqs: &["core.grammar.receipt.form"] },
        case! { id: "status-failed", description: "status failed", input: h(edit("status", Some("failed".into()))), class: "receipt-status", field: "status", reqs: &["core.receipt.status-success"] },
        case! { id: "status-missing", description: "no status", input: h(edit("status", None)), class: "missing-field", field: "status", reqs: &["core.receipt.status-success"] },
        case! { id: "status-number", description: "status given as a number", input: h(edit("status", Some(200.into()))), class: "invalid-field", field: "status", reqs: &["core.receipt.status-success"] },
        case! { id: "method-missing", description: "no method", input: h(edit("method", None)), class: "missing-field", field: "method", decision: "E10" },
        case! { id: "timestamp-missing", description: "no timestamp", input: h(edit("timestamp", None)), class: "missing-field", field: "timestamp", decision: "E10" },
        case! { id: "reference-missing", description: "no reference", input: h(edit("reference", None)), class: "missing-field", field: "reference", decision: "E10" },
        case! { id: "uppercase-method", description: "method Tempo", input: h(edit("method", Some("Tempo".into()))), class: "invalid-method", field: "method", reqs: &["core.challenge.method.case-sensitive"] },
        case! { id: "bad-timestamp", description: "a timestamp that is not RFC 3339", input: h(edit("timestamp", Some("2026-01-29".into()))), class: "invalid-timestamp", field: "timestamp" },
        case! { id: "reference-number", description: "reference given as a number", input: h(edit("reference", Some(42.into()))), class: "invalid-field", field: "reference" },
    ];
    for case in errors {
        cases.add(Case {
            id: format!("parse.error.{}", case.id),
            op,
            error: "parse_error",
            ..case
        });
    }

    let op = "receipt.format";
    for n in 1..=4 {
        let receipt = random_receipt(rng);
        let header = Receipt::from_json(receipt.clone())
            .unwrap_or_else(|e| unreachable!("{e}"))
            .to_header();
        debug_assert_eq!(
            base64::decode_utf8(&header).ok(),
            Some(jcs::object_to_string(&canonical_reading(&receipt)))
        );
        cases.add(case! { id: format!("format.generated.{n:03}"), description: format!("generated receipt {n}: base64url of its JCS form"), reqs: &["core.receipt.status-success"], op, input: Value::Object(receipt), value: json!({ "header": header }) });
    }
    let errors: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            "status-failed",
            "a receipt whose status is not success",
            {
                let mut v = base.clone();
                v["status"] = "failed".into();
                v
            },
            "receipt-status",
            "status",
        ),
        (
            "reference-missing",
            "a receipt without reference",
            {
                let mut v = base.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("reference");
                }
                v
            },
            "missing-field",
            "reference",
        ),
    ];
    for (id, description, input, class, field) in errors {
        cases.add(case! { id: format!("format.error.{id}"), description, reqs: &["core.receipt.status-success"], op, input, error: "format_error", class, field });
    }
}
