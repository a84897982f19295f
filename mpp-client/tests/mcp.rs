//! The paying MCP client against a stand-in MCP server on loopback (see
//! `mcp_support`): the honest flow over JSON bodies and event streams, plain
//! JSON-RPC with the credential in the root `_meta`, and every refusal or broken
//! answer an honest server never gives.
#![cfg(feature = "mcp")]

mod mcp_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_support::{Mode, PREIMAGE, PRICE, SESSION, StandServer, start, start_with};
use mpp_client::mcp::{BadAnswer, McpError, McpOptions, PayingMcpClient, PaymentKind};
use mpp_core::client::{PolicyError, Skipped, SpendingPolicy, Wallet};
use mpp_core::jsonrpc::{self, Placement};
use mpp_core::{JsonObject, ProblemType};
use mpp_methods::preimage::PreimagePayer;
use serde_json::{Value, json};

fn policy() -> SpendingPolicy {
    SpendingPolicy {
        max_per_request: vec![("usd".into(), PRICE)],
        ..SpendingPolicy::default()
    }
}

fn wallet() -> Wallet {
    Wallet::new(policy()).with_method(Arc::new(PreimagePayer::new(PREIMAGE)), 1000)
}

fn options() -> McpOptions {
    McpOptions {
        timeout: Duration::from_secs(10),
        ..McpOptions::default()
    }
}

async fn connect(server: &StandServer) -> PayingMcpClient {
    PayingMcpClient::connect(&server.url(), wallet(), options())
        .await
        .unwrap()
}

async fn spent(client: &PayingMcpClient) -> u128 {
    let wallet = client.wallet().lock().await;
    wallet
        .spent()
        .iter()
        .find(|(c, _)| c == "usd")
        .map_or(0, |(_, a)| *a)
}

fn args(text: &str) -> Option<JsonObject> {
    json!({ "text": text }).as_object().cloned()
}

#[tokio::test]
async fn a_paid_tool_is_paid_once_and_its_receipt_surfaced() {
    let server = start(Mode::Honest).await;
    let client = connect(&server).await;

    let info = client.server().unwrap();
    assert_eq!(info.protocol_version, "2025-06-18");
    assert_eq!(info.name.as_deref(), Some("stand-in"));
    assert!(
        info.payment
            .as_ref()
            .unwrap()
            .supports("preimage", "charge")
    );

    let tools = client.list_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["echo", "paid_echo"]);
    assert!(tools[0].offers.is_empty());
    let offer = &tools[1].offers[0];
    assert_eq!(
        (
            offer.method.as_str(),
            offer.amount.as_deref(),
            offer.currency.as_deref()
        ),
        ("preimage", Some("1000"), Some("usd"))
    );
    assert_eq!(tools[1].input_schema["type"], "object");

    let free = client.call_tool("echo", args("free")).await.unwrap();
    assert_eq!(free.result["content"][0]["text"], "free");
    assert!(free.payment.is_none() && free.receipt.is_none() && !free.is_error);
    assert_eq!(spent(&client).await, 0);

    let paid = client.call_tool("paid_echo", args("paid")).await.unwrap();
    assert_eq!(paid.result["content"][0]["text"], "paid");
    assert!(!paid.is_error);
    let payment = paid.payment.as_ref().unwrap();
    assert_eq!(payment.kind, PaymentKind::Charge);
    assert_eq!((payment.amount, payment.cost), (PRICE, PRICE));
    assert_eq!(payment.currency, "usd");
    assert_eq!(payment.challenge.method.as_str(), "preimage");
    let receipt = paid.receipt.as_ref().unwrap();
    assert_eq!(receipt.challenge_id, payment.challenge.id);
    assert_eq!(receipt.receipt.method.as_str(), "preimage");
    assert_eq!(spent(&client).await, PRICE);
    assert_eq!(
        server
            .stand
            .paid_runs
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
}

// req: mcp.client.one-challenge mcp.client.echo-id mcp.credential.members mcp.challenge.request-jcs.client
#[tokio::test]
async fn the_credential_echoes_one_challenge_unchanged_in_params_meta() {
    let server = start(Mode::Honest).await;
    let client = connect(&server).await;
    client.call_tool("paid_echo", args("x")).await.unwrap();

    let calls = server.stand.calls("tools/call", Some("paid_echo"));
    assert_eq!(calls.len(), 2, "the call, and its paid resend");
    assert!(calls[0].credentials().is_empty());
    // Exactly one credential, in params._meta (MCP's place), and a new id.
    let [(placement, credential)] = &calls[1].credentials()[..] else {
        panic!("one credential: {:?}", calls[1].message)
    };
    assert_eq!(*placement, Placement::Nested);
    assert_ne!(calls[0].message["id"], calls[1].message["id"]);
    assert_eq!(calls[1].message["params"]["arguments"]["text"], "x");
    // The preimage challenge (of the two offered) exactly as the server sent it:
    // `request` still an object, the id unchanged.
    let issued = server.stand.issued.lock().unwrap().clone();
    let offered: Vec<&JsonObject> = issued
        .iter()
        .filter(|c| c["method"] == "preimage")
        .collect();
    let echoed = credential["challenge"].as_object().unwrap();
    assert!(
        offered.contains(&echoed),
        "echo {echoed:?} is none of {offered:?}"
    );
    assert!(echoed["request"].is_object());
    assert!(credential["payload"].is_object());
    assert_eq!(credential["payload"]["preimage"], PREIMAGE);
}

// req: mcp.notifications.client
#[tokio::test]
async fn the_session_and_version_travel_and_calls_are_never_notifications() {
    let server = start(Mode::Honest).await;
    let client = connect(&server).await;
    client.call_tool("paid_echo", args("x")).await.unwrap();
    client.list_tools().await.unwrap();

    let received = server.stand.received();
    let methods: Vec<&str> = received.iter().map(|r| r.method()).collect();
    assert_eq!(
        methods,
        [
            "initialize",
            "notifications/initialized",
            "tools/call",
            "tools/call",
            "tools/list"
        ]
    );
    let init = &received[0];
    assert_eq!(init.headers["content-type"], "application/json");
    assert_eq!(
        init.headers["accept"],
        "application/json, text/event-stream"
    );
    assert!(!init.headers.contains_key("mcp-session-id"));
    // The wallet's methods, in the draft's capability form.
    assert_eq!(
        init.message["params"]["capabilities"]["experimental"]["payment"],
        json!({"methods": {"preimage": {"intents": ["charge"]}}})
    );
    assert!(received[1].message.get("id").is_none(), "a notification");
    for later in &received[1..] {
        assert_eq!(later.headers["mcp-session-id"], SESSION);
        assert_eq!(later.headers["mcp-protocol-version"], "2025-06-18");
    }
    for call in received.iter().filter(|r| r.method() == "tools/call") {
        assert!(call.message["id"].is_number(), "{:?}", call.message);
    }
}

#[tokio::test]
async fn answers_in_event_streams_are_read_past_the_servers_own_messages() {
    let server = start(Mode::Sse).await;
    let client = connect(&server).await;
    assert_eq!(client.list_tools().await.unwrap().len(), 2);
    let paid = client.call_tool("paid_echo", args("sse")).await.unwrap();
    assert_eq!(paid.result["content"][0]["text"], "sse");
    assert!(paid.receipt.is_some());
    assert_eq!(spent(&client).await, PRICE);
}

// req: mcp.capability.not-sole
#[tokio::test]
async fn a_server_advertising_no_payment_is_paid_by_its_challenges() {
    let server = start_with(Mode::Honest, false).await;
    let client = connect(&server).await;
    assert!(client.server().unwrap().payment.is_none());
    let paid = client.call_tool("paid_echo", args("x")).await.unwrap();
    assert!(paid.receipt.is_some());
}

// req: mcp.errors.retry.client
#[tokio::test]
async fn a_refusal_after_paying_is_final_in_either_form() {
    for (mode, code) in [
        (Mode::RefuseDraft, jsonrpc::VERIFICATION_FAILED),
        (Mode::RefuseSdk, jsonrpc::PAYMENT_REQUIRED),
    ] {
        let server = start(mode).await;
        let client = connect(&server).await;
        let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
        let McpError::Rejected {
            code: got,
            problem,
            failure,
            payment,
            ..
        } = &error
        else {
            panic!("{mode:?}: {error:?}")
        };
        assert_eq!(*got, code, "{mode:?}");
        assert_eq!(
            problem.as_ref().unwrap().problem_type(),
            Some(ProblemType::VerificationFailed)
        );
        if mode == Mode::RefuseDraft {
            assert_eq!(
                failure.as_ref().unwrap().reason.as_deref(),
                Some("signature-invalid")
            );
        }
        assert_eq!(payment.amount, PRICE);
        assert_eq!(error.payment().unwrap().currency, "usd");
        // Neither paid again nor the refused credential resent.
        let calls = server.stand.calls("tools/call", None);
        assert_eq!(calls.len(), 2, "{mode:?}");
        assert_eq!(
            calls.iter().map(|c| c.credentials().len()).sum::<usize>(),
            1
        );
        assert_eq!(spent(&client).await, PRICE, "the payment stays counted");
    }
}

#[tokio::test]
async fn mppx_payment_requests_in_a_tool_result_are_paid() {
    let server = start(Mode::ResultMeta).await;
    let client = connect(&server).await;
    let paid = client.call_tool("paid_echo", args("meta")).await.unwrap();
    assert_eq!(paid.result["content"][0]["text"], "meta");
    assert!(paid.receipt.is_some() && paid.payment.is_some());
    assert_eq!(spent(&client).await, PRICE);
}

// req: mcp.challenge.expired.client
#[tokio::test]
async fn expired_and_malformed_challenges_are_not_paid() {
    let server = start(Mode::Expired).await;
    let client = connect(&server).await;
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    let McpError::Declined(declined) = &error else {
        panic!("{error:?}")
    };
    assert!(
        declined
            .passed
            .iter()
            .any(|p| p.offer == "preimage/charge" && p.reason == Skipped::Expired),
        "{declined:?}"
    );

    server.stand.set_mode(Mode::MalformedChallenges);
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    let McpError::Declined(declined) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(declined.passed.len(), 2, "{declined:?}");
    assert!(
        declined
            .passed
            .iter()
            .all(|p| matches!(p.reason, Skipped::Malformed(_)))
    );

    server.stand.set_mode(Mode::NoChallenges);
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    assert!(
        matches!(error, McpError::BadAnswer(BadAnswer::Payment(_))),
        "{error:?}"
    );
    assert!(error.to_string().contains("challenges"), "{error}");

    let credentials: usize = server
        .stand
        .calls("tools/call", None)
        .iter()
        .map(|c| c.credentials().len())
        .sum();
    assert_eq!(credentials, 0);
    assert_eq!(spent(&client).await, 0);
}

// req: mcp.security.tls.client
#[cfg(unix)]
#[tokio::test]
async fn plain_http_to_an_origin_that_is_not_loopback_is_not_paid() {
    let server = start(Mode::Honest).await;
    // 0.0.0.0 reaches the loopback listener on Linux, but is not a loopback name.
    let url = format!("http://0.0.0.0:{}/mcp", server.addr.port());
    let client = PayingMcpClient::connect(&url, wallet(), options())
        .await
        .unwrap();
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    let McpError::Declined(declined) = &error else {
        panic!("{error:?}")
    };
    assert!(
        declined
            .passed
            .iter()
            .any(|p| p.reason == Skipped::Policy(PolicyError::InsecureOrigin)),
        "{declined:?}"
    );
    assert_eq!(server.stand.calls("tools/call", None).len(), 1);
    assert_eq!(spent(&client).await, 0);
}

#[tokio::test]
async fn no_answer_after_paying_resends_the_same_credential_once() {
    let server = start(Mode::Unavailable(1)).await;
    let client = connect(&server).await;
    let paid = client.call_tool("paid_echo", args("x")).await.unwrap();
    assert!(paid.receipt.is_some());
    let calls = server.stand.calls("tools/call", None);
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls[1].credentials(),
        calls[2].credentials(),
        "the same one"
    );
    assert_eq!(spent(&client).await, PRICE);

    let server = start(Mode::Unavailable(2)).await;
    let client = connect(&server).await;
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    let McpError::UnknownOutcome { detail, payment } = &error else {
        panic!("{error:?}")
    };
    assert!(detail.contains("503"), "{detail}");
    assert_eq!(payment.amount, PRICE);
    assert_eq!(
        server.stand.calls("tools/call", None).len(),
        3,
        "not a third time"
    );
    assert_eq!(spent(&client).await, PRICE, "the budget stays counted");
}

#[tokio::test]
async fn failures_after_paying_leave_the_outcome_unknown_or_show_the_tool_error() {
    let server = start(Mode::InternalErrorAfterPay).await;
    let client = connect(&server).await;
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    assert!(
        matches!(&error, McpError::UnknownOutcome { detail, .. } if detail.contains("-32603")),
        "{error:?}"
    );

    server.stand.set_mode(Mode::GarbageAfterPay);
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    assert!(
        matches!(&error, McpError::UnknownOutcome { detail, .. } if detail.contains("not JSON")),
        "{error:?}"
    );
    assert_eq!(spent(&client).await, 2 * PRICE);

    // A tool that fails after settling: its error result, with the receipt.
    server.stand.set_mode(Mode::ToolErrorAfterPay);
    let failed = client.call_tool("paid_echo", args("x")).await.unwrap();
    assert!(failed.is_error);
    assert_eq!(failed.result["content"][0]["text"], "the tool failed");
    assert_eq!(
        failed.receipt.unwrap().challenge_id,
        failed.payment.unwrap().challenge.id
    );
}

#[tokio::test]
async fn broken_answers_are_errors_by_what_is_wrong() {
    let server = start(Mode::Honest).await;
    let client = PayingMcpClient::connect(
        &server.url(),
        wallet(),
        McpOptions {
            max_body: 1024 * 1024,
            ..options()
        },
    )
    .await
    .unwrap();
    for (mode, expected) in [
        (Mode::Huge, BadAnswer::TooLarge { limit: 1024 * 1024 }),
        (
            Mode::NotTwoPointZero,
            BadAnswer::NotJsonRpc("`jsonrpc` is not \"2.0\""),
        ),
    ] {
        server.stand.set_mode(mode);
        let error = client.call_tool("echo", args("x")).await.unwrap_err();
        assert!(
            matches!(&error, McpError::BadAnswer(b) if *b == expected),
            "{mode:?}: {error:?}"
        );
    }
    server.stand.set_mode(Mode::NotJson);
    let error = client.call_tool("echo", args("x")).await.unwrap_err();
    assert!(
        matches!(&error, McpError::BadAnswer(BadAnswer::NotJson(_))),
        "{error:?}"
    );
    server.stand.set_mode(Mode::WrongId);
    let error = client.call_tool("echo", args("x")).await.unwrap_err();
    assert!(
        matches!(&error, McpError::BadAnswer(BadAnswer::WrongId { got, .. }) if got == "424242"),
        "{error:?}"
    );
    // An unknown tool is the server's JSON-RPC error, not a payment matter.
    server.stand.set_mode(Mode::Honest);
    let error = client.call_tool("nope", None).await.unwrap_err();
    assert!(
        matches!(
            &error,
            McpError::Rpc {
                code: -32602,
                payment: None,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(spent(&client).await, 0);

    // Not an MCP endpoint at all.
    let error = PayingMcpClient::connect(
        &format!("http://{}/elsewhere", server.addr),
        wallet(),
        options(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, McpError::Status { status: 404, .. }),
        "{error:?}"
    );
    let error = PayingMcpClient::connect("ftp://x/mcp", wallet(), options())
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Invalid(_)), "{error:?}");
}

#[tokio::test]
async fn plain_json_rpc_puts_the_credential_in_the_root_meta() {
    let server = start(Mode::Honest).await;
    let client = PayingMcpClient::plain(&server.url(), wallet(), options()).unwrap();
    assert!(client.server().is_none());

    let free = client.call("sum", Some(json!([1, 2]))).await.unwrap();
    assert_eq!(free.result, 3);
    assert!(free.payment.is_none());

    let paid = client.call("paid_sum", Some(json!([2, 3]))).await.unwrap();
    assert_eq!(paid.result, 5);
    assert_eq!(
        paid.receipt.unwrap().challenge_id,
        paid.payment.unwrap().challenge.id
    );
    let calls = server.stand.calls("paid_sum", None);
    assert_eq!(calls.len(), 2);
    let [(placement, _)] = &calls[1].credentials()[..] else {
        panic!("{:?}", calls[1].message)
    };
    assert_eq!(*placement, Placement::Root);
    assert_eq!(calls[1].message["params"], json!([2, 3]));
    assert!(server.stand.calls("initialize", None).is_empty());
    assert_eq!(spent(&client).await, PRICE);
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// req: mcp.security.log.client
#[tokio::test(flavor = "current_thread")]
async fn the_credential_is_in_no_log_error_or_debug_output() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = start(Mode::Honest).await;
    let client = connect(&server).await;
    let paid = client.call_tool("paid_echo", args("x")).await.unwrap();
    let mut shown = format!("{paid:?} {client:?}");
    server.stand.set_mode(Mode::RefuseDraft);
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    shown.push_str(&format!("{error} {error:?}"));
    server.stand.set_mode(Mode::Unavailable(5));
    let error = client.call_tool("paid_echo", args("x")).await.unwrap_err();
    shown.push_str(&format!("{error} {error:?}"));

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("paying"), "the log is captured: {log}");
    for text in [&log, &shown] {
        assert!(!text.contains(PREIMAGE), "{text}");
        assert!(!text.contains(SESSION), "{text}");
        assert!(!text.contains("org.paymentauth/credential"), "{text}");
    }
    // What the call returns keeps no credential to leak later.
    let value: Value = serde_json::to_value(&paid.result).unwrap();
    assert!(!value.to_string().contains(PREIMAGE));
}
