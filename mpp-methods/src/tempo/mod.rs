//! `tempo`: stablecoin payments on the Tempo chain (draft-tempo-charge-00), being
//! built in steps. So far: what the server half checks without talking to the
//! chain itself, the attribution memo that binds a transfer to one challenge
//! ([`Memo`]), the check of a transaction receipt against a challenge's terms
//! ([`verify_receipt`]), the zero-amount proof: the digest a payer signs
//! ([`proof_digest`]) and the check of its signature ([`verify_proof`]), and the
//! Tempo transaction codec ([`TempoTransaction`]): the `0x76` transactions a payer
//! signs and the `0x78` envelopes a sponsor co-signs, read and written byte for byte
//! as the SDKs do, with their hashes and secp256k1 signing.

mod hex;
mod memo;
mod proof;
mod receipt;
mod rlp;
mod tx;

pub use memo::{Memo, keccak256};
pub use proof::{ProofError, parse_pkh_source, proof_digest, verify_proof};
pub use receipt::{Address, ExpectedPayment, Mismatch, ReceiptError, TxHash, verify_receipt};
pub use rlp::RlpError;
/// The secp256k1 secret key the signing helpers take (the `secp256k1` crate's).
pub use secp256k1::SecretKey;
pub use tx::{
    AccessListItem, Call, DecodedTransaction, FEE_PAYER_ENVELOPE_TYPE, FeePayer, FeePayerEnvelope,
    MAX_TRANSACTION_BYTES, RawRlp, SenderSignature, Signature, SignatureKind, SignedTransaction,
    TEMPO_TX_TYPE, TempoTransaction, TxError, U256, address_of, cosign_as_fee_payer,
};
