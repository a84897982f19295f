//! Checking a credential's challenge echo against what a route offers now.
//!
//! This is the stateless part of a server's verification, in the order a server runs
//! it after parsing the credential:
//!
//! 1. **Binding** (D2): the echoed id must be the HMAC of the echoed parameters under
//!    one of the server's secrets; otherwise the challenge was not issued here, or
//!    was edited → `invalid-challenge`.
//! 2. **Pinning** (D7): a genuine challenge may have been issued for another route,
//!    price or method; the echo must match this route's offer field by field
//!    (realm, method, intent, the decoded request, opaque, credential field)
//!    → `invalid-challenge`.
//! 3. **Expiry** (D8): an echo without `expires` is refused (fail closed, the server
//!    always emits it) → `invalid-challenge`; `now >= expires` → `payment-expired`.
//!
//! Body digests, the single-use claim and the method's own verification follow in
//! the server engine.

use core::fmt;

use crate::binding::ChallengeBinder;
use crate::challenge::{Challenge, CredentialField};
use crate::error::{BindingError, Fault, Param, ParseError};
use crate::jcs;
use crate::json::JsonObject;
use crate::problem::ProblemType;
use crate::time::UnixTime;
use crate::value::{IntentName, MethodName, Opaque, Realm};

/// What a route offers: the terms a valid echo must repeat.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer<'a> {
    /// The server's realm.
    pub realm: Realm<'a>,
    /// The payment method.
    pub method: MethodName<'a>,
    /// The intent.
    pub intent: IntentName<'a>,
    /// The request terms (amount, currency, recipient, …).
    pub request: JsonObject,
    /// The route's `opaque`, when it sets one.
    pub opaque: Option<Opaque<'a>>,
    /// Where the route expects the credential.
    pub credential_field: CredentialField,
}

/// Why an echo is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EchoError {
    /// The id does not bind the echoed parameters under any configured secret.
    NotIssuedHere,
    /// The challenge is genuine but was issued for different terms.
    Mismatch(Param),
    /// The echo has no `expires`.
    MissingExpires,
    /// The challenge expired.
    Expired,
    /// An echoed field cannot be decoded.
    Malformed(ParseError),
    /// The server's own binding configuration failed.
    Binding(BindingError),
}

impl EchoError {
    /// Who is at fault.
    pub fn fault(&self) -> Fault {
        match self {
            EchoError::Malformed(e) => e.fault(),
            EchoError::Binding(e) => e.fault(),
            _ => Fault::Protocol,
        }
    }

    /// The problem type to answer with.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            EchoError::Expired => ProblemType::PaymentExpired,
            EchoError::Malformed(e) => e.problem_type(),
            EchoError::Binding(e) => e.problem_type(),
            _ => ProblemType::InvalidChallenge,
        }
    }
}

impl fmt::Display for EchoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EchoError::NotIssuedHere => f.write_str("challenge was not issued by this server"),
            EchoError::Mismatch(p) => write!(f, "challenge `{p}` does not match this route"),
            EchoError::MissingExpires => f.write_str("challenge has no `expires`"),
            EchoError::Expired => f.write_str("challenge has expired"),
            EchoError::Malformed(e) => write!(f, "malformed echo: {e}"),
            EchoError::Binding(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for EchoError {}

/// Checks `echo` against `offer` at `now`: binding, then pinning, then expiry.
pub fn check_echo(
    binder: &ChallengeBinder,
    offer: &Offer<'_>,
    echo: &Challenge<'_>,
    now: UnixTime,
) -> Result<(), EchoError> {
    check_binding(binder, echo)?;
    pinned(offer, echo)?;
    check_expiry(echo, now)
}

/// Step 1: the id binds the echoed parameters under one of the binder's secrets.
pub fn check_binding(binder: &ChallengeBinder, echo: &Challenge<'_>) -> Result<(), EchoError> {
    match binder.verify_challenge(echo) {
        Ok(true) => Ok(()),
        Ok(false) => Err(EchoError::NotIssuedHere),
        Err(BindingError::Undecodable(p)) => Err(EchoError::Malformed(p)),
        Err(e) => Err(EchoError::Binding(e)),
    }
}

/// Step 3: the echo has an `expires` and it is still in the future (`now < expires`).
pub fn check_expiry(echo: &Challenge<'_>, now: UnixTime) -> Result<(), EchoError> {
    match &echo.expires {
        None => Err(EchoError::MissingExpires),
        Some(e) if e.is_expired_at(now) => Err(EchoError::Expired),
        Some(_) => Ok(()),
    }
}

/// Whether two request objects state the same terms: equal in canonical form, where
/// `1.0` and `1`, or any two key orders, are the same.
pub fn same_terms(a: &JsonObject, b: &JsonObject) -> bool {
    jcs::object_to_string(a) == jcs::object_to_string(b)
}

fn pinned(offer: &Offer<'_>, echo: &Challenge<'_>) -> Result<(), EchoError> {
    let mismatch = |ok: bool, p| {
        if ok {
            Ok(())
        } else {
            Err(EchoError::Mismatch(p))
        }
    };
    mismatch(echo.realm == offer.realm, Param::Realm)?;
    mismatch(echo.method == offer.method, Param::Method)?;
    mismatch(echo.intent == offer.intent, Param::Intent)?;
    let request = echo.request.decode().map_err(EchoError::Malformed)?;
    mismatch(same_terms(&request, &offer.request), Param::Request)?;
    let opaque_matches = match (&echo.opaque, &offer.opaque) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.decode().map_err(EchoError::Malformed)? == b.decode().map_err(EchoError::Malformed)?
        }
        _ => false,
    };
    mismatch(opaque_matches, Param::Opaque)?;
    mismatch(
        echo.credential_field == offer.credential_field,
        Param::Header,
    )
}
