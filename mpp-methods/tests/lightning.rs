//! `lightning/charge` end to end, in memory: mpp-core's server engine issues a 402
//! whose terms carry a fresh invoice of a test node, mpp-core's client engine picks
//! it, the lightning payer pays it through a second test node and answers with the
//! preimage, and the server engine and the lightning method verify and grant.
#![cfg(feature = "lightning")]

mod common;

use std::sync::Arc;

use common::block_on;

use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::client::{Origin, PayMethod, SpendingPolicy, Wallet};
use mpp_core::credential::Credential;
use mpp_core::method::{ChargeMethod, MethodError, Terms};
use mpp_core::problem::ProblemType;
use mpp_core::receipt::Receipt;
use mpp_core::server::{
    Evaluation, OfferTerms, PaymentRequest, Paywall, Refusal, Route, RouteOffer,
};
use mpp_core::time::ManualClock;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{IntentName, MethodName, Realm};
use mpp_methods::lightning::{
    IssuedCharge, LightningCharge, LightningChargeError, LightningPayer, Network, TestNode,
};

const NOW: i64 = 1_800_000_000;
const REALM: &str = "api.example.com";

/// A server (paywall + lightning method + its node) and a client (wallet + payer +
/// its own node on the same test ledger), sharing one clock.
struct World {
    clock: ManualClock,
    server_node: Arc<TestNode>,
    method: Arc<LightningCharge>,
    paywall: Paywall,
    wallet: Wallet,
    payer: Arc<LightningPayer>,
}

fn world() -> World {
    let clock = ManualClock::new(UnixTime::from_secs(NOW));
    let server_node = Arc::new(TestNode::new().with_clock(clock.clock()));
    let method = Arc::new(LightningCharge::new(server_node.clone()).with_clock(clock.clock()));
    let client_node = Arc::new(server_node.peer([0x21; 32]).unwrap());
    let payer =
        Arc::new(LightningPayer::new(client_node, Network::Regtest).with_clock(clock.clock()));
    let policy = SpendingPolicy {
        max_per_request: vec![("sat".into(), 5_000)],
        budget: vec![("sat".into(), 20_000)],
        ..SpendingPolicy::default()
    };
    let wallet = Wallet::new(policy).with_method(payer.clone(), 1000);
    let paywall = Paywall::new(
        ChallengeBinder::new(Secret::new([7u8; 32]).unwrap()),
        Realm::new(REALM).unwrap(),
    );
    World {
        clock,
        server_node,
        method,
        paywall,
        wallet,
        payer,
    }
}

/// A fresh invoice, and a route offering it whose challenges expire with it (what the
/// server does for every 402 once the engine takes per-challenge terms).
fn route_for(w: &World, sat: u64, ttl: Option<u64>) -> (IssuedCharge, Route) {
    let issued = block_on(w.method.issue(sat, Some("weather report"), 600)).unwrap();
    let offer = RouteOffer::new(
        MethodName::new("lightning").unwrap(),
        IntentName::new("charge").unwrap(),
        issued.request.clone(),
    );
    let mut route = Route::new(vec![offer]);
    route.ttl_secs = ttl.unwrap_or_else(|| issued.ttl_secs(w.clock.now()));
    (issued, route)
}

fn request<'a>(headers: &'a [(&'a str, String)]) -> PaymentRequest<'a> {
    PaymentRequest::from_headers(
        "GET",
        "/weather",
        None,
        headers.iter().map(|(n, v)| (*n, v.as_str())),
        None,
    )
}

/// The terms of the route's per-challenge offers, made by the method (as mpp-server
/// does before every 402).
fn fresh_terms(w: &World, route: &Route) -> Vec<Option<OfferTerms>> {
    route
        .offers
        .iter()
        .map(|offer| {
            offer.is_per_challenge().then(|| {
                let t = block_on(w.method.issue_terms(offer.request(), w.clock.now())).unwrap();
                OfferTerms::new(&t.request, t.not_after)
            })
        })
        .collect()
}

/// The route's reply to a refusal, with fresh terms.
fn refuse(
    w: &World,
    route: &Route,
    req: &PaymentRequest<'_>,
    refusal: &Refusal,
    nonce: [u8; 16],
) -> mpp_core::server::Reply {
    w.paywall.reply(
        route,
        req,
        refusal,
        w.clock.now(),
        &nonce,
        &fresh_terms(w, route),
    )
}

/// The 402's challenge lines; `nonce` makes the challenge unique.
fn challenge_lines_with(w: &World, route: &Route, nonce: [u8; 16]) -> Vec<String> {
    let req = request(&[]);
    match w.paywall.evaluate(route, &req, w.clock.now()) {
        Evaluation::Refuse(refusal) => {
            let reply = refuse(w, route, &req, &refusal, nonce);
            assert_eq!(reply.status, 402);
            reply
                .headers
                .iter()
                .filter(|(n, _)| *n == "www-authenticate")
                .map(|(_, v)| v.to_string())
                .collect()
        }
        Evaluation::Verify(_) => panic!("no credential, yet verified"),
    }
}

fn challenge_lines(w: &World, route: &Route) -> Vec<String> {
    challenge_lines_with(w, route, [1u8; 16])
}

/// The client's credential for the 402, and the preimage it revealed.
fn pay(w: &mut World, lines: &[String]) -> String {
    let origin = Origin::new("https", REALM, 443);
    let choice = w.wallet.choose(lines, &origin, w.clock.now()).unwrap();
    assert_eq!(choice.currency, "sat");
    let paid = block_on(w.payer.pay(&choice)).unwrap();
    Credential::answer(&choice.challenge, paid.payload, paid.source).to_header()
}

/// What the server does with a credential: the engine's checks, then the method's.
fn serve(w: &World, route: &Route, authorization: &str) -> Result<Receipt, (ProblemType, String)> {
    let headers = [("authorization", authorization.to_string())];
    let req = request(&headers);
    let pending = match w.paywall.evaluate(route, &req, w.clock.now()) {
        Evaluation::Verify(p) => p,
        Evaluation::Refuse(refusal) => return Err((refusal.problem, refusal.detail)),
    };
    let charge = pending.charge();
    w.method
        .check_payload(charge.request, charge.payload)
        .map_err(|e| (e.problem_type(), e.to_string()))?;
    match block_on(w.method.settle(charge)) {
        Ok(settlement) => Ok(pending.receipt(settlement, w.clock.now())),
        Err(e) => {
            let refusal = Refusal::new(e.problem_type(), e.message());
            let reply = refuse(w, route, &req, &refusal, [3u8; 16]);
            assert_eq!(reply.status, 402, "a refused proof gets a fresh challenge");
            Err((e.problem_type(), e.to_string()))
        }
    }
}

#[test]
fn pays_and_is_granted_with_a_receipt_naming_the_payment_hash() {
    // req: charge.verify.proof charge.payload.proof core.receipt.status-success lightning-charge.receipt.payment-hash
    let mut w = world();
    let (issued, route) = route_for(&w, 1000, None);
    let lines = challenge_lines(&w, &route);
    assert_eq!(lines.len(), 1);

    // The challenge expires no later than its invoice.
    let challenge = mpp_core::challenge::Challenge::parse(lines[0].as_bytes()).unwrap();
    let expires = challenge.expires.as_ref().map(Timestamp::unix).unwrap();
    assert!(expires <= issued.invoice.expires_at());

    let authorization = pay(&mut w, &lines);
    assert!(w.server_node.is_paid(issued.invoice.payment_hash()));
    let receipt = serve(&w, &route, &authorization).unwrap();
    assert_eq!(receipt.method.as_str(), "lightning");
    assert_eq!(receipt.reference, issued.invoice.payment_hash().to_hex());
    let json = receipt.to_json();
    assert_eq!(json["status"], "success");
    assert_eq!(json["challengeId"], challenge.id.as_str());
}

#[test]
fn the_receipt_never_carries_the_preimage() {
    // req: core.security.credentials.not-logged lightning-charge.preimage.confidential lightning-charge.receipt.payment-hash
    let mut w = world();
    let (_, route) = route_for(&w, 1000, None);
    let lines = challenge_lines(&w, &route);
    let authorization = pay(&mut w, &lines);
    let credential = Credential::parse(authorization.as_bytes()).unwrap();
    let preimage = credential.payload["preimage"].as_str().unwrap().to_string();
    assert_eq!(preimage.len(), 64);
    let receipt = serve(&w, &route, &authorization).unwrap();
    let header = receipt.to_header();
    let decoded = mpp_core::base64::decode_utf8(&header).unwrap();
    assert!(!decoded.contains(&preimage), "{decoded}");
    assert!(!format!("{receipt:?}").contains(&preimage));
    assert!(!format!("{credential:?}").contains(&preimage));
    assert!(!format!("{:?}", w.payer).contains(&preimage));
}

#[test]
fn one_invoice_on_a_fixed_route_pays_for_one_challenge_only() {
    // req: core.replay.single-use-proof
    // The engine offers fixed terms per route, so every challenge of this route carries
    // the same invoice. The engine makes each challenge id single-use; the method
    // makes the payment single-use across challenges.
    let mut w = world();
    let (_, route) = route_for(&w, 1000, None);
    let lines = challenge_lines(&w, &route);
    let authorization = pay(&mut w, &lines);
    assert!(serve(&w, &route, &authorization).is_ok());

    // A second, fresh challenge of the same route, answered with the same preimage.
    let second = challenge_lines_with(&w, &route, [9u8; 16]);
    let first = Credential::parse(authorization.as_bytes()).unwrap();
    let fresh = mpp_core::challenge::Challenge::parse(second[0].as_bytes()).unwrap();
    assert_ne!(fresh.id, first.challenge.id);
    let replay = Credential::answer(&fresh, first.payload.clone(), None).to_header();
    let (problem, detail) = serve(&w, &route, &replay).unwrap_err();
    assert_eq!(problem, ProblemType::VerificationFailed);
    assert!(detail.contains("already paid"), "{detail}");
}

#[test]
fn an_expired_invoice_is_refused_even_when_the_challenge_is_not() {
    // req: charge.verify.expiry lightning-charge.expiry.refuse-expired
    let mut w = world();
    // A route misconfigured to outlive its invoice (the draft forbids it).
    let (issued, route) = route_for(&w, 1000, Some(3600));
    let lines = challenge_lines(&w, &route);
    let authorization = pay(&mut w, &lines);
    w.clock.set(issued.invoice.expires_at());
    let (problem, detail) = serve(&w, &route, &authorization).unwrap_err();
    assert_eq!(problem, ProblemType::VerificationFailed);
    assert!(detail.contains("expired"), "{detail}");
    assert_eq!(
        MethodError::from(LightningChargeError::ExpiredInvoice).problem_type(),
        ProblemType::VerificationFailed
    );

    // With the challenge expiring with the invoice, the engine refuses first.
    let mut w = world();
    let (issued, route) = route_for(&w, 1000, None);
    let lines = challenge_lines(&w, &route);
    let authorization = pay(&mut w, &lines);
    w.clock.set(issued.invoice.expires_at());
    let (problem, _) = serve(&w, &route, &authorization).unwrap_err();
    assert_eq!(problem, ProblemType::PaymentExpired);
}

#[test]
fn the_client_pays_nothing_beyond_its_policy() {
    // req: core.security.client.amount
    let mut w = world();
    let (issued, route) = route_for(&w, 6_000, None);
    let lines = challenge_lines(&w, &route);
    let origin = Origin::new("https", REALM, 443);
    assert!(w.wallet.choose(&lines, &origin, w.clock.now()).is_err());
    assert!(!w.server_node.is_paid(issued.invoice.payment_hash()));
}

#[test]
fn a_malformed_preimage_is_an_invalid_payload() {
    let mut w = world();
    let (_, route) = route_for(&w, 1000, None);
    let lines = challenge_lines(&w, &route);
    let authorization = pay(&mut w, &lines);
    let mut credential = Credential::parse(authorization.as_bytes()).unwrap();
    let preimage = credential.payload["preimage"]
        .as_str()
        .unwrap()
        .to_uppercase();
    credential
        .payload
        .insert("preimage".into(), preimage.into());
    let (problem, _) = serve(&w, &route, &credential.to_header()).unwrap_err();
    assert_eq!(problem, ProblemType::InvalidPayload);
}

/// A route selling `sat` satoshis with a fresh invoice in every challenge.
fn per_challenge_route(w: &World, sat: u64) -> Route {
    let Terms::PerChallenge { pinned } = w.method.terms() else {
        panic!("lightning makes its terms per challenge");
    };
    Route::new(vec![RouteOffer::per_challenge(
        MethodName::new("lightning").unwrap(),
        IntentName::new("charge").unwrap(),
        LightningCharge::template(sat, Some("weather report")),
        pinned,
    )])
}

#[test]
fn every_challenge_carries_a_fresh_invoice_and_pays_once() {
    // req: charge.verify.amount charge.replay.id-single-use
    let mut w = world();
    let route = per_challenge_route(&w, 1000);
    let first = challenge_lines_with(&w, &route, [1u8; 16]);
    let second = challenge_lines_with(&w, &route, [2u8; 16]);
    let invoice = |line: &String| {
        let c = mpp_core::challenge::Challenge::parse(line.as_bytes()).unwrap();
        let request = c.request.decode().unwrap();
        assert_eq!(request["amount"], "1000");
        request["methodDetails"]["invoice"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_ne!(
        invoice(&first[0]),
        invoice(&second[0]),
        "one invoice per challenge"
    );

    let paid_first = pay(&mut w, &first);
    let paid_second = pay(&mut w, &second);
    assert!(serve(&w, &route, &paid_first).is_ok());
    assert!(
        serve(&w, &route, &paid_second).is_ok(),
        "its own invoice, its own payment"
    );

    // The first challenge's proof with the second challenge's echo: the invoice is
    // bound by the id, so the proof no longer matches.
    let a = Credential::parse(paid_first.as_bytes()).unwrap();
    let fresh = challenge_lines_with(&w, &route, [3u8; 16]);
    let c = mpp_core::challenge::Challenge::parse(fresh[0].as_bytes()).unwrap();
    let swapped = Credential::answer(&c, a.payload.clone(), None).to_header();
    let (problem, _) = serve(&w, &route, &swapped).unwrap_err();
    assert_eq!(problem, ProblemType::VerificationFailed);
}

#[test]
fn a_per_challenge_echo_must_keep_the_price() {
    let mut w = world();
    let route = per_challenge_route(&w, 1000);
    let lines = challenge_lines(&w, &route);
    let paid = pay(&mut w, &lines);
    // A challenge of another route at another price, paid, shown to this route.
    let cheap = per_challenge_route(&w, 1);
    let cheap_lines = challenge_lines(&w, &cheap);
    let cheap_paid = pay(&mut w, &cheap_lines);
    let (problem, _) = serve(&w, &route, &cheap_paid).unwrap_err();
    assert_eq!(problem, ProblemType::InvalidChallenge);
    assert!(serve(&w, &route, &paid).is_ok());
}

#[test]
fn a_challenge_never_outlives_its_invoice() {
    // req: lightning-charge.expiry.not-after-invoice
    let w = world();
    let mut route = per_challenge_route(&w, 1000);
    route.ttl_secs = 86_400;
    let lines = challenge_lines(&w, &route);
    let c = mpp_core::challenge::Challenge::parse(lines[0].as_bytes()).unwrap();
    let expires = c.expires.as_ref().map(Timestamp::unix).unwrap();
    let request = c.request.decode().unwrap();
    let invoice = mpp_methods::lightning::Invoice::decode(
        request["methodDetails"]["invoice"].as_str().unwrap(),
    )
    .unwrap();
    assert!(expires <= invoice.expires_at());
    assert!(expires.secs() > w.clock.now().secs());
}
