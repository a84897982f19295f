//! Nothing sensitive reaches the logs (D10, spec §1.12): with every event captured at
//! TRACE level, paid, refused and malformed requests leave no credential, proof,
//! receipt or secret in the output.
//!
//! This binary installs a global subscriber, so it holds a single test.

mod common;

use std::io;
use std::sync::{Arc, Mutex};

use common::*;
use http::Method;
use mpp_core::ParseOptions;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::jsonrpc::{self, Placement};
use mpp_core::method::MethodError;
use mpp_core::problem::ProblemType;
use mpp_server::jsonrpc::Admission;
use mpp_server::{ChargeOffer, PaidRoute, PricedCall};
use serde_json::json;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// An in-memory log sink.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

const WRONG_PREIMAGE: &str = "a-wrong-preimage-that-must-not-be-logged";
const PAYER: &str = "did:key:z6MkPayerWhoMustNotBeLogged";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_credential_material_is_logged() {
    // req: core.security.credentials.not-logged core.binding.secret.not-logged
    // req: core.security.privacy.no-plaintext-logs mcp.security.log.server
    let capture = Capture::default();
    let sink = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(LevelFilter::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_writer(move || sink.clone())
        .try_init()
        .expect("the only subscriber of this binary");

    let clock = test_clock();
    let failing = Arc::new(FlakyStore {
        fail_put_if_absent: true,
        ..FlakyStore::default()
    });
    let h = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid"))
            .route(paid(Method::POST, "/paid-post"))
            .route(paid(Method::GET, "/paid-pa").payment_authorization())
            .route(
                PaidRoute::new(Method::GET, "/broken").offer(ChargeOffer::new(
                    Arc::new(Scripted::new(Err(MethodError::Internal(
                        "settlement backend unreachable".into(),
                    )))),
                    Scripted::request(),
                )),
            )
            .build()
            .unwrap(),
        &clock,
    );
    let down = Harness::new(
        builder(&clock)
            .route(paid(Method::GET, "/paid"))
            .store(failing)
            .build()
            .unwrap(),
        &clock,
    );

    // Everything that must stay out of the logs.
    let mut credentials: Vec<String> = Vec::new();
    let mut receipts: Vec<String> = Vec::new();

    // Paid, then replayed.
    let challenge = h.challenge(get("/paid")).await;
    let value =
        Credential::answer(&challenge, preimage_payload(PREIMAGE), Some(PAYER.into())).to_header();
    let answer = h.send(get_paid("/paid", &value)).await;
    answer.assert_paid();
    receipts.push(answer.header("payment-receipt").unwrap().to_owned());
    h.send(get_paid("/paid", &value))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    credentials.push(value);

    // Paid POST with an Idempotency-Key, then its replay.
    let body = r#"{"q":"A"}"#;
    let challenge = h
        .challenge(request(Method::POST, "/paid-post", &[], body))
        .await;
    let value = pay(&challenge);
    for _ in 0..2 {
        let req = request(
            Method::POST,
            "/paid-post",
            &[("authorization", &value), ("idempotency-key", "key-1")],
            body,
        );
        let answer = h.send(req).await;
        answer.assert_paid();
        receipts.push(answer.header("payment-receipt").unwrap().to_owned());
    }
    credentials.push(value);

    // Paid in Payment-Authorization beside a Bearer token.
    let challenge = h.challenge(get("/paid-pa")).await;
    let value = pay(&challenge);
    let req = request(
        Method::GET,
        "/paid-pa",
        &[
            (
                "authorization",
                "Bearer bearer-token-that-must-not-be-logged",
            ),
            ("payment-authorization", &value),
        ],
        "",
    );
    let answer = h.send(req).await;
    answer.assert_paid();
    receipts.push(answer.header("payment-receipt").unwrap().to_owned());
    credentials.push(value);

    // Refused: a wrong proof, an expired challenge, a wrong field.
    let challenge = h.challenge(get("/paid")).await;
    let value = credential(&challenge, preimage_payload(WRONG_PREIMAGE));
    h.send(get_paid("/paid", &value))
        .await
        .assert_refused(ProblemType::VerificationFailed, &challenge);
    credentials.push(value);
    let challenge = h.challenge(get("/paid")).await;
    clock.advance(TTL);
    let value = pay(&challenge);
    h.send(get_paid("/paid", &value))
        .await
        .assert_refused(ProblemType::PaymentExpired, &challenge);
    credentials.push(value);
    let challenge = h.challenge(get("/paid-pa")).await;
    let value = pay(&challenge);
    h.send(get_paid("/paid-pa", &value))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    credentials.push(value);

    // Malformed, and several at once.
    let value = raw_credential(&format!(r#"{{"payload":{{"preimage":"{PREIMAGE}"}}}}"#));
    h.send(get_paid("/paid", &value))
        .await
        .assert_402(ProblemType::MalformedCredential);
    credentials.push(value);
    let a = pay(&h.challenge(get("/paid")).await);
    let b = pay(&h.challenge(get("/paid")).await);
    let req = request(
        Method::GET,
        "/paid",
        &[("authorization", &a), ("authorization", &b)],
        "",
    );
    h.send(req).await.assert_error(400, ProblemType::BadRequest);
    credentials.extend([a, b]);

    // Internal failures: a store that is down, a settlement backend that is down.
    let challenge = down.challenge(get("/paid")).await;
    let value = pay(&challenge);
    down.send(get_paid("/paid", &value))
        .await
        .assert_error(500, ProblemType::InternalPaymentError);
    credentials.push(value);
    let challenge = h.challenge(get("/broken")).await;
    let value = credential(&challenge, Scripted::payload());
    h.send(get_paid("/broken", &value))
        .await
        .assert_error(500, ProblemType::InternalPaymentError);
    credentials.push(value);

    // Over JSON-RPC: paid (with a payer), replayed, a wrong proof, a malformed one.
    let rpc = builder(&clock)
        .call(PricedCall::method("paid").offer(preimage_offer()))
        .build()
        .unwrap()
        .jsonrpc();
    let call: JsonObject =
        serde_json::from_value(json!({"jsonrpc": "2.0", "id": 1, "method": "paid"})).unwrap();
    let challenges = |admission| match admission {
        Admission::Refused(error) => {
            jsonrpc::read_payment_error(&error, &ParseOptions::STRICT)
                .unwrap()
                .unwrap()
                .challenges
        }
        other => panic!("not refused: {other:?}"),
    };
    let with = |credential: &Credential| {
        let mut request = call.clone();
        jsonrpc::attach_credential(&mut request, credential, Placement::Root).unwrap();
        request
    };
    let challenge = challenges(rpc.admit(&call).await).remove(0);
    let paying = with(&Credential::answer(
        &challenge,
        preimage_payload(PREIMAGE),
        Some(PAYER.into()),
    ));
    assert!(matches!(rpc.admit(&paying).await, Admission::Paid(_)));
    challenges(rpc.admit(&paying).await);
    let challenge = challenges(rpc.admit(&call).await).remove(0);
    let wrong = with(&Credential::answer(
        &challenge,
        preimage_payload(WRONG_PREIMAGE),
        None,
    ));
    challenges(rpc.admit(&wrong).await);
    let mut malformed = call.clone();
    malformed.insert(
        "_meta".into(),
        json!({"org.paymentauth/credential": {"payload": {"preimage": PREIMAGE}}}),
    );
    assert!(matches!(rpc.admit(&malformed).await, Admission::Refused(_)));

    let logs = capture.text();
    // The capture works: the paywall's own events are there.
    for event in ["payment settled", "payment refused", "payment required"] {
        assert!(logs.contains(event), "no {event:?} event in:\n{logs}");
    }
    let mut forbidden: Vec<(&str, String)> = vec![
        ("the preimage", PREIMAGE.to_owned()),
        ("a wrong preimage", WRONG_PREIMAGE.to_owned()),
        ("the payer", PAYER.to_owned()),
        (
            "the bearer token",
            "bearer-token-that-must-not-be-logged".to_owned(),
        ),
        ("the secret", String::from_utf8(SECRET.to_vec()).unwrap()),
    ];
    for value in &credentials {
        forbidden.push(("a credential", value.clone()));
        let encoded = value.trim_start_matches("Payment ").to_owned();
        // A prefix is enough to catch a truncated copy.
        forbidden.push(("a credential's base64 (prefix)", encoded[..40].to_owned()));
        forbidden.push(("a credential's base64", encoded));
    }
    for value in &receipts {
        forbidden.push(("a receipt", value.clone()));
    }
    for (what, needle) in &forbidden {
        assert!(
            !logs.contains(needle.as_str()),
            "{what} was logged: {needle:?}\n{logs}"
        );
    }
}
