//! `preimage/charge`: a test method in which paying means revealing a secret.
//!
//! **Not a real payment.** The challenge's `request.methodDetails.paymentHash` is the
//! lowercase hex SHA-256 of a preimage (its UTF-8 bytes); the credential's payload is
//! `{"preimage": "…"}` and verifies iff its hash matches. It mirrors the
//! `preimage/charge` method of the offline mppx interop kit, so the two SDKs can pay
//! each other on loopback without any payment network. The receipt's `reference` is
//! the payment hash, never the preimage.

use alloc::boxed::Box;
use alloc::string::String;

use mpp_core::client::{Choice, PayError, PayMethod, Payment};
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{BoxFuture, Charge, ChargeMethod, MethodError, Settlement};
use sha2::{Digest, Sha256};

/// The method identifier.
pub const NAME: &str = "preimage";

/// The server half of `preimage/charge`.
#[derive(Debug, Clone, Default)]
pub struct Preimage;

impl Preimage {
    /// The request terms for a price: `{amount, currency, recipient,
    /// methodDetails: {paymentHash}}`, with the hash of `preimage`.
    pub fn request(amount: &str, currency: &str, recipient: &str, preimage: &str) -> JsonObject {
        let mut details = JsonObject::new();
        details.insert("paymentHash".into(), hash_hex(preimage).into());
        let mut request = JsonObject::new();
        request.insert("amount".into(), amount.into());
        request.insert("currency".into(), currency.into());
        request.insert("recipient".into(), recipient.into());
        request.insert("methodDetails".into(), Value::Object(details));
        request
    }
}

/// Lowercase hex of the SHA-256 of `preimage`'s UTF-8 bytes.
pub fn hash_hex(preimage: &str) -> String {
    crate::hex::encode(&Sha256::digest(preimage.as_bytes()))
}

fn payment_hash(request: &JsonObject) -> Option<&str> {
    request.get("methodDetails")?.get("paymentHash")?.as_str()
}

impl ChargeMethod for Preimage {
    fn name(&self) -> &str {
        NAME
    }

    fn check_payload(&self, request: &JsonObject, payload: &JsonObject) -> Result<(), MethodError> {
        if payment_hash(request).is_none() {
            return Err(MethodError::Internal(
                "the route's request has no methodDetails.paymentHash".into(),
            ));
        }
        match payload.get("preimage") {
            Some(Value::String(_)) => Ok(()),
            Some(_) => Err(MethodError::InvalidPayload(
                "`preimage` must be a string".into(),
            )),
            None => Err(MethodError::InvalidPayload(
                "the payload has no `preimage`".into(),
            )),
        }
    }

    fn settle<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Settlement, MethodError>> {
        Box::pin(async move {
            self.check_payload(charge.request, charge.payload)?;
            let expected = payment_hash(charge.request).unwrap_or_default();
            let preimage = charge
                .payload
                .get("preimage")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let got = hash_hex(preimage);
            // Both are public hashes of equal length; no timing secret is involved.
            if got != expected {
                return Err(MethodError::VerificationFailed(
                    "sha256(preimage) does not match the payment hash".into(),
                ));
            }
            Ok(Settlement::new(got))
        })
    }
}

/// The client half of `preimage/charge`: pays by revealing a preimage the caller
/// holds. It refuses a challenge whose payment hash is not the preimage's, so the
/// secret is only ever sent to a server that already knows its hash.
#[derive(Clone)]
pub struct PreimagePayer {
    preimage: String,
    source: Option<String>,
}

impl core::fmt::Debug for PreimagePayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PreimagePayer(<redacted>)")
    }
}

impl PreimagePayer {
    /// A payer revealing `preimage`.
    pub fn new(preimage: impl Into<String>) -> PreimagePayer {
        PreimagePayer {
            preimage: preimage.into(),
            source: None,
        }
    }

    /// Names the payer in the credential's `source`.
    pub fn with_source(mut self, source: impl Into<String>) -> PreimagePayer {
        self.source = Some(source.into());
        self
    }
}

impl PayMethod for PreimagePayer {
    fn name(&self) -> &str {
        NAME
    }

    fn pay<'a>(&'a self, choice: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(async move {
            if payment_hash(&choice.request) != Some(hash_hex(&self.preimage).as_str()) {
                return Err(PayError::Terms(
                    "the challenge's payment hash is not the hash of this preimage".into(),
                ));
            }
            let mut payload = JsonObject::new();
            payload.insert("preimage".into(), self.preimage.as_str().into());
            Ok(Payment {
                payload,
                source: self.source.clone(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use mpp_core::challenge::Challenge;

    #[test]
    fn hash_matches_the_mppx_kit() {
        // sha256("mppx-interop-preimage"), as node's crypto computes it.
        assert_eq!(
            hash_hex("mppx-interop-preimage"),
            "345ee9f621ff51eeeb453b5e35a8772bac04b1b9c84e61178ce0fb1f091b8b15"
        );
    }

    fn settle(preimage: Value) -> Result<Settlement, MethodError> {
        let request = Preimage::request("1000", "usd", "acct_1", "secret");
        let header = std::format!(
            r#"Payment id="x", realm="r", method="preimage", intent="charge", request="{}""#,
            mpp_core::value::Base64Json::encode(&request)
        );
        let challenge = Challenge::parse(header.as_bytes()).unwrap().into_owned();
        let mut payload = JsonObject::new();
        payload.insert("preimage".into(), preimage);
        let charge = Charge {
            challenge: &challenge,
            request: &request,
            payload: &payload,
            source: None,
        };
        let fut = Preimage.settle(charge);
        block_on(fut)
    }

    fn block_on<F: core::future::Future>(fut: F) -> F::Output {
        use core::task::{Context, Poll, Waker};
        let mut fut = core::pin::pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn the_payer_reveals_the_preimage_only_for_its_hash() {
        // req: charge.payload.proof core.security.credentials.password-care
        let request = Preimage::request("1000", "usd", "acct_1", "secret");
        let header = std::format!(
            r#"Payment id="x", realm="r", method="preimage", intent="charge", request="{}""#,
            mpp_core::value::Base64Json::encode(&request)
        );
        let choice = |request: &JsonObject| Choice {
            challenge: Challenge::parse(header.as_bytes()).unwrap().into_owned(),
            request: request.clone(),
            amount: 1000,
            currency: "usd".into(),
            method: 0,
            origin: mpp_core::client::Origin::new("https", "r", 443),
            cost: 1000,
        };
        let paid = block_on(PreimagePayer::new("secret").pay(&choice(&request))).unwrap();
        assert_eq!(paid.payload["preimage"], "secret");
        let other = Preimage::request("1000", "usd", "acct_1", "another");
        assert!(block_on(PreimagePayer::new("secret").pay(&choice(&other))).is_err());
        assert!(!std::format!("{:?}", PreimagePayer::new("secret")).contains("secret"));
    }

    #[test]
    fn verifies_iff_the_hash_matches() {
        // req: charge.verify.proof
        let s = settle("secret".into()).unwrap();
        assert_eq!(
            s.reference,
            hash_hex("secret"),
            "the reference is the hash, never the preimage"
        );
        assert!(matches!(
            settle("wrong".into()),
            Err(MethodError::VerificationFailed(_))
        ));
        assert!(matches!(
            settle(Value::from(7)),
            Err(MethodError::InvalidPayload(_))
        ));
    }
}
