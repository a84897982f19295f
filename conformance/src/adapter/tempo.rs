//! The adapter's `tempo/charge` operations: whether a receipt or a broadcast
//! transaction pays a credential's challenge, the zero-amount proof's EIP-712 typed
//! data, and a fee sponsor's co-signature. Each is `mpp_methods::tempo`'s own check,
//! reached through the ABI; nothing here talks to a chain.
//!
//! A credential or transaction that does not hold is a `verification_error` whose
//! `class` says why; input the operation cannot use is an `invalid_request`.
//! Private keys are read, never repeated in an error.

use mpp_core::credential::Credential;
use mpp_core::json::JsonObject;
use mpp_core::time::UnixTime;
use mpp_methods::tempo::{
    AccessListItem, Address, Call, DecodedTransaction, ExpectedPayment, FeePayer, SecretKey,
    SponsorPolicy, SponsorRule, TempoTerms, TempoTransaction, TxHash, U256, check_calls,
    parse_pkh_source, verify_receipt,
};
use serde_json::{Value, json};

use super::{
    Failure, OpResult, challenge_from_json, credential_from_json, member_failure, object, optional,
    string,
};

const KIND: &str = "invalid_request";
const REFUSED: &str = "verification_error";

/// A refusal: the credential, receipt or transaction does not hold, for `class`.
fn refused(class: &'static str, message: impl ToString) -> Failure {
    Failure {
        class: Some(class),
        ..Failure::new(REFUSED, message)
    }
}

/// The sponsor rule's name with dashes, as `class` codes are written.
fn rule_class(rule: SponsorRule) -> &'static str {
    match rule {
        SponsorRule::GasLimit => "gas-limit",
        SponsorRule::FeeCaps => "fee-caps",
        SponsorRule::TotalFee => "total-fee",
        SponsorRule::ValidityWindow => "validity-window",
        SponsorRule::NonceKey => "nonce-key",
        SponsorRule::Calls => "calls",
        SponsorRule::FeeToken => "fee-token",
    }
}

/// `0x` and an even number of hex digits.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix("0x")?;
    if digits.len() % 2 != 0 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok())
        .collect()
}

fn invalid(field: &str, what: &str) -> Failure {
    Failure::new(KIND, format!("`{field}` must be {what}")).in_field(field)
}

/// The credential member of the input, and the tempo terms its challenge echoes.
fn credential_and_terms(input: &Value) -> Result<(Credential, TempoTerms), Failure> {
    let wire = input
        .get("credential")
        .filter(|c| c.is_object())
        .ok_or_else(|| member_failure(input, "credential", KIND, "a JSON object"))?;
    let credential = credential_from_json(wire, KIND)?;
    let request = credential
        .challenge
        .request
        .decode()
        .map_err(|e| Failure::parse(KIND, &e).in_field("credential.challenge.request"))?;
    let terms = TempoTerms::from_request(&request).map_err(|e| {
        Failure::new(KIND, format!("the challenge's tempo terms: {e}"))
            .in_field("credential.challenge.request")
    })?;
    Ok((credential, terms))
}

/// The payer the credential's `source` names, on the terms' chain.
fn payer(credential: &Credential, terms: &TempoTerms) -> Result<Option<Address>, Failure> {
    let Some(source) = &credential.source else {
        return Ok(None);
    };
    parse_pkh_source(source)
        .filter(|(chain, _)| *chain == terms.chain_id)
        .map(|(_, address)| Some(address))
        .ok_or_else(|| {
            refused(
                "malformed",
                format!(
                    "`source` must be did:pkh:eip155:{}:<address>",
                    terms.chain_id
                ),
            )
        })
}

/// The payload's `type`, which must be `kind` for this operation.
fn payload_member<'c>(
    credential: &'c Credential,
    kind: &str,
    member: &str,
) -> Result<&'c str, Failure> {
    let payload = &credential.payload;
    if payload.get("type").and_then(Value::as_str) != Some(kind) {
        return Err(
            Failure::new(KIND, format!("the payload's `type` must be {kind:?} here"))
                .in_field("credential.payload.type"),
        );
    }
    payload.get(member).and_then(Value::as_str).ok_or_else(|| {
        refused(
            "malformed",
            format!("the payload needs a string `{member}`"),
        )
    })
}

fn receipt_member(input: &Value) -> Result<&Value, Failure> {
    input
        .get("receipt")
        .filter(|r| r.is_object())
        .ok_or_else(|| member_failure(input, "receipt", KIND, "a JSON object"))
}

/// Whether `receipt` is the receipt of `hash` and shows `expected`.
fn check_receipt(receipt: &Value, hash: &TxHash, expected: &ExpectedPayment<'_>) -> OpResult {
    let shown = receipt
        .get("transactionHash")
        .and_then(Value::as_str)
        .and_then(TxHash::from_hex);
    if let Some(shown) = shown.filter(|shown| shown != hash) {
        return Err(refused(
            "reference",
            format!(
                "the receipt is of transaction {}, the credential's is {}",
                shown.to_hex(),
                hash.to_hex()
            ),
        ));
    }
    let reference =
        verify_receipt(receipt, expected).map_err(|e| refused(e.mismatch.as_str(), e))?;
    Ok(json!({ "status": "success", "reference": reference.to_hex() }))
}

/// `tempo.receipt.verify`: a push payment's receipt against its credential.
pub(super) fn receipt_verify(input: &Value) -> OpResult {
    let (credential, terms) = credential_and_terms(input)?;
    let receipt = receipt_member(input)?;
    let hash = payload_member(&credential, "hash", "hash")?;
    let hash = TxHash::from_hex(hash)
        .ok_or_else(|| refused("malformed", "`hash` must be 0x and 64 hex digits"))?;
    let expected = ExpectedPayment {
        terms: &terms,
        challenge_id: credential.challenge.id.as_str(),
        realm: credential.challenge.realm.as_str(),
        payer: payer(&credential, &terms)?,
    };
    check_receipt(receipt, &hash, &expected)
}

/// `tempo.transaction.verify`: a pull payment's transaction, then the receipt its
/// broadcast produced.
pub(super) fn transaction_verify(input: &Value) -> OpResult {
    let (credential, terms) = credential_and_terms(input)?;
    let receipt = receipt_member(input)?;
    let signature = payload_member(&credential, "transaction", "signature")?;
    let bytes = hex_bytes(signature).ok_or_else(|| {
        refused(
            "malformed",
            "`signature` must be 0x and the transaction's bytes in hex",
        )
    })?;
    let signed = match TempoTransaction::decode(&bytes) {
        Ok(DecodedTransaction::Signed(signed)) => signed,
        Ok(DecodedTransaction::FeePayerEnvelope(_)) => {
            return Err(refused(
                "malformed",
                "a fee-payer envelope is never broadcast: the sponsor's co-signed 0x76 \
                 transaction is",
            ));
        }
        Err(e) => {
            return Err(refused(
                "malformed",
                format!("`signature` is not a Tempo transaction: {e}"),
            ));
        }
    };
    if signed.tx.chain_id != terms.chain_id {
        return Err(refused(
            "chain",
            format!(
                "the transaction is for chain {}, the terms for chain {}",
                signed.tx.chain_id, terms.chain_id
            ),
        ));
    }
    let expected = ExpectedPayment {
        terms: &terms,
        challenge_id: credential.challenge.id.as_str(),
        realm: credential.challenge.realm.as_str(),
        payer: payer(&credential, &terms)?,
    };
    check_calls(&signed.tx, &expected).map_err(|e| refused(e.mismatch.as_str(), e))?;
    // Other signature kinds than secp256k1 are left to the receipt's `from`.
    if let (Some(payer), Ok(sender)) = (expected.payer, signed.recover_sender()) {
        if sender != payer {
            return Err(refused(
                "payer",
                format!("the transaction is signed by {sender:?}, the source names {payer:?}"),
            ));
        }
    }
    check_receipt(receipt, &signed.hash(), &expected)
}

/// A chain id: a JSON number or decimal text.
fn chain_id(input: &Value, field: &str) -> Result<u64, Failure> {
    match input.get(field) {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| member_failure(input, field, KIND, "a chain id (a number)"))
}

/// `tempo.proof.typed_data`: the EIP-712 typed data of the zero-amount proof, in
/// the form viem signs (mppx's `Proof.typedData`, which lists no `EIP712Domain`).
pub(super) fn proof_typed_data(input: &Value) -> OpResult {
    let chain_id = chain_id(input, "chainId")?;
    let challenge_id = string(input, "challengeId", KIND)?;
    let realm = string(input, "realm", KIND)?;
    let field = |name: &str, ty: &str| json!({ "name": name, "type": ty });
    Ok(match optional(input, "account", KIND)? {
        Some(account) => {
            Address::from_hex(account).ok_or_else(|| invalid("account", "0x and 40 hex digits"))?;
            json!({
                "domain": { "name": "MPP", "version": "3", "chainId": chain_id },
                "types": { "Proof": [
                    field("account", "address"),
                    field("challengeId", "string"),
                    field("realm", "string"),
                ]},
                "primaryType": "Proof",
                "message": { "account": account, "challengeId": challenge_id, "realm": realm },
            })
        }
        None => json!({
            "domain": { "name": "MPP", "version": "2", "chainId": chain_id },
            "types": { "Proof": [field("challengeId", "string"), field("realm", "string")] },
            "primaryType": "Proof",
            "message": { "challengeId": challenge_id, "realm": realm },
        }),
    })
}

/// A secp256k1 key given as hex; the error never repeats it.
fn secret_key(input: &Value, field: &str) -> Result<SecretKey, Failure> {
    let text = string(input, field, KIND)?.trim();
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex_bytes(&format!("0x{digits}"))
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| SecretKey::from_byte_array(bytes).ok())
        .ok_or_else(|| invalid(field, "a secp256k1 private key (64 hex digits)"))
}

fn address(value: Option<&Value>, field: &str) -> Result<Address, Failure> {
    value
        .and_then(Value::as_str)
        .and_then(Address::from_hex)
        .ok_or_else(|| invalid(field, "an address (0x and 40 hex digits)"))
}

/// An unsigned number: a JSON number, decimal text, or `0x` hex; `now+N` (with
/// `relative`) is `now` plus N seconds.
fn quantity(value: Option<&Value>, field: &str, now: Option<UnixTime>) -> Result<u128, Failure> {
    let bad = || invalid(field, "a number (JSON, decimal text or 0x hex)");
    match value {
        Some(Value::Number(n)) => n.as_u64().map(u128::from).ok_or_else(bad),
        Some(Value::String(s)) => {
            if let (Some(now), Some(offset)) = (now, s.strip_prefix("now+")) {
                let offset: u128 = offset.parse().map_err(|_| bad())?;
                let now = u128::try_from(now.secs()).map_err(|_| bad())?;
                return now.checked_add(offset).ok_or_else(bad);
            }
            let parsed = match s.strip_prefix("0x") {
                Some(digits) if !digits.is_empty() && digits.len() <= 32 => {
                    u128::from_str_radix(digits, 16).ok()
                }
                Some(_) => None,
                None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
                None => None,
            };
            parsed.ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

fn narrow<T: TryFrom<u128>>(value: u128, field: &str) -> Result<T, Failure> {
    T::try_from(value).map_err(|_| invalid(field, "a smaller number"))
}

/// A nonce key: `"max"` (2^256 - 1, the expiring nonces), hex of up to 32 bytes, or
/// a number.
fn nonce_key(value: Option<&Value>, field: &str) -> Result<U256, Failure> {
    if let Some(Value::String(s)) = value {
        if s == "max" {
            return Ok(U256::MAX);
        }
        if let Some(digits) = s.strip_prefix("0x").filter(|d| d.len() > 32) {
            let padded = format!("0x{digits:0>64}");
            return hex_bytes(&padded)
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .map(U256::from_be_bytes)
                .ok_or_else(|| invalid(field, "\"max\" or a number below 2^256"));
        }
    }
    quantity(value, field, None).map(U256::from_u128)
}

/// The `transaction` member of `tempo.fee_payer.cosign`.
fn transaction_from_json(input: &Value, now: UnixTime) -> Result<TempoTransaction, Failure> {
    let tx = input
        .get("transaction")
        .filter(|t| t.is_object())
        .ok_or_else(|| member_failure(input, "transaction", KIND, "a JSON object"))?;
    let at = |name: &str| format!("transaction.{name}");
    let number = |name: &str| quantity(tx.get(name), &at(name), None);
    let optional_time = |name: &str| match tx.get(name) {
        None | Some(Value::Null) => Ok(None),
        value => quantity(value, &at(name), Some(now))
            .and_then(|t| narrow(t, &at(name)))
            .map(Some),
    };
    let calls = tx
        .get("calls")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(&at("calls"), "an array"))?
        .iter()
        .enumerate()
        .map(|(i, call)| {
            let here = |name: &str| format!("transaction.calls[{i}].{name}");
            let to = match call.get("to") {
                None | Some(Value::Null) => None,
                to => Some(address(to, &here("to"))?),
            };
            let value = match call.get("value") {
                None | Some(Value::Null) => 0,
                value => quantity(value, &here("value"), None)?,
            };
            let input = match call.get("data") {
                None | Some(Value::Null) => Vec::new(),
                Some(data) => data
                    .as_str()
                    .and_then(hex_bytes)
                    .ok_or_else(|| invalid(&here("data"), "0x and hex bytes"))?,
            };
            Ok(Call { to, value, input })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    let access_list = match tx.get("accessList") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => list
            .as_array()
            .ok_or_else(|| invalid(&at("accessList"), "an array"))?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let here = |name: &str| format!("transaction.accessList[{i}].{name}");
                let storage_keys = match item.get("storageKeys") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(keys) => keys
                        .as_array()
                        .ok_or_else(|| invalid(&here("storageKeys"), "an array"))?
                        .iter()
                        .map(|key| {
                            key.as_str()
                                .and_then(hex_bytes)
                                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                                .ok_or_else(|| invalid(&here("storageKeys"), "32-byte hex words"))
                        })
                        .collect::<Result<Vec<_>, Failure>>()?,
                };
                Ok(AccessListItem {
                    address: address(item.get("address"), &here("address"))?,
                    storage_keys,
                })
            })
            .collect::<Result<Vec<_>, Failure>>()?,
    };
    let fee_token = match tx.get("feeToken") {
        None | Some(Value::Null) => None,
        token => Some(address(token, &at("feeToken"))?),
    };
    Ok(TempoTransaction {
        chain_id: narrow(number("chainId")?, &at("chainId"))?,
        max_priority_fee_per_gas: number("maxPriorityFeePerGas")?,
        max_fee_per_gas: number("maxFeePerGas")?,
        gas: narrow(number("gasLimit")?, &at("gasLimit"))?,
        calls,
        access_list,
        nonce_key: nonce_key(tx.get("nonceKey"), &at("nonceKey"))?,
        nonce: narrow(number("nonce")?, &at("nonce"))?,
        valid_before: optional_time("validBefore")?,
        valid_after: optional_time("validAfter")?,
        fee_token,
        authorization_list: Vec::new(),
        key_authorization: None,
    })
}

/// `tempo.fee_payer.cosign`: the payer signs the sponsored form of the transaction,
/// the sponsor checks it against its policy (and, given a challenge, against the
/// terms), then co-signs.
pub(super) fn fee_payer_cosign(input: &Value, now: UnixTime) -> OpResult {
    let payer = secret_key(input, "payerPrivateKey")?;
    let sponsor = secret_key(input, "feePayerPrivateKey")?;
    let fee_token = address(input.get("feeToken"), "feeToken")?;
    let request: &JsonObject = object(input, "request", KIND)?;
    let tx = transaction_from_json(input, now)?;
    let challenge = match input.get("challenge") {
        None | Some(Value::Null) => None,
        Some(c) => Some(challenge_from_json(c, KIND, "challenge.")?),
    };
    let mut envelope = tx.sign_as_sponsored_sender(&payer);
    // The sender's signature leaves the fee token out; the envelope it hands over
    // may still name one, which the sponsor's policy then judges.
    envelope.tx.fee_token = tx.fee_token;
    let secs = |t: UnixTime| u64::try_from(t.secs()).unwrap_or(0);
    let expires = challenge
        .as_ref()
        .and_then(|c| c.expires.as_ref())
        .map(|t| secs(t.unix()));
    SponsorPolicy::new(fee_token)
        .check(&envelope.tx, secs(now), expires)
        .map_err(|r| refused(rule_class(r.rule), r))?;
    if let Some(challenge) = &challenge {
        let terms = TempoTerms::from_request(request)
            .map_err(|e| Failure::new(KIND, format!("the tempo terms: {e}")).in_field("request"))?;
        let expected = ExpectedPayment {
            terms: &terms,
            challenge_id: challenge.id.as_str(),
            realm: challenge.realm.as_str(),
            payer: Some(envelope.sender),
        };
        let calls = rule_class(SponsorRule::Calls);
        if envelope.tx.chain_id != terms.chain_id {
            return Err(refused(
                calls,
                format!(
                    "the sponsor refuses it (calls): the transaction is for chain {}, the terms for chain {}",
                    envelope.tx.chain_id, terms.chain_id
                ),
            ));
        }
        check_calls(&envelope.tx, &expected).map_err(|e| {
            refused(
                calls,
                format!("the sponsor refuses it (calls): they do not pay the terms: {e}"),
            )
        })?;
    }
    let cosigned = envelope
        .cosign(&sponsor, Some(fee_token))
        .map_err(|e| Failure::new(KIND, format!("the payer's signature: {e}")))?;
    let bytes = cosigned.encode();
    let Ok(DecodedTransaction::Signed(result)) = TempoTransaction::decode(&bytes) else {
        return Err(Failure::new(
            KIND,
            "the co-signed transaction does not decode",
        ));
    };
    let mut out = JsonObject::new();
    out.insert(
        "type".into(),
        format!("0x{:02x}", bytes.first().copied().unwrap_or_default()).into(),
    );
    if let Some(token) = result.tx.fee_token {
        out.insert("feeToken".into(), token.to_hex().into());
    }
    out.insert(
        "feePayerSignaturePresent".into(),
        matches!(result.fee_payer, FeePayer::Signed(_)).into(),
    );
    out.insert(
        "accessListLength".into(),
        result.tx.access_list.len().into(),
    );
    out.insert("callCount".into(), result.tx.calls.len().into());
    Ok(Value::Object(out))
}
