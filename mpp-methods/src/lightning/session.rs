//! The session intent of the lightning method: a prepaid deposit invoice, its preimage
//! as the session's bearer secret, and a refund of what is left to a return invoice.

use std::boxed::Box;
use std::collections::HashMap;
use std::format;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::vec::Vec;

use mpp_core::challenge::Challenge;
use mpp_core::client::{Choice, Origin, PayError, PayMethod, Payment};
use mpp_core::intent::session::Funding;
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{
    BoxFuture, Charge, IssuedTerms, MethodError, Opened, Refund, SessionAction, SessionFailure,
    SessionMethod, Terms,
};
use mpp_core::server::SpecificProblem;
use mpp_core::time::UnixTime;
use mpp_core::value::Amount;

use super::charge::{check_issued_by, check_payable, read_hex, read_price};
use super::{
    Clock, DEFAULT_INVOICE_EXPIRY_SECS, Invoice, InvoiceRequest, LightningNode, NAME, Network,
    NodeError, PayOptions, PaymentHash, PaymentPreimage, TermsError, system_clock,
};

/// How many units a deposit pays for when neither the route nor
/// [`LightningSession::deposit`] says: the draft's recommended multiplier.
pub const DEFAULT_DEPOSIT_UNITS: u64 = 20;

/// The largest deposit a [`LightningSessionPayer`] pays unless
/// [`LightningSessionPayer::max_deposit`] says otherwise.
pub const DEFAULT_MAX_DEPOSIT_SATS: u64 = 100_000;

/// How long a payer's return invoice stays payable unless
/// [`LightningSessionPayer::return_invoice_expiry`] says otherwise: 30 days, the
/// draft's advice.
pub const DEFAULT_RETURN_INVOICE_EXPIRY_SECS: u64 = 30 * 24 * 3600;

/// The members of a route's template every echo must keep (the price and what is
/// shown with it); the invoice, its hash and the deposit vary per challenge.
const PINNED: &[&str] = &[
    "amount",
    "currency",
    "description",
    "unitType",
    "idleTimeout",
];

/// A session payload, read: the action and its members.
///
/// Preimages are secrets (their `Debug` is redacted); session ids are public payment
/// hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionPayload {
    /// `{"action": "open", "preimage", "returnInvoice"}`: the deposit was paid.
    Open {
        /// The deposit invoice's preimage; from now on the session's bearer secret.
        preimage: PaymentPreimage,
        /// Where the refund goes at close: a BOLT11 invoice without an amount.
        return_invoice: String,
    },
    /// `{"action": "bearer", "sessionId", "preimage"}`: serve from the session.
    Bearer {
        /// The session id.
        session: PaymentHash,
        /// The deposit's preimage.
        preimage: PaymentPreimage,
    },
    /// `{"action": "topUp", "sessionId", "topUpPreimage"}`: a fresh deposit invoice
    /// was paid for the session.
    TopUp {
        /// The session id.
        session: PaymentHash,
        /// The preimage of the challenge's invoice (not the session's).
        top_up_preimage: PaymentPreimage,
    },
    /// `{"action": "close", "sessionId", "preimage"}`: close and refund.
    Close {
        /// The session id.
        session: PaymentHash,
        /// The deposit's preimage.
        preimage: PaymentPreimage,
    },
}

impl SessionPayload {
    /// Reads a payload: `action` one of `open`, `bearer`, `topUp`, `close` (exactly),
    /// session ids and preimages 64 lowercase hex digits, `returnInvoice` a string.
    /// Unknown members are ignored, as the draft asks. Only the shape is checked here
    /// (the return invoice is read by [`LightningSession`]).
    pub fn parse(payload: &JsonObject) -> Result<SessionPayload, LightningSessionError> {
        let malformed = LightningSessionError::MalformedPayload;
        let preimage = |name| read_hex(payload, name, PaymentPreimage::from_hex).map_err(malformed);
        let session = || read_hex(payload, "sessionId", PaymentHash::from_hex).map_err(malformed);
        let action = match payload.get("action") {
            None => return Err(malformed("the payload has no `action`".into())),
            Some(Value::String(action)) => action.as_str(),
            Some(_) => return Err(malformed("`action` must be a string".into())),
        };
        Ok(match action {
            "open" => {
                let preimage = preimage("preimage")?;
                let return_invoice = match payload.get("returnInvoice") {
                    Some(Value::String(text)) => text.clone(),
                    Some(_) => return Err(malformed("`returnInvoice` must be a string".into())),
                    None => return Err(malformed("the payload has no `returnInvoice`".into())),
                };
                SessionPayload::Open {
                    preimage,
                    return_invoice,
                }
            }
            "bearer" => SessionPayload::Bearer {
                session: session()?,
                preimage: preimage("preimage")?,
            },
            "topUp" => SessionPayload::TopUp {
                session: session()?,
                top_up_preimage: preimage("topUpPreimage")?,
            },
            "close" => SessionPayload::Close {
                session: session()?,
                preimage: preimage("preimage")?,
            },
            _ => {
                return Err(malformed(
                    "`action` must be open, bearer, topUp or close".into(),
                ));
            }
        })
    }

    /// The payload as JSON (it contains the secret preimage).
    pub fn to_json(&self) -> JsonObject {
        let mut payload = JsonObject::new();
        payload.insert("action".into(), self.action().into());
        match self {
            SessionPayload::Open {
                preimage,
                return_invoice,
            } => {
                payload.insert("preimage".into(), preimage.to_hex().into());
                payload.insert("returnInvoice".into(), return_invoice.as_str().into());
            }
            SessionPayload::Bearer { session, preimage }
            | SessionPayload::Close { session, preimage } => {
                payload.insert("sessionId".into(), session.to_hex().into());
                payload.insert("preimage".into(), preimage.to_hex().into());
            }
            SessionPayload::TopUp {
                session,
                top_up_preimage,
            } => {
                payload.insert("sessionId".into(), session.to_hex().into());
                payload.insert("topUpPreimage".into(), top_up_preimage.to_hex().into());
            }
        }
        payload
    }

    /// `open`, `bearer`, `topUp` or `close`.
    pub fn action(&self) -> &'static str {
        match self {
            SessionPayload::Open { .. } => "open",
            SessionPayload::Bearer { .. } => "bearer",
            SessionPayload::TopUp { .. } => "topUp",
            SessionPayload::Close { .. } => "close",
        }
    }

    /// The session it names (an open names none yet).
    pub fn session(&self) -> Option<&PaymentHash> {
        match self {
            SessionPayload::Open { .. } => None,
            SessionPayload::Bearer { session, .. }
            | SessionPayload::TopUp { session, .. }
            | SessionPayload::Close { session, .. } => Some(session),
        }
    }
}

/// Why a lightning session action was refused or failed, with the draft's problem
/// type where it defines one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LightningSessionError {
    /// The payload does not match its action's schema, or is not the action expected.
    MalformedPayload(String),
    /// The open payload's `returnInvoice` is not a BOLT11 invoice, is for another
    /// network, asks an amount, or has expired.
    InvalidReturnInvoice(String),
    /// The terms are not a lightning session deposit of this server (or, when
    /// issuing, the route's template is unusable).
    InvalidTerms(TermsError),
    /// `sha256(preimage)` is not the challenge's payment hash.
    InvalidPreimage,
    /// The deposit invoice has expired.
    ExpiredInvoice,
    /// The node could not answer.
    Node(NodeError),
}

impl LightningSessionError {
    /// The draft's problem type URI for this failure, where it defines one
    /// (`https://paymentauth.org/problems/lightning/…`).
    pub fn problem_type_uri(&self) -> Option<String> {
        self.problem().map(|p| p.type_uri)
    }

    /// The draft's problem type for this failure, where it defines one.
    pub fn problem(&self) -> Option<SpecificProblem> {
        let (slug, title) = match self {
            LightningSessionError::MalformedPayload(_) => {
                ("malformed-credential", "Malformed Credential")
            }
            LightningSessionError::InvalidReturnInvoice(_) => {
                ("invalid-return-invoice", "Invalid Return Invoice")
            }
            LightningSessionError::InvalidPreimage => {
                ("invalid-preimage", "Invalid PaymentPreimage")
            }
            // A challenge never outlives its invoice, so the challenge has expired.
            LightningSessionError::ExpiredInvoice => ("challenge-expired", "Challenge Expired"),
            _ => return None,
        };
        Some(super::problem(slug, title))
    }
}

impl core::fmt::Display for LightningSessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LightningSessionError::MalformedPayload(m) => f.write_str(m),
            LightningSessionError::InvalidReturnInvoice(m) => write!(f, "`returnInvoice`: {m}"),
            LightningSessionError::InvalidTerms(e) => {
                write!(f, "the lightning terms do not hold: {e}")
            }
            LightningSessionError::InvalidPreimage => {
                f.write_str("sha256(preimage) is not the invoice's payment hash")
            }
            LightningSessionError::ExpiredInvoice => f.write_str("the deposit invoice has expired"),
            LightningSessionError::Node(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LightningSessionError {}

impl From<LightningSessionError> for MethodError {
    /// The nearest core problem type (`invalid-payload` for the payload's faults,
    /// `internal-payment-error` when the node failed, `verification-failed`
    /// otherwise), refined by the draft's `lightning/*` type where it has one.
    fn from(e: LightningSessionError) -> MethodError {
        let core = match e {
            LightningSessionError::MalformedPayload(_)
            | LightningSessionError::InvalidReturnInvoice(_) => {
                MethodError::InvalidPayload(e.to_string())
            }
            LightningSessionError::Node(_) => MethodError::Internal(e.to_string()),
            _ => MethodError::VerificationFailed(e.to_string()),
        };
        match e.problem() {
            Some(problem) => core.refine(problem),
            None => core,
        }
    }
}

/// The deposit a challenge's terms ask for, read and checked against its invoice.
struct DepositTerms {
    invoice: Invoice,
    deposit_sat: u64,
    idle_timeout_secs: Option<u64>,
}

/// A positive base-10 integer string (no sign, no leading zero) that fits `u64`.
fn read_count(text: &str) -> Option<u64> {
    u64::try_from(Amount::new(text).ok()?.to_u128()?).ok()
}

/// Reads `request` as session terms: the price ([`read_price`]), `depositInvoice` a
/// BOLT11 invoice asking a whole number of satoshis, at least one unit;
/// `paymentHash` its payment hash; `depositAmount`, when present, its amount;
/// `idleTimeout`, when present, a number of seconds.
fn read_deposit_terms(request: &JsonObject) -> Result<DepositTerms, TermsError> {
    let unit_sat = read_price(request)?;
    let text = request
        .get("depositInvoice")
        .and_then(Value::as_str)
        .ok_or_else(|| TermsError::new("`depositInvoice` must be a string"))?;
    let invoice =
        Invoice::decode(text).map_err(|e| TermsError::new(format!("`depositInvoice`: {e}")))?;
    match request.get("paymentHash") {
        Some(Value::String(hex)) => match PaymentHash::from_hex(hex) {
            Some(hash) if &hash == invoice.payment_hash() => {}
            Some(_) => {
                return Err(TermsError::new(
                    "`paymentHash` is not the deposit invoice's payment hash",
                ));
            }
            None => {
                return Err(TermsError::new(
                    "`paymentHash` must be 64 lowercase hex digits",
                ));
            }
        },
        _ => return Err(TermsError::new("`paymentHash` must be a string")),
    }
    let deposit_sat = invoice.amount_sat().filter(|&a| a > 0).ok_or_else(|| {
        TermsError::new("the deposit invoice must ask a positive whole number of satoshis")
    })?;
    match request.get("depositAmount") {
        None => {}
        Some(Value::String(a)) if read_count(a) == Some(deposit_sat) => {}
        Some(_) => {
            return Err(TermsError::new(format!(
                "`depositAmount` must be the deposit invoice's amount, \"{deposit_sat}\""
            )));
        }
    }
    if deposit_sat < unit_sat {
        return Err(TermsError::new(format!(
            "the deposit ({deposit_sat} sat) does not pay for one unit ({unit_sat} sat)"
        )));
    }
    let idle_timeout_secs = match request.get("idleTimeout") {
        None => None,
        Some(Value::String(secs)) => Some(read_count(secs).ok_or_else(|| {
            TermsError::new("`idleTimeout` must be a positive number of seconds")
        })?),
        Some(_) => return Err(TermsError::new("`idleTimeout` must be a string")),
    };
    Ok(DepositTerms {
        invoice,
        deposit_sat,
        idle_timeout_secs,
    })
}

/// A return invoice the server can refund to: a valid BOLT11 invoice on `network`,
/// without an amount (or with `0`), not expired at `now`.
fn check_return_invoice(
    text: &str,
    network: Network,
    now: UnixTime,
) -> Result<Invoice, LightningSessionError> {
    let invalid = LightningSessionError::InvalidReturnInvoice;
    let invoice = Invoice::decode(text).map_err(|e| invalid(e.to_string()))?;
    if invoice.network() != network {
        return Err(invalid(format!(
            "the invoice is payable on {}, the deposit on {network}",
            invoice.network()
        )));
    }
    if invoice.amount_msat().is_some_and(|a| a != 0) {
        return Err(invalid(
            "the invoice asks an amount; the refund sets it".into(),
        ));
    }
    if invoice.is_expired_at(now) {
        return Err(invalid("the invoice has expired".into()));
    }
    Ok(invoice)
}

/// A fresh deposit invoice from the server's node and the terms offering it.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The `request` terms: the route's template with `depositInvoice`,
    /// `paymentHash` and `depositAmount` added.
    pub request: JsonObject,
    /// The deposit invoice.
    pub invoice: Invoice,
    /// The latest `expires` a challenge for these terms may carry: the invoice's
    /// expiry.
    pub not_after: UnixTime,
}

/// The server half of `lightning/session`: issues a deposit invoice per challenge,
/// verifies deposits and top-ups paid to its node, proves ownership by the deposit's
/// preimage, and refunds to the return invoice. See the [module docs](super).
pub struct LightningSession {
    node: Arc<dyn LightningNode>,
    clock: Clock,
    deposit_sat: Option<u64>,
    invoice_expiry_secs: u64,
    refund_max_fee_msat: Option<u64>,
}

impl core::fmt::Debug for LightningSession {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LightningSession")
            .field("node_id", &self.node.node_id())
            .field("network", &self.node.network())
            .field("deposit_sat", &self.deposit_sat)
            .field("invoice_expiry_secs", &self.invoice_expiry_secs)
            .finish_non_exhaustive()
    }
}

impl LightningSession {
    /// Sessions funded by invoices of `node`, reading the system clock; deposits of
    /// [`DEFAULT_DEPOSIT_UNITS`] units.
    pub fn new(node: Arc<dyn LightningNode>) -> LightningSession {
        LightningSession {
            node,
            clock: system_clock(),
            deposit_sat: None,
            invoice_expiry_secs: DEFAULT_INVOICE_EXPIRY_SECS,
            refund_max_fee_msat: None,
        }
    }

    /// Every deposit (and top-up) asks `sats` satoshis, unless the route's template
    /// has its own `depositAmount`. It must pay for at least one unit.
    pub fn deposit(mut self, sats: u64) -> LightningSession {
        self.deposit_sat = Some(sats);
        self
    }

    /// How long each deposit invoice stays payable (default
    /// [`DEFAULT_INVOICE_EXPIRY_SECS`]); a challenge never outlives its invoice.
    pub fn invoice_expiry(mut self, secs: u64) -> LightningSession {
        self.invoice_expiry_secs = secs;
        self
    }

    /// The most the node may spend on routing fees for a refund; default: the node's.
    pub fn refund_max_fee(mut self, msat: u64) -> LightningSession {
        self.refund_max_fee_msat = Some(msat);
        self
    }

    /// Reads the time from `clock` (invoice expiry).
    pub fn with_clock(mut self, clock: Clock) -> LightningSession {
        self.clock = clock;
        self
    }

    /// The node.
    pub fn node(&self) -> &Arc<dyn LightningNode> {
        &self.node
    }

    /// The terms a route configures to sell units at `unit_sats` satoshis each:
    /// `{amount, currency: "sat", description?}`. A route may add `unitType`,
    /// `idleTimeout` (both pinned, like the price) and `depositAmount` (this route's
    /// deposit). Each challenge then carries a fresh deposit invoice.
    pub fn template(unit_sats: u64, description: Option<&str>) -> JsonObject {
        let mut request = JsonObject::new();
        request.insert("amount".into(), unit_sats.to_string().into());
        request.insert("currency".into(), super::CURRENCY.into());
        if let Some(text) = description {
            request.insert("description".into(), text.into());
        }
        request
    }

    /// The deposit for `template`: its `depositAmount`, else the configured
    /// deposit, else [`DEFAULT_DEPOSIT_UNITS`] units.
    fn deposit_for(&self, template: &JsonObject) -> Result<u64, TermsError> {
        let unit_sat = read_price(template)?;
        let deposit = match template.get("depositAmount") {
            Some(Value::String(a)) => read_count(a),
            Some(_) => None,
            None => self
                .deposit_sat
                .or_else(|| unit_sat.checked_mul(DEFAULT_DEPOSIT_UNITS)),
        };
        deposit
            .filter(|&d| d >= unit_sat && d.checked_mul(1000).is_some())
            .ok_or_else(|| {
                TermsError::new("the deposit must be a number of satoshis paying for a unit")
            })
    }

    /// Creates a fresh deposit invoice through the node and the terms offering it,
    /// from a route's `template` ([`LightningSession::template`]).
    pub fn issue<'a>(
        &'a self,
        template: &'a JsonObject,
    ) -> BoxFuture<'a, Result<IssuedSession, LightningSessionError>> {
        Box::pin(async move {
            let deposit_sat = self
                .deposit_for(template)
                .map_err(LightningSessionError::InvalidTerms)?;
            let description = template.get("description").and_then(Value::as_str);
            let request = InvoiceRequest {
                amount_msat: Some(deposit_sat * 1000),
                description: description.unwrap_or_default().into(),
                expiry_secs: self.invoice_expiry_secs,
            };
            let invoice = self
                .node
                .create_invoice(&request)
                .await
                .map_err(LightningSessionError::Node)?;
            check_issued_by(self.node.as_ref(), &invoice).map_err(|e| {
                LightningSessionError::Node(NodeError::InvalidRequest(format!(
                    "the node's invoice: {e}"
                )))
            })?;
            let mut request = template.clone();
            request.insert("depositInvoice".into(), invoice.as_str().into());
            request.insert("paymentHash".into(), invoice.payment_hash().to_hex().into());
            request.insert("depositAmount".into(), deposit_sat.to_string().into());
            // What a payer will read, read the same way here.
            read_deposit_terms(&request).map_err(LightningSessionError::InvalidTerms)?;
            Ok(IssuedSession {
                request,
                not_after: invoice.expires_at(),
                invoice,
            })
        })
    }

    /// Verifies that `preimage` pays the deposit `request` asks for: terms that
    /// hold, an invoice of this node, not expired, and its payment hash.
    fn verify_deposit(
        &self,
        request: &JsonObject,
        preimage: &PaymentPreimage,
    ) -> Result<DepositTerms, LightningSessionError> {
        let terms = read_deposit_terms(request).map_err(LightningSessionError::InvalidTerms)?;
        check_issued_by(self.node.as_ref(), &terms.invoice)
            .map_err(LightningSessionError::InvalidTerms)?;
        if terms.invoice.is_expired_at((self.clock)()) {
            return Err(LightningSessionError::ExpiredInvoice);
        }
        // Both sides are public hashes.
        if &preimage.payment_hash() != terms.invoice.payment_hash() {
            return Err(LightningSessionError::InvalidPreimage);
        }
        Ok(terms)
    }

    /// Verifies an open credential and says what session it opens: the id is the
    /// deposit invoice's payment hash, the deposit its amount, the refund goes to the
    /// return invoice. [`SessionMethod::open`] is this, mapped onto the core types.
    pub fn verify_open<'a>(
        &'a self,
        charge: Charge<'a>,
    ) -> BoxFuture<'a, Result<Opened, LightningSessionError>> {
        Box::pin(async move {
            let SessionPayload::Open {
                preimage,
                return_invoice,
            } = SessionPayload::parse(charge.payload)?
            else {
                return Err(LightningSessionError::MalformedPayload(
                    "the action is not open".into(),
                ));
            };
            check_return_invoice(&return_invoice, self.node.network(), (self.clock)())?;
            let terms = self.verify_deposit(charge.request, &preimage)?;
            Ok(Opened {
                session: terms.invoice.payment_hash().to_hex(),
                funding: Funding::Prepaid,
                deposit: u128::from(terms.deposit_sat),
                refund_to: return_invoice,
            })
        })
    }

    /// Verifies a top-up credential against the challenge's own (fresh) invoice and
    /// says how many satoshis it adds. [`SessionMethod::top_up`] is this, mapped onto
    /// the core types.
    pub fn verify_top_up<'a>(
        &'a self,
        charge: Charge<'a>,
    ) -> BoxFuture<'a, Result<u64, LightningSessionError>> {
        Box::pin(async move {
            let SessionPayload::TopUp {
                top_up_preimage, ..
            } = SessionPayload::parse(charge.payload)?
            else {
                return Err(LightningSessionError::MalformedPayload(
                    "the action is not topUp".into(),
                ));
            };
            let terms = self.verify_deposit(charge.request, &top_up_preimage)?;
            Ok(terms.deposit_sat)
        })
    }
}

impl SessionMethod for LightningSession {
    fn name(&self) -> &str {
        NAME
    }

    /// A fresh deposit invoice for every challenge; the price is pinned.
    fn terms(&self) -> Terms {
        Terms::PerChallenge { pinned: PINNED }
    }

    fn issue_terms<'a>(
        &'a self,
        template: &'a JsonObject,
        _now: UnixTime,
    ) -> BoxFuture<'a, Result<IssuedTerms, MethodError>> {
        Box::pin(async move {
            let issued = self.issue(template).await.map_err(|e| {
                MethodError::Internal(format!("cannot issue a deposit invoice: {e}"))
            })?;
            Ok(IssuedTerms {
                request: issued.request,
                not_after: Some(issued.not_after),
            })
        })
    }

    /// Also reads an open's return invoice: the server calls this before it claims
    /// the challenge, so a bad one does not cost the payer its deposit.
    fn action(&self, payload: &JsonObject) -> Result<SessionAction, MethodError> {
        Ok(match SessionPayload::parse(payload)? {
            SessionPayload::Open { return_invoice, .. } => {
                check_return_invoice(&return_invoice, self.node.network(), (self.clock)())?;
                SessionAction::Open
            }
            SessionPayload::Bearer { session, .. } => SessionAction::Use {
                session: session.to_hex(),
            },
            SessionPayload::TopUp { session, .. } => SessionAction::TopUp {
                session: session.to_hex(),
            },
            SessionPayload::Close { session, .. } => SessionAction::Close {
                session: session.to_hex(),
            },
        })
    }

    fn open<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Opened, MethodError>> {
        Box::pin(async move { self.verify_open(charge).await.map_err(MethodError::from) })
    }

    fn top_up<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<u128, MethodError>> {
        Box::pin(async move {
            self.verify_top_up(charge)
                .await
                .map(u128::from)
                .map_err(MethodError::from)
        })
    }

    /// A bearer or close payload naming `session` whose preimage hashes to it.
    fn owns(&self, session: &str, payload: &JsonObject) -> bool {
        match SessionPayload::parse(payload) {
            Ok(SessionPayload::Bearer {
                session: id,
                preimage,
            })
            | Ok(SessionPayload::Close {
                session: id,
                preimage,
            }) => id.to_hex() == session && preimage.payment_hash() == id,
            _ => false,
        }
    }

    /// Pays `amount` satoshis to the return invoice: one attempt, whatever the
    /// outcome (an unknown outcome counts as failed).
    fn refund<'a>(&'a self, refund_to: &'a str, amount: u128) -> BoxFuture<'a, Refund> {
        Box::pin(async move {
            if amount == 0 {
                return Refund::Skipped;
            }
            let Some(amount_msat) = u64::try_from(amount).ok().and_then(|a| a.checked_mul(1000))
            else {
                return Refund::Failed("the refund is out of range".into());
            };
            let invoice = match Invoice::decode(refund_to) {
                Ok(invoice) => invoice,
                Err(e) => return Refund::Failed(format!("the return invoice: {e}")),
            };
            let options = PayOptions {
                amount_msat: Some(amount_msat),
                max_fee_msat: self.refund_max_fee_msat,
            };
            match self.node.pay_invoice(&invoice, options).await {
                Ok(_) => Refund::Succeeded,
                Err(e) => Refund::Failed(e.to_string()),
            }
        })
    }

    /// The draft's `lightning/*` types where it has one.
    fn problem(&self, failure: SessionFailure) -> SpecificProblem {
        let (slug, title) = match failure {
            SessionFailure::NotFound => ("session-not-found", "Session Not Found"),
            SessionFailure::Closed => ("session-closed", "Session Closed"),
            SessionFailure::InsufficientValue => ("insufficient-balance", "Insufficient Balance"),
            SessionFailure::StaleUpdate => return failure.generic_problem(),
        };
        super::problem(slug, title)
    }
}

/// A session a payer opened, kept under the origin it was opened at.
struct OpenSession {
    /// The realm of the challenge it was opened with.
    realm: String,
    id: PaymentHash,
    preimage: PaymentPreimage,
}

impl OpenSession {
    /// Refuses a challenge of another realm than the session's, even from its origin.
    fn check_realm(&self, challenge: &Challenge<'static>) -> Result<(), PayError> {
        if self.realm == challenge.realm.as_str() {
            Ok(())
        } else {
            Err(PayError::NotApplicable(format!(
                "the lightning session open at this origin belongs to realm {:?}; close or \
                 forget it first",
                self.realm
            )))
        }
    }
}

/// The client half of `lightning/session`: opens a session by paying a deposit
/// invoice, then answers challenges with the session's bearer secret; tops up and
/// closes on request.
///
/// It holds at most one open session per origin (scheme, host and port), behind a
/// lock, so it can be shared between tasks. A session's secret only ever goes to the
/// origin it was opened at, and only for the realm it was opened with: a challenge
/// from another origin, even one naming the same realm (realms are public), is
/// answered by opening a session there, at that origin's deposit.
///
/// What it costs ([`PayMethod::cost`]) is the deposit (`depositAmount`) when no
/// session is open at the challenge's origin, and nothing when one is; the client
/// engine holds that to the spending policy. [`PayMethod::pay`] then opens a session
/// when the choice costs something (paying at most that), and otherwise returns a
/// bearer payload for the session open at that origin, paying nothing; if that
/// session was dropped meanwhile it fails rather than open one that was not
/// reserved. Two opens racing at one origin both pay; the last one is kept, and the
/// server refunds the other when it closes it for idleness. It refuses a deposit
/// above [`max_deposit`](LightningSessionPayer::max_deposit).
///
/// When the server refuses a bearer payload for want of balance, pay a fresh
/// challenge with [`top_up`](LightningSessionPayer::top_up); when it says the
/// session is closed or unknown (closed for idleness, say), call
/// [`forget`](LightningSessionPayer::forget) and pay again.
pub struct LightningSessionPayer {
    node: Arc<dyn LightningNode>,
    clock: Clock,
    source: Option<String>,
    max_deposit_sat: u64,
    return_invoice_expiry_secs: u64,
    sessions: Mutex<HashMap<Origin, OpenSession>>,
}

impl core::fmt::Debug for LightningSessionPayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let origins: Vec<String> = self.sessions().keys().map(Origin::to_string).collect();
        f.debug_struct("LightningSessionPayer")
            .field("network", &self.node.network())
            .field("source", &self.source)
            .field("max_deposit_sat", &self.max_deposit_sat)
            .field("sessions_at", &origins)
            .finish_non_exhaustive()
    }
}

impl LightningSessionPayer {
    /// A payer paying deposits with `node` (which also issues the return invoice),
    /// on the node's network, reading the system clock.
    pub fn new(node: Arc<dyn LightningNode>) -> LightningSessionPayer {
        LightningSessionPayer {
            node,
            clock: system_clock(),
            source: None,
            max_deposit_sat: DEFAULT_MAX_DEPOSIT_SATS,
            return_invoice_expiry_secs: DEFAULT_RETURN_INVOICE_EXPIRY_SECS,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Reads the time from `clock` (invoice expiry).
    pub fn with_clock(mut self, clock: Clock) -> LightningSessionPayer {
        self.clock = clock;
        self
    }

    /// Names the payer in the credential's `source`.
    pub fn with_source(mut self, source: impl Into<String>) -> LightningSessionPayer {
        self.source = Some(source.into());
        self
    }

    /// The largest deposit (or top-up) it pays, in satoshis (default
    /// [`DEFAULT_MAX_DEPOSIT_SATS`]).
    pub fn max_deposit(mut self, sats: u64) -> LightningSessionPayer {
        self.max_deposit_sat = sats;
        self
    }

    /// How long its return invoices stay payable (default
    /// [`DEFAULT_RETURN_INVOICE_EXPIRY_SECS`]); never less than twice the server's
    /// `idleTimeout`.
    pub fn return_invoice_expiry(mut self, secs: u64) -> LightningSessionPayer {
        self.return_invoice_expiry_secs = secs;
        self
    }

    /// The id (a public payment hash) of the session open at `origin`, if any.
    pub fn session_id(&self, origin: &Origin) -> Option<String> {
        self.sessions().get(origin).map(|s| s.id.to_hex())
    }

    /// Forgets the session open at `origin` without closing it (the server closed
    /// it, say); whether there was one.
    pub fn forget(&self, origin: &Origin) -> bool {
        self.sessions().remove(origin).is_some()
    }

    /// The close payload for the session open at `origin`, which it then forgets.
    /// Send it to that origin only, with any challenge of its server; the refund goes
    /// to the return invoice.
    pub fn close(&self, origin: &Origin) -> Result<Payment, PayError> {
        let open = self
            .sessions()
            .remove(origin)
            .ok_or_else(|| no_session(origin))?;
        Ok(self.payment(SessionPayload::Close {
            session: open.id,
            preimage: open.preimage,
        }))
    }

    /// Pays the fresh deposit invoice of `choice` and returns the top-up payload for
    /// the session open at `choice.origin`; the deposit must be within `choice.cost`
    /// (what [`Wallet::choose_top_up`](mpp_core::client::Wallet::choose_top_up)
    /// reserved).
    pub fn top_up<'a>(&'a self, choice: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(async move {
            let session = {
                let sessions = self.sessions();
                let open = sessions
                    .get(&choice.origin)
                    .ok_or_else(|| no_session(&choice.origin))?;
                open.check_realm(&choice.challenge)?;
                open.id
            };
            let terms = self.deposit_to_pay(choice)?;
            let top_up_preimage = self.pay_deposit(&terms.invoice).await?;
            Ok(self.payment(SessionPayload::TopUp {
                session,
                top_up_preimage,
            }))
        })
    }

    /// Whether it would pay the deposit `choice` asks for, and the terms if so: a
    /// session challenge, terms that hold, an invoice payable on the node's network,
    /// unexpired, needing no unknown feature, asking at most the maximum deposit.
    fn check_deposit(&self, choice: &Choice) -> Result<DepositTerms, PayError> {
        check_intent(choice)?;
        let terms = read_deposit_terms(&choice.request)
            .map_err(|e| PayError::Terms(format!("lightning session terms: {e}")))?;
        check_payable(&terms.invoice, self.node.network(), (self.clock)())?;
        if terms.deposit_sat > self.max_deposit_sat {
            return Err(PayError::Terms(format!(
                "the deposit asks {} sat, more than the {} sat this payer pays",
                terms.deposit_sat, self.max_deposit_sat
            )));
        }
        Ok(terms)
    }

    /// [`check_deposit`](Self::check_deposit), and a deposit within what the wallet
    /// reserved for `choice`: all it may spend.
    fn deposit_to_pay(&self, choice: &Choice) -> Result<DepositTerms, PayError> {
        let terms = self.check_deposit(choice)?;
        if u128::from(terms.deposit_sat) > choice.cost {
            return Err(PayError::Terms(format!(
                "the deposit asks {} sat, more than the {} reserved for it",
                terms.deposit_sat, choice.cost
            )));
        }
        Ok(terms)
    }

    /// Pays a deposit invoice and returns its preimage, checked.
    async fn pay_deposit(&self, invoice: &Invoice) -> Result<PaymentPreimage, PayError> {
        let outcome = self
            .node
            .pay_invoice(invoice, PayOptions::default())
            .await
            .map_err(NodeError::into_pay_error)?;
        if &outcome.preimage.payment_hash() != invoice.payment_hash() {
            return Err(PayError::Backend(
                "the node returned a preimage that is not the invoice's".into(),
            ));
        }
        Ok(outcome.preimage)
    }

    /// Opens a session at `choice.origin`: return invoice first, so that nothing is
    /// paid if the node cannot make one.
    async fn open(&self, choice: &Choice) -> Result<Payment, PayError> {
        let terms = self.deposit_to_pay(choice)?;
        let expiry_secs = terms
            .idle_timeout_secs
            .map_or(0, |idle| idle.saturating_mul(2))
            .max(self.return_invoice_expiry_secs);
        let return_invoice = self
            .node
            .create_invoice(&InvoiceRequest {
                amount_msat: None,
                description: "refund of a lightning session".into(),
                expiry_secs,
            })
            .await
            .map_err(|e| PayError::Backend(format!("cannot create the return invoice: {e}")))?;
        let preimage = self.pay_deposit(&terms.invoice).await?;
        self.sessions().insert(
            choice.origin.clone(),
            OpenSession {
                realm: choice.challenge.realm.as_str().into(),
                id: *terms.invoice.payment_hash(),
                preimage: preimage.clone(),
            },
        );
        Ok(self.payment(SessionPayload::Open {
            preimage,
            return_invoice: return_invoice.as_str().into(),
        }))
    }

    /// The bearer payload for the session open at `choice.origin`.
    fn bearer(&self, choice: &Choice) -> Result<Payment, PayError> {
        check_intent(choice)?;
        let sessions = self.sessions();
        let open = sessions.get(&choice.origin).ok_or_else(|| {
            PayError::NotApplicable(format!(
                "the lightning session at {} was dropped meanwhile; opening another was not \
                 reserved, so nothing was paid",
                choice.origin
            ))
        })?;
        open.check_realm(&choice.challenge)?;
        Ok(self.payment(SessionPayload::Bearer {
            session: open.id,
            preimage: open.preimage.clone(),
        }))
    }

    fn payment(&self, payload: SessionPayload) -> Payment {
        Payment {
            payload: payload.to_json(),
            source: self.source.clone(),
        }
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<Origin, OpenSession>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn check_intent(choice: &Choice) -> Result<(), PayError> {
    if choice.challenge.intent.as_str() == "session" {
        Ok(())
    } else {
        Err(PayError::NotApplicable(
            "this payer pays the session intent only".into(),
        ))
    }
}

fn no_session(origin: &Origin) -> PayError {
    PayError::NotApplicable(format!("no lightning session is open at {origin}"))
}

impl PayMethod for LightningSessionPayer {
    fn name(&self) -> &str {
        NAME
    }

    fn supports_intent(&self, intent: &str) -> bool {
        intent == "session"
    }

    /// Nothing when a session is open at the challenge's origin (for its realm);
    /// otherwise the deposit that opens one.
    fn cost(&self, choice: &Choice) -> Result<u128, PayError> {
        check_intent(choice)?;
        if let Some(open) = self.sessions().get(&choice.origin) {
            open.check_realm(&choice.challenge)?;
            return Ok(0);
        }
        let terms = self.check_deposit(choice)?;
        Ok(u128::from(terms.deposit_sat))
    }

    /// Opens a session when `choice` costs something; otherwise a bearer payload for
    /// the session open at its origin.
    fn pay<'a>(&'a self, choice: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(async move {
            if choice.cost == 0 {
                self.bearer(choice)
            } else {
                self.open(choice).await
            }
        })
    }

    /// The deposit of `choice`, when a session is open at its origin.
    fn top_up_cost(&self, choice: &Choice) -> Option<Result<u128, PayError>> {
        let realm = self
            .sessions()
            .get(&choice.origin)?
            .check_realm(&choice.challenge);
        Some(
            realm
                .and_then(|()| self.check_deposit(choice))
                .map(|terms| u128::from(terms.deposit_sat)),
        )
    }

    /// [`LightningSessionPayer::top_up`], when a session is open at the origin.
    fn top_up<'a>(
        &'a self,
        choice: &'a Choice,
    ) -> Option<BoxFuture<'a, Result<Payment, PayError>>> {
        self.session_id(&choice.origin)?;
        Some(LightningSessionPayer::top_up(self, choice))
    }

    fn forget_session(&self, origin: &Origin) -> bool {
        self.forget(origin)
    }
}

#[cfg(test)]
mod tests {
    use super::super::TestNode;
    use super::super::tests_support::block_on;
    use super::*;
    use mpp_core::problem::ProblemType;
    use mpp_core::time::ManualClock;
    use mpp_core::value::Base64Json;

    const NOW: i64 = 1_800_000_000;

    fn hex(byte: u8) -> String {
        crate::hex::encode(&[byte; 32])
    }

    fn object(members: &[(&str, Value)]) -> JsonObject {
        members
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    }

    fn method() -> (ManualClock, Arc<TestNode>, LightningSession) {
        let clock = ManualClock::new(UnixTime::from_secs(NOW));
        let node = Arc::new(TestNode::new().with_clock(clock.clock()));
        let method = LightningSession::new(node.clone()).with_clock(clock.clock());
        (clock, node, method)
    }

    /// A choice of a session challenge for `request`, reserving `cost`.
    fn choice(request: &JsonObject, cost: u128) -> Choice {
        let header = format!(
            r#"Payment id="x", realm="r", method="lightning", intent="session", request="{}""#,
            Base64Json::encode(request)
        );
        Choice {
            challenge: Challenge::parse(header.as_bytes()).unwrap().into_owned(),
            request: request.clone(),
            amount: 10,
            currency: "sat".into(),
            method: 0,
            origin: Origin::new("https", "r", 443),
            cost,
        }
    }

    #[test]
    fn payloads_round_trip() {
        let preimage = PaymentPreimage::from_bytes([0xab; 32]);
        let session = PaymentHash::from_bytes([0x01; 32]);
        for payload in [
            SessionPayload::Open {
                preimage: preimage.clone(),
                return_invoice: "lnbcrt1xyz".into(),
            },
            SessionPayload::Bearer {
                session,
                preimage: preimage.clone(),
            },
            SessionPayload::TopUp {
                session,
                top_up_preimage: preimage.clone(),
            },
            SessionPayload::Close {
                session,
                preimage: preimage.clone(),
            },
        ] {
            let json = payload.to_json();
            assert_eq!(json["action"], payload.action());
            assert_eq!(SessionPayload::parse(&json).unwrap(), payload);
            assert!(!format!("{payload:?}").contains(&preimage.to_hex()));
        }
        // Unknown members are ignored.
        let mut json = SessionPayload::Bearer {
            session,
            preimage: preimage.clone(),
        }
        .to_json();
        json.insert("extension".into(), Value::Bool(true));
        assert_eq!(
            SessionPayload::parse(&json).unwrap().session(),
            Some(&session)
        );
    }

    #[test]
    fn refuses_malformed_payloads_without_echoing_secrets() {
        // req: core.security.credentials.not-logged
        let secret = hex(0xcd);
        let id = hex(0x1a);
        let bad = [
            object(&[("preimage", secret.as_str().into())]),
            object(&[
                ("action", "Open".into()),
                ("preimage", secret.as_str().into()),
            ]),
            object(&[("action", "refund".into())]),
            object(&[("action", 1.into())]),
            object(&[
                ("action", "open".into()),
                ("preimage", secret.as_str().into()),
            ]),
            object(&[
                ("action", "open".into()),
                ("preimage", secret.as_str().into()),
                ("returnInvoice", 5.into()),
            ]),
            object(&[
                ("action", "bearer".into()),
                ("sessionId", id.to_uppercase().into()),
                ("preimage", secret.as_str().into()),
            ]),
            object(&[
                ("action", "bearer".into()),
                ("sessionId", id.as_str().into()),
                ("preimage", secret.to_uppercase().into()),
            ]),
            object(&[
                ("action", "close".into()),
                ("sessionId", id.as_str().into()),
                ("preimage", secret[..62].into()),
            ]),
            object(&[
                ("action", "topUp".into()),
                ("sessionId", id.as_str().into()),
                ("preimage", secret.as_str().into()),
            ]),
            object(&[
                ("action", "topUp".into()),
                ("sessionId", 7.into()),
                ("topUpPreimage", secret.as_str().into()),
            ]),
        ];
        let (_, _, method) = method();
        for payload in bad {
            let e = SessionPayload::parse(&payload).unwrap_err();
            assert!(
                matches!(e, LightningSessionError::MalformedPayload(_)),
                "{e}"
            );
            assert_eq!(
                e.problem_type_uri().unwrap(),
                "https://paymentauth.org/problems/lightning/malformed-credential"
            );
            let m = method.action(&payload).unwrap_err();
            assert_eq!(m.problem_type(), ProblemType::InvalidPayload, "{m}");
            assert_eq!(m.specific(), e.problem().as_ref());
            let shown = m.message().to_lowercase();
            assert!(!shown.contains(&secret[..16]), "{shown}");
            assert!(!method.owns(&id, &payload));
        }
    }

    #[test]
    fn errors_map_onto_core_and_draft_types() {
        let cases = [
            (
                LightningSessionError::InvalidReturnInvoice("x".into()),
                Some("invalid-return-invoice"),
                "invalid-payload",
            ),
            (
                LightningSessionError::InvalidPreimage,
                Some("invalid-preimage"),
                "verification-failed",
            ),
            (
                LightningSessionError::ExpiredInvoice,
                Some("challenge-expired"),
                "verification-failed",
            ),
            (
                LightningSessionError::InvalidTerms(TermsError::new("x")),
                None,
                "verification-failed",
            ),
            (
                LightningSessionError::Node(NodeError::Unavailable("down".into())),
                None,
                "internal-payment-error",
            ),
        ];
        for (e, slug, core) in cases {
            assert_eq!(
                e.problem_type_uri(),
                slug.map(|s| format!("{}{s}", super::super::PROBLEM_BASE_URI))
            );
            let m = MethodError::from(e);
            assert!(m.problem_type().to_string().ends_with(core), "{m}");
        }
        let (_, _, method) = method();
        for (failure, slug) in [
            (SessionFailure::NotFound, "lightning/session-not-found"),
            (SessionFailure::Closed, "lightning/session-closed"),
            (
                SessionFailure::InsufficientValue,
                "lightning/insufficient-balance",
            ),
            (SessionFailure::StaleUpdate, "session/stale-update"),
        ] {
            let p = method.problem(failure);
            assert!(p.type_uri.ends_with(slug), "{}", p.type_uri);
        }
    }

    #[test]
    fn issues_a_deposit_of_twenty_units_by_default() {
        let (clock, node, method) = method();
        let mut template = LightningSession::template(3, Some("tokens"));
        template.insert("unitType".into(), "token".into());
        let issued = block_on(method.issue(&template)).unwrap();
        assert_eq!(issued.invoice.amount_sat(), Some(60));
        assert_eq!(issued.request["depositAmount"], "60");
        assert_eq!(issued.request["unitType"], "token");
        assert_eq!(issued.request["amount"], "3");
        assert_eq!(
            issued.request["paymentHash"],
            issued.invoice.payment_hash().to_hex().as_str()
        );
        assert_eq!(issued.invoice.payee(), &node.node_id());
        assert_eq!(
            issued.not_after,
            UnixTime::from_secs(clock.now().secs() + 600)
        );
        let Terms::PerChallenge { pinned } = method.terms() else {
            panic!("per challenge")
        };
        assert!(pinned.contains(&"amount") && !pinned.contains(&"depositAmount"));

        let fixed = LightningSession::new(node.clone()).deposit(500);
        assert_eq!(
            block_on(fixed.issue(&template))
                .unwrap()
                .invoice
                .amount_sat(),
            Some(500)
        );
        template.insert("depositAmount".into(), "9".into());
        assert_eq!(
            block_on(fixed.issue(&template))
                .unwrap()
                .invoice
                .amount_sat(),
            Some(9)
        );
        // A deposit must pay for one unit.
        template.insert("depositAmount".into(), "2".into());
        assert!(matches!(
            block_on(method.issue(&template)),
            Err(LightningSessionError::InvalidTerms(_))
        ));
        let below = LightningSession::new(node).deposit(2);
        assert!(block_on(below.issue(&LightningSession::template(3, None))).is_err());
        assert!(block_on(method.issue(&LightningSession::template(0, None))).is_err());
        assert!(matches!(
            block_on(method.issue_terms(&JsonObject::new(), clock.now())),
            Err(MethodError::Internal(_))
        ));
    }

    #[test]
    fn payer_refuses_terms_it_should_not_pay() {
        let (clock, node, method) = method();
        let client = Arc::new(node.peer([0x44; 32]).unwrap().with_clock(clock.clock()));
        let payer = LightningSessionPayer::new(client)
            .with_clock(clock.clock())
            .max_deposit(100);
        let issued = block_on(method.issue(&LightningSession::template(10, None))).unwrap();
        // Refused when the wallet asks what it costs, and when asked to pay anyway.
        let refuse = |request: &JsonObject| {
            let choice = choice(request, 1000);
            let e = block_on(payer.pay(&choice)).unwrap_err();
            assert_eq!(payer.cost(&choice), Err(e.clone()));
            e
        };
        // 200 sat: above the payer's maximum.
        let e = refuse(&issued.request);
        assert!(
            matches!(&e, PayError::Terms(m) if m.contains("more than the 100 sat")),
            "{e:?}"
        );
        let mut lying = issued.request.clone();
        lying.insert("depositAmount".into(), "50".into());
        let mut other_hash = issued.request.clone();
        other_hash.insert("paymentHash".into(), hex(0x01).into());
        let mut no_hash = issued.request.clone();
        no_hash.remove("paymentHash");
        for request in [&lying, &other_hash, &no_hash] {
            let e = refuse(request);
            assert!(
                matches!(&e, PayError::Terms(m) if m.starts_with("lightning session terms")),
                "{e:?}"
            );
        }
        assert!(!node.is_paid(issued.invoice.payment_hash()));
        let origin = Origin::new("https", "r", 443);
        assert_eq!(payer.session_id(&origin), None);
        assert!(payer.close(&origin).is_err());
        assert!(payer.supports_intent("session") && !payer.supports_intent("charge"));
    }
}
