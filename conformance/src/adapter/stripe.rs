//! The adapter's `stripe/charge` operation: what a server answers once Stripe has
//! answered, given the challenge's terms, the credential's payload and the
//! PaymentIntent. Each verdict is `mpp_methods::stripe`'s own; nothing here talks to
//! Stripe.

use mpp_core::time::UnixTime;
use mpp_methods::stripe::{StripeChargeError, StripeTerms, read_payload};
use serde_json::{Value, json};

use super::{Failure, OpResult, object, string};

const KIND: &str = "invalid_request";

/// `stripe.external_id_binding`: `{request, payload, paymentIntent: {id, status,
/// replayed?}}` → `{ok: true, receipt}` or `{ok: false, errorType}`.
///
/// - A payload whose `externalId` is not the one the request binds (missing, or
///   another) is `invalid_challenge`: the credential names other terms than its
///   challenge.
/// - A PaymentIntent that has not `succeeded` is `verification_failed`.
/// - A succeeded one gives the receipt: `reference` the PaymentIntent's id,
///   `externalId` the request's (never the payload's), `timestamp` the context's
///   clock. A replayed answer (`replayed: true`) is the same PaymentIntent, sent again
///   to a retry of the same credential: it is granted like the first (spec/ERRATA.md,
///   E38).
pub(super) fn external_id_binding(input: &Value, now: UnixTime) -> OpResult {
    let verdict = |error_type: &str| Ok(json!({ "ok": false, "errorType": error_type }));
    let terms = StripeTerms::from_request(object(input, "request", KIND)?)
        .map_err(|e| Failure::new(KIND, format!("the stripe terms: {e}")).in_field("request"))?;
    match read_payload(&terms, object(input, "payload", KIND)?) {
        Ok(_) => {}
        Err(StripeChargeError::ExternalIdMismatch) => return verdict("invalid_challenge"),
        Err(e) => return Err(Failure::new(KIND, e.to_string()).in_field("payload")),
    }
    let intent = input
        .get("paymentIntent")
        .filter(|p| p.is_object())
        .ok_or_else(|| Failure::new(KIND, "`paymentIntent` must be an object"))?;
    let id = string(intent, "id", KIND)?;
    if string(intent, "status", KIND)? != "succeeded" {
        return verdict("verification_failed");
    }
    let timestamp = now
        .to_rfc3339()
        .ok_or_else(|| Failure::new(KIND, "the clock is out of RFC 3339's range"))?;
    let mut receipt = json!({
        "method": "stripe",
        "status": "success",
        "timestamp": timestamp,
        "reference": id,
    });
    if let Some(external) = &terms.external_id {
        receipt["externalId"] = external.as_str().into();
    }
    Ok(json!({ "ok": true, "receipt": receipt }))
}
