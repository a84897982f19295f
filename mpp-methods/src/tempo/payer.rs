//! The client half of `tempo/charge`: [`TempoPayer`], and the [`Token`]s it knows.

use std::boxed::Box;
use std::format;
use std::string::String;
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use mpp_core::client::{Choice, PayError, PayMethod, Payment};
use mpp_core::json::{JsonObject, Value};
use mpp_core::method::BoxFuture;
use serde_json::json;

use super::key::{PrivateKey, pkh_source};
use super::memo::Memo;
use super::proof::proof_digest;
use super::receipt::{Address, TxHash};
use super::rpc::{self, RpcError, TempoRpc};
use super::terms::{Leg, Mode, TempoTerms};
use super::tip20::transfer_calldata;
use super::tx::{Call, Signature, TempoTransaction, U256};

/// A TIP-20 token a payer knows by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Its address: what `currency` names.
    pub address: Address,
    /// Its name for people (`pathUSD`).
    pub symbol: String,
    /// How many decimals its base units have.
    pub decimals: u8,
}

impl Token {
    /// The stablecoins every Tempo network has at fixed addresses: pathUSD
    /// (`0x20c0…0000`), AlphaUSD, BetaUSD and ThetaUSD (`…0001` to `…0003`), each
    /// with 6 decimals.
    pub fn predeployed() -> Vec<Token> {
        ["pathUSD", "AlphaUSD", "BetaUSD", "ThetaUSD"]
            .iter()
            .enumerate()
            .map(|(i, symbol)| {
                let mut address = [0u8; 20];
                address[..2].copy_from_slice(&[0x20, 0xc0]);
                address[19] = i as u8;
                Token {
                    address: Address::from_bytes(address),
                    symbol: (*symbol).into(),
                    decimals: 6,
                }
            })
            .collect()
    }

    /// The predeployed token named `name` (case-insensitively) or at address
    /// `name`.
    pub fn find(name: &str) -> Option<Token> {
        let address = Address::from_hex(name);
        Token::predeployed()
            .into_iter()
            .find(|t| Some(t.address) == address || t.symbol.eq_ignore_ascii_case(name))
    }

    /// `amount` base units in whole tokens: `10000` of a 6-decimal token is
    /// `0.01`.
    pub fn format_amount(&self, amount: u128) -> String {
        let scale = 10u128.pow(u32::from(self.decimals.min(38)));
        let (whole, fraction) = (amount / scale, amount % scale);
        if fraction == 0 {
            return format!("{whole}");
        }
        let digits = format!("{fraction:0width$}", width = usize::from(self.decimals));
        format!("{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// The calls paying `terms`: one transfer of the token per leg, in the terms'
/// order, the recipient's carrying the memo the terms name or else `attribution`,
/// each split's its own memo if it has one (`transferWithMemo`), none otherwise
/// (`transfer`).
fn payment_calls(terms: &TempoTerms, attribution: Memo) -> Vec<Call> {
    terms
        .legs()
        .iter()
        .enumerate()
        .map(|(i, leg)| {
            let memo = if i == 0 {
                leg.memo.or(Some(attribution))
            } else {
                leg.memo
            };
            Call {
                to: Some(terms.currency),
                value: 0,
                input: transfer_calldata(&Leg { memo, ..*leg }),
            }
        })
        .collect()
}

/// How long a payment transaction stays valid at most: the chain refuses an expiring
/// nonce valid for more than 30 seconds.
const VALIDITY_SECS: u64 = 25;

/// The client half of `tempo/charge`: checks a challenge's terms against its own
/// limits, then pays them from a local secp256k1 key.
///
/// Before anything is signed it refuses terms for another chain, in a token it was
/// not told to pay with, to a recipient outside its allowlist (when it has one), or
/// with a fee-paying server and push mode forced. Then:
///
/// - a zero amount is answered with the EIP-712 proof of its account;
/// - otherwise it signs one Tempo transaction whose calls are exactly the terms'
///   transfers, the recipient's carrying the attribution memo of the challenge
///   ([`Memo::attribution`]), with an expiring nonce valid for at most 25 seconds and
///   never past the challenge's `expires`; in pull mode (the default, where offered)
///   the credential carries it (as a `0x78` envelope when the server pays the fees),
///   in push mode the payer broadcasts it and sends its hash.
///
/// The amount caps are the spending policy's ([`mpp_core::client::SpendingPolicy`]),
/// in base units of the token's address; [`Token`] gives the names and decimals to
/// show people.
pub struct TempoPayer {
    key: PrivateKey,
    rpc: Arc<dyn TempoRpc>,
    chain_id: u64,
    tokens: Vec<Token>,
    recipients: Option<Vec<Address>>,
    mode: Option<Mode>,
    client_id: Option<String>,
    receipt_wait: Duration,
}

impl core::fmt::Debug for TempoPayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TempoPayer")
            .field("account", &self.key.address())
            .field("chain_id", &self.chain_id)
            .field("tokens", &self.tokens)
            .field("recipients", &self.recipients)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl TempoPayer {
    /// Pays from `key`'s account on chain `chain_id` through `rpc`, in pathUSD only,
    /// to any recipient, in pull mode where the terms offer it.
    pub fn new(key: PrivateKey, rpc: Arc<dyn TempoRpc>, chain_id: u64) -> TempoPayer {
        TempoPayer {
            key,
            rpc,
            chain_id,
            tokens: Token::predeployed().into_iter().take(1).collect(),
            recipients: None,
            mode: None,
            client_id: None,
            receipt_wait: rpc::DEFAULT_RPC_TIMEOUT,
        }
    }

    /// Pays in these tokens only (instead of pathUSD only).
    pub fn tokens(mut self, tokens: Vec<Token>) -> TempoPayer {
        self.tokens = tokens;
        self
    }

    /// Pays these recipients only (the primary one and every split's).
    pub fn recipients(mut self, recipients: Vec<Address>) -> TempoPayer {
        self.recipients = Some(recipients);
        self
    }

    /// Always submits in `mode`, refusing terms that do not offer it.
    pub fn mode(mut self, mode: Mode) -> TempoPayer {
        self.mode = Some(mode);
        self
    }

    /// Names this client in the attribution memo (bytes 15–24: the first 10 bytes of
    /// keccak256 of `client_id`); anonymous by default.
    pub fn client_id(mut self, client_id: impl Into<String>) -> TempoPayer {
        self.client_id = Some(client_id.into());
        self
    }

    /// The account paying.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// The chain it pays on.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The token of `address`, when this payer pays with it.
    pub fn token(&self, address: &Address) -> Option<&Token> {
        self.tokens.iter().find(|t| t.address == *address)
    }

    /// The terms of `request` and the mode this payer would use, or why it would not
    /// pay them (nothing is signed).
    pub fn check(&self, request: &JsonObject) -> Result<(TempoTerms, Option<Mode>), PayError> {
        let terms = TempoTerms::from_request(request)
            .map_err(|e| PayError::Terms(format!("tempo terms: {e}")))?;
        if terms.chain_id != self.chain_id {
            return Err(PayError::Terms(format!(
                "the terms are for chain {}, this payer pays on chain {}",
                terms.chain_id, self.chain_id
            )));
        }
        if self.token(&terms.currency).is_none() {
            return Err(PayError::Terms(format!(
                "the token {:?} is not one this payer pays with",
                terms.currency
            )));
        }
        if let Some(allowed) = &self.recipients {
            for leg in terms.legs() {
                if !allowed.contains(&leg.recipient) {
                    return Err(PayError::Terms(format!(
                        "the recipient {:?} is not one this payer pays",
                        leg.recipient
                    )));
                }
            }
        }
        if terms.amount == 0 {
            return Ok((terms, None));
        }
        let mode = match self.mode {
            // The draft forbids pushing when the server pays the fees.
            Some(Mode::Push) if terms.fee_payer => {
                return Err(PayError::Terms(
                    "the server pays the fees, which push mode cannot use".into(),
                ));
            }
            Some(mode) if terms.supports(mode) => mode,
            Some(mode) => {
                return Err(PayError::Terms(format!(
                    "the terms do not offer {} mode",
                    mode.as_str()
                )));
            }
            None if terms.supports(Mode::Pull) => Mode::Pull,
            None if terms.fee_payer => {
                return Err(PayError::Terms(
                    "the server pays the fees, yet offers push mode only".into(),
                ));
            }
            None => Mode::Push,
        };
        Ok((terms, Some(mode)))
    }

    /// The zero-amount proof of this payer's account for `choice`'s challenge.
    fn prove(&self, choice: &Choice) -> Payment {
        let digest = proof_digest(
            self.chain_id,
            &self.key.address(),
            choice.challenge.id.as_str(),
            choice.challenge.realm.as_str(),
        );
        let signature = Signature::sign(digest, self.key.as_secret_key()).to_bytes();
        let mut payload = JsonObject::new();
        payload.insert("signature".into(), super::hex::encode(&signature).into());
        payload.insert("type".into(), "proof".into());
        Payment {
            payload,
            source: Some(pkh_source(self.chain_id, &self.key.address())),
        }
    }

    /// The transaction paying `terms` for `choice`'s challenge, unsigned.
    async fn transaction(
        &self,
        terms: &TempoTerms,
        choice: &Choice,
    ) -> Result<TempoTransaction, PayError> {
        let backend = |e: RpcError| PayError::Backend(format!("the Tempo node: {e}"));
        let attribution = Memo::attribution(
            choice.challenge.id.as_str(),
            choice.challenge.realm.as_str(),
            self.client_id.as_deref(),
        );
        let calls = payment_calls(terms, attribution);
        let (_, chain_now) = rpc::latest_block(self.rpc.as_ref())
            .await
            .map_err(backend)?;
        let mut valid_before = chain_now + VALIDITY_SECS;
        if let Some(expires) = &choice.challenge.expires {
            let expires = u64::try_from(expires.unix().secs()).unwrap_or(0);
            valid_before = valid_before.min(expires);
        }
        if valid_before <= chain_now {
            return Err(PayError::Terms("the challenge has expired".into()));
        }
        let gas_price = rpc::quantity(
            &self
                .rpc
                .call("eth_gasPrice", json!([]))
                .await
                .map_err(backend)?,
        )
        .ok_or_else(|| PayError::Backend("the Tempo node: eth_gasPrice: not a quantity".into()))?;
        let max_fee_per_gas = u128::from(gas_price) * 2;
        let mut tx = TempoTransaction {
            chain_id: self.chain_id,
            max_priority_fee_per_gas: max_fee_per_gas.min(1_000_000_000),
            max_fee_per_gas,
            gas: 0,
            calls,
            access_list: Vec::new(),
            nonce_key: U256::MAX,
            nonce: 0,
            valid_before: Some(valid_before),
            valid_after: None,
            // The draft has the payer name its fee token unless the server pays.
            fee_token: (!terms.fee_payer).then_some(terms.currency),
            authorization_list: Vec::new(),
            key_authorization: None,
        };
        tx.gas = self.estimate_gas(&tx).await.map_err(backend)?;
        Ok(tx)
    }

    /// The gas `tx` needs, as the node estimates it, with a fifth more for safety.
    async fn estimate_gas(&self, tx: &TempoTransaction) -> Result<u64, RpcError> {
        let gas = rpc::estimate_gas(self.rpc.as_ref(), &self.key.address(), tx).await?;
        Ok(gas.saturating_add(gas / 5))
    }

    /// Broadcasts `raw` and waits for its receipt: push mode. The error names the
    /// transaction, whose outcome may be unknown.
    async fn push(&self, raw: &[u8], hash: &TxHash) -> Result<(), PayError> {
        let receipt = rpc::send_and_wait(
            self.rpc.as_ref(),
            raw,
            hash,
            Duration::from_millis(250),
            self.receipt_wait,
        )
        .await
        .map_err(|e| match e {
            RpcError::Rejected { .. } => PayError::Backend(format!(
                "the chain refused transaction {}: {e}",
                hash.to_hex()
            )),
            RpcError::Unavailable(_) => PayError::OutcomeUnknown(format!(
                "transaction {} was sent, its outcome is unknown: {e}",
                hash.to_hex()
            )),
        })?;
        if receipt.get("status").and_then(Value::as_str) != Some("0x1") {
            return Err(PayError::Backend(format!(
                "transaction {} failed on chain",
                hash.to_hex()
            )));
        }
        Ok(())
    }
}

impl PayMethod for TempoPayer {
    fn name(&self) -> &str {
        super::NAME
    }

    fn pay<'a>(&'a self, choice: &'a Choice) -> BoxFuture<'a, Result<Payment, PayError>> {
        Box::pin(async move {
            let (terms, mode) = self.check(&choice.request)?;
            let Some(mode) = mode else {
                return Ok(self.prove(choice));
            };
            let tx = self.transaction(&terms, choice).await?;
            let key = self.key.as_secret_key();
            let (kind, member, value) = match mode {
                Mode::Pull if terms.fee_payer => {
                    let envelope = tx.sign_as_sponsored_sender(key).encode();
                    ("transaction", "signature", super::hex::encode(&envelope))
                }
                Mode::Pull => {
                    let signed = tx.sign_as_sender(key).encode();
                    ("transaction", "signature", super::hex::encode(&signed))
                }
                Mode::Push => {
                    let signed = tx.sign_as_sender(key);
                    let hash = signed.hash();
                    self.push(&signed.encode(), &hash).await?;
                    ("hash", "hash", hash.to_hex())
                }
            };
            let mut payload = JsonObject::new();
            payload.insert(member.into(), value.into());
            payload.insert("type".into(), kind.into());
            Ok(Payment {
                payload,
                source: Some(pkh_source(self.chain_id, &self.key.address())),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempo::HttpRpc;
    use crate::tempo::tip20::read_transfer;
    use serde_json::json;
    use std::vec;

    const TO: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
    const SPLIT: &str = "0xa1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2";

    fn payer() -> TempoPayer {
        let key = PrivateKey::from_hex(
            "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        )
        .unwrap();
        // `check` never calls the node.
        TempoPayer::new(
            key,
            Arc::new(HttpRpc::new("http://127.0.0.1:9").unwrap()),
            42431,
        )
    }

    fn request(value: serde_json::Value) -> JsonObject {
        match value {
            Value::Object(o) => o,
            _ => unreachable!(),
        }
    }

    fn terms(details: serde_json::Value) -> JsonObject {
        request(json!({
            "amount": "10000",
            "currency": "0x20c0000000000000000000000000000000000000",
            "recipient": TO,
            "methodDetails": details,
        }))
    }

    #[test]
    fn predeployed_tokens_are_found_by_name_or_address() {
        let path = Token::find("pathusd").unwrap();
        assert_eq!(
            path.address.to_hex(),
            "0x20c0000000000000000000000000000000000000"
        );
        assert_eq!(
            Token::find("0x20C0000000000000000000000000000000000003")
                .unwrap()
                .symbol,
            "ThetaUSD"
        );
        assert!(Token::find("DOGE").is_none());
        assert_eq!(path.format_amount(10_000), "0.01");
        assert_eq!(path.format_amount(2_000_000), "2");
        assert_eq!(path.format_amount(1_234_567), "1.234567");
        assert_eq!(path.format_amount(0), "0");
    }

    #[test]
    fn terms_are_checked_before_anything_is_signed() {
        // req: tempo-charge.client.check-terms
        let p = payer();
        assert_eq!(
            p.check(&terms(json!({"chainId": 42431}))).unwrap().1,
            Some(Mode::Pull)
        );
        let refused = |p: &TempoPayer, request: JsonObject| match p.check(&request) {
            Err(PayError::Terms(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(refused(&p, terms(json!({"chainId": 4217}))).contains("chain 4217"));
        let mut alpha = terms(json!({"chainId": 42431}));
        alpha.insert(
            "currency".into(),
            "0x20c0000000000000000000000000000000000001".into(),
        );
        assert!(refused(&p, alpha).contains("not one this payer pays with"));
        let only_split = p.recipients(vec![Address::from_hex(TO).unwrap()]);
        let split = json!({"chainId": 42431, "splits": [{"amount": "100", "recipient": SPLIT}]});
        assert!(refused(&only_split, terms(split)).contains(SPLIT));
        let too_much =
            json!({"chainId": 42431, "splits": [{"amount": "10000", "recipient": SPLIT}]});
        assert!(refused(&payer(), terms(too_much)).contains("less than `amount`"));
    }

    #[test]
    fn the_mode_is_one_the_terms_offer_and_never_push_when_the_server_pays_fees() {
        // req: tempo-charge.modes.client-choose, tempo-charge.hash.client-not-with-fee-payer
        let push_only = terms(json!({"chainId": 42431, "supportedModes": ["push"]}));
        assert_eq!(payer().check(&push_only).unwrap().1, Some(Mode::Push));
        assert!(payer().mode(Mode::Pull).check(&push_only).is_err());
        let sponsored = terms(json!({"chainId": 42431, "feePayer": true}));
        assert_eq!(payer().check(&sponsored).unwrap().1, Some(Mode::Pull));
        assert!(payer().mode(Mode::Push).check(&sponsored).is_err());
        let sponsored_push =
            terms(json!({"chainId": 42431, "feePayer": true, "supportedModes": ["push"]}));
        assert!(payer().check(&sponsored_push).is_err());
        // req: tempo-charge.proof.zero-amount-only
        let mut free = terms(json!({"chainId": 42431}));
        free.insert("amount".into(), "0".into());
        assert_eq!(
            payer().check(&free).unwrap().1,
            None,
            "a proof, not a transfer"
        );
    }

    #[test]
    fn the_calls_carry_the_attribution_memo_or_the_terms_own() {
        // req: tempo-charge.memo.use-transfer-with-memo
        let named = Memo::from_bytes([5; 32]);
        let split_memo = Memo::from_bytes([6; 32]);
        let attribution = Memo::attribution("ch", "realm", None);
        let details = json!({"chainId": 42431, "splits": [
            {"amount": "100", "recipient": SPLIT},
            {"amount": "50", "recipient": SPLIT, "memo": split_memo.to_hex()},
        ]});
        let mut t = TempoTerms::from_request(&terms(details)).unwrap();
        let read = |calls: Vec<Call>| -> Vec<(u128, Option<Memo>)> {
            calls
                .iter()
                .map(|c| {
                    let t = read_transfer(c.to.unwrap(), &c.input).unwrap();
                    (t.amount.unwrap(), t.memo)
                })
                .collect()
        };
        assert_eq!(
            read(payment_calls(&t, attribution)),
            [
                (9_850, Some(attribution)),
                (100, None),
                (50, Some(split_memo))
            ]
        );
        t.memo = Some(named);
        assert_eq!(
            read(payment_calls(&t, attribution))[0],
            (9_850, Some(named))
        );
    }
}
