//! The session intent through the real paywall layer, with a scripted session
//! method: open, metered use, insufficient value and top-up, vouchers, close with
//! its refund, idle closing, replays and forgeries, concurrent spending, and metered
//! Server-Sent Events that pause for a top-up and resume.

mod common;
mod toy_session;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use common::*;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use mpp_core::challenge::Challenge;
use mpp_core::intent::session::Phase;
use mpp_core::json::{JsonObject, Value};
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::receipt::Receipt;
use mpp_server::session::MeteredBody;
use mpp_server::{
    MemoryStore, PaidRoute, PaywallBody, PaywallLayer, SessionOffer, Store, VerifiedPayment,
};
use tower::{Layer, Service, ServiceExt};
use toy_session::*;

const SESSION_TYPES: &str = "https://paymentauth.org/problems/session/";

struct Setup {
    harness: Harness,
    layer: PaywallLayer,
    method: Arc<Toy>,
}

fn setup_with(offer: impl Fn(Arc<Toy>) -> SessionOffer) -> Setup {
    setup_on(Arc::new(MemoryStore::default()), offer)
}

/// A paywall keeping its claims and accounts in `store`.
fn setup_on(store: Arc<dyn Store>, offer: impl Fn(Arc<Toy>) -> SessionOffer) -> Setup {
    let clock = test_clock();
    let method = Arc::new(Toy::default());
    let layer = builder(&clock)
        .store(store)
        .route(PaidRoute::new(Method::GET, "/metered").session(offer(method.clone())))
        .build()
        .unwrap();
    Setup {
        harness: Harness::new(layer.clone(), &clock),
        layer,
        method,
    }
}

fn setup() -> Setup {
    setup_with(|m| SessionOffer::new(m, terms()).idle_timeout(Duration::from_secs(60)))
}

impl Setup {
    async fn challenge(&self) -> Challenge<'static> {
        self.harness.challenge(get("/metered")).await
    }

    async fn act(&self, echo: &Challenge<'_>, payload: JsonObject) -> Answer {
        self.harness
            .send(get_paid("/metered", &credential(echo, payload)))
            .await
    }

    /// Opens session `s-<key>` with a fresh challenge; the open request is served.
    async fn open(&self, key: &str) -> Challenge<'static> {
        let challenge = self.challenge().await;
        let receipt = self
            .act(&challenge, payload("open", key))
            .await
            .assert_paid();
        assert_eq!(receipt.reference, format!("s-{key}"));
        challenge
    }

    async fn top_up(&self, key: &str) -> Answer {
        let fresh = self.challenge().await;
        self.act(&fresh, payload("topUp", key)).await
    }

    async fn account(&self, key: &str) -> mpp_server::session::Account {
        self.layer
            .sessions()
            .get(&format!("s-{key}"))
            .await
            .unwrap()
            .expect("the account exists")
    }
}

fn figure(receipt: &Receipt, name: &str) -> String {
    receipt.extra[name].as_str().unwrap().to_string()
}

/// A 402 whose type is the session intent's `slug`, with fresh challenges.
fn assert_session_402(answer: &Answer, slug: &str) -> Problem {
    assert_eq!(
        answer.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        answer.text()
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.assert_no_receipt();
    let problem = answer.problem();
    assert_eq!(problem.type_uri, format!("{SESSION_TYPES}{slug}"));
    assert_eq!(problem.status, 402);
    let challenges = answer.challenges();
    assert!(!challenges.is_empty(), "a 402 always carries a challenge");
    assert_eq!(
        problem.challenge_id.as_deref(),
        Some(challenges[0].id.as_str())
    );
    problem
}

#[tokio::test]
async fn a_402_offers_the_session_intent_with_the_unit_price() {
    let s = setup();
    let challenge = s.challenge().await;
    assert_eq!(challenge.intent.as_str(), "session");
    assert_eq!(challenge.method.as_str(), "toy");
    assert_eq!(challenge.request.decode().unwrap(), terms());
}

#[tokio::test]
async fn requests_are_debited_one_unit_each_until_a_top_up_is_needed() {
    // req: session.accounting.within-authorised session.insufficient.fresh-challenge
    // req: session.receipt.on-success session.receipt.members
    // req: session.accounting.persist-authorisation
    let s = setup();
    let echo = s.open("k").await;
    let seen = s.harness.inner.seen();
    let paid: &VerifiedPayment = seen[0].payment.as_ref().unwrap();
    assert_eq!(paid.session.as_ref().unwrap().id(), "s-k");
    assert_eq!(paid.receipt.extra["intent"], "session");

    // Bearer uses may echo the challenge the session was opened with.
    let second = s.act(&echo, payload("use", "k")).await.assert_paid();
    assert_eq!(second.reference, "s-k");
    assert_eq!(figure(&second, "spent"), "20");
    assert_eq!(figure(&second, "remaining"), "10");
    let third = s.act(&echo, payload("use", "k")).await.assert_paid();
    assert_eq!(figure(&third, "remaining"), "0");

    let starved = s.act(&echo, payload("use", "k")).await;
    let problem = assert_session_402(&starved, "insufficient-value");
    assert_eq!(problem.extensions["required"], "10");
    assert_eq!(problem.extensions["spent"], "30");
    assert_eq!(s.harness.calls(), 3, "the starved request was not served");

    // A top-up answers 200 without running the handler, and the session serves again.
    let topped = s.top_up("k").await;
    assert_eq!(topped.status, StatusCode::OK, "{}", topped.text());
    assert_eq!(topped.text(), r#"{"status":"ok"}"#);
    assert_eq!(topped.header("cache-control"), Some("private"));
    let receipt = Receipt::parse(topped.header("payment-receipt").unwrap().as_bytes()).unwrap();
    assert_eq!(figure(&receipt, "remaining"), "30");
    assert_eq!(s.harness.calls(), 3);
    s.act(&echo, payload("use", "k")).await.assert_paid();
    let account = s.account("k").await;
    assert_eq!(
        (account.session.deposit(), account.session.spent()),
        (60, 40)
    );
}

#[tokio::test]
async fn a_deposit_pays_once_and_only_with_a_fresh_challenge() {
    // req: lightning-session.topup.fresh-challenge
    let s = setup();
    let challenge = s.challenge().await;
    let open = credential(&challenge, payload("open", "k"));
    s.harness
        .send(get_paid("/metered", &open))
        .await
        .assert_paid();
    // The same open again: the challenge is used up, nothing is opened or paid twice.
    s.harness
        .send(get_paid("/metered", &open))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    // A top-up with the open's challenge, or replayed, adds nothing.
    s.act(&challenge, payload("topUp", "k"))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    let fresh = s.challenge().await;
    let top_up = credential(&fresh, payload("topUp", "k"));
    assert_eq!(
        s.harness.send(get_paid("/metered", &top_up)).await.status,
        200
    );
    s.harness
        .send(get_paid("/metered", &top_up))
        .await
        .assert_402(ProblemType::InvalidChallenge);
    assert_eq!(s.method.deposits.load(Ordering::SeqCst), 2);
    assert_eq!(s.account("k").await.session.deposit(), 2 * DEPOSIT);

    // An expired challenge pays no deposit, but still names the session.
    let old = s.challenge().await;
    s.harness.clock.advance(TTL + 1);
    s.act(&old, payload("topUp", "k"))
        .await
        .assert_refused(ProblemType::PaymentExpired, &old);
    s.act(&old, payload("use", "k")).await.assert_paid();
    assert_eq!(s.method.deposits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn forged_and_unknown_sessions_are_refused_without_spending() {
    // req: session.verify.proof-before-service
    let s = setup();
    let echo = s.open("k").await;
    // Someone else's key for session s-k.
    let mut forged = payload("use", "other");
    forged.insert("sessionId".into(), "s-k".into());
    s.act(&echo, forged)
        .await
        .assert_refused(ProblemType::VerificationFailed, &echo);
    // A proof that would own a session nobody opened.
    assert_session_402(&s.act(&echo, payload("use", "ghost")).await, "not-found");
    // Malformed payloads and session ids.
    let mut bad = payload("use", "k");
    bad.remove("sessionId");
    s.act(&echo, bad)
        .await
        .assert_refused(ProblemType::InvalidPayload, &echo);
    let mut spaced = payload("use", "k");
    spaced.insert("sessionId".into(), "s k".into());
    s.act(&echo, spaced)
        .await
        .assert_refused(ProblemType::InvalidPayload, &echo);
    let mut long = payload("use", "k");
    long.insert("sessionId".into(), "s".repeat(300).into());
    s.act(&echo, long)
        .await
        .assert_refused(ProblemType::InvalidPayload, &echo);
    s.act(&echo, payload("dance", "k"))
        .await
        .assert_refused(ProblemType::InvalidPayload, &echo);
    assert_eq!(
        s.account("k").await.session.spent(),
        UNIT,
        "only the open paid"
    );
    assert_eq!(s.harness.calls(), 1);
}

#[tokio::test]
async fn close_refunds_what_was_not_spent_and_the_session_accepts_nothing_after() {
    // req: session.accounting.terminal lightning-session.replay.closed-retained
    // req: lightning-session.close.refund-once
    let s = setup();
    let echo = s.open("k").await;
    s.act(&echo, payload("use", "k")).await.assert_paid();
    let closed = s.act(&echo, payload("close", "k")).await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text());
    let body: Value = serde_json::from_slice(&closed.body).unwrap();
    assert_eq!(body["status"], "closed");
    assert_eq!(body["spent"], "20");
    assert_eq!(body["refund"], "10");
    assert_eq!(body["refundStatus"], "succeeded");
    let receipt = Receipt::parse(closed.header("payment-receipt").unwrap().as_bytes()).unwrap();
    assert_eq!(receipt.reference, "s-k");
    assert_eq!(figure(&receipt, "refund"), "10");
    assert_eq!(
        *s.method.refunds.lock().unwrap(),
        vec![("wallet".to_string(), 10)]
    );

    for action in ["use", "close"] {
        assert_session_402(&s.act(&echo, payload(action, "k")).await, "closed");
    }
    // A top-up is refused before anything is paid.
    assert_session_402(&s.top_up("k").await, "closed");
    assert_eq!(s.method.deposits.load(Ordering::SeqCst), 1);
    assert_eq!(s.method.refunds.lock().unwrap().len(), 1, "refunded once");
    assert!(matches!(
        s.account("k").await.session.phase(),
        Phase::Closed(_)
    ));
}

#[tokio::test]
async fn a_failed_refund_still_closes_the_session() {
    // req: lightning-session.close.terminal-after-failed-refund
    let s = setup();
    let challenge = s.challenge().await;
    let mut open = payload("open", "k");
    open.insert("refundTo".into(), "unpayable".into());
    s.act(&challenge, open).await.assert_paid();
    let closed = s.act(&challenge, payload("close", "k")).await;
    let body: Value = serde_json::from_slice(&closed.body).unwrap();
    assert_eq!(body["refundStatus"], "failed");
    assert_eq!(body["refund"], "20");
    assert_session_402(&s.act(&challenge, payload("use", "k")).await, "closed");
}

#[tokio::test]
async fn idle_sessions_are_closed_and_refunded_once() {
    // req: lightning-session.server-close.refund
    let s = setup();
    let echo = s.open("idle").await;
    s.open("busy").await;
    s.harness.clock.advance(50);
    s.act(&echo, payload("use", "busy")).await.assert_paid();
    s.harness.clock.advance(20);
    // 70 s after opening: `idle` has been unused for 70 s, `busy` for 20 s.
    assert_eq!(s.layer.close_idle_sessions().await.unwrap(), 1);
    assert_eq!(
        *s.method.refunds.lock().unwrap(),
        vec![("wallet".to_string(), 20)]
    );
    assert_eq!(
        s.layer.close_idle_sessions().await.unwrap(),
        0,
        "closed once"
    );
    assert_session_402(&s.act(&echo, payload("use", "idle")).await, "closed");
    s.act(&echo, payload("use", "busy")).await.assert_paid();
    assert_eq!(
        s.layer.sessions().open_sessions().await.unwrap(),
        vec!["s-busy"]
    );
}

#[tokio::test]
async fn the_idle_sweeper_closes_idle_sessions_and_stops_with_the_server() {
    // req: lightning-session.server-close.refund
    let s = setup();
    s.open("idle").await;
    s.harness.clock.advance(70);
    let sweeper = tokio::spawn(s.layer.sweep_idle_sessions(Duration::from_millis(20)));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while s.method.refunds.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never swept");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_session_402(
        &s.act(&s.challenge().await, payload("use", "idle")).await,
        "closed",
    );
    assert_eq!(s.method.refunds.lock().unwrap().len(), 1, "refunded once");
    drop(s);
    tokio::time::timeout(Duration::from_secs(5), sweeper)
        .await
        .expect("the sweeper ends once the server is gone")
        .unwrap();
}

#[tokio::test]
async fn vouchers_authorise_cumulatively_and_stale_ones_are_told_apart() {
    // req: session.verify.stale-vs-forged session.verify.reject-regressing
    let s = setup();
    let challenge = s.challenge().await;
    let mut open = payload("open", "v");
    open.insert("vouchers".into(), true.into());
    // A voucher-funded session opens with nothing authorised: nothing is served.
    let opened = s.act(&challenge, open).await;
    assert_eq!(opened.status, StatusCode::OK, "{}", opened.text());
    assert_eq!(opened.text(), r#"{"status":"open"}"#);
    assert_eq!(s.harness.calls(), 0);

    let voucher = |cumulative: &str, key: &str| {
        let mut p = payload("voucher", key);
        p.insert("sessionId".into(), "s-v".into());
        p.insert("cumulative".into(), cumulative.into());
        p
    };
    let r = s.act(&challenge, voucher("20", "v")).await.assert_paid();
    assert_eq!(figure(&r, "authorized"), "20");
    assert_eq!(figure(&r, "spent"), "10");
    // The same total again is accepted and pays for one more unit.
    s.act(&challenge, voucher("20", "v")).await.assert_paid();
    assert_session_402(
        &s.act(&challenge, voucher("20", "v")).await,
        "insufficient-value",
    );
    // Stale (authentic, lower) versus forged.
    assert_session_402(&s.act(&challenge, voucher("10", "v")).await, "stale-update");
    s.act(&challenge, voucher("30", "mallory"))
        .await
        .assert_refused(ProblemType::VerificationFailed, &challenge);
    // Above the deposit.
    s.act(&challenge, voucher("31", "v"))
        .await
        .assert_refused(ProblemType::VerificationFailed, &challenge);
    let account = s.account("v").await;
    assert_eq!(
        (account.session.authorised(), account.session.spent()),
        (20, 20)
    );
}

#[tokio::test]
async fn concurrent_uses_never_spend_more_than_the_deposit() {
    // req: session.accounting.concurrency session.accounting.atomic-spend
    let s = setup();
    let echo = s.open("k").await;
    let credential = credential(&echo, payload("use", "k"));
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let harness = s.harness.clone();
        let credential = credential.clone();
        tasks.push(tokio::spawn(async move {
            harness.send(get_paid("/metered", &credential)).await.status
        }));
    }
    let mut served = 0;
    for task in tasks {
        match task.await.unwrap() {
            StatusCode::OK => served += 1,
            StatusCode::PAYMENT_REQUIRED => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(served, 2, "the open paid one unit, two were left");
    assert_eq!(s.account("k").await.session.spent(), DEPOSIT);
    assert_eq!(s.harness.calls(), 3);
}

#[tokio::test]
async fn a_close_racing_uses_conserves_value() {
    // req: session.accounting.concurrency
    let s = setup();
    let echo = s.open("k").await;
    for _ in 0..3 {
        assert_eq!(s.top_up("k").await.status, 200);
    }
    // 120 deposited, 10 spent; 20 uses race one close.
    let mut tasks = Vec::new();
    for i in 0..21 {
        let harness = s.harness.clone();
        let action = if i == 10 { "close" } else { "use" };
        let credential = credential(&echo, payload(action, "k"));
        tasks.push(tokio::spawn(async move {
            harness.send(get_paid("/metered", &credential)).await
        }));
    }
    let mut refund = None;
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.header("content-type") == Some("application/json") && answer.status == 200 {
            let body: Value = serde_json::from_slice(&answer.body).unwrap();
            if body["status"] == "closed" {
                refund = Some(body["refund"].as_str().unwrap().parse::<u128>().unwrap());
            }
        }
    }
    let refund = refund.expect("the close succeeded");
    let account = s.account("k").await;
    let served = s.harness.calls() as u128;
    assert_eq!(
        account.session.spent(),
        served * UNIT,
        "each served unit paid"
    );
    assert_eq!(
        account.session.spent() + refund,
        4 * DEPOSIT,
        "nothing lost or made"
    );
    assert_eq!(s.method.refunds.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn idempotency_key_retries_replay_the_answer_without_spending_again() {
    // req: session.idempotency-key
    let clock = test_clock();
    let method = Arc::new(Toy::default());
    let layer = builder(&clock)
        .route(PaidRoute::new(Method::POST, "/metered").session(SessionOffer::new(method, terms())))
        .build()
        .unwrap();
    let s = Setup {
        harness: Harness::new(layer.clone(), &clock),
        layer,
        method: Arc::default(),
    };
    let post = |credential: &str, key: &str| {
        request(
            Method::POST,
            "/metered",
            &[("authorization", credential), ("idempotency-key", key)],
            "",
        )
    };
    let challenge = s
        .harness
        .challenge(request(Method::POST, "/metered", &[], ""))
        .await;
    let open = credential(&challenge, payload("open", "k"));
    let first = s.harness.send(post(&open, "a")).await;
    first.assert_paid();
    let use_ = credential(&challenge, payload("use", "k"));
    let used = s.harness.send(post(&use_, "b")).await;
    let again = s.harness.send(post(&use_, "b")).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, used.body, "the stored answer, not a second run");
    assert_eq!(s.harness.calls(), 2);
    assert_eq!(s.account("k").await.session.spent(), 2 * UNIT);
    // A retried top-up gets its original answer instead of `invalid-challenge`.
    let fresh = s
        .harness
        .challenge(request(Method::POST, "/metered", &[], ""))
        .await;
    let top_up = credential(&fresh, payload("topUp", "k"));
    let topped = s.harness.send(post(&top_up, "c")).await;
    let retried = s.harness.send(post(&top_up, "c")).await;
    assert_eq!(
        (topped.status, retried.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert_eq!(
        retried.header("payment-receipt"),
        topped.header("payment-receipt")
    );
    assert_eq!(s.account("k").await.session.deposit(), 2 * DEPOSIT);
}

#[tokio::test]
async fn a_route_can_mix_charge_and_session_offers() {
    let clock = test_clock();
    let layer = builder(&clock)
        .route(
            paid(Method::GET, "/both")
                .session(SessionOffer::new(Arc::new(Toy::default()), terms())),
        )
        .build()
        .unwrap();
    let harness = Harness::new(layer, &clock);
    let answer = harness.send(get("/both")).await;
    let challenges = answer.assert_402(ProblemType::PaymentRequired);
    let intents: Vec<_> = challenges.iter().map(|c| c.intent.as_str()).collect();
    assert_eq!(intents, ["charge", "session"]);
    harness
        .send(get_paid("/both", &pay(&challenges[0])))
        .await
        .assert_paid();
    let receipt = harness
        .send(get_paid(
            "/both",
            &credential(&challenges[1], payload("open", "m")),
        ))
        .await
        .assert_paid();
    assert_eq!(receipt.reference, "s-m");
}

#[test]
fn a_session_offer_needs_a_positive_unit_price() {
    // req: session.request.amount-per-unit
    for amount in [None, Some("0"), Some("1.5"), Some("-1")] {
        let mut request = terms();
        match amount {
            Some(a) => request.insert("amount".into(), a.into()),
            None => request.remove("amount"),
        };
        let built = mpp_server::PaywallLayer::builder(SECRET, REALM)
            .unwrap()
            .route(
                PaidRoute::new(Method::GET, "/x")
                    .session(SessionOffer::new(Arc::new(Toy::default()), request)),
            )
            .build();
        let error = built.expect_err("refused").to_string();
        assert!(error.contains("price of a unit"), "{error}");
    }
}

// ---- Server-Sent Events ----

/// A stream of the given messages.
struct Messages(VecDeque<String>);

impl futures_core::Stream for Messages {
    type Item = String;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<String>> {
        Poll::Ready(self.0.pop_front())
    }
}

/// A handler streaming `count` messages through the request's session.
#[derive(Clone)]
struct Streamer {
    count: usize,
}

impl Service<Request<PaywallBody>> for Streamer {
    type Response = Response<MeteredBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<PaywallBody>) -> Self::Future {
        let count = self.count;
        Box::pin(async move {
            let payment = request.extensions().get::<VerifiedPayment>().unwrap();
            let session = payment.session.clone().expect("a session paid");
            let messages = (1..=count).map(|i| format!("chunk {i}")).collect();
            let mut response = Response::new(session.sse(Messages(messages)));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/event-stream"),
            );
            Ok(response)
        })
    }
}

struct Streaming {
    setup: Setup,
    service: mpp_server::PaywallService<Streamer>,
}

fn streaming(count: usize, hold: Duration) -> Streaming {
    let setup = setup_with(|m| SessionOffer::new(m, terms()).streaming().hold_timeout(hold));
    let service = setup.layer.layer(Streamer { count });
    Streaming { setup, service }
}

/// Reads SSE messages one frame at a time.
struct Events(PaywallBody);

impl Events {
    /// The next message as (event name, data), or `None` at the end.
    async fn next(&mut self) -> Option<(String, String)> {
        let frame = self.0.frame().await?.unwrap();
        let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
        assert!(
            text.ends_with("\n\n"),
            "one whole message per frame: {text:?}"
        );
        let mut name = "message".to_string();
        let mut data = Vec::new();
        for line in text.trim_end().lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = n.to_string();
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push(d);
            }
        }
        Some((name, data.join("\n")))
    }
}

impl Streaming {
    async fn open_stream(&self, echo: &Challenge<'_>, payload: JsonObject) -> Events {
        let response = self
            .service
            .clone()
            .oneshot(get_paid("/metered", &credential(echo, payload)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("payment-receipt").is_some());
        Events(response.into_body())
    }
}

fn json(data: &str) -> Value {
    serde_json::from_str(data).unwrap()
}

#[tokio::test]
async fn a_stream_pauses_when_the_session_runs_dry_and_resumes_after_a_top_up() {
    // req: session.streaming.stop-when-exhausted session.streaming.reserve-per-unit
    // req: session.streaming.control-unbilled lightning-session.stream.need-topup-event
    // req: session.receipt.stream-final
    let st = streaming(5, Duration::from_secs(30));
    let challenge = st.setup.challenge().await;
    let mut events = st.open_stream(&challenge, payload("open", "k")).await;
    for i in 1..=3 {
        assert_eq!(
            events.next().await.unwrap(),
            ("message".into(), format!("chunk {i}"))
        );
    }
    let (name, data) = events.next().await.unwrap();
    assert_eq!(name, "payment-need-topup");
    let data = json(&data);
    assert_eq!(data["sessionId"], "s-k");
    assert_eq!(data["balanceSpent"], 30);
    assert_eq!(data["balanceRequired"], 10);

    // The stream is held; a top-up on another request resumes it.
    let next = tokio::spawn(async move {
        let mut out = Vec::new();
        while let Some(event) = events.next().await {
            out.push(event);
        }
        out
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!next.is_finished(), "held while the session is dry");
    assert_eq!(st.setup.top_up("k").await.status, 200);
    let rest = next.await.unwrap();
    assert_eq!(rest[0], ("message".into(), "chunk 4".into()));
    assert_eq!(rest[1], ("message".into(), "chunk 5".into()));
    assert_eq!(rest[2].0, "payment-receipt");
    let receipt = json(&rest[2].1);
    assert_eq!(receipt["reference"], "s-k");
    assert_eq!(receipt["spent"], 50);
    assert_eq!(receipt["units"], 5);
    assert_eq!(receipt["status"], "success");
    assert_eq!(rest.len(), 3);
    assert_eq!(st.setup.account("k").await.session.spent(), 50);
}

#[tokio::test]
async fn a_stream_left_dry_times_out() {
    // req: lightning-session.stream.timeout-close
    let st = streaming(5, Duration::from_millis(300));
    let challenge = st.setup.challenge().await;
    let mut events = st.open_stream(&challenge, payload("open", "k")).await;
    let mut names = Vec::new();
    while let Some((name, _)) = events.next().await {
        names.push(name);
    }
    assert_eq!(
        names,
        [
            "message",
            "message",
            "message",
            "payment-need-topup",
            "session-timeout"
        ]
    );
    assert_eq!(st.setup.account("k").await.session.spent(), DEPOSIT);
}

#[tokio::test]
async fn a_stream_stops_when_its_session_closes() {
    // req: session.streaming.stop-when-terminal
    let st = streaming(5, Duration::from_secs(30));
    let challenge = st.setup.challenge().await;
    let mut events = st.open_stream(&challenge, payload("open", "k")).await;
    for _ in 0..4 {
        events.next().await.unwrap();
    }
    let closed = st.setup.act(&challenge, payload("close", "k")).await;
    assert_eq!(closed.status, 200);
    let (name, data) = events.next().await.unwrap();
    assert_eq!(name, "payment-receipt");
    assert_eq!(json(&data)["units"], 3);
    assert!(events.next().await.is_none());
    // Nothing was left to refund.
    let body: Value = serde_json::from_slice(&closed.body).unwrap();
    assert_eq!(body["refundStatus"], "skipped");
}

#[tokio::test]
async fn a_streaming_route_admits_only_a_session_that_can_pay_a_unit() {
    let st = streaming(3, Duration::from_millis(100));
    let challenge = st.setup.challenge().await;
    let mut events = st.open_stream(&challenge, payload("open", "k")).await;
    while events.next().await.is_some() {}
    let response = st
        .service
        .clone()
        .oneshot(get_paid(
            "/metered",
            &credential(&challenge, payload("use", "k")),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYMENT_REQUIRED);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let problem = Problem::parse(&body).unwrap();
    assert_eq!(
        problem.type_uri,
        format!("{SESSION_TYPES}insufficient-value")
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_restarted_server_carries_on_from_the_recorded_accounts() {
    // req: session.accounting.durable
    let dir = std::env::temp_dir().join(format!("mpp-sessions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("store.db");
    let clock = test_clock();
    let start = |method: Arc<Toy>| {
        let store = Arc::new(mpp_server::store::SqliteStore::open(&file).unwrap());
        let layer = builder(&clock)
            .store(store)
            .route(
                PaidRoute::new(Method::GET, "/metered")
                    .session(SessionOffer::new(method.clone(), terms())),
            )
            .build()
            .unwrap();
        Setup {
            harness: Harness::new(layer.clone(), &clock),
            layer,
            method,
        }
    };
    let first = start(Arc::new(Toy::default()));
    let echo = first.open("k").await;
    first.act(&echo, payload("use", "k")).await.assert_paid();
    drop(first);

    // A new process: the account, its spending and its open listing are all there.
    let second = start(Arc::new(Toy::default()));
    let receipt = second.act(&echo, payload("use", "k")).await.assert_paid();
    assert_eq!(figure(&receipt, "spent"), "30");
    assert_session_402(
        &second.act(&echo, payload("use", "k")).await,
        "insufficient-value",
    );
    assert_eq!(
        second.layer.sessions().open_sessions().await.unwrap(),
        vec!["s-k"]
    );
    // The open challenge stays used across the restart.
    second
        .act(&echo, payload("open", "k"))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &echo);
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

// Money safety: what the paywall does when the store, a concurrent close or another
// offer comes between a payment and its credit.

/// `/metered` (toy, usd), `/alt` (another method, alt, in usd) and `/eur` (toy,
/// in eur): three offers that must not spend each other's sessions.
fn three_offers() -> (Setup, Arc<Toy>, Arc<Toy>) {
    let clock = test_clock();
    let toy = Arc::new(Toy::default());
    let alt = Arc::new(Toy::named("alt"));
    let eur = Arc::new(Toy::default());
    let layer = builder(&clock)
        .route(
            PaidRoute::new(Method::GET, "/metered")
                .session(SessionOffer::new(toy.clone(), terms())),
        )
        .route(PaidRoute::new(Method::GET, "/alt").session(SessionOffer::new(alt.clone(), terms())))
        .route(
            PaidRoute::new(Method::GET, "/eur")
                .session(SessionOffer::new(eur.clone(), terms_in("eur"))),
        )
        .build()
        .unwrap();
    let setup = Setup {
        harness: Harness::new(layer.clone(), &clock),
        layer,
        method: toy,
    };
    (setup, alt, eur)
}

#[tokio::test]
async fn a_session_serves_only_offers_of_its_own_method_and_currency() {
    let (s, alt, eur) = three_offers();
    let echo = s.open("k").await;
    for (path, other) in [("/alt", &alt), ("/eur", &eur)] {
        // A top-up through another offer is refused before anything is paid.
        let fresh = s.harness.challenge(get(path)).await;
        let answer = s
            .harness
            .send(get_paid(path, &credential(&fresh, payload("topUp", "k"))))
            .await;
        answer.assert_refused(ProblemType::VerificationFailed, &fresh);
        assert_eq!(
            other.deposits.load(Ordering::SeqCst),
            0,
            "{path}: nothing paid"
        );
        // Neither use nor close through it touches the session.
        for action in ["use", "close"] {
            let answer = s
                .harness
                .send(get_paid(path, &credential(&fresh, payload(action, "k"))))
                .await;
            answer.assert_refused(ProblemType::VerificationFailed, &fresh);
        }
        assert!(
            other.refunds.lock().unwrap().is_empty(),
            "{path}: no refund"
        );
    }
    let account = s.account("k").await;
    assert_eq!(
        (account.session.deposit(), account.session.spent()),
        (DEPOSIT, UNIT),
        "credited and debited only by its own offer"
    );
    assert_eq!(account.session.phase(), Phase::Active);
    // Its own offer closes it, and refunds through its own method.
    assert_eq!(s.act(&echo, payload("close", "k")).await.status, 200);
    assert_eq!(
        *s.method.refunds.lock().unwrap(),
        vec![("wallet".to_string(), DEPOSIT - UNIT)]
    );
}

#[tokio::test]
async fn a_deposit_whose_session_could_not_be_recorded_opens_on_retry_once() {
    // req: core.errors.retry-after
    let store = Arc::new(Faults::default());
    let s = setup_on(store.clone(), |m| SessionOffer::new(m, terms()));
    store.arm(Op::PutIfAbsent, "mpp:session:s-", Fault::Fail, 0);
    let challenge = s.challenge().await;
    let open = credential(&challenge, payload("open", "k"));
    s.harness
        .send(get_paid("/metered", &open))
        .await
        .assert_error(500, ProblemType::InternalPaymentError);
    assert_eq!(s.harness.calls(), 0);
    // The same credential, as Retry-After invites, opens the session once.
    s.harness
        .send(get_paid("/metered", &open))
        .await
        .assert_paid();
    let account = s.account("k").await;
    assert_eq!(
        (account.session.deposit(), account.session.spent()),
        (DEPOSIT, UNIT)
    );
    s.harness
        .send(get_paid("/metered", &open))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &challenge);
    assert_eq!(s.harness.calls(), 1);
}

#[tokio::test]
async fn a_top_up_that_could_not_be_credited_is_credited_once_on_retry() {
    let store = Arc::new(Faults::default());
    let s = setup_on(store.clone(), |m| SessionOffer::new(m, terms()));
    s.open("k").await;
    store.arm(Op::Swap, "mpp:session:s-k", Fault::Fail, 0);
    let fresh = s.challenge().await;
    let top_up = credential(&fresh, payload("topUp", "k"));
    s.harness
        .send(get_paid("/metered", &top_up))
        .await
        .assert_error(500, ProblemType::InternalPaymentError);
    assert_eq!(s.account("k").await.session.deposit(), DEPOSIT);
    assert_eq!(
        s.harness.send(get_paid("/metered", &top_up)).await.status,
        200
    );
    assert_eq!(s.account("k").await.session.deposit(), 2 * DEPOSIT);
    s.harness
        .send(get_paid("/metered", &top_up))
        .await
        .assert_refused(ProblemType::InvalidChallenge, &fresh);
    assert_eq!(s.account("k").await.session.deposit(), 2 * DEPOSIT);
}

#[tokio::test]
async fn a_close_whose_answer_was_lost_is_refunded_on_retry_once() {
    // req: lightning-session.close.refund-once lightning-session.replay.closed-retained
    let store = Arc::new(Faults::default());
    let s = setup_on(store.clone(), |m| SessionOffer::new(m, terms()));
    let echo = s.open("k").await;
    // The close is written, its answer lost, and the store cannot be read back.
    store.arm(Op::Swap, "mpp:session:s-k", Fault::ApplyThenFail, 0);
    store.arm(Op::Get, "mpp:session:s-k", Fault::Fail, 1);
    let lost = s.act(&echo, payload("close", "k")).await;
    assert_eq!(lost.status, 500, "{}", lost.text());
    assert!(s.method.refunds.lock().unwrap().is_empty());
    // The retried close is refused (the session is closed), and pays what it owed.
    let retried = s.act(&echo, payload("close", "k")).await;
    let problem = assert_session_402(&retried, "closed");
    assert_eq!(problem.extensions["refund"], "20");
    assert_eq!(problem.extensions["refundStatus"], "succeeded");
    assert_session_402(&s.act(&echo, payload("close", "k")).await, "closed");
    s.layer.close_idle_sessions().await.unwrap();
    assert_eq!(
        *s.method.refunds.lock().unwrap(),
        vec![("wallet".to_string(), DEPOSIT - UNIT)],
        "refunded once"
    );
    assert!(s.layer.sessions().open_sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_refund_owed_when_the_server_stopped_is_paid_by_the_next_sweep_once() {
    // req: lightning-session.server-close.refund lightning-session.close.refund-once session.accounting.durable
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let first = setup_on(store.clone(), |m| SessionOffer::new(m, terms()));
    first.open("k").await;
    // The server closed the session, then stopped before refunding it.
    let now = first.harness.clock.now();
    let (closed, _) = first
        .layer
        .sessions()
        .apply("s-k", mpp_core::intent::session::SessionEvent::Close, now)
        .await
        .unwrap();
    assert!(closed.is_ok());
    drop(first);
    let restarted = setup_on(store, |m| SessionOffer::new(m, terms()));
    restarted.layer.close_idle_sessions().await.unwrap();
    restarted.layer.close_idle_sessions().await.unwrap();
    assert_eq!(
        *restarted.method.refunds.lock().unwrap(),
        vec![("wallet".to_string(), DEPOSIT - UNIT)],
        "paid once, after the restart"
    );
    let refunds = restarted.account("k").await.refunds;
    assert_eq!((refunds.owed, refunds.refunded), (0, DEPOSIT - UNIT));
    assert!(
        restarted
            .layer
            .sessions()
            .open_sessions()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_top_up_paid_as_the_session_closes_is_refunded() {
    let s = Arc::new(setup());
    let echo = s.open("k").await;
    let (started, go_on) = s.method.hold_top_up();
    let fresh = s.challenge().await;
    let racing = {
        let s = s.clone();
        tokio::spawn(async move { s.act(&fresh, payload("topUp", "k")).await })
    };
    started.notified().await;
    // Closed (and refunded) while the top-up is being verified.
    let closed = s.act(&echo, payload("close", "k")).await;
    assert_eq!(closed.status, 200, "{}", closed.text());
    go_on.notify_one();
    let answer = racing.await.unwrap();
    let problem = assert_session_402(&answer, "closed");
    assert!(problem.detail.unwrap().contains("refunded"));
    assert_eq!(
        *s.method.refunds.lock().unwrap(),
        vec![
            ("wallet".to_string(), DEPOSIT - UNIT),
            ("wallet".to_string(), DEPOSIT)
        ],
        "the close's refund, then the late top-up's"
    );
    let account = s.account("k").await;
    assert_eq!(account.session.deposit(), DEPOSIT, "never credited");
    assert_eq!(account.refunds.refunded, 2 * DEPOSIT - UNIT);
    s.layer.close_idle_sessions().await.unwrap();
    assert_eq!(s.method.refunds.lock().unwrap().len(), 2, "refunded once");
}

#[tokio::test]
async fn a_top_up_replayed_after_its_claim_expired_is_not_credited_again() {
    // The claim of a challenge lasts until it expires plus a grace; an instance whose
    // clock lags by more than the grace still takes the challenge as unexpired.
    let store = Arc::new(MemoryStore::default());
    let s = setup_on(store.clone(), |m| SessionOffer::new(m, terms()));
    s.open("k").await;
    let fresh = s.challenge().await;
    let top_up = credential(&fresh, payload("topUp", "k"));
    assert_eq!(
        s.harness.send(get_paid("/metered", &top_up)).await.status,
        200
    );
    // The claim is gone (expired), the challenge is still unexpired here.
    let claim = format!("mpp:claim:{}", fresh.id);
    store
        .put(&claim, b"", Duration::from_millis(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(store.get(&claim).await.unwrap(), None);
    s.harness.send(get_paid("/metered", &top_up)).await;
    assert_eq!(
        s.account("k").await.session.deposit(),
        2 * DEPOSIT,
        "one top-up, credited once"
    );
}

#[tokio::test]
async fn an_unreadable_account_does_not_stop_the_idle_sweep() {
    let store = Arc::new(MemoryStore::default());
    let s = setup_on(store.clone(), |m| {
        SessionOffer::new(m, terms()).idle_timeout(Duration::from_secs(60))
    });
    s.open("idle").await;
    store
        .put(
            "mpp:session:s-garbled",
            b"not an account",
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    store
        .add_member("mpp:sessions:open", "s-garbled")
        .await
        .unwrap();
    s.harness.clock.advance(70);
    assert_eq!(s.layer.close_idle_sessions().await.unwrap(), 1);
    assert_eq!(
        *s.method.refunds.lock().unwrap(),
        vec![("wallet".to_string(), DEPOSIT - UNIT)]
    );
}

#[tokio::test]
async fn a_failed_answer_to_a_session_credential_in_payment_authorization_is_no_store() {
    // req: core.caching.other-field
    // A credential outside Authorization makes every answer private or no-store, on
    // the session path as on the charge path.
    let clock = test_clock();
    let method = Arc::new(Toy::default());
    let layer = builder(&clock)
        .route(
            PaidRoute::new(Method::GET, "/metered")
                .session(SessionOffer::new(method, terms()))
                .payment_authorization(),
        )
        .build()
        .unwrap();
    let harness = Harness::new(layer, &clock);
    let challenge = harness.challenge(get("/metered")).await;
    let open = request(
        Method::GET,
        "/metered",
        &[
            (
                "payment-authorization",
                &credential(&challenge, payload("open", "k")),
            ),
            ("x-test-status", "404"),
            ("x-test-cache-control", "public, max-age=60"),
        ],
        "",
    );
    let answer = harness.send(open).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.text());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    answer.assert_no_receipt();
}
