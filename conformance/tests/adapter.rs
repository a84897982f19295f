//! The cross-SDK adapter answers every operation of the ABI with the documented
//! shapes, and the binary speaks it over stdin/stdout.

use std::io::Write;
use std::process::{Command, Stdio};

use conformance::adapter::{self, OPERATIONS};
use mpp_core::time::UnixTime;
use serde_json::{Value, json};

const SECRET: &str = "minimum-32-byte-secret-for-tests!";
const NOW: i64 = 1_769_688_000; // 2026-01-29T12:00:00Z

fn call(op: &str, input: Value) -> Value {
    call_at(op, input, json!({}))
}

fn call_at(op: &str, input: Value, context: Value) -> Value {
    let request = json!({ "schema": 1, "op": op, "input": input, "context": context });
    let line = adapter::handle(&request.to_string(), UnixTime::from_secs(NOW));
    assert!(!line.contains('\n'));
    assert!(!line.contains("null"), "never emits null: {line}");
    serde_json::from_str(&line).unwrap()
}

fn ok(op: &str, input: Value) -> Value {
    let out = call(op, input);
    assert_eq!(out["ok"], true, "{op}: {out}");
    out["value"].clone()
}

fn error_type(out: &Value) -> &str {
    assert_eq!(out["ok"], false, "{out}");
    out["error"]["type"].as_str().unwrap()
}

fn route() -> Value {
    json!({
        "secretKey": SECRET,
        "realm": "api.example.com",
        "method": "tempo",
        "intent": "charge",
        "request": {"amount": "1000", "currency": "usd", "recipient": "acct_123"},
        "expires": "2026-01-29T12:05:00Z",
    })
}

/// A challenge issued for `route()`, as the ABI's challenge object.
fn issued() -> Value {
    let mut challenge = route();
    let id = ok("challenge.id", challenge.clone())["id"].clone();
    let c = challenge.as_object_mut().unwrap();
    c.remove("secretKey");
    c.insert("id".into(), id);
    challenge
}

#[test]
fn every_listed_operation_is_answered() {
    let description: Value = serde_json::from_str(include_str!("../adapter.json")).unwrap();
    for op in description["capabilities"].as_array().unwrap() {
        let op = op.as_str().unwrap();
        assert!(OPERATIONS.contains(&op), "{op}");
        let out = call(op, json!({}));
        if out["ok"] == false {
            assert_ne!(error_type(&out), "unsupported_operation", "{op}");
        }
    }
    assert_eq!(
        error_type(&call("challenge.verify", json!({}))),
        "unsupported_operation"
    );
}

#[test]
fn malformed_requests_still_get_one_json_line() {
    let line = adapter::handle("not json", UnixTime::from_secs(NOW));
    assert_eq!(
        error_type(&serde_json::from_str(&line).unwrap()),
        "invalid_request"
    );
    let line = adapter::handle(
        r#"{"schema":2,"op":"challenge.parse"}"#,
        UnixTime::from_secs(NOW),
    );
    assert_eq!(
        error_type(&serde_json::from_str(&line).unwrap()),
        "unsupported_schema"
    );
}

#[test]
fn challenge_parse_and_format() {
    // req: core.challenge.id.reject-empty core.challenge.method.lowercase
    let challenge = issued();
    let mut with_extras = challenge.clone();
    with_extras["description"] = json!("One \"call\" — café");
    with_extras["opaque"] = json!("eyJrIjoidiJ9");
    with_extras["header"] = json!("Payment-Authorization");
    let header = ok("challenge.format", with_extras.clone())["header"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(header.starts_with("Payment id=\""), "{header}");
    assert_eq!(
        ok("challenge.parse", json!({ "header": header })),
        with_extras
    );
    assert_eq!(
        ok(
            "challenge.parse",
            json!({ "header": format!("Bearer x=\"y\", {header}") })
        )["id"],
        challenge["id"]
    );

    for bad in [
        "Payment",
        "Payment id=\"\"",
        "Bearer x=y",
        "Payment id=\"a\" realm=\"b\"",
    ] {
        assert_eq!(
            error_type(&call("challenge.parse", json!({ "header": bad }))),
            "parse_error",
            "{bad}"
        );
    }
    let mut crlf = challenge.clone();
    crlf["description"] = json!("a\r\nInjected: 1");
    assert_eq!(error_type(&call("challenge.format", crlf)), "format_error");
    let mut bad_method = challenge;
    bad_method["method"] = json!("Tempo");
    assert_eq!(
        error_type(&call("challenge.format", bad_method)),
        "format_error"
    );
}

#[test]
fn credential_parse_and_format() {
    // req: core.credential.structure
    let mut echo = issued();
    echo["description"] = json!("shown, not echoed by the ABI");
    let credential =
        json!({ "challenge": echo, "payload": {"preimage": "abc"}, "source": "did:key:z6Mk" });
    let header = ok("credential.format", credential.clone())["header"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(header.starts_with("Payment "));
    let parsed = ok("credential.parse", json!({ "header": header }));
    let mut expected = credential;
    expected["challenge"]
        .as_object_mut()
        .unwrap()
        .remove("description");
    assert_eq!(parsed, expected);
    for bad in ["Bearer abc", "Payment !!!", "Payment W10", "Payment e30"] {
        assert_eq!(
            error_type(&call("credential.parse", json!({ "header": bad }))),
            "parse_error",
            "{bad}"
        );
    }
    assert_eq!(
        error_type(&call("credential.format", json!({ "payload": {} }))),
        "format_error"
    );
}

#[test]
fn receipt_parse_and_format() {
    // req: core.receipt.status-success
    let receipt = json!({"status": "success", "method": "tempo", "timestamp": "2026-01-29T12:00:00Z", "reference": "0xabc", "chainId": 4217});
    let header = ok("receipt.format", receipt.clone())["header"].clone();
    assert_eq!(ok("receipt.parse", json!({ "header": header })), receipt);
    let mut failed = receipt;
    failed["status"] = json!("failed");
    assert_eq!(error_type(&call("receipt.format", failed)), "format_error");
    assert_eq!(
        error_type(&call("receipt.parse", json!({ "header": "e30" }))),
        "parse_error"
    );
}

#[test]
fn base64url() {
    assert_eq!(
        ok("base64url.encode", json!({ "text": "héllo?>" })),
        json!({ "text": "aMOpbGxvPz4" })
    );
    assert_eq!(
        ok("base64url.decode", json!({ "text": "aMOpbGxvPz4" })),
        json!({ "text": "héllo?>" })
    );
    for bad in ["not-valid!!!", "_w", "a"] {
        assert_eq!(
            error_type(&call("base64url.decode", json!({ "text": bad }))),
            "encoding_error",
            "{bad}"
        );
    }
}

#[test]
fn challenge_id_follows_the_binding_recipe() {
    // req: core.binding.header.bound core.binding.hmac.recipe
    let id = ok("challenge.id", route())["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 43);
    let mut with_header = route();
    with_header["header"] = json!("Payment-Authorization");
    assert_ne!(ok("challenge.id", with_header)["id"], json!(id));
    // Raw opaque text is bound as given, even when it is not base64url JSON.
    let mut raw_opaque = route();
    raw_opaque["opaque"] = json!("trace-123");
    assert_ne!(ok("challenge.id", raw_opaque)["id"], json!(id));
    let mut short = route();
    short["secretKey"] = json!("short");
    assert_eq!(error_type(&call("challenge.id", short)), "generation_error");
    let mut pipe = route();
    pipe["realm"] = json!("a|b");
    assert_eq!(error_type(&call("challenge.id", pipe)), "generation_error");
    let mut header = route();
    header["header"] = json!("Cookie");
    assert_eq!(
        error_type(&call("challenge.id", header)),
        "generation_error"
    );
}

fn verify(credential: Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut input = route();
    input["credential"] = credential;
    edit(&mut input);
    ok("server.verify", input)
}

#[test]
fn server_verify_covers_each_outcome() {
    // req: core.binding.echo-mismatch core.binding.verify charge.verify.amount charge.verify.expiry
    let credential = json!({ "challenge": issued(), "payload": {"preimage": "abc"} });
    let granted = verify(credential.clone(), |_| {});
    assert_eq!(granted["ok"], true);
    assert_eq!(
        granted["receipt"],
        json!({"status": "success", "timestamp": "2026-01-29T12:00:00Z", "reference": "conformance-receipt", "method": "tempo"})
    );

    let verdict = |v: Value| v["errorType"].as_str().unwrap().to_owned();
    let mut tampered = credential.clone();
    tampered["challenge"]["request"]["amount"] = json!("1");
    assert_eq!(verdict(verify(tampered, |_| {})), "invalid_challenge");
    // A genuine challenge for another price does not pay for this route.
    assert_eq!(
        verdict(verify(credential.clone(), |i| i["request"]["amount"] =
            json!("5000"))),
        "invalid_challenge"
    );
    let mut no_expires = credential.clone();
    no_expires["challenge"]
        .as_object_mut()
        .unwrap()
        .remove("expires");
    assert_eq!(verdict(verify(no_expires, |_| {})), "invalid_challenge");
    let mut wrong_key = route();
    wrong_key["secretKey"] = json!("another-secret-of-at-least-32-bytes!!");
    assert_eq!(
        verdict(verify(credential.clone(), |i| i["secretKey"] =
            wrong_key["secretKey"].clone())),
        "invalid_challenge"
    );
    assert_eq!(
        verdict(verify(credential.clone(), |i| i["verificationError"] =
            json!("bad proof"))),
        "verification_failed"
    );
    assert_eq!(
        verdict(verify(json!({ "challenge": issued() }), |_| {})),
        "malformed_credential"
    );

    let mut input = route();
    input["credential"] = credential.clone();
    let later = call_at(
        "server.verify",
        input.clone(),
        json!({ "now": "2026-01-29T12:05:00Z" }),
    );
    assert_eq!(
        later["value"]["errorType"], "payment_expired",
        "expired when now == expires"
    );
    let earlier = call_at("server.verify", input, json!({ "now": NOW + 299 }));
    assert_eq!(earlier["value"]["ok"], true);

    // Short secrets are accepted here, and only here.
    let mut short = route();
    short["secretKey"] = json!("test-secret");
    let mut challenge = issued();
    let mut id_input = short.clone();
    id_input["secretKey"] = json!("test-secret");
    assert_eq!(
        error_type(&call("challenge.id", id_input)),
        "generation_error"
    );
    challenge["id"] = json!("not-the-tag");
    short["credential"] = json!({ "challenge": challenge, "payload": {} });
    assert_eq!(ok("server.verify", short)["errorType"], "invalid_challenge");
}

#[test]
fn the_binary_reads_one_request_and_prints_one_line() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mpp-conformance"))
        .arg("adapter")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let request = json!({"schema": 1, "op": "base64url.encode", "input": {"text": "hi"}});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "{\"ok\":true,\"value\":{\"text\":\"aGk\"}}\n"
    );
}

fn error_of(out: &Value) -> &Value {
    assert_eq!(out["ok"], false, "{out}");
    &out["error"]
}

#[test]
fn parse_errors_carry_their_class_parameter_and_field() {
    // req: core.challenge.required-params core.grammar.param.unique
    let missing = call(
        "challenge.parse",
        json!({ "header": "Payment id=\"a\", method=\"tempo\", intent=\"charge\", request=\"e30\"" }),
    );
    let e = error_of(&missing);
    assert_eq!(e["type"], "parse_error");
    assert_eq!(e["class"], "missing-parameter");
    assert_eq!(e["parameter"], "realm");
    assert!(e.get("field").is_none(), "{e}");
    assert!(e["message"].as_str().unwrap().contains("realm"));

    let duplicate = call(
        "challenge.parse",
        json!({ "header": "Payment id=\"a\", ID=\"b\", realm=\"r\", method=\"tempo\", intent=\"charge\", request=\"e30\"" }),
    );
    assert_eq!(error_of(&duplicate)["class"], "duplicate-parameter");
    assert_eq!(error_of(&duplicate)["parameter"], "id");

    let request = call(
        "challenge.parse",
        json!({ "header": "Payment id=\"a\", realm=\"r\", method=\"tempo\", intent=\"charge\", request=\"W10\"" }),
    );
    assert_eq!(error_of(&request)["class"], "expected-json-object");
    assert_eq!(error_of(&request)["field"], "request");

    let no_id = call(
        "credential.parse",
        json!({ "header": format!("Payment {}", mpp_core::base64::encode(br#"{"challenge":{},"payload":{}}"#)) }),
    );
    assert_eq!(error_of(&no_id)["class"], "missing-field");
    assert_eq!(error_of(&no_id)["field"], "challenge.id");

    let short = call("challenge.id", {
        let mut r = route();
        r["secretKey"] = json!("short");
        r
    });
    assert_eq!(error_of(&short)["type"], "generation_error");
    assert_eq!(error_of(&short)["class"], "weak-secret");

    let crlf = call("challenge.format", {
        let mut c = issued();
        c["description"] = json!("a\r\nb");
        c
    });
    assert_eq!(error_of(&crlf)["class"], "control-character");
    assert_eq!(error_of(&crlf)["parameter"], "description");

    let mut echo = issued();
    echo["method"] = json!("Tempo");
    let format = call(
        "credential.format",
        json!({ "challenge": echo, "payload": {} }),
    );
    assert_eq!(error_of(&format)["class"], "invalid-method");
    assert_eq!(error_of(&format)["field"], "challenge.method");

    let decode = call("base64url.decode", json!({ "text": "Zh" }));
    assert_eq!(error_of(&decode)["class"], "non-canonical-base64");
}

#[test]
fn parse_all_reports_each_payment_challenge() {
    // req: core.grammar.challenge.list
    let good = ok("challenge.format", issued())["header"]
        .as_str()
        .unwrap()
        .to_owned();
    let header = format!(
        "Bearer realm=\"x\", Payment id=\"\", realm=\"r\", method=\"tempo\", intent=\"charge\", request=\"e30\", {good}, NTLM"
    );
    let all = ok("challenge.parse-all", json!({ "header": header }));
    let list = all["challenges"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["ok"], false);
    assert_eq!(list[0]["error"]["class"], "empty-parameter");
    assert_eq!(list[1], json!({ "ok": true, "value": issued() }));
    assert_eq!(
        ok(
            "challenge.parse-all",
            json!({ "header": "Basic realm=\"x\"" })
        ),
        json!({ "challenges": [] })
    );
}

#[test]
fn jcs_canonicalizes_json_text() {
    // req: core.challenge.request.jcs
    assert_eq!(
        ok(
            "jcs.canonicalize",
            json!({ "text": "{\"b\": [1.0, 1E30, \"\\u20ac\"], \"a\": true}" })
        ),
        json!({ "text": "{\"a\":true,\"b\":[1,1e+30,\"€\"]}" })
    );
    let dup = call("jcs.canonicalize", json!({ "text": "{\"a\":1,\"a\":2}" }));
    assert_eq!(error_of(&dup)["class"], "duplicate-json-key");
}

#[test]
fn digests_are_computed_and_checked_over_bytes() {
    // req: core.digest.verify
    let body = mpp_core::base64::encode(br#"{"hello": "world"}"#);
    let digest = ok("digest.compute", json!({ "body": body }))["digest"].clone();
    assert_eq!(
        digest,
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    );
    assert_eq!(
        ok("digest.verify", json!({ "digest": digest, "body": body })),
        json!({ "matches": true })
    );
    assert_eq!(
        ok(
            "digest.verify",
            json!({ "digest": digest, "body": mpp_core::base64::encode(&[0xff, 0]) })
        ),
        json!({ "matches": false })
    );
    let sha512 = ok(
        "digest.compute",
        json!({ "body": "", "algorithm": "sha-512" }),
    );
    assert!(sha512["digest"].as_str().unwrap().starts_with("sha-512=:"));
    let md5 = call(
        "digest.verify",
        json!({ "digest": "md5=:AAAA:", "body": "" }),
    );
    assert_eq!(error_of(&md5)["class"], "unsupported-digest-algorithm");
}

#[test]
fn accept_rank_keeps_offers_best_first() {
    // req: core.accept-payment.filter core.accept-payment.order core.accept-payment.ties
    let offers = json!([
        {"method": "stripe", "intent": "charge"},
        {"method": "solana", "intent": "charge"},
        {"method": "tempo", "intent": "charge"},
    ]);
    assert_eq!(
        ok(
            "accept.rank",
            json!({ "header": "tempo/*, solana/*;q=0.6, */session;q=0.3", "offers": offers })
        ),
        json!({ "offers": [{"method": "tempo", "intent": "charge"}, {"method": "solana", "intent": "charge"}] })
    );
    let bad = call(
        "accept.rank",
        json!({ "header": "tempo/charge;q=2", "offers": offers }),
    );
    assert_eq!(error_of(&bad)["class"], "invalid-weight");
}

#[test]
fn problem_describe_knows_every_slug() {
    // req: core.errors.problem-type
    assert_eq!(
        ok("problem.describe", json!({ "slug": "payment-expired" })),
        json!({ "type": "https://paymentauth.org/problems/payment-expired", "title": "Payment Expired", "status": 402 })
    );
    assert_eq!(
        error_of(&call("problem.describe", json!({ "slug": "nope" })))["type"],
        "not_found"
    );
}

fn sequence(steps: Value) -> Vec<String> {
    let mut input = route();
    input["description"] = json!("One call");
    input["steps"] = steps;
    ok("charge.sequence", input)["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn charge_sequence_follows_the_documented_rules() {
    // req: core.replay.single-use-proof charge.replay.id-single-use core.errors.payment-expired core.challenge.description.not-verified
    let at = |s: &str| json!({ "now": s, "proof": "valid" });
    assert_eq!(
        sequence(json!([
            at("2026-01-29T12:00:10Z"),
            at("2026-01-29T12:00:11Z")
        ])),
        ["granted", "invalid_challenge"]
    );
    // A bad proof uses the challenge up (D9).
    assert_eq!(
        sequence(json!([
            {"now": NOW, "proof": "invalid"},
            {"now": NOW + 1, "proof": "valid"},
        ])),
        ["verification_failed", "invalid_challenge"]
    );
    // Tampered and malformed echoes do not use it.
    assert_eq!(
        sequence(json!([
            {"now": NOW, "proof": "valid", "set": {"realm": "other.example"}},
            {"now": NOW, "proof": "valid", "remove": ["id"]},
            {"now": NOW, "proof": "valid", "set": {"description": "changed"}},
        ])),
        ["invalid_challenge", "malformed_credential", "granted"]
    );
    // Expired at the instant expires names (D8).
    assert_eq!(
        sequence(json!([
            at("2026-01-29T12:04:59Z"),
            at("2026-01-29T12:05:00Z")
        ])),
        ["granted", "payment_expired"]
    );
    assert_eq!(
        sequence(json!([at("2026-01-29T12:05:00Z")])),
        ["payment_expired"]
    );
    let bad = call("charge.sequence", {
        let mut r = route();
        r["steps"] = json!([{"now": NOW, "proof": "maybe"}]);
        r
    });
    assert_eq!(error_of(&bad)["type"], "invalid_request");
}
