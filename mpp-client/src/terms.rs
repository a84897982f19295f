//! A challenge's terms in people's units: the per-method hook that lets `explain`
//! (and so `mpp inspect`, `mpp decode` and `mpp get -v`) say what a `request` asks
//! for, beyond its raw JSON.
//!
//! Only methods whose `request` needs interpreting are described: `tempo` names its
//! token by address and counts in base units, so its terms are shown with the
//! token's symbol and decimals when it is a predeployed one. Other methods get
//! `None`, and their `request` speaks for itself.

use serde_json::Value;

use mpp_core::json::JsonObject;

/// A method's terms, described.
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// `(name, value)` rows for people, in order.
    pub rows: Vec<(&'static str, String)>,
    /// The same as a JSON object; its `display` member, when present, is the amount
    /// in people's units (`0.01 pathUSD`).
    pub json: Value,
}

/// The terms of `request` for `method`, or why they cannot be read; `None` when the
/// method has nothing to add to its `request`.
pub fn describe(method: &str, request: &JsonObject) -> Option<Result<Described, String>> {
    match method {
        #[cfg(feature = "tempo")]
        mpp_methods::tempo::NAME => Some(tempo::describe(request)),
        _ => {
            let _ = request;
            None
        }
    }
}

/// `amount` base units of `currency` in people's units (`0.01 pathUSD`), when the
/// currency is a token whose decimals are known (a predeployed Tempo token, by
/// address); `None` otherwise.
pub fn human_amount(currency: &str, amount: u128) -> Option<String> {
    #[cfg(feature = "tempo")]
    {
        tempo::human_amount(currency, amount)
    }
    #[cfg(not(feature = "tempo"))]
    {
        let _ = (currency, amount);
        None
    }
}

/// `10000 (0.01 pathUSD)` when the currency's units are known, else `10000 CURRENCY`.
pub fn amount_text(currency: &str, amount: u128) -> String {
    match human_amount(currency, amount) {
        Some(human) => format!("{amount} ({human})"),
        None => format!("{amount} {currency}"),
    }
}

#[cfg(feature = "tempo")]
mod tempo {
    use mpp_core::json::JsonObject;
    use mpp_methods::tempo::{Address, Mode, TempoTerms, Token};
    use serde_json::{Value, json};

    use super::Described;

    /// A predeployed token, by address only: a name is what the user types, a
    /// challenge always names the address.
    fn token_at(currency: &str) -> Option<Token> {
        Address::from_hex(currency).and_then(|a| Token::find(&a.to_hex()))
    }

    pub(super) fn human_amount(currency: &str, amount: u128) -> Option<String> {
        token_at(currency).map(|t| format!("{} {}", t.format_amount(amount), t.symbol))
    }

    /// `10000 (0.01 pathUSD)`, or `10000 base units` of an unknown token.
    fn amount(token: Option<&Token>, amount: u128) -> String {
        match token {
            Some(t) => format!("{amount} ({} {})", t.format_amount(amount), t.symbol),
            None => format!("{amount} base units"),
        }
    }

    pub(super) fn describe(request: &JsonObject) -> Result<Described, String> {
        let terms = TempoTerms::from_request(request).map_err(|e| format!("tempo terms: {e}"))?;
        let token = token_at(&terms.currency.to_hex());
        let mut rows = Vec::new();
        if terms.amount == 0 {
            rows.push((
                "amount",
                "0: a zero-amount proof of the payer's account, nothing is transferred".into(),
            ));
        } else {
            rows.push(("amount", amount(token.as_ref(), terms.amount)));
        }
        rows.push((
            "token",
            match &token {
                Some(t) => format!(
                    "{} ({}, {} decimals)",
                    t.symbol,
                    t.address.to_hex(),
                    t.decimals
                ),
                None => format!(
                    "{} (not a predeployed token: amounts in base units)",
                    terms.currency.to_hex()
                ),
            },
        ));
        rows.push(("recipient", terms.recipient.to_hex()));
        rows.push(("chain id", terms.chain_id.to_string()));
        let modes: Vec<&str> = match &terms.supported_modes {
            Some(modes) => modes.iter().map(|m| m.as_str()).collect(),
            None => [Mode::Pull, Mode::Push]
                .iter()
                .map(|m| m.as_str())
                .collect(),
        };
        if terms.amount > 0 {
            rows.push(("modes", modes.join(", ")));
            rows.push((
                "fee payer",
                if terms.fee_payer {
                    "the server pays the transaction fees"
                } else {
                    "the payer pays the transaction fees"
                }
                .into(),
            ));
        }
        let legs = terms.legs();
        if !terms.splits.is_empty() {
            let lines: Vec<String> = legs
                .iter()
                .map(|l| {
                    format!(
                        "{} gets {}",
                        l.recipient.to_hex(),
                        amount(token.as_ref(), l.amount)
                    )
                })
                .collect();
            rows.push(("splits", lines.join("\n")));
        }
        if let Some(memo) = &terms.memo {
            rows.push(("memo", memo.to_hex()));
        }
        let human = |a: u128| {
            token
                .as_ref()
                .map(|t| format!("{} {}", t.format_amount(a), t.symbol))
        };
        let json = json!({
            "amount": terms.amount.to_string(),
            "display": human(terms.amount),
            "currency": terms.currency.to_hex(),
            "token": token.as_ref().map(|t| json!({
                "symbol": t.symbol,
                "decimals": t.decimals,
            })),
            "recipient": terms.recipient.to_hex(),
            "chainId": terms.chain_id,
            "modes": modes,
            "feePayer": terms.fee_payer,
            "splits": terms.splits.iter().map(|s| json!({
                "recipient": s.recipient.to_hex(),
                "amount": s.amount.to_string(),
                "display": human(s.amount),
            })).collect::<Vec<Value>>(),
            "memo": terms.memo.map(|m| m.to_hex()),
        });
        Ok(Described { rows, json })
    }
}

#[cfg(all(test, feature = "tempo"))]
mod tests {
    use super::*;

    fn request(json: Value) -> JsonObject {
        match json {
            Value::Object(o) => o,
            _ => unreachable!("an object literal"),
        }
    }

    #[test]
    fn tempo_terms_are_shown_in_the_tokens_units() {
        let path_usd = "0x20c0000000000000000000000000000000000000";
        let d = describe(
            "tempo",
            &request(serde_json::json!({
                "amount": "10000",
                "currency": path_usd,
                "recipient": "0x00000000000000000000000000000000000c0001",
                "methodDetails": {
                    "chainId": 42431,
                    "feePayer": true,
                    "supportedModes": ["pull"],
                    "splits": [{"recipient": "0x00000000000000000000000000000000000c0002", "amount": "2500"}]
                }
            })),
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.rows[0], ("amount", "10000 (0.01 pathUSD)".into()));
        assert_eq!(d.json["display"], "0.01 pathUSD");
        assert_eq!(d.json["token"]["symbol"], "pathUSD");
        assert_eq!(d.json["chainId"], 42431);
        assert_eq!(d.json["modes"], serde_json::json!(["pull"]));
        assert_eq!(d.json["feePayer"], true);
        assert_eq!(d.json["splits"][0]["display"], "0.0025 pathUSD");
        let splits = &d.rows.iter().find(|r| r.0 == "splits").unwrap().1;
        assert!(
            splits
                .contains("0x00000000000000000000000000000000000c0001 gets 7500 (0.0075 pathUSD)"),
            "{splits}"
        );

        let unknown = describe(
            "tempo",
            &request(serde_json::json!({
                "amount": "5",
                "currency": "0x00000000000000000000000000000000000000aa",
                "recipient": "0x00000000000000000000000000000000000c0001",
            })),
        )
        .unwrap()
        .unwrap();
        assert_eq!(unknown.rows[0], ("amount", "5 base units".into()));
        assert_eq!(unknown.json["display"], Value::Null);

        let bad = describe("tempo", &request(serde_json::json!({"amount": "x"}))).unwrap();
        assert!(bad.unwrap_err().contains("amount"));
        assert!(describe("preimage", &JsonObject::new()).is_none());
    }

    #[test]
    fn amounts_of_known_tokens_get_their_human_form() {
        let path_usd = "0x20C0000000000000000000000000000000000000";
        assert_eq!(amount_text(path_usd, 10_000), "10000 (0.01 pathUSD)");
        assert_eq!(amount_text("usd", 1000), "1000 usd");
        // A name is not a currency a challenge writes.
        assert_eq!(human_amount("pathUSD", 1), None);
    }
}
