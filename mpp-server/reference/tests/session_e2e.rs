//! Sessions end to end, against the `mpp-server` binary: an agent pays a
//! `lightning/session` deposit from the reference server's test network, makes paid
//! requests, streams until the deposit runs out, tops up, resumes, and closes with a
//! refund to its return invoice; and a session whose server is killed mid-stream
//! carries on from what the server recorded, with nothing spent twice.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use mpp_client::testnet::TestnetWallet;
use mpp_core::client::{Choice, Origin, PayMethod, Payment, SpendingPolicy, Wallet};
use mpp_core::method::BoxFuture;
use mpp_core::receipt::Receipt;
use mpp_core::time::UnixTime;
use mpp_methods::lightning::{
    Invoice, InvoiceRequest, InvoiceState, InvoiceStatus, LightningNode, LightningSessionPayer,
    Network, NodeError, NodeId, PayOptions, PaymentHash, PaymentOutcome,
};
use serde_json::Value;
use support::server::{self, ServerProcess, state_file};

const SECRET: &str = "session-e2e-secret-0123456789abcdef0123";
/// The reference server's unit price and deposit, in satoshis.
const UNIT: u64 = 2;
const DEPOSIT: u64 = 40;

fn start(db: &std::path::Path) -> ServerProcess {
    start_with(db, &[])
}

fn start_with(db: &std::path::Path, extra: &[&str]) -> ServerProcess {
    start_on("127.0.0.1:0", db, extra)
}

fn start_on(listen: &str, db: &std::path::Path, extra: &[&str]) -> ServerProcess {
    let mut args = vec![
        "--secret",
        SECRET,
        "--preimage",
        "unused",
        "--sqlite",
        db.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    server::start_on(listen, &args)
}

fn now() -> UnixTime {
    UnixTime::from(SystemTime::now())
}

/// The test network's wallet, remembering the invoices it issued (the payer's
/// return invoice among them) so the test can see the refund arrive.
struct Recorded {
    wallet: TestnetWallet,
    issued: Mutex<Vec<PaymentHash>>,
}

impl LightningNode for Recorded {
    fn node_id(&self) -> NodeId {
        self.wallet.node_id()
    }

    fn network(&self) -> Network {
        self.wallet.network()
    }

    fn create_invoice<'a>(
        &'a self,
        request: &'a InvoiceRequest,
    ) -> BoxFuture<'a, Result<Invoice, NodeError>> {
        Box::pin(async move {
            let invoice = self.wallet.create_invoice(request).await?;
            self.issued.lock().unwrap().push(*invoice.payment_hash());
            Ok(invoice)
        })
    }

    fn lookup_invoice<'a>(
        &'a self,
        payment_hash: &'a PaymentHash,
    ) -> BoxFuture<'a, Result<Option<InvoiceStatus>, NodeError>> {
        self.wallet.lookup_invoice(payment_hash)
    }

    fn pay_invoice<'a>(
        &'a self,
        invoice: &'a Invoice,
        options: PayOptions,
    ) -> BoxFuture<'a, Result<PaymentOutcome, NodeError>> {
        self.wallet.pay_invoice(invoice, options)
    }
}

/// An answer: status, receipt (if any) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    receipt: Option<Receipt>,
    body: Value,
}

impl Answer {
    fn figure(&self, name: &str) -> u64 {
        let receipt = self.receipt.as_ref().expect("a receipt");
        receipt.extra[name].as_str().unwrap().parse().unwrap()
    }
}

/// A client agent that pays with one `lightning/session` payer.
struct Agent {
    http: reqwest::Client,
    base: String,
    node: Arc<Recorded>,
    payer: Arc<LightningSessionPayer>,
    engine: Mutex<Wallet>,
}

impl Agent {
    /// The origin it talks to: where its session is open.
    fn origin(&self) -> Origin {
        let port = self.base.rsplit(':').next().unwrap().parse().unwrap();
        Origin::new("http", "127.0.0.1", port)
    }

    async fn new(server: &ServerProcess) -> Agent {
        let node = Arc::new(Recorded {
            wallet: TestnetWallet::connect(&server.base).await.unwrap(),
            issued: Mutex::new(Vec::new()),
        });
        let payer = Arc::new(LightningSessionPayer::new(node.clone()));
        // One request may cost a deposit.
        let policy = SpendingPolicy {
            max_per_request: vec![("sat".into(), u128::from(DEPOSIT))],
            budget: vec![("sat".into(), 1_000_000)],
            ..SpendingPolicy::default()
        };
        Agent {
            http: reqwest::Client::new(),
            base: server.base.clone(),
            node,
            engine: Mutex::new(Wallet::new(policy).with_method(payer.clone(), 1000)),
            payer,
        }
    }

    /// A fresh challenge of `path`, chosen by the client engine.
    async fn challenge(&self, path: &str) -> Choice {
        self.choose(path, false).await
    }

    /// A fresh challenge of `path`, chosen by the client engine to pay, or to top up
    /// the open session.
    async fn choose(&self, path: &str, top_up: bool) -> Choice {
        let response = self.get(path, None).await;
        assert_eq!(response.status(), 402, "{path} asks for payment");
        let lines: Vec<Vec<u8>> = response
            .headers()
            .get_all("www-authenticate")
            .iter()
            .map(|v| v.as_bytes().to_vec())
            .collect();
        let lines = lines.iter().map(Vec::as_slice);
        let mut engine = self.engine.lock().unwrap();
        match top_up {
            false => engine.choose(lines, &self.origin(), now()),
            true => engine.choose_top_up(lines, &self.origin(), now(), 0),
        }
        .unwrap()
    }

    async fn get(&self, path: &str, credential: Option<String>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(credential) = credential {
            request = request.header("authorization", credential);
        }
        request.send().await.unwrap()
    }

    /// Pays `path` with the payer (opening the session, or as its bearer).
    async fn pay(&self, path: &str) -> reqwest::Response {
        let choice = self.challenge(path).await;
        let payment = self.payment(&choice).await;
        self.get(path, Some(choice.credential(payment))).await
    }

    /// What the payer pays `choice` with, as the client engine would ask it.
    async fn payment(&self, choice: &Choice) -> Payment {
        self.payer.pay(choice).await.unwrap()
    }

    /// Answers `choice` with `payment` on `path`.
    async fn send(&self, path: &str, choice: &Choice, payment: Payment) -> Answer {
        read(self.get(path, Some(choice.credential(payment))).await).await
    }

    /// Where the payer's return invoice (the first invoice it made) stands, and
    /// how many millisatoshis it received.
    async fn refund_received(&self) -> (InvoiceState, u64) {
        let return_invoice = self.node.issued.lock().unwrap()[0];
        self.node
            .wallet
            .invoice_state(&return_invoice)
            .await
            .unwrap()
    }

    async fn top_up(&self) -> Answer {
        let choice = self.choose("/session/metered", true).await;
        let payment = self.payer.top_up(&choice).await.unwrap();
        self.send("/session/metered", &choice, payment).await
    }

    async fn close(&self) -> Answer {
        let choice = self.challenge("/session/metered").await;
        let payment = self.payer.close(&self.origin()).unwrap();
        self.send("/session/metered", &choice, payment).await
    }
}

async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let receipt = response
        .headers()
        .get("payment-receipt")
        .map(|v| Receipt::parse(v.as_bytes()).unwrap());
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        receipt,
        body,
    }
}

/// Reads Server-Sent Events from a streaming response.
struct Events {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

impl Events {
    fn new(response: reqwest::Response) -> Events {
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "a stream"
        );
        Events {
            response,
            buffer: Vec::new(),
        }
    }

    /// The next event as (name, data), or `None` at the end of the stream.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let message: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8(message).unwrap();
                let mut name = "message".to_string();
                let mut data = String::new();
                for line in text.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = n.into();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                return Some((name, serde_json::from_str(&data).unwrap()));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(30), self.response.chunk())
                .await
                .expect("the stream stalled")
                .unwrap()?;
            self.buffer.extend_from_slice(&chunk);
        }
    }

    /// Reads `n` chunk events, checking they number `first`, `first + 1`, ….
    async fn chunks(&mut self, first: u64, n: u64) {
        for i in first..first + n {
            let (name, data) = self.next().await.expect("a chunk");
            assert_eq!(
                (name.as_str(), &data["chunk"]),
                ("message", &Value::from(i))
            );
        }
    }
}

#[tokio::test]
async fn a_session_pays_requests_and_a_stream_tops_up_and_closes_with_a_refund() {
    // req: session.receipt.members session.receipt.on-success session.accounting.within-authorised
    // req: lightning-session.stream.need-topup-event session.streaming.stop-when-exhausted
    // req: session.receipt.stream-final lightning-session.topup.fresh-challenge
    // req: lightning-session.close.refund-once lightning-session.replay.closed-retained
    let server = start(&state_file("session-e2e"));
    let agent = Agent::new(&server).await;

    // Open: the deposit is paid and the first request served from it.
    let opened = read(agent.pay("/session/metered").await).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let session = agent
        .payer
        .session_id(&agent.origin())
        .expect("a session is open");
    let receipt = opened.receipt.as_ref().unwrap();
    assert_eq!(receipt.reference, session, "the session id, a payment hash");
    assert_eq!(receipt.extra["intent"], "session");
    assert_eq!(opened.body["session"], session.as_str());
    assert_eq!(
        (opened.figure("spent"), opened.figure("remaining")),
        (UNIT, DEPOSIT - UNIT)
    );

    // Nine more requests, each paid by the bearer secret alone.
    for i in 2..=10 {
        let used = read(agent.pay("/session/metered").await).await;
        assert_eq!(used.status, 200, "{}", used.body);
        assert_eq!(used.figure("spent"), i * UNIT);
        assert_eq!(used.figure("remaining"), DEPOSIT - i * UNIT);
    }

    // A stream of 15 events: 10 are paid from what is left, then it pauses.
    let mut events = Events::new(agent.pay("/session/stream?chunks=15").await);
    events.chunks(1, 10).await;
    let (name, pause) = events.next().await.unwrap();
    assert_eq!(name, "payment-need-topup");
    assert_eq!(pause["sessionId"], session.as_str());
    assert_eq!(pause["balanceSpent"], DEPOSIT);
    assert_eq!(pause["balanceRequired"], UNIT);

    // A top-up pays a fresh invoice, and the stream resumes where it paused.
    let topped = agent.top_up().await;
    assert_eq!(topped.status, 200, "{}", topped.body);
    assert_eq!(topped.body["status"], "ok");
    events.chunks(11, 5).await;
    let (name, last) = events.next().await.unwrap();
    assert_eq!(name, "payment-receipt");
    assert_eq!(
        (&last["spent"], &last["units"]),
        (&Value::from(15 * UNIT), &Value::from(15))
    );
    assert!(events.next().await.is_none(), "the receipt ends the stream");

    // A stream asked for wrongly is refused before anything is billed.
    let bad = read(agent.pay("/session/stream?chunks=many").await).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.body["error"], "invalid-request");

    // Spent so far: 10 requests and 15 events out of two deposits.
    let spent = 25 * UNIT;
    let used = read(agent.pay("/session/metered").await).await;
    assert_eq!(used.figure("spent"), spent + UNIT);
    assert_eq!(used.figure("remaining"), 2 * DEPOSIT - spent - UNIT);

    // Close: the unspent balance goes back to the return invoice, once.
    let kept = agent.challenge("/session/metered").await;
    let bearer = agent.payment(&kept).await;
    let closed = agent.close().await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let refund = 2 * DEPOSIT - spent - UNIT;
    assert_eq!(closed.body["status"], "closed");
    assert_eq!(closed.body["refundStatus"], "succeeded");
    assert_eq!(closed.body["refundSats"], refund);
    assert_eq!(closed.figure("refund"), refund);
    assert_eq!(
        agent.refund_received().await,
        (InvoiceState::Settled, refund * 1000)
    );

    // The closed session pays for nothing more, even with its own secret.
    let refused = agent.send("/session/metered", &kept, bearer).await;
    assert_eq!(refused.status, 402);
    assert_eq!(
        refused.body["type"],
        "https://paymentauth.org/problems/lightning/session-closed"
    );
    assert_eq!(
        agent.refund_received().await,
        (InvoiceState::Settled, refund * 1000),
        "refunded once"
    );
}

#[tokio::test]
async fn a_session_killed_mid_stream_carries_on_after_a_restart_with_nothing_spent_twice() {
    // req: session.accounting.durable session.accounting.persist-authorisation
    // req: session.accounting.atomic-spend session.streaming.reserve-per-unit
    let db = state_file("session-e2e-kill");
    let mut server = start(&db);
    let agent = Agent::new(&server).await;

    let open = agent.challenge("/session/metered").await;
    let open = open.credential(agent.payment(&open).await);
    let opened = read(agent.get("/session/metered", Some(open.clone())).await).await;
    assert_eq!(opened.status, 200, "{}", opened.body);

    // Events a second apart: after the third, the server waits before billing the
    // fourth, and is killed then.
    let mut events = Events::new(agent.pay("/session/stream?chunks=10&delayMs=1000").await);
    events.chunks(1, 3).await;
    server.kill();
    let spent = UNIT + 3 * UNIT;

    // Back at the same origin: the session's secret goes to no other.
    let listen = server.base.trim_start_matches("http://").to_owned();
    let _server = start_on(&listen, &db, &[]);
    // The account is as the killed server left it: the open and three events paid.
    let used = read(agent.pay("/session/metered").await).await;
    assert_eq!(used.status, 200, "{}", used.body);
    assert_eq!(
        (used.figure("spent"), used.figure("remaining")),
        (spent + UNIT, DEPOSIT - spent - UNIT)
    );
    // The open's credential does not credit the deposit twice.
    let replayed = read(agent.get("/session/metered", Some(open)).await).await;
    assert_eq!(replayed.status, 402, "{}", replayed.body);
    assert_eq!(
        replayed.body["type"], "https://paymentauth.org/problems/invalid-challenge",
        "the open's challenge stayed used across the restart"
    );

    // Streams and requests go on from there.
    let mut events = Events::new(agent.pay("/session/stream?chunks=5").await);
    events.chunks(1, 5).await;
    let (name, last) = events.next().await.unwrap();
    assert_eq!(
        (name.as_str(), &last["spent"]),
        ("payment-receipt", &Value::from(5 * UNIT))
    );
    let spent = spent + UNIT + 5 * UNIT;

    let closed = agent.close().await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    assert_eq!(closed.figure("spent"), spent);
    assert_eq!(closed.figure("refund"), DEPOSIT - spent);
    assert_eq!(closed.body["refundSats"], DEPOSIT - spent);
    // The test network lived in the killed process: the return invoice is gone
    // with it, so the one refund attempt fails and is reported as such.
    assert_eq!(closed.body["refundStatus"], "failed");
}

#[tokio::test]
async fn an_idle_session_is_closed_and_refunded_by_the_server() {
    // req: lightning-session.server-close.refund
    let server = start_with(&state_file("session-e2e-idle"), &["--session-idle", "1"]);
    let agent = Agent::new(&server).await;
    let kept = agent.challenge("/session/metered").await;
    let opened = agent
        .send("/session/metered", &kept, agent.payment(&kept).await)
        .await;
    assert_eq!(opened.status, 200, "{}", opened.body);

    // Unused for more than a second: the server's sweeper closes it and refunds
    // everything but the one unit spent.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (state, received_msat) = agent.refund_received().await;
        if state == InvoiceState::Settled {
            assert_eq!(received_msat, (DEPOSIT - UNIT) * 1000);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never closed for idleness"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let refused = read(agent.pay("/session/metered").await).await;
    assert_eq!(refused.status, 402);
    assert_eq!(
        refused.body["type"],
        "https://paymentauth.org/problems/lightning/session-closed"
    );
}
