//! End to end against the reference server itself (`mpp_reference_server::app`, as
//! the `mpp-server` binary runs it): every paid route is paid once, with the method
//! the wallet holds, and the handler runs once per payment.

use std::sync::Arc;
use std::time::Duration;

use http::Method;
use mpp_client::{PaidRequest, PayingClient, PayingError};
use mpp_core::client::{SpendingPolicy, Wallet};
use mpp_core::credential::CredentialField;
use mpp_methods::preimage::PreimagePayer;
use mpp_methods::token::TokenPayer;
use mpp_reference_server::{self as reference, ReferenceConfig, Spawned};
use mpp_server::MemoryStore;
use reqwest::Url;

const PREIMAGE: &str = "reference-e2e-preimage";
const TOKEN: &str = "reference-e2e-token";

/// The reference server on a loopback port.
async fn start(field: CredentialField) -> Spawned {
    start_with(field, Duration::from_secs(300)).await
}

/// As [`start`], closing sessions left unused for `session_idle`.
async fn start_with(field: CredentialField, session_idle: Duration) -> Spawned {
    let config = ReferenceConfig {
        token: TOKEN.into(),
        realm: "reference.localhost".into(),
        credential_field: field,
        store: Arc::new(MemoryStore::new(1000)),
        session_idle,
        ..ReferenceConfig::new("reference-e2e-secret-0123456789abcdef0123", PREIMAGE)
    };
    reference::spawn(&config).await.unwrap()
}

fn policy(cap: u128) -> SpendingPolicy {
    SpendingPolicy {
        max_per_request: vec![(reference::CURRENCY.into(), cap)],
        budget: vec![(reference::CURRENCY.into(), 10 * cap)],
        ..SpendingPolicy::default()
    }
}

async fn paid_handler_runs(client: &reqwest::Client, base: &str) -> u64 {
    let body = client
        .get(format!("{base}/stats"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&body).unwrap();
    stats["paidHandlerRuns"].as_u64().unwrap()
}

#[tokio::test]
async fn every_paid_route_of_the_reference_server_is_paid_once() {
    for field in [
        CredentialField::Authorization,
        CredentialField::PaymentAuthorization,
    ] {
        let server = start(field).await;
        let base = server.url("");
        let preimage = PayingClient::new(
            Wallet::new(policy(1000)).with_method(Arc::new(PreimagePayer::new(PREIMAGE)), 1000),
        )
        .unwrap();

        let response = preimage.get(&format!("{base}/paid")).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.receipt.as_ref().unwrap().method, "preimage");
        assert_eq!(response.payments.len(), 1);
        assert_eq!(response.payments[0].amount, 1000);

        let body = br#"{"order":7}"#;
        let post = PaidRequest::new(
            Method::POST,
            Url::parse(&format!("{base}/paid-post")).unwrap(),
        )
        .body(&body[..]);
        let response = preimage.send(post).await.unwrap();
        assert_eq!(response.status, 200);
        let echoed: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(echoed["received"], body.len());
        assert!(response.payments[0].challenge.digest.is_some());

        // A wallet holding only the token method pays /paid-multi's token offer.
        let token = PayingClient::new(
            Wallet::new(policy(1000)).with_method(Arc::new(TokenPayer::new(TOKEN)), 1000),
        )
        .unwrap();
        let response = token.get(&format!("{base}/paid-multi")).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.receipt.unwrap().method, "token");

        // Under the price: nothing is paid, and the handler does not run.
        let frugal = PayingClient::new(
            Wallet::new(policy(999)).with_method(Arc::new(PreimagePayer::new(PREIMAGE)), 1000),
        )
        .unwrap();
        match frugal.get(&format!("{base}/paid")).await {
            Err(PayingError::Declined(_)) => {}
            other => panic!("expected a refusal, got {other:?}"),
        }

        assert_eq!(paid_handler_runs(&reqwest::Client::new(), &base).await, 3);
    }
}

#[tokio::test]
async fn lightning_charge_is_paid_from_the_test_network_wallet() {
    use mpp_client::testnet::TestnetWallet;
    use mpp_methods::lightning::{InvoiceRequest, InvoiceState, LightningNode, LightningPayer};

    let server = start(CredentialField::Authorization).await;
    let base = server.url("");
    let wallet = Arc::new(TestnetWallet::connect(&base).await.unwrap());
    let payer = LightningPayer::new(wallet.clone(), wallet.network());
    let policy = SpendingPolicy {
        max_per_request: vec![("sat".into(), 100)],
        budget: vec![("sat".into(), 150)],
        ..SpendingPolicy::default()
    };
    let client = PayingClient::new(Wallet::new(policy).with_method(Arc::new(payer), 1000)).unwrap();
    let url = format!("{base}/paid-lightning");
    let response = client.get(&url).await.unwrap();
    assert_eq!(response.status, 200);
    let receipt = response.receipt.unwrap();
    assert_eq!(receipt.method, "lightning");
    assert_eq!(
        receipt.reference.len(),
        64,
        "the payment hash, never the preimage"
    );
    // The budget allows one payment of 100 sat, not two.
    assert!(client.get(&url).await.is_err(), "over budget");

    // The wallet's own invoices are payable by the server's network and observable.
    let invoice = wallet
        .create_invoice(&InvoiceRequest {
            amount_msat: Some(5_000),
            description: "test".into(),
            expiry_secs: 600,
        })
        .await
        .unwrap();
    let (state, received) = wallet.invoice_state(invoice.payment_hash()).await.unwrap();
    assert_eq!((state, received), (InvoiceState::Open, 0));
    // A garbage invoice is a clear error, not a payment.
    let garbage = reqwest::Client::new()
        .post(format!("{base}/testnet/payments"))
        .body(r#"{"invoice":"lnbc-not-an-invoice"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
}

#[tokio::test]
async fn a_session_payer_tops_up_and_reopens_on_its_own() {
    use mpp_client::testnet::TestnetWallet;
    use mpp_client::{PaymentKind, origin_of};
    use mpp_methods::lightning::LightningSessionPayer;

    // Idle sessions close after 3 s (the 25 requests below take far less).
    let server = start_with(CredentialField::Authorization, Duration::from_secs(3)).await;
    let base = server.url("");
    let wallet = Arc::new(TestnetWallet::connect(&base).await.unwrap());
    let payer = Arc::new(LightningSessionPayer::new(wallet));
    // One request may cost a deposit (or a top-up) of 40 sat: 20 units of 2 sat.
    let policy = SpendingPolicy {
        max_per_request: vec![("sat".into(), 40)],
        budget: vec![("sat".into(), 1000)],
        ..SpendingPolicy::default()
    };
    let client = PayingClient::new(Wallet::new(policy).with_method(payer.clone(), 1000)).unwrap();
    let url = format!("{base}/session/metered");
    let origin = origin_of(&Url::parse(&url).unwrap());
    let paid = |response: &mpp_client::PaidResponse| -> Vec<(PaymentKind, u128)> {
        assert_eq!(response.status, 200, "{:?}", response.body);
        response.payments.iter().map(|p| (p.kind, p.cost)).collect()
    };
    let receipt = |response: mpp_client::PaidResponse| response.receipt.expect("a receipt");

    // The 21st request finds the session spent, and the client tops it up by itself
    // and is served.
    let first = client.get(&url).await.unwrap();
    assert_eq!(paid(&first), [(PaymentKind::SessionOpen, 40)]);
    let first = receipt(first);
    let session = payer.session_id(&origin).expect("a session is open");
    assert_eq!(first.reference, session);
    for n in 2..=25u64 {
        let response = client.get(&url).await.unwrap();
        let expected: &[_] = if n == 21 {
            &[
                (PaymentKind::SessionUse, 0),
                (PaymentKind::TopUp, 40),
                (PaymentKind::SessionUse, 0),
            ]
        } else {
            &[(PaymentKind::SessionUse, 0)]
        };
        assert_eq!(paid(&response), expected, "request {n}");
        let r = receipt(response);
        assert_eq!(r.reference, session, "one session throughout");
        assert_eq!(r.extra["spent"], (2 * n).to_string());
    }

    // Left unused, the server closes the session; the next request opens a new one,
    // and says so.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let reopened = client.get(&url).await.unwrap();
    assert_eq!(
        paid(&reopened),
        [(PaymentKind::SessionUse, 0), (PaymentKind::SessionOpen, 40)]
    );
    let reopened = receipt(reopened);
    assert_ne!(reopened.reference, session, "a new session");
    assert_eq!(reopened.extra["spent"], "2");
    assert_eq!(
        payer.session_id(&origin).as_deref(),
        Some(reopened.reference.as_str())
    );
    assert_eq!(client.wallet().lock().await.spent(), [("sat".into(), 120)]);
}
