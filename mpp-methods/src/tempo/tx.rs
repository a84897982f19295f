//! The Tempo transaction (EIP-2718 type `0x76`) and its fee-payer envelope (`0x78`),
//! read and written byte for byte as the deployed SDKs (ox and viem) write them,
//! with their signing hashes and secp256k1 signing.
//!
//! The wire form is `0x76 || rlp([chainId, maxPriorityFeePerGas, maxFeePerGas, gas,
//! calls, accessList, nonceKey, nonce, validBefore, validAfter, feeToken,
//! feePayerSignatureOrSender, authorizationList, keyAuthorization?,
//! senderSignature])`. A sponsored payment takes three steps:
//!
//! 1. the payer signs the transaction without choosing the fee token (its signing
//!    hash has an empty `feeToken` and the single byte `0x00` in the fee-payer slot)
//!    and hands over the `0x78` envelope, which carries its address in that slot;
//! 2. the sponsor picks the fee token and signs the `0x78` encoding (fee token and
//!    payer address included, payer signature left out);
//! 3. the broadcast form is `0x76` with the sponsor's `[yParity, r, s]` in the slot.
//!
//! Decoding accepts only the canonical encoding, so decoding and encoding again give
//! the same bytes, and the same transaction hash. Authorizations and key
//! authorizations are kept as opaque RLP: a payment server refuses them.

use alloc::vec::Vec;
use core::fmt;

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, Secp256k1, SecretKey};

use super::hex;
use super::memo::keccak256;
use super::receipt::{Address, TxHash};
use super::rlp::{self, Item, RlpError};

/// The type byte of a Tempo transaction.
pub const TEMPO_TX_TYPE: u8 = 0x76;
/// The type byte of the fee-payer envelope a payer hands to its sponsor.
pub const FEE_PAYER_ENVELOPE_TYPE: u8 = 0x78;
/// The largest encoding [`TempoTransaction::decode`] reads: the 128 KiB transaction
/// pools of Ethereum-family nodes accept.
pub const MAX_TRANSACTION_BYTES: usize = 128 * 1024;

/// secp256k1's group order n, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];
/// n / 2: a larger `s` is the malleable twin of a valid signature, which
/// Ethereum-family chains refuse (EIP-2).
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// Why bytes are not a Tempo transaction this codec reads, or a signature does not
/// check out. Field names are the SDKs' (`chainId`, `feeToken`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxError {
    /// No bytes at all.
    Empty,
    /// More than [`MAX_TRANSACTION_BYTES`].
    TooLarge(usize),
    /// The type byte is neither `0x76` nor `0x78`.
    WrongType(u8),
    /// Not one canonical RLP item after the type byte.
    Rlp(RlpError),
    /// The transaction list has another number of items than 13, 14 or 15.
    ItemCount(usize),
    /// A field that must be a list is a string.
    NotAList(&'static str),
    /// A field that must be a string is a list.
    NotAString(&'static str),
    /// A tuple (a call, an access-list entry, a fee-payer signature) with the wrong
    /// number of items.
    Arity {
        /// The tuple.
        field: &'static str,
        /// How many items it must have.
        expected: usize,
        /// How many it has.
        found: usize,
    },
    /// An integer with a leading zero byte (zero itself is the empty string).
    NonCanonicalInteger(&'static str),
    /// An integer wider than its field.
    Overflow(&'static str),
    /// A call's `value` beyond 2^128 - 1, which this codec does not carry.
    CallValueTooLarge,
    /// An address that is neither 20 bytes nor, where it may be absent, empty.
    AddressLength {
        /// The field.
        field: &'static str,
        /// Its length.
        length: usize,
    },
    /// An access-list storage key that is not 32 bytes.
    StorageKeyLength(usize),
    /// No calls: a Tempo transaction has at least one.
    NoCalls,
    /// The fee-payer slot of a `0x76` transaction is a string other than empty (no
    /// sponsor) or the `0x00` marker (a sponsor will sign).
    FeePayerSlot,
    /// No sender signature: an unsigned transaction is nothing to accept.
    MissingSignature,
    /// A sender signature that is neither 65 bytes (secp256k1) nor starts with a
    /// known type byte.
    UnsupportedSignature {
        /// Its first byte, if any.
        type_byte: Option<u8>,
        /// Its length.
        length: usize,
    },
    /// A secp256k1 signature that cannot be valid (the reason says why).
    BadSignature(&'static str),
    /// A signature of a kind this codec reads but does not verify.
    Unverifiable(SignatureKind),
    /// The sender signature of a fee-payer envelope was made by another account than
    /// the envelope names.
    SenderMismatch {
        /// The account the envelope names.
        claimed: Address,
        /// The account that signed.
        signer: Address,
    },
    /// A `0x76` transaction where the fee-payer envelope `0x78` is needed.
    NotAFeePayerEnvelope,
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxError::Empty => f.write_str("no transaction bytes"),
            TxError::TooLarge(n) => write!(
                f,
                "a transaction of {n} bytes, beyond the limit of {MAX_TRANSACTION_BYTES}"
            ),
            TxError::WrongType(t) => write!(
                f,
                "type byte {t:#04x}: not a Tempo transaction (0x76) nor a fee-payer \
                 envelope (0x78)"
            ),
            TxError::Rlp(e) => write!(f, "malformed RLP: {e}"),
            TxError::ItemCount(n) => {
                write!(f, "a Tempo transaction of {n} fields; it has 13, 14 or 15")
            }
            TxError::NotAList(field) => write!(f, "`{field}` must be a list"),
            TxError::NotAString(field) => write!(f, "`{field}` must be a string"),
            TxError::Arity {
                field,
                expected,
                found,
            } => write!(f, "`{field}` has {found} items instead of {expected}"),
            TxError::NonCanonicalInteger(field) => {
                write!(f, "`{field}` is an integer with a leading zero byte")
            }
            TxError::Overflow(field) => write!(f, "`{field}` is wider than its type"),
            TxError::CallValueTooLarge => {
                f.write_str("a call's `value` is beyond 2^128 - 1, which is not supported")
            }
            TxError::AddressLength { field, length } => {
                write!(f, "`{field}` is {length} bytes, not a 20-byte address")
            }
            TxError::StorageKeyLength(n) => {
                write!(f, "an access-list storage key of {n} bytes instead of 32")
            }
            TxError::NoCalls => f.write_str("a Tempo transaction without calls"),
            TxError::FeePayerSlot => f.write_str(
                "the fee-payer slot is neither empty, the 0x00 marker nor a [yParity, r, s] \
                 signature",
            ),
            TxError::MissingSignature => f.write_str("the transaction is not signed"),
            TxError::UnsupportedSignature {
                type_byte: Some(t),
                length,
            } => write!(
                f,
                "a sender signature of {length} bytes with type byte {t:#04x}, of no \
                 known kind"
            ),
            TxError::UnsupportedSignature {
                type_byte: None, ..
            } => f.write_str("an empty sender signature"),
            TxError::BadSignature(why) => write!(f, "an invalid secp256k1 signature: {why}"),
            TxError::Unverifiable(kind) => {
                write!(
                    f,
                    "a {} signature, which is not verified here",
                    kind.as_str()
                )
            }
            TxError::SenderMismatch { claimed, signer } => write!(
                f,
                "the envelope names sender {claimed:?}, but {signer:?} signed it"
            ),
            TxError::NotAFeePayerEnvelope => {
                f.write_str("a 0x76 transaction, where a 0x78 fee-payer envelope is needed")
            }
        }
    }
}

impl core::error::Error for TxError {}

impl From<RlpError> for TxError {
    fn from(e: RlpError) -> TxError {
        TxError::Rlp(e)
    }
}

/// An unsigned 256-bit integer, big-endian: a transaction's `nonceKey`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct U256([u8; 32]);

impl U256 {
    /// Zero.
    pub const ZERO: U256 = U256([0; 32]);
    /// 2^256 - 1: as a `nonceKey`, the chain's expiring nonces, which the SDKs use
    /// for payments (nonce 0, bounded by `validBefore`).
    pub const MAX: U256 = U256([0xff; 32]);

    /// The integer of these 32 big-endian bytes.
    pub const fn from_be_bytes(bytes: [u8; 32]) -> U256 {
        U256(bytes)
    }

    /// Its 32 big-endian bytes.
    pub const fn to_be_bytes(self) -> [u8; 32] {
        self.0
    }

    /// The integer `value`.
    pub fn from_u128(value: u128) -> U256 {
        let mut bytes = [0u8; 32];
        bytes[16..].copy_from_slice(&value.to_be_bytes());
        U256(bytes)
    }
}

impl fmt::Debug for U256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U256({})", hex::encode(&self.0))
    }
}

/// One call of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The contract or account called; `None` creates a contract.
    pub to: Option<Address>,
    /// The native value sent along (Tempo has no native token: zero in practice).
    pub value: u128,
    /// The calldata.
    pub input: Vec<u8>,
}

/// One entry of an EIP-2930 access list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessListItem {
    /// The account.
    pub address: Address,
    /// Its storage slots.
    pub storage_keys: Vec<[u8; 32]>,
}

/// One RLP item kept as its canonical encoding, unread: authorizations and key
/// authorizations, which a payment server refuses rather than interprets.
#[derive(Clone, PartialEq, Eq)]
pub struct RawRlp(Vec<u8>);

impl RawRlp {
    /// The item encoded in `bytes`, when they are exactly one canonical RLP item.
    pub fn from_encoded(bytes: &[u8]) -> Result<RawRlp, RlpError> {
        rlp::decode(bytes).map(|item| RawRlp(item.raw.to_vec()))
    }

    /// Its encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RawRlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawRlp({})", hex::encode(&self.0))
    }
}

/// A Tempo transaction's fields, without any signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TempoTransaction {
    /// The chain it is valid on.
    pub chain_id: u64,
    /// The tip per gas.
    pub max_priority_fee_per_gas: u128,
    /// The fee cap per gas.
    pub max_fee_per_gas: u128,
    /// The gas limit.
    pub gas: u64,
    /// What it does, in order, atomically.
    pub calls: Vec<Call>,
    /// EIP-2930 access list.
    pub access_list: Vec<AccessListItem>,
    /// Which of the sender's nonce sequences it uses ([`U256::MAX`]: expiring nonces).
    pub nonce_key: U256,
    /// The nonce in that sequence.
    pub nonce: u64,
    /// The UNIX time (seconds) before which it must be included, if bounded
    /// (`Some(0)` is written as no bound: both are the empty string).
    pub valid_before: Option<u64>,
    /// The UNIX time (seconds) after which it may be included, if bounded (`Some(0)`
    /// is written as no bound).
    pub valid_after: Option<u64>,
    /// The TIP-20 token fees are paid in; `None` lets the chain choose.
    pub fee_token: Option<Address>,
    /// Tempo authorizations (EIP-7702-like), unread.
    pub authorization_list: Vec<RawRlp>,
    /// A key authorization (an access key provisioned with this transaction), unread.
    pub key_authorization: Option<RawRlp>,
}

/// A recoverable secp256k1 signature: `r`, `s` (low, as EIP-2 requires) and the
/// parity of the point's y coordinate.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature {
    r: [u8; 32],
    s: [u8; 32],
    y_parity: bool,
}

impl Signature {
    /// The signature of these parts, when it can be valid: `r` and `s` in `1..n`,
    /// `s` at most n/2.
    pub fn from_parts(r: [u8; 32], s: [u8; 32], y_parity: bool) -> Result<Signature, TxError> {
        if r == [0; 32] || s == [0; 32] {
            return Err(TxError::BadSignature("r or s is zero"));
        }
        if r >= ORDER {
            return Err(TxError::BadSignature("r is not below the group order"));
        }
        if s > HALF_ORDER {
            return Err(TxError::BadSignature(
                "s is in the upper half of the group order",
            ));
        }
        Ok(Signature { r, s, y_parity })
    }

    /// The 65-byte form `r || s || v`, with `v` 27 or 28 (the form the SDKs write in
    /// a transaction).
    pub fn from_bytes(bytes: &[u8; 65]) -> Result<Signature, TxError> {
        let y_parity = match bytes[64] {
            27 => false,
            28 => true,
            _ => return Err(TxError::BadSignature("v is not 27 or 28")),
        };
        let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
        r.copy_from_slice(&bytes[..32]);
        s.copy_from_slice(&bytes[32..64]);
        Signature::from_parts(r, s, y_parity)
    }

    /// `r || s || v`, `v` 27 or 28.
    pub fn to_bytes(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&self.r);
        out[32..64].copy_from_slice(&self.s);
        out[64] = 27 + u8::from(self.y_parity);
        out
    }

    /// `r`, big-endian.
    pub const fn r(&self) -> &[u8; 32] {
        &self.r
    }

    /// `s`, big-endian.
    pub const fn s(&self) -> &[u8; 32] {
        &self.s
    }

    /// The y parity (the recovery id).
    pub const fn y_parity(&self) -> bool {
        self.y_parity
    }

    /// The account whose key made this signature of `digest`.
    pub fn recover(&self, digest: [u8; 32]) -> Result<Address, TxError> {
        let bad = |_| TxError::BadSignature("no key recovers from it");
        let id = RecoveryId::try_from(i32::from(self.y_parity)).map_err(bad)?;
        let mut compact = [0u8; 64];
        compact[..32].copy_from_slice(&self.r);
        compact[32..].copy_from_slice(&self.s);
        let signature = RecoverableSignature::from_compact(&compact, id).map_err(bad)?;
        let key = Secp256k1::verification_only()
            .recover_ecdsa(Message::from_digest(digest), &signature)
            .map_err(bad)?;
        Ok(Address::from_public_key(&key))
    }

    /// `key`'s signature of `digest` (RFC 6979, low `s`).
    pub fn sign(digest: [u8; 32], key: &SecretKey) -> Signature {
        let signature =
            Secp256k1::signing_only().sign_ecdsa_recoverable(Message::from_digest(digest), key);
        let (id, compact) = signature.serialize_compact();
        let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
        r.copy_from_slice(&compact[..32]);
        s.copy_from_slice(&compact[32..]);
        Signature {
            r,
            s,
            y_parity: i32::from(id) == 1,
        }
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", hex::encode(&self.to_bytes()))
    }
}

/// The kinds of sender signature Tempo defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureKind {
    /// secp256k1, 65 bytes without a type byte.
    Secp256k1,
    /// P-256 (type byte `0x01`).
    P256,
    /// WebAuthn over P-256 (`0x02`).
    WebAuthn,
    /// An access key signing for an account (`0x03`).
    Keychain,
    /// The second version of the keychain form (`0x04`).
    KeychainV2,
    /// A native multisig account's approvals (`0x05`).
    Multisig,
}

impl SignatureKind {
    /// Its name, as the SDKs write it: `secp256k1`, `p256`, `webAuthn`, `keychain`,
    /// `keychainV2`, `multisig`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SignatureKind::Secp256k1 => "secp256k1",
            SignatureKind::P256 => "p256",
            SignatureKind::WebAuthn => "webAuthn",
            SignatureKind::Keychain => "keychain",
            SignatureKind::KeychainV2 => "keychainV2",
            SignatureKind::Multisig => "multisig",
        }
    }
}

/// The sender's signature of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderSignature {
    /// secp256k1, which this codec verifies.
    Secp256k1(Signature),
    /// Another kind, kept as its bytes (type byte included) and not verified.
    Other {
        /// Which kind, from the type byte.
        kind: SignatureKind,
        /// The whole encoding.
        bytes: Vec<u8>,
    },
}

impl SenderSignature {
    /// The signature encoded in `bytes`: 65 bytes are secp256k1, anything else starts
    /// with a type byte.
    pub fn from_bytes(bytes: &[u8]) -> Result<SenderSignature, TxError> {
        if let Ok(fixed) = <&[u8; 65]>::try_from(bytes) {
            return Signature::from_bytes(fixed).map(SenderSignature::Secp256k1);
        }
        let kind = match bytes.first() {
            Some(0x01) => SignatureKind::P256,
            Some(0x02) => SignatureKind::WebAuthn,
            Some(0x03) => SignatureKind::Keychain,
            Some(0x04) => SignatureKind::KeychainV2,
            Some(0x05) => SignatureKind::Multisig,
            first => {
                return Err(TxError::UnsupportedSignature {
                    type_byte: first.copied(),
                    length: bytes.len(),
                });
            }
        };
        Ok(SenderSignature::Other {
            kind,
            bytes: bytes.to_vec(),
        })
    }

    /// Its encoding in a transaction.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            SenderSignature::Secp256k1(s) => s.to_bytes().to_vec(),
            SenderSignature::Other { bytes, .. } => bytes.clone(),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> SignatureKind {
        match self {
            SenderSignature::Secp256k1(_) => SignatureKind::Secp256k1,
            SenderSignature::Other { kind, .. } => *kind,
        }
    }

    /// The account that made it over `digest` (secp256k1 only).
    fn recover(&self, digest: [u8; 32]) -> Result<Address, TxError> {
        match self {
            SenderSignature::Secp256k1(s) => s.recover(digest),
            SenderSignature::Other { kind, .. } => Err(TxError::Unverifiable(*kind)),
        }
    }
}

/// The fee-payer slot of a `0x76` transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeePayer {
    /// The sender pays its own fees (an empty string).
    None,
    /// A sponsor will sign (the single byte `0x00`): signed by the sender, not yet
    /// broadcastable.
    Pending,
    /// The sponsor's signature, `[yParity, r, s]`.
    Signed(Signature),
}

/// A `0x76` transaction with its sender's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTransaction {
    /// The fields.
    pub tx: TempoTransaction,
    /// The fee-payer slot.
    pub fee_payer: FeePayer,
    /// The sender's signature.
    pub signature: SenderSignature,
}

/// A `0x78` fee-payer envelope: a payer's signed transaction, handed to a sponsor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeePayerEnvelope {
    /// The fields (the payer leaves `fee_token` to the sponsor).
    pub tx: TempoTransaction,
    /// The payer, as the envelope names it (checked by [`FeePayerEnvelope::cosign`]).
    pub sender: Address,
    /// The payer's signature.
    pub signature: SenderSignature,
}

/// What [`TempoTransaction::decode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedTransaction {
    /// A `0x76` transaction.
    Signed(SignedTransaction),
    /// A `0x78` fee-payer envelope.
    FeePayerEnvelope(FeePayerEnvelope),
}

/// What goes in the fee-payer slot when encoding.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Empty,
    Marker,
    Sender(&'a Address),
    FeePayer(&'a Signature),
}

impl TempoTransaction {
    /// Reads a `0x76` transaction or a `0x78` fee-payer envelope, in canonical
    /// encoding only; signed ones only.
    pub fn decode(bytes: &[u8]) -> Result<DecodedTransaction, TxError> {
        if bytes.len() > MAX_TRANSACTION_BYTES {
            return Err(TxError::TooLarge(bytes.len()));
        }
        let (&ty, body) = bytes.split_first().ok_or(TxError::Empty)?;
        if ty != TEMPO_TX_TYPE && ty != FEE_PAYER_ENVELOPE_TYPE {
            return Err(TxError::WrongType(ty));
        }
        let root = rlp::decode(body)?;
        let fields = list(&root, "transaction")?;
        if !(13..=15).contains(&fields.len()) {
            return Err(TxError::ItemCount(fields.len()));
        }
        // After the authorization list: an optional key authorization (a list), then
        // the signature (a string).
        let (key_authorization, signature) = match &fields[13..] {
            [] => (None, None),
            [one] if one.as_list().is_some() => (Some(one), None),
            [one] => (None, Some(one)),
            [key, signature] => {
                list(key, "keyAuthorization")?;
                (Some(key), Some(signature))
            }
            _ => return Err(TxError::ItemCount(fields.len())),
        };
        let calls = list(&fields[4], "calls")?
            .iter()
            .map(call)
            .collect::<Result<Vec<_>, _>>()?;
        if calls.is_empty() {
            return Err(TxError::NoCalls);
        }
        let tx = TempoTransaction {
            chain_id: uint::<8>(&fields[0], "chainId")? as u64,
            max_priority_fee_per_gas: uint::<16>(&fields[1], "maxPriorityFeePerGas")?,
            max_fee_per_gas: uint::<16>(&fields[2], "maxFeePerGas")?,
            gas: uint::<8>(&fields[3], "gas")? as u64,
            calls,
            access_list: list(&fields[5], "accessList")?
                .iter()
                .map(access_list_item)
                .collect::<Result<_, _>>()?,
            nonce_key: u256(&fields[6], "nonceKey")?,
            nonce: uint::<8>(&fields[7], "nonce")? as u64,
            valid_before: optional_u64(&fields[8], "validBefore")?,
            valid_after: optional_u64(&fields[9], "validAfter")?,
            fee_token: optional_address(&fields[10], "feeToken")?,
            authorization_list: list(&fields[12], "authorizationList")?
                .iter()
                .map(|item| RawRlp(item.raw.to_vec()))
                .collect(),
            key_authorization: key_authorization.map(|item| RawRlp(item.raw.to_vec())),
        };
        let signature = signature.ok_or(TxError::MissingSignature)?;
        let signature = SenderSignature::from_bytes(string(signature, "signature")?)?;
        let slot = &fields[11];
        if ty == FEE_PAYER_ENVELOPE_TYPE {
            let sender = optional_address(slot, "sender")?.ok_or(TxError::AddressLength {
                field: "sender",
                length: 0,
            })?;
            return Ok(DecodedTransaction::FeePayerEnvelope(FeePayerEnvelope {
                tx,
                sender,
                signature,
            }));
        }
        let fee_payer = match &slot.value {
            rlp::Value::String([]) => FeePayer::None,
            rlp::Value::String([0]) => FeePayer::Pending,
            rlp::Value::String(_) => return Err(TxError::FeePayerSlot),
            rlp::Value::List(parts) => FeePayer::Signed(fee_payer_signature(parts)?),
        };
        Ok(DecodedTransaction::Signed(SignedTransaction {
            tx,
            fee_payer,
            signature,
        }))
    }

    /// The hash the sender signs. When `sponsored`, the sender leaves the fee token
    /// to the sponsor: the encoding has an empty `feeToken` and the `0x00` marker in
    /// the fee-payer slot.
    pub fn sender_signing_hash(&self, sponsored: bool) -> [u8; 32] {
        let encoded = if sponsored {
            self.encode(TEMPO_TX_TYPE, false, Slot::Marker, None)
        } else {
            self.encode(TEMPO_TX_TYPE, true, Slot::Empty, None)
        };
        keccak256(&encoded)
    }

    /// The hash a sponsor signs to pay the fees of `sender`'s transaction: the `0x78`
    /// encoding with the fee token and the sender, without the sender's signature.
    pub fn fee_payer_signing_hash(&self, sender: &Address) -> [u8; 32] {
        keccak256(&self.encode(FEE_PAYER_ENVELOPE_TYPE, true, Slot::Sender(sender), None))
    }

    /// The broadcastable `0x76` encoding.
    pub fn encode_signed(&self, fee_payer: &FeePayer, signature: &SenderSignature) -> Vec<u8> {
        let slot = match fee_payer {
            FeePayer::None => Slot::Empty,
            FeePayer::Pending => Slot::Marker,
            FeePayer::Signed(s) => Slot::FeePayer(s),
        };
        self.encode(TEMPO_TX_TYPE, true, slot, Some(signature))
    }

    /// The `0x78` envelope a payer hands to its sponsor.
    pub fn encode_fee_payer_envelope(
        &self,
        sender: &Address,
        signature: &SenderSignature,
    ) -> Vec<u8> {
        self.encode(
            FEE_PAYER_ENVELOPE_TYPE,
            true,
            Slot::Sender(sender),
            Some(signature),
        )
    }

    /// Signed by `key`, paying its own fees.
    pub fn sign_as_sender(&self, key: &SecretKey) -> SignedTransaction {
        let signature = Signature::sign(self.sender_signing_hash(false), key);
        SignedTransaction {
            tx: self.clone(),
            fee_payer: FeePayer::None,
            signature: SenderSignature::Secp256k1(signature),
        }
    }

    /// Signed by `key` for a sponsor to pay the fees: the envelope to hand over, with
    /// the fee token left to the sponsor.
    pub fn sign_as_sponsored_sender(&self, key: &SecretKey) -> FeePayerEnvelope {
        let tx = TempoTransaction {
            fee_token: None,
            ..self.clone()
        };
        let signature = Signature::sign(tx.sender_signing_hash(true), key);
        FeePayerEnvelope {
            tx,
            sender: address_of(key),
            signature: SenderSignature::Secp256k1(signature),
        }
    }

    fn encode(
        &self,
        ty: u8,
        with_fee_token: bool,
        slot: Slot<'_>,
        signature: Option<&SenderSignature>,
    ) -> Vec<u8> {
        let mut fields = Vec::with_capacity(256);
        rlp::encode_uint(&mut fields, u128::from(self.chain_id));
        rlp::encode_uint(&mut fields, self.max_priority_fee_per_gas);
        rlp::encode_uint(&mut fields, self.max_fee_per_gas);
        rlp::encode_uint(&mut fields, u128::from(self.gas));
        let mut calls = Vec::new();
        for call in &self.calls {
            let mut tuple = Vec::new();
            rlp::encode_string(&mut tuple, call.to.as_ref().map_or(&[], |a| a.as_bytes()));
            rlp::encode_uint(&mut tuple, call.value);
            rlp::encode_string(&mut tuple, &call.input);
            rlp::encode_list(&mut calls, &tuple);
        }
        rlp::encode_list(&mut fields, &calls);
        let mut access = Vec::new();
        for item in &self.access_list {
            let mut keys = Vec::new();
            for key in &item.storage_keys {
                rlp::encode_string(&mut keys, key);
            }
            let mut tuple = Vec::new();
            rlp::encode_string(&mut tuple, item.address.as_bytes());
            rlp::encode_list(&mut tuple, &keys);
            rlp::encode_list(&mut access, &tuple);
        }
        rlp::encode_list(&mut fields, &access);
        rlp::encode_uint_bytes(&mut fields, &self.nonce_key.0);
        rlp::encode_uint(&mut fields, u128::from(self.nonce));
        rlp::encode_uint(&mut fields, u128::from(self.valid_before.unwrap_or(0)));
        rlp::encode_uint(&mut fields, u128::from(self.valid_after.unwrap_or(0)));
        let fee_token = self.fee_token.filter(|_| with_fee_token);
        rlp::encode_string(
            &mut fields,
            fee_token.as_ref().map_or(&[], |a| a.as_bytes()),
        );
        match slot {
            Slot::Empty => rlp::encode_string(&mut fields, &[]),
            Slot::Marker => rlp::encode_string(&mut fields, &[0]),
            Slot::Sender(sender) => rlp::encode_string(&mut fields, sender.as_bytes()),
            Slot::FeePayer(s) => {
                let mut tuple = Vec::new();
                rlp::encode_uint(&mut tuple, u128::from(s.y_parity));
                rlp::encode_uint_bytes(&mut tuple, &s.r);
                rlp::encode_uint_bytes(&mut tuple, &s.s);
                rlp::encode_list(&mut fields, &tuple);
            }
        }
        let authorizations: Vec<u8> = self
            .authorization_list
            .iter()
            .flat_map(|a| a.0.iter().copied())
            .collect();
        rlp::encode_list(&mut fields, &authorizations);
        if let Some(key) = &self.key_authorization {
            fields.extend_from_slice(&key.0);
        }
        if let Some(signature) = signature {
            rlp::encode_string(&mut fields, &signature.to_bytes());
        }
        let mut out = Vec::with_capacity(fields.len() + 10);
        out.push(ty);
        rlp::encode_list(&mut out, &fields);
        out
    }
}

impl SignedTransaction {
    /// The `0x76` bytes to broadcast.
    pub fn encode(&self) -> Vec<u8> {
        self.tx.encode_signed(&self.fee_payer, &self.signature)
    }

    /// The transaction hash: keccak256 of [`SignedTransaction::encode`].
    pub fn hash(&self) -> TxHash {
        TxHash::from_bytes(keccak256(&self.encode()))
    }

    /// The sender's signing hash (sponsored when the fee-payer slot is not empty).
    pub fn sender_signing_hash(&self) -> [u8; 32] {
        self.tx
            .sender_signing_hash(self.fee_payer != FeePayer::None)
    }

    /// The account that signed as sender (secp256k1 signatures only).
    pub fn recover_sender(&self) -> Result<Address, TxError> {
        self.signature.recover(self.sender_signing_hash())
    }

    /// The sponsor, when a sponsor signed: recovered from its signature over the
    /// recovered sender.
    pub fn recover_fee_payer(&self) -> Result<Option<Address>, TxError> {
        let FeePayer::Signed(signature) = &self.fee_payer else {
            return Ok(None);
        };
        let sender = self.recover_sender()?;
        signature
            .recover(self.tx.fee_payer_signing_hash(&sender))
            .map(Some)
    }
}

impl FeePayerEnvelope {
    /// The `0x78` bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.tx
            .encode_fee_payer_envelope(&self.sender, &self.signature)
    }

    /// The account that signed as sender (secp256k1 signatures only); it should be
    /// [`FeePayerEnvelope::sender`].
    pub fn recover_sender(&self) -> Result<Address, TxError> {
        self.signature.recover(self.tx.sender_signing_hash(true))
    }

    /// The transaction co-signed by the sponsor `key`, paying in `fee_token` (or in
    /// the envelope's, when `None`), once the sender's signature is checked to be the
    /// named sender's.
    pub fn cosign(
        &self,
        key: &SecretKey,
        fee_token: Option<Address>,
    ) -> Result<SignedTransaction, TxError> {
        let signer = self.recover_sender()?;
        if signer != self.sender {
            return Err(TxError::SenderMismatch {
                claimed: self.sender,
                signer,
            });
        }
        let mut tx = self.tx.clone();
        if fee_token.is_some() {
            tx.fee_token = fee_token;
        }
        let signature = Signature::sign(tx.fee_payer_signing_hash(&self.sender), key);
        Ok(SignedTransaction {
            tx,
            fee_payer: FeePayer::Signed(signature),
            signature: self.signature.clone(),
        })
    }
}

/// The final `0x76` bytes of the `0x78` `envelope`, co-signed by the sponsor `key`
/// (see [`FeePayerEnvelope::cosign`]).
pub fn cosign_as_fee_payer(
    envelope: &[u8],
    key: &SecretKey,
    fee_token: Option<Address>,
) -> Result<Vec<u8>, TxError> {
    match TempoTransaction::decode(envelope)? {
        DecodedTransaction::FeePayerEnvelope(e) => Ok(e.cosign(key, fee_token)?.encode()),
        DecodedTransaction::Signed(_) => Err(TxError::NotAFeePayerEnvelope),
    }
}

/// The account of `key`.
pub fn address_of(key: &SecretKey) -> Address {
    Address::from_public_key(&PublicKey::from_secret_key(&Secp256k1::signing_only(), key))
}

impl Address {
    /// The account of `key`: the last 20 bytes of keccak256 of the uncompressed key
    /// without its `0x04` prefix.
    pub fn from_public_key(key: &PublicKey) -> Address {
        let hash = keccak256(&key.serialize_uncompressed()[1..]);
        let mut address = [0u8; 20];
        address.copy_from_slice(&hash[12..]);
        Address::from_bytes(address)
    }
}

fn list<'i, 'a>(item: &'i Item<'a>, field: &'static str) -> Result<&'i [Item<'a>], TxError> {
    item.as_list().ok_or(TxError::NotAList(field))
}

fn string<'a>(item: &Item<'a>, field: &'static str) -> Result<&'a [u8], TxError> {
    item.as_string().ok_or(TxError::NotAString(field))
}

/// An integer of at most `N` bytes (`N` ≤ 16).
fn uint<const N: usize>(item: &Item<'_>, field: &'static str) -> Result<u128, TxError> {
    let bytes = canonical_uint(item, field)?;
    if bytes.len() > N {
        return Err(TxError::Overflow(field));
    }
    Ok(bytes.iter().fold(0, |acc, b| (acc << 8) | u128::from(*b)))
}

fn canonical_uint<'a>(item: &Item<'a>, field: &'static str) -> Result<&'a [u8], TxError> {
    let bytes = string(item, field)?;
    if bytes.first() == Some(&0) {
        return Err(TxError::NonCanonicalInteger(field));
    }
    Ok(bytes)
}

fn u256(item: &Item<'_>, field: &'static str) -> Result<U256, TxError> {
    let bytes = canonical_uint(item, field)?;
    let mut out = [0u8; 32];
    let start = 32usize
        .checked_sub(bytes.len())
        .ok_or(TxError::Overflow(field))?;
    out[start..].copy_from_slice(bytes);
    Ok(U256(out))
}

/// A time bound: the empty string is no bound.
fn optional_u64(item: &Item<'_>, field: &'static str) -> Result<Option<u64>, TxError> {
    let value = uint::<8>(item, field)? as u64;
    Ok((value != 0).then_some(value))
}

fn optional_address(item: &Item<'_>, field: &'static str) -> Result<Option<Address>, TxError> {
    match string(item, field)? {
        [] => Ok(None),
        bytes => <[u8; 20]>::try_from(bytes)
            .map(|a| Some(Address::from_bytes(a)))
            .map_err(|_| TxError::AddressLength {
                field,
                length: bytes.len(),
            }),
    }
}

fn tuple<'i, 'a>(
    item: &'i Item<'a>,
    field: &'static str,
    expected: usize,
) -> Result<&'i [Item<'a>], TxError> {
    let items = list(item, field)?;
    if items.len() != expected {
        return Err(TxError::Arity {
            field,
            expected,
            found: items.len(),
        });
    }
    Ok(items)
}

fn call(item: &Item<'_>) -> Result<Call, TxError> {
    let parts = tuple(item, "call", 3)?;
    let value = canonical_uint(&parts[1], "value")?;
    if value.len() > 16 {
        return Err(TxError::CallValueTooLarge);
    }
    Ok(Call {
        to: optional_address(&parts[0], "to")?,
        value: uint::<16>(&parts[1], "value")?,
        input: string(&parts[2], "data")?.to_vec(),
    })
}

fn access_list_item(item: &Item<'_>) -> Result<AccessListItem, TxError> {
    let parts = tuple(item, "accessList entry", 2)?;
    let address =
        optional_address(&parts[0], "accessList address")?.ok_or(TxError::AddressLength {
            field: "accessList address",
            length: 0,
        })?;
    let storage_keys = list(&parts[1], "storageKeys")?
        .iter()
        .map(|key| {
            let bytes = string(key, "storageKey")?;
            <[u8; 32]>::try_from(bytes).map_err(|_| TxError::StorageKeyLength(bytes.len()))
        })
        .collect::<Result<_, _>>()?;
    Ok(AccessListItem {
        address,
        storage_keys,
    })
}

fn fee_payer_signature(parts: &[Item<'_>]) -> Result<Signature, TxError> {
    if parts.len() != 3 {
        return Err(TxError::Arity {
            field: "feePayerSignature",
            expected: 3,
            found: parts.len(),
        });
    }
    let y_parity = match canonical_uint(&parts[0], "yParity")? {
        [] => false,
        [1] => true,
        _ => return Err(TxError::BadSignature("yParity is not 0 or 1")),
    };
    let r = u256(&parts[1], "r")?;
    let s = u256(&parts[2], "s")?;
    Signature::from_parts(r.0, s.0, y_parity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_byte_array([byte; 32]).unwrap()
    }

    fn sample() -> TempoTransaction {
        TempoTransaction {
            chain_id: 42431,
            max_priority_fee_per_gas: 1,
            max_fee_per_gas: 20_000_000_000,
            gas: 300_000,
            calls: vec![Call {
                to: Some(Address::from_bytes([0x20; 20])),
                value: 0,
                input: vec![0x95, 0x77, 0x7d, 0x59],
            }],
            access_list: vec![AccessListItem {
                address: Address::from_bytes([0x11; 20]),
                storage_keys: vec![[0x22; 32]],
            }],
            nonce_key: U256::MAX,
            nonce: 0,
            valid_before: Some(1_800_000_000),
            valid_after: None,
            fee_token: Some(Address::from_bytes([0x33; 20])),
            authorization_list: Vec::new(),
            key_authorization: None,
        }
    }

    #[test]
    fn a_signed_transaction_round_trips_and_recovers_its_sender() {
        let signed = sample().sign_as_sender(&key(1));
        let bytes = signed.encode();
        assert_eq!(bytes[0], TEMPO_TX_TYPE);
        let decoded = TempoTransaction::decode(&bytes).unwrap();
        assert_eq!(decoded, DecodedTransaction::Signed(signed.clone()));
        assert_eq!(signed.recover_sender(), Ok(address_of(&key(1))));
        assert_eq!(signed.recover_fee_payer(), Ok(None));
        assert_eq!(
            signed.hash(),
            TxHash::from_bytes(keccak256(&bytes)),
            "the hash covers the signed bytes"
        );
    }

    #[test]
    fn sponsorship_signs_without_the_fee_token_then_with_it() {
        let envelope = sample().sign_as_sponsored_sender(&key(1));
        assert_eq!(envelope.tx.fee_token, None);
        let bytes = envelope.encode();
        assert_eq!(bytes[0], FEE_PAYER_ENVELOPE_TYPE);
        assert_eq!(
            TempoTransaction::decode(&bytes),
            Ok(DecodedTransaction::FeePayerEnvelope(envelope.clone()))
        );
        let token = Address::from_bytes([0x44; 20]);
        let final_bytes = cosign_as_fee_payer(&bytes, &key(2), Some(token)).unwrap();
        let DecodedTransaction::Signed(signed) = TempoTransaction::decode(&final_bytes).unwrap()
        else {
            panic!("not a 0x76 transaction");
        };
        assert_eq!(signed.tx.fee_token, Some(token));
        // The sender's signature still holds with the sponsor's token added.
        assert_eq!(signed.recover_sender(), Ok(address_of(&key(1))));
        assert_eq!(signed.recover_fee_payer(), Ok(Some(address_of(&key(2)))));
        assert_eq!(
            cosign_as_fee_payer(&final_bytes, &key(2), None),
            Err(TxError::NotAFeePayerEnvelope)
        );
        // An envelope naming another sender than the signer is not co-signed.
        let mut forged = envelope.clone();
        forged.sender = Address::from_bytes([0x55; 20]);
        assert_eq!(
            forged.cosign(&key(2), None),
            Err(TxError::SenderMismatch {
                claimed: forged.sender,
                signer: address_of(&key(1))
            })
        );
    }

    #[test]
    fn signatures_are_checked_for_range_and_parity() {
        let good = Signature::sign([7; 32], &key(3));
        assert_eq!(Signature::from_bytes(&good.to_bytes()), Ok(good));
        let mut v = good.to_bytes();
        v[64] = 1;
        assert!(matches!(
            Signature::from_bytes(&v),
            Err(TxError::BadSignature(_))
        ));
        assert!(Signature::from_parts([0; 32], [1; 32], false).is_err());
        assert!(Signature::from_parts(ORDER, [1; 32], false).is_err());
        let mut high = HALF_ORDER;
        high[31] += 1;
        assert!(Signature::from_parts([1; 32], high, false).is_err());
        assert!(Signature::from_parts([1; 32], HALF_ORDER, false).is_ok());
    }

    #[test]
    fn no_truncation_or_corruption_of_a_transaction_panics() {
        let mut sample = sample();
        sample.key_authorization = Some(RawRlp::from_encoded(&[0xc2, 0x01, 0x02]).unwrap());
        let envelope = sample.sign_as_sponsored_sender(&key(1));
        let cosigned = envelope.cosign(&key(2), None).unwrap().encode();
        for bytes in [envelope.encode(), cosigned] {
            for end in 0..bytes.len() {
                assert!(TempoTransaction::decode(&bytes[..end]).is_err());
            }
            for at in 0..bytes.len() {
                for flip in [0x01, 0x80, 0xff] {
                    let mut spoiled = bytes.clone();
                    spoiled[at] ^= flip;
                    // Any answer but a panic; a decoded one encodes back to its bytes.
                    match TempoTransaction::decode(&spoiled) {
                        Ok(DecodedTransaction::Signed(t)) => assert_eq!(t.encode(), spoiled),
                        Ok(DecodedTransaction::FeePayerEnvelope(e)) => {
                            assert_eq!(e.encode(), spoiled)
                        }
                        Err(e) => assert!(!e.to_string().is_empty()),
                    }
                }
            }
        }
    }

    #[test]
    fn nothing_here_prints_a_key() {
        let secret = key(0x42);
        let envelope = sample().sign_as_sponsored_sender(&secret);
        let printed = format!("{envelope:?} {:?}", envelope.cosign(&secret, None));
        assert!(!printed.contains(&"42".repeat(32)), "{printed}");
        // Display of every error is a sentence, never empty.
        assert!(!TxError::MissingSignature.to_string().is_empty());
    }
}
