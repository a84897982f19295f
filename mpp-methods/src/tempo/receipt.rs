//! Whether a transaction receipt, as `eth_getTransactionReceipt` returns it, shows the
//! payment a challenge asked for: the push mode's check, and the last check of the
//! pull mode once the server has broadcast the payer's transaction.
//!
//! What counts is what the token contract logged, not what the transaction says it
//! meant to do: a `TransferWithMemo` event emitted by the challenge's `currency`,
//! from the payer to the recipient, of exactly the amount, whose memo attributes the
//! payment to this challenge of this server (see [`Memo`]). A reverted transaction
//! pays nothing, whatever it logged before reverting.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use mpp_core::json::Value;

use super::hex;
use super::memo::{Memo, keccak256};
use super::terms::TempoTerms;

/// A 20-byte account or contract address.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address([u8; 20]);

impl Address {
    /// The address of these bytes.
    pub const fn from_bytes(bytes: [u8; 20]) -> Address {
        Address(bytes)
    }

    /// `0x` and 40 hex digits, in any case (the mixed-case checksum is not checked:
    /// it guards typing, and these come from machines); `None` otherwise.
    pub fn from_hex(text: &str) -> Option<Address> {
        hex::decode(text).map(Address)
    }

    /// `0x` and 40 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// The 20 bytes.
    pub const fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A transaction hash: a payment's receipt `reference`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxHash([u8; 32]);

impl TxHash {
    /// The hash of these bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> TxHash {
        TxHash(bytes)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `0x` and 64 hex digits; `None` otherwise.
    pub fn from_hex(text: &str) -> Option<TxHash> {
        hex::decode(text).map(TxHash)
    }

    /// `0x` and 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl fmt::Debug for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The payment a challenge asks for.
#[derive(Debug, Clone)]
pub struct ExpectedPayment<'a> {
    /// The challenge's terms: token, recipients and amounts.
    pub terms: &'a TempoTerms,
    /// The challenge's id, which the memo must name.
    pub challenge_id: &'a str,
    /// The server's realm, which the memo must name.
    pub realm: &'a str,
    /// Who must have paid, when the credential names a `source`.
    pub payer: Option<Address>,
}

/// Why a receipt (or a transaction's calls) does not show the payment, in the
/// order it is checked (a later one means a transfer came closer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mismatch {
    /// Not a receipt as JSON-RPC writes one (missing or malformed members), or
    /// calls that are not token transfers.
    Malformed,
    /// The transaction reverted.
    Status,
    /// No transfer of the challenge's token.
    Token,
    /// The token's transfers pay someone else.
    Recipient,
    /// A transfer to the recipient, of another amount.
    Amount,
    /// A transfer of the amount to the recipient, whose memo does not attribute it
    /// to this challenge of this server (or a plain `Transfer`, with no memo), or
    /// is not the memo the terms name.
    Memo,
    /// The right transfer, from another payer than the credential's `source`.
    Payer,
}

impl Mismatch {
    /// A word naming it: `malformed`, `status`, `token`, `recipient`, `amount`,
    /// `memo` or `payer`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Mismatch::Malformed => "malformed",
            Mismatch::Status => "status",
            Mismatch::Token => "token",
            Mismatch::Recipient => "recipient",
            Mismatch::Amount => "amount",
            Mismatch::Memo => "memo",
            Mismatch::Payer => "payer",
        }
    }
}

/// A receipt that does not show the payment: why, and a detail for people (no
/// secrets: everything in a receipt is public).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptError {
    /// What did not match.
    pub mismatch: Mismatch,
    /// What was found instead.
    pub detail: String,
}

impl ReceiptError {
    pub(super) fn new(mismatch: Mismatch, detail: impl Into<String>) -> ReceiptError {
        ReceiptError {
            mismatch,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.mismatch.as_str(), self.detail)
    }
}

impl core::error::Error for ReceiptError {}

/// keccak256 of the event signatures the check reads.
fn topic(signature: &str) -> [u8; 32] {
    keccak256(signature.as_bytes())
}

/// One token transfer: a `TransferWithMemo` or plain `Transfer` event of a receipt,
/// or a `transferWithMemo`/`transfer` call of a transaction.
#[derive(Debug, Clone, Copy)]
pub(super) struct Transfer {
    pub(super) token: Address,
    /// `None` for a call, whose sender the chain decides.
    pub(super) from: Option<Address>,
    pub(super) to: Address,
    /// `None` when the amount does not fit in 128 bits (then it matches nothing).
    pub(super) amount: Option<u128>,
    /// `None` for a plain transfer.
    pub(super) memo: Option<Memo>,
}

/// The transaction hash of `receipt` when it shows `expected`; otherwise why not.
///
/// Every leg of the terms (the recipient's share and each split) must be a distinct
/// transfer of the challenge's token, whatever their order; the recipient's share
/// must carry the memo the terms name or, when they name none, the attribution memo
/// of this challenge and realm ([`Memo::binds`]); a split's carries its own memo
/// when the terms give one. When a leg finds no transfer, the error names the check
/// the closest one failed: a transfer of the right token to the right recipient
/// with a wrong memo reports `memo`, not `recipient`.
pub fn verify_receipt(
    receipt: &Value,
    expected: &ExpectedPayment<'_>,
) -> Result<TxHash, ReceiptError> {
    let malformed = |detail: &str| ReceiptError::new(Mismatch::Malformed, detail);
    let hash = receipt
        .get("transactionHash")
        .and_then(Value::as_str)
        .and_then(TxHash::from_hex)
        .ok_or_else(|| malformed("no transactionHash"))?;
    match receipt.get("status").and_then(Value::as_str) {
        Some("0x1") => {}
        Some(other) => {
            return Err(ReceiptError::new(
                Mismatch::Status,
                format!("the transaction failed (status {other})"),
            ));
        }
        None => return Err(malformed("no status")),
    }
    let logs = receipt
        .get("logs")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no logs"))?;
    let mut transfers = Vec::new();
    for log in logs {
        transfers.extend(transfer_of(log).map_err(|detail| malformed(&detail))?);
    }
    match_legs(&transfers, expected)?;
    Ok(hash)
}

/// Which of `transfers` pays each leg of `expected` (indexes, in the order of
/// [`TempoTerms::legs`]), each transfer paying at most one leg.
pub(super) fn match_legs(
    transfers: &[Transfer],
    expected: &ExpectedPayment<'_>,
) -> Result<Vec<usize>, ReceiptError> {
    let terms = expected.terms;
    let legs = terms.legs();
    // Legs with a named memo take their transfer first, so that a leg taking any
    // memo cannot use up the one a memo-bound leg needs.
    let mut order: Vec<usize> = (0..legs.len()).collect();
    order.sort_by_key(|&i| legs[i].memo.is_none());
    let mut used = alloc::vec![false; transfers.len()];
    let mut matched = alloc::vec![0; legs.len()];
    let mut bound = false;
    for i in order {
        let leg = &legs[i];
        // The recipient's share binds the payment to this challenge unless the
        // terms name its memo themselves.
        let must_bind = i == 0 && leg.memo.is_none();
        let mut closest: Option<(Mismatch, String)> = None;
        let mut found = None;
        for (t_index, t) in transfers.iter().enumerate() {
            let binds = t
                .memo
                .is_some_and(|m| m.binds(expected.challenge_id, expected.realm));
            let failed = if t.token != terms.currency {
                Some((
                    Mismatch::Token,
                    format!("a transfer of token {:?}", t.token),
                ))
            } else if t.to != leg.recipient {
                Some((Mismatch::Recipient, format!("a transfer to {:?}", t.to)))
            } else if t.amount != Some(leg.amount) {
                let amount = t
                    .amount
                    .map_or_else(|| "more than 2^128".into(), |a| format!("{a}"));
                Some((
                    Mismatch::Amount,
                    format!("a transfer of {amount} to {:?}", t.to),
                ))
            } else if let Some(memo) = leg.memo.filter(|m| t.memo != Some(*m)) {
                Some((
                    Mismatch::Memo,
                    format!(
                        "a transfer without the memo {} the terms name",
                        memo.to_hex()
                    ),
                ))
            } else if must_bind && !binds {
                let detail = match t.memo {
                    None => "a plain transfer, without the challenge's memo".into(),
                    Some(m) => {
                        format!("a transfer with memo {}, not this challenge's", m.to_hex())
                    }
                };
                Some((Mismatch::Memo, detail))
            } else if expected
                .payer
                .is_some_and(|payer| t.from.is_some_and(|from| from != payer))
            {
                Some((Mismatch::Payer, format!("a transfer from {:?}", t.from)))
            } else {
                None
            };
            // A transfer that pays another leg already pays nothing here.
            let failed = match failed {
                None if used[t_index] => Some((
                    Mismatch::Amount,
                    format!(
                        "no transfer of {} to {:?} besides those paying other legs",
                        leg.amount, leg.recipient
                    ),
                )),
                f => f,
            };
            match failed {
                // A transfer that also binds the challenge is the better match.
                None if binds => {
                    found = Some(t_index);
                    break;
                }
                None => found = found.or(Some(t_index)),
                Some(f) if closest.as_ref().is_none_or(|c| f.0 > c.0) => closest = Some(f),
                Some(_) => {}
            }
        }
        let Some(t_index) = found else {
            let (mismatch, detail) =
                closest.unwrap_or((Mismatch::Token, "no token transfer".into()));
            return Err(ReceiptError::new(mismatch, detail));
        };
        used[t_index] = true;
        matched[i] = t_index;
        bound |= transfers[t_index]
            .memo
            .is_some_and(|m| m.binds(expected.challenge_id, expected.realm));
    }
    if !bound {
        return Err(ReceiptError::new(
            Mismatch::Memo,
            "no transfer carries this challenge's attribution memo",
        ));
    }
    Ok(matched)
}

/// The transfer a log records, if it is one; `Err` for a log that is not a log.
fn transfer_of(log: &Value) -> Result<Option<Transfer>, String> {
    let token = log
        .get("address")
        .and_then(Value::as_str)
        .and_then(Address::from_hex)
        .ok_or("a log without an address")?;
    let topics: alloc::vec::Vec<[u8; 32]> = log
        .get("topics")
        .and_then(Value::as_array)
        .ok_or("a log without topics")?
        .iter()
        .map(|t| t.as_str().and_then(hex::decode::<32>))
        .collect::<Option<_>>()
        .ok_or("a log topic that is not 32 bytes of hex")?;
    let with_memo = topic("TransferWithMemo(address,address,uint256,bytes32)");
    let plain = topic("Transfer(address,address,uint256)");
    let memo = match topics.first() {
        Some(t) if *t == with_memo && topics.len() == 4 => Some(Memo::from_bytes(topics[3])),
        Some(t) if *t == plain && topics.len() == 3 => None,
        _ => return Ok(None),
    };
    let address = |word: &[u8; 32]| {
        let mut a = [0u8; 20];
        a.copy_from_slice(&word[12..]);
        (word[..12] == [0; 12]).then_some(Address(a))
    };
    let (Some(from), Some(to)) = (address(&topics[1]), address(&topics[2])) else {
        return Err("a transfer topic that is not an address".into());
    };
    let data = log
        .get("data")
        .and_then(Value::as_str)
        .and_then(hex::decode::<32>)
        .ok_or("a transfer whose data is not one 32-byte amount")?;
    let amount = (data[..16] == [0; 16]).then(|| {
        let mut low = [0u8; 16];
        low.copy_from_slice(&data[16..]);
        u128::from_be_bytes(low)
    });
    Ok(Some(Transfer {
        token,
        from: Some(from),
        to,
        amount,
        memo,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempo::Leg;
    use serde_json::json;

    const TOKEN: &str = "0x20c0000000000000000000000000000000000000";
    const PAYER: &str = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
    const RECIPIENT: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
    const HASH: &str = "0xdbc032a86e7940f7e276ef3a1869077a73f2a39068159d357ccfcff9af647ddd";

    fn word(address: &str) -> String {
        format!("0x{:0>64}", address.trim_start_matches("0x"))
    }

    fn log(token: &str, to: &str, amount: u128, memo: Option<Memo>) -> Value {
        let mut topics = alloc::vec![word(PAYER), word(to)];
        let signature = match memo {
            Some(m) => {
                topics.push(m.to_hex());
                "TransferWithMemo(address,address,uint256,bytes32)"
            }
            None => "Transfer(address,address,uint256)",
        };
        topics.insert(0, hex::encode(&topic(signature)));
        json!({ "address": token, "topics": topics, "data": format!("0x{amount:064x}") })
    }

    fn receipt(status: &str, logs: &[Value]) -> Value {
        json!({ "transactionHash": HASH, "status": status, "logs": logs })
    }

    fn expected() -> ExpectedPayment<'static> {
        let terms = TempoTerms::new(
            10_000,
            Address::from_hex(TOKEN).unwrap(),
            Address::from_hex(RECIPIENT).unwrap(),
            42431,
        );
        ExpectedPayment {
            terms: alloc::boxed::Box::leak(alloc::boxed::Box::new(terms)),
            challenge_id: "ch_1",
            realm: "api.example.com",
            payer: None,
        }
    }

    fn memo() -> Memo {
        Memo::attribution("ch_1", "api.example.com", None)
    }

    fn mismatch(receipt: &Value, expected: &ExpectedPayment<'_>) -> Mismatch {
        verify_receipt(receipt, expected).unwrap_err().mismatch
    }

    #[test]
    fn the_event_topics_are_the_ones_the_chain_emits() {
        // As seen on the local Tempo chain (the kit's wire facts).
        assert_eq!(
            hex::encode(&topic("TransferWithMemo(address,address,uint256,bytes32)")),
            "0x57bc7354aa85aed339e000bccffabbc529466af35f0772c8f8ee1145927de7f0"
        );
        assert_eq!(
            hex::encode(&topic("Transfer(address,address,uint256)")),
            "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
        );
    }

    #[test]
    fn a_matching_transfer_with_the_memo_pays() {
        let logs = [
            log(TOKEN, RECIPIENT, 10_000, None),
            log(TOKEN, RECIPIENT, 10_000, Some(memo())),
        ];
        let hash = verify_receipt(&receipt("0x1", &logs), &expected()).unwrap();
        assert_eq!(hash.to_hex(), HASH);
        let mut from_payer = expected();
        from_payer.payer = Address::from_hex(PAYER);
        assert!(verify_receipt(&receipt("0x1", &logs), &from_payer).is_ok());
    }

    #[test]
    fn each_mismatch_is_named() {
        let other = "0x000000000000000000000000000000000000dead";
        let ok = |logs: &[Value]| receipt("0x1", logs);
        let e = expected();
        assert_eq!(
            mismatch(
                &receipt("0x0", &[log(TOKEN, RECIPIENT, 10_000, Some(memo()))]),
                &e
            ),
            Mismatch::Status
        );
        assert_eq!(mismatch(&ok(&[]), &e), Mismatch::Token);
        assert_eq!(
            mismatch(&ok(&[log(other, RECIPIENT, 10_000, Some(memo()))]), &e),
            Mismatch::Token
        );
        assert_eq!(
            mismatch(&ok(&[log(TOKEN, other, 10_000, Some(memo()))]), &e),
            Mismatch::Recipient
        );
        assert_eq!(
            mismatch(&ok(&[log(TOKEN, RECIPIENT, 9_999, Some(memo()))]), &e),
            Mismatch::Amount
        );
        assert_eq!(
            mismatch(&ok(&[log(TOKEN, RECIPIENT, 10_000, None)]), &e),
            Mismatch::Memo
        );
        let elsewhere = Memo::attribution("ch_2", "api.example.com", None);
        assert_eq!(
            mismatch(&ok(&[log(TOKEN, RECIPIENT, 10_000, Some(elsewhere))]), &e),
            Mismatch::Memo
        );
        let mut from_other = expected();
        from_other.payer = Address::from_hex(other);
        assert_eq!(
            mismatch(
                &ok(&[log(TOKEN, RECIPIENT, 10_000, Some(memo()))]),
                &from_other
            ),
            Mismatch::Payer
        );
        // The closest transfer names the mismatch, whatever the order of the logs.
        let logs = [
            log(other, RECIPIENT, 10_000, Some(memo())),
            log(TOKEN, RECIPIENT, 10_000, None),
        ];
        assert_eq!(mismatch(&ok(&logs), &e), Mismatch::Memo);
    }

    #[test]
    fn splits_are_matched_in_any_order_each_transfer_once() {
        // req: tempo-charge.splits.order-insensitive
        let split = "0x00000000000000000000000000000000000000aa";
        let tagged = Memo::from_bytes([9; 32]);
        let mut terms = expected().terms.clone();
        terms.splits = alloc::vec![
            Leg {
                recipient: Address::from_hex(split).unwrap(),
                amount: 100,
                memo: None
            },
            Leg {
                recipient: Address::from_hex(split).unwrap(),
                amount: 100,
                memo: None
            },
            Leg {
                recipient: Address::from_hex(split).unwrap(),
                amount: 50,
                memo: Some(tagged)
            },
        ];
        let e = ExpectedPayment {
            terms: &terms,
            ..expected()
        };
        let ok = |logs: &[Value]| receipt("0x1", logs);
        // The recipient gets 10_000 - 250, with the challenge's memo.
        let all = [
            log(TOKEN, split, 50, Some(tagged)),
            log(TOKEN, split, 100, None),
            log(TOKEN, RECIPIENT, 9_750, Some(memo())),
            log(TOKEN, split, 100, Some(Memo::from_bytes([1; 32]))),
        ];
        assert!(verify_receipt(&ok(&all), &e).is_ok());
        // One transfer cannot pay two equal legs.
        assert_eq!(mismatch(&ok(&all[..3]), &e), Mismatch::Amount);
        // A split with a named memo needs that memo.
        let mut untagged = all.clone();
        untagged[0] = log(TOKEN, split, 50, None);
        assert_eq!(mismatch(&ok(&untagged), &e), Mismatch::Memo);
        // The whole amount to the recipient does not pay the splits' shares: no
        // transfer goes to the split's recipient.
        assert_eq!(
            mismatch(&ok(&[log(TOKEN, RECIPIENT, 10_000, Some(memo()))]), &e),
            Mismatch::Recipient
        );
    }

    #[test]
    fn an_amount_beyond_128_bits_matches_nothing() {
        let mut huge = log(TOKEN, RECIPIENT, 10_000, Some(memo()));
        huge["data"] = format!("0x{}{:032x}", "0".repeat(31) + "1", 10_000u128).into();
        assert_eq!(
            mismatch(&receipt("0x1", &[huge]), &expected()),
            Mismatch::Amount
        );
    }

    #[test]
    fn malformed_receipts_are_named_not_panicked_on() {
        let good = log(TOKEN, RECIPIENT, 10_000, Some(memo()));
        let mut bad_topic = good.clone();
        bad_topic["topics"][2] = "0x12".into();
        let mut dirty_address = good.clone();
        dirty_address["topics"][2] = format!("0x01{}", &word(RECIPIENT)[4..]).into();
        let mut short_data = good.clone();
        short_data["data"] = "0x2710".into();
        for receipt in [
            json!(null),
            json!({ "status": "0x1", "logs": [] }),
            json!({ "transactionHash": "0x12", "status": "0x1", "logs": [] }),
            json!({ "transactionHash": HASH, "logs": [] }),
            json!({ "transactionHash": HASH, "status": "0x1" }),
            receipt("0x1", &[json!({ "topics": [] })]),
            receipt("0x1", &[bad_topic]),
            receipt("0x1", &[dirty_address]),
            receipt("0x1", &[short_data]),
        ] {
            assert_eq!(
                mismatch(&receipt, &expected()),
                Mismatch::Malformed,
                "{receipt}"
            );
        }
        // A log of another event is skipped, not refused.
        let other_event =
            json!({ "address": TOKEN, "topics": [hex::encode(&[7; 32])], "data": "0x" });
        assert_eq!(
            mismatch(&receipt("0x1", &[other_event]), &expected()),
            Mismatch::Token
        );
    }
}
