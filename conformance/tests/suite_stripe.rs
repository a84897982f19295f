//! The suite paying with `stripe/charge` through the Stripe stand-in: against a
//! paywall built here (mpp-server with `StripeCharge`, settling on the same
//! stand-in), every case that pays passes, both through the library and through
//! `mpp-conformance server --pay stripe=KEYFILE:pm_… --stripe-api URL`, whose key
//! never shows in its output; no challenge is charged twice.

use std::collections::BTreeSet;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use conformance::Status;
use conformance::suite::{self, Ctx, Payer, Selection, SuiteOptions};
use mpp_methods::stripe::{StripeApi, StripeCharge, StripeSecretKey, StripeTerms};
use mpp_server::{ChargeOffer, PaidRoute, PaywallLayer, VerifiedPayment};
use mpp_test_support::stripe::{PM_SUCCEEDS, StripeStandIn};

const PRICE: u128 = 500;
const INTENTS: &str = "/v1/payment_intents";

/// The paywall: `GET /paid-stripe` asks 500 usd by `stripe/charge`, settled through
/// `stripe`. Served on a loopback port until the runtime ends.
async fn paywall(stripe: &StripeStandIn) -> String {
    let key = StripeSecretKey::new(stripe.secret_key()).unwrap();
    let api = StripeApi::with_base(key, &stripe.base_url(), Duration::from_secs(5)).unwrap();
    let offer = ChargeOffer::new(
        Arc::new(StripeCharge::new(api)),
        StripeTerms::new(PRICE, "usd", "profile_suite").to_request(),
    );
    let layer = PaywallLayer::builder(b"a-suite-stripe-secret-of-at-least-32-bytes", "suite.test")
        .unwrap()
        .route(PaidRoute::new(http::Method::GET, "/paid-stripe").offer(offer))
        .build()
        .unwrap();
    let app = Router::new()
        .route(
            "/paid-stripe",
            get(|_: VerifiedPayment| async { "paid by card" }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/paid-stripe")
}

/// The succeeded PaymentIntents' challenge ids: each at most once.
#[track_caller]
fn assert_charged_once_per_challenge(stripe: &StripeStandIn) -> usize {
    let charged: Vec<String> = stripe
        .payment_intents()
        .iter()
        .filter(|pi| pi["status"] == "succeeded")
        .map(|pi| {
            pi["metadata"]["mpp_challenge_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let distinct: BTreeSet<&String> = charged.iter().collect();
    assert_eq!(distinct.len(), charged.len(), "a challenge charged twice");
    charged.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paying_with_stripe_a_stripe_paywall_passes_every_paid_case() {
    let stripe = StripeStandIn::start();
    let url = paywall(&stripe).await;

    let key = StripeSecretKey::new(stripe.secret_key()).unwrap();
    let payer =
        Payer::stripe(key, PM_SUCCEEDS, &stripe.base_url(), Duration::from_secs(5)).unwrap();
    assert!(!format!("{payer:?}").contains(stripe.secret_key()));
    let options = SuiteOptions {
        payer: Some(payer),
        ..SuiteOptions::default()
    };
    let ctx = Ctx::new(url.parse().unwrap(), options).unwrap();
    let selection = Selection {
        only: Vec::new(),
        strict: true,
    };
    let report = suite::run(&ctx, &selection).await;
    assert!(!report.failed(), "{}", report.to_text(true));
    assert_eq!(
        report
            .cases
            .iter()
            .filter(|c| c.status == Status::Skipped)
            .count(),
        0,
        "{}",
        report.to_text(true)
    );
    let paid: BTreeSet<&str> = suite::cases()
        .into_iter()
        .filter(|c| c.pays)
        .map(|c| c.id)
        .collect();
    let not_run: Vec<_> = report
        .cases
        .iter()
        .filter(|c| paid.contains(c.id.as_str()) && c.status != Status::Passed)
        .map(|c| (c.id.clone(), c.status))
        .collect();
    // Only what this paywall does not offer: the Payment-Authorization field, and a
    // paid POST route.
    assert_eq!(
        not_run,
        vec![
            (
                "paid.other-field-not-shared".to_owned(),
                Status::NotApplicable
            ),
            (
                "digest.other-body-refused".to_owned(),
                Status::NotApplicable
            ),
        ],
        "{}",
        report.to_text(true)
    );
    // Paid for real on the stand-in, never twice for one challenge; the bad proof
    // was a token Stripe refused for its limits.
    let charges = assert_charged_once_per_challenge(&stripe);
    assert!(charges > 0, "nothing was charged");
    assert_eq!(stripe.charges(), charges);
    assert!(
        stripe.requests_to(INTENTS).iter().any(|r| r.status == 400),
        "no PaymentIntent refused a token: {:?}",
        stripe.requests_to(INTENTS)
    );
    assert!(
        stripe
            .payment_intents()
            .iter()
            .all(|pi| pi["amount"] == 500),
        "{:?}",
        stripe.payment_intents()
    );
}

fn run_binary(args: Vec<String>) -> tokio::task::JoinHandle<Output> {
    let bin = env!("CARGO_BIN_EXE_mpp-conformance");
    tokio::task::spawn_blocking(move || Command::new(bin).args(&args).output().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_pays_with_stripe_from_a_key_file_and_refuses_bad_options() {
    let stripe = StripeStandIn::start();
    let url = paywall(&stripe).await;
    let api = stripe.base_url();
    let secret = stripe.secret_key().to_owned();
    let dir = std::env::temp_dir().join(format!("suite-stripe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key_file = dir.join("stripe.key");
    std::fs::write(&key_file, format!("{secret}\n")).unwrap();
    let pay = format!("stripe={}:{PM_SUCCEEDS}", key_file.display());
    let args = |extra: &[&str]| {
        let mut args: Vec<String> = vec!["server".into(), url.clone()];
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let text = |out: &Output| {
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let out = run_binary(args(&[
        "--pay",
        &pay,
        "--stripe-api",
        &api,
        "--only",
        "paid,replay,credential",
    ]))
    .await
    .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains(&secret) && !stderr.contains(&secret));
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(!stdout.contains("SKIP"), "{stdout}");
    assert!(assert_charged_once_per_challenge(&stripe) > 0);
    let requests_after_run = stripe.requests().len();

    // Usage errors, before anything is sent to Stripe.
    let usage = |out: &Output, needle: &str| {
        let (stdout, stderr) = text(out);
        assert_eq!(out.status.code(), Some(64), "{stdout}\n{stderr}");
        assert!(stderr.contains(needle), "{needle:?}:\n{stderr}");
        assert!(!stdout.contains(&secret) && !stderr.contains(&secret));
    };
    // No payment method, or not a pm_ one.
    let no_pm = format!("stripe={}", key_file.display());
    let out = run_binary(args(&["--pay", &no_pm])).await.unwrap();
    usage(&out, "expected stripe=KEYFILE:PAYMENT_METHOD");
    let bad_pm = format!("stripe={}:card_visa", key_file.display());
    let out = run_binary(args(&["--pay", &bad_pm])).await.unwrap();
    usage(&out, "expected stripe=KEYFILE:PAYMENT_METHOD");
    let odd_pm = format!("stripe={}:pm_no-dashes", key_file.display());
    let out = run_binary(args(&["--pay", &odd_pm])).await.unwrap();
    usage(&out, "pm_no-dashes");
    // A missing key file, and one that holds no secret key (its content unshown).
    let out = run_binary(args(&[
        "--pay",
        "stripe=/nonexistent/stripe.key:pm_card_visa",
    ]))
    .await
    .unwrap();
    usage(&out, "cannot read the key file /nonexistent/stripe.key");
    let bad_key = dir.join("bad.key");
    std::fs::write(&bad_key, "pk_test_PUBLISHABLE77x\n").unwrap();
    let out = run_binary(args(&[
        "--pay",
        &format!("stripe={}:{PM_SUCCEEDS}", bad_key.display()),
    ]))
    .await
    .unwrap();
    usage(&out, "starts with sk_");
    assert!(!text(&out).1.contains("PUBLISHABLE77x"));
    // An API base that is not a URL, and --stripe-api without stripe.
    let out = run_binary(args(&["--pay", &pay, "--stripe-api", "ftp://stripe"]))
        .await
        .unwrap();
    usage(&out, "--stripe-api ftp://stripe");
    let out = run_binary(args(&["--pay", "preimage=x", "--stripe-api", &api]))
        .await
        .unwrap();
    usage(&out, "--stripe-api is used only with --pay stripe=");
    assert_eq!(stripe.requests().len(), requests_after_run);

    // The help documents the syntax.
    let out = run_binary(vec!["server".into(), "--help".into()])
        .await
        .unwrap();
    let (help, _) = text(&out);
    for needle in [
        "stripe=KEYFILE:pm_",
        "--stripe-api",
        "--pay stripe=stripe.key:pm_card_visa",
    ] {
        assert!(help.contains(needle), "{needle:?} missing:\n{help}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
