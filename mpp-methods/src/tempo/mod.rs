//! `tempo`: stablecoin payments on the Tempo chain (draft-tempo-charge-00), being
//! built in steps. So far: what the server half checks without talking to the
//! chain itself, the attribution memo that binds a transfer to one challenge
//! ([`Memo`]), the check of a transaction receipt against a challenge's terms
//! ([`verify_receipt`]), and the digest a payer signs for a zero-amount proof
//! ([`proof_digest`]).

mod hex;
mod memo;
mod proof;
mod receipt;

pub use memo::{Memo, keccak256};
pub use proof::proof_digest;
pub use receipt::{Address, ExpectedPayment, Mismatch, ReceiptError, TxHash, verify_receipt};
