//! The server half of `stripe/charge`: [`StripeCharge`], which settles a credential's
//! Shared Payment Token by creating and confirming one PaymentIntent, at most once
//! per challenge; its Connect settings ([`StripeConnect`]) and Stripe's minimum
//! charge amounts ([`stripe_minimum_amount`]).

use std::boxed::Box;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{BoxFuture, Charge, ChargeMethod, MethodError, Settlement};
use sha2::{Digest, Sha256};

use super::api::{StripeApi, StripeError};
use super::terms::StripeTerms;

/// The most characters Stripe accepts in an idempotency key.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The metadata keys the server writes on every PaymentIntent (the names mppx and
/// the crates.io `mpp` use, so that a dashboard reads the same across servers);
/// terms may not set keys with this prefix.
const RESERVED_PREFIX: &str = "mpp_";

/// Stripe's limits on metadata: keys, key length, value length.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_KEY_CHARS: usize = 40;
const MAX_METADATA_VALUE_CHARS: usize = 500;

/// The most characters of an `spt` read: Stripe's ids are far shorter.
const MAX_SPT_CHARS: usize = 255;

/// Why a `stripe/charge` credential was refused, or could not be settled. Messages
/// never contain the secret key or the token.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StripeChargeError {
    /// The payload is not `{spt, externalId?}` with an `spt_` token.
    MalformedPayload(String),
    /// The request binds an `externalId` and the payload's is missing or differs.
    ExternalIdMismatch,
    /// The challenge's terms are not `stripe/charge` terms this server settles: not
    /// readable, below the currency's minimum, reserved metadata, Connect amounts
    /// above the price.
    InvalidTerms(String),
    /// Stripe refused the token: unknown, already used, expired, or limited to
    /// another amount or currency.
    TokenRefused(String),
    /// The card was declined (402 `card_error`).
    Declined(String),
    /// The PaymentIntent needs the payer to act (authentication): `requires_action`.
    ActionRequired(String),
    /// The challenge was already settled, or attempted, with another token: Stripe
    /// refused to reuse its idempotency key for other parameters. Nothing was
    /// charged by this request.
    AlreadySettled,
    /// The PaymentIntent ended in a status other than `succeeded`, or does not
    /// match the terms.
    NotSucceeded(String),
    /// Stripe could not give a verdict: unreachable, timed out, rate limited, failed
    /// on its side, or refused the server's own key. The same credential may be sent
    /// again: the idempotency key makes Stripe charge at most once.
    Unavailable(String),
}

impl core::fmt::Display for StripeChargeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StripeChargeError::MalformedPayload(m) => f.write_str(m),
            StripeChargeError::ExternalIdMismatch => {
                f.write_str("the payload's `externalId` is not the one the challenge binds")
            }
            StripeChargeError::InvalidTerms(m) => write!(f, "the stripe terms do not hold: {m}"),
            StripeChargeError::TokenRefused(m) => {
                write!(f, "Stripe refused the shared payment token: {m}")
            }
            StripeChargeError::Declined(m) => write!(f, "the payment was declined: {m}"),
            StripeChargeError::ActionRequired(m) => f.write_str(m),
            StripeChargeError::AlreadySettled => {
                f.write_str("this challenge was already settled or attempted with another token")
            }
            StripeChargeError::NotSucceeded(m) => f.write_str(m),
            StripeChargeError::Unavailable(m) => write!(f, "cannot settle now: {m}"),
        }
    }
}

impl std::error::Error for StripeChargeError {}

impl From<StripeChargeError> for MethodError {
    /// `invalid-payload` for a malformed payload, `invalid-challenge` for a payload
    /// whose `externalId` is not the one the challenge binds, `payment-action-required`
    /// when the payer must authenticate, `internal-payment-error` when Stripe gave no
    /// verdict, `verification-failed` otherwise.
    fn from(e: StripeChargeError) -> MethodError {
        match e {
            StripeChargeError::MalformedPayload(m) => MethodError::InvalidPayload(m),
            // The credential names other terms than the challenge it echoes (D7).
            StripeChargeError::ExternalIdMismatch => {
                let invalid = mpp_core::problem::ProblemType::InvalidChallenge;
                MethodError::VerificationFailed(e.to_string()).refine(
                    mpp_core::problem::SpecificProblem::new(invalid.uri(), invalid.title()),
                )
            }
            StripeChargeError::ActionRequired(_) => MethodError::ActionRequired(e.to_string()),
            StripeChargeError::Unavailable(_) => MethodError::Internal(e.to_string()),
            _ => MethodError::VerificationFailed(e.to_string()),
        }
    }
}

/// Stripe Connect parameters of the PaymentIntents a server creates: set by the
/// server's configuration only, never read from a challenge or a credential (the
/// draft's "Stripe Connect Parameter Integrity").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripeConnect {
    /// Sent as the `Stripe-Account` header: the connected account the request acts
    /// for (a direct charge).
    pub stripe_account: Option<String>,
    /// `application_fee_amount`: the platform's fee, in the smallest unit, at most
    /// the charge's amount.
    pub application_fee_amount: Option<u128>,
    /// `on_behalf_of`: the connected account that is the business of record.
    pub on_behalf_of: Option<String>,
    /// `transfer_data[destination]`: the connected account funds go to (a
    /// destination charge).
    pub transfer_destination: Option<String>,
    /// `transfer_data[amount]`: how much goes there, at most the charge's amount;
    /// needs `transfer_destination`.
    pub transfer_amount: Option<u128>,
    /// `transfer_group`: a reconciliation label (not secret).
    pub transfer_group: Option<String>,
}

impl StripeConnect {
    /// Checks the account ids (`acct_…`) and that a transfer amount has a
    /// destination; with `amount`, that no amount exceeds it.
    pub fn check(&self, amount: Option<u128>) -> Result<(), String> {
        for (name, account) in [
            ("stripe_account", &self.stripe_account),
            ("on_behalf_of", &self.on_behalf_of),
            ("transfer_data[destination]", &self.transfer_destination),
        ] {
            if let Some(account) = account {
                let rest = account.strip_prefix("acct_").unwrap_or_default();
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(format!(
                        "Connect {name} must be a connected account id (acct_…)"
                    ));
                }
            }
        }
        if self.transfer_amount.is_some() && self.transfer_destination.is_none() {
            return Err("Connect transfer_data[amount] needs transfer_data[destination]".into());
        }
        if let Some(amount) = amount {
            for (name, part) in [
                ("application_fee_amount", self.application_fee_amount),
                ("transfer_data[amount]", self.transfer_amount),
            ] {
                if part.is_some_and(|p| p > amount) {
                    return Err(format!(
                        "Connect {name} is more than the charge's amount ({amount})"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Stripe's general minimum charge amount in `currency` (lowercase), in its smallest
/// unit, from Stripe's documentation ("Minimum and maximum charge amounts"); `None`
/// for a currency the table does not list. A function to give
/// [`StripeCharge::minimum_amounts`].
pub fn stripe_minimum_amount(currency: &str) -> Option<u128> {
    let minimum = match currency {
        "usd" | "aud" | "brl" | "cad" | "chf" | "eur" | "inr" | "nzd" | "sgd" | "ars" | "cop"
        | "idr" | "ils" | "jpy" | "krw" | "php" | "rub" | "zar" => 50,
        "gbp" => 30,
        "bgn" => 100,
        "aed" | "myr" | "pln" | "ron" => 200,
        "dkk" => 250,
        "nok" | "sek" => 300,
        "hkd" => 400,
        "mxn" | "thb" => 1_000,
        "czk" => 1_500,
        "huf" => 17_500,
        _ => return None,
    };
    Some(minimum)
}

/// The server half of `stripe/charge`.
///
/// The payload (`{spt, externalId?}`) and the `externalId` binding are checked
/// before Stripe is called. Settling creates one PaymentIntent
/// (`POST /v1/payment_intents`: the terms' amount and currency, the token as
/// `shared_payment_granted_token`, `confirm=true`, automatic payment methods
/// without redirects, the terms' metadata and `mpp_intent`, `mpp_challenge_id`,
/// `mpp_server_id` (the realm), and the configured [`StripeConnect`] parameters).
///
/// Its `Idempotency-Key` is derived from the challenge id alone, never from the
/// token: the same credential sent again after an internal error gets Stripe's
/// stored answer (the same PaymentIntent, `Idempotent-Replayed`) instead of a
/// second charge, and a second token minted for the same challenge is refused by
/// Stripe (`idempotency_error`) instead of charging again. Stripe keeps keys for at
/// least 24 hours: challenges must expire sooner, which the default five minutes do.
///
/// `succeeded` settles, with the PaymentIntent id as the receipt's `reference` and
/// the request's `externalId` (never the payload's) in the receipt;
/// `requires_action` is 402 `payment-action-required`; a decline or a refused token
/// is 402 `verification-failed`; no verdict from Stripe (unreachable, timeout, 429,
/// 5xx, 409, a refused server key) is 500 `internal-payment-error`, after which the
/// server lets the same credential retry (E28).
pub struct StripeCharge {
    api: StripeApi,
    connect: Option<StripeConnect>,
    minimum: Option<fn(&str) -> Option<u128>>,
}

impl core::fmt::Debug for StripeCharge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StripeCharge")
            .field("api", &self.api)
            .field("connect", &self.connect)
            .field("minimum_amounts", &self.minimum.is_some())
            .finish()
    }
}

impl StripeCharge {
    /// Settles through `api`, without Connect and without minimum amounts.
    pub fn new(api: StripeApi) -> StripeCharge {
        StripeCharge {
            api,
            connect: None,
            minimum: None,
        }
    }

    /// Adds Connect parameters to every PaymentIntent; refused when an account id is
    /// malformed or a transfer amount has no destination. Amounts are checked
    /// against each route's price by [`StripeCharge::check_terms`] and again at
    /// settlement.
    pub fn connect(mut self, connect: StripeConnect) -> Result<StripeCharge, StripeChargeError> {
        connect
            .check(None)
            .map_err(StripeChargeError::InvalidTerms)?;
        self.connect = Some(connect);
        Ok(self)
    }

    /// Refuses terms below `minimum(currency)` ([`stripe_minimum_amount`] gives
    /// Stripe's): in [`StripeCharge::check_terms`], when a route is configured, and
    /// at settlement.
    pub fn minimum_amounts(mut self, minimum: fn(&str) -> Option<u128>) -> StripeCharge {
        self.minimum = Some(minimum);
        self
    }

    /// Whether this server can settle `terms`: call it when configuring a route.
    /// Refuses an amount below the configured minimum for its currency, Connect
    /// amounts above it, and metadata Stripe would refuse or that uses the reserved
    /// `mpp_` keys.
    pub fn check_terms(&self, terms: &StripeTerms) -> Result<(), StripeChargeError> {
        let invalid = |m: String| Err(StripeChargeError::InvalidTerms(m));
        if let Some(minimum) = self.minimum.and_then(|f| f(&terms.currency)) {
            if terms.amount < minimum {
                return invalid(format!(
                    "{} {} is below the minimum charge of {minimum}",
                    terms.amount, terms.currency
                ));
            }
        }
        if let Some(connect) = &self.connect {
            connect
                .check(Some(terms.amount))
                .map_err(StripeChargeError::InvalidTerms)?;
        }
        if let Some(metadata) = &terms.metadata {
            if metadata.len() + 3 > MAX_METADATA_KEYS {
                return invalid(format!(
                    "`methodDetails.metadata` may hold at most {} keys",
                    MAX_METADATA_KEYS - 3
                ));
            }
            for (key, value) in metadata {
                if key.starts_with(RESERVED_PREFIX) {
                    return invalid(format!(
                        "`methodDetails.metadata` keys starting with {RESERVED_PREFIX} are the server's"
                    ));
                }
                if key.is_empty()
                    || key.chars().count() > MAX_METADATA_KEY_CHARS
                    || key.contains(['[', ']'])
                    || value.chars().count() > MAX_METADATA_VALUE_CHARS
                {
                    return invalid(format!(
                        "`methodDetails.metadata` keys are 1 to {MAX_METADATA_KEY_CHARS} characters without brackets, values at most {MAX_METADATA_VALUE_CHARS}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The idempotency key of challenge `id`: `mpp-stripe-charge-` and the id, or a
    /// SHA-256 of it when that would be longer than Stripe accepts.
    pub fn idempotency_key(challenge_id: &str) -> String {
        let key = format!("mpp-stripe-charge-{challenge_id}");
        if key.len() <= MAX_IDEMPOTENCY_KEY {
            return key;
        }
        let digest = Sha256::digest(challenge_id.as_bytes());
        let mut key = String::from("mpp-stripe-charge-sha256-");
        for b in digest {
            key.push_str(&format!("{b:02x}"));
        }
        key
    }

    /// Verifies and settles a charge, with the method's own failure kinds.
    /// [`ChargeMethod::settle`] is this, mapped onto the core problem types.
    pub fn verify<'a>(
        &'a self,
        charge: Charge<'a>,
    ) -> BoxFuture<'a, Result<Settlement, StripeChargeError>> {
        Box::pin(async move {
            let terms = StripeTerms::from_request(charge.request)
                .map_err(|e| StripeChargeError::InvalidTerms(e.to_string()))?;
            let spt = read_payload(&terms, charge.payload)?;
            self.check_terms(&terms)?;
            let params = self.params(&terms, &spt, charge);
            let account = self
                .connect
                .as_ref()
                .and_then(|c| c.stripe_account.as_deref());
            let key = StripeCharge::idempotency_key(charge.challenge.id.as_str());
            let answer = self
                .api
                .post("/v1/payment_intents", &params, Some(&key), account)
                .await
                .map_err(classify)?;
            let intent = &answer.body;
            let id = intent
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| id.starts_with("pi_"))
                .ok_or_else(|| {
                    StripeChargeError::Unavailable("Stripe's answer is not a PaymentIntent".into())
                })?;
            let status = intent.get("status").and_then(Value::as_str).unwrap_or("");
            let amount = intent.get("amount").and_then(Value::as_u64).map(u128::from);
            let currency = intent.get("currency").and_then(Value::as_str);
            if amount != Some(terms.amount) || currency != Some(terms.currency.as_str()) {
                return Err(StripeChargeError::NotSucceeded(format!(
                    "PaymentIntent {id} is not for the terms' amount and currency"
                )));
            }
            match status {
                "succeeded" => {
                    let mut settlement = Settlement::new(id);
                    if let Some(external) = &terms.external_id {
                        settlement
                            .extra
                            .insert("externalId".into(), external.as_str().into());
                    }
                    Ok(settlement)
                }
                "requires_action" => Err(StripeChargeError::ActionRequired(format!(
                    "PaymentIntent {id} requires the payer's action (authentication)"
                ))),
                other => Err(StripeChargeError::NotSucceeded(format!(
                    "PaymentIntent {id} is {other}, not succeeded"
                ))),
            }
        })
    }

    /// The PaymentIntent's parameters, in a fixed order: the same credential gives
    /// the same parameters, as a replay of its idempotency key needs.
    fn params(&self, terms: &StripeTerms, spt: &str, charge: Charge<'_>) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = std::vec![
            ("amount".into(), terms.amount.to_string()),
            ("currency".into(), terms.currency.clone()),
            ("shared_payment_granted_token".into(), spt.into()),
            ("confirm".into(), "true".into()),
            ("automatic_payment_methods[enabled]".into(), "true".into()),
            (
                "automatic_payment_methods[allow_redirects]".into(),
                "never".into()
            ),
        ];
        for (key, value) in terms.metadata.iter().flatten() {
            params.push((format!("metadata[{key}]"), value.clone()));
        }
        params.push(("metadata[mpp_intent]".into(), "charge".into()));
        params.push((
            "metadata[mpp_challenge_id]".into(),
            charge.challenge.id.as_str().into(),
        ));
        params.push((
            "metadata[mpp_server_id]".into(),
            charge.challenge.realm.as_str().into(),
        ));
        if let Some(connect) = &self.connect {
            let optional = [
                (
                    "application_fee_amount",
                    connect.application_fee_amount.map(|a| a.to_string()),
                ),
                ("on_behalf_of", connect.on_behalf_of.clone()),
                (
                    "transfer_data[destination]",
                    connect.transfer_destination.clone(),
                ),
                (
                    "transfer_data[amount]",
                    connect.transfer_amount.map(|a| a.to_string()),
                ),
                ("transfer_group", connect.transfer_group.clone()),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    params.push((name.into(), value));
                }
            }
        }
        params
    }
}

/// Reads the payload `{spt, externalId?}` for `terms`: its token, once the
/// `externalId` binding holds (the payload's must be the request's when the request
/// names one). What the server checks before any Stripe call.
pub fn read_payload(
    terms: &StripeTerms,
    payload: &JsonObject,
) -> Result<String, StripeChargeError> {
    let spt = payload
        .get("spt")
        .and_then(Value::as_str)
        .filter(|s| {
            s.len() <= MAX_SPT_CHARS
                && s.strip_prefix("spt_").is_some_and(|rest| {
                    !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                })
        })
        .ok_or_else(|| {
            StripeChargeError::MalformedPayload(
                "the payload needs `spt`: a shared payment token id (spt_ and letters, digits or _)"
                    .into(),
            )
        })?;
    let external = match payload.get("externalId") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(StripeChargeError::MalformedPayload(
                "`externalId` must be a string".into(),
            ));
        }
    };
    if let Some(bound) = &terms.external_id {
        if external != Some(bound.as_str()) {
            return Err(StripeChargeError::ExternalIdMismatch);
        }
    }
    Ok(spt.into())
}

/// What a failed PaymentIntent request means for the charge.
fn classify(e: StripeError) -> StripeChargeError {
    if e.is_transient() {
        return StripeChargeError::Unavailable(e.to_string());
    }
    match &e {
        StripeError::Api(api) => match (api.status, api.kind.as_str()) {
            (402, _) | (_, "card_error") => StripeChargeError::Declined(e.to_string()),
            (_, "idempotency_error") => StripeChargeError::AlreadySettled,
            // The server's own key or permissions: no verdict on the payment.
            (401 | 403, _) => StripeChargeError::Unavailable(e.to_string()),
            _ if api.param.as_deref() == Some("shared_payment_granted_token") => {
                StripeChargeError::TokenRefused(e.to_string())
            }
            _ => StripeChargeError::NotSucceeded(e.to_string()),
        },
        _ => StripeChargeError::Unavailable(e.to_string()),
    }
}

impl ChargeMethod for StripeCharge {
    fn name(&self) -> &str {
        super::NAME
    }

    fn check_payload(&self, request: &JsonObject, payload: &JsonObject) -> Result<(), MethodError> {
        let terms = StripeTerms::from_request(request)
            .map_err(|e| StripeChargeError::InvalidTerms(e.to_string()))?;
        read_payload(&terms, payload)
            .map(drop)
            .map_err(MethodError::from)
    }

    fn settle<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Settlement, MethodError>> {
        Box::pin(async move { self.verify(charge).await.map_err(MethodError::from) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_idempotency_key_is_the_challenge_id_alone_and_fits_stripe() {
        assert_eq!(
            StripeCharge::idempotency_key("abc_DEF-123"),
            "mpp-stripe-charge-abc_DEF-123"
        );
        let long = "x".repeat(400);
        let key = StripeCharge::idempotency_key(&long);
        assert!(key.len() <= MAX_IDEMPOTENCY_KEY && key.starts_with("mpp-stripe-charge-sha256-"));
        assert_ne!(key, StripeCharge::idempotency_key(&"y".repeat(400)));
    }

    #[test]
    fn connect_settings_are_checked() {
        let good = StripeConnect {
            stripe_account: Some("acct_1Abc".into()),
            application_fee_amount: Some(100),
            transfer_destination: Some("acct_2Def".into()),
            transfer_amount: Some(400),
            ..StripeConnect::default()
        };
        assert_eq!(good.check(Some(500)), Ok(()));
        assert!(good.check(Some(399)).is_err());
        for bad in [
            StripeConnect {
                stripe_account: Some("acct_".into()),
                ..good.clone()
            },
            StripeConnect {
                on_behalf_of: Some("cus_1".into()),
                ..good.clone()
            },
            StripeConnect {
                transfer_destination: None,
                ..good.clone()
            },
        ] {
            assert!(bad.check(None).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stripe_minimums_are_in_the_smallest_unit() {
        assert_eq!(stripe_minimum_amount("usd"), Some(50));
        assert_eq!(stripe_minimum_amount("huf"), Some(17_500));
        assert_eq!(stripe_minimum_amount("xts"), None);
    }
}
