//! An account's secp256k1 private key: what a payer signs transactions with, and
//! what a server pays fees with. Read from hex, never shown.

use std::string::String;

use secp256k1::SecretKey;

use super::receipt::Address;

/// A secp256k1 private key. Its `Debug` shows the account's address only.
#[derive(Clone)]
pub struct PrivateKey(SecretKey);

impl PrivateKey {
    /// The key written as 64 hex digits, with or without `0x`, surrounding
    /// whitespace ignored (a key file ends with a newline). The error never repeats
    /// the text.
    pub fn from_hex(text: &str) -> Result<PrivateKey, KeyError> {
        let text = text.trim();
        let digits = text.strip_prefix("0x").unwrap_or(text);
        let bytes: [u8; 32] = crate::hex::decode(digits, true).ok_or(KeyError)?;
        SecretKey::from_byte_array(bytes)
            .map(PrivateKey)
            .map_err(|_| KeyError)
    }

    /// The account the key controls: the last 20 bytes of the keccak256 of its
    /// uncompressed public key.
    pub fn address(&self) -> Address {
        super::tx::address_of(&self.0)
    }

    /// The key itself, for signing with the transaction codec.
    pub fn as_secret_key(&self) -> &SecretKey {
        &self.0
    }
}

impl core::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PrivateKey(<for {:?}>)", self.address())
    }
}

/// The text is not a secp256k1 private key (64 hex digits, in the curve's range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyError;

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("not a secp256k1 private key: 64 hex digits, with or without 0x, expected")
    }
}

impl std::error::Error for KeyError {}

/// `did:pkh:eip155:<chain_id>:<address>`: how a credential's `source` names an
/// account.
pub fn pkh_source(chain_id: u64, address: &Address) -> String {
    std::format!("did:pkh:eip155:{chain_id}:{}", address.to_hex())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;

    #[test]
    fn the_first_development_key_controls_the_first_development_account() {
        let key = PrivateKey::from_hex(
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80\n",
        )
        .unwrap();
        assert_eq!(
            key.address().to_hex(),
            "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        assert!(!format!("{key:?}").contains("ac0974"));
        for bad in [
            "",
            "0x12",
            &"0".repeat(64),
            &"f".repeat(64),
            &"g".repeat(64),
        ] {
            assert_eq!(PrivateKey::from_hex(bad).unwrap_err(), KeyError, "{bad}");
        }
    }
}
