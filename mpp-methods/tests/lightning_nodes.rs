//! `LndNode` and `ClnNode` against stand-ins of LND's and Core Lightning's REST APIs
//! (mpp-test-support's `lnd` and `cln`), started by each test on loopback ports: the
//! invoice round trip, `lightning/charge` and `lightning/session` settled through a
//! payee of one kind and a payer of the other, credentials and certificate pinning,
//! and what a node that fails or never finishes a payment leads to.
#![cfg(feature = "lightning-nodes")]

use std::sync::Arc;
use std::time::Duration;

use mpp_core::binding::{ChallengeBinder, Secret};
use mpp_core::client::{Origin, PayError, PayMethod, SpendingPolicy, Wallet};
use mpp_core::credential::Credential;
use mpp_core::method::{ChargeMethod, MethodError, Refund, SessionAction, SessionMethod, Terms};
use mpp_core::server::{Evaluation, OfferTerms, PaymentRequest, Paywall, Route, RouteOffer};
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::{Base64Json, IntentName, MethodName, Realm};
use mpp_methods::lightning::{
    ClnNode, InvoiceBuilder, InvoiceRequest, InvoiceState, LightningCharge, LightningNode,
    LightningPayer, LightningSession, LightningSessionPayer, LightningWallet, LndNode, Network,
    NodeError, NodeKey, PayOptions, PaymentHash,
};
use mpp_test_support::cln::ClnStandIn;
use mpp_test_support::lightning::{Fault, InvoiceSpec, Ledger, Signer};
use mpp_test_support::lnd::LndStandIn;

const REALM: &str = "api.example.com";

/// A stand-in's identity: a regtest node signing with mpp-methods' own BOLT11 code.
fn signer(key: u8) -> Signer {
    let node_key = NodeKey::from_bytes([key; 32]).unwrap();
    Signer {
        node_id: node_key.node_id().to_string(),
        network: "regtest".into(),
        sign: Arc::new(move |spec: &InvoiceSpec| {
            let mut builder = InvoiceBuilder::new(Network::Regtest)
                .timestamp(UnixTime::from_secs(spec.timestamp as i64))
                .payment_hash(PaymentHash::from_bytes(spec.payment_hash))
                .payment_secret(spec.payment_secret)
                .description(spec.description.clone())
                .expiry_secs(spec.expiry_secs)
                .include_payee();
            if let Some(msat) = spec.amount_msat {
                builder = builder.amount_msat(msat);
            }
            builder
                .sign(&node_key)
                .map(|i| i.as_str().to_string())
                .map_err(|e| e.to_string())
        }),
    }
}

async fn lnd(standin: &LndStandIn) -> LndNode {
    LndNode::connect(&standin.url(), standin.macaroon_path(), standin.cert_path())
        .await
        .unwrap()
}

async fn cln(standin: &ClnStandIn) -> ClnNode {
    ClnNode::connect(&standin.url(), standin.rune())
        .await
        .unwrap()
}

fn request(amount_msat: Option<u64>) -> InvoiceRequest {
    InvoiceRequest {
        amount_msat,
        description: "weather report".into(),
        expiry_secs: 600,
    }
}

/// Creates, looks up and pays invoices of `payee` through `payer`, both ways of
/// naming the amount.
async fn round_trip(payee: &dyn LightningNode, payer: &dyn LightningNode) {
    assert_eq!(payee.network(), Network::Regtest);
    let invoice = payee.create_invoice(&request(Some(5_000))).await.unwrap();
    assert_eq!(invoice.payee(), &payee.node_id());
    assert_eq!(invoice.amount_msat(), Some(5_000));
    let status = payee
        .lookup_invoice(invoice.payment_hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, InvoiceState::Open);
    assert_eq!((status.amount_received_msat, status.settled_at), (0, None));
    // The payer's node does not hold the payee's invoice.
    assert!(
        payer
            .lookup_invoice(invoice.payment_hash())
            .await
            .unwrap()
            .is_none()
    );

    let outcome = payer
        .pay_invoice(&invoice, PayOptions::default())
        .await
        .unwrap();
    assert_eq!(&outcome.preimage.payment_hash(), invoice.payment_hash());
    assert_eq!(outcome.amount_msat, 5_000);
    let status = payee
        .lookup_invoice(invoice.payment_hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, InvoiceState::Settled);
    assert_eq!(status.amount_received_msat, 5_000);
    assert!(status.settled_at.is_some());

    // An invoice without an amount (a session's return invoice) needs one.
    let open = payee.create_invoice(&request(None)).await.unwrap();
    assert_eq!(open.amount_msat(), None);
    assert!(matches!(
        payer.pay_invoice(&open, PayOptions::default()).await,
        Err(NodeError::InvalidRequest(_))
    ));
    let paid = payer
        .pay_invoice(
            &open,
            PayOptions {
                amount_msat: Some(140_000),
                max_fee_msat: Some(0),
            },
        )
        .await
        .unwrap();
    assert_eq!(paid.amount_msat, 140_000);
    let status = payee
        .lookup_invoice(open.payment_hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.amount_received_msat, 140_000);

    // A hash the node never issued.
    assert!(
        payee
            .lookup_invoice(&PaymentHash::from_bytes([7; 32]))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn lnd_creates_looks_up_and_pays_invoices() {
    let ledger = Ledger::new();
    let (a, b) = (
        LndStandIn::start(signer(0x11), ledger.clone()),
        LndStandIn::start(signer(0x12), ledger),
    );
    let (payee, payer) = (lnd(&a).await, lnd(&b).await);
    assert_eq!(payee.node_id().to_string(), a.node_id());
    round_trip(&payee, &payer).await;
    // Secrets stay out of Debug.
    let debug = format!("{payee:?}");
    assert!(!debug.contains(&hex(a.macaroon())), "{debug}");
}

#[tokio::test]
async fn cln_creates_looks_up_and_pays_invoices() {
    let ledger = Ledger::new();
    let (a, b) = (
        ClnStandIn::start(signer(0x21), ledger.clone()),
        ClnStandIn::start(signer(0x22), ledger),
    );
    let (payee, payer) = (cln(&a).await, cln(&b).await);
    assert_eq!(payee.node_id().to_string(), a.node_id());
    round_trip(&payee, &payer).await;
    let debug = format!("{payee:?}");
    assert!(!debug.contains(a.rune()), "{debug}");
}

#[tokio::test]
async fn lnd_and_cln_pay_each_other() {
    let ledger = Ledger::new();
    let (l, c) = (
        LndStandIn::start(signer(0x31), ledger.clone()),
        ClnStandIn::start(signer(0x32), ledger),
    );
    let (l, c) = (lnd(&l).await, cln(&c).await);
    round_trip(&l, &c).await;
    round_trip(&c, &l).await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 402 for a route whose one offer is a fresh invoice of `method`'s node, the
/// wallet's credential for it, and the server's verdict.
async fn charge_through(method: &LightningCharge, payer: Arc<dyn LightningWallet>) {
    let now = UnixTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let paywall = Paywall::new(
        ChallengeBinder::new(Secret::new([7u8; 32]).unwrap()),
        Realm::new(REALM).unwrap(),
    );
    let Terms::PerChallenge { pinned } = method.terms() else {
        panic!("lightning makes its terms per challenge");
    };
    let offer = RouteOffer::per_challenge(
        MethodName::new("lightning").unwrap(),
        IntentName::new("charge").unwrap(),
        LightningCharge::template(21, Some("weather report")),
        pinned,
    );
    let mut route = Route::new(vec![offer]);
    route.ttl_secs = 300;
    let terms = method
        .issue_terms(route.offers[0].request(), now)
        .await
        .unwrap();
    let offer_terms = vec![Some(OfferTerms::new(&terms.request, terms.not_after))];
    let get = |headers: &[(&'static str, String)]| {
        headers
            .iter()
            .map(|(n, v)| (*n, v.clone()))
            .collect::<Vec<_>>()
    };
    let none = get(&[]);
    let req = PaymentRequest::from_headers(
        "GET",
        "/weather",
        None,
        none.iter().map(|(n, v)| (*n, v.as_str())),
        None,
    );
    let Evaluation::Refuse(refusal) = paywall.evaluate(&route, &req, now) else {
        panic!("no credential, yet verified");
    };
    let reply = paywall.reply(&route, &req, &refusal, now, &[1u8; 16], &offer_terms);
    assert_eq!(reply.status, 402);
    let lines: Vec<String> = reply
        .headers
        .iter()
        .filter(|(n, _)| *n == "www-authenticate")
        .map(|(_, v)| v.to_string())
        .collect();

    let lightning_payer = Arc::new(LightningPayer::new(payer, Network::Regtest));
    let mut wallet = Wallet::new(SpendingPolicy {
        max_per_request: vec![("sat".into(), 100)],
        ..SpendingPolicy::default()
    })
    .with_method(lightning_payer.clone(), 1000);
    let origin = Origin::new("https", REALM, 443);
    let choice = wallet.choose(&lines, &origin, now).unwrap();
    let paid = lightning_payer.pay(&choice).await.unwrap();
    let authorization =
        Credential::answer(&choice.challenge, paid.payload, paid.source).to_header();

    let with = get(&[("authorization", authorization)]);
    let req = PaymentRequest::from_headers(
        "GET",
        "/weather",
        None,
        with.iter().map(|(n, v)| (*n, v.as_str())),
        None,
    );
    let Evaluation::Verify(pending) = paywall.evaluate(&route, &req, now) else {
        panic!("the credential was refused");
    };
    let charge = pending.charge();
    method
        .check_payload(charge.request, charge.payload)
        .unwrap();
    let settlement = method.settle(charge).await.unwrap();
    let receipt = pending.receipt(settlement, now);
    let invoice = mpp_methods::lightning::Invoice::decode(
        terms.request["methodDetails"]["invoice"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(receipt.reference, invoice.payment_hash().to_hex());
    // The node confirms the payment it received.
    let status = method
        .node()
        .lookup_invoice(invoice.payment_hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.state, InvoiceState::Settled);
    assert_eq!(status.amount_received_msat, 21_000);
}

#[tokio::test]
async fn a_charge_settles_through_lnd_paid_from_cln_and_the_other_way() {
    let ledger = Ledger::new();
    let (l, c) = (
        LndStandIn::start(signer(0x41), ledger.clone()),
        ClnStandIn::start(signer(0x42), ledger),
    );
    let (l, c) = (Arc::new(lnd(&l).await), Arc::new(cln(&c).await));
    let method = LightningCharge::new(l.clone()).confirm_with_node(true);
    charge_through(&method, c.clone()).await;
    let method = LightningCharge::new(c).confirm_with_node(true);
    charge_through(&method, l).await;
}

/// Opens a session whose deposit `payee` issued and `payer` pays, then refunds part
/// of it to the payer's return invoice.
async fn session_through(payee: Arc<dyn LightningNode>, payer: Arc<dyn LightningNode>) {
    let now = UnixTime::from_secs(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let method = LightningSession::new(payee.clone());
    let terms = method
        .issue_terms(&LightningSession::template(10, Some("tokens")), now)
        .await
        .unwrap();
    let line = format!(
        r#"Payment id="c1", realm="{REALM}", method="lightning", intent="session", request="{}", expires="{}""#,
        Base64Json::encode(&terms.request),
        Timestamp::from_unix(terms.not_after.unwrap()).unwrap()
    );
    let challenge = mpp_core::challenge::Challenge::parse(line.as_bytes())
        .unwrap()
        .into_owned();
    let session_payer = Arc::new(LightningSessionPayer::new(payer.clone()));
    let mut wallet = Wallet::new(SpendingPolicy {
        max_per_request: vec![("sat".into(), 1_000)],
        ..SpendingPolicy::default()
    })
    .with_method(session_payer.clone(), 1000);
    let origin = Origin::new("https", REALM, 443);
    let choice = wallet.choose([line.as_str()], &origin, now).unwrap();
    let open = session_payer.pay(&choice).await.unwrap().payload;
    assert_eq!(method.action(&open), Ok(SessionAction::Open));
    let opened = method
        .open(mpp_core::method::Charge {
            challenge: &challenge,
            request: &terms.request,
            payload: &open,
            source: None,
        })
        .await
        .unwrap();
    assert_eq!(opened.deposit, 200);
    let return_invoice = mpp_methods::lightning::Invoice::decode(&opened.refund_to).unwrap();
    assert_eq!(return_invoice.payee(), &payer.node_id());
    assert_eq!(
        method.refund(&opened.refund_to, 140).await,
        Refund::Succeeded
    );
    let refunded = payer
        .lookup_invoice(return_invoice.payment_hash())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refunded.amount_received_msat, 140_000);
}

#[tokio::test]
async fn a_session_opens_and_refunds_through_lnd_and_cln_both_ways() {
    let ledger = Ledger::new();
    let (l, c) = (
        LndStandIn::start(signer(0x51), ledger.clone()),
        ClnStandIn::start(signer(0x52), ledger),
    );
    let (l, c) = (Arc::new(lnd(&l).await), Arc::new(cln(&c).await));
    session_through(l.clone(), c.clone()).await;
    session_through(c, l).await;
}

#[tokio::test]
async fn a_wrong_macaroon_or_rune_is_named_in_the_error() {
    let ledger = Ledger::new();
    let l = LndStandIn::start(signer(0x61), ledger.clone());
    let other = LndStandIn::start(signer(0x62), ledger.clone());
    let e = LndNode::connect(&l.url(), other.macaroon_path(), l.cert_path())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, NodeError::Unavailable(m) if m.contains("refused the macaroon")),
        "{e}"
    );
    assert!(!e.to_string().contains(&hex(other.macaroon())), "{e}");
    let e = LndNode::connect(&l.url(), l.dir().join("none.macaroon"), l.cert_path())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, NodeError::InvalidRequest(m) if m.contains("macaroon file")),
        "{e}"
    );

    let c = ClnStandIn::start(signer(0x63), ledger);
    let e = ClnNode::connect(&c.url(), "d3JvbmctcnVuZQ")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, NodeError::Unavailable(m) if m.contains("refused the rune")),
        "{e}"
    );
    assert!(!e.to_string().contains("d3JvbmctcnVuZQ"), "{e}");
    // A rune read from a file works as the rune itself does.
    let file = l.dir().join("rune");
    std::fs::write(&file, format!("{}\n", c.rune())).unwrap();
    let node = ClnNode::connect(&c.url(), file.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(node.node_id().to_string(), c.node_id());
}

#[tokio::test]
async fn only_the_pinned_certificate_is_trusted() {
    let ledger = Ledger::new();
    let a = LndStandIn::start(signer(0x71), ledger.clone());
    let b = LndStandIn::start(signer(0x72), ledger);
    // b's certificate does not open a's door, even though both name localhost and
    // both are valid self-signed certificates.
    let e = LndNode::connect(&a.url(), a.macaroon_path(), b.cert_path())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, NodeError::Unavailable(m) if m.contains("other than the pinned one")),
        "{e}"
    );
    // The pinned certificate is compared whole, not by name: the IP address works.
    let node = LndNode::connect(&a.ip_url(), a.macaroon_path(), a.cert_path())
        .await
        .unwrap();
    assert_eq!(node.node_id().to_string(), a.node_id());
    // Not PEM, or not https.
    let junk = a.dir().join("junk.cert");
    std::fs::write(&junk, "not a certificate").unwrap();
    assert!(matches!(
        LndNode::connect(&a.url(), a.macaroon_path(), &junk).await,
        Err(NodeError::InvalidRequest(_))
    ));
    let plain = a.url().replace("https://", "http://");
    assert!(matches!(
        LndNode::connect(&plain, a.macaroon_path(), a.cert_path()).await,
        Err(NodeError::InvalidRequest(_))
    ));
}

/// What the charge answers when its node cannot issue an invoice.
async fn issue_error(method: &LightningCharge) -> MethodError {
    let now = UnixTime::from_secs(1_800_000_000);
    method
        .issue_terms(&LightningCharge::template(21, None), now)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_node_that_fails_or_is_gone_is_an_internal_error_never_a_grant() {
    let ledger = Ledger::new();
    let l = LndStandIn::start(signer(0x81), ledger.clone());
    let c = ClnStandIn::start(signer(0x82), ledger);
    let lnd_node = Arc::new(lnd(&l).await.with_timeout(Duration::from_millis(500)));
    let cln_node = Arc::new(cln(&c).await.with_timeout(Duration::from_millis(500)));
    let lnd_charge = LightningCharge::new(lnd_node.clone());
    let cln_charge = LightningCharge::new(cln_node.clone());

    for fault in [Fault::ServerError, Fault::Delay(Duration::from_secs(2))] {
        l.set_fault(fault.clone());
        c.set_fault(fault.clone());
        for method in [&lnd_charge, &cln_charge] {
            let e = issue_error(method).await;
            assert!(matches!(e, MethodError::Internal(_)), "{fault:?}: {e:?}");
        }
        let e = lnd_node
            .lookup_invoice(&PaymentHash::from_bytes([1; 32]))
            .await
            .unwrap_err();
        assert!(matches!(e, NodeError::Unavailable(_)), "{fault:?}: {e}");
    }
    l.set_fault(Fault::None);
    c.set_fault(Fault::None);
    assert!(
        lnd_charge
            .issue_terms(
                &LightningCharge::template(21, None),
                UnixTime::from_secs(1_800_000_000)
            )
            .await
            .is_ok()
    );

    // Gone altogether.
    drop(l);
    drop(c);
    for method in [&lnd_charge, &cln_charge] {
        let e = issue_error(method).await;
        assert!(matches!(e, MethodError::Internal(_)), "{e:?}");
    }
    let e = ClnNode::connect("http://127.0.0.1:9", "cnVuZQ")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, NodeError::Unavailable(m) if m.contains("cannot connect")),
        "{e}"
    );
}

#[tokio::test]
async fn a_payment_that_fails_is_reported_with_its_reason() {
    let ledger = Ledger::new();
    let payee = LndStandIn::start(signer(0x91), ledger.clone());
    let l = LndStandIn::start(signer(0x92), ledger.clone());
    let c = ClnStandIn::start(signer(0x93), ledger);
    let payee = lnd(&payee).await;
    let (lnd_payer, cln_payer) = (lnd(&l).await, cln(&c).await);
    l.set_fault(Fault::PaymentFails("FAILURE_REASON_NO_ROUTE".into()));
    c.set_fault(Fault::PaymentFails("Ran out of routes to try".into()));
    let invoice = payee.create_invoice(&request(Some(1_000))).await.unwrap();
    let e = lnd_payer.pay(&invoice).await.unwrap_err();
    assert!(
        matches!(&e, NodeError::PaymentFailed(m) if m.contains("no route")),
        "{e}"
    );
    let e = cln_payer.pay(&invoice).await.unwrap_err();
    assert!(
        matches!(&e, NodeError::PaymentFailed(m) if m.contains("Ran out of routes")),
        "{e}"
    );
    // An invoice of no node on the ledger: no route, as each node says it.
    l.set_fault(Fault::None);
    c.set_fault(Fault::None);
    let stranger = InvoiceBuilder::new(Network::Regtest)
        .timestamp(UnixTime::from_secs(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64,
        ))
        .payment_hash(PaymentHash::from_bytes([3; 32]))
        .payment_secret([4; 32])
        .description("elsewhere")
        .amount_msat(1_000)
        .sign(&NodeKey::from_bytes([0x99; 32]).unwrap())
        .unwrap();
    assert!(matches!(
        lnd_payer.pay(&stranger).await,
        Err(NodeError::PaymentFailed(_))
    ));
    assert!(matches!(
        cln_payer.pay(&stranger).await,
        Err(NodeError::PaymentFailed(_))
    ));
}

#[tokio::test]
async fn a_payment_left_in_flight_is_an_unknown_outcome_and_is_not_paid_again() {
    let ledger = Ledger::new();
    let payee = ClnStandIn::start(signer(0xa1), ledger.clone());
    let l = LndStandIn::start(signer(0xa2), ledger.clone());
    let c = ClnStandIn::start(signer(0xa3), ledger);
    let payee = cln(&payee).await;
    let lnd_payer: Arc<LndNode> =
        Arc::new(lnd(&l).await.with_payment_timeout(Duration::from_secs(2)));
    let cln_payer: Arc<ClnNode> =
        Arc::new(cln(&c).await.with_payment_timeout(Duration::from_secs(2)));
    l.set_fault(Fault::PaymentInFlight);
    c.set_fault(Fault::PaymentInFlight);

    for (payer, started) in [
        (lnd_payer as Arc<dyn LightningWallet>, &l as &dyn Started),
        (cln_payer as Arc<dyn LightningWallet>, &c as &dyn Started),
    ] {
        let invoice = payee.create_invoice(&request(Some(2_000))).await.unwrap();
        let e = payer.pay(&invoice).await.unwrap_err();
        assert!(
            matches!(&e, NodeError::Unavailable(m) if m.contains("outcome is unknown")),
            "{e}"
        );
        // The client is told the outcome is unknown, not that it failed.
        assert!(matches!(
            e.clone().into_pay_error(),
            PayError::OutcomeUnknown(_)
        ));
        // Asked again, the node refuses a second payment of the hash in flight; the
        // connector never retried on its own.
        let again = payer.pay(&invoice).await.unwrap_err();
        assert!(matches!(again, NodeError::Unavailable(_)), "{again}");
        assert_eq!(started.started(), 1);
        let status = payee
            .lookup_invoice(invoice.payment_hash())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.state, InvoiceState::Open);
    }
}

/// The stand-ins' count of payments started, for one loop over both kinds.
trait Started {
    fn started(&self) -> u64;
}

impl Started for LndStandIn {
    fn started(&self) -> u64 {
        self.payments_started()
    }
}

impl Started for ClnStandIn {
    fn started(&self) -> u64 {
        self.payments_started()
    }
}
