//! `jsonrpc`: the conversions of draft-payment-transport-mcp-00 between the HTTP
//! forms and the JSON forms JSON-RPC messages carry (`mpp_core::jsonrpc`), and what
//! a server and a client read from those messages.
//!
//! The JSON challenges and credentials that must verify are given as JSON *text*
//! with members shuffled and numbers respelled (`5.0`, `5E0`, `1.50`), because the
//! id binds the JCS form of `request` and only text can show that neither member
//! order nor number spelling changes it (erratum E40).

use mpp_core::ParseOptions;
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::credential::Credential;
use mpp_core::json::{self, JsonObject};
use mpp_core::jsonrpc::{self, PaidReceipt};
use mpp_core::receipt::Receipt;
use mpp_core::value::{Base64Json, ChallengeId, MethodName, Opaque};
use mpp_core::{base64, jcs};
use serde_json::{Number, Value, json};

use super::challenge::{Model, Parts, SECRET, base_model};
use super::values::{self, canonical_reading};
use super::{Case, Cases, Mark};
use crate::rng::Rng;

const STRICT: ParseOptions = ParseOptions::STRICT;

const TO_JSON: &str = "jsonrpc.challenge_to_json";
const FROM_JSON: &str = "jsonrpc.challenge_from_json";
const CREDENTIAL_TO_JSON: &str = "jsonrpc.credential_to_json";
const CREDENTIAL_FROM_JSON: &str = "jsonrpc.credential_from_json";
const FIND: &str = "jsonrpc.find_credential";
const RECEIPT_TO_JSON: &str = "jsonrpc.receipt_to_json";
const RECEIPT_FROM_JSON: &str = "jsonrpc.receipt_from_json";
const PAYMENT_REQUIRED: &str = "jsonrpc.payment_required";

/// The JCS-read reqs of a JSON challenge whose id must verify.
const JCS_REQS: [&str; 3] = [
    "mcp.challenge.request-jcs.client",
    "mcp.challenge.request-jcs.server",
    "mcp.challenge.id-binding",
];

fn binder(secret: &str) -> ChallengeBinder {
    ChallengeBinder::new(Secret::new(secret).unwrap_or_else(|e| unreachable!("{e}")))
}

fn object(value: Value) -> JsonObject {
    match value {
        Value::Object(o) => o,
        other => unreachable!("not an object: {other}"),
    }
}

/// A challenge with random parts issued under `secret`; its request holds numbers.
fn random_model(rng: &mut Rng, secret: &str) -> Model {
    let mut request = values::request(rng);
    request.insert("units".into(), rng.range(1, 1_000_000).into());
    let fee = rng.pick(&[0.5, 1.25, 2.5e-5, 1e21, 123.456, 0.1]);
    request.insert("fee".into(), fee.into());
    let parts = Parts {
        realm: values::realm(rng, false),
        method: values::method(rng, false),
        intent: values::intent(rng),
        request,
        expires: rng.chance(80).then(|| values::random_timestamp(rng)),
        digest: rng.chance(20).then(|| values::digest(rng, false)),
        description: rng.chance(40).then(|| values::description(rng, true)),
        opaque: rng.chance(30).then(|| values::opaque(rng)),
        header: rng.chance(20),
    };
    Model::issue(&binder(secret), parts)
}

/// A secret of 32 to 40 printable ASCII characters.
fn random_secret(rng: &mut Rng) -> String {
    values::text(rng, 32, 40, "!#$%&*+-./:;<=>?@^_~", false)
}

/// The hand-written cases' challenge with numbers in its request and an `opaque`.
fn numeric_model() -> Model {
    let base = base_model();
    let mut parts = base.parts.clone();
    parts.request.insert(
        "methodDetails".into(),
        json!({ "chainId": 42431, "fee": 1.5, "gas": 100 }),
    );
    parts.opaque = Some(
        Opaque::encode([("route", "tools/call:search")])
            .as_str()
            .to_owned(),
    );
    Model::issue(&binder(SECRET), parts)
}

/// JSON text of `value` with members in a shuffled order and every number
/// respelled, meaning the same double.
fn respelled(rng: &mut Rng, value: &Value, out: &mut String) {
    match value {
        Value::Object(members) => {
            // Sorted first: the map's own order depends on serde_json's features.
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort();
            rng.shuffle(&mut keys);
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(rng.pick(&[",", ", "]));
                }
                out.push_str(&Value::String((*key).clone()).to_string());
                out.push(':');
                respelled(rng, &members[*key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                respelled(rng, item, out);
            }
            out.push(']');
        }
        Value::Number(n) => out.push_str(&spelling(rng, n)),
        other => out.push_str(&other.to_string()),
    }
}

/// Another spelling of `n`: `5.0`, `5E0` or `5.00e+0` for an integer; a trailing
/// zero, an `e0`, or a `.0` before the exponent for a double.
fn spelling(rng: &mut Rng, n: &Number) -> String {
    let plain = n.to_string();
    if !n.is_f64() {
        return match rng.below(3) {
            0 => format!("{plain}.0"),
            1 => format!("{plain}E0"),
            _ => format!("{plain}.00e+0"),
        };
    }
    match plain.find(['e', 'E']) {
        Some(i) if !plain[..i].contains('.') => format!("{}.0{}", &plain[..i], &plain[i..]),
        Some(_) => plain.replace('e', "E"),
        None if rng.chance(50) => format!("{plain}0"),
        None => format!("{plain}e0"),
    }
}

/// The parameters a reader of the JSON challenge must find: as HTTP carries them.
fn http_params(model: &Model) -> Value {
    let mut out = JsonObject::new();
    for (name, value) in model.params() {
        out.insert(name, value.into());
    }
    Value::Object(out)
}

fn challenge_json_form(model: &Model) -> Value {
    Value::Object(
        jsonrpc::challenge_to_json(&model.challenge()).unwrap_or_else(|e| unreachable!("{e}")),
    )
}

/// `jsonrpc`.
pub(crate) fn jsonrpc(cases: &mut Cases, rng: &mut Rng) {
    challenge_to_json(cases, rng);
    challenge_from_json(cases, rng);
    credentials(cases, rng);
    find_credential(cases);
    receipts(cases, rng);
    payment_required(cases);
}

fn challenge_to_json(cases: &mut Cases, rng: &mut Rng) {
    let op = TO_JSON;
    let reqs = ["mcp.challenge.request-object", "mcp.challenge.members"];
    for n in 1..=4 {
        let secret = random_secret(rng);
        let model = random_model(rng, &secret);
        let header = model
            .challenge()
            .to_header()
            .unwrap_or_else(|e| unreachable!("{e}"));
        let expected = model.abi(true, &canonical_reading(&model.request));
        assert_eq!(challenge_json_form(&model), expected);
        cases.add(case! { id: format!("challenge-to-json.generated.{n:03}"), description: format!("generated challenge {n}: its parameters as members, request as a JSON object"), reqs: &reqs, op, input: json!({ "header": header }), value: expected });
    }
    let base = base_model();
    let header = base
        .challenge()
        .to_header()
        .unwrap_or_else(|e| unreachable!("{e}"));
    let expected = base.abi(true, &base.request);
    cases.add(case! { id: "challenge-to-json.hand.extension-dropped", description: "an extension parameter is not carried: nothing binds it", reqs: &reqs, op, input: json!({ "header": format!("{header}, extra=\"1\"") }), value: expected });
    cases.add(case! { id: "challenge-to-json.error.no-payment", description: "a value with no Payment challenge", op, input: json!({ "header": "Bearer realm=\"api\"" }), error: "parse_error", class: "no-payment-challenge" });
}

fn challenge_from_json(cases: &mut Cases, rng: &mut Rng) {
    let op = FROM_JSON;
    for n in 1..=6 {
        let secret = random_secret(rng);
        let model = random_model(rng, &secret);
        let mut text = String::new();
        respelled(rng, &challenge_json_form(&model), &mut text);
        // What mpp-core reads must be the issued challenge, and its id must verify.
        let read = json::parse_object(text.as_bytes())
            .and_then(|o| jsonrpc::challenge_from_json(&o, &STRICT))
            .unwrap_or_else(|e| unreachable!("{text}: {e}"));
        assert_eq!(read, model.challenge(), "{text}");
        assert_eq!(binder(&secret).verify_challenge(&read), Ok(true));
        cases.add(case! { id: format!("challenge-from-json.generated.{n:03}"), description: format!("generated JSON challenge {n}, members shuffled and numbers respelled: request read back as base64url of its JCS form, and the id verifies"), reqs: &JCS_REQS, decision: "E40", op, input: json!({ "text": text, "secretKey": secret }), value: json!({ "params": http_params(&model), "verified": true }) });
    }

    let model = numeric_model();
    let id = model.id.clone();
    let opaque = model.opaque.clone().unwrap_or_default();
    let ok = |params: Value, verified: bool| json!({ "params": params, "verified": verified });
    let ask = |text: String| json!({ "text": text, "secretKey": SECRET });
    // Text of the JSON challenge with `request` and the other members as given.
    let form = |request: &str, rest: &str| {
        format!(
            r#"{{"id":"{id}","realm":"api.example.com","method":"tempo","intent":"charge","expires":"2026-01-29T12:05:00Z","request":{request}{rest}}}"#
        )
    };
    let with_opaque = format!(r#","opaque":"{opaque}""#);
    let canonical = r#"{"amount":"1000","currency":"usd","methodDetails":{"chainId":42431,"fee":1.5,"gas":100},"recipient":"acct_123"}"#;
    // The params of a read whose request (and opaque) are these.
    let params = |request: &str, opaque: Option<&str>| {
        let mut p = http_params(&model);
        let terms = json::parse_object(request.as_bytes()).unwrap_or_else(|e| unreachable!("{e}"));
        p["request"] = Base64Json::encode(&terms).as_str().into();
        match opaque {
            Some(o) => p["opaque"] = o.into(),
            None => {
                if let Some(p) = p.as_object_mut() {
                    p.remove("opaque");
                }
            }
        }
        p
    };
    let reordered = r#"{ "recipient" : "acct_123", "methodDetails": { "gas": 100, "fee": 1.5, "chainId": 42431 },
  "currency": "usd", "amount": "1000" }"#;
    let text = format!(
        r#"{{ "opaque": "{opaque}", "request": {reordered}, "expires": "2026-01-29T12:05:00Z", "intent": "charge", "method": "tempo", "realm": "api.example.com", "id": "{id}" }}"#
    );
    let cheaper = canonical.replace(r#""1000""#, r#""1""#);
    let more_fee = canonical.replace("1.5", "1.51");
    let extra = canonical.replace(r#""recipient""#, r#""memo":"x","recipient""#);
    let other_route = Opaque::encode([("route", "tools/call:delete")])
        .as_str()
        .to_owned();
    let meta = r#","meta":{"route":"tools/call:search"}"#;
    let hand = [
        case! { id: "challenge-from-json.hand.member-order", description: "members and request members in another order, with whitespace: the id still verifies", reqs: &JCS_REQS, decision: "E40", input: ask(text), value: ok(http_params(&model), true) },
        case! { id: "challenge-from-json.hand.number-spelling", description: "numbers of request spelled 4.2431E4, 1.50 and 1e2: the same doubles, the id still verifies", reqs: &JCS_REQS, decision: "E40", input: ask(form(r#"{"amount":"1000","currency":"usd","methodDetails":{"chainId":4.2431E4,"fee":1.50,"gas":1e2},"recipient":"acct_123"}"#, &with_opaque)), value: ok(http_params(&model), true) },
        case! { id: "challenge-from-json.hand.amount-altered", description: "the amount lowered in request: the id no longer verifies", reqs: &["mcp.challenge.id-binding"], input: ask(form(&cheaper, &with_opaque)), value: ok(params(&cheaper, Some(&opaque)), false) },
        case! { id: "challenge-from-json.hand.number-altered", description: "a number of request changed (1.5 to 1.51): the id no longer verifies", reqs: &["mcp.challenge.id-binding"], input: ask(form(&more_fee, &with_opaque)), value: ok(params(&more_fee, Some(&opaque)), false) },
        case! { id: "challenge-from-json.hand.member-added", description: "a member added to request: the id no longer verifies", reqs: &["mcp.challenge.id-binding"], input: ask(form(&extra, &with_opaque)), value: ok(params(&extra, Some(&opaque)), false) },
        case! { id: "challenge-from-json.hand.mppx-meta", description: "mppx's meta (the decoded opaque) instead of opaque: encoded in its place, the id verifies", reqs: &JCS_REQS, decision: "E40", input: ask(form(canonical, meta)), value: ok(http_params(&model), true) },
        case! { id: "challenge-from-json.hand.meta-beside-opaque", description: "meta beside opaque: the bound opaque text wins", decision: "E40", input: ask(form(canonical, &format!(r#"{with_opaque},"meta":{{"route":"tools/call:delete"}}"#))), value: ok(http_params(&model), true) },
        case! { id: "challenge-from-json.hand.meta-altered", description: "meta naming another route: the id no longer verifies", reqs: &["mcp.challenge.id-binding"], decision: "E40", input: ask(form(canonical, r#","meta":{"route":"tools/call:delete"}"#)), value: ok(params(canonical, Some(&other_route)), false) },
        case! { id: "challenge-from-json.hand.opaque-dropped", description: "opaque left out: the id no longer verifies", reqs: &["mcp.challenge.id-binding"], input: ask(form(canonical, "")), value: ok(params(canonical, None), false) },
        case! { id: "challenge-from-json.hand.unknown-member", description: "an unknown member is ignored", input: ask(form(canonical, &format!(r#"{with_opaque},"x-trace":{{"n":1}}"#))), value: ok(http_params(&model), true) },
        case! { id: "challenge-from-json.hand.no-secret", description: "without secretKey only the parameters are read", input: json!({ "text": form(canonical, &with_opaque) }), value: json!({ "params": http_params(&model) }) },
    ];
    for case in hand {
        // Each hand-written expectation must be mpp-core's reading.
        let text = case.input["text"].as_str().unwrap_or_default();
        let read = json::parse_object(text.as_bytes())
            .and_then(|o| jsonrpc::challenge_from_json(&o, &STRICT))
            .unwrap_or_else(|e| unreachable!("{text}: {e}"));
        if let Some(v) = case.value.as_ref().and_then(|v| v.get("verified")) {
            assert_eq!(
                binder(SECRET).verify_challenge(&read).ok(),
                v.as_bool(),
                "{}",
                case.id
            );
        }
        cases.add(Case { op, ..case });
    }

    let without = |name: &str| {
        let mut v = challenge_json_form(&model);
        if let Some(o) = v.as_object_mut() {
            o.remove(name);
        }
        jcs::to_string(&v)
    };
    let set = |name: &str, value: Value| {
        let mut v = challenge_json_form(&model);
        v[name] = value;
        jcs::to_string(&v)
    };
    let wire_request = model.request_wire.clone();
    let mut errors = vec![
        case! { id: "challenge-from-json.error.request-base64url", description: "request as base64url text, not an object", reqs: &["mcp.challenge.request-object"], input: ask(set("request", wire_request.into())), class: "invalid-field", field: "challenge.request" },
        case! { id: "challenge-from-json.error.request-array", description: "request as an array", input: ask(set("request", json!([]))), class: "invalid-field", field: "challenge.request" },
        case! { id: "challenge-from-json.error.meta-not-string-map", description: "meta (with no opaque) holding a number", decision: "E40", input: ask(form(canonical, r#","meta":{"n":1}"#)), class: "invalid-field", field: "challenge.meta" },
        case! { id: "challenge-from-json.error.meta-not-object", description: "meta (with no opaque) that is a string", decision: "E40", input: ask(form(canonical, r#","meta":"route""#)), class: "invalid-field", field: "challenge.meta" },
        case! { id: "challenge-from-json.error.realm-number", description: "realm given as a number", input: ask(set("realm", 7.into())), class: "invalid-field", field: "challenge.realm" },
        case! { id: "challenge-from-json.error.method-uppercase", description: "method Tempo", input: ask(set("method", "Tempo".into())), class: "invalid-method", field: "challenge.method" },
        case! { id: "challenge-from-json.error.expires-not-rfc3339", description: "expires that is not RFC 3339", input: ask(set("expires", "tomorrow".into())), class: "invalid-timestamp", field: "challenge.expires" },
        case! { id: "challenge-from-json.error.duplicate-member", description: "a member given twice", input: ask(form(canonical, &format!(r#"{with_opaque},"id":"other""#))), class: "duplicate-json-key" },
        case! { id: "challenge-from-json.error.not-object", description: "JSON text that is an array", input: ask("[]".into()), class: "expected-json-object" },
    ];
    for name in ["id", "realm", "method", "intent", "request"] {
        errors.push(case! { id: format!("challenge-from-json.error.{name}-missing"), description: format!("no {name}"), reqs: &["mcp.challenge.members"], input: ask(without(name)), class: "missing-field", field: field_name(name) });
    }
    for case in errors {
        cases.add(Case {
            op,
            error: "parse_error",
            ..case
        });
    }
}

fn field_name(name: &str) -> &'static str {
    match name {
        "id" => "challenge.id",
        "realm" => "challenge.realm",
        "method" => "challenge.method",
        "intent" => "challenge.intent",
        _ => "challenge.request",
    }
}

fn random_payload(rng: &mut Rng) -> JsonObject {
    let mut p = JsonObject::new();
    if rng.chance(50) {
        p.insert(
            "preimage".into(),
            values::word(rng, b"0123456789abcdef", 64, 64).into(),
        );
    } else {
        p.insert("type".into(), "transaction".into());
        p.insert(
            "signature".into(),
            format!("0x{}", values::word(rng, b"0123456789abcdef", 64, 64)).into(),
        );
        p.insert("nonce".into(), rng.range(0, 1_000_000).into());
    }
    p
}

fn credentials(cases: &mut Cases, rng: &mut Rng) {
    let reqs = ["mcp.credential.members"];
    for n in 1..=3 {
        let secret = random_secret(rng);
        let model = random_model(rng, &secret);
        let source = rng
            .chance(50)
            .then_some("did:pkh:eip155:4217:0x742d35Cc6634C0532925a3b844Bc9e7595f8fE21");
        let credential = Credential::answer(
            &model.challenge(),
            random_payload(rng),
            source.map(Into::into),
        );
        let form = jsonrpc::credential_to_json(&credential).unwrap_or_else(|e| unreachable!("{e}"));
        cases.add(case! { id: format!("credential-to-json.generated.{n:03}"), description: format!("generated credential {n}: the echo with request as a JSON object, and the payload"), reqs: &reqs, op: CREDENTIAL_TO_JSON, input: json!({ "header": credential.to_header() }), value: Value::Object(form) });
    }
    cases.add(case! { id: "credential-to-json.error.not-base64url", description: "a credential that is not base64url", op: CREDENTIAL_TO_JSON, input: json!({ "header": "Payment !!!" }), error: "parse_error", class: "invalid-base64" });

    let op = CREDENTIAL_FROM_JSON;
    for n in 1..=3 {
        let secret = random_secret(rng);
        let model = random_model(rng, &secret);
        let credential = Credential::answer(&model.challenge(), random_payload(rng), None);
        let form = jsonrpc::credential_to_json(&credential).unwrap_or_else(|e| unreachable!("{e}"));
        let mut text = String::new();
        respelled(rng, &Value::Object(form), &mut text);
        let read = json::parse_value(text.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|v| jsonrpc::credential_from_json(&v, &STRICT).map_err(|e| e.to_string()))
            .unwrap_or_else(|e| unreachable!("{text}: {e}"));
        assert_eq!(read.to_header(), credential.to_header());
        assert_eq!(binder(&secret).verify_challenge(&read.challenge), Ok(true));
        cases.add(case! { id: format!("credential-from-json.generated.{n:03}"), description: format!("generated JSON credential {n}, members shuffled and numbers respelled: its Authorization value, and the echo's id verifies"), reqs: &["mcp.credential.members", "mcp.challenge.request-jcs.client", "mcp.challenge.request-jcs.server"], decision: "E40", op, input: json!({ "text": text, "secretKey": secret }), value: json!({ "header": credential.to_header(), "verified": true }) });
    }

    let base = base_model();
    let credential = Credential::answer(
        &base.challenge(),
        object(json!({ "signature": "0xabc" })),
        None,
    );
    let good = Value::Object(
        jsonrpc::credential_to_json(&credential).unwrap_or_else(|e| unreachable!("{e}")),
    );
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        jcs::to_string(&v)
    };
    let ask = |text: String| json!({ "text": text, "secretKey": SECRET });
    let cheaper = edit(&|v| v["challenge"]["request"]["amount"] = "1".into());
    let altered = jsonrpc::credential_from_json(
        &json::parse_value(cheaper.as_bytes()).unwrap_or_else(|e| unreachable!("{e}")),
        &STRICT,
    )
    .unwrap_or_else(|e| unreachable!("{e}"));
    cases.add(case! { id: "credential-from-json.hand.request-altered", description: "the echoed amount lowered: read, but the id no longer verifies", reqs: &["mcp.challenge.id-binding"], op, input: ask(cheaper), value: json!({ "header": altered.to_header(), "verified": false }) });
    let remove = |path: &'static [&'static str]| {
        edit(&move |v| {
            let (last, parents) = path.split_last().unwrap_or_else(|| unreachable!());
            let mut at = v;
            for p in parents {
                at = &mut at[*p];
            }
            if let Some(o) = at.as_object_mut() {
                o.remove(*last);
            }
        })
    };
    let key = jsonrpc::CREDENTIAL_KEY;
    let errors = [
        case! { id: "credential-from-json.error.not-object", description: "a credential that is a string", input: ask("\"Payment abc\"".into()), class: "invalid-params", field: key },
        case! { id: "credential-from-json.error.challenge-missing", description: "no challenge", input: ask(remove(&["challenge"])), class: "invalid-params", field: "challenge" },
        case! { id: "credential-from-json.error.challenge-array", description: "a challenge that is an array", input: ask(edit(&|v| v["challenge"] = json!([]))), class: "invalid-params", field: "challenge" },
        case! { id: "credential-from-json.error.request-base64url", description: "the echoed request as base64url text", input: ask(edit(&|v| v["challenge"]["request"] = "e30".into())), class: "invalid-params", field: "challenge.request" },
        case! { id: "credential-from-json.error.id-missing", description: "an echo without id", input: ask(remove(&["challenge", "id"])), class: "invalid-params", field: "challenge.id" },
        case! { id: "credential-from-json.error.expires-not-rfc3339", description: "an echoed expires that is not RFC 3339", input: ask(edit(&|v| v["challenge"]["expires"] = "tomorrow".into())), class: "invalid-params", field: "challenge.expires" },
        case! { id: "credential-from-json.error.payload-missing", description: "no payload", input: ask(remove(&["payload"])), class: "invalid-params", field: "payload" },
        case! { id: "credential-from-json.error.payload-string", description: "a payload that is a string", input: ask(edit(&|v| v["payload"] = "0xabc".into())), class: "invalid-params", field: "payload" },
        case! { id: "credential-from-json.error.not-json", description: "text that is not JSON: the whole message is a parse error", input: ask("{\"challenge\":".into()), class: "parse-error" },
        case! { id: "credential-from-json.error.duplicate-member", description: "a member given twice", input: ask(format!("{{\"payload\":{{}},{}", &edit(&|_| {})[1..])), class: "parse-error" },
    ];
    for case in errors {
        cases.add(Case {
            op,
            error: "jsonrpc_error",
            reqs: vec!["mcp.errors.codes"],
            ..case
        });
    }
}

fn find_credential(cases: &mut Cases) {
    let op = FIND;
    let key = jsonrpc::CREDENTIAL_KEY;
    let credential =
        json!({ "challenge": { "id": "kM9xPqWvT2nJ" }, "payload": { "signature": "0xabc" } });
    let other =
        json!({ "challenge": { "id": "kM9xPqWvT2nJ" }, "payload": { "signature": "0xdef" } });
    let call = |params: Value, root_meta: Option<Value>| {
        let mut r = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params });
        if let Some(m) = root_meta {
            r["_meta"] = m;
        }
        json!({ "request": r })
    };
    let meta = |v: &Value| json!({ key: v, "progressToken": 7 });
    let at = |p: &str| json!({ "placement": p });
    let both = ["mcp.credential.both-placements"];
    let list = [
        case! { id: "find-credential.params-meta", description: "in params._meta (MCP), beside other _meta members", reqs: &both, input: call(json!({ "name": "search", "_meta": meta(&credential) }), None), value: at("params._meta") },
        case! { id: "find-credential.root-meta", description: "in the root _meta (plain JSON-RPC)", reqs: &both, input: call(json!({ "name": "search" }), Some(meta(&credential))), value: at("_meta") },
        case! { id: "find-credential.root-meta-array-params", description: "in the root _meta of a request whose params is an array", reqs: &both, input: json!({ "request": { "jsonrpc": "2.0", "id": 2, "method": "eth_call", "params": [1, 2], "_meta": { key: credential } } }), value: at("_meta") },
        case! { id: "find-credential.same-in-both", description: "the same credential in both places counts once", reqs: &both, decision: "E40", input: call(json!({ "_meta": meta(&credential) }), Some(json!({ key: credential }))), value: at("params._meta") },
        case! { id: "find-credential.none", description: "no credential, other _meta members", input: call(json!({ "name": "search", "_meta": { "progressToken": 7 } }), Some(json!({}))), value: at("none") },
        case! { id: "find-credential.no-params", description: "no params at all", input: json!({ "request": { "jsonrpc": "2.0", "id": 3, "method": "ping" } }), value: at("none") },
    ];
    for case in list {
        cases.add(Case { op, ..case });
    }
    let errors = [
        case! { id: "find-credential.error.conflicting", description: "different credentials in params._meta and the root _meta", input: call(json!({ "_meta": { key: credential } }), Some(json!({ key: other }))), field: key },
        case! { id: "find-credential.error.params-meta-not-object", description: "params._meta that is a string", input: call(json!({ "_meta": "x" }), None), field: "params._meta" },
        case! { id: "find-credential.error.root-meta-not-object", description: "a root _meta that is an array", input: call(json!({}), Some(json!([1]))), field: "_meta" },
    ];
    for case in errors {
        cases
            .add(Case {
                op,
                error: "jsonrpc_error",
                class: Some("invalid-params"),
                reqs: vec!["mcp.credential.both-placements", "mcp.errors.codes"],
                ..case
            })
            .decision("E40");
    }
}

fn random_receipt(rng: &mut Rng) -> Receipt {
    let method =
        MethodName::from_string(values::method(rng, false)).unwrap_or_else(|e| unreachable!("{e}"));
    let timestamp = mpp_core::time::Timestamp::from_string(values::random_timestamp(rng))
        .unwrap_or_else(|e| unreachable!("{e}"));
    let reference = format!("0x{}", values::word(rng, b"0123456789abcdef", 16, 64));
    let mut receipt = Receipt::new(method, timestamp, reference);
    if rng.chance(50) {
        receipt
            .extra
            .insert("intent".into(), values::intent(rng).into());
    }
    receipt
}

fn receipts(cases: &mut Cases, rng: &mut Rng) {
    let reqs = ["mcp.receipt.members"];
    for n in 1..=3 {
        let receipt = random_receipt(rng);
        let id = base64::encode(&rng.bytes(32));
        let paid = PaidReceipt {
            receipt: receipt.clone(),
            challenge_id: ChallengeId::from_string(id.clone())
                .unwrap_or_else(|e| unreachable!("{e}")),
        };
        cases.add(case! { id: format!("receipt-to-json.generated.{n:03}"), description: format!("generated receipt {n}: its members and challengeId"), reqs: &reqs, op: RECEIPT_TO_JSON, input: json!({ "header": receipt.to_header(), "challengeId": id }), value: Value::Object(paid.to_json()) });
    }
    cases.add(case! { id: "receipt-to-json.error.status-failed", description: "an HTTP receipt whose status is not success", reqs: &reqs, op: RECEIPT_TO_JSON, input: json!({ "header": base64::encode(br#"{"method":"tempo","reference":"0x1","status":"failed","timestamp":"2026-01-29T12:00:03Z"}"#), "challengeId": "kM9xPqWvT2nJ" }), error: "parse_error", class: "receipt-status", field: "status" });

    let op = RECEIPT_FROM_JSON;
    for n in 1..=2 {
        let receipt = random_receipt(rng);
        let id = base64::encode(&rng.bytes(32));
        let mut form = receipt.to_json();
        form.insert("challengeId".into(), id.clone().into());
        cases.add(case! { id: format!("receipt-from-json.generated.{n:03}"), description: format!("generated JSON receipt {n}: its Payment-Receipt value without challengeId, and challengeId"), reqs: &reqs, op, input: json!({ "receipt": form }), value: json!({ "header": receipt.to_header(), "challengeId": id }) });
    }
    let base = json!({ "status": "success", "method": "tempo", "timestamp": "2026-01-29T12:00:03Z", "reference": "0x3f1a9c", "challengeId": "kM9xPqWvT2nJ" });
    let edit = |name: &str, value: Option<Value>| {
        let mut v = base.clone();
        match (value, v.as_object_mut()) {
            (Some(x), _) => v[name] = x,
            (None, Some(o)) => {
                o.remove(name);
            }
            (None, None) => {}
        }
        json!({ "receipt": v })
    };
    let errors = [
        case! { id: "receipt-from-json.error.challenge-id-missing", description: "no challengeId", input: edit("challengeId", None), class: "missing-field", field: "challengeId" },
        case! { id: "receipt-from-json.error.challenge-id-number", description: "challengeId given as a number", input: edit("challengeId", Some(7.into())), class: "invalid-field", field: "challengeId" },
        case! { id: "receipt-from-json.error.status-failed", description: "status failed", input: edit("status", Some("failed".into())), class: "receipt-status", field: "status" },
        case! { id: "receipt-from-json.error.method-missing", description: "no method", input: edit("method", None), class: "missing-field", field: "method" },
        case! { id: "receipt-from-json.error.not-object", description: "a receipt that is a string", input: json!({ "receipt": "eyJzdGF0dXMiOiJzdWNjZXNzIn0" }), class: "expected-json-object" },
    ];
    for case in errors {
        cases.add(Case {
            op,
            error: "parse_error",
            reqs: vec!["mcp.receipt.members"],
            ..case
        });
    }
}

fn payment_required(cases: &mut Cases) {
    let op = PAYMENT_REQUIRED;
    let base = base_model();
    let numeric = numeric_model();
    let forms = [challenge_json_form(&base), challenge_json_form(&numeric)];
    let abi = [
        base.abi(true, &base.request),
        numeric.abi(true, &numeric.request),
    ];
    let error = |code: i64, data: Value| json!({ "response": { "jsonrpc": "2.0", "id": 1, "error": { "code": code, "message": "Payment Required", "data": data } } });
    let problem = |slug: &str| format!("https://paymentauth.org/problems/{slug}");
    let read = |code: Option<i64>, refused: bool, challenges: Value, skipped: Value| {
        let mut v = json!({ "paymentRequired": true, "refused": refused, "challenges": challenges, "skipped": skipped });
        match code {
            Some(c) => {
                v["signal"] = "error".into();
                v["code"] = c.into();
            }
            None => v["signal"] = "result-meta".into(),
        }
        v
    };
    let with = |mut v: Value, name: &str, member: Value| {
        v[name] = member;
        v
    };
    let both = json!([forms[0], forms[1]]);
    let none = json!({ "paymentRequired": false });
    let failure =
        json!({ "reason": "signature-invalid", "detail": "Signature verification failed" });
    let list = [
        case! { id: "payment-required.two-challenges", description: "-32042 with two challenges, alternatives in the server's order", reqs: &["mcp.challenge.code", "mcp.challenge.list"], input: error(-32042, json!({ "httpStatus": 402, "challenges": both })), value: read(Some(-32042), false, json!(abi), json!([])) },
        case! { id: "payment-required.problem", description: "-32042 with the payment-required problem: not a refusal", reqs: &["mcp.challenge.code"], input: error(-32042, json!({ "httpStatus": 402, "challenges": [forms[0]], "problem": { "type": problem("payment-required"), "title": "Payment Required", "status": 402 } })), value: with(read(Some(-32042), false, json!([abi[0]]), json!([])), "problem", problem("payment-required").into()) },
        case! { id: "payment-required.verification-failed", description: "-32043 with fresh challenges and failure: a refusal", reqs: &["mcp.errors.verification-failed", "mcp.errors.retry.client"], input: error(-32043, json!({ "httpStatus": 402, "challenges": [forms[1]], "failure": failure })), value: with(read(Some(-32043), true, json!([abi[1]]), json!([])), "failure", failure.clone()) },
        case! { id: "payment-required.sdk-refusal", description: "-32042 with a verification-failed problem, as the SDKs refuse: a refusal", reqs: &["mcp.errors.retry.client"], decision: "E40", input: error(-32042, json!({ "httpStatus": 402, "challenges": [forms[0]], "problem": { "type": problem("verification-failed"), "title": "Payment Verification Failed", "status": 402 } })), value: with(read(Some(-32042), true, json!([abi[0]]), json!([])), "problem", problem("verification-failed").into()) },
        case! { id: "payment-required.mppx-tool-result", description: "mppx's tool result carrying the challenges in _meta", decision: "E40", input: json!({ "response": { "jsonrpc": "2.0", "id": 1, "result": { "content": [], "isError": true, "_meta": { jsonrpc::PAYMENT_REQUIRED_KEY: { "httpStatus": 402, "challenges": [forms[0]] } } } } }), value: read(None, false, json!([abi[0]]), json!([])) },
        case! { id: "payment-required.skipped-entries", description: "malformed entries are skipped, the good one kept", decision: "E40", input: error(-32042, json!({ "httpStatus": 402, "challenges": [7, { "id": "a" }, forms[0]] })), value: read(Some(-32042), false, json!([abi[0]]), json!([0, 1])) },
        case! { id: "payment-required.url-elicitation", description: "-32042 without challenges is MCP's URL elicitation, not payment", decision: "E40", input: error(-32042, json!({ "elicitations": [] })), value: none.clone() },
        case! { id: "payment-required.other-error", description: "another error code", input: json!({ "response": { "jsonrpc": "2.0", "id": 1, "error": { "code": -32601, "message": "Method not found" } } }), value: none.clone() },
        case! { id: "payment-required.success", description: "a successful result without payment data", input: json!({ "response": { "jsonrpc": "2.0", "id": 1, "result": { "content": [] } } }), value: none },
    ];
    for case in list {
        cases.add(Case { op, ..case });
    }
    let errors = [
        case! { id: "payment-required.error.empty-challenges", description: "an empty challenges list", input: error(-32042, json!({ "challenges": [] })), field: "challenges" },
        case! { id: "payment-required.error.challenges-object", description: "challenges that is an object", input: error(-32042, json!({ "challenges": {} })), field: "challenges" },
        case! { id: "payment-required.error.no-data", description: "-32043 without data", input: json!({ "response": { "jsonrpc": "2.0", "id": 1, "error": { "code": -32043, "message": "Payment Verification Failed" } } }), field: "data" },
        case! { id: "payment-required.error.problem-number", description: "a problem that is a number", input: error(-32042, json!({ "challenges": [forms[0]], "problem": 1 })), field: "problem" },
        case! { id: "payment-required.error.failure-reason-number", description: "a failure reason that is a number", input: error(-32043, json!({ "challenges": [forms[0]], "failure": { "reason": 3 } })), field: "reason" },
    ];
    for case in errors {
        cases.add(Case {
            op,
            error: "parse_error",
            class: Some("invalid-field"),
            ..case
        });
    }
}
