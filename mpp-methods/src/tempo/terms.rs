//! The terms of a `tempo/charge` challenge: its `request` object, read with every
//! rule the draft sets on it, and written.
//!
//! `{amount, currency, recipient, description?, externalId?, methodDetails: {chainId?,
//! feePayer?, memo?, splits?, supportedModes?}}`: `amount` in the token's base units
//! (`"0"` asks for a zero-amount proof instead of a transfer), `currency` the TIP-20
//! token's address, `splits` further recipients paid out of `amount`, the primary
//! recipient receiving what is left.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use mpp_core::json::{JsonObject, Value};
use mpp_core::value::Amount;

use super::memo::Memo;
use super::receipt::Address;

/// The chain a request without `methodDetails.chainId` is for (the draft's default:
/// Tempo's public testnet).
pub const DEFAULT_CHAIN_ID: u64 = 42431;

/// The most `splits` this crate reads or writes: the draft's recommended bound, which
/// keeps a payment within one block's gas.
pub const MAX_SPLITS: usize = 10;

pub use crate::terms::TermsError;

/// How a non-zero charge is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The payer signs a transaction and the server broadcasts it (payload `type:
    /// "transaction"`).
    Pull,
    /// The payer broadcasts and sends the transaction hash (payload `type: "hash"`).
    Push,
}

impl Mode {
    /// `pull` or `push`, as `supportedModes` writes it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Pull => "pull",
            Mode::Push => "push",
        }
    }
}

/// One transfer a payment must make: to whom, how much, with which memo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    /// Who receives it.
    pub recipient: Address,
    /// How much, in base units.
    pub amount: u128,
    /// The memo it must carry, when the terms name one.
    pub memo: Option<Memo>,
}

/// `tempo/charge` terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempoTerms {
    /// The total paid, in the token's base units; 0 for a zero-amount proof.
    pub amount: u128,
    /// The TIP-20 token.
    pub currency: Address,
    /// The primary recipient: it receives `amount` minus the splits.
    pub recipient: Address,
    /// The chain.
    pub chain_id: u64,
    /// Whether the server pays the transaction's fees.
    pub fee_payer: bool,
    /// The memo the primary transfer must carry (`methodDetails.memo`).
    pub memo: Option<Memo>,
    /// Further recipients, each paid its amount out of `amount`.
    pub splits: Vec<Leg>,
    /// The submission modes offered; `None`: both (`supportedModes` absent).
    pub supported_modes: Option<Vec<Mode>>,
    /// A description for people.
    pub description: Option<String>,
    /// The merchant's reference, echoed in the receipt.
    pub external_id: Option<String>,
}

impl TempoTerms {
    /// Terms paying `amount` base units of `currency` to `recipient` on `chain_id`,
    /// with the server paying no fees and both modes offered.
    pub fn new(amount: u128, currency: Address, recipient: Address, chain_id: u64) -> TempoTerms {
        TempoTerms {
            amount,
            currency,
            recipient,
            chain_id,
            fee_payer: false,
            memo: None,
            splits: Vec::new(),
            supported_modes: None,
            description: None,
            external_id: None,
        }
    }

    /// Whether the terms accept a submission in `mode`.
    pub fn supports(&self, mode: Mode) -> bool {
        self.supported_modes
            .as_ref()
            .is_none_or(|modes| modes.contains(&mode))
    }

    /// The transfers that pay these terms: the primary recipient's first (`amount`
    /// minus the splits, with `methodDetails.memo`), then each split's.
    pub fn legs(&self) -> Vec<Leg> {
        let split_total: u128 = self.splits.iter().map(|s| s.amount).sum();
        let mut legs = Vec::with_capacity(1 + self.splits.len());
        legs.push(Leg {
            recipient: self.recipient,
            amount: self.amount.saturating_sub(split_total),
            memo: self.memo,
        });
        legs.extend(self.splits.iter().copied());
        legs
    }

    /// Reads `request` as terms, refusing anything the draft forbids: a malformed
    /// amount or address, splits adding up to `amount` or more (or more than
    /// [`MAX_SPLITS`], or any of zero), an empty or unknown `supportedModes`, a memo
    /// that is not 32 bytes of hex.
    pub fn from_request(request: &JsonObject) -> Result<TempoTerms, TermsError> {
        let amount = read_amount(request.get("amount"), "amount")?;
        let currency = read_address(request.get("currency"), "currency")?;
        let recipient = read_address(request.get("recipient"), "recipient")?;
        let mut terms = TempoTerms::new(amount, currency, recipient, DEFAULT_CHAIN_ID);
        terms.description = read_optional_string(request, "description")?;
        terms.external_id = read_optional_string(request, "externalId")?;
        let details = match request.get("methodDetails") {
            None => return Ok(terms),
            Some(Value::Object(details)) => details,
            Some(_) => return Err(TermsError::new("`methodDetails` must be an object")),
        };
        match details.get("chainId") {
            None => {}
            Some(n) => {
                terms.chain_id = n.as_u64().filter(|&c| c > 0).ok_or_else(|| {
                    TermsError::new("`methodDetails.chainId` must be a positive integer")
                })?;
            }
        }
        match details.get("feePayer") {
            None => {}
            Some(Value::Bool(b)) => terms.fee_payer = *b,
            Some(_) => {
                return Err(TermsError::new(
                    "`methodDetails.feePayer` must be a boolean",
                ));
            }
        }
        terms.memo = read_memo(details.get("memo"), "methodDetails.memo")?;
        match details.get("splits") {
            None => {}
            Some(Value::Array(splits)) => terms.splits = read_splits(splits, amount)?,
            Some(_) => return Err(TermsError::new("`methodDetails.splits` must be an array")),
        }
        match details.get("supportedModes") {
            None => {}
            Some(Value::Array(modes)) => {
                let mut read = Vec::new();
                for mode in modes {
                    let mode = match mode.as_str() {
                        Some("pull") => Mode::Pull,
                        Some("push") => Mode::Push,
                        _ => {
                            return Err(TermsError::new(
                                "`methodDetails.supportedModes` may hold only \"pull\" and \"push\"",
                            ));
                        }
                    };
                    if !read.contains(&mode) {
                        read.push(mode);
                    }
                }
                if read.is_empty() {
                    return Err(TermsError::new(
                        "`methodDetails.supportedModes` must name at least one mode",
                    ));
                }
                terms.supported_modes = Some(read);
            }
            Some(_) => {
                return Err(TermsError::new(
                    "`methodDetails.supportedModes` must be an array",
                ));
            }
        }
        Ok(terms)
    }

    /// The `request` object of these terms. Addresses and memos are written in
    /// lowercase hex; `methodDetails.chainId` is always written.
    pub fn to_request(&self) -> JsonObject {
        let mut details = JsonObject::new();
        details.insert("chainId".into(), self.chain_id.into());
        if self.fee_payer {
            details.insert("feePayer".into(), true.into());
        }
        if let Some(memo) = self.memo {
            details.insert("memo".into(), memo.to_hex().into());
        }
        if !self.splits.is_empty() {
            let splits = self
                .splits
                .iter()
                .map(|s| {
                    let mut split = JsonObject::new();
                    split.insert("amount".into(), s.amount.to_string().into());
                    if let Some(memo) = s.memo {
                        split.insert("memo".into(), memo.to_hex().into());
                    }
                    split.insert("recipient".into(), s.recipient.to_hex().into());
                    Value::Object(split)
                })
                .collect();
            details.insert("splits".into(), Value::Array(splits));
        }
        if let Some(modes) = &self.supported_modes {
            let modes = modes.iter().map(|m| Value::from(m.as_str())).collect();
            details.insert("supportedModes".into(), Value::Array(modes));
        }
        let mut request = JsonObject::new();
        request.insert("amount".into(), self.amount.to_string().into());
        request.insert("currency".into(), self.currency.to_hex().into());
        request.insert("recipient".into(), self.recipient.to_hex().into());
        if let Some(text) = &self.description {
            request.insert("description".into(), text.as_str().into());
        }
        if let Some(id) = &self.external_id {
            request.insert("externalId".into(), id.as_str().into());
        }
        request.insert("methodDetails".into(), Value::Object(details));
        request
    }
}

fn read_amount(value: Option<&Value>, name: &str) -> Result<u128, TermsError> {
    value
        .and_then(Value::as_str)
        .and_then(|a| Amount::new(a).ok()?.to_u128())
        .ok_or_else(|| {
            TermsError::new(format!(
                "`{name}` must be a base-10 integer string of at most 2^128 - 1 base units"
            ))
        })
}

fn read_address(value: Option<&Value>, name: &str) -> Result<Address, TermsError> {
    value
        .and_then(Value::as_str)
        .and_then(Address::from_hex)
        .ok_or_else(|| {
            TermsError::new(format!("`{name}` must be an address: 0x and 40 hex digits"))
        })
}

fn read_memo(value: Option<&Value>, name: &str) -> Result<Option<Memo>, TermsError> {
    match value {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(Memo::from_hex)
            .map(Some)
            .ok_or_else(|| TermsError::new(format!("`{name}` must be 0x and 64 hex digits"))),
    }
}

fn read_optional_string(request: &JsonObject, name: &str) -> Result<Option<String>, TermsError> {
    match request.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TermsError::new(format!("`{name}` must be a string"))),
    }
}

fn read_splits(splits: &[Value], amount: u128) -> Result<Vec<Leg>, TermsError> {
    if splits.is_empty() || splits.len() > MAX_SPLITS {
        return Err(TermsError::new(format!(
            "`methodDetails.splits` must hold 1 to {MAX_SPLITS} entries"
        )));
    }
    let mut legs = Vec::with_capacity(splits.len());
    let mut total: u128 = 0;
    for (i, split) in splits.iter().enumerate() {
        let split = split.as_object().ok_or_else(|| {
            TermsError::new(format!("`methodDetails.splits[{i}]` must be an object"))
        })?;
        let name = |member: &str| format!("methodDetails.splits[{i}].{member}");
        let leg = Leg {
            amount: read_amount(split.get("amount"), &name("amount"))?,
            recipient: read_address(split.get("recipient"), &name("recipient"))?,
            memo: read_memo(split.get("memo"), &name("memo"))?,
        };
        if leg.amount == 0 {
            return Err(TermsError::new(format!(
                "`{}` must be positive",
                name("amount")
            )));
        }
        total = total.saturating_add(leg.amount);
        legs.push(leg);
    }
    if total >= amount {
        return Err(TermsError::new(
            "the splits must add up to less than `amount`, leaving the recipient a part",
        ));
    }
    Ok(legs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: serde_json::Value) -> JsonObject {
        match value {
            Value::Object(o) => o,
            _ => unreachable!("tests pass objects"),
        }
    }

    const TOKEN: &str = "0x20c0000000000000000000000000000000000000";
    const TO: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
    const SPLIT: &str = "0xa1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2";

    #[test]
    fn the_kits_request_reads_and_writes_back() {
        let request = object(json!({
            "amount": "10000", "currency": TOKEN, "recipient": TO,
            "methodDetails": {"chainId": 42431, "supportedModes": ["push"]}
        }));
        let terms = TempoTerms::from_request(&request).unwrap();
        assert_eq!(terms.amount, 10_000);
        assert_eq!(terms.chain_id, 42431);
        assert!(terms.supports(Mode::Push) && !terms.supports(Mode::Pull));
        assert_eq!(terms.to_request(), request);
    }

    #[test]
    fn splits_leave_the_recipient_the_remainder() {
        let request = object(json!({
            "amount": "1000000", "currency": TOKEN, "recipient": TO,
            "methodDetails": {"chainId": 4217, "feePayer": true, "splits": [
                {"amount": "50000", "recipient": SPLIT},
            ]}
        }));
        let terms = TempoTerms::from_request(&request).unwrap();
        let legs = terms.legs();
        assert_eq!(legs.len(), 2);
        assert_eq!(
            (legs[0].amount, legs[0].recipient),
            (950_000, terms.recipient)
        );
        assert_eq!(legs[1].amount, 50_000);
        assert!(terms.fee_payer);
        assert_eq!(terms.to_request(), request);
    }

    #[test]
    fn each_rule_of_the_draft_is_enforced() {
        let bad = [
            json!({"amount": "01", "currency": TOKEN, "recipient": TO}),
            json!({"amount": "-1", "currency": TOKEN, "recipient": TO}),
            json!({"amount": "1", "currency": "0x20c0", "recipient": TO}),
            json!({"amount": "1", "currency": TOKEN}),
            json!({"amount": "1", "currency": TOKEN, "recipient": TO, "methodDetails": []}),
            json!({"amount": "1", "currency": TOKEN, "recipient": TO, "methodDetails": {"chainId": "1"}}),
            json!({"amount": "1", "currency": TOKEN, "recipient": TO, "methodDetails": {"chainId": 0}}),
            json!({"amount": "1", "currency": TOKEN, "recipient": TO, "methodDetails": {"feePayer": 1}}),
            json!({"amount": "1", "currency": TOKEN, "recipient": TO, "methodDetails": {"memo": "0x12"}}),
            json!({"amount": "1", "currency": TOKEN, "recipient": TO, "methodDetails": {"supportedModes": []}}),
            json!({"amount": "1", "currency": TOKEN, "recipient": TO, "methodDetails": {"supportedModes": ["pul"]}}),
            json!({"amount": "10", "currency": TOKEN, "recipient": TO, "methodDetails": {"splits": []}}),
            json!({"amount": "10", "currency": TOKEN, "recipient": TO, "methodDetails": {"splits": [{"amount": "10", "recipient": SPLIT}]}}),
            json!({"amount": "10", "currency": TOKEN, "recipient": TO, "methodDetails": {"splits": [{"amount": "0", "recipient": SPLIT}]}}),
            json!({"amount": "10", "currency": TOKEN, "recipient": TO, "methodDetails": {"splits": [{"amount": "1"}]}}),
            json!({"amount": "340282366920938463463374607431768211456", "currency": TOKEN, "recipient": TO}),
        ];
        for request in bad {
            assert!(
                TempoTerms::from_request(&object(request.clone())).is_err(),
                "{request}"
            );
        }
        let eleven: Vec<_> = (0..11)
            .map(|_| json!({"amount": "1", "recipient": SPLIT}))
            .collect();
        let request = json!({"amount": "100", "currency": TOKEN, "recipient": TO,
            "methodDetails": {"splits": eleven}});
        assert!(TempoTerms::from_request(&object(request)).is_err());
    }

    #[test]
    fn a_request_without_method_details_is_for_the_default_chain_in_both_modes() {
        let request = object(json!({"amount": "0", "currency": TOKEN, "recipient": TO}));
        let terms = TempoTerms::from_request(&request).unwrap();
        assert_eq!(terms.chain_id, DEFAULT_CHAIN_ID);
        assert!(terms.supports(Mode::Pull) && terms.supports(Mode::Push));
    }
}
