//! The JSON-RPC paywall end to end through `JsonRpcService`: the draft's error
//! shapes and codes, both credential placements, receipts exactly when paid,
//! single use, operation and argument binding, notifications and batches, and
//! bad input answered with JSON-RPC's own errors, never a charge.

mod common;
mod toy_session;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use mpp_core::ParseOptions;
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, Placement};
use mpp_core::time::ManualClock;
use mpp_methods::token::Token;
use mpp_server::jsonrpc::{JsonRpcHandler, MAX_BATCH, RpcCall, RpcResult, method_not_found};
use mpp_server::{JsonRpcService, PaywallLayer, PricedCall};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The paywall under test and what its handler saw.
struct Rpc {
    service: JsonRpcService<Counting>,
    runs: Arc<AtomicUsize>,
    layer: PaywallLayer,
}

/// The handler: counts the paid calls it serves.
struct Counting(Arc<AtomicUsize>);

impl JsonRpcHandler for Counting {
    fn call(
        &self,
        call: RpcCall,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = RpcResult> + Send + '_>> {
        Box::pin(async move {
            if call.payment.is_some() {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
            match call.method.as_str() {
                "paid_fails" => Err(method_not_found("paid_fails")),
                "paid" | "free" | "tools/call" => Ok(json!({"ok": true})),
                other => Err(method_not_found(other)),
            }
        })
    }
}

fn priced() -> Vec<PricedCall> {
    vec![
        PricedCall::method("paid").offer(preimage_offer()),
        PricedCall::method("paid_fails").offer(preimage_offer()),
        PricedCall::tool("weather")
            .offer(preimage_offer())
            .bind_arguments(),
        PricedCall::tool("other").offer(preimage_offer()),
    ]
}

impl Rpc {
    fn new(clock: &ManualClock) -> Rpc {
        let mut builder = builder(clock);
        for call in priced() {
            builder = builder.call(call);
        }
        Rpc::from_layer(builder.build().expect("paywall"))
    }

    fn from_layer(layer: PaywallLayer) -> Rpc {
        let runs = Arc::new(AtomicUsize::new(0));
        Rpc {
            service: layer.jsonrpc().service(Counting(runs.clone())),
            runs,
            layer,
        }
    }

    /// POSTs `body`: the HTTP status and the parsed answer (`Null` when empty).
    async fn post(&self, body: impl Into<Bytes>) -> (StatusCode, Value) {
        let request = Request::post("/rpc")
            .header("content-type", "application/json")
            .body(Full::new(body.into()))
            .expect("request");
        let response = self
            .service
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "the answer is JSON ({e}): {status} {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, value)
    }

    async fn send(&self, message: &Value) -> Value {
        let (status, answer) = self.post(message.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    /// The challenges of an unpaid call to `message`, checked for the draft's shape.
    async fn challenges(&self, message: &Value) -> Vec<Challenge<'static>> {
        let answer = self.send(message).await;
        assert_payment_error(&answer, jsonrpc::PAYMENT_REQUIRED)
    }
}

fn binder() -> ChallengeBinder {
    ChallengeBinder::new(Secret::new(SECRET).expect("secret"))
}

fn method_call(id: Value, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn tool_call(id: i64, name: &str, arguments: Value) -> Value {
    method_call(
        id.into(),
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
}

/// `message` with a credential paying `challenge` at `placement`.
fn with_credential(message: &Value, challenge: &Challenge<'_>, placement: Placement) -> Value {
    let credential = Credential::answer(challenge, preimage_payload(PREIMAGE), None);
    let mut object = message.as_object().expect("object").clone();
    jsonrpc::attach_credential(&mut object, &credential, placement).expect("attach");
    Value::Object(object)
}

/// Checks a payment error's shape and returns its challenges, each verified
/// against the server's binder.
fn assert_payment_error(answer: &Value, code: i64) -> Vec<Challenge<'static>> {
    let error = &answer["error"];
    assert_eq!(error["code"], code, "{answer}");
    assert!(answer.get("result").is_none(), "{answer}");
    assert!(
        answer.get("_meta").is_none(),
        "no receipt on a refusal: {answer}"
    );
    let data = &error["data"];
    assert_eq!(data["httpStatus"], 402);
    let entries = data["challenges"].as_array().expect("challenges");
    assert!(!entries.is_empty());
    for entry in entries {
        for member in ["id", "realm", "method", "intent", "request", "expires"] {
            assert!(entry.get(member).is_some(), "{member} in {entry}");
        }
        assert!(
            entry["request"].is_object(),
            "request travels as JSON: {entry}"
        );
    }
    let read =
        jsonrpc::read_payment_required(answer.as_object().expect("object"), &ParseOptions::STRICT)
            .expect("readable")
            .expect("payment required");
    assert!(read.skipped.is_empty());
    for c in &read.challenges {
        binder()
            .verify_challenge(c)
            .expect("each challenge id verifies under the server's secret");
    }
    assert_eq!(
        data["problem"]["challengeId"].as_str(),
        Some(read.challenges[0].id.as_str())
    );
    read.challenges
}

fn receipt_of(answer: &Value) -> jsonrpc::PaidReceipt {
    let (receipt, _) = jsonrpc::read_receipt(answer.as_object().expect("object"))
        .expect("readable receipt")
        .expect("a receipt");
    receipt
}

fn assert_no_receipt(answer: &Value) {
    assert_eq!(
        jsonrpc::read_receipt(answer.as_object().expect("object")).expect("readable"),
        None,
        "{answer}"
    );
}

#[tokio::test]
async fn an_unpaid_priced_method_gets_32042_with_bound_challenges_and_runs_nothing() {
    // req: mcp.challenge.code mcp.challenge.http-status mcp.challenge.list mcp.challenge.members
    // req: mcp.challenge.request-object mcp.receipt.unpaid mcp.errors.codes
    let rpc = Rpc::new(&test_clock());
    let message = method_call(1.into(), "paid", json!([1, 2]));
    let answer = rpc.send(&message).await;
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["error"]["message"], "Payment Required");
    let challenges = assert_payment_error(&answer, jsonrpc::PAYMENT_REQUIRED);
    assert_eq!(challenges.len(), 1);
    assert_eq!(challenges[0].request.decode().unwrap(), preimage_request());
    let again = rpc.challenges(&message).await;
    assert_ne!(challenges[0].id, again[0].id, "a fresh challenge each time");
    assert_eq!(rpc.runs(), 0);
}

#[tokio::test]
async fn a_credential_is_accepted_in_either_place_and_the_receipt_names_its_challenge() {
    // req: mcp.credential.both-placements mcp.receipt.paid mcp.receipt.members
    let rpc = Rpc::new(&test_clock());
    // Array params: only the root `_meta` can carry it.
    let message = method_call(7.into(), "paid", json!(["a"]));
    let challenge = rpc.challenges(&message).await.remove(0);
    let answer = rpc
        .send(&with_credential(&message, &challenge, Placement::Root))
        .await;
    assert_eq!(answer["result"], json!({"ok": true}), "{answer}");
    let receipt = receipt_of(&answer);
    assert_eq!(receipt.challenge_id, challenge.id);
    assert_eq!(receipt.receipt.method.as_str(), "preimage");
    assert!(answer["_meta"]["org.paymentauth/receipt"]["timestamp"].is_string());
    assert_eq!(
        answer["_meta"]["org.paymentauth/receipt"]["status"],
        "success"
    );
    // Object params: in params._meta; the receipt goes in result._meta.
    let message = tool_call(8, "other", json!({}));
    let challenge = rpc.challenges(&message).await.remove(0);
    let answer = rpc
        .send(&with_credential(&message, &challenge, Placement::Nested))
        .await;
    assert_eq!(receipt_of(&answer).challenge_id, challenge.id);
    assert!(
        answer["result"]["_meta"]["org.paymentauth/receipt"].is_object(),
        "{answer}"
    );
    assert_eq!(rpc.runs(), 2);
}

#[tokio::test]
async fn a_used_challenge_is_refused_with_32043_and_fresh_challenges() {
    // req: mcp.replay.used mcp.errors.verification-failed
    let rpc = Rpc::new(&test_clock());
    let message = method_call(1.into(), "paid", json!([]));
    let challenge = rpc.challenges(&message).await.remove(0);
    let paid = with_credential(&message, &challenge, Placement::Root);
    receipt_of(&rpc.send(&paid).await);
    let again = rpc.send(&paid).await;
    let fresh = assert_payment_error(&again, jsonrpc::VERIFICATION_FAILED);
    assert_ne!(fresh[0].id, challenge.id);
    assert_eq!(
        again["error"]["data"]["failure"]["reason"],
        "invalid-challenge"
    );
    assert!(again["error"]["data"]["failure"]["detail"].is_string());
    assert_eq!(rpc.runs(), 1, "paid for once, served once");
}

#[tokio::test]
async fn two_concurrent_uses_of_one_credential_settle_once() {
    // req: mcp.replay.atomic
    let rpc = Arc::new(Rpc::new(&test_clock()));
    let message = method_call(1.into(), "paid", json!([]));
    let challenge = rpc.challenges(&message).await.remove(0);
    let paid = with_credential(&message, &challenge, Placement::Root);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (rpc, paid) = (rpc.clone(), paid.clone());
            tokio::spawn(async move { rpc.send(&paid).await })
        })
        .collect();
    let mut served = 0;
    for task in tasks {
        let answer = task.await.expect("task");
        if answer.get("result").is_some() {
            served += 1;
        } else {
            assert_payment_error(&answer, jsonrpc::VERIFICATION_FAILED);
        }
    }
    assert_eq!(served, 1);
    assert_eq!(rpc.runs(), 1);
}

#[tokio::test]
async fn a_challenge_pays_for_its_own_tool_and_bound_arguments_only() {
    // req: mcp.binding.operation
    let rpc = Rpc::new(&test_clock());
    let weather = tool_call(1, "weather", json!({"city": "Paris"}));
    let challenge = rpc.challenges(&weather).await.remove(0);
    assert!(
        challenge.digest.is_some(),
        "bound arguments travel as a digest"
    );
    // Another tool.
    let other = with_credential(
        &tool_call(2, "other", json!({})),
        &challenge,
        Placement::Nested,
    );
    assert_payment_error(&rpc.send(&other).await, jsonrpc::VERIFICATION_FAILED);
    // The same tool, other arguments: refused, and it used nothing up.
    let oslo = with_credential(
        &tool_call(3, "weather", json!({"city": "Oslo"})),
        &challenge,
        Placement::Nested,
    );
    assert_payment_error(&rpc.send(&oslo).await, jsonrpc::VERIFICATION_FAILED);
    // The arguments it was issued for, in another member order and spacing: paid.
    let paris = with_credential(
        &method_call(
            4.into(),
            "tools/call",
            json!({"arguments": {"city": "Paris"}, "name": "weather"}),
        ),
        &challenge,
        Placement::Nested,
    );
    let answer = rpc.send(&paris).await;
    assert_eq!(receipt_of(&answer).challenge_id, challenge.id);
    assert_eq!(rpc.runs(), 1);
}

#[tokio::test]
async fn expired_and_foreign_challenges_are_refused() {
    // req: mcp.replay.expired mcp.replay.unknown
    let clock = test_clock();
    let rpc = Rpc::new(&clock);
    let message = method_call(1.into(), "paid", json!([]));
    let challenge = rpc.challenges(&message).await.remove(0);
    // Issued by another server (another secret) for the same terms.
    let mut other = builder_with(OTHER_SECRET, REALM, &clock);
    for call in priced() {
        other = other.call(call);
    }
    let foreign = Rpc::from_layer(other.build().expect("paywall"))
        .challenges(&message)
        .await
        .remove(0);
    let answer = rpc
        .send(&with_credential(&message, &foreign, Placement::Root))
        .await;
    assert_payment_error(&answer, jsonrpc::VERIFICATION_FAILED);
    clock.advance(TTL + 1);
    let answer = rpc
        .send(&with_credential(&message, &challenge, Placement::Root))
        .await;
    assert_payment_error(&answer, jsonrpc::VERIFICATION_FAILED);
    assert_eq!(
        answer["error"]["data"]["failure"]["reason"],
        "payment-expired"
    );
    assert_eq!(rpc.runs(), 0);
}

#[tokio::test]
async fn malformed_credentials_are_invalid_params_and_charge_nothing() {
    // req: mcp.errors.codes
    let rpc = Rpc::new(&test_clock());
    let message = method_call(1.into(), "paid", json!({}));
    let challenge = rpc.challenges(&message).await.remove(0);
    let good = with_credential(&message, &challenge, Placement::Nested);
    let mut conflicting = good.clone();
    conflicting["_meta"] = json!({"org.paymentauth/credential": {"challenge": {}, "payload": {}}});
    let mut meta_not_object = message.clone();
    meta_not_object["params"]["_meta"] = json!([1]);
    let mut no_payload = good.clone();
    no_payload["params"]["_meta"]["org.paymentauth/credential"]
        .as_object_mut()
        .unwrap()
        .remove("payload");
    let mut not_object = message.clone();
    not_object["_meta"] = json!({"org.paymentauth/credential": "Payment abc"});
    for bad in [conflicting, meta_not_object, no_payload, not_object] {
        let answer = rpc.send(&bad).await;
        assert_eq!(answer["error"]["code"], jsonrpc::INVALID_PARAMS, "{answer}");
        assert!(answer["error"]["data"]["detail"].is_string());
        assert!(
            !answer.to_string().contains(PREIMAGE),
            "errors never show the payload: {answer}"
        );
        assert_no_receipt(&answer);
    }
    // Nothing was used up: the good credential still pays.
    receipt_of(&rpc.send(&good).await);
    assert_eq!(rpc.runs(), 1);
}

#[tokio::test]
async fn altered_challenges_are_refused_with_32043() {
    // req: mcp.challenge.id-binding
    let rpc = Rpc::new(&test_clock());
    let message = method_call(1.into(), "paid", json!([]));
    let challenge = rpc.challenges(&message).await.remove(0);
    let good = with_credential(&message, &challenge, Placement::Root);
    let mut cheaper = good.clone();
    cheaper["_meta"]["org.paymentauth/credential"]["challenge"]["request"]["amount"] = json!("1");
    let mut renamed = good.clone();
    renamed["_meta"]["org.paymentauth/credential"]["challenge"]["id"] =
        json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for bad in [cheaper, renamed] {
        let answer = rpc.send(&bad).await;
        assert_payment_error(&answer, jsonrpc::VERIFICATION_FAILED);
    }
    assert_eq!(rpc.runs(), 0);
}

#[tokio::test]
async fn a_credential_sent_to_a_free_method_is_ignored() {
    // req: mcp.credential.ignore-unpriced mcp.receipt.unpaid
    let rpc = Rpc::new(&test_clock());
    let paid = method_call(1.into(), "paid", json!([]));
    let challenge = rpc.challenges(&paid).await.remove(0);
    let free = with_credential(
        &method_call(2.into(), "free", json!([])),
        &challenge,
        Placement::Root,
    );
    let answer = rpc.send(&free).await;
    assert_eq!(answer["result"], json!({"ok": true}));
    assert_no_receipt(&answer);
    // Even a malformed one.
    let mut junk = method_call(3.into(), "free", json!({}));
    junk["params"]["_meta"] = json!("not an object");
    assert_eq!(rpc.send(&junk).await["result"], json!({"ok": true}));
    // And the challenge it carried is still unused.
    receipt_of(
        &rpc.send(&with_credential(&paid, &challenge, Placement::Root))
            .await,
    );
}

#[tokio::test]
async fn a_priced_notification_is_dropped_unanswered_and_uncharged() {
    // req: mcp.notifications.not-processed mcp.notifications.drop
    let rpc = Rpc::new(&test_clock());
    let message = method_call(1.into(), "paid", json!([]));
    let challenge = rpc.challenges(&message).await.remove(0);
    let mut notification = with_credential(&message, &challenge, Placement::Root);
    notification.as_object_mut().unwrap().remove("id");
    let (status, body) = rpc.post(notification.to_string()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body, Value::Null);
    assert_eq!(rpc.runs(), 0);
    // The credential was not used: it still pays the call made with an id.
    receipt_of(
        &rpc.send(&with_credential(&message, &challenge, Placement::Root))
            .await,
    );
    assert_eq!(rpc.runs(), 1);
}

#[tokio::test]
async fn batches_answer_each_request_and_skip_notifications() {
    let rpc = Rpc::new(&test_clock());
    let batch = json!([
        method_call(1.into(), "free", json!([])),
        {"jsonrpc": "2.0", "method": "paid", "params": []},
        method_call("two".into(), "paid", json!([])),
        {"jsonrpc": "1.0", "id": 3, "method": "free"},
        {"jsonrpc": "2.0", "id": {"a": 1}, "method": "free"},
        {"jsonrpc": "2.0", "id": 4, "method": "free", "params": 5},
        {"jsonrpc": "2.0", "id": 5},
        7,
    ]);
    let answer = rpc.send(&batch).await;
    let answers = answer.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 7, "the notification gets nothing: {answer}");
    assert_eq!(answers[0]["result"], json!({"ok": true}));
    assert_payment_error(&answers[1], jsonrpc::PAYMENT_REQUIRED);
    assert_eq!(answers[1]["id"], "two");
    for (i, id) in [
        (2, json!(3)),
        (3, Value::Null),
        (4, json!(4)),
        (5, json!(5)),
        (6, Value::Null),
    ] {
        assert_eq!(
            answers[i]["error"]["code"],
            jsonrpc::INVALID_REQUEST,
            "{}",
            answers[i]
        );
        assert_eq!(answers[i]["id"], id);
    }
    // Only notifications: nothing to answer.
    let (status, _) = rpc
        .post(json!([{"jsonrpc": "2.0", "method": "free"}]).to_string())
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    // Empty and oversized batches are one Invalid Request each.
    for bad in [
        json!([]),
        Value::Array(vec![
            method_call(1.into(), "paid", json!([]));
            MAX_BATCH + 1
        ]),
    ] {
        let answer = rpc.send(&bad).await;
        assert_eq!(
            answer["error"]["code"],
            jsonrpc::INVALID_REQUEST,
            "{answer}"
        );
        assert_eq!(answer["id"], Value::Null);
    }
    assert_eq!(rpc.runs(), 0);
}

#[tokio::test]
async fn messages_that_are_not_json_rpc_get_its_errors_and_never_a_panic() {
    let rpc = Rpc::new(&test_clock());
    let (_, answer) = rpc.post("{\"jsonrpc\": ").await;
    assert_eq!(answer["error"]["code"], jsonrpc::PARSE_ERROR);
    assert_eq!(answer["id"], Value::Null);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (_, answer) = rpc.post(deep).await;
    assert_eq!(
        answer["error"]["code"],
        jsonrpc::PARSE_ERROR,
        "too deep to read"
    );
    let (_, answer) = rpc
        .post(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"free"}"#)
        .await;
    assert_eq!(
        answer["error"]["code"],
        jsonrpc::PARSE_ERROR,
        "duplicate members"
    );
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"paid","params":["{}"]}}"#,
        "x".repeat(2 << 20)
    );
    let (status, answer) = rpc.post(huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"]["code"], jsonrpc::INVALID_REQUEST);
    let request = Request::get("/rpc").body(Full::new(Bytes::new())).unwrap();
    let response = rpc.service.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(rpc.runs(), 0);
}

#[tokio::test]
async fn a_handler_error_after_payment_still_carries_the_receipt() {
    let rpc = Rpc::new(&test_clock());
    let message = method_call(1.into(), "paid_fails", json!([]));
    let challenge = rpc.challenges(&message).await.remove(0);
    let answer = rpc
        .send(&with_credential(&message, &challenge, Placement::Root))
        .await;
    assert_eq!(answer["error"]["code"], -32601);
    assert_eq!(receipt_of(&answer).challenge_id, challenge.id, "{answer}");
}

/// A paywall pricing the tool `weather` with the preimage and the token methods.
fn two_offers(clock: &ManualClock) -> PaywallLayer {
    let token = mpp_server::ChargeOffer::new(
        Arc::new(Token::new(TOKEN)),
        Token::request(AMOUNT, CURRENCY, RECIPIENT),
    );
    builder(clock)
        .call(
            PricedCall::tool("weather")
                .offer(preimage_offer())
                .offer(token),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_paywall_advertises_its_methods_and_lists_tool_prices() {
    // req: mcp.capability.intents
    let clock = test_clock();
    let layer = two_offers(&clock);
    let paywall = layer.jsonrpc();
    let capability = paywall.capability();
    assert!(capability.supports("preimage", "charge"));
    assert!(capability.supports("token", "charge"));
    assert_eq!(
        capability.to_json()["methods"]["token"]["intents"],
        json!(["charge"])
    );
    let offers = paywall.tool_offers("weather");
    assert_eq!(offers.len(), 2);
    assert_eq!(offers[1].method, "token");
    assert_eq!(offers[0].amount.as_deref(), Some(AMOUNT));
    assert!(paywall.tool_offers("free").is_empty());
    let request: JsonObject = serde_json::from_value(tool_call(1, "weather", json!({}))).unwrap();
    assert!(paywall.is_priced(&request));
}

#[tokio::test]
async fn the_builder_refuses_calls_priced_twice_or_without_offers() {
    let clock = test_clock();
    for (calls, needle) in [
        (
            vec![
                PricedCall::tool("a").offer(preimage_offer()),
                PricedCall::tool("a").offer(preimage_offer()),
            ],
            "priced twice",
        ),
        (vec![PricedCall::method("m")], "no offer"),
        (
            vec![PricedCall::method("tools/call").offer(preimage_offer())],
            "PricedCall::tool",
        ),
    ] {
        let mut b = builder(&clock);
        for call in calls {
            b = b.call(call);
        }
        let err = b.build().expect_err("refused").to_string();
        assert!(err.contains(needle), "{err}");
    }
    let streaming =
        mpp_server::SessionOffer::new(Arc::new(toy_session::Toy::default()), toy_session::terms())
            .streaming();
    let err = builder(&clock)
        .call(PricedCall::tool("s").session(streaming))
        .build()
        .expect_err("refused")
        .to_string();
    assert!(err.contains("streaming session offer"), "{err}");
}

#[tokio::test]
async fn http_routes_and_json_rpc_calls_share_one_claim_store() {
    // A challenge id claimed through JSON-RPC cannot be claimed again, whatever the
    // transport: the claim key is the challenge id (D9).
    let rpc = Rpc::new(&test_clock());
    let message = method_call(1.into(), "paid", json!([]));
    let challenge = rpc.challenges(&message).await.remove(0);
    receipt_of(
        &rpc.send(&with_credential(&message, &challenge, Placement::Root))
            .await,
    );
    let second = Rpc::from_layer(rpc.layer.clone());
    let answer = second
        .send(&with_credential(&message, &challenge, Placement::Root))
        .await;
    assert_payment_error(&answer, jsonrpc::VERIFICATION_FAILED);
}

#[tokio::test]
async fn the_challenges_of_a_call_are_alternatives_and_one_payment_suffices() {
    // req: mcp.challenge.one-payment
    let clock = test_clock();
    let layer = two_offers(&clock);
    let rpc = Rpc::from_layer(layer);
    let message = tool_call(1, "weather", json!({}));
    let challenges = rpc.challenges(&message).await;
    assert_eq!(challenges.len(), 2, "one challenge per offer");
    let token = challenges
        .iter()
        .find(|c| c.method == "token")
        .expect("token offer");
    let credential = Credential::answer(token, token_payload(TOKEN), None);
    let mut paying = message.as_object().unwrap().clone();
    jsonrpc::attach_credential(&mut paying, &credential, Placement::Nested).unwrap();
    let answer = rpc.send(&Value::Object(paying)).await;
    assert_eq!(receipt_of(&answer).challenge_id, token.id);
    assert_eq!(rpc.runs(), 1);
}

#[tokio::test]
async fn a_session_pays_calls_one_unit_each_and_its_top_up_is_answered_by_the_paywall() {
    use mpp_server::SessionOffer;
    use toy_session::{DEPOSIT, Toy, UNIT, payload, terms};
    let clock = test_clock();
    let method = Arc::new(Toy::default());
    let layer = builder(&clock)
        .call(PricedCall::tool("metered").session(SessionOffer::new(method.clone(), terms())))
        .build()
        .unwrap();
    let rpc = Rpc::from_layer(layer.clone());
    let message = tool_call(1, "metered", json!({}));
    let pay = |challenge: &Challenge<'_>, action: &str| {
        let credential = Credential::answer(challenge, payload(action, "k"), None);
        let mut object = message.as_object().unwrap().clone();
        jsonrpc::attach_credential(&mut object, &credential, Placement::Nested).unwrap();
        Value::Object(object)
    };
    let challenge = rpc.challenges(&message).await.remove(0);
    assert_eq!(challenge.intent.as_str(), "session");
    // Open: the deposit is taken and the first call is served from it.
    let answer = rpc.send(&pay(&challenge, "open")).await;
    assert_eq!(answer["result"]["ok"], true, "{answer}");
    assert_eq!(receipt_of(&answer).receipt.reference, "s-k");
    // Use, with the same challenge: one more unit each.
    let answer = rpc.send(&pay(&challenge, "use")).await;
    assert_eq!(answer["result"]["ok"], true, "{answer}");
    assert_eq!(rpc.runs(), 2);
    let account = layer.sessions().get("s-k").await.unwrap().unwrap();
    assert_eq!(account.session.spent(), 2 * UNIT);
    // A top-up with a fresh challenge: answered by the paywall, the call not run.
    let fresh = rpc.challenges(&message).await.remove(0);
    let answer = rpc.send(&pay(&fresh, "topUp")).await;
    assert!(answer["result"].is_object(), "{answer}");
    assert_eq!(receipt_of(&answer).challenge_id, fresh.id);
    assert_eq!(rpc.runs(), 2, "a top-up does not run the call");
    let account = layer.sessions().get("s-k").await.unwrap().unwrap();
    assert_eq!(account.session.deposit(), 2 * DEPOSIT);
}
