//! The server half of `tempo/charge`: [`TempoCharge`] and its [`SponsorPolicy`].

use std::boxed::Box;
use std::format;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mpp_core::json::{JsonObject, Value};
use mpp_core::method::{BoxFuture, Charge, ChargeMethod, MethodError, Settlement, UsedReferences};
use mpp_core::time::{Clock, system_clock};

use super::key::PrivateKey;
use super::proof::{ProofError, parse_pkh_source, verify_proof};
use super::receipt::{
    Address, ExpectedPayment, Mismatch, ReceiptError, TxHash, match_legs, verify_receipt,
};
use super::rpc::{self, RpcError, TempoRpc};
use super::terms::{Mode, TempoTerms, TermsError};
use super::tip20::read_transfer;
use super::tx::{DecodedTransaction, FeePayer, FeePayerEnvelope, TempoTransaction, U256};

/// Why a `tempo/charge` credential was refused, or could not be settled.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TempoChargeError {
    /// The payload does not have the draft's shape: no `type`, an unknown one, a
    /// `hash` or `signature` that is not hex of the right length, a transaction that
    /// does not decode.
    MalformedPayload(String),
    /// The challenge's terms are not `tempo/charge` terms this server settles
    /// (another chain, fee sponsoring without a sponsor key, …).
    InvalidTerms(TermsError),
    /// The payload's kind is not one the terms accept: `hash` or `transaction` where
    /// `supportedModes` does not offer it, `hash` when the server pays the fees, a
    /// transfer for a zero amount or a proof for a non-zero one.
    ModeNotOffered(String),
    /// The transaction does not show the payment: its receipt (push, or once
    /// broadcast) or its calls (pull, before broadcasting).
    Mismatch(ReceiptError),
    /// A pull transaction the server will not broadcast as it stands: another
    /// chain, an expired or too long validity window, delegations, or outside the
    /// sponsor policy.
    Refused(String),
    /// The chain knows no transaction with this hash.
    UnknownTransaction,
    /// The chain refused the transaction when it was broadcast.
    BroadcastRejected(String),
    /// The zero-amount proof does not hold.
    Proof(ProofError),
    /// This transaction has already paid another challenge.
    AlreadyUsed,
    /// The node or the record of spent hashes could not answer; nothing was
    /// granted, and the same credential may be sent again.
    Unavailable(String),
}

impl core::fmt::Display for TempoChargeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TempoChargeError::MalformedPayload(m)
            | TempoChargeError::ModeNotOffered(m)
            | TempoChargeError::Refused(m) => f.write_str(m),
            TempoChargeError::InvalidTerms(e) => write!(f, "the tempo terms do not hold: {e}"),
            TempoChargeError::Mismatch(e) => write!(f, "the transaction does not pay: {e}"),
            TempoChargeError::UnknownTransaction => {
                f.write_str("the chain knows no transaction with this hash")
            }
            TempoChargeError::BroadcastRejected(m) => {
                write!(f, "the chain refused the transaction: {m}")
            }
            TempoChargeError::Proof(e) => e.fmt(f),
            TempoChargeError::AlreadyUsed => {
                f.write_str("this transaction hash has already been used")
            }
            TempoChargeError::Unavailable(m) => write!(f, "cannot settle now: {m}"),
        }
    }
}

impl std::error::Error for TempoChargeError {}

impl From<TempoChargeError> for MethodError {
    /// `invalid-payload` for a malformed payload, `internal-payment-error` when the
    /// node or the record could not answer, `verification-failed` otherwise.
    fn from(e: TempoChargeError) -> MethodError {
        match e {
            TempoChargeError::MalformedPayload(m) => MethodError::InvalidPayload(m),
            TempoChargeError::Unavailable(_) => MethodError::Internal(e.to_string()),
            _ => MethodError::VerificationFailed(e.to_string()),
        }
    }
}

impl From<RpcError> for TempoChargeError {
    fn from(e: RpcError) -> TempoChargeError {
        TempoChargeError::Unavailable(e.to_string())
    }
}

/// The payload's kind.
enum Payload {
    Hash(TxHash),
    Transaction(std::vec::Vec<u8>),
    Proof(String),
}

/// Reads the payload: `{type: "hash", hash}`, `{type: "transaction", signature}` or
/// `{type: "proof", signature}`, hex with `0x`.
fn read_payload(payload: &JsonObject) -> Result<Payload, TempoChargeError> {
    let malformed = |m: &str| TempoChargeError::MalformedPayload(m.into());
    let member = |name: &str| {
        payload
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| malformed(&format!("the payload needs a string `{name}`")))
    };
    match member("type")? {
        "hash" => TxHash::from_hex(member("hash")?)
            .map(Payload::Hash)
            .ok_or_else(|| malformed("`hash` must be 0x and 64 hex digits")),
        "transaction" => {
            let text = member("signature")?;
            text.strip_prefix("0x")
                .and_then(crate::hex::decode_vec)
                .filter(|bytes| !bytes.is_empty())
                .map(Payload::Transaction)
                .ok_or_else(|| {
                    malformed("`signature` must be 0x and the transaction's bytes in hex")
                })
        }
        "proof" => Ok(Payload::Proof(member("signature")?.into())),
        _ => Err(malformed(
            "`type` must be \"hash\", \"transaction\" or \"proof\"",
        )),
    }
}

/// The limits within which the server pays a payer's transaction fees.
///
/// The defaults allow a handful of token transfers at fees far above Tempo's: gas
/// limit 2,000,000, 100 gwei per gas (10 gwei tip), 0.05 of the fee token in total,
/// and a validity of at most 15 minutes (and no later than a minute after the
/// challenge expires).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SponsorPolicy {
    /// The most gas the transaction may declare.
    pub max_gas: u64,
    /// The most it may bid per gas.
    pub max_fee_per_gas: u128,
    /// The most it may tip per gas.
    pub max_priority_fee_per_gas: u128,
    /// The most `gas × max fee per gas` may reach, in the fee token's base units
    /// scaled as the chain scales fees.
    pub max_total_fee: u128,
    /// How far ahead of now `validBefore` may be, in seconds.
    pub max_validity_secs: u64,
    /// The tokens the server pays fees in: a transaction naming one of them is paid
    /// in it, one naming none (as payers write them) in the first.
    pub fee_tokens: std::vec::Vec<Address>,
}

impl SponsorPolicy {
    /// The default limits, paying fees in `fee_token` only.
    pub fn new(fee_token: Address) -> SponsorPolicy {
        SponsorPolicy {
            max_gas: 2_000_000,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 10_000_000_000,
            max_total_fee: 50_000_000_000_000_000,
            max_validity_secs: 15 * 60,
            fee_tokens: std::vec![fee_token],
        }
    }

    /// The token the sponsor pays `tx`'s fees in: the one it names, or the first of
    /// [`SponsorPolicy::fee_tokens`]; `None` when the policy has no token.
    pub fn fee_token_for(&self, tx: &TempoTransaction) -> Option<Address> {
        tx.fee_token.or_else(|| self.fee_tokens.first().copied())
    }
}

/// The rule of a [`SponsorPolicy`] a transaction breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SponsorRule {
    /// No gas limit, or more than the policy's.
    GasLimit,
    /// No fee cap, a tip above the fee cap, or caps above the policy's.
    FeeCaps,
    /// Gas limit × fee cap above the policy's total.
    TotalFee,
    /// No `validBefore`, one already past, or one too far ahead.
    ValidityWindow,
    /// Not the expiring-nonce lane (nonce key 2^256 - 1), which bounds the
    /// transaction by its validity window.
    NonceKey,
    /// Delegations (authorizations or a key authorization) the sponsor would pay for.
    Calls,
    /// A fee token other than the sponsor's.
    FeeToken,
}

impl SponsorRule {
    /// The rule's name: `gas limit`, `fee caps`, `total fee`, `validity window`,
    /// `nonce key`, `calls` or `fee token`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SponsorRule::GasLimit => "gas limit",
            SponsorRule::FeeCaps => "fee caps",
            SponsorRule::TotalFee => "total fee",
            SponsorRule::ValidityWindow => "validity window",
            SponsorRule::NonceKey => "nonce key",
            SponsorRule::Calls => "calls",
            SponsorRule::FeeToken => "fee token",
        }
    }
}

/// Why a sponsor refuses to pay a transaction's fees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SponsorRefusal {
    /// The rule broken.
    pub rule: SponsorRule,
    /// What the transaction has.
    pub detail: String,
}

impl core::fmt::Display for SponsorRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "the sponsor policy refuses it ({}): {}",
            self.rule.as_str(),
            self.detail
        )
    }
}

impl std::error::Error for SponsorRefusal {}

impl SponsorPolicy {
    /// Whether the sponsor pays `tx`'s fees at `now` (Unix seconds), for a
    /// challenge expiring at `expires`: every rule is checked before anything is
    /// signed.
    pub fn check(
        &self,
        tx: &TempoTransaction,
        now: u64,
        expires: Option<u64>,
    ) -> Result<(), SponsorRefusal> {
        let refuse = |rule, detail: String| Err(SponsorRefusal { rule, detail });
        if tx.gas == 0 || tx.gas > self.max_gas {
            return refuse(
                SponsorRule::GasLimit,
                format!("a gas limit of {}, the most is {}", tx.gas, self.max_gas),
            );
        }
        if tx.max_fee_per_gas == 0 || tx.max_fee_per_gas > self.max_fee_per_gas {
            return refuse(
                SponsorRule::FeeCaps,
                format!(
                    "a fee cap of {} per gas, the most is {}",
                    tx.max_fee_per_gas, self.max_fee_per_gas
                ),
            );
        }
        if tx.max_priority_fee_per_gas > tx.max_fee_per_gas
            || tx.max_priority_fee_per_gas > self.max_priority_fee_per_gas
        {
            return refuse(
                SponsorRule::FeeCaps,
                format!(
                    "a tip of {} per gas, the most is {}",
                    tx.max_priority_fee_per_gas,
                    self.max_priority_fee_per_gas.min(tx.max_fee_per_gas)
                ),
            );
        }
        let total = u128::from(tx.gas).saturating_mul(tx.max_fee_per_gas);
        if total > self.max_total_fee {
            return refuse(
                SponsorRule::TotalFee,
                format!("up to {total} in fees, the most is {}", self.max_total_fee),
            );
        }
        if tx.nonce_key != U256::MAX {
            return refuse(SponsorRule::NonceKey, "not the expiring-nonce lane".into());
        }
        let latest = now
            .saturating_add(self.max_validity_secs)
            .min(expires.map_or(u64::MAX, |e| e.saturating_add(60)));
        match tx.valid_before {
            None => return refuse(SponsorRule::ValidityWindow, "no validBefore".into()),
            Some(before) if before <= now => {
                return refuse(
                    SponsorRule::ValidityWindow,
                    format!("validBefore {before} has passed"),
                );
            }
            Some(before) if before > latest => {
                return refuse(
                    SponsorRule::ValidityWindow,
                    format!("validBefore {before}, the latest accepted is {latest}"),
                );
            }
            Some(_) => {}
        }
        if !tx.authorization_list.is_empty() || tx.key_authorization.is_some() {
            return refuse(
                SponsorRule::Calls,
                "authorizations ride along with the payment".into(),
            );
        }
        match self.fee_token_for(tx) {
            Some(token) if self.fee_tokens.contains(&token) => {}
            named => {
                return refuse(
                    SponsorRule::FeeToken,
                    format!(
                        "fees in {named:?}, the sponsor pays in {:?} only",
                        self.fee_tokens
                    ),
                );
            }
        }
        Ok(())
    }
}

/// Whether `tx` is a payment of `expected` this server broadcasts at `now`: on the
/// terms' chain, nothing but the terms' transfers (each leg one call, no other
/// call, calldata exactly the ABI's), no delegations, a validity window open now and
/// closing no later than a minute after the challenge expires.
fn check_transaction(
    tx: &TempoTransaction,
    expected: &ExpectedPayment<'_>,
    now: u64,
    expires: Option<u64>,
) -> Result<(), TempoChargeError> {
    let refused = |m: String| Err(TempoChargeError::Refused(m));
    let terms = expected.terms;
    if tx.chain_id != terms.chain_id {
        return refused(format!(
            "the transaction is for chain {}, the terms for chain {}",
            tx.chain_id, terms.chain_id
        ));
    }
    if !tx.authorization_list.is_empty() || tx.key_authorization.is_some() {
        return refused("the transaction carries authorizations; a payment carries none".into());
    }
    if let Some(after) = tx.valid_after.filter(|&a| a > now) {
        return refused(format!("the transaction is valid only after {after}"));
    }
    if let Some(before) = tx.valid_before {
        if before <= now {
            return refused(format!("the transaction expired at {before}"));
        }
        if let Some(expires) = expires.filter(|&e| before > e.saturating_add(60)) {
            return refused(format!(
                "the transaction stays valid until {before}, past the challenge's expiry {expires}"
            ));
        }
    }
    check_calls(tx, expected).map_err(TempoChargeError::Mismatch)
}

/// Whether `tx`'s calls pay exactly `expected`: one transfer (or transferWithMemo)
/// of the terms' token per leg, calldata exactly the ABI's, no native value and no
/// other call. The error names the check the closest transfer failed, as
/// [`verify_receipt`] does for a receipt.
pub fn check_calls(
    tx: &TempoTransaction,
    expected: &ExpectedPayment<'_>,
) -> Result<(), ReceiptError> {
    let legs = expected.terms.legs().len();
    if tx.calls.len() != legs {
        return Err(ReceiptError::new(
            Mismatch::Malformed,
            format!(
                "{} calls for {legs} transfers: a payment makes the terms' transfers and nothing else",
                tx.calls.len()
            ),
        ));
    }
    let mut transfers = std::vec::Vec::with_capacity(legs);
    for call in &tx.calls {
        let transfer = call
            .to
            .filter(|_| call.value == 0)
            .and_then(|to| read_transfer(to, &call.input))
            .ok_or_else(|| {
                ReceiptError::new(
                    Mismatch::Malformed,
                    "a call that is not exactly a transfer or transferWithMemo",
                )
            })?;
        transfers.push(transfer);
    }
    match_legs(&transfers, expected).map(drop)
}

/// The server's fee-paying key and its limits.
struct Sponsor {
    key: PrivateKey,
    policy: SponsorPolicy,
}

/// Hashes recorded in this process, for a [`TempoCharge`] not given a shared record.
#[derive(Default)]
struct LocalReferences(Mutex<std::collections::HashMap<String, String>>);

impl UsedReferences for LocalReferences {
    fn claim<'a>(
        &'a self,
        reference: &'a str,
        challenge_id: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>> {
        let mut used = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let holder = used
            .entry(reference.into())
            .or_insert_with(|| challenge_id.into());
        let mine = holder == challenge_id;
        Box::pin(core::future::ready(Ok(mine)))
    }
}

/// How long the server waits for a pushed transaction that is not yet in a block,
/// unless configured otherwise.
pub const DEFAULT_RECEIPT_WAIT: Duration = Duration::from_secs(5);

/// The server half of `tempo/charge` on one chain: verifies a credential against its
/// challenge's terms on the chain, and settles it.
///
/// | payload | when | what the server does |
/// |---|---|---|
/// | `{type: "hash", hash}` | push mode | fetches the receipt, checks it shows the payment ([`verify_receipt`]), then records the hash as spent |
/// | `{type: "transaction", signature}` | pull mode | decodes the signed transaction, checks its calls pay exactly the terms, records the hash, broadcasts, checks the receipt |
/// | `{type: "transaction", signature: "0x78…"}` | pull mode, `feePayer: true` | the same, co-signing as fee payer within a [`SponsorPolicy`] first |
/// | `{type: "proof", signature}` | `amount` `"0"` | checks the EIP-712 proof of the `source` account ([`verify_proof`]) |
///
/// Every refusal happens before anything is recorded or broadcast, except a
/// broadcast the chain refuses or reverts: then the challenge stays used (D9), as it
/// does for every verdict. A hash is recorded only once its receipt shows a payment
/// bound to this challenge, so nobody can block a payer by presenting the payer's
/// transaction hash for a challenge of their own first.
pub struct TempoCharge {
    rpc: Arc<dyn TempoRpc>,
    chain_id: u64,
    references: Arc<dyn UsedReferences>,
    confirmations: u64,
    receipt_wait: Duration,
    broadcast_wait: Duration,
    poll: Duration,
    sponsor: Option<Sponsor>,
    clock: Clock,
}

impl core::fmt::Debug for TempoCharge {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TempoCharge")
            .field("chain_id", &self.chain_id)
            .field("confirmations", &self.confirmations)
            .field("sponsor", &self.sponsor.as_ref().map(|s| &s.policy))
            .finish_non_exhaustive()
    }
}

impl TempoCharge {
    /// Settles charges on chain `chain_id` through `rpc`, recording spent hashes in
    /// this process only, in memory that grows with every payment: a server gives it
    /// its store instead ([`TempoCharge::used_references`]).
    pub fn new(rpc: Arc<dyn TempoRpc>, chain_id: u64) -> TempoCharge {
        TempoCharge {
            rpc,
            chain_id,
            references: Arc::new(LocalReferences::default()),
            confirmations: 0,
            receipt_wait: DEFAULT_RECEIPT_WAIT,
            broadcast_wait: rpc::DEFAULT_RPC_TIMEOUT,
            poll: Duration::from_millis(250),
            sponsor: None,
            clock: system_clock(),
        }
    }

    /// Records spent hashes in `references`: a server's store
    /// (`mpp_server::StoreReferences`), shared by all its instances.
    pub fn used_references(mut self, references: Arc<dyn UsedReferences>) -> TempoCharge {
        self.references = references;
        self
    }

    /// Grants a push payment only once `n` blocks follow the one holding it
    /// (default 0: once it is in a block; Tempo blocks are final).
    pub fn confirmations(mut self, n: u64) -> TempoCharge {
        self.confirmations = n;
        self
    }

    /// How long to wait for a pushed transaction to reach a block (default
    /// [`DEFAULT_RECEIPT_WAIT`]), and for a broadcast one (default 30 s).
    pub fn receipt_wait(mut self, pushed: Duration, broadcast: Duration) -> TempoCharge {
        self.receipt_wait = pushed;
        self.broadcast_wait = broadcast;
        self
    }

    /// Pays the fees of transactions for terms with `feePayer: true`, signing as
    /// fee payer with `key` within `policy`.
    pub fn fee_payer(mut self, key: PrivateKey, policy: SponsorPolicy) -> TempoCharge {
        self.sponsor = Some(Sponsor { key, policy });
        self
    }

    /// Reads the time from `clock` (validity windows).
    pub fn with_clock(mut self, clock: Clock) -> TempoCharge {
        self.clock = clock;
        self
    }

    /// The chain it settles on.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Asks the node which chain it serves, and refuses one other than
    /// [`TempoCharge::chain_id`]: a server calls this at start.
    pub async fn check_node(&self) -> Result<(), String> {
        let served = rpc::node_chain_id(self.rpc.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        if served != self.chain_id {
            return Err(format!(
                "the node serves chain {served}, not chain {}",
                self.chain_id
            ));
        }
        Ok(())
    }

    /// The terms of `request`, if this server settles them.
    fn terms(&self, request: &JsonObject) -> Result<TempoTerms, TempoChargeError> {
        let terms = TempoTerms::from_request(request).map_err(TempoChargeError::InvalidTerms)?;
        if terms.chain_id != self.chain_id {
            return Err(TempoChargeError::InvalidTerms(TermsError::new(format!(
                "the terms are for chain {}, this server settles on chain {}",
                terms.chain_id, self.chain_id
            ))));
        }
        if terms.fee_payer && self.sponsor.is_none() {
            return Err(TempoChargeError::InvalidTerms(TermsError::new(
                "the terms offer to pay fees, and this server has no fee payer key",
            )));
        }
        if terms.memo.is_some() {
            // The attribution memo is what ties a transfer to one challenge; a memo
            // fixed by the terms would let one transfer answer any challenge.
            return Err(TempoChargeError::InvalidTerms(TermsError::new(
                "this server binds payments with the attribution memo, not `methodDetails.memo`",
            )));
        }
        Ok(terms)
    }

    /// Verifies and settles a charge, with the method's own failure kinds.
    /// [`ChargeMethod::settle`] is this, mapped onto the core problem types.
    pub fn verify<'a>(
        &'a self,
        charge: Charge<'a>,
    ) -> BoxFuture<'a, Result<Settlement, TempoChargeError>> {
        Box::pin(async move {
            let payload = read_payload(charge.payload)?;
            let terms = self.terms(charge.request)?;
            let payer = match charge.source {
                Some(source) => Some(
                    parse_pkh_source(source)
                        .filter(|(chain, _)| *chain == terms.chain_id)
                        .map(|(_, address)| address)
                        .ok_or_else(|| {
                            TempoChargeError::MalformedPayload(
                                "`source` must be did:pkh:eip155:<the terms' chain>:<address>"
                                    .into(),
                            )
                        })?,
                ),
                None => None,
            };
            let expected = ExpectedPayment {
                terms: &terms,
                challenge_id: charge.challenge.id.as_str(),
                realm: charge.challenge.realm.as_str(),
                payer,
            };
            match payload {
                Payload::Proof(signature) => {
                    if terms.amount != 0 {
                        return Err(TempoChargeError::ModeNotOffered(
                            "a proof answers only a zero amount".into(),
                        ));
                    }
                    verify_proof(
                        terms.chain_id,
                        expected.challenge_id,
                        expected.realm,
                        charge.source,
                        &signature,
                    )
                    .map_err(TempoChargeError::Proof)?;
                    Ok(Settlement::new(expected.challenge_id))
                }
                _ if terms.amount == 0 => Err(TempoChargeError::ModeNotOffered(
                    "a zero amount is answered with a proof, not a transfer".into(),
                )),
                Payload::Hash(hash) => self.settle_push(&hash, &expected).await,
                Payload::Transaction(raw) => self.settle_pull(&raw, &expected, charge).await,
            }
        })
    }

    /// Push mode: the payer broadcast the transaction; its receipt must show the
    /// payment.
    async fn settle_push(
        &self,
        hash: &TxHash,
        expected: &ExpectedPayment<'_>,
    ) -> Result<Settlement, TempoChargeError> {
        if !expected.terms.supports(Mode::Push) {
            return Err(TempoChargeError::ModeNotOffered(
                "the terms do not offer push mode".into(),
            ));
        }
        if expected.terms.fee_payer {
            return Err(TempoChargeError::ModeNotOffered(
                "the server pays the fees: the payment must be a transaction for it to sponsor, not a hash".into(),
            ));
        }
        // A hash the node has never seen is refused at once; one still waiting for
        // a block gets up to the receipt wait.
        let receipt = match rpc::transaction_receipt(self.rpc.as_ref(), hash).await? {
            Some(receipt) => receipt,
            None if !self.transaction_exists(hash).await? => {
                return Err(TempoChargeError::UnknownTransaction);
            }
            None => {
                rpc::wait_for_receipt(self.rpc.as_ref(), hash, self.poll, self.receipt_wait).await?
            }
        };
        self.grant(&receipt, hash, expected).await
    }

    /// Pull mode: the server broadcasts the payer's transaction, co-signing it
    /// first as fee payer when the terms say so.
    async fn settle_pull(
        &self,
        raw: &[u8],
        expected: &ExpectedPayment<'_>,
        charge: Charge<'_>,
    ) -> Result<Settlement, TempoChargeError> {
        let terms = expected.terms;
        if !terms.supports(Mode::Pull) {
            return Err(TempoChargeError::ModeNotOffered(
                "the terms do not offer pull mode".into(),
            ));
        }
        let decoded = TempoTransaction::decode(raw).map_err(|e| {
            TempoChargeError::MalformedPayload(format!(
                "`signature` is not a Tempo transaction: {e}"
            ))
        })?;
        let now = u64::try_from((self.clock)().secs()).unwrap_or(0);
        let expires = charge
            .challenge
            .expires
            .as_ref()
            .map(|t| u64::try_from(t.unix().secs()).unwrap_or(0));
        let refused = |m: String| TempoChargeError::Refused(m);
        let signed = match (decoded, &self.sponsor) {
            (DecodedTransaction::Signed(signed), _) if !terms.fee_payer => {
                if signed.fee_payer != FeePayer::None {
                    return Err(refused(
                        "the transaction leaves its fees to a sponsor, and these terms do not offer one"
                            .into(),
                    ));
                }
                check_transaction(&signed.tx, expected, now, expires)?;
                signed
            }
            (DecodedTransaction::FeePayerEnvelope(envelope), Some(sponsor)) if terms.fee_payer => {
                check_transaction(&envelope.tx, expected, now, expires)?;
                sponsor
                    .policy
                    .check(&envelope.tx, now, expires)
                    .map_err(|e| refused(e.to_string()))?;
                self.simulate(&envelope.tx, &envelope.sender, terms).await?;
                envelope
                    .cosign(
                        sponsor.key.as_secret_key(),
                        sponsor.policy.fee_token_for(&envelope.tx),
                    )
                    .map_err(|e| {
                        TempoChargeError::MalformedPayload(format!("the fee-payer envelope: {e}"))
                    })?
            }
            // The draft's form of a sponsored payment: a 0x76 transaction whose
            // sender left the fee-payer slot to the server.
            (DecodedTransaction::Signed(signed), Some(sponsor))
                if terms.fee_payer && signed.fee_payer == FeePayer::Pending =>
            {
                check_transaction(&signed.tx, expected, now, expires)?;
                sponsor
                    .policy
                    .check(&signed.tx, now, expires)
                    .map_err(|e| refused(e.to_string()))?;
                let sender = signed.recover_sender().map_err(|e| {
                    TempoChargeError::MalformedPayload(format!("the sender's signature: {e}"))
                })?;
                self.simulate(&signed.tx, &sender, terms).await?;
                let envelope = FeePayerEnvelope {
                    tx: signed.tx,
                    sender,
                    signature: signed.signature,
                };
                envelope
                    .cosign(
                        sponsor.key.as_secret_key(),
                        sponsor.policy.fee_token_for(&envelope.tx),
                    )
                    .map_err(|e| {
                        TempoChargeError::MalformedPayload(format!("the sender's signature: {e}"))
                    })?
            }
            (DecodedTransaction::FeePayerEnvelope(_), _) => {
                return Err(refused(
                    "a fee-payer envelope, and these terms do not offer to pay the fees".into(),
                ));
            }
            (DecodedTransaction::Signed(_), _) => {
                return Err(refused(
                    "the server pays the fees: the transaction must leave the fee-payer slot to it"
                        .into(),
                ));
            }
        };
        // A sender that is not the credential's `source` is refused before anything
        // is broadcast (other signature kinds are checked on the receipt).
        if let (Some(payer), Ok(sender)) = (expected.payer, signed.recover_sender()) {
            if sender != payer {
                return Err(TempoChargeError::Mismatch(ReceiptError::new(
                    Mismatch::Payer,
                    format!("the transaction is signed by {sender:?}, the source names {payer:?}"),
                )));
            }
        }
        let raw = signed.encode();
        let hash = signed.hash();
        // Recorded before broadcasting: the same transaction can never be broadcast
        // for a second challenge, even by concurrent requests.
        self.claim(&hash, expected.challenge_id).await?;
        // A retry of the same credential finds its transaction already in a block.
        let receipt = match rpc::transaction_receipt(self.rpc.as_ref(), &hash).await? {
            Some(receipt) => receipt,
            None => self.broadcast(&raw, &hash).await?,
        };
        self.grant(&receipt, &hash, expected).await
    }

    /// Runs `tx`'s calls from `sender` against the latest state before the sponsor
    /// signs, so that the server does not pay the fees of a transaction that fails:
    /// each call with `eth_call` (a token that refuses the transfer), and the
    /// sender's balance against the whole amount (calls that each pass alone but
    /// not together). The node's `eth_call` and `eth_estimateGas` on a Tempo request
    /// (`calls`) do not run the calls, hence the plain form, one call at a time.
    async fn simulate(
        &self,
        tx: &TempoTransaction,
        sender: &Address,
        terms: &TempoTerms,
    ) -> Result<(), TempoChargeError> {
        let would_fail = |why: String| {
            TempoChargeError::Refused(format!(
                "the transaction would fail, the sponsor does not pay for it: {why}"
            ))
        };
        for call in &tx.calls {
            let request = serde_json::json!({
                "from": sender.to_hex(),
                "to": call.to.map(|a| a.to_hex()),
                "data": super::hex::encode(&call.input),
            });
            match self
                .rpc
                .call("eth_call", serde_json::json!([request, "latest"]))
                .await
            {
                Ok(_) => {}
                Err(RpcError::Rejected { message, .. }) => return Err(would_fail(message)),
                Err(e) => return Err(e.into()),
            }
        }
        let balance = rpc::token_balance(self.rpc.as_ref(), &terms.currency, sender).await?;
        if balance < terms.amount {
            return Err(would_fail(format!(
                "the payer holds {balance} of the {} the transfers need",
                terms.amount
            )));
        }
        Ok(())
    }

    /// Broadcasts `raw` and returns its receipt.
    async fn broadcast(&self, raw: &[u8], hash: &TxHash) -> Result<Value, TempoChargeError> {
        match rpc::send_and_wait(self.rpc.as_ref(), raw, hash, self.poll, self.broadcast_wait).await
        {
            Ok(receipt) => Ok(receipt),
            // Refused because the node already has it (sent by an earlier attempt):
            // wait for it like any other.
            Err(RpcError::Rejected { message, .. }) => {
                if self.transaction_exists(hash).await? {
                    Ok(rpc::wait_for_receipt(
                        self.rpc.as_ref(),
                        hash,
                        self.poll,
                        self.broadcast_wait,
                    )
                    .await?)
                } else {
                    Err(TempoChargeError::BroadcastRejected(message))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Records `hash` as spent by challenge `challenge_id`.
    async fn claim(&self, hash: &TxHash, challenge_id: &str) -> Result<(), TempoChargeError> {
        match self.references.claim(&hash.to_hex(), challenge_id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(TempoChargeError::AlreadyUsed),
            Err(e) => Err(TempoChargeError::Unavailable(format!(
                "the record of spent hashes: {e}"
            ))),
        }
    }

    /// Whether the node knows transaction `hash`, in a block or waiting for one.
    async fn transaction_exists(&self, hash: &TxHash) -> Result<bool, TempoChargeError> {
        let found = self
            .rpc
            .call(
                "eth_getTransactionByHash",
                serde_json::json!([hash.to_hex()]),
            )
            .await?;
        Ok(!found.is_null())
    }

    /// Checks `receipt` is the receipt of `hash` and shows the payment, waits for
    /// the confirmations asked, records the hash as spent by this challenge.
    async fn grant(
        &self,
        receipt: &Value,
        hash: &TxHash,
        expected: &ExpectedPayment<'_>,
    ) -> Result<Settlement, TempoChargeError> {
        let shown = verify_receipt(receipt, expected).map_err(TempoChargeError::Mismatch)?;
        if shown != *hash {
            return Err(TempoChargeError::Unavailable(format!(
                "the node answered with the receipt of {}, not of {}",
                shown.to_hex(),
                hash.to_hex()
            )));
        }
        if self.confirmations > 0 {
            self.wait_for_confirmations(receipt).await?;
        }
        self.claim(hash, expected.challenge_id).await?;
        Ok(Settlement::new(hash.to_hex()))
    }

    /// Waits until `confirmations` blocks follow the receipt's, within the receipt
    /// wait; `Unavailable` (retry later) when they do not come.
    async fn wait_for_confirmations(&self, receipt: &Value) -> Result<(), TempoChargeError> {
        let included = receipt
            .get("blockNumber")
            .and_then(rpc::quantity)
            .ok_or_else(|| TempoChargeError::Unavailable("a receipt without a block".into()))?;
        let deadline = tokio::time::Instant::now() + self.receipt_wait;
        loop {
            let (latest, _) = rpc::latest_block(self.rpc.as_ref()).await?;
            if latest >= included.saturating_add(self.confirmations) {
                return Ok(());
            }
            if tokio::time::Instant::now() + self.poll > deadline {
                return Err(TempoChargeError::Unavailable(format!(
                    "{} of {} confirmations so far",
                    latest.saturating_sub(included),
                    self.confirmations
                )));
            }
            tokio::time::sleep(self.poll).await;
        }
    }
}

impl ChargeMethod for TempoCharge {
    fn name(&self) -> &str {
        super::NAME
    }

    fn check_payload(&self, _: &JsonObject, payload: &JsonObject) -> Result<(), MethodError> {
        read_payload(payload).map(drop).map_err(MethodError::from)
    }

    fn settle<'a>(&'a self, charge: Charge<'a>) -> BoxFuture<'a, Result<Settlement, MethodError>> {
        Box::pin(async move { self.verify(charge).await.map_err(MethodError::from) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sponsor_pays_in_the_tokens_it_lists_only() {
        let path = Address::from_bytes([0x20; 20]);
        let alpha = Address::from_bytes([0x21; 20]);
        let tx = TempoTransaction {
            chain_id: 42431,
            max_priority_fee_per_gas: 1,
            max_fee_per_gas: 10,
            gas: 100_000,
            calls: std::vec::Vec::new(),
            access_list: std::vec::Vec::new(),
            nonce_key: U256::MAX,
            nonce: 0,
            valid_before: Some(1_000_020),
            valid_after: None,
            fee_token: None,
            authorization_list: std::vec::Vec::new(),
            key_authorization: None,
        };
        let mut policy = SponsorPolicy::new(path);
        assert_eq!(policy.check(&tx, 1_000_000, None), Ok(()));
        assert_eq!(policy.fee_token_for(&tx), Some(path));
        let named = TempoTransaction {
            fee_token: Some(alpha),
            ..tx.clone()
        };
        let refused = policy.check(&named, 1_000_000, None).unwrap_err();
        assert_eq!(refused.rule, SponsorRule::FeeToken);
        policy.fee_tokens.push(alpha);
        assert_eq!(policy.check(&named, 1_000_000, None), Ok(()));
        assert_eq!(policy.fee_token_for(&named), Some(alpha));
        policy.fee_tokens.clear();
        assert_eq!(
            policy.check(&tx, 1_000_000, None).unwrap_err().rule,
            SponsorRule::FeeToken
        );
    }
}
