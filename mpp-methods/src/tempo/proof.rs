//! The zero-amount proof: for a challenge whose `amount` is `"0"`, nothing is paid, and
//! the payer proves control of its account instead by signing EIP-712 typed data
//! naming the challenge. This module computes the digest that is signed.
//!
//! The form the deployed SDKs sign (mppx 0.11): domain `{name: "MPP", version: "3",
//! chainId}`, primary type `Proof {address account, string challengeId, string
//! realm}`. The `account` member binds the signature to one wallet, so a proof made
//! for one account cannot be presented for another. [`verify_proof`] checks one: the
//! credential's `source` names the account, and the signature must recover to it.

use core::fmt;

use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, Secp256k1};

use super::hex;
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

/// Why a zero-amount proof is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    /// No `source`, or not `did:pkh:eip155:<chainId>:<address>`.
    Source,
    /// The `source` names another chain than the challenge.
    ChainId,
    /// The signature is not 65 bytes of hex (`r`, `s`, `v`) with `v` one of 0, 1, 27,
    /// 28, or recovers no key.
    Signature,
    /// The signature is valid but was made by another account than `source` names,
    /// or over another challenge, realm or chain.
    Signer,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofError::Source => "the source is not a did:pkh:eip155 account",
            ProofError::ChainId => "the source names another chain than the challenge",
            ProofError::Signature => "the signature is malformed",
            ProofError::Signer => "the signature is not the source's proof of this challenge",
        })
    }
}

impl core::error::Error for ProofError {}

/// The chain id and account of a `did:pkh:eip155:<chainId>:<address>` source; `None`
/// for anything else (a chain id with a leading zero or beyond `u64` included).
pub fn parse_pkh_source(source: &str) -> Option<(u64, Address)> {
    let rest = source.strip_prefix("did:pkh:eip155:")?;
    let (chain, address) = rest.split_once(':')?;
    let canonical = chain == "0" || (!chain.starts_with('0') && !chain.is_empty());
    if !canonical || !chain.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((chain.parse().ok()?, Address::from_hex(address)?))
}

/// The account whose zero-amount proof `signature` (hex, 65 bytes) is, when `source`
/// names that account on `chain_id` and the signature covers `challenge_id` and
/// `realm`.
pub fn verify_proof(
    chain_id: u64,
    challenge_id: &str,
    realm: &str,
    source: Option<&str>,
    signature: &str,
) -> Result<Address, ProofError> {
    let (source_chain, account) = source
        .and_then(parse_pkh_source)
        .ok_or(ProofError::Source)?;
    if source_chain != chain_id {
        return Err(ProofError::ChainId);
    }
    let bytes: [u8; 65] = hex::decode(signature).ok_or(ProofError::Signature)?;
    let v = match bytes[64] {
        0 | 27 => 0,
        1 | 28 => 1,
        _ => return Err(ProofError::Signature),
    };
    let id = RecoveryId::try_from(v).map_err(|_| ProofError::Signature)?;
    let signature =
        RecoverableSignature::from_compact(&bytes[..64], id).map_err(|_| ProofError::Signature)?;
    let digest = proof_digest(chain_id, &account, challenge_id, realm);
    let key = Secp256k1::verification_only()
        .recover_ecdsa(Message::from_digest(digest), &signature)
        .map_err(|_| ProofError::Signature)?;
    if Address::from_public_key(&key) != account {
        return Err(ProofError::Signer);
    }
    Ok(account)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

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

    #[test]
    fn sources_parse_strictly() {
        let account = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
        let (chain, parsed) = parse_pkh_source(&format!("did:pkh:eip155:42431:{account}")).unwrap();
        assert_eq!(
            (chain, parsed),
            (42431, Address::from_hex(account).unwrap())
        );
        assert!(parse_pkh_source(&format!("did:pkh:eip155:0:{account}")).is_some());
        for bad in [
            "",
            "did:pkh:eip155:42431",
            "did:pkh:eip155::0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            "did:pkh:eip155:042431:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            "did:pkh:eip155:+1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            "did:pkh:eip155:99999999999999999999:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            "did:pkh:eip155:1:0xf39F",
            "did:pkh:solana:1:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        ] {
            assert_eq!(parse_pkh_source(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn malformed_proofs_are_refused_before_recovery() {
        let source = "did:pkh:eip155:42431:0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
        let good_v = format!("0x{}1b", "11".repeat(64));
        assert_eq!(
            verify_proof(42431, "c", "r", None, &good_v),
            Err(ProofError::Source)
        );
        assert_eq!(
            verify_proof(1, "c", "r", Some(source), &good_v),
            Err(ProofError::ChainId)
        );
        for bad in [
            "",
            "0x",
            &format!("0x{}", "11".repeat(64)),
            &format!("0x{}05", "11".repeat(64)),
        ] {
            assert_eq!(
                verify_proof(42431, "c", "r", Some(source), bad),
                Err(ProofError::Signature)
            );
        }
        // r and s of zero are no signature at all.
        let zeros = format!("0x{}1b", "00".repeat(64));
        assert_eq!(
            verify_proof(42431, "c", "r", Some(source), &zeros),
            Err(ProofError::Signature)
        );
    }
}
