//! `token/charge`: a test method in which paying means presenting a shared token.
//!
//! **Not a real payment.** The payload is `{"token": "…"}` and verifies iff it equals
//! the token the server was configured with (compared in constant time). It mirrors
//! the `token/charge` method of the offline mppx interop kit.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use mpp_core::client::{Choice, PayError, PayMethod, Payment};
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{BoxFuture, Charge, ChargeMethod, MethodError, Settlement};
use subtle::ConstantTimeEq;

/// The method identifier.
pub const NAME: &str = "token";

/// The server half of `token/charge`.
#[derive(Clone)]
pub struct Token {
    token: String,
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A method that accepts `token`.
    pub fn new(token: impl Into<String>) -> Token {
        Token {
            token: token.into(),
        }
    }

    /// The request terms for a price: `{amount, currency, recipient}`.
    pub fn request(amount: &str, currency: &str, recipient: &str) -> JsonObject {
        let mut request = JsonObject::new();
        request.insert("amount".into(), amount.into());
        request.insert("currency".into(), currency.into());
        request.insert("recipient".into(), recipient.into());
        request
    }
}

impl ChargeMethod for Token {
    fn name(&self) -> &str {
        NAME
    }

    fn check_payload(&self, _: &JsonObject, payload: &JsonObject) -> Result<(), MethodError> {
        match payload.get("token") {
            Some(Value::String(_)) => Ok(()),
            Some(_) => Err(MethodError::InvalidPayload(
                "`token` must be a string".into(),
            )),
            None => Err(MethodError::InvalidPayload(
                "the payload has no `token`".into(),
            )),
        }
    }

    fn settle<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Settlement, MethodError>> {
        Box::pin(async move {
            self.check_payload(charge.request, charge.payload)?;
            let given = charge
                .payload
                .get("token")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !bool::from(given.as_bytes().ct_eq(self.token.as_bytes())) {
                return Err(MethodError::VerificationFailed(
                    "the token is not accepted".into(),
                ));
            }
            let id = charge.challenge.id.as_str();
            Ok(Settlement::new(format!(
                "token:{}",
                &id[..id.len().min(12)]
            )))
        })
    }
}

/// The client half of `token/charge`: pays by presenting a shared token.
#[derive(Clone)]
pub struct TokenPayer {
    token: String,
}

impl core::fmt::Debug for TokenPayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TokenPayer(<redacted>)")
    }
}

impl TokenPayer {
    /// A payer presenting `token`.
    pub fn new(token: impl Into<String>) -> TokenPayer {
        TokenPayer {
            token: token.into(),
        }
    }
}

impl PayMethod for TokenPayer {
    fn name(&self) -> &str {
        NAME
    }

    fn pay<'a>(&'a self, _: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        let mut payload = JsonObject::new();
        payload.insert("token".into(), self.token.as_str().into());
        Box::pin(core::future::ready(Ok(Payment {
            payload,
            source: None,
        })))
    }
}
