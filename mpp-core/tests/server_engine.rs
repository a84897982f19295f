//! The server engine, driven directly with explicit time and nonces (no I/O).

use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::method::Settlement;
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::receipt::Receipt;
use mpp_core::server::{
    CLAIM_GRACE_SECS, Evaluation, PaymentRequest, Paywall, Reply, Route, RouteOffer,
};
use mpp_core::time::UnixTime;
use mpp_core::value::{IntentName, MethodName, Realm};
use serde_json::json;

const NOW: i64 = 1_800_000_000;
const NONCE: [u8; 16] = [7; 16];

fn paywall() -> Paywall {
    Paywall::new(
        ChallengeBinder::new(Secret::new([9u8; 32]).unwrap()),
        Realm::new("api.example.com").unwrap().into_owned(),
    )
}

fn offer(method: &str, amount: &str) -> RouteOffer {
    let request = json!({"amount": amount, "currency": "usd"});
    RouteOffer::new(
        MethodName::from_string(method.into()).unwrap(),
        IntentName::new("charge").unwrap().into_owned(),
        request.as_object().unwrap().clone(),
    )
}

fn route() -> Route {
    Route::new(vec![offer("tempo", "1000"), offer("stripe", "1000")])
}

fn request<'a>(
    method: &'a str,
    headers: &'a [(&'a str, String)],
    body: Option<&'a [u8]>,
) -> PaymentRequest<'a> {
    PaymentRequest::from_headers(
        method,
        "/paid",
        None,
        headers.iter().map(|(n, v)| (*n, v)),
        body,
    )
}

/// Evaluates a request that must be refused, and builds the reply.
fn respond(
    paywall: &Paywall,
    route: &Route,
    request: &PaymentRequest<'_>,
    now: UnixTime,
    nonce: &[u8; 16],
) -> Reply {
    match paywall.evaluate(route, request, now) {
        Evaluation::Refuse(r) => paywall.reply(route, request, &r, now, nonce, &[]),
        Evaluation::Verify(p) => panic!(
            "expected a reply, got a pending payment for offer {}",
            p.offer
        ),
    }
}

fn challenges(r: &Reply) -> Vec<Challenge<'static>> {
    r.headers
        .iter()
        .filter(|(n, _)| *n == "www-authenticate")
        .map(|(_, v)| Challenge::parse(v.as_bytes()).unwrap().into_owned())
        .collect()
}

fn pay(c: &Challenge<'_>) -> Vec<(&'static str, String)> {
    let credential = Credential::answer(c, JsonObject::new(), None);
    vec![("Authorization", credential.to_header())]
}

fn at(secs: i64) -> UnixTime {
    UnixTime::from_secs(secs)
}

#[test]
fn an_unpaid_request_gets_a_402_with_one_bound_challenge_per_offer() {
    // req: core.errors.402.payment-required core.caching.402-no-store
    // req: core.challenge.expires.include core.errors.problem-details core.caching.challenge-fresh
    // req: core.accept-payment.absent core.challenge.opaque.string-map
    let r = respond(
        &paywall(),
        &route(),
        &request("GET", &[], None),
        at(NOW),
        &NONCE,
    );
    assert_eq!(
        (r.status, r.problem_type),
        (402, ProblemType::PaymentRequired)
    );
    let cs = challenges(&r);
    assert_eq!(
        cs.iter().map(|c| c.method.as_str()).collect::<Vec<_>>(),
        ["tempo", "stripe"]
    );
    let problem = Problem::parse(r.body.as_bytes()).unwrap();
    assert_eq!(problem.challenge_id.as_deref(), Some(cs[0].id.as_str()));
    assert!(r.headers.contains(&("cache-control", "no-store".into())));
    for c in &cs {
        assert_eq!(
            c.expires.as_ref().unwrap().unix(),
            at(NOW + 300),
            "D8: five minutes by default"
        );
        let opaque = c.opaque.as_ref().unwrap().decode().unwrap();
        assert_eq!(opaque["route"], "GET /paid", "D7: the resource is bound");
        assert!(opaque["nonce"].is_string());
    }
    // Another nonce, other ids: identical purchases never share a single-use slot.
    let again = respond(
        &paywall(),
        &route(),
        &request("GET", &[], None),
        at(NOW),
        &[8; 16],
    );
    assert_ne!(challenges(&again)[0].id, cs[0].id);
}

#[test]
fn accept_payment_orders_and_filters_the_challenges() {
    // req: core.accept-payment.consider core.accept-payment.order
    let headers = [("Accept-Payment", "stripe/charge, tempo/*;q=0.5".to_string())];
    let r = respond(
        &paywall(),
        &route(),
        &request("GET", &headers, None),
        at(NOW),
        &NONCE,
    );
    let methods: Vec<_> = challenges(&r)
        .iter()
        .map(|c| c.method.to_string())
        .collect();
    assert_eq!(methods, ["stripe", "tempo"]);
    let headers = [("Accept-Payment", "tempo/charge;q=0".to_string())];
    let r = respond(
        &paywall(),
        &route(),
        &request("GET", &headers, None),
        at(NOW),
        &NONCE,
    );
    assert_eq!(
        challenges(&r).len(),
        2,
        "nothing acceptable: the header is ignored"
    );
}

#[test]
fn a_valid_credential_becomes_a_pending_payment_with_its_claim() {
    let paywall = paywall();
    let issued = challenges(&respond(
        &paywall,
        &route(),
        &request("GET", &[], None),
        at(NOW),
        &NONCE,
    ));
    let headers = pay(&issued[1]);
    let Evaluation::Verify(pending) =
        paywall.evaluate(&route(), &request("GET", &headers, None), at(NOW + 10))
    else {
        panic!("expected a pending payment");
    };
    assert_eq!(pending.offer, 1);
    assert_eq!(pending.claim_key(), format!("mpp:claim:{}", issued[1].id));
    assert_eq!(pending.claim_ttl_secs(), 290 + CLAIM_GRACE_SECS);
    assert_eq!(pending.idempotency_key(), None, "GET never replays");
    let receipt = pending.receipt(Settlement::new("0xabc"), at(NOW + 11));
    let receipt = Receipt::parse(receipt.to_header().as_bytes()).unwrap();
    assert_eq!(
        (receipt.method.as_str(), receipt.reference.as_str()),
        ("stripe", "0xabc")
    );
    assert_eq!(receipt.extra["challengeId"], issued[1].id.as_str());
    assert_eq!(receipt.extra["intent"], "charge");
    assert_eq!(receipt.timestamp.as_str(), "2027-01-15T08:00:11Z");
}

#[test]
fn expiry_is_exact_and_checked_after_binding_and_pinning() {
    // req: core.errors.payment-expired charge.verify.expiry
    let paywall = paywall();
    let issued = challenges(&respond(
        &paywall,
        &route(),
        &request("GET", &[], None),
        at(NOW),
        &NONCE,
    ));
    let headers = pay(&issued[0]);
    let just_before = paywall.evaluate(&route(), &request("GET", &headers, None), at(NOW + 299));
    assert!(matches!(just_before, Evaluation::Verify(_)));
    let at_expiry = respond(
        &paywall,
        &route(),
        &request("GET", &headers, None),
        at(NOW + 300),
        &NONCE,
    );
    assert_eq!(
        at_expiry.problem_type,
        ProblemType::PaymentExpired,
        "now == expires is expired"
    );
    // Expired and for another price: the pinning failure is reported, not the expiry.
    let cheaper = Route::new(vec![offer("tempo", "1")]);
    let r = respond(
        &paywall,
        &cheaper,
        &request("GET", &headers, None),
        at(NOW + 400),
        &NONCE,
    );
    assert_eq!(r.problem_type, ProblemType::InvalidChallenge);
}

#[test]
fn the_resource_the_body_and_the_field_are_pinned() {
    // req: core.credential.field.server-selected core.digest.include core.digest.verify
    let paywall = paywall();
    let issued = challenges(&respond(
        &paywall,
        &route(),
        &request("GET", &[], None),
        at(NOW),
        &NONCE,
    ));
    let headers = pay(&issued[0]);
    let other_path = PaymentRequest::from_headers(
        "GET",
        "/other",
        None,
        headers.iter().map(|(n, v)| (*n, v)),
        None,
    );
    assert_eq!(
        respond(&paywall, &route(), &other_path, at(NOW), &NONCE).problem_type,
        ProblemType::InvalidChallenge
    );
    let other_method = request("DELETE", &headers, None);
    assert_eq!(
        respond(&paywall, &route(), &other_method, at(NOW), &NONCE).problem_type,
        ProblemType::InvalidChallenge
    );
    let in_other_field = vec![("Payment-Authorization", headers[0].1.clone())];
    let r = respond(
        &paywall,
        &route(),
        &request("GET", &in_other_field, None),
        at(NOW),
        &NONCE,
    );
    assert_eq!(r.problem_type, ProblemType::InvalidChallenge);

    // A body is bound by its digest.
    let posted = challenges(&respond(
        &paywall,
        &route(),
        &request("POST", &[], Some(b"{\"q\":1}")),
        at(NOW),
        &NONCE,
    ));
    assert!(posted[0].digest.is_some());
    let mut headers = pay(&posted[0]);
    headers.push(("Idempotency-Key", "k1".into()));
    let same = paywall.evaluate(
        &route(),
        &request("POST", &headers, Some(b"{\"q\":1}")),
        at(NOW),
    );
    let Evaluation::Verify(pending) = same else {
        panic!("same body must verify")
    };
    let key = pending.idempotency_key().unwrap().to_owned();
    assert!(key.starts_with("mpp:idem:"));
    // The replay key covers the whole credential: another payload, another key.
    let other_payload = json!({"x": 1}).as_object().unwrap().clone();
    let other_credential = Credential::answer(&posted[0], other_payload, None).to_header();
    let other_headers = [
        ("Authorization", other_credential),
        ("Idempotency-Key", "k1".to_string()),
    ];
    let Evaluation::Verify(other) = paywall.evaluate(
        &route(),
        &request("POST", &other_headers, Some(b"{\"q\":1}")),
        at(NOW),
    ) else {
        panic!("a valid echo verifies")
    };
    assert_ne!(other.idempotency_key(), Some(key.as_str()));
    let other = respond(
        &paywall,
        &route(),
        &request("POST", &headers, Some(b"{\"q\":2}")),
        at(NOW),
        &NONCE,
    );
    assert_eq!(other.problem_type, ProblemType::InvalidChallenge);
    let none = respond(
        &paywall,
        &route(),
        &request("POST", &headers, None),
        at(NOW),
        &NONCE,
    );
    assert_eq!(none.problem_type, ProblemType::InvalidChallenge);
}

#[test]
fn malformed_and_several_credentials() {
    // req: core.errors.malformed-credential core.credential.several.reject core.binding.verify
    // req: core.errors.invalid-challenge
    let paywall = paywall();
    let bad = [("Authorization", "Payment !!!".to_string())];
    let r = respond(
        &paywall,
        &route(),
        &request("GET", &bad, None),
        at(NOW),
        &NONCE,
    );
    assert_eq!(
        (r.status, r.problem_type),
        (402, ProblemType::MalformedCredential)
    );
    assert_eq!(
        challenges(&r).len(),
        2,
        "every 402 carries fresh challenges"
    );
    let two = [
        ("Authorization", "Payment e30".to_string()),
        ("Payment-Authorization", "Payment e30".to_string()),
    ];
    let r = respond(
        &paywall,
        &route(),
        &request("GET", &two, None),
        at(NOW),
        &NONCE,
    );
    assert_eq!((r.status, r.problem_type), (400, ProblemType::BadRequest));
    assert!(challenges(&r).is_empty());
    let forged = Paywall::new(
        ChallengeBinder::new(Secret::new([1u8; 32]).unwrap()),
        Realm::new("api.example.com").unwrap().into_owned(),
    );
    let foreign = challenges(&respond(
        &forged,
        &route(),
        &request("GET", &[], None),
        at(NOW),
        &NONCE,
    ));
    let r = respond(
        &paywall,
        &route(),
        &request("GET", &pay(&foreign[0]), None),
        at(NOW),
        &NONCE,
    );
    assert_eq!(r.problem_type, ProblemType::InvalidChallenge);
}

#[test]
fn a_route_without_offers_never_sends_a_402_without_a_challenge() {
    // req: core.errors.402.with-challenge core.errors.no-challenge-possible core.errors.retry-after
    let r = respond(
        &paywall(),
        &Route::new(vec![]),
        &request("GET", &[], None),
        at(NOW),
        &NONCE,
    );
    assert_eq!(
        (r.status, r.problem_type),
        (500, ProblemType::InternalPaymentError)
    );
    assert!(r.headers.iter().all(|(n, _)| *n != "www-authenticate"));
    assert!(r.headers.iter().any(|(n, _)| *n == "retry-after"));
}

#[test]
fn a_session_echo_may_be_stale_and_the_engine_says_so() {
    // A session's later requests echo the challenge it was opened with: for a session
    // offer an expired challenge, or one issued for another resource of the realm,
    // is reported as not fresh instead of refused. Charges stay strict.
    let paywall = paywall();
    let session_offer = RouteOffer::new(
        MethodName::new("lightning").unwrap().into_owned(),
        IntentName::new("session").unwrap().into_owned(),
        json!({"amount": "2", "currency": "sat"})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert!(session_offer.is_session() && !offer("tempo", "1").is_session());
    let sessions = Route::new(vec![session_offer]);
    let issued = challenges(&respond(
        &paywall,
        &sessions,
        &request("GET", &[], None),
        at(NOW),
        &NONCE,
    ));
    let headers = pay(&issued[0]);
    let fresh = |req: &PaymentRequest<'_>, t: i64| match paywall.evaluate(&sessions, req, at(t)) {
        Evaluation::Verify(p) => p.fresh,
        Evaluation::Refuse(r) => panic!("refused: {r:?}"),
    };
    assert!(fresh(&request("GET", &headers, None), NOW + 10));
    assert!(
        !fresh(&request("GET", &headers, None), NOW + 3600),
        "expired"
    );
    let elsewhere = PaymentRequest::from_headers(
        "GET",
        "/other",
        None,
        headers.iter().map(|(n, v)| (*n, v)),
        None,
    );
    assert!(!fresh(&elsewhere, NOW + 10), "issued for another resource");

    // The same echo of a charge challenge, expired, is refused outright.
    let charged = challenges(&respond(
        &paywall,
        &route(),
        &request("GET", &[], None),
        at(NOW),
        &NONCE,
    ));
    let r = respond(
        &paywall,
        &route(),
        &request("GET", &pay(&charged[0]), None),
        at(NOW + 3600),
        &NONCE,
    );
    assert_eq!(r.problem_type, ProblemType::PaymentExpired);
}
