//! The terms of a `stripe/charge` challenge: its `request` object, read with the
//! draft's rules, and written.
//!
//! `{amount, currency, description?, externalId?, recipient?, methodDetails:
//! {networkId, paymentMethodTypes, metadata?}}`: `amount` in the currency's smallest
//! unit, `currency` a lowercase ISO 4217 code, `networkId` the seller's Stripe
//! Business Network profile, `paymentMethodTypes` what the seller accepts (`card`,
//! `link`, …), `metadata` string pairs put on the PaymentIntent.

use std::collections::BTreeMap;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use mpp_core::json::{JsonObject, Value};
use mpp_core::value::Amount;

pub use crate::terms::TermsError;

/// `stripe/charge` terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeTerms {
    /// The price in the currency's smallest unit (cents for `usd`); at least 1.
    pub amount: u128,
    /// A three-letter ISO currency code, lowercase (`usd`).
    pub currency: String,
    /// A description for people.
    pub description: Option<String>,
    /// The merchant's reference (an order id); bound by the challenge, echoed in the
    /// receipt.
    pub external_id: Option<String>,
    /// Who is paid, for people: Stripe pays the account whose key settles.
    pub recipient: Option<String>,
    /// `methodDetails.networkId`: the seller's Stripe Business Network profile.
    pub network_id: String,
    /// `methodDetails.paymentMethodTypes`: at least one.
    pub payment_method_types: Vec<String>,
    /// `methodDetails.metadata`: put on the PaymentIntent.
    pub metadata: Option<BTreeMap<String, String>>,
}

impl StripeTerms {
    /// Terms asking `amount` of `currency` for the seller `network_id`, by card.
    pub fn new(amount: u128, currency: &str, network_id: &str) -> StripeTerms {
        StripeTerms {
            amount,
            currency: currency.into(),
            description: None,
            external_id: None,
            recipient: None,
            network_id: network_id.into(),
            payment_method_types: std::vec![String::from("card")],
            metadata: None,
        }
    }

    /// Reads `request` as terms, refusing a malformed or zero amount, a currency that
    /// is not three lowercase letters, a missing or empty `networkId` or
    /// `paymentMethodTypes`, and metadata that is not an object of strings.
    pub fn from_request(request: &JsonObject) -> Result<StripeTerms, TermsError> {
        let amount = request
            .get("amount")
            .and_then(Value::as_str)
            .and_then(|a| Amount::new(a).ok()?.to_u128())
            .filter(|&a| a > 0)
            .ok_or_else(|| {
                TermsError::new(
                    "`amount` must be a positive base-10 integer string (the currency's smallest unit)",
                )
            })?;
        let currency = request
            .get("currency")
            .and_then(Value::as_str)
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_lowercase()))
            .ok_or_else(|| {
                TermsError::new("`currency` must be a three-letter ISO code in lowercase (`usd`)")
            })?;
        let details = match request.get("methodDetails") {
            Some(Value::Object(details)) => details,
            _ => return Err(TermsError::new("`methodDetails` must be an object")),
        };
        let network_id = details
            .get("networkId")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                TermsError::new("`methodDetails.networkId` must be a non-empty string")
            })?;
        let types = details
            .get("paymentMethodTypes")
            .and_then(Value::as_array)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                TermsError::new("`methodDetails.paymentMethodTypes` must be a non-empty array")
            })?;
        let payment_method_types = types
            .iter()
            .map(|t| t.as_str().filter(|t| !t.is_empty()).map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                TermsError::new("`methodDetails.paymentMethodTypes` must hold non-empty strings")
            })?;
        let metadata = match details.get("metadata") {
            None => None,
            Some(Value::Object(m)) => Some(
                m.iter()
                    .map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect::<Option<BTreeMap<_, _>>>()
                    .ok_or_else(|| {
                        TermsError::new("`methodDetails.metadata` values must be strings")
                    })?,
            ),
            Some(_) => {
                return Err(TermsError::new(
                    "`methodDetails.metadata` must be an object",
                ));
            }
        };
        Ok(StripeTerms {
            amount,
            currency: currency.into(),
            description: optional_string(request, "description")?,
            external_id: optional_string(request, "externalId")?,
            recipient: optional_string(request, "recipient")?,
            network_id: network_id.into(),
            payment_method_types,
            metadata,
        })
    }

    /// The `request` object of these terms.
    pub fn to_request(&self) -> JsonObject {
        let mut details = JsonObject::new();
        details.insert("networkId".into(), self.network_id.as_str().into());
        let types = self
            .payment_method_types
            .iter()
            .map(|t| Value::from(t.as_str()))
            .collect();
        details.insert("paymentMethodTypes".into(), Value::Array(types));
        if let Some(metadata) = &self.metadata {
            let object = metadata
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect();
            details.insert("metadata".into(), Value::Object(object));
        }
        let mut request = JsonObject::new();
        request.insert("amount".into(), self.amount.to_string().into());
        request.insert("currency".into(), self.currency.as_str().into());
        for (name, value) in [
            ("description", &self.description),
            ("externalId", &self.external_id),
            ("recipient", &self.recipient),
        ] {
            if let Some(value) = value {
                request.insert(name.into(), value.as_str().into());
            }
        }
        request.insert("methodDetails".into(), Value::Object(details));
        request
    }
}

fn optional_string(request: &JsonObject, name: &str) -> Result<Option<String>, TermsError> {
    match request.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TermsError::new(format!("`{name}` must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> JsonObject {
        match value {
            Value::Object(o) => o,
            _ => unreachable!("tests pass objects"),
        }
    }

    #[test]
    fn the_drafts_example_reads_and_writes_back() {
        let request = object(json!({
            "amount": "5000", "currency": "usd",
            "description": "Premium API access for 1 month", "externalId": "order_12345",
            "methodDetails": {"networkId": "profile_1MqDcVKA5fEO2tZvKQm9g8Yj",
                "paymentMethodTypes": ["card", "link"], "metadata": {"plan": "pro"}}
        }));
        let terms = StripeTerms::from_request(&request).unwrap();
        assert_eq!(terms.amount, 5000);
        assert_eq!(terms.external_id.as_deref(), Some("order_12345"));
        assert_eq!(terms.payment_method_types, ["card", "link"]);
        assert_eq!(terms.to_request(), request);
        let plain = StripeTerms::new(500, "eur", "internal");
        assert_eq!(
            StripeTerms::from_request(&plain.to_request()).unwrap(),
            plain
        );
    }

    #[test]
    fn each_rule_is_enforced() {
        let details = json!({"networkId": "internal", "paymentMethodTypes": ["card"]});
        let bad = [
            json!({"amount": "0", "currency": "usd", "methodDetails": details}),
            json!({"amount": "05", "currency": "usd", "methodDetails": details}),
            json!({"amount": 5, "currency": "usd", "methodDetails": details}),
            json!({"amount": "5", "currency": "USD", "methodDetails": details}),
            json!({"amount": "5", "currency": "usdc", "methodDetails": details}),
            json!({"amount": "5", "currency": "usd"}),
            json!({"amount": "5", "currency": "usd", "methodDetails": {"paymentMethodTypes": ["card"]}}),
            json!({"amount": "5", "currency": "usd", "methodDetails": {"networkId": "", "paymentMethodTypes": ["card"]}}),
            json!({"amount": "5", "currency": "usd", "methodDetails": {"networkId": "n", "paymentMethodTypes": []}}),
            json!({"amount": "5", "currency": "usd", "methodDetails": {"networkId": "n", "paymentMethodTypes": [1]}}),
            json!({"amount": "5", "currency": "usd", "methodDetails": {"networkId": "n", "paymentMethodTypes": ["card"], "metadata": {"a": 1}}}),
            json!({"amount": "5", "currency": "usd", "externalId": 7, "methodDetails": details}),
        ];
        for request in bad {
            assert!(
                StripeTerms::from_request(&object(request.clone())).is_err(),
                "{request}"
            );
        }
    }
}
