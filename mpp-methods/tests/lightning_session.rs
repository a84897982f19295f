//! `lightning/session` in memory: the server's method issues deposit invoices of one
//! test node, the session payer pays them through a second test node of the same
//! ledger, and the method opens, tops up, checks ownership and refunds to the
//! payer's return invoice.
#![cfg(feature = "lightning")]

mod common;

use std::sync::{Arc, Mutex};

use common::block_on;

use mpp_core::challenge::Challenge;
use mpp_core::client::{
    Choice, Origin, PayError, PayMethod, PolicyError, Skipped, SpendingPolicy, Wallet,
};
use mpp_core::intent::session::Funding;
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{Charge, Refund, SessionAction, SessionMethod};
use mpp_core::problem::ProblemType;
use mpp_core::time::ManualClock;
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::Base64Json;
use mpp_methods::lightning::{
    Invoice, InvoiceRequest, LightningNode, LightningSession, LightningSessionError,
    LightningSessionPayer, Network, PaymentHash, PaymentPreimage, TestNode,
};

const NOW: i64 = 1_800_000_000;
const REALM: &str = "api.example.com";
const UNIT: u64 = 10;

struct World {
    clock: ManualClock,
    server_node: Arc<TestNode>,
    client_node: Arc<TestNode>,
    method: LightningSession,
    payer: Arc<LightningSessionPayer>,
    /// The client engine, with `payer` and a generous policy.
    wallet: Mutex<Wallet>,
}

fn world() -> World {
    let clock = ManualClock::new(UnixTime::from_secs(NOW));
    let server_node = Arc::new(TestNode::new().with_clock(clock.clock()));
    let client_node = Arc::new(server_node.peer([0x21; 32]).unwrap());
    let method = LightningSession::new(server_node.clone()).with_clock(clock.clock());
    let payer = Arc::new(LightningSessionPayer::new(client_node.clone()).with_clock(clock.clock()));
    let policy = SpendingPolicy {
        max_per_request: vec![("sat".into(), 1_000_000)],
        ..SpendingPolicy::default()
    };
    World {
        clock,
        server_node,
        client_node,
        method,
        wallet: Mutex::new(Wallet::new(policy).with_method(payer.clone(), 1000)),
        payer,
    }
}

/// The origin the sessions of these tests are opened at.
fn origin() -> Origin {
    Origin::new("https", REALM, 443)
}

/// A challenge as the server would issue it for `template`: fresh terms, bound by
/// the id the server engine checked before the method sees them.
struct Issued {
    /// The `WWW-Authenticate` value carrying it.
    line: String,
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
    let line = header(realm, &terms.request, terms.not_after.unwrap());
    let challenge = Challenge::parse(line.as_bytes()).unwrap().into_owned();
    Issued {
        line,
        challenge,
        request: terms.request,
    }
}

/// What the client engine hands the payer for `issued` from `origin`: the wallet's
/// choice, its cost reserved.
fn choose(w: &World, issued: &Issued, origin: &Origin) -> Choice {
    let mut wallet = w.wallet.lock().unwrap();
    wallet
        .choose([issued.line.as_str()], origin, w.clock.now())
        .unwrap()
}

/// Pays `issued` from `origin` as the client engine would.
fn pay(w: &World, issued: &Issued, origin: &Origin) -> JsonObject {
    block_on(w.payer.pay(&choose(w, issued, origin)))
        .unwrap()
        .payload
}

fn issue(w: &World) -> Issued {
    issue_with(w, &LightningSession::template(UNIT, Some("tokens")), REALM)
}

/// Opens a session through the payer; returns the challenge and the open payload.
fn open(w: &World) -> (Issued, JsonObject) {
    let issued = issue(w);
    let open = pay(w, &issued, &origin());
    (issued, open)
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

    // Opening costs the deposit, not the unit price: the spending policy holds the
    // deposit to its per-request cap.
    let mut stingy = Wallet::new(SpendingPolicy {
        max_per_request: vec![("sat".into(), (20 * UNIT - 1).into())],
        ..SpendingPolicy::default()
    })
    .with_method(w.payer.clone(), 1000);
    let refused = stingy
        .choose([issued.line.as_str()], &origin(), w.clock.now())
        .unwrap_err();
    assert_eq!(
        refused.passed[0].reason,
        Skipped::Policy(PolicyError::OverRequestCap {
            amount: (20 * UNIT).into(),
            cap: (20 * UNIT - 1).into()
        })
    );
    let choice = choose(&w, &issued, &origin());
    assert_eq!(choice.amount, u128::from(UNIT));
    assert_eq!(choice.cost, u128::from(20 * UNIT));
    assert_eq!(w.wallet.lock().unwrap().spent(), [("sat".into(), 200)]);

    let open = block_on(w.payer.pay(&choice)).unwrap().payload;
    assert_eq!(text(&open, "action"), "open");
    assert!(w.server_node.is_paid(deposit.payment_hash()));
    let preimage = PaymentPreimage::from_hex(text(&open, "preimage")).unwrap();
    assert_eq!(&preimage.payment_hash(), deposit.payment_hash());
    let return_invoice = Invoice::decode(text(&open, "returnInvoice")).unwrap();
    assert_eq!(return_invoice.amount_msat(), None);
    assert_eq!(return_invoice.payee(), &w.client_node.node_id());
    assert!(return_invoice.expiry_secs() >= 30 * 24 * 3600);
    assert_eq!(
        w.payer.session_id(&origin()),
        Some(deposit.payment_hash().to_hex())
    );

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
    let session = w.payer.session_id(&origin()).unwrap();
    let preimage = text(&open, "preimage").to_string();

    // With a session open, the next challenge costs nothing and is answered without
    // paying.
    let next = issue(&w);
    let choice = choose(&w, &next, &origin());
    assert_eq!(choice.cost, 0);
    let bearer = block_on(w.payer.pay(&choice)).unwrap().payload;
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
    let wrong = PaymentPreimage::from_bytes([7; 32]).to_hex();
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

    // The secret is not sent to another realm, even by its origin: the wallet passes
    // the challenge over, and the payer refuses it if asked anyway.
    let elsewhere = issue_with(&w, &LightningSession::template(UNIT, None), "evil.example");
    let refused = w
        .wallet
        .lock()
        .unwrap()
        .choose([elsewhere.line.as_str()], &origin(), w.clock.now())
        .unwrap_err();
    assert!(
        matches!(&refused.passed[0].reason, Skipped::Method(PayError::NotApplicable(m)) if m.contains(REALM)),
        "{refused}"
    );
    let forced = Choice {
        challenge: elsewhere.challenge.clone(),
        request: elsewhere.request.clone(),
        ..choice
    };
    let e = block_on(w.payer.pay(&forced)).unwrap_err();
    assert!(
        matches!(&e, PayError::NotApplicable(m) if m.contains(REALM)),
        "{e:?}"
    );
    assert!(!e.message().contains(&preimage));
}

#[test]
fn a_session_secret_goes_only_to_the_origin_it_was_opened_at() {
    // Realms are public: another origin naming the session's realm gets a session of
    // its own, paid for by its own deposit, never the open session's secret.
    let w = world();
    let (_, open) = open(&w);
    let preimage = text(&open, "preimage").to_string();
    let other = Origin::new("https", REALM, 8443);

    let next = issue(&w);
    let choice = choose(&w, &next, &other);
    assert_eq!(
        choice.cost,
        u128::from(20 * UNIT),
        "a deposit, not the session"
    );
    let paid = block_on(w.payer.pay(&choice)).unwrap().payload;
    assert_eq!(text(&paid, "action"), "open");
    assert_ne!(text(&paid, "preimage"), preimage);
    assert!(w.server_node.is_paid(next.invoice().payment_hash()));
    assert_ne!(w.payer.session_id(&other), w.payer.session_id(&origin()));

    // A choice that reserved nothing, at an origin without a session, pays nothing.
    let third = issue(&w);
    let unreserved = Choice {
        origin: Origin::new("https", "third.example", 443),
        ..choose(&w, &third, &origin())
    };
    assert_eq!(unreserved.cost, 0);
    let e = block_on(w.payer.pay(&unreserved)).unwrap_err();
    assert!(
        matches!(&e, PayError::NotApplicable(m) if m.contains("nothing was paid")),
        "{e:?}"
    );
    assert!(!w.server_node.is_paid(third.invoice().payment_hash()));
}

#[test]
fn a_top_up_adds_its_own_invoices_amount() {
    let w = world();
    let (_, open) = open(&w);
    let session = w.payer.session_id(&origin()).unwrap();

    let mut template = LightningSession::template(UNIT, Some("tokens"));
    template.insert("depositAmount".into(), "150".into());
    let fresh = issue_with(&w, &template, REALM);
    let choose_top_up = |issued: &Issued| {
        let mut wallet = w.wallet.lock().unwrap();
        wallet.choose_top_up([issued.line.as_str()], &origin(), w.clock.now(), 0)
    };
    let choice = choose_top_up(&fresh).unwrap();
    assert_eq!(choice.cost, 150, "a top-up costs its deposit");
    // Never more than the wallet reserved.
    let short = Choice {
        cost: 149,
        ..choice.clone()
    };
    let e = block_on(w.payer.top_up(&short)).unwrap_err();
    assert!(
        matches!(&e, PayError::Terms(m) if m.contains("reserved")),
        "{e:?}"
    );
    assert!(!w.server_node.is_paid(fresh.invoice().payment_hash()));
    let top_up = block_on(w.payer.top_up(&choice)).unwrap().payload;
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
    assert_eq!(
        w.payer.session_id(&origin()),
        Some(session.clone()),
        "same session"
    );

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
            Err(LightningSessionError::InvalidPreimage)
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
    assert!(w.payer.forget(&origin()));
    let refused = choose_top_up(&later).unwrap_err();
    assert!(
        matches!(refused.passed[0].reason, Skipped::Method(_)),
        "{refused}"
    );
    let stale = Choice {
        challenge: later.challenge.clone(),
        request: later.request.clone(),
        ..choice
    };
    assert!(block_on(w.payer.top_up(&stale)).is_err());
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
        PaymentPreimage::from_bytes([7; 32]).to_hex().into(),
    );
    let e = block_on(w.method.verify_open(issued.charge(&wrong))).unwrap_err();
    assert_eq!(e, LightningSessionError::InvalidPreimage);
    assert_eq!(
        e.problem_type_uri().unwrap(),
        "https://paymentauth.org/problems/lightning/invalid-preimage"
    );

    // Terms that disagree with their invoice.
    let mut inflated = issued.request.clone();
    inflated.insert("depositAmount".into(), "999".into());
    let inflated = Issued {
        line: issued.line.clone(),
        challenge: issued.challenge.clone(),
        request: inflated,
    };
    assert!(matches!(
        block_on(w.method.verify_open(inflated.charge(&open))),
        Err(LightningSessionError::InvalidTerms(_))
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
        line: issued.line.clone(),
        challenge: issued.challenge.clone(),
        request: foreign.request,
    };
    let e = block_on(w.method.open(foreign.charge(&claim))).unwrap_err();
    assert_eq!(e.problem_type(), ProblemType::VerificationFailed, "{e}");

    // Expired: the deposit invoice lives ten minutes.
    let late = issue(&w);
    // (Paid from another origin: the world's payer has a session open at the first.)
    let late_payload = pay(&w, &late, &Origin::new("https", REALM, 8443));
    w.clock.advance(600);
    let e = block_on(w.method.verify_open(late.charge(&late_payload))).unwrap_err();
    assert_eq!(e, LightningSessionError::ExpiredInvoice);
}

#[test]
fn close_refunds_the_unspent_deposit_once() {
    let w = world();
    let (_, open) = open(&w);
    let session = w.payer.session_id(&origin()).unwrap();
    let return_invoice = Invoice::decode(text(&open, "returnInvoice")).unwrap();

    let close = w.payer.close(&origin()).unwrap().payload;
    assert_eq!(w.payer.session_id(&origin()), None, "forgotten once closed");
    assert!(w.payer.close(&origin()).is_err());
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
    let session = w.payer.session_id(&origin()).unwrap();
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
        assert!(
            matches!(e, LightningSessionError::InvalidReturnInvoice(_)),
            "{e}"
        );
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
