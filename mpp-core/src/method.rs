//! What a payment method implements to be offered by a server: the charge intent's
//! server half (and the session intent's), and the record of spent payment
//! references a method may keep in the server's store.
//!
//! A method checks a credential's payload against its schema, then verifies the proof
//! and settles the payment, returning what the receipt says about it. The futures
//! are boxed (`alloc` only), so methods of different types can sit side by side in
//! one route, and any async runtime can drive them.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;
use core::future::Future;
use core::pin::Pin;

use crate::challenge::Challenge;
use crate::json::JsonObject;
use crate::problem::{ProblemType, SpecificProblem};
use crate::time::UnixTime;

/// A boxed future that can be sent between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A charge to verify and settle: the challenge it answers, its decoded terms and
/// the credential's proof.
#[derive(Clone, Copy)]
pub struct Charge<'a> {
    /// The challenge the credential answers (its echo, verified by the server).
    pub challenge: &'a Challenge<'static>,
    /// The decoded `request`: amount, currency, recipient, method details.
    pub request: &'a JsonObject,
    /// The credential's `payload`.
    pub payload: &'a JsonObject,
    /// The payer, when the credential names one.
    pub source: Option<&'a str>,
}

impl fmt::Debug for Charge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Charge")
            .field("challenge_id", &self.challenge.id.as_str())
            .field("method", &self.challenge.method.as_str())
            .field("payload", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// What a method reports of a settled payment, for the receipt.
#[derive(Clone, PartialEq)]
pub struct Settlement {
    /// The receipt's `reference`: a transaction hash, a payment intent id, …
    pub reference: String,
    /// Method-specific receipt members (`chainId`, …).
    pub extra: JsonObject,
}

impl Settlement {
    /// A settlement with a reference and no extra members.
    pub fn new(reference: impl Into<String>) -> Settlement {
        Settlement {
            reference: reference.into(),
            extra: JsonObject::new(),
        }
    }
}

impl fmt::Debug for Settlement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Settlement(<redacted>)")
    }
}

/// Why a method refused or failed a charge. The message goes into the problem's
/// `detail`: it must never contain a secret or the proof itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MethodError {
    /// The payload does not match the method's schema (402 `invalid-payload`).
    InvalidPayload(String),
    /// The proof does not verify (402 `verification-failed`).
    VerificationFailed(String),
    /// The proof pays less than the price (402 `payment-insufficient`).
    Insufficient(String),
    /// The payer must act first, e.g. authenticate (402 `payment-action-required`).
    ActionRequired(String),
    /// The method could not reach a verdict: a settlement backend failed (500
    /// `internal-payment-error`). The server lets the same credential be sent again
    /// (see [`ChargeMethod::settle`]).
    Internal(String),
    /// One of the above, answered with the method's own problem type
    /// (`https://paymentauth.org/problems/lightning/invalid-preimage`, say) and the
    /// status of the core type it refines. Made by [`MethodError::refine`].
    Refined(Box<RefinedError>),
}

/// A [`MethodError`] with the method's own problem type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefinedError {
    /// The core error: its type gives the status, its message the `detail`.
    pub error: MethodError,
    /// The type, title and members the server answers with.
    pub problem: SpecificProblem,
}

impl MethodError {
    /// The core problem type: the one a server answers with, or the one the
    /// method's own type refines (which gives the status).
    pub fn problem_type(&self) -> ProblemType {
        match self {
            MethodError::InvalidPayload(_) => ProblemType::InvalidPayload,
            MethodError::VerificationFailed(_) => ProblemType::VerificationFailed,
            MethodError::Insufficient(_) => ProblemType::PaymentInsufficient,
            MethodError::ActionRequired(_) => ProblemType::PaymentActionRequired,
            MethodError::Internal(_) => ProblemType::InternalPaymentError,
            MethodError::Refined(r) => r.error.problem_type(),
        }
    }

    /// The explanation, for the problem's `detail`.
    pub fn message(&self) -> &str {
        match self {
            MethodError::InvalidPayload(m)
            | MethodError::VerificationFailed(m)
            | MethodError::Insufficient(m)
            | MethodError::ActionRequired(m)
            | MethodError::Internal(m) => m,
            MethodError::Refined(r) => r.error.message(),
        }
    }

    /// This error, answered with the method's own problem type `problem` instead of
    /// the core one (whose status it keeps).
    pub fn refine(self, problem: SpecificProblem) -> MethodError {
        let error = match self {
            MethodError::Refined(r) => r.error,
            e => e,
        };
        MethodError::Refined(Box::new(RefinedError { error, problem }))
    }

    /// The method's own problem type, if it gave one.
    pub fn specific(&self) -> Option<&SpecificProblem> {
        match self {
            MethodError::Refined(r) => Some(&r.problem),
            _ => None,
        }
    }
}

impl fmt::Display for MethodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.problem_type(), self.message())
    }
}

impl core::error::Error for MethodError {}

/// The server half of a payment method for the `charge` intent.
pub trait ChargeMethod: Send + Sync {
    /// The method identifier it answers (`tempo`, `lightning`, `preimage`, …).
    fn name(&self) -> &str;

    /// Checks the payload's shape against the method's schema, before anything is
    /// claimed or settled. The default accepts any payload.
    fn check_payload(&self, request: &JsonObject, payload: &JsonObject) -> Result<(), MethodError> {
        let _ = (request, payload);
        Ok(())
    }

    /// Verifies the proof and settles the payment. Called once per challenge: the
    /// server has claimed the challenge id before calling it (D9). The exception:
    /// after it returned [`MethodError::Internal`], the server may call it again with
    /// the very same credential (the client retrying), so an `Internal` error must
    /// mean that nothing was settled, or that settling again is harmless (the
    /// backend deduplicates: a transaction already broadcast, an idempotency key).
    fn settle<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Settlement, MethodError>>;

    /// How the `request` of each challenge is made. The default, [`Terms::Fixed`]:
    /// every challenge carries the route's terms as configured.
    fn terms(&self) -> Terms {
        Terms::Fixed
    }

    /// The terms of one new challenge, made from the route's configured `template`
    /// at `now`; called for every challenge issued when [`ChargeMethod::terms`] is
    /// [`Terms::PerChallenge`] (a fresh invoice each time, say). The default returns
    /// the template.
    fn issue_terms<'a>(
        &'a self,
        template: &'a JsonObject,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<IssuedTerms, MethodError>> {
        let _ = now;
        Box::pin(core::future::ready(Ok(IssuedTerms {
            request: template.clone(),
            not_after: None,
        })))
    }
}

/// Payment references already spent: transaction hashes and the like, each
/// recorded with the challenge it paid.
///
/// A method whose proof exists outside the challenge (a transaction on a chain,
/// which anyone can see and name) records it here before granting, so that one
/// payment never pays two challenges. A server shares the record between its
/// instances through its store (`mpp_server::StoreReferences`).
pub trait UsedReferences: Send + Sync {
    /// Records that `reference` pays challenge `challenge_id`. `Ok(true)`: it pays
    /// no other challenge (it is recorded now, or was already recorded for this
    /// same challenge: the client retrying); `Ok(false)`: it already paid another
    /// challenge. `Err`: the record could not be read or written, and the method
    /// must not grant (the message must not contain secrets).
    fn claim<'a>(
        &'a self,
        reference: &'a str,
        challenge_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>>;
}

/// How a method's challenges get their `request` terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terms {
    /// The route's configured terms, the same in every challenge; an echo must carry
    /// exactly them (D7).
    Fixed,
    /// Terms made for each challenge by [`ChargeMethod::issue_terms`]. An echo must
    /// agree with the route's configured terms on the `pinned` members (the price);
    /// the rest varies per challenge and is trusted because the challenge id binds
    /// it (D2).
    PerChallenge {
        /// The members that must equal the route's configured terms.
        pinned: &'static [&'static str],
    },
}

/// The terms of one challenge, from [`ChargeMethod::issue_terms`].
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedTerms {
    /// The `request` object.
    pub request: JsonObject,
    /// The latest `expires` the challenge may carry (an invoice's own expiry, say).
    pub not_after: Option<UnixTime>,
}

/// What a session credential asks for, read from its payload by
/// [`SessionMethod::action`].
#[derive(Clone, PartialEq, Eq)]
pub enum SessionAction {
    /// Open a session by paying the deposit the challenge asks for; the request is
    /// then served from it.
    Open,
    /// Serve this request from the session.
    Use {
        /// The session id.
        session: String,
    },
    /// Add the deposit the challenge asks for to the session; nothing is served.
    TopUp {
        /// The session id.
        session: String,
    },
    /// Authorise spending up to `cumulative` in total, then serve this request.
    Voucher {
        /// The session id.
        session: String,
        /// The total it authorises since the session opened.
        cumulative: u128,
    },
    /// Close the session and refund what was not spent.
    Close {
        /// The session id.
        session: String,
    },
}

impl fmt::Debug for SessionAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionAction::Open => f.write_str("Open"),
            SessionAction::Use { .. } => f.write_str("Use"),
            SessionAction::TopUp { .. } => f.write_str("TopUp"),
            SessionAction::Voucher { cumulative, .. } => write!(f, "Voucher({cumulative})"),
            SessionAction::Close { .. } => f.write_str("Close"),
        }
    }
}

impl SessionAction {
    /// The session it names, if any (an open names none yet).
    pub fn session(&self) -> Option<&str> {
        match self {
            SessionAction::Open => None,
            SessionAction::Use { session }
            | SessionAction::TopUp { session }
            | SessionAction::Voucher { session, .. }
            | SessionAction::Close { session } => Some(session),
        }
    }
}

/// A session a method opened, from the deposit it verified.
#[derive(Clone, PartialEq, Eq)]
pub struct Opened {
    /// The session id (lightning: the deposit invoice's payment hash).
    pub session: String,
    /// What authorises spending.
    pub funding: crate::intent::session::Funding,
    /// The deposit, in the currency's base units.
    pub deposit: u128,
    /// Where the unspent deposit goes at close (a return invoice, an address).
    pub refund_to: String,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("session", &self.session)
            .field("funding", &self.funding)
            .field("deposit", &self.deposit)
            .field("refund_to", &"<redacted>")
            .finish()
    }
}

/// What became of a refund at close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refund {
    /// Paid.
    Succeeded,
    /// Attempted once and failed (the session stays closed; the reason is logged).
    Failed(String),
    /// Nothing to refund.
    Skipped,
}

impl Refund {
    /// `succeeded`, `failed` or `skipped`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refund::Succeeded => "succeeded",
            Refund::Failed(_) => "failed",
            Refund::Skipped => "skipped",
        }
    }
}

/// What a payment method implements to be offered for the `session` intent: reading
/// the action a credential asks for, verifying deposits, proving ownership of a
/// session, and refunding at close. The accounting itself is the session machine's
/// ([`crate::intent::session`]), applied by the server.
pub trait SessionMethod: Send + Sync {
    /// The method identifier it answers.
    fn name(&self) -> &str;

    /// How the `request` of each challenge is made (see [`ChargeMethod::terms`]).
    fn terms(&self) -> Terms {
        Terms::Fixed
    }

    /// The terms of one new challenge (see [`ChargeMethod::issue_terms`]): a fresh
    /// deposit invoice, say.
    fn issue_terms<'a>(
        &'a self,
        template: &'a JsonObject,
        now: UnixTime,
    ) -> BoxFuture<'a, Result<IssuedTerms, MethodError>> {
        let _ = now;
        Box::pin(core::future::ready(Ok(IssuedTerms {
            request: template.clone(),
            not_after: None,
        })))
    }

    /// The action the payload asks for; [`MethodError::InvalidPayload`] when it
    /// names none or is malformed.
    fn action(&self, payload: &JsonObject) -> Result<SessionAction, MethodError>;

    /// Verifies the deposit the credential proves (the challenge's terms, the
    /// payload's proof) and says what session it opens. Called once per challenge
    /// (the server has claimed the challenge id first), except that the same
    /// credential may come again after an [`MethodError::Internal`] or after the
    /// server failed to record the session: verifying it again must give the same
    /// session and move no money twice.
    fn open<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Opened, MethodError>>;

    /// Verifies a top-up payment and says how much it adds. Called once per
    /// challenge, with the same exception as [`SessionMethod::open`]; the server
    /// credits each challenge's top-up once.
    fn top_up<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<u128, MethodError>>;

    /// Whether the payload proves the right to use `session` (a bearer secret, a
    /// signature): for a voucher, whether it is authentic.
    fn owns(&self, session: &str, payload: &JsonObject) -> bool;

    /// Refunds `amount` to `refund_to`: one attempt, best effort. The server calls
    /// it at most once for each amount it owes (a close, a top-up that arrived after
    /// the session closed), including after a restart.
    fn refund<'a>(&'a self, refund_to: &'a str, amount: u128) -> BoxFuture<'a, Refund>;

    /// The problem type reported for `failure`: the session intent's own by default
    /// ([`SessionFailure::generic_problem`]); a method that defines its own types
    /// (lightning's `lightning/session-not-found`, …) returns those.
    fn problem(&self, failure: SessionFailure) -> SpecificProblem {
        failure.generic_problem()
    }
}

/// Why a session could not serve a request, as reported to the client (see
/// [`SessionMethod::problem`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionFailure {
    /// No session has the id the payload names.
    NotFound,
    /// The session is closed (or closing) and accepts nothing more.
    Closed,
    /// What is left does not pay for the unit.
    InsufficientValue,
    /// An authentic update that does not advance the session (a lower voucher).
    StaleUpdate,
}

impl SessionFailure {
    /// The core type it refines, which decides the status (all are 402) and that a
    /// fresh challenge is sent.
    pub fn core_type(self) -> ProblemType {
        match self {
            SessionFailure::InsufficientValue => ProblemType::PaymentInsufficient,
            SessionFailure::NotFound | SessionFailure::Closed | SessionFailure::StaleUpdate => {
                ProblemType::VerificationFailed
            }
        }
    }

    /// Its type in the session intent's namespace
    /// (`https://paymentauth.org/problems/session/…`).
    pub fn generic_problem(self) -> SpecificProblem {
        let (slug, title) = match self {
            SessionFailure::NotFound => ("not-found", "Session Not Found"),
            SessionFailure::Closed => ("closed", "Session Closed"),
            SessionFailure::InsufficientValue => ("insufficient-value", "Insufficient Value"),
            SessionFailure::StaleUpdate => ("stale-update", "Stale Update"),
        };
        SpecificProblem::new(
            alloc::format!("https://paymentauth.org/problems/session/{slug}"),
            title,
        )
    }
}
