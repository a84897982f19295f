//! Offers whose terms are made for each challenge (`lightning/charge`: a fresh BOLT11
//! invoice in every 402), through the real paywall layer: every refusal gets fresh
//! invoices, a paid invoice pays its own challenge only, the price stays pinned, and
//! a node that cannot issue invoices turns the 402 into a 500 rather than a 402
//! without a challenge.

mod common;

use std::sync::Arc;

use common::*;
use http::Method;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::method::BoxFuture;
use mpp_core::problem::ProblemType;
use mpp_core::time::ManualClock;
use mpp_methods::lightning::{
    Invoice, InvoiceRequest, InvoiceStatus, LightningCharge, LightningNode, Network, NodeError,
    NodeId, PayOptions, PaymentHash, PaymentOutcome, PaymentPreimage, TestNode,
};
use mpp_server::{ChargeOffer, PaidRoute};

struct Setup {
    harness: Harness,
    server_node: Arc<TestNode>,
    client_node: TestNode,
}

fn setup() -> Setup {
    setup_limited(mpp_server::MintLimit::default())
}

fn setup_limited(limit: mpp_server::MintLimit) -> Setup {
    let clock = test_clock();
    let manual = ManualClock::new(clock.now());
    let server_node = Arc::new(TestNode::new().with_clock(manual.clock()));
    let client_node = server_node.peer([0x42; 32]).unwrap();
    let method = Arc::new(LightningCharge::new(server_node.clone()).with_clock(manual.clock()));
    let layer = builder(&clock)
        .route(
            PaidRoute::new(Method::GET, "/weather").offer(ChargeOffer::new(
                method,
                LightningCharge::template(250, Some("weather report")),
            )),
        )
        .mint_limit(limit)
        .build()
        .unwrap();
    Setup {
        harness: Harness::new(layer, &clock),
        server_node,
        client_node,
    }
}

fn invoice_of(challenge: &Challenge<'_>) -> Invoice {
    let request = challenge.request.decode().unwrap();
    Invoice::decode(request["methodDetails"]["invoice"].as_str().unwrap()).unwrap()
}

/// Pays the challenge's invoice from the client node and answers with the preimage.
async fn pay(client: &TestNode, challenge: &Challenge<'static>) -> String {
    let outcome = client
        .pay_invoice(&invoice_of(challenge), PayOptions::default())
        .await
        .unwrap();
    let mut payload = mpp_core::json::JsonObject::new();
    payload.insert("preimage".into(), outcome.preimage.to_hex().into());
    Credential::answer(challenge, payload, None).to_header()
}

#[tokio::test]
async fn every_402_carries_a_fresh_invoice_that_pays_its_own_challenge_once() {
    // req: charge.verify.proof charge.replay.id-single-use lightning-charge.invoice.fresh-hash lightning-charge.expiry.not-after-invoice lightning-charge.receipt.payment-hash
    let s = setup();
    let a = s.harness.challenge(get("/weather")).await;
    let b = s.harness.challenge(get("/weather")).await;
    let (ia, ib) = (invoice_of(&a), invoice_of(&b));
    assert_ne!(
        ia.payment_hash(),
        ib.payment_hash(),
        "one invoice per challenge"
    );
    assert_eq!(ia.amount_sat(), Some(250));
    assert_eq!(a.request.decode().unwrap()["amount"], "250");
    // Each challenge expires no later than its invoice.
    let expires = a.expires.as_ref().unwrap().unix();
    assert!(expires <= ia.expires_at());

    let paid_a = pay(&s.client_node, &a).await;
    let receipt = s
        .harness
        .send(get_paid("/weather", &paid_a))
        .await
        .assert_paid();
    assert_eq!(receipt.reference, ia.payment_hash().to_hex());
    assert!(s.server_node.is_paid(ia.payment_hash()));

    // The replay is refused with fresh invoices, and the other challenge still pays.
    let replay = s.harness.send(get_paid("/weather", &paid_a)).await;
    let fresh = replay.assert_402(ProblemType::InvalidChallenge);
    assert_ne!(invoice_of(&fresh[0]).payment_hash(), ia.payment_hash());
    let paid_b = pay(&s.client_node, &b).await;
    s.harness
        .send(get_paid("/weather", &paid_b))
        .await
        .assert_paid();
    assert_eq!(s.harness.calls(), 2);
}

#[tokio::test]
async fn a_proof_for_one_invoice_does_not_pay_another_challenge() {
    // req: lightning-charge.binding.one-challenge lightning-charge.errors.problem-types
    let s = setup();
    let a = s.harness.challenge(get("/weather")).await;
    let b = s.harness.challenge(get("/weather")).await;
    let paid_a = Credential::parse(pay(&s.client_node, &a).await.as_bytes()).unwrap();
    // A's preimage under B's echo: B's invoice is bound by B's id. The draft's own
    // type, with the status of the core `verification-failed` it refines.
    let swapped = Credential::answer(&b, paid_a.payload.clone(), None).to_header();
    s.harness
        .send(get_paid("/weather", &swapped))
        .await
        .assert_refused(
            "https://paymentauth.org/problems/lightning/invalid-preimage",
            &b,
        );
    assert_eq!(s.harness.calls(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_credentials_with_one_preimage_are_served_once() {
    // req: lightning-charge.settle.consume-once
    let s = setup();
    let challenge = s.harness.challenge(get("/weather")).await;
    let paid = pay(&s.client_node, &challenge).await;
    let sends: Vec<_> = (0..16)
        .map(|_| {
            let (harness, paid) = (s.harness.clone(), paid.clone());
            tokio::spawn(async move { harness.send(get_paid("/weather", &paid)).await })
        })
        .collect();
    let mut served = 0;
    for send in sends {
        let answer = send.await.unwrap();
        if answer.status == http::StatusCode::OK {
            served += 1;
        } else {
            answer.assert_refused(ProblemType::InvalidChallenge, &challenge);
        }
    }
    assert_eq!(served, 1, "exactly one success");
    assert_eq!(s.harness.calls(), 1, "the resource was delivered once");
}

/// A node that is down: it issues nothing.
struct DownNode(TestNode);

impl LightningNode for DownNode {
    fn node_id(&self) -> NodeId {
        self.0.node_id()
    }

    fn network(&self) -> Network {
        self.0.network()
    }

    fn create_invoice<'a>(
        &'a self,
        _: &'a InvoiceRequest,
    ) -> BoxFuture<'a, Result<Invoice, NodeError>> {
        Box::pin(async { Err(NodeError::Unavailable("the node is down".into())) })
    }

    fn lookup_invoice<'a>(
        &'a self,
        _: &'a PaymentHash,
    ) -> BoxFuture<'a, Result<Option<InvoiceStatus>, NodeError>> {
        Box::pin(async { Err(NodeError::Unavailable("the node is down".into())) })
    }

    fn pay_invoice<'a>(
        &'a self,
        _: &'a Invoice,
        _: PayOptions,
    ) -> BoxFuture<'a, Result<PaymentOutcome, NodeError>> {
        Box::pin(async { Err(NodeError::Unavailable("the node is down".into())) })
    }
}

#[tokio::test]
async fn a_node_that_cannot_issue_invoices_gives_a_500_never_a_bare_402() {
    // req: core.errors.402.with-challenge
    let clock = test_clock();
    let method = Arc::new(LightningCharge::new(Arc::new(DownNode(TestNode::new()))));
    let layer = builder(&clock)
        .route(
            PaidRoute::new(Method::GET, "/weather").offer(ChargeOffer::new(
                method,
                LightningCharge::template(250, None),
            )),
        )
        .build()
        .unwrap();
    let harness = Harness::new(layer, &clock);
    let answer = harness.send(get("/weather")).await;
    answer.assert_error(500, ProblemType::InternalPaymentError);
    assert!(answer.headers.get("www-authenticate").is_none());
    // A route with another way to pay still offers that one.
    let method = Arc::new(LightningCharge::new(Arc::new(DownNode(TestNode::new()))));
    let layer = builder(&clock)
        .route(
            PaidRoute::new(Method::GET, "/weather")
                .offer(ChargeOffer::new(
                    method,
                    LightningCharge::template(250, None),
                ))
                .offer(preimage_offer()),
        )
        .build()
        .unwrap();
    let harness = Harness::new(layer, &clock);
    let challenges = harness
        .send(get("/weather"))
        .await
        .assert_402(ProblemType::PaymentRequired);
    let methods: Vec<_> = challenges.iter().map(|c| c.method.to_string()).collect();
    assert_eq!(methods, ["preimage"]);
}

#[test]
fn preimages_are_redacted() {
    let p = PaymentPreimage::from_hex(&"ab".repeat(32)).unwrap();
    assert!(!format!("{p:?}").contains("abab"));
}

#[tokio::test]
async fn anonymous_402s_that_mint_invoices_are_limited_per_client_and_in_all() {
    // Each 402 here costs the node an invoice: a flood gets 429, not invoices.
    use mpp_server::{MintLimit, MintRate};
    let per_client = MintRate {
        burst: 2,
        per_second: 1,
    };
    let limit = MintLimit {
        global: Some(MintRate {
            burst: 3,
            per_second: 1,
        }),
        per_client: None,
    }
    .per_client(per_client, |parts| {
        let client = parts.headers.get("x-client")?;
        Some(client.to_str().ok()?.to_owned())
    });
    let s = setup_limited(limit);
    let from = |client: &str| request(Method::GET, "/weather", &[("x-client", client)], "");
    for _ in 0..2 {
        s.harness
            .send(from("a"))
            .await
            .assert_402(ProblemType::PaymentRequired);
    }
    let held = s.server_node.invoices_held();
    let limited = s.harness.send(from("a")).await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert_eq!(limited.header("retry-after"), Some("1"));
    assert_eq!(limited.header("cache-control"), Some("no-store"));
    assert!(limited.challenges().is_empty());
    assert_eq!(s.server_node.invoices_held(), held, "nothing minted");
    // Another client has its own allowance, within the one of all clients.
    s.harness
        .send(from("b"))
        .await
        .assert_402(ProblemType::PaymentRequired);
    assert_eq!(s.harness.send(from("c")).await.status, 429);
    // A second later, one more each.
    s.harness.clock.advance(1);
    s.harness
        .send(from("a"))
        .await
        .assert_402(ProblemType::PaymentRequired);
    assert_eq!(s.server_node.invoices_held(), held + 2);
}
