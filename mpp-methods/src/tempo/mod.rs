//! `tempo`: stablecoin payments on the Tempo chain (draft-tempo-charge-00), being
//! built in steps. This step holds what both halves of `tempo/charge` compute
//! without a chain: the attribution memo that binds a transfer to one challenge.

mod memo;

pub use memo::{Memo, keccak256};
