//! `tempo/charge` (draft-tempo-charge-00): TIP-20 stablecoin payments on a Tempo
//! chain, server and client halves, reached over Ethereum JSON-RPC.
//!
//! - [`TempoCharge`], the server half: push payments (a transaction hash, whose
//!   receipt must show the payment), pull payments (a signed transaction the server
//!   checks call by call, then broadcasts), fee sponsoring within a
//!   [`SponsorPolicy`], and zero-amount proofs. Spent hashes are recorded in a
//!   [`UsedReferences`](mpp_core::method::UsedReferences) (a server's store).
//! - [`TempoPayer`], the client half: checks the terms against its limits, then signs
//!   and pays from a local key ([`PrivateKey`]).
//!
//! Underneath, all without I/O except [`rpc`](TempoRpc):
//!
//! | module | what |
//! |---|---|
//! | terms | the `request` object ([`TempoTerms`]: amount, token, recipient, splits, modes) |
//! | memo | the attribution memo that binds a transfer to one challenge ([`Memo`]) |
//! | receipt | whether a receipt shows the payment, leg by leg ([`verify_receipt`]) |
//! | tip20 | the `transfer`/`transferWithMemo` calldata |
//! | rlp, tx | Tempo transactions (`0x76`) and fee-payer envelopes (`0x78`) ([`TempoTransaction`]) |
//! | proof | the EIP-712 zero-amount proof ([`proof_digest`], [`verify_proof`]) |
//! | key | secp256k1 keys and `did:pkh` sources |
//! | rpc | the node's JSON-RPC interface ([`TempoRpc`], [`HttpRpc`]) |
//!
//! Where the draft and the deployed SDKs differ (the memo, the proof's version, who
//! names the fee token), `spec/ERRATA.md` says which this module follows.

mod charge;
mod hex;
mod key;
mod memo;
mod payer;
mod proof;
mod receipt;
mod rlp;
mod rpc;
mod terms;
mod tip20;
mod tx;

/// The method's identifier.
pub const NAME: &str = "tempo";

pub use charge::{
    DEFAULT_RECEIPT_WAIT, SponsorPolicy, SponsorRefusal, SponsorRule, TempoCharge,
    TempoChargeError, check_calls,
};
pub use key::{KeyError, PrivateKey, pkh_source};
pub use memo::{Memo, keccak256};
pub use payer::{TempoPayer, Token};
pub use proof::{ProofError, parse_pkh_source, proof_digest, verify_proof};
pub use receipt::{Address, ExpectedPayment, Mismatch, ReceiptError, TxHash, verify_receipt};
pub use rlp::RlpError;
pub use rpc::{DEFAULT_RPC_TIMEOUT, HttpRpc, RpcError, TempoRpc, node_chain_id};
/// The secp256k1 secret key the signing helpers take (the `secp256k1` crate's).
pub use secp256k1::SecretKey;
pub use terms::{DEFAULT_CHAIN_ID, Leg, MAX_SPLITS, Mode, TempoTerms, TermsError};
pub use tip20::{TRANSFER_SELECTOR, TRANSFER_WITH_MEMO_SELECTOR, transfer_calldata};
pub use tx::{
    AccessListItem, Call, DecodedTransaction, FEE_PAYER_ENVELOPE_TYPE, FeePayer, FeePayerEnvelope,
    MAX_TRANSACTION_BYTES, RawRlp, SenderSignature, Signature, SignatureKind, SignedTransaction,
    TEMPO_TX_TYPE, TempoTransaction, TxError, U256, address_of, cosign_as_fee_payer,
};
