//! `credential` and `receipt`.

use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::receipt::Receipt;
use mpp_core::{base64, jcs};
use serde_json::{Value, json};

use super::challenge::{Model, Quirk, base_model, small_model};
use super::values::{self, canonical_reading, layout};
use super::{Cases, Mark};
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
        let v = cases.ok(
            &format!("parse.generated.{n:03}"),
            &format!("generated credential {n}, JSON in a random layout{what}"),
            &r,
            op,
            json!({ "header": header }),
            expected,
        );
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
    cases.ok(
        "parse.valid.base",
        "Payment, one space, base64url of the credential JSON",
        &reqs,
        op,
        json!({ "header": header }),
        parsed.clone(),
    );
    cases.ok(
        "parse.valid.spaces",
        "lower-case scheme, three spaces, whitespace around the value",
        &[
            "core.grammar.scheme.case-insensitive",
            "core.grammar.scheme.space",
        ],
        op,
        json!({ "header": format!(" payment   {} \t", encode(&base_json)) }),
        parsed.clone(),
    );
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
    cases
        .ok(
            "parse.valid.padded",
            "base64url with = padding is accepted on input",
            &["core.grammar.credential.form"],
            op,
            json!({ "header": format!("Payment {padded}") }),
            padded_expect,
        )
        .decision("E4");
    let mut extra = base_json.clone();
    extra["challenge"]["future"] = json!(["x"]);
    extra["payload"]["nested"] = json!({"a": [1, 2.5, null]});
    extra["extension"] = json!({"any": true});
    let mut extra_expect = parsed.clone();
    extra_expect["payload"]["nested"] = json!({"a": [1, 2.5, null]});
    cases.ok(
        "parse.valid.unknown-members",
        "unknown members of the credential and of its echo are ignored",
        &["core.versioning.ignore-unknown"],
        op,
        json!({ "header": format!("Payment {}", encode(&extra)) }),
        extra_expect,
    );
    let mut described = base_json.clone();
    described["challenge"]["description"] = "One call".into();
    cases
        .ok(
            "parse.valid.description-echo",
            "an echoed description is read but not part of the ABI's challenge object",
            &["core.credential.echo"],
            op,
            json!({ "header": format!("Payment {}", encode(&described)) }),
            parsed.clone(),
        )
        .decision("E16");
    let mut with_header = base_json.clone();
    with_header["challenge"]["header"] = "Payment-Authorization".into();
    let mut header_expect = parsed.clone();
    header_expect["challenge"]["header"] = "Payment-Authorization".into();
    cases.ok(
        "parse.valid.header-echo",
        "an echoed header parameter",
        &["core.credential.header.echo"],
        op,
        json!({ "header": format!("Payment {}", encode(&with_header)) }),
        header_expect,
    );
    let mut reencoded = base_json.clone();
    reencoded["challenge"]["request"] =
        base64::encode(br#"{ "currency": "usd", "recipient": "acct_123", "amount": "1000" }"#)
            .into();
    cases.ok(
        "parse.valid.request-re-encoded",
        "an echoed request in another JSON layout is read as the same terms",
        &["core.credential.echo"],
        op,
        json!({ "header": format!("Payment {}", encode(&reencoded)) }),
        parsed.clone(),
    );
    let mut no_source = base_json.clone();
    if let Some(o) = no_source.as_object_mut() {
        o.remove("source");
    }
    if let Some(o) = parsed.as_object_mut() {
        o.remove("source");
    }
    cases.ok(
        "parse.valid.no-source",
        "source is optional",
        &["core.credential.structure"],
        op,
        json!({ "header": format!("Payment {}", encode(&no_source)) }),
        parsed,
    );

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
    #[allow(clippy::type_complexity)]
    let list: Vec<(
        &str,
        &str,
        String,
        &str,
        Option<&str>,
        Option<&str>,
        &[&str],
        Option<&str>,
    )> = vec![
        (
            "empty",
            "an empty value",
            String::new(),
            "empty",
            None,
            None,
            form,
            None,
        ),
        (
            "scheme-only",
            "the scheme without a value",
            "Payment ".into(),
            "empty",
            None,
            None,
            form,
            None,
        ),
        (
            "other-scheme",
            "a Bearer credential",
            "Bearer eyJhbGciOiJIUzI1NiJ9".into(),
            "wrong-scheme",
            None,
            None,
            form,
            None,
        ),
        (
            "scheme-prefix",
            "a scheme that only starts with Payment",
            format!("Paymentx {}", &encode(base)[8..]),
            "wrong-scheme",
            None,
            None,
            form,
            None,
        ),
        (
            "tab-after-scheme",
            "a tab instead of a space after the scheme",
            encode(base).replacen(' ', "\t", 1),
            "wrong-scheme",
            None,
            None,
            &["core.grammar.scheme.space"],
            Some("E12"),
        ),
        (
            "auth-params",
            "auth-params instead of one base64url value",
            "Payment id=\"abc\", realm=\"api.example.com\"".into(),
            "invalid-base64",
            None,
            None,
            form,
            None,
        ),
        (
            "two-values",
            "two base64url values",
            format!("{} e30", encode(base)),
            "invalid-base64",
            None,
            None,
            form,
            None,
        ),
        (
            "bad-character",
            "characters outside base64url",
            "Payment !!!".into(),
            "invalid-base64",
            None,
            None,
            form,
            None,
        ),
        (
            "standard-alphabet",
            "standard base64 (+ and /)",
            encode(base).replace('-', "+").replace('_', "/")
                + if encode(base).contains(['-', '_']) {
                    ""
                } else {
                    "+/"
                },
            "invalid-base64",
            None,
            None,
            form,
            Some("E4"),
        ),
        (
            "trailing-bits",
            "a final character with non-zero unused bits",
            "Payment e31".into(),
            "non-canonical-base64",
            None,
            None,
            form,
            Some("E4"),
        ),
        (
            "not-utf8",
            "bytes that are not UTF-8",
            format!("Payment {}", base64::encode(b"{\"challenge\":\"\xff\"}")),
            "invalid-utf8",
            None,
            None,
            &["core.errors.malformed-credential"],
            None,
        ),
        (
            "not-json",
            "text that is not JSON",
            raw("challenge=abc"),
            "invalid-json",
            None,
            None,
            &["core.errors.malformed-credential"],
            None,
        ),
        (
            "array",
            "a JSON array",
            "Payment W10".into(),
            "expected-json-object",
            None,
            None,
            structure,
            None,
        ),
        (
            "duplicate-member",
            "the payload member twice",
            raw(&text.replacen("\"payload\":", "\"payload\":{},\"payload\":", 1)),
            "duplicate-json-key",
            None,
            None,
            structure,
            Some("E11"),
        ),
        (
            "number-range",
            "a number beyond a double in the payload",
            raw(&text.replacen("\"payload\":{", "\"payload\":{\"n\":1e999,", 1)),
            "json-number-out-of-range",
            None,
            None,
            structure,
            None,
        ),
        (
            "too-deep",
            "a payload nested 70 levels deep",
            raw(&text.replacen(
                "\"payload\":{",
                &format!(
                    "\"payload\":{{\"deep\":{}0{},",
                    "[".repeat(70),
                    "]".repeat(70)
                ),
                1,
            )),
            "json-too-deep",
            None,
            None,
            structure,
            Some("D11"),
        ),
        (
            "no-challenge",
            "no challenge member",
            edit(&["challenge"], None),
            "missing-field",
            None,
            Some("challenge"),
            structure,
            None,
        ),
        (
            "no-payload",
            "no payload member",
            edit(&["payload"], None),
            "missing-field",
            None,
            Some("payload"),
            structure,
            None,
        ),
        (
            "challenge-string",
            "challenge given as a string",
            edit(&["challenge"], Some("abc".into())),
            "invalid-field",
            None,
            Some("challenge"),
            structure,
            None,
        ),
        (
            "payload-array",
            "payload given as an array",
            edit(&["payload"], Some(json!([]))),
            "invalid-field",
            None,
            Some("payload"),
            structure,
            None,
        ),
        (
            "source-number",
            "source given as a number",
            edit(&["source"], Some(42.into())),
            "invalid-field",
            None,
            Some("source"),
            structure,
            None,
        ),
        (
            "no-id",
            "an echo without id",
            edit(&["challenge", "id"], None),
            "missing-field",
            None,
            Some("challenge.id"),
            structure,
            None,
        ),
        (
            "no-realm",
            "an echo without realm",
            edit(&["challenge", "realm"], None),
            "missing-field",
            None,
            Some("challenge.realm"),
            &["core.credential.echo"],
            None,
        ),
        (
            "no-method",
            "an echo without method",
            edit(&["challenge", "method"], None),
            "missing-field",
            None,
            Some("challenge.method"),
            &["core.credential.echo"],
            None,
        ),
        (
            "no-intent",
            "an echo without intent",
            edit(&["challenge", "intent"], None),
            "missing-field",
            None,
            Some("challenge.intent"),
            &["core.credential.echo"],
            None,
        ),
        (
            "no-request",
            "an echo without request",
            edit(&["challenge", "request"], None),
            "missing-field",
            None,
            Some("challenge.request"),
            &["core.credential.echo"],
            None,
        ),
        (
            "id-number",
            "an echoed id that is a number",
            edit(&["challenge", "id"], Some(123.into())),
            "invalid-field",
            None,
            Some("challenge.id"),
            structure,
            None,
        ),
        (
            "empty-id",
            "an empty echoed id",
            edit(&["challenge", "id"], Some("".into())),
            "empty-parameter",
            Some("id"),
            Some("challenge.id"),
            &["core.challenge.id.reject-empty"],
            None,
        ),
        (
            "uppercase-method",
            "an echoed method Tempo",
            edit(&["challenge", "method"], Some("Tempo".into())),
            "invalid-method",
            None,
            Some("challenge.method"),
            &["core.challenge.method.case-sensitive"],
            None,
        ),
        (
            "bad-intent",
            "an echoed intent with a space",
            edit(&["challenge", "intent"], Some("char ge".into())),
            "invalid-intent",
            None,
            Some("challenge.intent"),
            &["core.grammar.intent.token"],
            None,
        ),
        (
            "pipe-in-realm",
            "an echoed realm with |",
            edit(&["challenge", "realm"], Some("api|example.com".into())),
            "pipe-in-bound-field",
            Some("realm"),
            Some("challenge.realm"),
            &["core.binding.hmac.recipe"],
            Some("D2"),
        ),
        (
            "control-in-description",
            "an echoed description with a line feed",
            edit(&["challenge", "description"], Some("a\nb".into())),
            "control-character",
            None,
            Some("challenge.description"),
            &[],
            Some("D4"),
        ),
        (
            "request-bad-base64",
            "an echoed request that is not base64url",
            edit(&["challenge", "request"], Some("%%%".into())),
            "invalid-base64",
            None,
            Some("challenge.request"),
            &["core.challenge.request.json"],
            None,
        ),
        (
            "request-array",
            "an echoed request that decodes to an array",
            edit(&["challenge", "request"], Some("W10".into())),
            "expected-json-object",
            None,
            Some("challenge.request"),
            &["core.challenge.request.json"],
            None,
        ),
        (
            "request-object",
            "an echoed request given as an object instead of its base64url text",
            edit(&["challenge", "request"], Some(json!({"amount": "1000"}))),
            "invalid-field",
            None,
            Some("challenge.request"),
            &["core.credential.echo"],
            None,
        ),
        (
            "bad-expires",
            "an echoed expires that is not RFC 3339",
            edit(&["challenge", "expires"], Some("tomorrow".into())),
            "invalid-timestamp",
            None,
            Some("challenge.expires"),
            &["core.grammar.expires.rfc3339"],
            None,
        ),
        (
            "bad-digest",
            "an echoed digest without its algorithm",
            edit(
                &["challenge", "digest"],
                Some("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=".into()),
            ),
            "invalid-digest",
            None,
            Some("challenge.digest"),
            &[],
            None,
        ),
        (
            "md5-digest",
            "an echoed md5 digest",
            edit(
                &["challenge", "digest"],
                Some("md5=:HUXZLQLMuI/KZ5KDcJPcOA==:".into()),
            ),
            "unsupported-digest-algorithm",
            None,
            Some("challenge.digest"),
            &[],
            Some("E8"),
        ),
        (
            "opaque-not-strings",
            "an echoed opaque whose member is a number",
            edit(
                &["challenge", "opaque"],
                Some(base64::encode(br#"{"n":1}"#).into()),
            ),
            "expected-string-map",
            None,
            Some("challenge.opaque"),
            &["core.challenge.opaque.string-map"],
            None,
        ),
        (
            "header-authorization",
            "an echoed header other than Payment-Authorization",
            edit(&["challenge", "header"], Some("Authorization".into())),
            "unsupported-header",
            None,
            Some("challenge.header"),
            &["core.challenge.header.unrecognised"],
            None,
        ),
    ];
    for (id, description, header, class, parameter, field, reqs, decision) in list {
        let v = cases.error(
            &format!("parse.error.{id}"),
            description,
            reqs,
            op,
            json!({ "header": header }),
            "parse_error",
            Some(class),
        );
        if let Some(p) = parameter {
            v.parameter(p);
        }
        if let Some(f) = field {
            v.field(f);
        }
        if let Some(d) = decision {
            v.decision(d);
        }
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
        cases.ok(
            &format!("format.generated.{n:03}"),
            &format!("generated credential {n}: Payment and base64url of its JCS form, request in canonical form"),
            &["core.credential.echo", "core.grammar.credential.form"],
            op,
            input,
            json!({ "header": credential.to_header() }),
        );
    }
    let base = base_model();
    let input = json!({ "challenge": base.abi(false, &base.request), "payload": {"preimage": "9f1c6e0b2f4d"} });
    let errors: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            "no-challenge",
            "no challenge",
            json!({ "payload": {} }),
            "missing-field",
            "challenge",
        ),
        (
            "no-payload",
            "no payload",
            json!({ "challenge": input["challenge"] }),
            "missing-field",
            "payload",
        ),
        (
            "uppercase-method",
            "method Tempo in the echo",
            {
                let mut i = input.clone();
                i["challenge"]["method"] = "Tempo".into();
                i
            },
            "invalid-method",
            "challenge.method",
        ),
        (
            "header-authorization",
            "header Authorization in the echo",
            {
                let mut i = input.clone();
                i["challenge"]["header"] = "Authorization".into();
                i
            },
            "unsupported-header",
            "challenge.header",
        ),
    ];
    for (id, description, input, class, field) in errors {
        cases
            .error(
                &format!("format.error.{id}"),
                description,
                &["core.credential.structure"],
                op,
                input,
                "format_error",
                Some(class),
            )
            .field(field);
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
        let v = cases.ok(
            &format!("parse.generated.{n:03}"),
            &format!("generated receipt {n}, JSON in a random layout, method members kept"),
            &["core.grammar.receipt.form", "core.receipt.status-success"],
            op,
            json!({ "header": header }),
            Value::Object(canonical_reading(&receipt)),
        );
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
    cases.ok(
        "parse.valid.base",
        "base64url of the receipt JSON, no scheme",
        &["core.grammar.receipt.form"],
        op,
        json!({ "header": encode(&base) }),
        base.clone(),
    );
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
    #[allow(clippy::type_complexity)]
    let errors: Vec<(
        &str,
        &str,
        String,
        &str,
        Option<&str>,
        &[&str],
        Option<&str>,
    )> = vec![
        (
            "empty",
            "an empty value",
            String::new(),
            "empty",
            None,
            &["core.grammar.receipt.form"],
            None,
        ),
        (
            "with-scheme",
            "a Payment scheme before the value",
            format!("Payment {}", encode(&base)),
            "invalid-base64",
            None,
            &["core.grammar.receipt.form"],
            None,
        ),
        (
            "bad-character",
            "characters outside base64url",
            "!!!".into(),
            "invalid-base64",
            None,
            &["core.grammar.receipt.form"],
            None,
        ),
        (
            "array",
            "a JSON array",
            "W10".into(),
            "expected-json-object",
            None,
            &["core.grammar.receipt.form"],
            None,
        ),
        (
            "not-json",
            "text that is not JSON",
            base64::encode(b"status=success"),
            "invalid-json",
            None,
            &["core.grammar.receipt.form"],
            None,
        ),
        (
            "status-failed",
            "status failed",
            edit("status", Some("failed".into())),
            "receipt-status",
            Some("status"),
            &["core.receipt.status-success"],
            None,
        ),
        (
            "status-missing",
            "no status",
            edit("status", None),
            "missing-field",
            Some("status"),
            &["core.receipt.status-success"],
            None,
        ),
        (
            "status-number",
            "status given as a number",
            edit("status", Some(200.into())),
            "invalid-field",
            Some("status"),
            &["core.receipt.status-success"],
            None,
        ),
        (
            "method-missing",
            "no method",
            edit("method", None),
            "missing-field",
            Some("method"),
            &[],
            Some("E10"),
        ),
        (
            "timestamp-missing",
            "no timestamp",
            edit("timestamp", None),
            "missing-field",
            Some("timestamp"),
            &[],
            Some("E10"),
        ),
        (
            "reference-missing",
            "no reference",
            edit("reference", None),
            "missing-field",
            Some("reference"),
            &[],
            Some("E10"),
        ),
        (
            "uppercase-method",
            "method Tempo",
            edit("method", Some("Tempo".into())),
            "invalid-method",
            Some("method"),
            &["core.challenge.method.case-sensitive"],
            None,
        ),
        (
            "bad-timestamp",
            "a timestamp that is not RFC 3339",
            edit("timestamp", Some("2026-01-29".into())),
            "invalid-timestamp",
            Some("timestamp"),
            &[],
            None,
        ),
        (
            "reference-number",
            "reference given as a number",
            edit("reference", Some(42.into())),
            "invalid-field",
            Some("reference"),
            &[],
            None,
        ),
    ];
    for (id, description, header, class, field, reqs, decision) in errors {
        let v = cases.error(
            &format!("parse.error.{id}"),
            description,
            reqs,
            op,
            json!({ "header": header }),
            "parse_error",
            Some(class),
        );
        if let Some(f) = field {
            v.field(f);
        }
        if let Some(d) = decision {
            v.decision(d);
        }
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
        cases.ok(
            &format!("format.generated.{n:03}"),
            &format!("generated receipt {n}: base64url of its JCS form"),
            &["core.receipt.status-success"],
            op,
            Value::Object(receipt),
            json!({ "header": header }),
        );
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
        cases
            .error(
                &format!("format.error.{id}"),
                description,
                &["core.receipt.status-success"],
                op,
                input,
                "format_error",
                Some(class),
            )
            .field(field);
    }
}
