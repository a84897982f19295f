//! `stripe/charge` end to end against the project's Stripe stand-in, and between
//! mppx 0.11.0 (the TypeScript reference SDK) and this project both ways: our
//! `PayingClient` with a `StripePayer` and mppx's own `stripe` client pay the
//! reference server's `/paid-stripe`; our client pays mppx's `stripe` server, which
//! settles through Stripe's own Node SDK pointed at the stand-in. Each payment makes
//! exactly one PaymentIntent, and a replayed credential makes none.

use std::sync::Arc;

use mpp_client::PayingClient;
use mpp_core::client::{SpendingPolicy, Wallet};
use mpp_methods::stripe::{DEFAULT_TIMEOUT, StripeApi, StripePayer, StripeSecretKey};
use mpp_reference_server::stripe::{STRIPE_PRICE_CENTS, StripeConfig};
use mpp_reference_server::{ReferenceConfig, spawn};
use mpp_test_support::mppx;
use mpp_test_support::process::ServerProcess;
use mpp_test_support::stripe::{PM_SUCCEEDS, StripeStandIn};
use serde_json::Value;

fn api(stripe: &StripeStandIn) -> StripeApi {
    let key = StripeSecretKey::new(stripe.secret_key()).unwrap();
    StripeApi::with_base(key, &stripe.base_url(), DEFAULT_TIMEOUT).unwrap()
}

fn our_client(stripe: &StripeStandIn) -> PayingClient {
    let payer = StripePayer::new(api(stripe), PM_SUCCEEDS).unwrap();
    let policy = SpendingPolicy {
        max_per_request: vec![("usd".into(), STRIPE_PRICE_CENTS)],
        ..SpendingPolicy::default()
    };
    PayingClient::new(Wallet::new(policy).with_method(Arc::new(payer), 1000)).unwrap()
}

/// Sends `authorization` again to `url`.
async fn replay(url: &str, authorization: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn reference_on(stripe: &StripeStandIn) -> mpp_reference_server::Spawned {
    let mut config = ReferenceConfig::new("a-reference-secret-of-at-least-32-bytes", "s3cret");
    config.stripe = Some(StripeConfig {
        api: api(stripe),
        network_id: "net_mpp_reference".into(),
    });
    spawn(&config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn our_client_pays_the_reference_server_once() {
    let stripe = StripeStandIn::start();
    let server = reference_on(&stripe).await;
    let url = server.url("/paid-stripe");
    let response = our_client(&stripe).get(&url).await.unwrap();
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let receipt = response.receipt.as_ref().unwrap();
    assert_eq!(receipt.method.as_str(), "stripe");
    let intents = stripe.payment_intents();
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["id"], receipt.reference.as_str());
    assert_eq!(intents[0]["amount"], 500);
    let credential = &response.payments[0].credential;
    assert_eq!(replay(&url, credential).await, 402);
    assert_eq!(stripe.charges(), 1, "a replay charges nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn mppx_pays_the_reference_server_once() {
    let Some(dir) = mppx::harness_or_skip("mppx_pays_the_reference_server_with_stripe") else {
        return;
    };
    let stripe = StripeStandIn::start();
    let server = reference_on(&stripe).await;
    let url = server.url("/paid-stripe");
    let (base, key) = (stripe.base_url(), stripe.secret_key().to_owned());
    let run = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            mppx::node(
                &dir,
                &["stripe-pay.mjs", &url],
                &[("STRIPE_API", &base), ("STRIPE_KEY", &key)],
            )
        })
        .await
        .unwrap()
    };
    let report: Value = serde_json::from_str(run.stdout.trim()).unwrap_or(Value::Null);
    assert_eq!(report["status"], 200, "{}", run.report());
    let reference = report["receipt"]["reference"].as_str().unwrap();
    assert_eq!(stripe.charges(), 1);
    assert_eq!(stripe.payment_intents()[0]["id"], reference);
    let authorization = report["authorization"].as_str().unwrap();
    assert_eq!(replay(&url, authorization).await, 402);
    assert_eq!(stripe.charges(), 1, "a replay charges nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn our_client_pays_an_mppx_stripe_server_once() {
    let Some(dir) = mppx::harness_or_skip("our_client_pays_an_mppx_stripe_server") else {
        return;
    };
    let stripe = StripeStandIn::start();
    let mut command = std::process::Command::new("node");
    command
        .arg("stripe-server.mjs")
        .current_dir(dir)
        .env("PORT", "0")
        .env("STRIPE_API", stripe.base_url())
        .env("STRIPE_KEY", stripe.secret_key());
    let server = ServerProcess::start(command, mppx::STARTUP_TIMEOUT);
    let url = server.url("/paid-stripe");
    let response = our_client(&stripe)
        .get(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}\n--- mppx ---\n{}", server.stderr()));
    assert_eq!(
        response.status,
        200,
        "{}\n--- mppx ---\n{}",
        String::from_utf8_lossy(&response.body),
        server.stderr()
    );
    let receipt = response.receipt.as_ref().unwrap();
    assert_eq!(stripe.charges(), 1);
    assert_eq!(
        stripe.payment_intents()[0]["id"],
        receipt.reference.as_str()
    );
    assert_eq!(replay(&url, &response.payments[0].credential).await, 402);
    assert_eq!(stripe.charges(), 1, "a replay charges nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_credential_for_no_issued_challenge_never_reaches_stripe() {
    // req: stripe-charge.verify.before-token
    let stripe = StripeStandIn::start();
    let server = reference_on(&stripe).await;
    let url = server.url("/paid-stripe");
    // A real payment, then the same credential with its challenge id altered:
    // refused by the paywall before the method runs.
    let response = our_client(&stripe).get(&url).await.unwrap();
    assert_eq!(response.status, 200);
    let requests_before = stripe.requests().len();
    let credential =
        mpp_core::credential::Credential::parse(response.payments[0].credential.as_bytes())
            .unwrap();
    let mut forged = credential.clone();
    forged.challenge.id =
        mpp_core::value::ChallengeId::from_string(format!("{}x", credential.challenge.id.as_str()))
            .unwrap();
    let header = forged.to_header();
    assert_eq!(replay(&url, &header).await, 402);
    assert_eq!(
        stripe.requests().len(),
        requests_before,
        "nothing reached Stripe"
    );
    assert_eq!(stripe.charges(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stripe_outage_is_a_retryable_500_and_the_retry_charges_once() {
    use mpp_test_support::stripe::Fault;
    let stripe = StripeStandIn::start();
    let server = reference_on(&stripe).await;
    let url = server.url("/paid-stripe");
    let answer = reqwest::get(&url).await.unwrap();
    assert_eq!(answer.status(), 402);
    let header = answer.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let challenge = mpp_core::challenge::Challenge::parse(header.as_bytes()).unwrap();
    let token = stripe.grant_token(PM_SUCCEEDS, "usd", 500, stripe.now() + 300);
    let mut payload = mpp_core::json::JsonObject::new();
    payload.insert("spt".into(), token.into());
    let credential = mpp_core::credential::Credential::answer(&challenge, payload, None);
    let send = || {
        reqwest::Client::new()
            .get(&url)
            .header("authorization", credential.to_header())
            .send()
    };
    // Stripe answers the PaymentIntent request with a 500: no verdict, retry later.
    stripe.inject(Fault::ServerError, 1);
    let outage = send().await.unwrap();
    assert_eq!(outage.status(), 500);
    assert!(outage.headers().contains_key("retry-after"));
    assert!(outage.headers().get("payment-receipt").is_none());
    assert_eq!(stripe.charges(), 0);
    // The same credential again: settled, once.
    let retried = send().await.unwrap();
    assert_eq!(retried.status(), 200);
    assert!(retried.headers().contains_key("payment-receipt"));
    assert_eq!(stripe.charges(), 1);
    // And not a third time.
    assert_eq!(send().await.unwrap().status(), 402);
    assert_eq!(stripe.charges(), 1);
}
