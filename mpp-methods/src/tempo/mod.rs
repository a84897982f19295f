//! `tempo`: stablecoin payments on the Tempo chain (draft-tempo-charge-00), being
//! built in steps. So far: what the server half checks without talking to the
//! chain itself, the attribution memo that binds a transfer to one challenge
//! ([`Memo`]), the check of a transaction receipt against a challenge's terms
//! ([`verify_receipt`]), and the zero-amount proof: the digest a payer signs
//! ([`proof_digest`]) and the check of its signature ([`verify_proof`]).

mod charge;
mod hex;
mod key;
mod memo;
mod proof;
mod receipt;
mod rpc;
mod terms;

/// The method's identifier.
pub const NAME: &str = "tempo";

pub use charge::{DEFAULT_RECEIPT_WAIT, SponsorPolicy, TempoCharge, TempoChargeError};
pub use key::{KeyError, PrivateKey, pkh_source};
pub use memo::{Memo, keccak256};
pub use proof::{ProofError, parse_pkh_source, proof_digest, verify_proof};
pub use receipt::{Address, ExpectedPayment, Mismatch, ReceiptError, TxHash, verify_receipt};
pub use rpc::{DEFAULT_RPC_TIMEOUT, HttpRpc, RpcError, TempoRpc, node_chain_id};
pub use terms::{DEFAULT_CHAIN_ID, Leg, MAX_SPLITS, Mode, TempoTerms, TermsError};
