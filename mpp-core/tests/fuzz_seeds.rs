//! Writes the inputs of these tests as seed corpora for the fuzz targets when
//! `MPP_FUZZ_SEEDS` names a directory (`.ci/run` and `fuzz/README.md` do this);
//! otherwise checks that every seed still parses the way the fuzz oracles expect.

mod common;

use std::path::Path;

use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::receipt::Receipt;
use mpp_core::time::Timestamp;
use serde_json::{Value, json};

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let typical = common::typical_challenge();
    let challenge = Challenge::parse(typical.as_bytes()).unwrap().into_owned();
    let mut payload = JsonObject::new();
    payload.insert("preimage".into(), "00ff".into());
    let answered = Credential::answer(&challenge, payload, Some("did:key:z6Mk".into()));
    let credential = answered.to_header();
    let receipt = Receipt::new(
        "tempo".to_string().try_into().unwrap(),
        Timestamp::new("2026-01-29T12:00:00.5+01:00")
            .unwrap()
            .into_owned(),
        "0xabc",
    )
    .to_header();
    let mut out = vec![];
    for h in [
        typical.clone(),
        common::challenge(),
        common::challenge_with(
            r#", description="a \"q\" caf\u00e9 \ud83d\ude00", header="Payment-Authorization", x-ext=tok"#,
        ),
        common::challenge_with(
            r#", digest="sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", opaque="eyJrIjoidiJ9""#,
        ),
        format!(r#"Bearer realm="x, Payment id=1", {typical}, Basic dXNlcjpwYXNz==, NTLM"#),
        r#"Payment id="a" realm="b""#.into(),
        format!("{typical}, ext=\"{}", "\\".repeat(64)),
        "payment ID=a, REALM=b, Method=tempo, intent=charge, request=e30".into(),
    ] {
        out.push(("www_authenticate", h.into_bytes()));
    }
    out.push(("credential", credential.into_bytes()));
    out.push(("credential", b"Payment W10".to_vec()));
    out.push(("receipt", receipt.into_bytes()));
    for a in [
        "tempo/charge, tempo/session;q=0, stripe/*;q=0.5, */*;q=0.001",
        "*/*",
        "a/b;Q=1.000",
    ] {
        out.push(("accept_payment", a.as_bytes().to_vec()));
    }
    for j in [
        r#"{"b":[1,2.5,-0,1e21,1e-7,"\u20ac$\u000f\nA'B\"\\\\\"/"],"a":{"\u00f6":true,"\ud83d\ude00":null}}"#,
        r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001]}"#,
        "[]",
        r#"{"a":1,"a":2}"#,
    ] {
        out.push(("jcs", j.as_bytes().to_vec()));
    }
    // JSON-RPC: a paid request (credential in params._meta, then at the root), an
    // unpaid answer, a paid answer, and a batch.
    let json_credential = Value::Object(mpp_core::jsonrpc::credential_to_json(&answered).unwrap());
    let json_challenge = Value::Object(mpp_core::jsonrpc::challenge_to_json(&challenge).unwrap());
    for m in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "t",
            "_meta": {"org.paymentauth/credential": json_credential}}}),
        json!({"jsonrpc": "2.0", "id": "a", "method": "m", "params": [1],
            "_meta": {"org.paymentauth/credential": json_credential}}),
        json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32042, "message": "Payment Required",
            "data": {"httpStatus": 402, "challenges": [json_challenge]}}}),
        json!({"jsonrpc": "2.0", "id": 1, "result": {"_meta": {"org.paymentauth/receipt": {
            "status": "success", "method": "tempo", "timestamp": "2026-01-29T12:00:00Z",
            "reference": "0xabc", "challengeId": "abc"}}}}),
        json!([{"jsonrpc": "2.0", "method": "n"}, {"jsonrpc": "2.0", "id": null, "method": "m"}]),
    ] {
        out.push(("jsonrpc", m.to_string().into_bytes()));
    }
    out
}

#[test]
fn seeds_are_valid_or_exported() {
    let seeds = seeds();
    assert!(
        seeds
            .iter()
            .filter(|(t, _)| *t == "www_authenticate")
            .count()
            >= 5
    );
    let Some(dir) = std::env::var_os("MPP_FUZZ_SEEDS") else {
        return;
    };
    for (i, (target, bytes)) in seeds.iter().enumerate() {
        let dir = Path::new(&dir).join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{i:03}")), bytes).unwrap();
    }
}
