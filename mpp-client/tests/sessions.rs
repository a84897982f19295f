//! `PayingClient` with a `lightning/session` payer, against real paywalls of
//! mpp-server and hand-written servers that misbehave on purpose, every node a
//! `TestNode` of one ledger: a session's secret stays with its origin, deposits and
//! top-ups stay within the budget, and a dropped session is reopened at most once per
//! request, never when it did not serve.

mod paying_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::routing::get;
use mpp_client::{PaidResponse, PayingClient, PayingError, PaymentKind, PaymentMade, origin_of};
use mpp_core::challenge::ChallengeBuilder;
use mpp_core::client::{Origin, PolicyError, Skipped, SpendingPolicy, Wallet};
use mpp_core::credential::Credential;
use mpp_core::json::Value;
use mpp_core::problem::{Problem, ProblemType};
use mpp_core::time::ManualClock;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_methods::lightning::{LightningSession, LightningSessionPayer, PaymentPreimage, TestNode};
use mpp_server::{PaidRoute, PaywallLayer, SessionOffer, VerifiedPayment};
use paying_support::{Server, binder, now_secs, payment_required, serve};
use reqwest::Url;

/// The realm every server below names, the victim's and the others' alike.
const REALM: &str = "sessions.example.test";
/// The paywalls' unit price and deposit, in satoshis: 20 units a deposit.
const UNIT: u64 = 2;
const DEPOSIT: u64 = 40;

/// One test ledger, whose nodes (the clients', one per server) pay each other.
struct Ledger(TestNode);

impl Ledger {
    fn new() -> Ledger {
        Ledger(TestNode::new())
    }

    /// A node of the ledger with its own key (`key` not 0, one per node).
    fn node(&self, key: u8) -> Arc<TestNode> {
        Arc::new(self.0.peer([key; 32]).unwrap())
    }
}

/// A client paying with `payer` only, in `sat`, at most `cap` per request and
/// `budget` in all.
fn session_client(payer: &Arc<LightningSessionPayer>, cap: u128, budget: u128) -> PayingClient {
    let policy = SpendingPolicy {
        max_per_request: vec![("sat".into(), cap)],
        budget: vec![("sat".into(), budget)],
        ..SpendingPolicy::default()
    };
    PayingClient::new(Wallet::new(policy).with_method(payer.clone(), 1000)).unwrap()
}

fn origin(server: &Server) -> Origin {
    origin_of(&Url::parse(&server.url("/")).unwrap())
}

/// What each payment of a response was, and what it cost.
fn paid(payments: &[PaymentMade]) -> Vec<(PaymentKind, u128)> {
    payments.iter().map(|p| (p.kind, p.cost)).collect()
}

/// A 200's payments, or a panic showing what came instead.
fn served(result: Result<PaidResponse, PayingError>) -> Vec<(PaymentKind, u128)> {
    match result {
        Ok(r) if r.status == StatusCode::OK => paid(&r.payments),
        other => panic!("expected a 200, got {other:?}"),
    }
}

/// Satoshis received by a node's invoices.
fn received_sat(node: &TestNode) -> u64 {
    node.received_msat() / 1000
}

/// Every `Authorization` value a server received, in order.
#[derive(Clone, Default)]
struct Credentials(Arc<Mutex<Vec<String>>>);

impl Credentials {
    fn payloads(&self) -> Vec<serde_json::Map<String, Value>> {
        let all = self.0.lock().unwrap().clone();
        all.iter()
            .filter_map(|v| Credential::parse(v.as_bytes()).ok())
            .map(|c| c.payload)
            .collect()
    }

    /// A middleware recording them, in front of everything else.
    fn record(&self, app: Router) -> Router {
        let seen = self.0.clone();
        app.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let seen = seen.clone();
                async move {
                    if let Some(v) = request.headers().get(AUTHORIZATION) {
                        seen.lock()
                            .unwrap()
                            .push(v.to_str().unwrap_or_default().to_owned());
                    }
                    next.run(request).await
                }
            },
        ))
    }
}

/// An mpp-server paywall selling `GET /metered` by the unit from `lightning/session`
/// sessions invoiced by `node`, closing sessions idle for 60 s on its `clock`.
struct Paywalled {
    server: Server,
    layer: PaywallLayer,
    clock: ManualClock,
    credentials: Credentials,
}

impl Paywalled {
    async fn start(realm: &str, node: Arc<TestNode>) -> Paywalled {
        let clock = ManualClock::new(UnixTime::from_secs(now_secs()));
        let offer = SessionOffer::new(
            Arc::new(LightningSession::new(node).deposit(DEPOSIT)),
            LightningSession::template(UNIT, None),
        )
        .idle_timeout(Duration::from_secs(60));
        let layer = PaywallLayer::builder(paying_support::SECRET, realm)
            .unwrap()
            .route(PaidRoute::new(Method::GET, "/metered").session(offer))
            .clock(clock.clock())
            .build()
            .unwrap();
        let app = Router::new()
            .route(
                "/metered",
                get(|p: VerifiedPayment| async move { p.receipt.reference }),
            )
            .layer(layer.clone());
        let credentials = Credentials::default();
        Paywalled {
            server: serve(credentials.record(app)).await,
            layer,
            clock,
            credentials,
        }
    }

    fn url(&self) -> String {
        self.server.url("/metered")
    }

    /// Lets every session sit unused past the idle timeout, and closes them.
    async fn close_idle_sessions(&self) {
        self.clock.advance(61);
        assert!(self.layer.close_idle_sessions().await.unwrap() > 0);
    }
}

/// A hand-written `lightning/session` server (no paywall): every 402 carries a fresh
/// challenge for a unit of 1 sat and a deposit of `deposit` sat invoiced by `node`;
/// it opens a session for any open whose deposit `node` received. The n-th session
/// it opens serves `serves[n]` requests (the last entry for every later one); after
/// that it answers that session with 402 `lightning/session-closed`.
async fn dropping_server(node: Arc<TestNode>, deposit: u64, serves: Vec<usize>) -> Server {
    let method = Arc::new(LightningSession::new(node.clone()).deposit(deposit));
    // Per session id: how many more requests it serves.
    let sessions = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let handler = move |request: Request| {
        let (method, node, sessions, serves) = (
            method.clone(),
            node.clone(),
            sessions.clone(),
            serves.clone(),
        );
        async move {
            let payload = request
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| Credential::parse(v.as_bytes()).ok())
                .map(|c| c.payload);
            let text = |name| payload.as_ref()?.get(name)?.as_str();
            let session = match text("action") {
                Some("open") => PaymentPreimage::from_hex(text("preimage").unwrap_or_default())
                    .map(|p| p.payment_hash())
                    .filter(|id| node.is_paid(id))
                    .map(|id| {
                        let mut sessions = sessions.lock().unwrap();
                        let left = serves[sessions.len().min(serves.len() - 1)];
                        sessions.insert(id.to_hex(), left);
                        id.to_hex()
                    }),
                Some("bearer") => text("sessionId").map(str::to_owned),
                _ => None,
            };
            let terms = method
                .issue(&LightningSession::template(1, None))
                .await
                .unwrap();
            let expires = Timestamp::from_unix(UnixTime::from_secs(now_secs() + 300)).unwrap();
            let challenge = ChallengeBuilder::new(REALM, "lightning", "session", &terms.request)
                .unwrap()
                .expires(expires)
                .issue(&binder())
                .unwrap()
                .to_header()
                .unwrap();
            let Some(session) = session else {
                return payment_required(&[challenge], None);
            };
            match sessions.lock().unwrap().get_mut(&session) {
                Some(left) if *left > 0 => {
                    *left -= 1;
                    return (StatusCode::OK, "served").into_response();
                }
                _ => {}
            }
            let mut closed = Problem::new(ProblemType::PaymentRequired);
            closed.type_uri = "https://paymentauth.org/problems/lightning/session-closed".into();
            closed.title = "Session Closed".into();
            payment_required(&[challenge], Some(&closed))
        }
    };
    serve(Router::new().fallback(handler)).await
}

#[tokio::test]
async fn a_session_secret_never_reaches_another_origin_naming_its_realm() {
    // Server B, on another port, names the victim's realm (realms are public). It
    // must never see the preimage of the victim's session at A, and A's session is
    // never spent or topped up on B's account.
    let ledger = Ledger::new();
    let a_node = ledger.node(0x0a);
    let a = Paywalled::start(REALM, a_node.clone()).await;
    let b_node = ledger.node(0x0b);
    let b = Paywalled::start(REALM, b_node.clone()).await;
    let payer = Arc::new(LightningSessionPayer::new(ledger.node(0xc1)));
    // Any origin may be paid: an empty allow-list must not hand out session secrets.
    let client = session_client(&payer, u128::from(DEPOSIT), 1000);

    let opened = client.get(&a.url()).await.unwrap();
    assert_eq!(
        paid(&opened.payments),
        [(PaymentKind::SessionOpen, u128::from(DEPOSIT))]
    );
    let a_session = payer.session_id(&origin(&a.server)).expect("open at A");
    let a_preimage = a.credentials.payloads()[0]["preimage"]
        .as_str()
        .unwrap()
        .to_owned();

    // 21 requests at B: B gets a session of its own, and tops it up when it runs dry.
    let mut at_b = Vec::new();
    for _ in 0..21 {
        at_b.push(client.get(&b.url()).await);
    }
    let b_payloads = b.credentials.payloads();
    for payload in &b_payloads {
        for member in ["preimage", "topUpPreimage", "sessionId"] {
            let value = payload.get(member).and_then(Value::as_str);
            assert_ne!(value, Some(a_preimage.as_str()), "{member} leaked to B");
            assert_ne!(
                value,
                Some(a_session.as_str()),
                "{member} names A's session"
            );
        }
    }
    for result in at_b {
        served(result);
    }
    assert_eq!(b_payloads.len(), 21 + 2, "the open, the top-up, the uses");
    assert_ne!(
        payer.session_id(&origin(&b.server)),
        Some(a_session.clone())
    );
    assert_eq!(received_sat(&b_node), 2 * DEPOSIT, "B's deposit and top-up");

    // A's session is as it was: one deposit, and it still serves.
    assert_eq!(
        served(client.get(&a.url()).await),
        [(PaymentKind::SessionUse, 0)]
    );
    assert_eq!(received_sat(&a_node), DEPOSIT, "A was never topped up");
    assert_eq!(payer.session_id(&origin(&a.server)), Some(a_session));
}

#[tokio::test]
async fn session_deposits_count_against_the_budget_and_the_per_request_cap() {
    // req: core.security.client.amount
    // A unit of 1 sat, a deposit of 100,000 sat, and every credential answered with
    // `session-closed` and a fresh challenge.
    let ledger = Ledger::new();
    let node = ledger.node(0x0d);
    let server = dropping_server(node.clone(), 100_000, vec![0]).await;
    let url = server.url("/metered");

    // A budget of 10 sat: the deposit is over it, and over the per-request cap.
    let payer = Arc::new(LightningSessionPayer::new(ledger.node(0xc1)));
    let frugal = session_client(&payer, 10, 10);
    for _ in 0..3 {
        let result = frugal.get(&url).await;
        let Err(PayingError::Declined(refusal)) = result else {
            panic!("expected the deposit refused, got {result:?}");
        };
        assert_eq!(
            refusal.passed[0].reason,
            Skipped::Policy(PolicyError::OverRequestCap {
                amount: 100_000,
                cap: 10
            })
        );
    }
    assert_eq!(received_sat(&node), 0, "nothing paid");

    // A budget for one deposit and a half: one deposit is paid, however many
    // requests follow.
    let payer = Arc::new(LightningSessionPayer::new(ledger.node(0xc2)));
    let client = session_client(&payer, 100_000, 150_000);
    for _ in 0..5 {
        match client.get(&url).await {
            Err(PayingError::SessionNeverServed { .. }) => {}
            Err(PayingError::Declined(r)) => assert_eq!(
                r.passed[0].reason,
                Skipped::Policy(PolicyError::OverBudget {
                    amount: 100_000,
                    left: 50_000
                })
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(received_sat(&node), 100_000, "one deposit");
    assert_eq!(
        client.wallet().lock().await.spent(),
        [("sat".into(), 100_000)]
    );
}

#[tokio::test]
async fn a_session_closed_after_serving_is_reopened_once_per_request_and_reported() {
    let ledger = Ledger::new();
    let node = ledger.node(0x0a);
    let paywall = Paywalled::start(REALM, node.clone()).await;
    let payer = Arc::new(LightningSessionPayer::new(ledger.node(0xc1)));
    let client = session_client(&payer, u128::from(DEPOSIT), 1000);
    let deposit = u128::from(DEPOSIT);

    assert_eq!(
        served(client.get(&paywall.url()).await),
        [(PaymentKind::SessionOpen, deposit)]
    );
    for _ in 0..2 {
        assert_eq!(
            served(client.get(&paywall.url()).await),
            [(PaymentKind::SessionUse, 0)]
        );
    }
    // The server closes it for idleness; the next request opens a new one, and says so.
    let first = payer.session_id(&origin(&paywall.server)).unwrap();
    paywall.close_idle_sessions().await;
    assert_eq!(
        served(client.get(&paywall.url()).await),
        [
            (PaymentKind::SessionUse, 0),
            (PaymentKind::SessionOpen, deposit)
        ]
    );
    assert_ne!(payer.session_id(&origin(&paywall.server)).unwrap(), first);
    assert_eq!(received_sat(&node), 2 * DEPOSIT);

    // A server that drops the reopened session at once: one reopen in the request,
    // not a second; and the reopened session, having never served, is not reopened
    // by the next request either.
    let node = ledger.node(0x0d);
    let server = dropping_server(node.clone(), DEPOSIT, vec![3, 0]).await;
    let url = server.url("/metered");
    let payer = Arc::new(LightningSessionPayer::new(ledger.node(0xc2)));
    let client = session_client(&payer, deposit, 1000);
    for _ in 0..3 {
        client.get(&url).await.unwrap();
    }
    match client.get(&url).await {
        Err(PayingError::Rejected {
            status, payments, ..
        }) => {
            assert_eq!(status, StatusCode::PAYMENT_REQUIRED);
            assert_eq!(
                paid(&payments),
                [
                    (PaymentKind::SessionUse, 0),
                    (PaymentKind::SessionOpen, deposit)
                ]
            );
        }
        other => panic!("expected the reopened session refused, got {other:?}"),
    }
    match client.get(&url).await {
        Err(PayingError::SessionNeverServed { problem, payments }) => {
            assert!(problem.type_uri.ends_with("/session-closed"));
            assert_eq!(paid(&payments), [(PaymentKind::SessionUse, 0)]);
        }
        other => panic!("expected no reopen, got {other:?}"),
    }
    assert_eq!(received_sat(&node), 2 * DEPOSIT);
    assert_eq!(payer.session_id(&origin(&server)), None, "forgotten");
}

#[tokio::test]
async fn a_session_dropped_before_it_served_is_not_reopened() {
    let ledger = Ledger::new();
    let node = ledger.node(0x0d);
    let server = dropping_server(node.clone(), DEPOSIT, vec![0]).await;
    let payer = Arc::new(LightningSessionPayer::new(ledger.node(0xc1)));
    // A budget for many deposits: the client stops by itself.
    let client = session_client(&payer, u128::from(DEPOSIT), 1_000_000);

    let result = client.get(&server.url("/metered")).await;

    let Err(PayingError::SessionNeverServed { problem, payments }) = result else {
        panic!("expected SessionNeverServed, got {result:?}");
    };
    assert!(problem.type_uri.ends_with("/session-closed"));
    assert_eq!(
        paid(&payments),
        [(PaymentKind::SessionOpen, u128::from(DEPOSIT))]
    );
    assert_eq!(received_sat(&node), DEPOSIT, "one deposit");
    assert_eq!(payer.session_id(&origin(&server)), None, "forgotten");
}

#[tokio::test]
async fn top_ups_count_against_the_budget() {
    // req: core.security.client.amount
    // A budget for the deposit and half a top-up: the 21st request finds the session
    // spent, and the top-up is refused before anything is paid.
    let ledger = Ledger::new();
    let node = ledger.node(0x0a);
    let paywall = Paywalled::start(REALM, node.clone()).await;
    let payer = Arc::new(LightningSessionPayer::new(ledger.node(0xc1)));
    let client = session_client(
        &payer,
        u128::from(DEPOSIT),
        u128::from(DEPOSIT + DEPOSIT / 2),
    );

    for _ in 0..DEPOSIT / UNIT {
        client.get(&paywall.url()).await.unwrap();
    }
    let result = client.get(&paywall.url()).await;
    let Err(PayingError::Declined(refusal)) = result else {
        panic!("expected the top-up refused, got {result:?}");
    };
    assert_eq!(
        refusal.passed[0].reason,
        Skipped::Policy(PolicyError::OverBudget {
            amount: u128::from(DEPOSIT),
            left: u128::from(DEPOSIT / 2)
        })
    );
    assert_eq!(received_sat(&node), DEPOSIT, "no top-up paid");
    assert_eq!(
        client.wallet().lock().await.spent(),
        [("sat".into(), u128::from(DEPOSIT))]
    );
}
