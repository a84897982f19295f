//! The charge intent of the lightning method: terms, server verification, client payer.

use std::boxed::Box;
use std::collections::HashMap;
use std::format;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, PoisonError};

use mpp_core::client::{Choice, PayError, PayMethod, Payment};
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{
    BoxFuture, Charge, ChargeMethod, IssuedTerms, MethodError, Settlement, Terms,
};
use mpp_core::server::SpecificProblem;
use mpp_core::time::UnixTime;
use mpp_core::value::Amount;

use super::{
    CURRENCY, Clock, Description, Invoice, InvoiceRequest, LightningNode, LightningWallet, NAME,
    Network, NodeError, PaymentHash, PaymentPreimage, system_clock,
};

pub use crate::terms::TermsError;

/// Reads `request` as lightning charge terms and returns their invoice: `amount` a
/// positive number of satoshis, `currency` `"sat"`, `methodDetails.invoice` a BOLT11
/// invoice with a valid signature for exactly that amount, `network` (default
/// `mainnet`) and `paymentHash`, when present, what the invoice encodes.
fn read_terms(request: &JsonObject) -> Result<Invoice, TermsError> {
    let amount_sat = read_price(request)?;
    let details = request
        .get("methodDetails")
        .and_then(Value::as_object)
        .ok_or_else(|| TermsError::new("`methodDetails` must be an object"))?;
    let text = details
        .get("invoice")
        .and_then(Value::as_str)
        .ok_or_else(|| TermsError::new("`methodDetails.invoice` must be a string"))?;
    let invoice = Invoice::decode(text)
        .map_err(|e| TermsError::new(format!("`methodDetails.invoice`: {e}")))?;
    let network = match details.get("network") {
        None => Network::Mainnet,
        Some(Value::String(name)) => Network::from_draft_name(name).ok_or_else(|| {
            TermsError::new("`methodDetails.network` must be mainnet, regtest or signet")
        })?,
        Some(_) => {
            return Err(TermsError::new("`methodDetails.network` must be a string"));
        }
    };
    if invoice.network() != network {
        return Err(TermsError::new(format!(
            "the invoice is payable on {}, `methodDetails.network` says {network}",
            invoice.network()
        )));
    }
    match details.get("paymentHash") {
        None => {}
        Some(Value::String(hex)) => match PaymentHash::from_hex(hex) {
            Some(hash) if &hash == invoice.payment_hash() => {}
            Some(_) => {
                return Err(TermsError::new(
                    "`methodDetails.paymentHash` is not the invoice's payment hash",
                ));
            }
            None => {
                return Err(TermsError::new(
                    "`methodDetails.paymentHash` must be 64 lowercase hex digits",
                ));
            }
        },
        Some(_) => {
            return Err(TermsError::new(
                "`methodDetails.paymentHash` must be a string",
            ));
        }
    }
    if invoice.amount_msat() != amount_sat.checked_mul(1000) {
        return Err(TermsError::new(match invoice.amount_msat() {
            Some(msat) => {
                format!("the invoice asks {msat} msat, `amount` says {amount_sat} sat")
            }
            None => "the invoice has no amount".into(),
        }));
    }
    Ok(invoice)
}

/// The terms' price: `amount` a positive number of satoshis (a base-10 string), and
/// `currency` `"sat"`.
pub(super) fn read_price(request: &JsonObject) -> Result<u64, TermsError> {
    let amount_sat = request
        .get("amount")
        .and_then(Value::as_str)
        .and_then(|a| Amount::new(a).ok()?.to_u128())
        .and_then(|a| u64::try_from(a).ok())
        .filter(|&a| a > 0)
        .ok_or_else(|| TermsError::new("`amount` must be a positive number of satoshis"))?;
    if request.get("currency").and_then(Value::as_str) != Some(CURRENCY) {
        return Err(TermsError::new("`currency` must be \"sat\""));
    }
    Ok(amount_sat)
}

/// Refuses an invoice `node` did not issue: another payee, or another network.
pub(super) fn check_issued_by(
    node: &dyn LightningNode,
    invoice: &Invoice,
) -> Result<(), TermsError> {
    if invoice.payee() != &node.node_id() {
        return Err(TermsError::new(
            "the invoice was not issued by this server's node",
        ));
    }
    if invoice.network() != node.network() {
        return Err(TermsError::new(format!(
            "the invoice is payable on {}, this server's node runs on {}",
            invoice.network(),
            node.network()
        )));
    }
    Ok(())
}

/// Refuses to pay an invoice of another network than `network`, an expired one, or
/// one requiring a feature this crate does not know.
pub(super) fn check_payable(
    invoice: &Invoice,
    network: Network,
    now: UnixTime,
) -> Result<(), PayError> {
    if invoice.network() != network {
        return Err(PayError::Terms(format!(
            "the invoice is payable on {}, this payer pays on {network}",
            invoice.network(),
        )));
    }
    if invoice.is_expired_at(now) {
        return Err(PayError::Terms("the invoice has expired".into()));
    }
    if let Some(bit) = invoice.unknown_required_feature() {
        return Err(PayError::Terms(format!(
            "the invoice requires unknown feature {bit}"
        )));
    }
    Ok(())
}

/// The request terms of a charge paid with `invoice`: `{amount, currency: "sat",
/// description?, methodDetails: {invoice, paymentHash, network}}`.
///
/// The invoice must ask a positive whole number of satoshis on a network the draft
/// names; `description`, when given, must be the invoice's (the draft uses one for
/// the other).
pub fn charge_request(
    invoice: &Invoice,
    description: Option<&str>,
) -> Result<JsonObject, TermsError> {
    let amount_sat = invoice
        .amount_sat()
        .filter(|&a| a > 0)
        .ok_or_else(|| TermsError::new("the invoice must ask a whole number of satoshis"))?;
    if !invoice.network().is_in_draft() {
        return Err(TermsError::new(format!(
            "the draft has no `network` value for {}",
            invoice.network()
        )));
    }
    if let (Some(text), Description::Text(written)) = (description, invoice.description()) {
        if text != written {
            return Err(TermsError::new(
                "the description differs from the invoice's",
            ));
        }
    }
    let mut details = JsonObject::new();
    details.insert("invoice".into(), invoice.as_str().into());
    details.insert("paymentHash".into(), invoice.payment_hash().to_hex().into());
    details.insert("network".into(), invoice.network().as_str().into());
    let mut request = JsonObject::new();
    request.insert("amount".into(), amount_sat.to_string().into());
    request.insert("currency".into(), CURRENCY.into());
    if let Some(text) = description {
        request.insert("description".into(), text.into());
    }
    request.insert("methodDetails".into(), Value::Object(details));
    Ok(request)
}

/// A fresh invoice from the server's node and the terms offering it.
#[derive(Debug, Clone)]
pub struct IssuedCharge {
    /// The `request` terms ([`charge_request`]).
    pub request: JsonObject,
    /// The invoice.
    pub invoice: Invoice,
    /// The latest `expires` a challenge for these terms may carry: the invoice's
    /// expiry (the draft forbids a later one).
    pub not_after: UnixTime,
}

impl IssuedCharge {
    /// How many whole seconds from `now` a challenge may stay payable, so that its
    /// `expires` is no later than the invoice's expiry.
    pub fn ttl_secs(&self, now: UnixTime) -> u64 {
        u64::try_from(self.not_after.secs().saturating_sub(now.secs())).unwrap_or(0)
    }
}

/// Why a lightning charge was refused or failed, with the draft's problem type where
/// it defines one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightningChargeError {
    /// The payload has no `preimage`, or it is not 64 lowercase hex digits.
    MalformedPayload(String),
    /// The terms are not a lightning charge of this server: malformed, inconsistent
    /// with their invoice (amount, currency, network, payment hash), or an invoice
    /// this server's node did not issue.
    InvalidTerms(TermsError),
    /// `sha256(preimage)` is not the invoice's payment hash.
    InvalidPreimage,
    /// The invoice has expired.
    ExpiredInvoice,
    /// This payment hash has already paid for a challenge.
    AlreadyUsed,
    /// The node says the invoice was not paid in full (only with
    /// [`LightningCharge::confirm_with_node`]).
    NotSettled,
    /// The node could not answer.
    Node(NodeError),
}

impl LightningChargeError {
    /// The draft's problem type URI for this failure, where it defines one
    /// (`https://paymentauth.org/problems/lightning/…`).
    pub fn problem_type_uri(&self) -> Option<String> {
        self.problem().map(|p| p.type_uri)
    }

    /// The draft's problem type for this failure, where it defines one.
    pub fn problem(&self) -> Option<SpecificProblem> {
        let (slug, title) = match self {
            LightningChargeError::MalformedPayload(_) => {
                ("malformed-credential", "Malformed Credential")
            }
            LightningChargeError::InvalidPreimage => {
                ("invalid-preimage", "Invalid PaymentPreimage")
            }
            LightningChargeError::ExpiredInvoice => ("expired-invoice", "Expired Invoice"),
            LightningChargeError::AlreadyUsed => ("unknown-challenge", "Unknown Challenge"),
            _ => return None,
        };
        Some(super::problem(slug, title))
    }
}

impl core::fmt::Display for LightningChargeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LightningChargeError::MalformedPayload(m) => f.write_str(m),
            LightningChargeError::InvalidTerms(e) => {
                write!(f, "the lightning terms do not hold: {e}")
            }
            LightningChargeError::InvalidPreimage => {
                f.write_str("sha256(preimage) is not the invoice's payment hash")
            }
            LightningChargeError::ExpiredInvoice => f.write_str("the invoice has expired"),
            LightningChargeError::AlreadyUsed => {
                f.write_str("this payment has already paid for another challenge")
            }
            LightningChargeError::NotSettled => {
                f.write_str("the node has not received the payment")
            }
            LightningChargeError::Node(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LightningChargeError {}

impl From<LightningChargeError> for MethodError {
    /// The nearest core problem type (`invalid-payload` for a malformed payload,
    /// `internal-payment-error` when the node failed, `verification-failed`
    /// otherwise), refined by the draft's `lightning/*` type where it has one.
    fn from(e: LightningChargeError) -> MethodError {
        let problem = e.problem();
        let core = match e {
            LightningChargeError::MalformedPayload(m) => MethodError::InvalidPayload(m),
            LightningChargeError::Node(_) => MethodError::Internal(e.to_string()),
            _ => MethodError::VerificationFailed(e.to_string()),
        };
        match problem {
            Some(problem) => core.refine(problem),
            None => core,
        }
    }
}

/// The payload's preimage: present, a string, 64 lowercase hex digits. The message
/// never repeats the value.
fn read_preimage(payload: &JsonObject) -> Result<PaymentPreimage, LightningChargeError> {
    read_hex(payload, "preimage", PaymentPreimage::from_hex)
        .map_err(LightningChargeError::MalformedPayload)
}

/// The payload member `name`: present, a string, 64 lowercase hex digits, read by
/// `parse`. The message names the member and never repeats its value (a secret).
pub(super) fn read_hex<T>(
    payload: &JsonObject,
    name: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, String> {
    match payload.get(name) {
        None => Err(format!("the payload has no `{name}`")),
        Some(Value::String(hex)) => {
            parse(hex).ok_or_else(|| format!("`{name}` must be 64 lowercase hex digits"))
        }
        Some(_) => Err(format!("`{name}` must be a string")),
    }
}

/// How long the invoice of each challenge stays payable unless
/// [`LightningCharge::invoice_expiry`] says otherwise: ten minutes, twice the
/// challenges' default lifetime, so the challenge's own `expires` decides.
pub const DEFAULT_INVOICE_EXPIRY_SECS: u64 = 600;

/// The server half of `lightning/charge`: verifies preimages against invoices its
/// node issued. See the [module docs](super) for the procedure.
pub struct LightningCharge {
    node: Arc<dyn LightningNode>,
    clock: Clock,
    confirm_with_node: bool,
    invoice_expiry_secs: u64,
    /// Payment hashes settled, with the expiry of their invoice (after which the
    /// invoice check refuses them anyway).
    used: Mutex<HashMap<PaymentHash, UnixTime>>,
}

impl core::fmt::Debug for LightningCharge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LightningCharge")
            .field("node_id", &self.node.node_id())
            .field("network", &self.node.network())
            .field("confirm_with_node", &self.confirm_with_node)
            .finish_non_exhaustive()
    }
}

impl LightningCharge {
    /// Verifies charges paid to invoices of `node`, reading the system clock.
    pub fn new(node: Arc<dyn LightningNode>) -> LightningCharge {
        LightningCharge {
            node,
            clock: system_clock(),
            confirm_with_node: false,
            invoice_expiry_secs: DEFAULT_INVOICE_EXPIRY_SECS,
            used: Mutex::default(),
        }
    }

    /// How long the invoice of each challenge stays payable (default
    /// [`DEFAULT_INVOICE_EXPIRY_SECS`]); a challenge never outlives its invoice.
    pub fn invoice_expiry(mut self, secs: u64) -> LightningCharge {
        self.invoice_expiry_secs = secs;
        self
    }

    /// The terms a route configures to sell for `amount_sat` satoshis: `{amount,
    /// currency: "sat", description?}`. Each challenge then carries a fresh invoice
    /// for that amount ([`ChargeMethod::issue_terms`]), and an echo must keep the
    /// amount and currency.
    pub fn template(amount_sat: u64, description: Option<&str>) -> JsonObject {
        let mut request = JsonObject::new();
        request.insert("amount".into(), amount_sat.to_string().into());
        request.insert("currency".into(), CURRENCY.into());
        if let Some(text) = description {
            request.insert("description".into(), text.into());
        }
        request
    }

    /// Reads the time from `clock` (for the invoice's expiry).
    pub fn with_clock(mut self, clock: Clock) -> LightningCharge {
        self.clock = clock;
        self
    }

    /// Also asks the node whether the invoice was paid in full before granting.
    /// Off by default: the draft verifies the preimage alone, which only the payee
    /// node releases, and only once paid.
    pub fn confirm_with_node(mut self, confirm: bool) -> LightningCharge {
        self.confirm_with_node = confirm;
        self
    }

    /// The node.
    pub fn node(&self) -> &Arc<dyn LightningNode> {
        &self.node
    }

    /// Creates a fresh invoice of `amount_sat` satoshis through the node, payable for
    /// `expiry_secs`, and the terms offering it. `description` goes into the invoice
    /// and the terms.
    pub fn issue<'a>(
        &'a self,
        amount_sat: u64,
        description: Option<&'a str>,
        expiry_secs: u64,
    ) -> BoxFuture<'a, Result<IssuedCharge, NodeError>> {
        Box::pin(async move {
            let amount_msat = amount_sat
                .checked_mul(1000)
                .filter(|&m| m > 0)
                .ok_or_else(|| NodeError::InvalidRequest("the amount is out of range".into()))?;
            let request = InvoiceRequest {
                amount_msat: Some(amount_msat),
                description: description.unwrap_or_default().into(),
                expiry_secs,
            };
            let invoice = self.node.create_invoice(&request).await?;
            if invoice.payee() != &self.node.node_id() || invoice.network() != self.node.network() {
                return Err(NodeError::InvalidRequest(
                    "the node returned an invoice of another node or network".into(),
                ));
            }
            let request = charge_request(&invoice, description)
                .map_err(|e| NodeError::InvalidRequest(e.to_string()))?;
            Ok(IssuedCharge {
                request,
                not_after: invoice.expires_at(),
                invoice,
            })
        })
    }

    /// Verifies a charge, reporting the draft's failure kinds. [`ChargeMethod::settle`]
    /// is this, mapped onto the core problem types.
    pub fn verify<'a>(
        &'a self,
        charge: Charge<'a>,
    ) -> BoxFuture<'a, Result<Settlement, LightningChargeError>> {
        Box::pin(async move {
            let preimage = read_preimage(charge.payload)?;
            let invoice =
                &read_terms(charge.request).map_err(LightningChargeError::InvalidTerms)?;
            check_issued_by(self.node.as_ref(), invoice)
                .map_err(LightningChargeError::InvalidTerms)?;
            let now = (self.clock)();
            if invoice.is_expired_at(now) {
                return Err(LightningChargeError::ExpiredInvoice);
            }
            // Both sides of the comparison are public hashes.
            if &preimage.payment_hash() != invoice.payment_hash() {
                return Err(LightningChargeError::InvalidPreimage);
            }
            if self.confirm_with_node {
                let status = self
                    .node
                    .lookup_invoice(invoice.payment_hash())
                    .await
                    .map_err(LightningChargeError::Node)?
                    .ok_or_else(|| {
                        LightningChargeError::InvalidTerms(TermsError::new(
                            "the node did not issue this invoice",
                        ))
                    })?;
                let asked = invoice.amount_msat().unwrap_or(u64::MAX);
                if status.settled_at.is_none() || status.amount_received_msat < asked {
                    return Err(LightningChargeError::NotSettled);
                }
            }
            self.claim(invoice, now)?;
            Ok(Settlement::new(invoice.payment_hash().to_hex()))
        })
    }

    /// Records the payment hash as used; refuses one used before.
    fn claim(&self, invoice: &Invoice, now: UnixTime) -> Result<(), LightningChargeError> {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        used.retain(|_, expires| *expires > now);
        if used.contains_key(invoice.payment_hash()) {
            return Err(LightningChargeError::AlreadyUsed);
        }
        used.insert(*invoice.payment_hash(), invoice.expires_at());
        Ok(())
    }
}

impl ChargeMethod for LightningCharge {
    fn name(&self) -> &str {
        NAME
    }

    fn check_payload(&self, _: &JsonObject, payload: &JsonObject) -> Result<(), MethodError> {
        read_preimage(payload).map(drop).map_err(MethodError::from)
    }

    fn settle<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Settlement, MethodError>> {
        Box::pin(async move { self.verify(charge).await.map_err(MethodError::from) })
    }

    /// A fresh invoice for every challenge, as the draft requires; the price is
    /// pinned, the invoice varies (and is bound by the challenge id).
    fn terms(&self) -> Terms {
        Terms::PerChallenge {
            pinned: &["amount", "currency", "description"],
        }
    }

    fn issue_terms<'a>(
        &'a self,
        template: &'a JsonObject,
        _now: UnixTime,
    ) -> BoxFuture<'a, Result<IssuedTerms, MethodError>> {
        Box::pin(async move {
            let amount = template
                .get("amount")
                .and_then(Value::as_str)
                .and_then(|a| a.parse::<u64>().ok())
                .filter(|_| template.get("currency").and_then(Value::as_str) == Some(CURRENCY))
                .ok_or_else(|| {
                    MethodError::Internal(
                        "the route's terms need `amount` in satoshis and `currency: \"sat\"`"
                            .into(),
                    )
                })?;
            let description = template.get("description").and_then(Value::as_str);
            let issued = self
                .issue(amount, description, self.invoice_expiry_secs)
                .await
                .map_err(|e| {
                    MethodError::Internal(format!("the node cannot issue an invoice: {e}"))
                })?;
            Ok(IssuedTerms {
                request: issued.request,
                not_after: Some(issued.not_after),
            })
        })
    }
}

/// The client half of `lightning/charge`: checks the invoice against the terms, has a
/// [`LightningWallet`] pay it, and proves the payment with the preimage.
///
/// Before paying it refuses terms that do not hold (amount, currency, network or
/// payment hash not the invoice's), an invoice for another network than its own, an
/// expired invoice, and one requiring a feature it does not know. After paying it
/// checks that the preimage hashes to the payment hash, so it never sends a wrong
/// proof. The amount and currency caps are the spending policy's.
#[derive(Clone)]
pub struct LightningPayer {
    wallet: Arc<dyn LightningWallet>,
    network: Network,
    clock: Clock,
    source: Option<String>,
}

impl core::fmt::Debug for LightningPayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LightningPayer")
            .field("network", &self.network)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl LightningPayer {
    /// A payer paying invoices of `network` with `wallet`, reading the system clock.
    pub fn new(wallet: Arc<dyn LightningWallet>, network: Network) -> LightningPayer {
        LightningPayer {
            wallet,
            network,
            clock: system_clock(),
            source: None,
        }
    }

    /// Reads the time from `clock` (for the invoice's expiry).
    pub fn with_clock(mut self, clock: Clock) -> LightningPayer {
        self.clock = clock;
        self
    }

    /// Names the payer in the credential's `source`.
    pub fn with_source(mut self, source: impl Into<String>) -> LightningPayer {
        self.source = Some(source.into());
        self
    }

    /// The invoice this payer would pay for `request`, or why it would not.
    pub fn check(&self, request: &JsonObject) -> Result<Invoice, PayError> {
        let invoice =
            read_terms(request).map_err(|e| PayError::Terms(format!("lightning terms: {e}")))?;
        check_payable(&invoice, self.network, (self.clock)())?;
        Ok(invoice)
    }
}

impl PayMethod for LightningPayer {
    fn name(&self) -> &str {
        NAME
    }

    fn pay<'a>(&'a self, choice: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(async move {
            let invoice = self.check(&choice.request)?;
            let preimage = self
                .wallet
                .pay(&invoice)
                .await
                .map_err(NodeError::into_pay_error)?;
            if &preimage.payment_hash() != invoice.payment_hash() {
                return Err(PayError::Backend(
                    "the wallet returned a preimage that is not the invoice's".into(),
                ));
            }
            let mut payload = JsonObject::new();
            payload.insert("preimage".into(), preimage.to_hex().into());
            Ok(Payment {
                payload,
                source: self.source.clone(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::TestNode;
    use super::super::tests_support::block_on;
    use super::*;
    use mpp_core::challenge::Challenge;
    use mpp_core::problem::ProblemType;
    use mpp_core::time::ManualClock;
    use mpp_core::value::Base64Json;

    const NOW: i64 = 1_800_000_000;

    struct Fixture {
        clock: ManualClock,
        node: Arc<TestNode>,
        charge: LightningCharge,
    }

    fn fixture() -> Fixture {
        let clock = ManualClock::new(UnixTime::from_secs(NOW));
        let node = Arc::new(TestNode::new().with_clock(clock.clock()));
        let charge = LightningCharge::new(node.clone()).with_clock(clock.clock());
        Fixture {
            clock,
            node,
            charge,
        }
    }

    fn challenge(request: &JsonObject) -> Challenge<'static> {
        let header = format!(
            r#"Payment id="x", realm="r", method="lightning", intent="charge", request="{}""#,
            Base64Json::encode(request)
        );
        Challenge::parse(header.as_bytes()).unwrap().into_owned()
    }

    /// What the client engine hands the payer for `request`: a charge costs its
    /// amount.
    fn choice(request: &JsonObject) -> Choice {
        let amount = request["amount"].as_str().unwrap().parse().unwrap();
        Choice {
            challenge: challenge(request),
            request: request.clone(),
            amount,
            currency: "sat".into(),
            method: 0,
            origin: mpp_core::client::Origin::new("https", "r", 443),
            cost: amount,
        }
    }

    fn payload(preimage: impl Into<Value>) -> JsonObject {
        let mut payload = JsonObject::new();
        payload.insert("preimage".into(), preimage.into());
        payload
    }

    fn verify(
        charge: &LightningCharge,
        request: &JsonObject,
        payload: &JsonObject,
    ) -> Result<Settlement, LightningChargeError> {
        let challenge = challenge(request);
        block_on(charge.verify(Charge {
            challenge: &challenge,
            request,
            payload,
            source: None,
        }))
    }

    fn issue(f: &Fixture, sat: u64) -> IssuedCharge {
        block_on(f.charge.issue(sat, Some("weather"), 600)).unwrap()
    }

    fn pay(f: &Fixture, issued: &IssuedCharge) -> PaymentPreimage {
        block_on(f.node.pay(&issued.invoice)).unwrap()
    }

    #[test]
    fn issued_terms() {
        // req: charge.request.shared-fields charge.request.no-expiry
        let f = fixture();
        let issued = issue(&f, 1000);
        let r = &issued.request;
        assert_eq!(r["amount"], "1000");
        assert_eq!(r["currency"], "sat");
        assert_eq!(r["description"], "weather");
        assert_eq!(r["methodDetails"]["invoice"], issued.invoice.as_str());
        assert_eq!(
            r["methodDetails"]["paymentHash"],
            issued.invoice.payment_hash().to_hex().as_str()
        );
        assert_eq!(r["methodDetails"]["network"], "regtest");
        assert!(
            r.get("expires").is_none(),
            "the expiry travels in `expires`"
        );
        assert_eq!(issued.not_after, UnixTime::from_secs(NOW + 600));
        assert_eq!(issued.ttl_secs(f.clock.now()), 600);
        assert_eq!(issued.invoice.amount_sat(), Some(1000));
        assert!(block_on(f.charge.issue(0, None, 600)).is_err());
        assert!(block_on(f.charge.issue(u64::MAX, None, 600)).is_err());
    }

    #[test]
    fn verifies_the_preimage_and_names_the_payment_hash() {
        // req: charge.verify.proof
        let f = fixture();
        let issued = issue(&f, 1000);
        let preimage = pay(&f, &issued);
        let settlement = verify(&f.charge, &issued.request, &payload(preimage.to_hex())).unwrap();
        assert_eq!(settlement.reference, issued.invoice.payment_hash().to_hex());
        assert_ne!(settlement.reference, preimage.to_hex());
        assert!(settlement.extra.is_empty());
    }

    #[test]
    fn refuses_a_wrong_preimage() {
        // req: charge.verify.proof lightning-charge.verify.preimage
        let f = fixture();
        let issued = issue(&f, 1000);
        let wrong = PaymentPreimage::from_bytes([7; 32]);
        let e = verify(&f.charge, &issued.request, &payload(wrong.to_hex())).unwrap_err();
        assert_eq!(e, LightningChargeError::InvalidPreimage);
        assert_eq!(
            e.problem_type_uri().unwrap(),
            "https://paymentauth.org/problems/lightning/invalid-preimage"
        );
        let method = MethodError::from(e);
        assert_eq!(method.problem_type(), ProblemType::VerificationFailed);
        assert_eq!(
            method.specific().unwrap().type_uri,
            "https://paymentauth.org/problems/lightning/invalid-preimage",
            "answered with the draft's type"
        );

        // The preimage of another invoice of the same node.
        let other = issue(&f, 1000);
        let other_preimage = pay(&f, &other);
        assert_eq!(
            verify(
                &f.charge,
                &issued.request,
                &payload(other_preimage.to_hex())
            ),
            Err(LightningChargeError::InvalidPreimage)
        );
    }

    #[test]
    fn refuses_terms_whose_amount_is_not_the_invoices() {
        // req: charge.verify.amount lightning-charge.request.matches-invoice
        let f = fixture();
        let issued = issue(&f, 1000);
        let preimage = pay(&f, &issued);
        let mut cheaper = issued.request.clone();
        cheaper.insert("amount".into(), "999".into());
        let e = verify(&f.charge, &cheaper, &payload(preimage.to_hex())).unwrap_err();
        assert!(matches!(e, LightningChargeError::InvalidTerms(_)), "{e}");
        assert!(e.to_string().contains("`amount` says 999 sat"), "{e}");
        for amount in [Value::from("0"), Value::from("01000"), Value::from(1000)] {
            let mut bad = issued.request.clone();
            bad.insert("amount".into(), amount);
            assert!(matches!(
                verify(&f.charge, &bad, &payload(preimage.to_hex())),
                Err(LightningChargeError::InvalidTerms(_))
            ));
        }
        let mut dollars = issued.request.clone();
        dollars.insert("currency".into(), "usd".into());
        assert!(matches!(
            verify(&f.charge, &dollars, &payload(preimage.to_hex())),
            Err(LightningChargeError::InvalidTerms(_))
        ));
    }

    #[test]
    fn refuses_terms_whose_network_or_hash_is_not_the_invoices() {
        // req: charge.verify.recipient
        let f = fixture();
        let issued = issue(&f, 1000);
        let preimage = pay(&f, &issued);
        let with_details = |key: &str, value: Option<Value>| {
            let mut request = issued.request.clone();
            let details = request["methodDetails"].as_object_mut().unwrap();
            match value {
                Some(v) => details.insert(key.into(), v),
                None => details.remove(key),
            };
            request
        };
        for request in [
            with_details("network", Some("mainnet".into())),
            with_details("network", Some("signet".into())),
            with_details("network", Some("testnet".into())),
            with_details("network", Some("Regtest".into())),
            // Absent means mainnet.
            with_details("network", None),
            with_details("paymentHash", Some("00".repeat(32).into())),
            with_details(
                "paymentHash",
                Some(issued.invoice.payment_hash().to_hex().to_uppercase().into()),
            ),
            with_details("invoice", Some("lnbcrt1".into())),
        ] {
            let e = verify(&f.charge, &request, &payload(preimage.to_hex())).unwrap_err();
            assert!(matches!(e, LightningChargeError::InvalidTerms(_)), "{e}");
        }
        // paymentHash is optional.
        let bare = with_details("paymentHash", None);
        assert!(verify(&f.charge, &bare, &payload(preimage.to_hex())).is_ok());

        // An invoice of a node on another network, or of another node: its preimage is
        // known to whoever made it, so it proves nothing to this server.
        let signet = TestNode::with_key(super::super::TEST_NODE_KEY, Network::Signet).unwrap();
        let stranger = TestNode::with_key([0x55; 32], Network::Regtest).unwrap();
        for node in [signet, stranger] {
            let invoice = block_on(node.create_invoice(&InvoiceRequest {
                amount_msat: Some(1_000_000),
                description: "weather".into(),
                expiry_secs: 600,
            }))
            .unwrap();
            let preimage = block_on(LightningWallet::pay(&node, &invoice)).unwrap();
            let request = charge_request(&invoice, None).unwrap();
            let e = verify(&f.charge, &request, &payload(preimage.to_hex())).unwrap_err();
            assert!(matches!(e, LightningChargeError::InvalidTerms(_)), "{e}");
        }
    }

    #[test]
    fn refuses_an_expired_invoice() {
        // req: charge.verify.expiry lightning-charge.expiry.refuse-expired
        let f = fixture();
        let issued = issue(&f, 1000);
        let preimage = pay(&f, &issued);
        f.clock.advance(599);
        let early = LightningCharge::new(f.node.clone()).with_clock(f.clock.clock());
        assert!(verify(&early, &issued.request, &payload(preimage.to_hex())).is_ok());
        f.clock.advance(1);
        let e = verify(&f.charge, &issued.request, &payload(preimage.to_hex())).unwrap_err();
        assert_eq!(e, LightningChargeError::ExpiredInvoice);
        assert_eq!(
            e.problem_type_uri().unwrap(),
            "https://paymentauth.org/problems/lightning/expired-invoice"
        );
    }

    #[test]
    fn refuses_malformed_payloads_without_echoing_them() {
        // req: core.security.credentials.not-logged lightning-charge.verify.preimage lightning-charge.preimage.confidential
        let f = fixture();
        let issued = issue(&f, 1000);
        let preimage = pay(&f, &issued).to_hex();
        let upper = preimage.to_uppercase();
        for bad in [
            Value::from(upper.as_str()),
            Value::from(&preimage[..63]),
            Value::from(std::format!("{preimage}0")),
            Value::from(std::format!("0x{}", &preimage[2..])),
            Value::from(std::format!(" {}", &preimage[1..])),
            Value::from(std::format!("{}g", &preimage[..63])),
            Value::from(7),
            Value::Null,
        ] {
            let e = verify(&f.charge, &issued.request, &payload(bad.clone())).unwrap_err();
            assert!(
                matches!(e, LightningChargeError::MalformedPayload(_)),
                "{bad}"
            );
            let method = MethodError::from(e);
            assert_eq!(method.problem_type(), ProblemType::InvalidPayload);
            assert_eq!(method.specific().unwrap().title, "Malformed Credential");
            assert!(!method.message().to_lowercase().contains(&preimage[4..20]));
            assert!(
                f.charge
                    .check_payload(&issued.request, &payload(bad))
                    .is_err()
            );
        }
        let e = verify(&f.charge, &issued.request, &JsonObject::new()).unwrap_err();
        assert_eq!(
            e.problem_type_uri().unwrap(),
            "https://paymentauth.org/problems/lightning/malformed-credential"
        );
        assert!(
            f.charge
                .check_payload(&issued.request, &payload(preimage.as_str()))
                .is_ok()
        );
    }

    #[test]
    fn a_preimage_pays_for_one_challenge_only() {
        // req: core.replay.single-use-proof lightning-charge.binding.one-challenge
        let f = fixture();
        let issued = issue(&f, 1000);
        let preimage = pay(&f, &issued);
        assert!(verify(&f.charge, &issued.request, &payload(preimage.to_hex())).is_ok());
        let e = verify(&f.charge, &issued.request, &payload(preimage.to_hex())).unwrap_err();
        assert_eq!(e, LightningChargeError::AlreadyUsed);
        assert_eq!(
            e.problem_type_uri().unwrap(),
            "https://paymentauth.org/problems/lightning/unknown-challenge"
        );
    }

    /// A node that forwards to a test node but reports its invoices unpaid.
    struct Unpaid(Arc<TestNode>);

    impl LightningNode for Unpaid {
        fn node_id(&self) -> super::super::NodeId {
            self.0.node_id()
        }
        fn network(&self) -> Network {
            self.0.network()
        }
        fn create_invoice<'a>(
            &'a self,
            request: &'a InvoiceRequest,
        ) -> BoxFuture<'a, Result<Invoice, NodeError>> {
            self.0.create_invoice(request)
        }
        fn lookup_invoice<'a>(
            &'a self,
            payment_hash: &'a PaymentHash,
        ) -> BoxFuture<'a, Result<Option<super::super::InvoiceStatus>, NodeError>> {
            Box::pin(async move {
                let status = self.0.lookup_invoice(payment_hash).await?;
                Ok(status.map(|mut s| {
                    s.state = super::super::InvoiceState::Open;
                    s.settled_at = None;
                    s.amount_received_msat = 0;
                    s
                }))
            })
        }
        fn pay_invoice<'a>(
            &'a self,
            invoice: &'a Invoice,
            options: super::super::PayOptions,
        ) -> BoxFuture<'a, Result<super::super::PaymentOutcome, NodeError>> {
            self.0.pay_invoice(invoice, options)
        }
    }

    #[test]
    fn confirm_with_node_requires_a_settled_invoice() {
        let f = fixture();
        let confirming = LightningCharge::new(f.node.clone())
            .with_clock(f.clock.clock())
            .confirm_with_node(true);
        let issued = issue(&f, 1000);
        let paid = pay(&f, &issued);
        assert!(verify(&confirming, &issued.request, &payload(paid.to_hex())).is_ok());

        // The node says it was not paid (a preimage that leaked some other way).
        let unpaid = LightningCharge::new(Arc::new(Unpaid(f.node.clone())))
            .with_clock(f.clock.clock())
            .confirm_with_node(true);
        let issued = issue(&f, 1000);
        let paid = pay(&f, &issued);
        assert_eq!(
            verify(&unpaid, &issued.request, &payload(paid.to_hex())),
            Err(LightningChargeError::NotSettled)
        );

        // Same key, another ledger: the node never issued the invoice.
        let amnesiac = LightningCharge::new(Arc::new(TestNode::new()))
            .with_clock(f.clock.clock())
            .confirm_with_node(true);
        let issued = issue(&f, 1000);
        let paid = pay(&f, &issued);
        assert!(matches!(
            verify(&amnesiac, &issued.request, &payload(paid.to_hex())),
            Err(LightningChargeError::InvalidTerms(_))
        ));
    }

    #[test]
    fn the_payer_checks_the_invoice_before_paying() {
        // req: core.security.client.amount core.security.client.currency charge.payload.proof lightning-charge.client.check-invoice
        let f = fixture();
        let wallet = Arc::new(f.node.peer([0x44; 32]).unwrap());
        let payer = LightningPayer::new(wallet, Network::Regtest)
            .with_clock(f.clock.clock())
            .with_source("did:example:payer");
        let issued = issue(&f, 1000);

        let mut inflated = issued.request.clone();
        inflated.insert("amount".into(), "10".into());
        let mut dollars = issued.request.clone();
        dollars.insert("currency".into(), "usd".into());
        for bad in [&inflated, &dollars] {
            assert!(block_on(payer.pay(&choice(bad))).is_err());
        }
        assert!(
            !f.node.is_paid(issued.invoice.payment_hash()),
            "nothing paid"
        );
        let mainnet_payer = LightningPayer::new(Arc::new(TestNode::new()), Network::Mainnet)
            .with_clock(f.clock.clock());
        assert!(block_on(mainnet_payer.pay(&choice(&issued.request))).is_err());

        let paid = block_on(payer.pay(&choice(&issued.request))).unwrap();
        let preimage =
            PaymentPreimage::from_hex(paid.payload["preimage"].as_str().unwrap()).unwrap();
        assert_eq!(&preimage.payment_hash(), issued.invoice.payment_hash());
        assert_eq!(paid.source.as_deref(), Some("did:example:payer"));
        assert!(f.node.is_paid(issued.invoice.payment_hash()));
        assert!(!std::format!("{payer:?}").contains(&preimage.to_hex()));

        // Expired: refused before paying.
        let late = issue(&f, 1000);
        f.clock.advance(600);
        assert!(block_on(payer.pay(&choice(&late.request))).is_err());
        assert!(!f.node.is_paid(late.invoice.payment_hash()));
    }

    #[test]
    fn charge_request_refuses_unusable_invoices() {
        // req: lightning-charge.request.matches-invoice
        let f = fixture();
        let amountless = block_on(f.node.create_invoice(&InvoiceRequest {
            amount_msat: None,
            description: String::new(),
            expiry_secs: 60,
        }))
        .unwrap();
        assert!(charge_request(&amountless, None).is_err());
        let fractional = block_on(f.node.create_invoice(&InvoiceRequest {
            amount_msat: Some(1_500),
            description: String::new(),
            expiry_secs: 60,
        }))
        .unwrap();
        assert!(charge_request(&fractional, None).is_err());
        let testnet = TestNode::with_key(super::super::TEST_NODE_KEY, Network::Testnet).unwrap();
        let on_testnet = block_on(testnet.create_invoice(&InvoiceRequest {
            amount_msat: Some(1_000),
            description: "x".into(),
            expiry_secs: 60,
        }))
        .unwrap();
        assert!(charge_request(&on_testnet, Some("x")).is_err());
        let issued = issue(&f, 5);
        assert!(charge_request(&issued.invoice, Some("other")).is_err());
        assert_eq!(
            charge_request(&issued.invoice, Some("weather")).unwrap(),
            issued.request
        );
    }
}
