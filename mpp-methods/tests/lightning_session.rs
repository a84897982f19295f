//! `lightning/session` in memory: the server's method issues deposit invoices of one
//! test node, the session payer pays them through a second test node of the same
//! ledger, and the method opens, tops up, checks ownership and refunds to the
//! payer's return invoice.
#![cfg(feature = "lightning")]

mod common;

use std::sync::Arc;

use common::block_on;

use mpp_core::challenge::Challenge;
use mpp_core::client::{Origin, PayMethod, SpendingPolicy, Wallet};
use mpp_core::intent::session::Funding;
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{Charge, Refund, SessionAction, SessionMethod};
use mpp_core::problem::ProblemType;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::Base64Json;
use mpp_methods::lightning::{
    Invoice, InvoiceRequest, LightningNode, LightningSession, LightningSessionPayer, ManualClock,
    Network, PaymentHash, Preimage, SessionError, TestNode,
};

const NOW: i64 = 1_800_000_000;
const REALM: &str = "api.example.com";
const UNIT: u64 = 10;

struct World {
    clock: ManualClock,
    server_node: Arc<TestNode>,
    client_node: Arc<TestNode>,
    method: LightningSession,
    payer: LightningSessionPayer,
}

fn world() -> World {
    let clock = ManualClock::new(UnixTime::from_secs(NOW));
    let server_node = Arc::new(TestNode::new().with_clock(clock.clock()));
    let client_node = Arc::new(server_node.peer([0x21; 32]).unwrap());
    let method = LightningSession::new(server_node.clone()).with_clock(clock.clock());
    let payer = LightningSessionPayer::new(client_node.clone()).with_clock(clock.clock());
    World {
        clock,
        server_node,
        client_node,
        method,
        payer,
    }
}

/// A challenge as the server would issue it for `template`: fresh terms, bound by
/// the id the server engine checked before the method sees them.
struct Issued {
    challenge: Challenge<'static>,
    request: JsonObject,
}

impl Issued {
    fn invoice(&self) -> Invoice {
        Invoice::decode(self.request["depositInvoice"].as_str().unwrap()).unwrap()
    }

    fn charge<'a>(&'a self, payload: &'a JsonObject) -> Charge<'a> {
        Charge {
            challenge: &self.challenge,
            request: &self.request,
            payload,
            source: None,
        }
    }
}

fn header(realm: &str, request: &JsonObject, expires: UnixTime) -> String {
    format!(
        r#"Payment id="c{}", realm="{realm}", method="lightning", intent="session", request="{}", expires="{}""#,
        request["paymentHash"].as_str().unwrap_or("none"),
        Base64Json::encode(request),
        Timestamp::from_unix(expires).unwrap()
    )
}

fn issue_with(w: &World, template: &JsonObject, realm: &str) -> Issued {
    let terms = block_on(w.method.issue_terms(template, w.clock.now())).unwrap();
    let expires = terms.not_after.unwrap();
    let challenge = Challenge::parse(header(realm, &terms.request, expires).as_bytes())
        .unwrap()
        .into_owned();
    Issued {
        challenge,
        request: terms.request,
    }
}

fn issue(w: &World) -> Issued {
    issue_with(w, &LightningSession::template(UNIT, Some("tokens")), REALM)
}

/// Opens a session through the payer; returns the challenge and the open payload.
fn open(w: &World) -> (Issued, JsonObject) {
    let issued = issue(w);
    let paid = block_on(w.payer.pay(&issued.challenge, &issued.request)).unwrap();
    (issued, paid.payload)
}

fn text<'a>(payload: &'a JsonObject, name: &str) -> &'a str {
    payload[name].as_str().unwrap()
}

fn payload(members: &[(&str, &str)]) -> JsonObject {
    members
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::from(*v)))
        .collect()
}

#[test]
fn the_payer_pays_the_deposit_and_the_server_opens_the_session() {
    let w = world();
    let issued = issue(&w);
    let deposit = issued.invoice();
    assert_eq!(deposit.amount_sat(), Some(20 * UNIT));

    // The client engine's policy sees the unit price only; the payer caps the deposit.
    let mut wallet = Wallet::new(SpendingPolicy {
        max_per_request: vec![("sat".into(), UNIT.into())],
        ..SpendingPolicy::default()
    })
    .with_method(
        Arc::new(LightningSessionPayer::new(w.client_node.clone())),
        1000,
    );
    let line = header(REALM, &issued.request, deposit.expires_at());
    let origin = Origin::new("https", REALM, 443);
    let choice = wallet
        .choose([line.as_str()], &origin, w.clock.now())
        .unwrap();
    assert_eq!(choice.amount, u128::from(UNIT));

    let open = block_on(w.payer.pay(&issued.challenge, &issued.request)).unwrap();
    let open = open.payload;
    assert_eq!(text(&open, "action"), "open");
    assert!(w.server_node.is_paid(deposit.payment_hash()));
    let preimage = Preimage::from_hex(text(&open, "preimage")).unwrap();
    assert_eq!(&preimage.payment_hash(), deposit.payment_hash());
    let return_invoice = Invoice::decode(text(&open, "returnInvoice")).unwrap();
    assert_eq!(return_invoice.amount_msat(), None);
    assert_eq!(return_invoice.payee(), &w.client_node.node_id());
    assert!(return_invoice.expiry_secs() >= 30 * 24 * 3600);
    assert_eq!(w.payer.session_id(), Some(deposit.payment_hash().to_hex()));

    assert_eq!(w.method.action(&open), Ok(SessionAction::Open));
    let opened = block_on(w.method.open(issued.charge(&open))).unwrap();
    assert_eq!(opened.session, deposit.payment_hash().to_hex());
    assert_eq!(opened.funding, Funding::Prepaid);
    assert_eq!(opened.deposit, u128::from(20 * UNIT));
    assert_eq!(opened.refund_to, return_invoice.as_str());
    assert!(!format!("{:?}", w.payer).contains(&preimage.to_hex()));
}

#[test]
fn bearer_payloads_own_their_session_only() {
    let w = world();
    let (_, open) = open(&w);
    let session = w.payer.session_id().unwrap();
    let preimage = text(&open, "preimage").to_string();

    // With a session open, the next challenge is answered without paying.
    let next = issue(&w);
    let bearer = block_on(w.payer.pay(&next.challenge, &next.request))
        .unwrap()
        .payload;
    assert!(!w.server_node.is_paid(next.invoice().payment_hash()));
    assert_eq!(text(&bearer, "action"), "bearer");
    assert_eq!(text(&bearer, "preimage"), preimage);
    assert_eq!(
        w.method.action(&bearer),
        Ok(SessionAction::Use {
            session: session.clone()
        })
    );
    assert!(w.method.owns(&session, &bearer));

    let other_session = PaymentHash::from_bytes([9; 32]).to_hex();
    assert!(!w.method.owns(&other_session, &bearer));
    let wrong = Preimage::from_bytes([7; 32]).to_hex();
    let forged = payload(&[
        ("action", "bearer"),
        ("sessionId", &session),
        ("preimage", &wrong),
    ]);
    assert!(!w.method.owns(&session, &forged));
    // The right secret naming another session does not own this one.
    let misnamed = payload(&[
        ("action", "bearer"),
        ("sessionId", &other_session),
        ("preimage", &preimage),
    ]);
    assert!(!w.method.owns(&session, &misnamed));
    // Only bearer and close payloads prove ownership.
    let top_up = payload(&[
        ("action", "topUp"),
        ("sessionId", &session),
        ("topUpPreimage", &preimage),
    ]);
    assert!(!w.method.owns(&session, &top_up));
    assert!(!w.method.owns(&session, &open));

    // The secret is not sent to another realm.
    let elsewhere = issue_with(&w, &LightningSession::template(UNIT, None), "evil.example");
    let e = block_on(w.payer.pay(&elsewhere.challenge, &elsewhere.request)).unwrap_err();
    assert!(e.0.contains(REALM), "{e}");
    assert!(!e.0.contains(&preimage));
}

#[test]
fn a_top_up_adds_its_own_invoices_amount() {
    let w = world();
    let (_, open) = open(&w);
    let session = w.payer.session_id().unwrap();

    let mut template = LightningSession::template(UNIT, Some("tokens"));
    template.insert("depositAmount".into(), "150".into());
    let fresh = issue_with(&w, &template, REALM);
    let top_up = block_on(w.payer.top_up(&fresh.challenge, &fresh.request))
        .unwrap()
        .payload;
    assert!(w.server_node.is_paid(fresh.invoice().payment_hash()));
    assert_eq!(text(&top_up, "action"), "topUp");
    assert_eq!(text(&top_up, "sessionId"), session);
    assert_eq!(
        w.method.action(&top_up),
        Ok(SessionAction::TopUp {
            session: session.clone()
        })
    );
    assert_eq!(block_on(w.method.top_up(fresh.charge(&top_up))), Ok(150));
    assert_eq!(w.payer.session_id(), Some(session.clone()), "same session");

    // An older preimage (this top-up's, or the deposit's) does not pay a new invoice.
    let later = issue(&w);
    for old in [text(&top_up, "topUpPreimage"), text(&open, "preimage")] {
        let replay = payload(&[
            ("action", "topUp"),
            ("sessionId", &session),
            ("topUpPreimage", old),
        ]);
        assert_eq!(
            block_on(w.method.verify_top_up(later.charge(&replay))),
            Err(SessionError::InvalidPreimage)
        );
        assert_eq!(
            block_on(w.method.top_up(later.charge(&replay)))
                .unwrap_err()
                .problem_type(),
            ProblemType::VerificationFailed
        );
    }
    // An open payload is not a top-up.
    assert_eq!(
        block_on(w.method.top_up(later.charge(&open)))
            .unwrap_err()
            .problem_type(),
        ProblemType::InvalidPayload
    );

    // Without an open session the payer has nothing to top up.
    w.payer.forget();
    assert!(block_on(w.payer.top_up(&later.challenge, &later.request)).is_err());
    assert!(!w.server_node.is_paid(later.invoice().payment_hash()));
}

#[test]
fn refuses_a_deposit_it_cannot_verify() {
    let w = world();
    let (issued, open) = open(&w);

    // A preimage that is not the deposit's.
    let mut wrong = open.clone();
    wrong.insert(
        "preimage".into(),
        Preimage::from_bytes([7; 32]).to_hex().into(),
    );
    let e = block_on(w.method.verify_open(issued.charge(&wrong))).unwrap_err();
    assert_eq!(e, SessionError::InvalidPreimage);
    assert_eq!(
        e.problem_type_uri().unwrap(),
        "https://paymentauth.org/problems/lightning/invalid-preimage"
    );

    // Terms that disagree with their invoice.
    let mut inflated = issued.request.clone();
    inflated.insert("depositAmount".into(), "999".into());
    let inflated = Issued {
        challenge: issued.challenge.clone(),
        request: inflated,
    };
    assert!(matches!(
        block_on(w.method.verify_open(inflated.charge(&open))),
        Err(SessionError::InvalidTerms(_))
    ));

    // An invoice of another node, whose preimage its maker knows.
    let stranger = LightningSession::new(Arc::new(
        TestNode::with_key([0x55; 32], Network::Regtest)
            .unwrap()
            .with_clock(w.clock.clock()),
    ));
    let foreign = block_on(stranger.issue(&LightningSession::template(UNIT, None))).unwrap();
    let foreign_preimage = block_on(
        stranger
            .node()
            .pay_invoice(&foreign.invoice, Default::default()),
    )
    .unwrap()
    .preimage;
    let mut claim = open.clone();
    claim.insert("preimage".into(), foreign_preimage.to_hex().into());
    let foreign = Issued {
        challenge: issued.challenge.clone(),
        request: foreign.request,
    };
    let e = block_on(w.method.open(foreign.charge(&claim))).unwrap_err();
    assert_eq!(e.problem_type(), ProblemType::VerificationFailed, "{e}");

    // Expired: the deposit invoice lives ten minutes.
    let late = issue(&w);
    let late_payload = {
        let payer = LightningSessionPayer::new(w.client_node.clone()).with_clock(w.clock.clock());
        block_on(payer.pay(&late.challenge, &late.request))
            .unwrap()
            .payload
    };
    w.clock.advance(600);
    let e = block_on(w.method.verify_open(late.charge(&late_payload))).unwrap_err();
    assert_eq!(e, SessionError::ExpiredInvoice);
}

#[test]
fn close_refunds_the_unspent_deposit_once() {
    let w = world();
    let (_, open) = open(&w);
    let session = w.payer.session_id().unwrap();
    let return_invoice = Invoice::decode(text(&open, "returnInvoice")).unwrap();

    let close = w.payer.close().unwrap().payload;
    assert_eq!(w.payer.session_id(), None, "forgotten once closed");
    assert!(w.payer.close().is_err());
    assert_eq!(text(&close, "action"), "close");
    assert_eq!(
        w.method.action(&close),
        Ok(SessionAction::Close {
            session: session.clone()
        })
    );
    assert!(w.method.owns(&session, &close));

    let received = |hash: &PaymentHash| {
        block_on(w.client_node.lookup_invoice(hash))
            .unwrap()
            .unwrap()
            .amount_received_msat
    };
    assert_eq!(
        block_on(w.method.refund(return_invoice.as_str(), 140)),
        Refund::Succeeded
    );
    assert_eq!(received(return_invoice.payment_hash()), 140_000);
    // Paid once: a second refund to it fails, and is not retried.
    assert!(matches!(
        block_on(w.method.refund(return_invoice.as_str(), 140)),
        Refund::Failed(_)
    ));
    assert_eq!(received(return_invoice.payment_hash()), 140_000);

    // Nothing to refund: nothing is paid.
    let unused = block_on(w.client_node.create_invoice(&InvoiceRequest {
        amount_msat: None,
        description: "refund".into(),
        expiry_secs: 3600,
    }))
    .unwrap();
    assert_eq!(
        block_on(w.method.refund(unused.as_str(), 0)),
        Refund::Skipped
    );
    assert_eq!(received(unused.payment_hash()), 0);

    // Unpayable: not an invoice, or no route to its node.
    assert!(matches!(
        block_on(w.method.refund("lnbcrt1garbage", 140)),
        Refund::Failed(_)
    ));
    let unreachable = TestNode::with_key([0x66; 32], Network::Regtest).unwrap();
    let unreachable = block_on(unreachable.create_invoice(&InvoiceRequest {
        amount_msat: None,
        description: "refund".into(),
        expiry_secs: 3600,
    }))
    .unwrap();
    assert!(matches!(
        block_on(w.method.refund(unreachable.as_str(), 140)),
        Refund::Failed(_)
    ));
}

#[test]
fn malformed_payloads_are_invalid_and_never_echo_the_secret() {
    // req: core.security.credentials.not-logged
    let w = world();
    let (issued, open) = open(&w);
    let secret = text(&open, "preimage").to_string();
    let session = w.payer.session_id().unwrap();
    let return_invoice = text(&open, "returnInvoice").to_string();
    let with = |edit: &dyn Fn(&mut JsonObject)| {
        let mut p = open.clone();
        edit(&mut p);
        p
    };
    let cases = [
        with(&|p| {
            p.remove("action");
        }),
        with(&|p| {
            p.insert("action".into(), "refund".into());
        }),
        with(&|p| {
            p.insert("action".into(), "OPEN".into());
        }),
        with(&|p| {
            p.insert("preimage".into(), secret.to_uppercase().into());
        }),
        with(&|p| {
            p.insert("preimage".into(), secret[..63].into());
        }),
        with(&|p| {
            p.insert("preimage".into(), format!("{secret}00").into());
        }),
        with(&|p| {
            p.insert("preimage".into(), Value::from(12345));
        }),
        with(&|p| {
            p.remove("returnInvoice");
        }),
        payload(&[
            ("action", "bearer"),
            ("sessionId", &session.to_uppercase()),
            ("preimage", &secret),
        ]),
        payload(&[
            ("action", "close"),
            ("sessionId", &session[1..]),
            ("preimage", &secret),
        ]),
        payload(&[
            ("action", "topUp"),
            ("sessionId", &session),
            ("preimage", &secret),
        ]),
    ];
    for bad in cases {
        let e = w.method.action(&bad).unwrap_err();
        assert_eq!(e.problem_type(), ProblemType::InvalidPayload, "{e}");
        let shown = e.to_string().to_lowercase();
        assert!(!shown.contains(&secret[..16]), "{shown}");
        assert!(!shown.contains(&return_invoice), "{shown}");
        assert!(!w.method.owns(&session, &bad));
        if bad.get("action") != Some(&Value::from("topUp")) {
            let e = block_on(w.method.open(issued.charge(&bad))).unwrap_err();
            assert_eq!(e.problem_type(), ProblemType::InvalidPayload, "{e}");
        }
    }
}

#[test]
fn refuses_return_invoices_it_could_not_refund_to() {
    let w = world();
    let (issued, open) = open(&w);
    let with_amount = block_on(w.client_node.create_invoice(&InvoiceRequest {
        amount_msat: Some(1_000),
        description: "refund".into(),
        expiry_secs: 3600,
    }))
    .unwrap();
    let signet = TestNode::with_key([0x21; 32], Network::Signet).unwrap();
    let on_signet = block_on(signet.create_invoice(&InvoiceRequest {
        amount_msat: None,
        description: "refund".into(),
        expiry_secs: 3600,
    }))
    .unwrap();
    let short_lived = block_on(w.client_node.create_invoice(&InvoiceRequest {
        amount_msat: None,
        description: "refund".into(),
        expiry_secs: 60,
    }))
    .unwrap();
    // Each is fine as an invoice; as a return invoice it is not.
    let cases = [
        with_amount.as_str().to_string(),
        on_signet.as_str().to_string(),
        "lnbcrt1notaninvoice".to_string(),
        String::new(),
    ];
    let check = |return_invoice: &str| {
        let mut bad = open.clone();
        bad.insert("returnInvoice".into(), return_invoice.into());
        let action = w.method.action(&bad).unwrap_err();
        assert_eq!(
            action.problem_type(),
            ProblemType::InvalidPayload,
            "{action}"
        );
        let e = block_on(w.method.verify_open(issued.charge(&bad))).unwrap_err();
        assert!(matches!(e, SessionError::InvalidReturnInvoice(_)), "{e}");
        assert_eq!(
            e.problem_type_uri().unwrap(),
            "https://paymentauth.org/problems/lightning/invalid-return-invoice"
        );
    };
    for return_invoice in &cases {
        check(return_invoice);
    }
    // Accepted while payable; refused once expired.
    let mut good = open.clone();
    good.insert("returnInvoice".into(), short_lived.as_str().into());
    assert_eq!(w.method.action(&good), Ok(SessionAction::Open));
    w.clock.advance(60);
    check(short_lived.as_str());
}
