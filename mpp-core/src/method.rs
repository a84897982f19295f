//! What a payment method implements to be offered by a server: the charge intent's
//! server half.
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
use crate::problem::ProblemType;
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
    /// `internal-payment-error`). Whether money moved is unknown to the client.
    Internal(String),
}

impl MethodError {
    /// The problem type a server answers with.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            MethodError::InvalidPayload(_) => ProblemType::InvalidPayload,
            MethodError::VerificationFailed(_) => ProblemType::VerificationFailed,
            MethodError::Insufficient(_) => ProblemType::PaymentInsufficient,
            MethodError::ActionRequired(_) => ProblemType::PaymentActionRequired,
            MethodError::Internal(_) => ProblemType::InternalPaymentError,
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

    /// Verifies the proof and settles the payment. Called at most once per challenge:
    /// the server has claimed the challenge id before calling it (D9).
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
