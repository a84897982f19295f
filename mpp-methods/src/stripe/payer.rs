//! The client half of `stripe/charge`: [`StripePayer`], which answers a challenge
//! with a Shared Payment Token minted for exactly its amount, currency and seller,
//! expiring no later than the challenge.

use std::boxed::Box;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use mpp_core::client::{Choice, PayError, PayMethod, Payment};
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::BoxFuture;
use mpp_core::time::{Clock, system_clock};

use super::api::{StripeApi, StripeError};
use super::terms::StripeTerms;

/// Where a [`StripePayer`] mints its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SptEndpoint {
    /// The issued-token endpoint with a live key, the test helper with a test key
    /// (what mppx's command-line client does).
    Auto,
    /// `POST /v1/shared_payment/issued_tokens`, the agent-side API: the seller is
    /// named by `seller_details[network_business_profile]`.
    IssuedTokens,
    /// `POST /v1/test_helpers/shared_payment/granted_tokens`, Stripe's test-mode
    /// helper that grants a token directly: the seller is named by
    /// `seller_details[network_id]`.
    TestHelper,
}

impl SptEndpoint {
    /// The path, and the parameter naming the seller.
    fn path_and_seller(self, test_mode: bool) -> (&'static str, &'static str) {
        match self {
            SptEndpoint::IssuedTokens => (
                "/v1/shared_payment/issued_tokens",
                "seller_details[network_business_profile]",
            ),
            SptEndpoint::TestHelper => (
                "/v1/test_helpers/shared_payment/granted_tokens",
                "seller_details[network_id]",
            ),
            SptEndpoint::Auto if test_mode => SptEndpoint::TestHelper.path_and_seller(true),
            SptEndpoint::Auto => SptEndpoint::IssuedTokens.path_and_seller(false),
        }
    }
}

/// The client half of `stripe/charge`: pays from one payment method of the user's
/// Stripe account (`pm_…`).
///
/// Before anything is minted it refuses terms it cannot read, for a currency or
/// seller (`networkId`) outside its allowlists (when it has them), that do not
/// accept cards, that cost more than the wallet reserved, or whose challenge has
/// no `expires` or has expired. Then it mints one token usable for at most the
/// challenge's amount, in its currency, for its seller, until the challenge's
/// `expires`, and answers `{spt, externalId?}` (the request's `externalId`, echoed).
/// A token is an authorisation, not a payment: when minting fails nothing was
/// paid. The amount caps are the spending policy's.
pub struct StripePayer {
    api: StripeApi,
    payment_method: String,
    endpoint: SptEndpoint,
    currencies: Option<Vec<String>>,
    networks: Option<Vec<String>>,
    clock: Clock,
}

impl core::fmt::Debug for StripePayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StripePayer")
            .field("api", &self.api)
            .field("payment_method", &self.payment_method)
            .field("endpoint", &self.endpoint)
            .field("currencies", &self.currencies)
            .field("networks", &self.networks)
            .finish_non_exhaustive()
    }
}

impl StripePayer {
    /// Pays through `api` from `payment_method` (`pm_…`), in any currency, to any
    /// seller, minting tokens where [`SptEndpoint::Auto`] says.
    pub fn new(api: StripeApi, payment_method: &str) -> Result<StripePayer, StripeError> {
        let valid = payment_method.strip_prefix("pm_").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !valid {
            return Err(StripeError::Config(
                "a Stripe payment method id is pm_ and letters, digits or _".into(),
            ));
        }
        Ok(StripePayer {
            api,
            payment_method: payment_method.into(),
            endpoint: SptEndpoint::Auto,
            currencies: None,
            networks: None,
            clock: system_clock(),
        })
    }

    /// Mints tokens at `endpoint`.
    pub fn endpoint(mut self, endpoint: SptEndpoint) -> StripePayer {
        self.endpoint = endpoint;
        self
    }

    /// Pays in these currencies only (compared case-insensitively).
    pub fn currencies(mut self, currencies: Vec<String>) -> StripePayer {
        self.currencies = Some(currencies);
        self
    }

    /// Pays these sellers (`networkId`s) only.
    pub fn networks(mut self, networks: Vec<String>) -> StripePayer {
        self.networks = Some(networks);
        self
    }

    /// Reads the time from `clock` (for the token's expiry) instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> StripePayer {
        self.clock = clock;
        self
    }

    /// The terms of `choice`, if this payer pays them, and the token's expiry (Unix
    /// seconds): the challenge's `expires`.
    fn check(&self, choice: &Choice) -> Result<(StripeTerms, i64), PayError> {
        let terms = StripeTerms::from_request(&choice.request)
            .map_err(|e| PayError::Terms(format!("stripe terms: {e}")))?;
        if let Some(currencies) = &self.currencies {
            if !currencies
                .iter()
                .any(|c| c.eq_ignore_ascii_case(&terms.currency))
            {
                return Err(PayError::Terms(format!(
                    "this payer does not pay in {}",
                    terms.currency
                )));
            }
        }
        if let Some(networks) = &self.networks {
            if !networks.contains(&terms.network_id) {
                return Err(PayError::Terms(format!(
                    "this payer does not pay the seller {:?}",
                    terms.network_id
                )));
            }
        }
        if !terms.payment_method_types.iter().any(|t| t == "card") {
            return Err(PayError::Terms(
                "the seller does not accept cards (`paymentMethodTypes` lacks \"card\")".into(),
            ));
        }
        let expires = choice.challenge.expires.as_ref().ok_or_else(|| {
            PayError::Terms("the challenge has no `expires` to bound the token by".into())
        })?;
        let expires_at = expires.unix().secs();
        if expires_at <= (self.clock)().secs() {
            return Err(PayError::Terms("the challenge has expired".into()));
        }
        Ok((terms, expires_at))
    }
}

impl PayMethod for StripePayer {
    fn name(&self) -> &str {
        super::NAME
    }

    fn cost(&self, choice: &Choice) -> Result<u128, PayError> {
        self.check(choice).map(|(terms, _)| terms.amount)
    }

    fn pay<'a>(&'a self, choice: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(async move {
            let (terms, expires_at) = self.check(choice)?;
            if terms.amount > choice.cost {
                return Err(PayError::Terms(format!(
                    "the challenge asks {} but {} was reserved",
                    terms.amount, choice.cost
                )));
            }
            let (path, seller) = self.endpoint.path_and_seller(self.api.is_test_mode());
            let params: Vec<(String, String)> = std::vec![
                ("payment_method".into(), self.payment_method.clone()),
                ("usage_limits[currency]".into(), terms.currency.clone()),
                ("usage_limits[max_amount]".into(), terms.amount.to_string()),
                ("usage_limits[expires_at]".into(), expires_at.to_string()),
                (seller.into(), terms.network_id.clone()),
            ];
            let answer = self
                .api
                .post(path, &params, None, None)
                .await
                .map_err(|e| {
                    let message = format!("cannot mint a shared payment token: {e}");
                    // Minting is the payer's only call: nothing was paid either way.
                    match e {
                        StripeError::Unavailable(_) => PayError::Unreachable(message),
                        _ => PayError::Backend(message),
                    }
                })?;
            let spt = answer
                .body
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| id.starts_with("spt_"))
                .ok_or_else(|| {
                    PayError::Backend("Stripe's answer holds no shared payment token id".into())
                })?;
            let mut payload = JsonObject::new();
            payload.insert("spt".into(), spt.into());
            if let Some(external) = &terms.external_id {
                payload.insert("externalId".into(), external.as_str().into());
            }
            Ok(Payment {
                payload,
                source: None,
            })
        })
    }
}
