//! The zero-amount proof: for a challenge whose `amount` is `"0"`, nothing is paid, and
//! the payer proves control of its account instead by signing EIP-712 typed data
//! naming the challenge. This module computes the digest that is signed.
//!
//! The form the deployed SDKs sign (mppx 0.11): domain `{name: "MPP", version: "3",
//! chainId}`, primary type `Proof {address account, string challengeId, string
//! realm}`. The `account` member binds the signature to one wallet, so a proof made
//! for one account cannot be presented for another.

use super::memo::keccak256;
use super::receipt::Address;

/// keccak256 of the EIP-712 domain type this proof uses.
fn domain_type_hash() -> [u8; 32] {
    keccak256(b"EIP712Domain(string name,string version,uint256 chainId)")
}

/// keccak256 of the `Proof` type.
fn proof_type_hash() -> [u8; 32] {
    keccak256(b"Proof(address account,string challengeId,string realm)")
}

/// The EIP-712 digest a payer signs to prove `account` answers challenge
/// `challenge_id` of the server of `realm`, on chain `chain_id`.
pub fn proof_digest(chain_id: u64, account: &Address, challenge_id: &str, realm: &str) -> [u8; 32] {
    let mut chain = [0u8; 32];
    chain[24..].copy_from_slice(&chain_id.to_be_bytes());
    let domain = keccak256(
        &[
            domain_type_hash(),
            keccak256(b"MPP"),
            keccak256(b"3"),
            chain,
        ]
        .concat(),
    );
    let mut account_word = [0u8; 32];
    account_word[12..].copy_from_slice(account.as_bytes());
    let message = keccak256(
        &[
            proof_type_hash(),
            account_word,
            keccak256(challenge_id.as_bytes()),
            keccak256(realm.as_bytes()),
        ]
        .concat(),
    );
    let mut signed = [0u8; 66];
    signed[..2].copy_from_slice(&[0x19, 0x01]);
    signed[2..34].copy_from_slice(&domain);
    signed[34..].copy_from_slice(&message);
    keccak256(&signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_changes_the_digest() {
        let account = Address::from_bytes([0x11; 20]);
        let base = proof_digest(42431, &account, "ch_1", "api.example.com");
        assert_ne!(
            base,
            proof_digest(4217, &account, "ch_1", "api.example.com")
        );
        assert_ne!(
            base,
            proof_digest(
                42431,
                &Address::from_bytes([0x12; 20]),
                "ch_1",
                "api.example.com"
            )
        );
        assert_ne!(
            base,
            proof_digest(42431, &account, "ch_2", "api.example.com")
        );
        assert_ne!(
            base,
            proof_digest(42431, &account, "ch_1", "evil.example.com")
        );
        assert_eq!(
            base,
            proof_digest(42431, &account, "ch_1", "api.example.com")
        );
    }
}
