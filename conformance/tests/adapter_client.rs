//! The adapter's client flow, `http.payment_request`, against the reference server
//! run in-process: a plain request gets the 402, a payment is granted, each
//! corrupted credential is refused, and no credential follows a redirect.

use std::time::SystemTime;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use conformance::adapter;
use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::ChallengeBuilder;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_reference_server::ReferenceConfig;
use serde_json::{Value, json};

const PREIMAGE: &str = "adapter-client-preimage";

/// Runs one request through the adapter, off the async runtime (it blocks).
async fn call(input: Value) -> Value {
    let request = json!({ "schema": 1, "op": "http.payment_request", "input": input });
    let line = tokio::task::spawn_blocking(move || {
        adapter::handle(&request.to_string(), UnixTime::from(SystemTime::now()))
    })
    .await
    .unwrap();
    assert!(!line.contains("null"), "never emits null: {line}");
    serde_json::from_str(&line).unwrap()
}

async fn response(input: Value) -> Value {
    let out = call(input.clone()).await;
    assert_eq!(out["ok"], true, "{input}: {out}");
    out["value"].clone()
}

fn problem(value: &Value) -> String {
    let body: Value = serde_json::from_str(value["body"].as_str().unwrap()).unwrap();
    body["type"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mode_gets_the_servers_answer_to_what_it_sends() {
    let config = ReferenceConfig {
        realm: "adapter.localhost".into(),
        ..ReferenceConfig::new("adapter-client-test-secret-0123456789abcdef", PREIMAGE)
    };
    let server = mpp_reference_server::spawn(&config).await.unwrap();
    let input = |mode: &str, preimage: &str| {
        json!({
            "url": server.url("/paid"),
            "method": "GET",
            "headers": { "x-test": "1" },
            "payment": { "payload": { "preimage": preimage }, "source": "did:example:adapter" },
            "mode": mode,
        })
    };

    let plain = response(input("plain", PREIMAGE)).await;
    assert_eq!(plain["status"], 402, "{plain}");
    assert!(
        plain["headers"]["www-authenticate"]
            .as_str()
            .unwrap()
            .contains("Payment")
    );

    let paid = response(input("payment", PREIMAGE)).await;
    assert_eq!(paid["status"], 200, "{paid}");
    assert!(paid["headers"].get("payment-receipt").is_some(), "{paid}");

    let wrong = response(input("payment", "not-the-preimage")).await;
    assert_eq!(wrong["status"], 402, "{wrong}");
    assert_eq!(wrong["headers"]["content-type"], "application/problem+json");
    assert!(problem(&wrong).ends_with("/verification-failed"), "{wrong}");

    for (mode, refused_as) in [
        ("invalid_payload", "/invalid-payload"),
        ("mismatched_request", "/invalid-challenge"),
        ("invalid_challenge_id", "/invalid-challenge"),
    ] {
        let refused = response(input(mode, PREIMAGE)).await;
        assert_eq!(refused["status"], 402, "{mode}: {refused}");
        assert!(
            problem(&refused).ends_with(refused_as),
            "{mode}: {}",
            problem(&refused)
        );
        assert!(refused["headers"].get("payment-receipt").is_none());
    }

    // A resource that is not paid for is answered as it is, in every mode.
    let free = response(json!({ "url": server.url("/"), "mode": "payment",
        "payment": { "payload": {} } }))
    .await;
    assert_ne!(free["status"], 402, "{free}");

    for bad in [
        json!({ "url": "ftp://example.com/", "mode": "plain" }),
        json!({ "url": server.url("/paid"), "mode": "pay-twice" }),
        json!({ "url": server.url("/paid"), "mode": "payment" }),
        json!({ "url": server.url("/paid"), "mode": "plain", "headers": { "bad name": "x" } }),
    ] {
        let out = call(bad.clone()).await;
        assert_eq!(out["error"]["type"], "invalid_request", "{bad}: {out}");
    }
}

/// A paid resource whose server answers a credential with a redirect to `to`.
async fn redirecting(to: String) -> String {
    let secret = Secret::new("adapter-client-redirect-secret-0123456789").unwrap();
    let binder = ChallengeBinder::new(secret);
    let app = axum::Router::new().route(
        "/hop",
        axum::routing::get(move |headers: HeaderMap| {
            let to = to.clone();
            let binder = binder.clone();
            async move {
                if headers.contains_key(header::AUTHORIZATION) {
                    return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)])
                        .into_response();
                }
                let expires = UnixTime::from(SystemTime::now()).secs() + 300;
                let expires = Timestamp::from_unix(UnixTime::from_secs(expires)).unwrap();
                let request = json!({ "amount": "1", "currency": "usd", "recipient": "r" });
                let challenge = ChallengeBuilder::new(
                    "redirect.localhost",
                    "preimage",
                    "charge",
                    request.as_object().unwrap(),
                )
                .unwrap()
                .expires(expires)
                .issue(&binder)
                .unwrap();
                (
                    StatusCode::PAYMENT_REQUIRED,
                    [(header::WWW_AUTHENTICATE, challenge.to_header().unwrap())],
                )
                    .into_response()
            }
        }),
    );
    serve(app).await
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_follows_a_redirect_to_another_origin() {
    // The landing page says whether a credential reached it.
    let landing = axum::Router::new().route(
        "/landing",
        axum::routing::get(|headers: HeaderMap| async move {
            if headers.contains_key(header::AUTHORIZATION) {
                "a credential arrived"
            } else {
                "no credential"
            }
        }),
    );
    let landing = serve(landing).await.replace("127.0.0.1", "localhost");
    let base = redirecting(format!("{landing}/landing")).await;
    let input = |mode: &str| {
        json!({
            "url": format!("{base}/hop"),
            "payment": { "payload": { "preimage": "x" } },
            "mode": mode,
        })
    };
    let followed = response(input("payment")).await;
    assert_eq!(followed["status"], 200, "{followed}");
    assert_eq!(followed["body"], "no credential");
    for mode in [
        "invalid_payload",
        "mismatched_request",
        "invalid_challenge_id",
    ] {
        let out = call(input(mode)).await;
        assert_eq!(out["error"]["type"], "http_error", "{mode}: {out}");
        assert!(
            out["error"]["message"]
                .as_str()
                .unwrap()
                .contains("redirect")
        );
    }
}
