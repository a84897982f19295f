//! What the lightning method needs from a Lightning node, and from a payer's wallet.
//!
//! Both traits are object-safe and return boxed futures ([`BoxFuture`]), like
//! [`ChargeMethod`](mpp_core::method::ChargeMethod), so a server can hold an
//! `Arc<dyn LightningNode>` for LND, Core Lightning, LDK or a hosted API alike, and any
//! async runtime can drive them.
//!
//! What the methods use them for:
//!
//! | operation | charge (server) | session (server) | client |
//! |---|---|---|---|
//! | [`LightningNode::create_invoice`] | a fresh invoice per challenge | deposit and top-up invoices | an amountless `returnInvoice` |
//! | [`LightningNode::lookup_invoice`] | optional confirmation that it was paid | — | — |
//! | [`LightningNode::pay_invoice`] | — | the refund to the `returnInvoice` on close | — |
//! | [`LightningWallet::pay`] | — | — | paying the challenge's invoice (a session's deposit and top-ups) |

use std::boxed::Box;
use std::string::{String, ToString};

use mpp_core::client::PayError;
use mpp_core::method::BoxFuture;
use mpp_core::time::UnixTime;

use super::{Invoice, Network, NodeId, PaymentHash, PaymentPreimage};

/// An invoice to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRequest {
    /// The amount, in millisatoshis; `None` for an invoice the payer fills in (a
    /// session's return invoice).
    pub amount_msat: Option<u64>,
    /// The description written into the invoice (`d`), at most 639 bytes.
    pub description: String,
    /// How long it may be paid, in seconds from its creation.
    pub expiry_secs: u64,
}

/// Where an invoice a node issued stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvoiceState {
    /// Not paid, not expired.
    Open,
    /// Paid: the node released the preimage.
    Settled,
    /// Not paid, and expired.
    Expired,
    /// Cancelled by the node; it will not be paid.
    Cancelled,
}

/// What a node knows of an invoice it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceStatus {
    /// The invoice.
    pub invoice: Invoice,
    /// Where it stands.
    pub state: InvoiceState,
    /// How much was received for it, in millisatoshis (0 unless settled).
    pub amount_received_msat: u64,
    /// When it was paid.
    pub settled_at: Option<UnixTime>,
}

/// How to pay an invoice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PayOptions {
    /// The amount to send, in millisatoshis: required for an invoice without an
    /// amount (a session's refund sends the unspent balance this way); for an
    /// invoice with one, it must be that amount or be left out.
    pub amount_msat: Option<u64>,
    /// The most the node may spend on routing fees; `None`: the node's default.
    pub max_fee_msat: Option<u64>,
}

/// A payment that completed.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentOutcome {
    /// The preimage the payee released: the proof of payment. Secret.
    pub preimage: PaymentPreimage,
    /// The amount delivered to the payee, in millisatoshis.
    pub amount_msat: u64,
    /// The routing fees paid, in millisatoshis.
    pub fee_msat: u64,
}

impl core::fmt::Debug for PaymentOutcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PaymentOutcome")
            .field("preimage", &"<redacted>")
            .field("amount_msat", &self.amount_msat)
            .field("fee_msat", &self.fee_msat)
            .finish()
    }
}

/// Why a node refused or failed an operation. Messages must not contain secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeError {
    /// The node refused the request as it stands (an amount out of range, an invoice
    /// for another network, an amount missing for an amountless invoice, …).
    InvalidRequest(String),
    /// The payment definitely did not happen: no route, the invoice expired or was
    /// already paid, the payee refused it.
    PaymentFailed(String),
    /// The node could not be reached or did not answer; for a payment, whether money
    /// moved is unknown.
    Unavailable(String),
}

impl core::fmt::Display for NodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NodeError::InvalidRequest(m) => write!(f, "the node refused the request: {m}"),
            NodeError::PaymentFailed(m) => write!(f, "the payment failed: {m}"),
            NodeError::Unavailable(m) => write!(f, "the node is unavailable: {m}"),
        }
    }
}

impl std::error::Error for NodeError {}

impl NodeError {
    /// The client's error for a payment that ended this way: an unknown outcome
    /// ([`NodeError::Unavailable`]) is [`PayError::OutcomeUnknown`], so that the
    /// client engine keeps counting the money as spent and nothing pays again on its
    /// own; anything else is a [`PayError::Backend`] failure.
    pub fn into_pay_error(self) -> PayError {
        match self {
            NodeError::Unavailable(_) => PayError::OutcomeUnknown(self.to_string()),
            _ => PayError::Backend(self.to_string()),
        }
    }
}

/// A Lightning node, as the lightning method uses it: it issues invoices, knows which
/// of its invoices were paid, and pays invoices.
///
/// Implementations wrap a real node's API. [`TestNode`](super::TestNode) is an
/// in-process stand-in for tests.
pub trait LightningNode: Send + Sync {
    /// The node's identity: the payee of every invoice it issues.
    fn node_id(&self) -> NodeId;

    /// The network it runs on.
    fn network(&self) -> Network;

    /// Creates a signed invoice with a fresh random preimage (which the node keeps, and
    /// releases only to whoever pays).
    fn create_invoice<'a>(
        &'a self,
        request: &'a InvoiceRequest,
    ) -> BoxFuture<'a, Result<Invoice, NodeError>>;

    /// What the node knows of one of its invoices; `None` when it did not issue one
    /// with this payment hash.
    fn lookup_invoice<'a>(
        &'a self,
        payment_hash: &'a PaymentHash,
    ) -> BoxFuture<'a, Result<Option<InvoiceStatus>, NodeError>>;

    /// Pays an invoice and returns the preimage the payee released. One attempt:
    /// `PaymentFailed` means nothing was paid, `Unavailable` that the outcome is
    /// unknown.
    fn pay_invoice<'a>(
        &'a self,
        invoice: &'a Invoice,
        options: PayOptions,
    ) -> BoxFuture<'a, Result<PaymentOutcome, NodeError>>;
}

/// What a paying client needs: something that pays an invoice and hands back its
/// preimage. Every [`LightningNode`] is one.
pub trait LightningWallet: Send + Sync {
    /// Pays `invoice` (for its own amount) and returns the preimage released.
    fn pay<'a>(&'a self, invoice: &'a Invoice)
    -> BoxFuture<'a, Result<PaymentPreimage, NodeError>>;
}

impl<N: LightningNode + ?Sized> LightningWallet for N {
    fn pay<'a>(
        &'a self,
        invoice: &'a Invoice,
    ) -> BoxFuture<'a, Result<PaymentPreimage, NodeError>> {
        Box::pin(async move {
            self.pay_invoice(invoice, PayOptions::default())
                .await
                .map(|outcome| outcome.preimage)
        })
    }
}
