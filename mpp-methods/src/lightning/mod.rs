//! The `lightning` method: `lightning/charge` pays for one request with a BOLT11
//! invoice and proves it with the preimage; `lightning/session` prepays a deposit
//! invoice whose preimage then authenticates each request, and refunds what is left.
//!
//! Follows **draft-lightning-charge-00** and **draft-lightning-session-00**
//! (`specs/methods/lightning/` of the `tempoxyz/mpp-specs` repository) over the
//! charge intent (draft-payment-intent-charge-00), the session intent, and BOLT #11
//! as of 2026. Both intents use one [`LightningNode`].
//!
//! # The charge exchange
//!
//! | | |
//! |---|---|
//! | request | `{"amount": "<sats>", "currency": "sat", "description"?, "methodDetails": {"invoice": "<BOLT11>", "paymentHash"?: "<hex>", "network"?: "mainnet" \| "regtest" \| "signet"}}` |
//! | payload | `{"preimage": "<64 lowercase hex digits>"}` |
//! | receipt `reference` | the payment hash in lowercase hex, never the preimage |
//!
//! The invoice is authoritative: `amount` (in satoshis) must equal the invoice's amount,
//! `paymentHash` and `network` (default `mainnet`) must equal what the invoice encodes.
//! [`charge_request`] builds such terms from an invoice and [`LightningCharge::issue`]
//! from a fresh invoice of the server's node.
//!
//! # Server: [`LightningCharge`]
//!
//! Verification ([`LightningCharge::verify`], which [`ChargeMethod::settle`] wraps),
//! without contacting the node unless [`LightningCharge::confirm_with_node`] asks to:
//!
//! 1. the payload's `preimage` is 64 lowercase hex digits;
//! 2. the terms are a valid lightning charge: the invoice decodes, its signature is
//!    valid, and amount, currency, network and payment hash agree with it;
//! 3. the invoice was issued by this server's node (payee = [`LightningNode::node_id`],
//!    on the node's network);
//! 4. the invoice has not expired (the challenge's own `expires` is checked by the
//!    server engine, so the earlier of the two counts);
//! 5. `sha256(preimage)` is the invoice's payment hash;
//! 6. the payment hash has not already paid for another challenge (see below).
//!
//! The receipt's `reference` is the payment hash; the engine adds `challengeId`.
//!
//! # Client: [`LightningPayer`]
//!
//! Decodes and checks the invoice against the terms and against its own network, has
//! a [`LightningWallet`] pay it, checks that the preimage returned hashes to the
//! invoice's payment hash, and sends it.
//!
//! # The session exchange
//!
//! | | |
//! |---|---|
//! | request | `{"amount": "<sats per unit>", "currency": "sat", "description"?, "unitType"?, "idleTimeout"?: "<secs>", "depositInvoice": "<BOLT11>", "paymentHash": "<hex>", "depositAmount": "<sats>"}` |
//! | open | `{"action": "open", "preimage", "returnInvoice": "<BOLT11 without amount>"}` |
//! | bearer | `{"action": "bearer", "sessionId", "preimage"}` |
//! | top-up | `{"action": "topUp", "sessionId", "topUpPreimage"}` |
//! | close | `{"action": "close", "sessionId", "preimage"}` |
//! | session id | the deposit invoice's payment hash, 64 lowercase hex digits |
//!
//! [`LightningSession`] is the server half ([`SessionMethod`](mpp_core::method::SessionMethod)):
//! a route configures the unit price ([`LightningSession::template`]) and every
//! challenge carries a fresh deposit invoice for [`DEFAULT_DEPOSIT_UNITS`] units
//! (or [`LightningSession::deposit`], or the template's `depositAmount`). An open
//! or top-up is verified as a charge is (terms that hold, an invoice of this node,
//! unexpired, `sha256(preimage)` its payment hash); the open's return invoice must
//! be a BOLT11 invoice of the same network without an amount. A bearer or close
//! payload owns the session whose id is the hash of its preimage. The refund at
//! close pays the return invoice the unspent amount, once. The accounting (balance,
//! closed sessions kept to refuse replays, idle close) is the server's, with
//! mpp-core's session machine.
//!
//! [`LightningSessionPayer`] is the client half: it pays the deposit and opens a
//! session at the origin that asked, then sends bearer payloads to that origin only;
//! [`LightningSessionPayer::top_up`] and [`LightningSessionPayer::close`] on request.
//!
//! # Test node: [`TestNode`]
//!
//! An in-process stand-in for a Lightning node, **for tests and demos only**: it signs
//! real BOLT11 invoices with a fixed, published key, and "paying" one of its invoices
//! hands over the preimage it generated. No channel, no network, no money.
//!
//! # Real nodes (feature `lightning-nodes`)
//!
//! `LndNode` (LND's REST API, with a macaroon and the node's own TLS certificate
//! pinned) and `ClnNode` (Core Lightning's `clnrest`, with a rune) implement
//! [`LightningNode`], so both intents run against a real node. A node that cannot
//! be reached or fails makes the server answer `internal-payment-error`, never a
//! grant; a payment whose outcome the node did not report is
//! [`NodeError::Unavailable`], which the payers pass to the client engine as
//! [`PayError::OutcomeUnknown`](mpp_core::client::PayError::OutcomeUnknown), and
//! nothing is paid again on its own.
//!
//! # Where this departs from the draft, or reads it one way
//!
//! - **Stateless challenge binding.** The draft has the server store the payment hash
//!   by challenge id. Here the challenge id is an HMAC over the `request` (D2), which
//!   holds the invoice and its payment hash, so the id binds the hash without a
//!   store; the engine's single-use claim of the id (D9) makes the challenge
//!   single-use.
//! - **Fresh invoice per challenge.** As the draft requires, every challenge carries
//!   its own invoice: [`LightningCharge`] makes its terms per challenge
//!   ([`ChargeMethod::issue_terms`] and [`Terms::PerChallenge`](mpp_core::method::Terms)),
//!   a route configures only the price ([`LightningCharge::template`]), an echo must
//!   keep the amount, currency and description, the invoice itself is bound by the
//!   challenge id, and no challenge outlives its invoice. A route may still be given
//!   fixed terms holding one invoice (`RouteOffer::new` with [`charge_request`]);
//!   for that case [`LightningCharge`] also remembers the payment hashes it settled
//!   (in memory, until their invoice expires) and refuses a second use, which only
//!   holds within one process.
//! - **Problem types.** Failures are answered with the draft's `lightning/*` types,
//!   each refining the nearest core type, which keeps the status
//!   ([`MethodError::refine`](mpp_core::method::MethodError::refine)):
//!   `malformed-credential` refines `invalid-payload`; `invalid-preimage`,
//!   `expired-invoice` and `unknown-challenge` (a payment hash used before) refine
//!   `verification-failed`. [`LightningChargeError::problem`] gives each.
//! - **The payee.** The draft does not say that the server checks who issued the
//!   invoice in the terms; without it, terms naming an invoice whose preimage the
//!   payer knows (one of its own) would verify. Step 3 above refuses them.
//! - **`testnet`.** The draft's `network` has no value for BOLT11's testnet prefix
//!   (`lntb`): such invoices decode, but are refused as charge terms.
//! - **BOLT11 reading is strict.** Duplicate `p`, `s`, `d`, `h`, `n`, `x`, `c`, `9` or
//!   `m` fields, non-minimal integers, non-zero padding bits and amounts with leading
//!   zeros are refused. Fixed-length fields of the wrong length fail, as BOLT11's
//!   reader requirements say (its "fields which must be ignored" example predates
//!   that rule and is refused). Without `n`, a high-S signature is read as its low-S
//!   twin, as BOLT11's examples expect; with `n` it is refused.
//! - **Session: every challenge carries a deposit invoice.** The draft wants no
//!   `depositInvoice` in challenges for bearer and close, but a 402 is issued before
//!   the server knows which action the client will take; bearer and close simply
//!   ignore the invoice (nothing is paid for it), and `paymentHash` is always present.
//! - **Session: the return invoice is read before the challenge is claimed**
//!   ([`SessionMethod::action`](mpp_core::method::SessionMethod::action)), so a bad
//!   one does not consume the challenge the deposit paid for. An expired return
//!   invoice is refused too: no refund could reach it.
//! - **Session: problem types.** `lightning/invalid-return-invoice` and
//!   `lightning/malformed-credential` are reported as `invalid-payload`,
//!   `lightning/invalid-preimage` as `verification-failed`, an expired deposit
//!   invoice as `lightning/challenge-expired` (challenges never outlive their
//!   invoice); the server reports `lightning/session-not-found`,
//!   `lightning/session-closed` and `lightning/insufficient-balance` through
//!   [`SessionMethod::problem`](mpp_core::method::SessionMethod::problem).
//! - **Session: the payer's guard rails.** What opening a session costs is its
//!   `depositAmount` ([`PayMethod::cost`](mpp_core::client::PayMethod::cost)), and
//!   a top-up its own, so the client engine holds deposits to the spending policy's
//!   per-request cap and budget; [`LightningSessionPayer`] also refuses a deposit
//!   above its own maximum. A session's secret goes only to the origin (scheme, host,
//!   port) the session was opened at, and only for the realm it was opened with.
//! - **Amount `0`.** The charge draft requires a positive amount; an invoice whose
//!   amount is written as `0` decodes (the session draft accepts such return
//!   invoices) but is never valid charge terms.

mod charge;
#[cfg(feature = "lightning-nodes")]
mod cln;
mod invoice;
#[cfg(feature = "lightning-nodes")]
mod lnd;
mod node;
#[cfg(feature = "lightning-nodes")]
mod rest;
mod session;
mod test_node;

use std::string::String;

use mpp_core::time::{Clock, system_clock};
use sha2::{Digest, Sha256};

pub use charge::{
    DEFAULT_INVOICE_EXPIRY_SECS, IssuedCharge, LightningCharge, LightningChargeError,
    LightningPayer, TermsError, charge_request,
};
#[cfg(feature = "lightning-nodes")]
pub use cln::ClnNode;
pub use invoice::{
    Description, Invoice, InvoiceBuilder, InvoiceError, MAX_INVOICE_LENGTH, Network, NodeId,
    NodeKey,
};
#[cfg(feature = "lightning-nodes")]
pub use lnd::LndNode;
pub use node::{
    InvoiceRequest, InvoiceState, InvoiceStatus, LightningNode, LightningWallet, NodeError,
    PayOptions, PaymentOutcome,
};
#[cfg(feature = "lightning-nodes")]
pub use rest::{DEFAULT_NODE_TIMEOUT, DEFAULT_PAYMENT_TIMEOUT};
pub use session::{
    DEFAULT_DEPOSIT_UNITS, DEFAULT_MAX_DEPOSIT_SATS, DEFAULT_RETURN_INVOICE_EXPIRY_SECS,
    IssuedSession, LightningSession, LightningSessionError, LightningSessionPayer, SessionPayload,
};
pub use test_node::{TEST_NODE_KEY, TestNode};

#[cfg(doc)]
use mpp_core::method::ChargeMethod;

/// The method identifier.
pub const NAME: &str = "lightning";

/// The unit of `amount`: satoshis, written exactly so (draft-lightning-charge-00).
pub const CURRENCY: &str = "sat";

/// The base of the draft's problem type URIs.
pub const PROBLEM_BASE_URI: &str = "https://paymentauth.org/problems/lightning/";

/// The draft's problem type `lightning/{slug}`.
fn problem(slug: &str, title: &str) -> mpp_core::server::SpecificProblem {
    mpp_core::server::SpecificProblem::new(std::format!("{PROBLEM_BASE_URI}{slug}"), title)
}

/// A payment hash: the SHA-256 of a preimage. Public: it is in the invoice and in the
/// receipt.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PaymentHash([u8; 32]);

impl PaymentHash {
    /// The hash of these 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> PaymentHash {
        PaymentHash(bytes)
    }

    /// Parses 64 lowercase hex digits (the draft's encoding; nothing else is accepted).
    pub fn from_hex(text: &str) -> Option<PaymentHash> {
        crate::hex::decode(text, false).map(PaymentHash)
    }

    /// The bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }
}

impl core::fmt::Display for PaymentHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl core::fmt::Debug for PaymentHash {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PaymentHash({self})")
    }
}

/// A payment preimage: the 32-byte secret whose SHA-256 is the payment hash. Whoever
/// holds it can present it as proof of payment, so it is a bearer secret: its `Debug`
/// is redacted and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentPreimage([u8; 32]);

impl PaymentPreimage {
    /// A preimage of these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> PaymentPreimage {
        PaymentPreimage(bytes)
    }

    /// Parses 64 lowercase hex digits (the payload's encoding; nothing else is
    /// accepted: no uppercase, no `0x`, no whitespace).
    pub fn from_hex(text: &str) -> Option<PaymentPreimage> {
        crate::hex::decode(text, false).map(PaymentPreimage)
    }

    /// The secret bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The payload's encoding: 64 lowercase hex digits. This is the secret itself.
    pub fn to_hex(&self) -> String {
        crate::hex::encode(&self.0)
    }

    /// Its payment hash, `sha256(preimage)`.
    pub fn payment_hash(&self) -> PaymentHash {
        PaymentHash(Sha256::digest(self.0).into())
    }
}

impl core::fmt::Debug for PaymentPreimage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PaymentPreimage(<redacted>)")
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// Drives a future that never waits (every future of the test node is ready).
    pub(crate) fn block_on<F: core::future::Future>(fut: F) -> F::Output {
        use core::task::{Context, Poll, Waker};
        let mut fut = core::pin::pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_strict_lowercase() {
        let hex = "00ff".repeat(16);
        let hash = PaymentHash::from_hex(&hex).unwrap();
        assert_eq!(hash.to_hex(), hex);
        for bad in [
            "00FF".repeat(16),
            std::format!("{hex}0"),
            hex[..63].into(),
            std::format!("0x{}", &hex[2..]),
            "g0ff".repeat(16),
            std::format!(" {}", &hex[1..]),
        ] {
            assert!(PaymentHash::from_hex(&bad).is_none(), "{bad}");
            assert!(PaymentPreimage::from_hex(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn preimage_debug_is_redacted() {
        // req: core.security.credentials.not-logged
        let preimage = PaymentPreimage::from_bytes([0xab; 32]);
        let debug = std::format!("{preimage:?}");
        assert!(!debug.contains("abab"), "{debug}");
        assert_eq!(
            preimage.payment_hash().to_hex(),
            crate::hex::encode(&Sha256::digest([0xab; 32]))
        );
    }
}
