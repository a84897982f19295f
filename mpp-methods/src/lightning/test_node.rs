//! [`TestNode`]: an in-process stand-in for a Lightning node, for tests and demos.
//!
//! **Not a Lightning node.** It has no channels, talks to no network and moves no
//! money. It signs real BOLT11 invoices (with a fixed key whose secret is published
//! here, [`TEST_NODE_KEY`], by default on regtest), remembers the preimage of each,
//! and "pays" an invoice by marking it paid and handing over that preimage, provided
//! the invoice was issued by a node sharing its ledger (itself or a
//! [`peer`](TestNode::peer)). Anyone can sign invoices as it: never accept its
//! invoices for anything of value.

use std::boxed::Box;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::format;
use std::string::ToString;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mpp_core::method::BoxFuture;
use mpp_core::time::UnixTime;

use super::{
    Clock, Invoice, InvoiceBuilder, InvoiceRequest, InvoiceState, InvoiceStatus, LightningNode,
    Network, NodeError, NodeId, NodeKey, PayOptions, PaymentHash, PaymentOutcome, PaymentPreimage,
    system_clock,
};

/// The test node's default secret key: the SHA-256 of
/// `"mpp-methods lightning TestNode: a published key, never for real funds"`.
/// Public on purpose: it must never hold anything.
pub const TEST_NODE_KEY: [u8; 32] = [
    0xe2, 0x03, 0x71, 0x52, 0x6a, 0x72, 0x10, 0xb6, 0xb6, 0xf2, 0xce, 0x64, 0xca, 0xe4, 0xd1, 0x17,
    0xa7, 0x79, 0x22, 0x40, 0x0b, 0x4e, 0xcd, 0x19, 0x0a, 0xcc, 0x5b, 0x7b, 0x80, 0x03, 0xd8, 0x18,
];

/// An invoice issued by a node of the ledger.
struct Entry {
    invoice: Invoice,
    preimage: PaymentPreimage,
    received_msat: u64,
    settled_at: Option<UnixTime>,
}

/// Every invoice issued by the test nodes that share it: their whole "network".
/// An unpaid invoice is forgotten once it has expired, as a node deletes expired
/// invoices, so that unpaid 402s cost no memory for long.
#[derive(Default)]
struct Ledger {
    invoices: HashMap<PaymentHash, Entry>,
    /// Each invoice's expiry, soonest first.
    expiries: BinaryHeap<Reverse<(i64, PaymentHash)>>,
}

impl Ledger {
    /// Forgets the unpaid invoices expired at `now`.
    fn forget_expired(&mut self, now: UnixTime) {
        while let Some(Reverse((expires, hash))) = self.expiries.peek().copied() {
            if expires > now.secs() {
                break;
            }
            self.expiries.pop();
            if self
                .invoices
                .get(&hash)
                .is_some_and(|e| e.settled_at.is_none())
            {
                self.invoices.remove(&hash);
            }
        }
    }
}

/// An in-process stand-in for a Lightning node, **for tests and demos only**.
///
/// It has no channels, talks to no network and moves no money. It signs real BOLT11
/// invoices (by default with [`TEST_NODE_KEY`], whose secret is published, on
/// regtest), keeps the random preimage of each, and "pays" an invoice by marking it
/// paid and handing over that preimage, provided a node sharing its ledger (itself or
/// a [`peer`](TestNode::peer)) issued it. Anyone can sign invoices as it: never accept
/// its invoices for anything of value.
pub struct TestNode {
    key: NodeKey,
    network: Network,
    clock: Clock,
    ledger: Arc<Mutex<Ledger>>,
}

impl core::fmt::Debug for TestNode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TestNode")
            .field("node_id", &self.key.node_id())
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl Default for TestNode {
    fn default() -> TestNode {
        TestNode::new()
    }
}

impl TestNode {
    /// A test node on regtest with [`TEST_NODE_KEY`], the system clock and a ledger of
    /// its own.
    pub fn new() -> TestNode {
        TestNode::with_key(TEST_NODE_KEY, Network::Regtest)
            .unwrap_or_else(|| unreachable!("TEST_NODE_KEY is a valid secret key"))
    }

    /// A test node with another key or network; `None` if `key` is not a valid
    /// secp256k1 secret key.
    pub fn with_key(key: [u8; 32], network: Network) -> Option<TestNode> {
        Some(TestNode {
            key: NodeKey::from_bytes(key)?,
            network,
            clock: system_clock(),
            ledger: Arc::default(),
        })
    }

    /// The same node reading the time from `clock` (invoice timestamps, expiry).
    pub fn with_clock(mut self, clock: Clock) -> TestNode {
        self.clock = clock;
        self
    }

    /// Another node with key `key` on the same ledger, network and clock: each can
    /// pay the other's invoices (a client's wallet and a server's node, say).
    pub fn peer(&self, key: [u8; 32]) -> Option<TestNode> {
        Some(TestNode {
            key: NodeKey::from_bytes(key)?,
            network: self.network,
            clock: self.clock.clone(),
            ledger: self.ledger.clone(),
        })
    }

    /// How many invoices the ledger holds: the paid ones, and the unpaid ones not
    /// yet expired.
    pub fn invoices_held(&self) -> usize {
        self.ledger().invoices.len()
    }

    /// Whether an invoice of the ledger with this payment hash has been paid.
    pub fn is_paid(&self, payment_hash: &PaymentHash) -> bool {
        self.ledger()
            .invoices
            .get(payment_hash)
            .is_some_and(|e| e.settled_at.is_some())
    }

    /// How much this node's invoices have received in all, in millisatoshis: what
    /// was paid to it.
    pub fn received_msat(&self) -> u64 {
        let me = self.key.node_id();
        self.ledger()
            .invoices
            .values()
            .filter(|e| e.invoice.payee() == &me)
            .map(|e| e.received_msat)
            .sum()
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn create_now(&self, request: &InvoiceRequest) -> Result<Invoice, NodeError> {
        if request.amount_msat == Some(0) {
            return Err(NodeError::InvalidRequest("the amount is zero".into()));
        }
        if request.expiry_secs == 0 {
            return Err(NodeError::InvalidRequest("the expiry is zero".into()));
        }
        let mut random = [0u8; 64];
        getrandom::fill(&mut random)
            .map_err(|e| NodeError::Unavailable(format!("no randomness: {e}")))?;
        let mut preimage = [0u8; 32];
        let mut secret = [0u8; 32];
        preimage.copy_from_slice(&random[..32]);
        secret.copy_from_slice(&random[32..]);
        let preimage = PaymentPreimage::from_bytes(preimage);
        let mut builder = InvoiceBuilder::new(self.network)
            .timestamp((self.clock)())
            .payment_hash(preimage.payment_hash())
            .payment_secret(secret)
            .description(request.description.as_str())
            .expiry_secs(request.expiry_secs)
            .include_payee();
        if let Some(msat) = request.amount_msat {
            builder = builder.amount_msat(msat);
        }
        let invoice = builder
            .sign(&self.key)
            .map_err(|e| NodeError::InvalidRequest(e.to_string()))?;
        let mut ledger = self.ledger();
        ledger.forget_expired((self.clock)());
        if ledger.invoices.contains_key(invoice.payment_hash()) {
            return Err(NodeError::Unavailable("payment hash collision".into()));
        }
        ledger.expiries.push(Reverse((
            invoice.expires_at().secs(),
            *invoice.payment_hash(),
        )));
        ledger.invoices.insert(
            *invoice.payment_hash(),
            Entry {
                invoice: invoice.clone(),
                preimage,
                received_msat: 0,
                settled_at: None,
            },
        );
        Ok(invoice)
    }

    fn lookup_now(&self, payment_hash: &PaymentHash) -> Option<InvoiceStatus> {
        let now = (self.clock)();
        let ledger = self.ledger();
        let entry = ledger
            .invoices
            .get(payment_hash)
            .filter(|e| e.invoice.payee() == &self.key.node_id())?;
        let state = match entry.settled_at {
            Some(_) => InvoiceState::Settled,
            None if entry.invoice.is_expired_at(now) => InvoiceState::Expired,
            None => InvoiceState::Open,
        };
        Some(InvoiceStatus {
            invoice: entry.invoice.clone(),
            state,
            amount_received_msat: entry.received_msat,
            settled_at: entry.settled_at,
        })
    }

    fn pay_now(&self, invoice: &Invoice, options: PayOptions) -> Result<PaymentOutcome, NodeError> {
        if invoice.network() != self.network {
            return Err(NodeError::InvalidRequest(format!(
                "the invoice is for {}, this node runs on {}",
                invoice.network(),
                self.network
            )));
        }
        let amount_msat = match (invoice.amount_msat(), options.amount_msat) {
            (Some(asked), None) => asked,
            (Some(asked), Some(given)) if asked == given => asked,
            (Some(_), Some(_)) => {
                return Err(NodeError::InvalidRequest(
                    "the amount differs from the invoice's".into(),
                ));
            }
            (None, Some(given)) if given > 0 => given,
            (None, _) => {
                return Err(NodeError::InvalidRequest(
                    "an invoice without an amount needs one".into(),
                ));
            }
        };
        let now = (self.clock)();
        let mut ledger = self.ledger();
        let Some(entry) = ledger
            .invoices
            .get_mut(invoice.payment_hash())
            .filter(|e| e.invoice.payee() == invoice.payee())
        else {
            return Err(NodeError::PaymentFailed(
                "no route: the payee is not a node of this test ledger".into(),
            ));
        };
        if entry.settled_at.is_some() {
            return Err(NodeError::PaymentFailed(
                "the invoice is already paid".into(),
            ));
        }
        if invoice.is_expired_at(now) {
            return Err(NodeError::PaymentFailed("the invoice has expired".into()));
        }
        entry.settled_at = Some(now);
        entry.received_msat = amount_msat;
        Ok(PaymentOutcome {
            preimage: entry.preimage.clone(),
            amount_msat,
            fee_msat: 0,
        })
    }
}

impl LightningNode for TestNode {
    fn node_id(&self) -> NodeId {
        self.key.node_id()
    }

    fn network(&self) -> Network {
        self.network
    }

    fn create_invoice<'a>(
        &'a self,
        request: &'a InvoiceRequest,
    ) -> BoxFuture<'a, Result<Invoice, NodeError>> {
        Box::pin(core::future::ready(self.create_now(request)))
    }

    fn lookup_invoice<'a>(
        &'a self,
        payment_hash: &'a PaymentHash,
    ) -> BoxFuture<'a, Result<Option<InvoiceStatus>, NodeError>> {
        Box::pin(core::future::ready(Ok(self.lookup_now(payment_hash))))
    }

    fn pay_invoice<'a>(
        &'a self,
        invoice: &'a Invoice,
        options: PayOptions,
    ) -> BoxFuture<'a, Result<PaymentOutcome, NodeError>> {
        Box::pin(core::future::ready(self.pay_now(invoice, options)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::LightningWallet;
    use super::super::tests_support::block_on;
    use super::*;
    use mpp_core::time::ManualClock;

    fn request(amount_msat: Option<u64>) -> InvoiceRequest {
        InvoiceRequest {
            amount_msat,
            description: "test".into(),
            expiry_secs: 600,
        }
    }

    #[test]
    fn issues_signed_invoices_and_releases_the_preimage_once() {
        // req: lightning-charge.invoice.fresh-hash
        let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
        let node = TestNode::new().with_clock(clock.clock());
        let invoice = block_on(node.create_invoice(&request(Some(5_000)))).unwrap();
        assert_eq!(invoice.network(), Network::Regtest);
        assert_eq!(invoice.payee(), &node.node_id());
        assert_eq!(invoice.timestamp(), clock.now());
        assert_eq!(invoice.expires_at(), UnixTime::from_secs(1_800_000_600));
        let status = block_on(node.lookup_invoice(invoice.payment_hash()))
            .unwrap()
            .unwrap();
        assert_eq!(status.state, InvoiceState::Open);

        let preimage = block_on(node.pay(&invoice)).unwrap();
        assert_eq!(&preimage.payment_hash(), invoice.payment_hash());
        assert!(node.is_paid(invoice.payment_hash()));
        let status = block_on(node.lookup_invoice(invoice.payment_hash()))
            .unwrap()
            .unwrap();
        assert_eq!(status.state, InvoiceState::Settled);
        assert_eq!(status.amount_received_msat, 5_000);
        assert!(matches!(
            block_on(node.pay(&invoice)),
            Err(NodeError::PaymentFailed(_))
        ));

        // Each invoice has its own preimage.
        let other = block_on(node.create_invoice(&request(Some(5_000)))).unwrap();
        assert_ne!(other.payment_hash(), invoice.payment_hash());
    }

    #[test]
    fn peers_pay_each_other_and_refunds_need_an_amount() {
        let server = TestNode::new();
        let client = server.peer([0x21; 32]).unwrap();
        assert_ne!(client.node_id(), server.node_id());
        // A session's return invoice: no amount; the server pays it a refund.
        let refund_to = block_on(client.create_invoice(&request(None))).unwrap();
        assert_eq!(refund_to.amount_msat(), None);
        assert!(matches!(
            block_on(server.pay_invoice(&refund_to, PayOptions::default())),
            Err(NodeError::InvalidRequest(_))
        ));
        let paid = block_on(server.pay_invoice(
            &refund_to,
            PayOptions {
                amount_msat: Some(140_000),
                max_fee_msat: None,
            },
        ))
        .unwrap();
        assert_eq!(paid.amount_msat, 140_000);
        // The payer's node does not know the payee's invoices.
        assert!(
            block_on(server.lookup_invoice(refund_to.payment_hash()))
                .unwrap()
                .is_none()
        );
        let status = block_on(client.lookup_invoice(refund_to.payment_hash()))
            .unwrap()
            .unwrap();
        assert_eq!(status.amount_received_msat, 140_000);
        // Each node counts what its own invoices received.
        assert_eq!(
            (client.received_msat(), server.received_msat()),
            (140_000, 0)
        );

        // A node on another ledger is unreachable.
        let stranger = TestNode::with_key([0x33; 32], Network::Regtest).unwrap();
        let invoice = block_on(stranger.create_invoice(&request(Some(1_000)))).unwrap();
        assert!(matches!(
            block_on(server.pay(&invoice)),
            Err(NodeError::PaymentFailed(_))
        ));
    }

    #[test]
    fn refuses_expired_and_foreign_network_invoices() {
        let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
        let node = TestNode::new().with_clock(clock.clock());
        let invoice = block_on(node.create_invoice(&request(Some(1_000)))).unwrap();
        clock.advance(600);
        assert_eq!(
            block_on(node.lookup_invoice(invoice.payment_hash()))
                .unwrap()
                .unwrap()
                .state,
            InvoiceState::Expired
        );
        assert!(matches!(
            block_on(node.pay(&invoice)),
            Err(NodeError::PaymentFailed(_))
        ));
        let signet = TestNode::with_key(TEST_NODE_KEY, Network::Signet).unwrap();
        let other = block_on(signet.create_invoice(&request(Some(1_000)))).unwrap();
        assert!(matches!(
            block_on(node.pay(&other)),
            Err(NodeError::InvalidRequest(_))
        ));
    }

    #[test]
    fn unpaid_invoices_are_forgotten_once_expired() {
        // Every 402 of a lightning route mints an invoice: an unpaid one must not be
        // kept for ever.
        let clock = ManualClock::new(UnixTime::from_secs(1_800_000_000));
        let node = TestNode::new().with_clock(clock.clock());
        let paid = block_on(node.create_invoice(&request(Some(1_000)))).unwrap();
        block_on(node.pay_invoice(&paid, PayOptions::default())).unwrap();
        for _ in 0..1_000 {
            block_on(node.create_invoice(&request(Some(1_000)))).unwrap();
        }
        assert_eq!(node.invoices_held(), 1_001);
        clock.advance(600);
        let fresh = block_on(node.create_invoice(&request(Some(1_000)))).unwrap();
        assert_eq!(node.invoices_held(), 2, "the paid invoice and the new one");
        assert!(node.is_paid(paid.payment_hash()));
        assert!(block_on(node.pay_invoice(&fresh, PayOptions::default())).is_ok());
    }

    #[test]
    fn debug_shows_no_secret() {
        // req: core.security.credentials.not-logged
        let node = TestNode::new();
        let invoice = block_on(node.create_invoice(&request(Some(1_000)))).unwrap();
        let outcome = block_on(node.pay_invoice(&invoice, PayOptions::default())).unwrap();
        let preimage_hex = outcome.preimage.to_hex();
        let key_hex = crate::hex::encode(&TEST_NODE_KEY);
        for debug in [
            format!("{node:?}"),
            format!("{outcome:?}"),
            format!("{invoice:?}"),
            format!("{:?}", NodeKey::from_bytes(TEST_NODE_KEY).unwrap()),
        ] {
            assert!(!debug.contains(&preimage_hex), "{debug}");
            assert!(!debug.contains(&key_hex), "{debug}");
        }
    }
}
