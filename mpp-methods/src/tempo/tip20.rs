//! The two TIP-20 calls a payment is made of, `transfer(address,uint256)` and
//! `transferWithMemo(address,uint256,bytes32)`: their calldata written, and read
//! strictly (exactly the ABI's length, addresses with their 12 zero bytes), so a
//! server checks what a transaction will do before broadcasting it.

use std::vec::Vec;

use super::memo::Memo;
use super::receipt::{Address, Transfer};
use super::terms::Leg;

/// The selector of `transfer(address,uint256)`.
pub const TRANSFER_SELECTOR: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
/// The selector of `transferWithMemo(address,uint256,bytes32)`.
pub const TRANSFER_WITH_MEMO_SELECTOR: [u8; 4] = [0x95, 0x77, 0x7d, 0x59];

/// The calldata paying `leg`: `transferWithMemo` when it has a memo, `transfer`
/// otherwise.
pub fn transfer_calldata(leg: &Leg) -> Vec<u8> {
    let mut data = Vec::with_capacity(100);
    data.extend_from_slice(if leg.memo.is_some() {
        &TRANSFER_WITH_MEMO_SELECTOR
    } else {
        &TRANSFER_SELECTOR
    });
    data.extend_from_slice(&[0; 12]);
    data.extend_from_slice(leg.recipient.as_bytes());
    data.extend_from_slice(&[0; 16]);
    data.extend_from_slice(&leg.amount.to_be_bytes());
    if let Some(memo) = leg.memo {
        data.extend_from_slice(memo.as_bytes());
    }
    data
}

/// The transfer a call of `token` with calldata `data` makes, when it is exactly a
/// `transfer` or `transferWithMemo`; `None` for anything else (another function,
/// calldata shorter or longer than the ABI's, an address word with high bytes set).
/// An amount beyond 128 bits reads as `amount: None`, which matches no terms.
pub(super) fn read_transfer(token: Address, data: &[u8]) -> Option<Transfer> {
    let (selector, args) = data.split_at_checked(4)?;
    let with_memo = match (selector, args.len()) {
        (s, 64) if s == TRANSFER_SELECTOR => false,
        (s, 96) if s == TRANSFER_WITH_MEMO_SELECTOR => true,
        _ => return None,
    };
    if args[..12] != [0; 12] {
        return None;
    }
    let mut to = [0u8; 20];
    to.copy_from_slice(&args[12..32]);
    let amount = (args[32..48] == [0; 16]).then(|| {
        let mut low = [0u8; 16];
        low.copy_from_slice(&args[48..64]);
        u128::from_be_bytes(low)
    });
    let memo = with_memo.then(|| {
        let mut memo = [0u8; 32];
        memo.copy_from_slice(&args[64..96]);
        Memo::from_bytes(memo)
    });
    Some(Transfer {
        token,
        from: None,
        to: Address::from_bytes(to),
        amount,
        memo,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tempo::keccak256;

    #[test]
    fn the_selectors_are_the_abis() {
        assert_eq!(
            keccak256(b"transfer(address,uint256)")[..4],
            TRANSFER_SELECTOR
        );
        assert_eq!(
            keccak256(b"transferWithMemo(address,uint256,bytes32)")[..4],
            TRANSFER_WITH_MEMO_SELECTOR
        );
    }

    #[test]
    fn calldata_round_trips_and_anything_else_is_refused() {
        let token = Address::from_bytes([0x20; 20]);
        let leg = Leg {
            recipient: Address::from_bytes([7; 20]),
            amount: 10_000,
            memo: Some(Memo::from_bytes([9; 32])),
        };
        for leg in [leg, Leg { memo: None, ..leg }] {
            let data = transfer_calldata(&leg);
            let t = read_transfer(token, &data).unwrap();
            assert_eq!(
                (t.to, t.amount, t.memo),
                (leg.recipient, Some(10_000), leg.memo)
            );
            // Padded or cut calldata, and a dirty address word, are not transfers.
            let mut padded = data.clone();
            padded.push(0);
            assert!(read_transfer(token, &padded).is_none());
            assert!(read_transfer(token, &data[..data.len() - 1]).is_none());
            let mut dirty = data.clone();
            dirty[4] = 1;
            assert!(read_transfer(token, &dirty).is_none());
        }
        let mut approve = transfer_calldata(&Leg { memo: None, ..leg });
        approve[..4].copy_from_slice(&[0x09, 0x5e, 0xa7, 0xb3]);
        assert!(read_transfer(token, &approve).is_none());
        assert!(read_transfer(token, &[0xa9]).is_none());
        let mut huge = transfer_calldata(&Leg { memo: None, ..leg });
        huge[36] = 1;
        assert_eq!(read_transfer(token, &huge).unwrap().amount, None);
    }
}
