//! `stripe/charge` against the Stripe stand-in on loopback: the server half settles
//! each challenge at most once whatever the payer or the network does, refuses what
//! it must before calling Stripe, and maps Stripe's answers onto problem types; the
//! client half mints tokens limited to exactly the challenge; and the two together
//! make a payment.

use std::time::Duration;

use mpp_core::challenge::Challenge;
use mpp_core::client::{Choice, Origin, PayError, PayMethod};
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{Charge, ChargeMethod, MethodError};
use mpp_core::problem::ProblemType;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::Base64Json;
use mpp_methods::stripe::{
    SptEndpoint, StripeApi, StripeCharge, StripeChargeError, StripeConnect, StripePayer,
    StripeSecretKey, StripeTerms, stripe_minimum_amount,
};
use mpp_test_support::stripe::{
    Fault, PM_AUTHENTICATION_REQUIRED, PM_DECLINED, PM_SUCCEEDS, StripeStandIn,
};
use serde_json::json;

const REALM: &str = "api.example.com";
const PRICE: u128 = 500;
const INTENTS: &str = "/v1/payment_intents";

fn api(stripe: &StripeStandIn, timeout: Duration) -> StripeApi {
    let key = StripeSecretKey::new(stripe.secret_key()).unwrap();
    StripeApi::with_base(key, &stripe.base_url(), timeout).unwrap()
}

fn server(stripe: &StripeStandIn) -> StripeCharge {
    StripeCharge::new(api(stripe, Duration::from_secs(5)))
}

fn terms() -> StripeTerms {
    StripeTerms::new(PRICE, "usd", "internal")
}

fn challenge(id: &str, request: &JsonObject, expires: &str) -> Challenge<'static> {
    let header = format!(
        r#"Payment id="{id}", realm="{REALM}", method="stripe", intent="charge", request="{}", expires="{expires}""#,
        Base64Json::encode(request)
    );
    Challenge::parse(header.as_bytes()).unwrap().into_owned()
}

fn payload(spt: &str, external_id: Option<&str>) -> JsonObject {
    let mut payload = JsonObject::new();
    payload.insert("spt".into(), spt.into());
    if let Some(id) = external_id {
        payload.insert("externalId".into(), id.into());
    }
    payload
}

/// A token of `stripe` for `pm`, allowed the price in dollars for ten minutes.
fn token(stripe: &StripeStandIn, pm: &str) -> String {
    stripe.grant_token(pm, "usd", PRICE as u64, stripe.now() + 600)
}

/// What `charge` says of `payload` for challenge `id` of `terms`: the payload
/// check first, then settlement, as the paywall calls them.
async fn settle(
    charge: &StripeCharge,
    id: &str,
    terms: &StripeTerms,
    payload: &JsonObject,
) -> Result<(String, JsonObject), MethodError> {
    let request = terms.to_request();
    let challenge = challenge(id, &request, "2099-01-01T00:00:00Z");
    charge.check_payload(&request, payload)?;
    let settled = charge
        .settle(Charge {
            challenge: &challenge,
            request: &request,
            payload,
            source: None,
        })
        .await?;
    Ok((settled.reference, settled.extra))
}

/// The same, with the method's own error kinds.
async fn verify(
    charge: &StripeCharge,
    id: &str,
    terms: &StripeTerms,
    payload: &JsonObject,
) -> Result<String, StripeChargeError> {
    let request = terms.to_request();
    let challenge = challenge(id, &request, "2099-01-01T00:00:00Z");
    charge
        .verify(Charge {
            challenge: &challenge,
            request: &request,
            payload,
            source: None,
        })
        .await
        .map(|s| s.reference)
}

#[tokio::test]
async fn a_second_token_for_the_same_challenge_never_charges_twice() {
    // req: stripe-charge.single-use
    let stripe = StripeStandIn::start();
    let charge = server(&stripe);
    let (first, second) = (token(&stripe, PM_SUCCEEDS), token(&stripe, PM_SUCCEEDS));
    let (reference, _) = settle(&charge, "ch-double", &terms(), &payload(&first, None))
        .await
        .unwrap();
    assert!(reference.starts_with("pi_"));
    // The payer mints another token for the same challenge and it reaches
    // settlement (a retry, a second server instance): Stripe sees the same key.
    let again = verify(&charge, "ch-double", &terms(), &payload(&second, None)).await;
    assert_eq!(again, Err(StripeChargeError::AlreadySettled));
    assert_eq!(
        MethodError::from(StripeChargeError::AlreadySettled).problem_type(),
        ProblemType::VerificationFailed
    );
    assert_eq!(stripe.payment_intents().len(), 1);
    assert_eq!(stripe.charges(), 1);
    let keys: Vec<_> = stripe
        .requests_to(INTENTS)
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(
        keys[0].as_deref(),
        Some(StripeCharge::idempotency_key("ch-double").as_str())
    );
    // The second token is untouched: it can still pay elsewhere, and nothing of it
    // was spent.
    assert!(
        stripe.payment_intents()[0]["shared_payment_granted_token"] == first.as_str(),
        "the PaymentIntent is the first token's"
    );
}

#[tokio::test]
async fn a_500_then_a_retry_of_the_same_credential_makes_one_payment_intent() {
    let stripe = StripeStandIn::start();
    let charge = server(&stripe);
    let credential = payload(&token(&stripe, PM_SUCCEEDS), None);
    stripe.inject(Fault::ServerError, 1);
    let failed = settle(&charge, "ch-500", &terms(), &credential)
        .await
        .unwrap_err();
    assert_eq!(failed.problem_type(), ProblemType::InternalPaymentError);
    assert_eq!(stripe.payment_intents().len(), 0);
    let (reference, _) = settle(&charge, "ch-500", &terms(), &credential)
        .await
        .unwrap();
    assert_eq!(stripe.payment_intents().len(), 1);
    assert_eq!(stripe.payment_intents()[0]["id"], reference.as_str());
    // And once more (the paywall would not, but Stripe's key holds anyway).
    let (replayed, _) = settle(&charge, "ch-500", &terms(), &credential)
        .await
        .unwrap();
    assert_eq!(replayed, reference);
    assert_eq!(stripe.charges(), 1);
    assert!(stripe.requests_to(INTENTS).last().unwrap().replayed);
}

#[tokio::test]
async fn an_answer_lost_to_a_timeout_is_replayed_to_the_retry_as_the_same_payment_intent() {
    let stripe = StripeStandIn::start();
    let charge = StripeCharge::new(api(&stripe, Duration::from_millis(400)));
    let credential = payload(&token(&stripe, PM_SUCCEEDS), None);
    stripe.inject(Fault::Delay(Duration::from_millis(1500)), 1);
    let timed_out = settle(&charge, "ch-slow", &terms(), &credential)
        .await
        .unwrap_err();
    assert_eq!(timed_out.problem_type(), ProblemType::InternalPaymentError);
    // Stripe charged, but its answer never arrived; while the first request is still
    // being answered, its key is in use (409): still no verdict.
    assert_eq!(stripe.charges(), 1);
    let busy = settle(&charge, "ch-slow", &terms(), &credential)
        .await
        .unwrap_err();
    assert_eq!(busy.problem_type(), ProblemType::InternalPaymentError);
    assert_eq!(stripe.requests_to(INTENTS)[1].status, 409);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (reference, _) = settle(&charge, "ch-slow", &terms(), &credential)
        .await
        .unwrap();
    assert_eq!(stripe.payment_intents()[0]["id"], reference.as_str());
    assert_eq!(stripe.payment_intents().len(), 1);
    assert!(stripe.requests_to(INTENTS).last().unwrap().replayed);
}

#[tokio::test]
async fn rate_limits_and_an_unreachable_stripe_are_internal_errors_with_nothing_charged() {
    let stripe = StripeStandIn::start();
    let charge = server(&stripe);
    let credential = payload(&token(&stripe, PM_SUCCEEDS), None);
    stripe.inject(Fault::RateLimited, 1);
    let limited = settle(&charge, "ch-429", &terms(), &credential)
        .await
        .unwrap_err();
    assert_eq!(limited.problem_type(), ProblemType::InternalPaymentError);
    assert_eq!(stripe.payment_intents().len(), 0);
    // Nothing listens on the port of a stopped stand-in.
    let base = stripe.base_url();
    let key = StripeSecretKey::new(stripe.secret_key()).unwrap();
    drop(stripe);
    let gone = StripeCharge::new(StripeApi::with_base(key, &base, Duration::from_secs(2)).unwrap());
    let unreachable = verify(&gone, "ch-gone", &terms(), &credential).await;
    assert!(
        matches!(unreachable, Err(StripeChargeError::Unavailable(_))),
        "{unreachable:?}"
    );
}

#[tokio::test]
async fn a_declined_card_fails_verification_with_its_decline_code() {
    // req: stripe-charge.settle.succeeded-only
    let stripe = StripeStandIn::start();
    let charge = server(&stripe);
    let credential = payload(&token(&stripe, PM_DECLINED), None);
    let declined = settle(&charge, "ch-declined", &terms(), &credential)
        .await
        .unwrap_err();
    assert_eq!(declined.problem_type(), ProblemType::VerificationFailed);
    assert!(declined.message().contains("generic_decline"), "{declined}");
    assert_eq!(stripe.charges(), 0);
    assert_eq!(stripe.requests_to(INTENTS)[0].status, 402);
}

#[tokio::test]
async fn a_card_that_needs_authentication_asks_the_payer_to_act() {
    // req: stripe-charge.settle.succeeded-only
    let stripe = StripeStandIn::start();
    let charge = server(&stripe);
    let credential = payload(&token(&stripe, PM_AUTHENTICATION_REQUIRED), None);
    let action = settle(&charge, "ch-3ds", &terms(), &credential)
        .await
        .unwrap_err();
    assert_eq!(action.problem_type(), ProblemType::PaymentActionRequired);
    assert_eq!(stripe.payment_intents()[0]["status"], "requires_action");
    assert_eq!(stripe.charges(), 0);
}

#[tokio::test]
async fn a_token_outside_its_limits_or_spent_is_refused() {
    let stripe = StripeStandIn::start();
    let charge = server(&stripe);
    let small = stripe.grant_token(PM_SUCCEEDS, "usd", 100, stripe.now() + 600);
    let euros = stripe.grant_token(PM_SUCCEEDS, "eur", PRICE as u64, stripe.now() + 600);
    let soon = stripe.grant_token(PM_SUCCEEDS, "usd", PRICE as u64, stripe.now() + 60);
    let once = token(&stripe, PM_SUCCEEDS);
    for (id, spt) in [("ch-small", &small), ("ch-eur", &euros)] {
        let refused = verify(&charge, id, &terms(), &payload(spt, None)).await;
        assert!(
            matches!(refused, Err(StripeChargeError::TokenRefused(_))),
            "{refused:?}"
        );
    }
    verify(&charge, "ch-once-1", &terms(), &payload(&once, None))
        .await
        .unwrap();
    let spent = verify(&charge, "ch-once-2", &terms(), &payload(&once, None)).await;
    assert!(
        matches!(spent, Err(StripeChargeError::TokenRefused(_))),
        "{spent:?}"
    );
    stripe.advance_clock(120);
    let expired = verify(&charge, "ch-late", &terms(), &payload(&soon, None)).await;
    assert!(
        matches!(expired, Err(StripeChargeError::TokenRefused(_))),
        "{expired:?}"
    );
    assert_eq!(stripe.charges(), 1);
    assert_eq!(
        MethodError::from(expired.unwrap_err()).problem_type(),
        ProblemType::VerificationFailed
    );
}

#[tokio::test]
async fn a_bound_external_id_must_match_and_the_receipt_takes_the_requests() {
    let stripe = StripeStandIn::start();
    let charge = server(&stripe);
    let mut bound = terms();
    bound.external_id = Some("order_12345".into());
    let spt = token(&stripe, PM_SUCCEEDS);
    for wrong in [None, Some("order_999")] {
        let refused = verify(&charge, "ch-ext", &bound, &payload(&spt, wrong)).await;
        assert_eq!(refused, Err(StripeChargeError::ExternalIdMismatch));
        let request = bound.to_request();
        let problem = charge
            .check_payload(&request, &payload(&spt, wrong))
            .unwrap_err();
        // Answered as a credential for other terms than its challenge's, with the
        // status of a failed verification (both 402).
        assert_eq!(problem.problem_type(), ProblemType::VerificationFailed);
        assert_eq!(
            problem.specific().map(|p| p.type_uri.as_str()),
            Some(ProblemType::InvalidChallenge.uri().as_str())
        );
    }
    assert!(
        stripe.requests().is_empty(),
        "refused before any Stripe call"
    );
    let (_, extra) = settle(
        &charge,
        "ch-ext",
        &bound,
        &payload(&spt, Some("order_12345")),
    )
    .await
    .unwrap();
    assert_eq!(extra.get("externalId"), Some(&Value::from("order_12345")));
    // Unbound: the payer's own reference never reaches the receipt.
    let (_, extra) = settle(
        &charge,
        "ch-unbound",
        &terms(),
        &payload(&token(&stripe, PM_SUCCEEDS), Some("client_ref")),
    )
    .await
    .unwrap();
    assert!(extra.get("externalId").is_none());
}

#[tokio::test]
async fn malformed_payloads_are_refused_before_any_stripe_call() {
    // req: stripe-charge.verify.before-token
    let stripe = StripeStandIn::start();
    let charge = server(&stripe);
    let request = terms().to_request();
    let bad = [
        json!({}),
        json!({"spt": 7}),
        json!({"spt": "tok_123"}),
        json!({"spt": "spt_"}),
        json!({"spt": "spt_a b"}),
        json!({"spt": "spt_ok", "externalId": 5}),
    ];
    for payload in bad {
        let Value::Object(payload) = payload else {
            unreachable!()
        };
        let problem = charge.check_payload(&request, &payload).unwrap_err();
        assert_eq!(
            problem.problem_type(),
            ProblemType::InvalidPayload,
            "{payload:?}"
        );
    }
    assert!(stripe.requests().is_empty());
}

#[tokio::test]
async fn the_payment_intent_carries_the_terms_the_challenge_and_the_stripe_version() {
    // req: stripe-charge.verify.challenge-binding
    let stripe = StripeStandIn::start();
    let charge = StripeCharge::new(
        api(&stripe, Duration::from_secs(5)).stripe_version("2026-07-29.preview"),
    );
    let mut with_metadata = terms();
    with_metadata.metadata = Some([("plan".to_string(), "pro".to_string())].into());
    settle(
        &charge,
        "ch-meta",
        &with_metadata,
        &payload(&token(&stripe, PM_SUCCEEDS), None),
    )
    .await
    .unwrap();
    let sent = &stripe.requests_to(INTENTS)[0];
    assert_eq!(sent.param("amount"), Some("500"));
    assert_eq!(sent.param("currency"), Some("usd"));
    assert_eq!(sent.param("confirm"), Some("true"));
    assert_eq!(
        sent.param("automatic_payment_methods[enabled]"),
        Some("true")
    );
    assert_eq!(
        sent.param("automatic_payment_methods[allow_redirects]"),
        Some("never")
    );
    assert_eq!(sent.param("metadata[plan]"), Some("pro"));
    assert_eq!(sent.param("metadata[mpp_challenge_id]"), Some("ch-meta"));
    assert_eq!(sent.param("metadata[mpp_server_id]"), Some(REALM));
    assert_eq!(sent.stripe_version.as_deref(), Some("2026-07-29.preview"));
    assert_eq!(sent.stripe_account, None);
    // Terms may not write the server's own metadata keys.
    let mut reserved = terms();
    reserved.metadata = Some([("mpp_challenge_id".to_string(), "x".to_string())].into());
    assert!(charge.check_terms(&reserved).is_err());
}

#[tokio::test]
async fn connect_parameters_come_from_the_servers_configuration_only() {
    // req: stripe-charge.connect.not-in-challenge, stripe-charge.connect.not-from-client, stripe-charge.connect.amounts
    let stripe = StripeStandIn::start();
    // A challenge and a credential that try to route the money: ignored.
    let mut sneaky = terms();
    sneaky.metadata = Some([("transfer_data".to_string(), "acct_evil".to_string())].into());
    let mut credential = payload(&token(&stripe, PM_SUCCEEDS), None);
    credential.insert("stripe_account".into(), "acct_evil".into());
    credential.insert("application_fee_amount".into(), "499".into());
    settle(&server(&stripe), "ch-plain", &sneaky, &credential)
        .await
        .unwrap();
    let sent = &stripe.requests_to(INTENTS)[0];
    assert_eq!(sent.stripe_account, None);
    for name in [
        "application_fee_amount",
        "on_behalf_of",
        "transfer_data[destination]",
        "transfer_data[amount]",
        "transfer_group",
    ] {
        assert_eq!(sent.param(name), None, "{name}");
    }
    // Configured: exactly the configuration's.
    let connect = StripeConnect {
        stripe_account: Some("acct_1Platform".into()),
        application_fee_amount: Some(50),
        on_behalf_of: Some("acct_2Seller".into()),
        transfer_destination: Some("acct_2Seller".into()),
        transfer_amount: Some(400),
        transfer_group: Some("order_7".into()),
    };
    let charge = server(&stripe).connect(connect.clone()).unwrap();
    settle(
        &charge,
        "ch-connect",
        &terms(),
        &payload(&token(&stripe, PM_SUCCEEDS), None),
    )
    .await
    .unwrap();
    let sent = &stripe.requests_to(INTENTS)[1];
    assert_eq!(sent.stripe_account.as_deref(), Some("acct_1Platform"));
    assert_eq!(sent.param("application_fee_amount"), Some("50"));
    assert_eq!(sent.param("on_behalf_of"), Some("acct_2Seller"));
    assert_eq!(
        sent.param("transfer_data[destination]"),
        Some("acct_2Seller")
    );
    assert_eq!(sent.param("transfer_data[amount]"), Some("400"));
    assert_eq!(sent.param("transfer_group"), Some("order_7"));
    // Amounts above a route's price are refused when the route is configured, and
    // at settlement before Stripe is called.
    let cheap = StripeTerms::new(300, "usd", "internal");
    assert!(matches!(
        charge.check_terms(&cheap),
        Err(StripeChargeError::InvalidTerms(_))
    ));
    let before = stripe.requests().len();
    let refused = verify(
        &charge,
        "ch-cheap",
        &cheap,
        &payload(&token(&stripe, PM_SUCCEEDS), None),
    )
    .await;
    assert!(
        matches!(refused, Err(StripeChargeError::InvalidTerms(_))),
        "{refused:?}"
    );
    assert_eq!(stripe.requests().len(), before);
    assert!(
        server(&stripe)
            .connect(StripeConnect {
                stripe_account: Some("not_an_account".into()),
                ..StripeConnect::default()
            })
            .is_err()
    );
}

#[tokio::test]
async fn minimum_amounts_are_refused_when_a_route_is_configured() {
    let stripe = StripeStandIn::start();
    let charge = server(&stripe).minimum_amounts(stripe_minimum_amount);
    assert!(
        charge
            .check_terms(&StripeTerms::new(50, "usd", "n"))
            .is_ok()
    );
    assert!(
        charge
            .check_terms(&StripeTerms::new(49, "usd", "n"))
            .is_err()
    );
    assert!(
        charge
            .check_terms(&StripeTerms::new(29, "gbp", "n"))
            .is_err()
    );
    // Without minimums configured, the route's terms are the server's business.
    assert!(
        server(&stripe)
            .check_terms(&StripeTerms::new(49, "usd", "n"))
            .is_ok()
    );
}

#[tokio::test]
async fn the_secret_key_never_shows_in_debug_or_errors() {
    let stripe = StripeStandIn::start();
    let secret = stripe.secret_key().to_string();
    let charge = server(&stripe);
    let payer = StripePayer::new(api(&stripe, Duration::from_secs(5)), PM_SUCCEEDS).unwrap();
    for shown in [format!("{charge:?}"), format!("{payer:?}")] {
        assert!(!shown.contains(&secret[8..]), "{shown}");
    }
    let wrong = StripeSecretKey::new("sk_test_wrongKEYwrongKEY").unwrap();
    let refused = StripeCharge::new(
        StripeApi::with_base(wrong, &stripe.base_url(), Duration::from_secs(5)).unwrap(),
    );
    let error = settle(
        &refused,
        "ch-key",
        &terms(),
        &payload(&token(&stripe, PM_SUCCEEDS), None),
    )
    .await
    .unwrap_err();
    assert_eq!(error.problem_type(), ProblemType::InternalPaymentError);
    assert!(!error.message().contains("wrongKEY"), "{error}");
    assert_eq!(stripe.requests_to(INTENTS)[0].status, 401);
    // The stand-in's log keeps no credentials either.
    assert!(!format!("{:?}", stripe.requests()).contains(&secret[8..]));
}

/// A choice of `request` expiring `in_secs` from now, with `cost` reserved.
fn choice(request: &JsonObject, in_secs: i64, cost: u128) -> Choice {
    let now = UnixTime::from(std::time::SystemTime::now()).secs();
    let expires = Timestamp::from_unix(UnixTime::from_secs(now + in_secs)).unwrap();
    Choice {
        challenge: challenge("ch-pay", request, expires.as_str()),
        request: request.clone(),
        amount: PRICE,
        currency: "usd".into(),
        method: 0,
        origin: Origin::new("http", "127.0.0.1", 8080),
        cost,
    }
}

#[tokio::test]
async fn the_payer_mints_a_token_for_exactly_the_challenge() {
    let stripe = StripeStandIn::start();
    let payer = StripePayer::new(api(&stripe, Duration::from_secs(5)), PM_SUCCEEDS).unwrap();
    let mut bound = terms();
    bound.external_id = Some("order_1".into());
    let choice = choice(&bound.to_request(), 300, PRICE);
    assert_eq!(payer.cost(&choice), Ok(PRICE));
    let payment = payer.pay(&choice).await.unwrap();
    let spt = payment.payload["spt"].as_str().unwrap();
    assert_eq!(
        payment.payload.get("externalId"),
        Some(&Value::from("order_1"))
    );
    let expires = choice.challenge.expires.as_ref().unwrap().unix().secs();
    assert_eq!(
        stripe.token_limits(spt),
        Some((PM_SUCCEEDS.into(), "usd".into(), PRICE as u64, expires))
    );
    // A test key mints through the test helper, naming the seller by network id.
    let sent = stripe.requests();
    assert_eq!(
        sent[0].path,
        "/v1/test_helpers/shared_payment/granted_tokens"
    );
    assert_eq!(
        sent[0].param("seller_details[network_id]"),
        Some("internal")
    );
    assert!(sent[0].stripe_version.is_some());
    // The agent-side endpoint names it by business profile.
    let issued = StripePayer::new(api(&stripe, Duration::from_secs(5)), PM_SUCCEEDS)
        .unwrap()
        .endpoint(SptEndpoint::IssuedTokens);
    issued.pay(&choice).await.unwrap();
    let sent = stripe.requests();
    assert_eq!(sent[1].path, "/v1/shared_payment/issued_tokens");
    assert_eq!(
        sent[1].param("seller_details[network_business_profile]"),
        Some("internal")
    );
}

#[tokio::test]
async fn the_payer_refuses_terms_before_minting_anything() {
    // req: stripe-charge.client.verify-amount
    let stripe = StripeStandIn::start();
    let payer = StripePayer::new(api(&stripe, Duration::from_secs(5)), PM_SUCCEEDS)
        .unwrap()
        .currencies(vec!["usd".into()])
        .networks(vec!["internal".into()]);
    let mut no_card = terms();
    no_card.payment_method_types = vec!["link".into()];
    let cases = [
        choice(
            &StripeTerms::new(PRICE, "eur", "internal").to_request(),
            300,
            PRICE,
        ),
        choice(
            &StripeTerms::new(PRICE, "usd", "profile_other").to_request(),
            300,
            PRICE,
        ),
        choice(&no_card.to_request(), 300, PRICE),
        choice(&terms().to_request(), -5, PRICE),
        choice(&terms().to_request(), 300, PRICE - 1),
    ];
    for case in &cases {
        let refused = payer.pay(case).await.unwrap_err();
        assert!(matches!(refused, PayError::Terms(_)), "{refused:?}");
    }
    let mut unbounded = choice(&terms().to_request(), 300, PRICE);
    unbounded.challenge.expires = None;
    assert!(matches!(payer.cost(&unbounded), Err(PayError::Terms(_))));
    assert!(stripe.requests().is_empty());
    assert!(StripePayer::new(api(&stripe, Duration::from_secs(5)), "card_123").is_err());
    // A payment method Stripe does not know: a backend error, nothing paid.
    let unknown = StripePayer::new(api(&stripe, Duration::from_secs(5)), "pm_unknown").unwrap();
    let failed = unknown
        .pay(&choice(&terms().to_request(), 300, PRICE))
        .await
        .unwrap_err();
    assert!(matches!(failed, PayError::Backend(_)), "{failed:?}");
}

#[tokio::test]
async fn a_payer_and_a_server_make_one_payment_through_stripe() {
    let stripe = StripeStandIn::start();
    let payer = StripePayer::new(api(&stripe, Duration::from_secs(5)), PM_SUCCEEDS).unwrap();
    let charge = server(&stripe).minimum_amounts(stripe_minimum_amount);
    let request = terms().to_request();
    let choice = choice(&request, 300, PRICE);
    let payment = payer.pay(&choice).await.unwrap();
    charge.check_payload(&request, &payment.payload).unwrap();
    let settled = charge
        .settle(Charge {
            challenge: &choice.challenge,
            request: &request,
            payload: &payment.payload,
            source: None,
        })
        .await
        .unwrap();
    let intents = stripe.payment_intents();
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["id"], settled.reference.as_str());
    assert_eq!(intents[0]["status"], "succeeded");
    assert_eq!(intents[0]["amount"], 500);
    assert_eq!(intents[0]["currency"], "usd");
}
