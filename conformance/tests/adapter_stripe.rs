//! The adapter's `stripe.external_id_binding`: the receipt a server sends once Stripe
//! answered, or why it sends none.

use conformance::adapter;
use mpp_core::time::UnixTime;
use serde_json::{Value, json};

const NOW: i64 = 1_769_688_000; // 2026-01-29T12:00:00Z

fn call(input: Value) -> Value {
    let request = json!({ "schema": 1, "op": "stripe.external_id_binding", "input": input });
    let line = adapter::handle(&request.to_string(), UnixTime::from_secs(NOW));
    assert!(!line.contains("null"), "never emits null: {line}");
    serde_json::from_str(&line).unwrap()
}

fn request(external_id: Option<&str>) -> Value {
    let mut request = json!({
        "amount": "500",
        "currency": "usd",
        "methodDetails": {"networkId": "net_1", "paymentMethodTypes": ["card"]},
    });
    if let Some(id) = external_id {
        request["externalId"] = id.into();
    }
    request
}

fn input(external_id: Option<&str>, payload: Value, status: &str) -> Value {
    json!({
        "request": request(external_id),
        "payload": payload,
        "paymentIntent": {"id": "pi_123", "status": status},
    })
}

#[test]
fn a_succeeded_payment_intent_gives_the_receipt_with_the_requests_external_id() {
    let out = call(input(
        Some("order_1"),
        json!({"spt": "spt_abc", "externalId": "order_1"}),
        "succeeded",
    ));
    assert_eq!(
        out["value"],
        json!({"ok": true, "receipt": {
            "method": "stripe", "status": "success", "timestamp": "2026-01-29T12:00:00Z",
            "reference": "pi_123", "externalId": "order_1",
        }})
    );
    // Without a bound id, the payload's is never echoed.
    let out = call(input(
        None,
        json!({"spt": "spt_abc", "externalId": "mine"}),
        "succeeded",
    ));
    assert_eq!(out["value"]["receipt"].get("externalId"), None);
    // A replayed answer is the same PaymentIntent: granted to the retry.
    let mut replayed = input(None, json!({"spt": "spt_abc"}), "succeeded");
    replayed["paymentIntent"]["replayed"] = true.into();
    assert_eq!(call(replayed)["value"]["ok"], true);
}

#[test]
fn a_payload_for_another_external_id_is_for_another_challenge() {
    for payload in [
        json!({"spt": "spt_abc"}),
        json!({"spt": "spt_abc", "externalId": "order_2"}),
    ] {
        let out = call(input(Some("order_1"), payload, "succeeded"));
        assert_eq!(
            out["value"],
            json!({"ok": false, "errorType": "invalid_challenge"})
        );
    }
}

#[test]
fn a_payment_intent_that_did_not_succeed_fails_verification() {
    for status in [
        "requires_action",
        "processing",
        "canceled",
        "requires_payment_method",
    ] {
        let out = call(input(None, json!({"spt": "spt_abc"}), status));
        assert_eq!(
            out["value"],
            json!({"ok": false, "errorType": "verification_failed"}),
            "{status}"
        );
    }
}

#[test]
fn unusable_input_is_an_invalid_request() {
    for bad in [
        json!({"request": {}, "payload": {"spt": "spt_a"}, "paymentIntent": {"id": "pi_1", "status": "succeeded"}}),
        json!({"request": request(None), "payload": {"spt": "tok"}, "paymentIntent": {"id": "pi_1", "status": "succeeded"}}),
        json!({"request": request(None), "payload": {"spt": "spt_a"}}),
        json!({"request": request(None), "payload": {"spt": "spt_a"}, "paymentIntent": {"status": "succeeded"}}),
    ] {
        let out = call(bad.clone());
        assert_eq!(out["ok"], false, "{bad}");
        assert_eq!(out["error"]["type"], "invalid_request", "{bad}");
    }
}
