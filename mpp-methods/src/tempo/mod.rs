//! `tempo`: stablecoin payments on the Tempo chain (draft-tempo-charge-00), being
//! built in steps. So far: what the server half checks without talking to the
//! chain itself, the attribution memo that binds a transfer to one challenge
//! ([`Memo`]) and the check of a transaction receipt against a challenge's terms
//! ([`verify_receipt`]).

mod hex;
mod memo;
mod receipt;

pub use memo::{Memo, keccak256};
pub use receipt::{Address, ExpectedPayment, Mismatch, ReceiptError, TxHash, verify_receipt};
