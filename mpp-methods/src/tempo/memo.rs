//! The attribution memo: the `bytes32` a `tempo/charge` payment carries in its
//! `transferWithMemo` call, so that a transfer pays exactly one challenge of one
//! server.
//!
//! Version 1, as the deployed SDKs write it (the draft leaves the memo to the
//! request's `methodDetails.memo`, and does not define this form):
//!
//! | bytes | holds |
//! |---|---|
//! | 0–3 | the tag: the first 4 bytes of keccak256(`"mpp"`), `ef1ed712` |
//! | 4 | the version, `01` |
//! | 5–14 | the first 10 bytes of keccak256(realm): the server |
//! | 15–24 | the first 10 bytes of keccak256(client id), or zeros for an anonymous client (no id, or an empty one) |
//! | 25–31 | the first 7 bytes of keccak256(challenge id): the challenge |
//!
//! A server accepts a transfer only when its memo names the server's realm and the
//! challenge being answered: a plain transfer, or one attributed to another challenge
//! or server, was paid for something else and cannot be redeemed here.

use alloc::string::String;

use sha3::{Digest, Keccak256};

use super::hex;

/// The tag's source: the memo starts with the first 4 bytes of its keccak256.
const TAG_SOURCE: &[u8] = b"mpp";
/// The only version this module writes and reads.
const VERSION: u8 = 0x01;

/// Keccak-256 (the original Keccak padding, as Ethereum and Tempo use it, not
/// NIST's SHA3-256).
pub fn keccak256(bytes: &[u8]) -> [u8; 32] {
    Keccak256::digest(bytes).into()
}

/// A transfer memo: any `bytes32`, of which [`Memo::attribution`] writes the
/// attribution form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Memo([u8; 32]);

impl Memo {
    /// The version 1 attribution memo of challenge `challenge_id` from the server of
    /// `realm`, paid by `client_id` (or anonymously).
    pub fn attribution(challenge_id: &str, realm: &str, client_id: Option<&str>) -> Memo {
        let mut memo = [0u8; 32];
        memo[..4].copy_from_slice(&keccak256(TAG_SOURCE)[..4]);
        memo[4] = VERSION;
        memo[5..15].copy_from_slice(&keccak256(realm.as_bytes())[..10]);
        // An empty client id is anonymous, as mppx writes it (`""` is false there).
        if let Some(client) = client_id.filter(|c| !c.is_empty()) {
            memo[15..25].copy_from_slice(&keccak256(client.as_bytes())[..10]);
        }
        memo[25..].copy_from_slice(&keccak256(challenge_id.as_bytes())[..7]);
        Memo(memo)
    }

    /// The memo of these 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Memo {
        Memo(bytes)
    }

    /// The memo written as `0x` and 64 hex digits (either case); `None` otherwise.
    pub fn from_hex(text: &str) -> Option<Memo> {
        hex::decode(text).map(Memo)
    }

    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// `0x` and 64 lowercase hex digits, as JSON-RPC writes a `bytes32`.
    pub fn to_hex(&self) -> String {
        hex::encode(&self.0)
    }

    /// Whether it is a version 1 attribution memo (the tag and the version byte).
    pub fn is_attribution(&self) -> bool {
        self.0[..4] == keccak256(TAG_SOURCE)[..4] && self.0[4] == VERSION
    }

    /// Whether it attributes a payment to challenge `challenge_id` of the server of
    /// `realm`, whoever the client. Only such a memo lets a transfer pay that
    /// challenge.
    pub fn binds(&self, challenge_id: &str, realm: &str) -> bool {
        self.is_attribution()
            && self.0[5..15] == keccak256(realm.as_bytes())[..10]
            && self.0[25..] == keccak256(challenge_id.as_bytes())[..7]
    }
}

impl core::fmt::Debug for Memo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Memo({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn keccak_is_the_original_padding_not_sha3() {
        // keccak256("") as Ethereum computes it; SHA3-256("") starts a7ffc6f8.
        let empty = Memo::from_bytes(keccak256(b""));
        assert_eq!(
            empty.to_hex(),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn the_attribution_layout() {
        let memo = Memo::attribution("ch_1", "api.example.com", None);
        let bytes = memo.as_bytes();
        // The tag observed on the wire: ef1ed712, then version 01.
        assert_eq!(&bytes[..5], &[0xef, 0x1e, 0xd7, 0x12, 0x01]);
        assert_eq!(&bytes[5..15], &keccak256(b"api.example.com")[..10]);
        assert_eq!(&bytes[15..25], &[0; 10], "an anonymous client writes zeros");
        assert_eq!(&bytes[25..], &keccak256(b"ch_1")[..7]);
        assert_eq!(Memo::attribution("ch_1", "api.example.com", Some("")), memo);
        let named = Memo::attribution("ch_1", "api.example.com", Some("agent-7"));
        assert_eq!(&named.as_bytes()[15..25], &keccak256(b"agent-7")[..10]);
        assert!(named.binds("ch_1", "api.example.com"));
    }

    #[test]
    fn a_memo_binds_only_its_challenge_and_realm() {
        let memo = Memo::attribution("ch_1", "api.example.com", None);
        assert!(memo.is_attribution());
        assert!(memo.binds("ch_1", "api.example.com"));
        assert!(!memo.binds("ch_2", "api.example.com"));
        assert!(!memo.binds("ch_1", "evil.example.com"));
        // A plain memo, or one of another version, binds nothing.
        let zeros = Memo::from_bytes([0; 32]);
        assert!(!zeros.is_attribution() && !zeros.binds("ch_1", "api.example.com"));
        let mut other_version = *memo.as_bytes();
        other_version[4] = 2;
        assert!(!Memo::from_bytes(other_version).binds("ch_1", "api.example.com"));
    }

    #[test]
    fn hex_round_trips_and_refuses_malformed_text() {
        let memo = Memo::attribution("ch_1", "api.example.com", Some("agent-7"));
        assert_eq!(Memo::from_hex(&memo.to_hex()), Some(memo));
        assert_eq!(
            Memo::from_hex(&memo.to_hex().to_uppercase().replacen("0X", "0x", 1)),
            Some(memo)
        );
        for bad in [
            "",
            "0x",
            "00",
            &memo.to_hex()[2..],
            &format!("{}00", memo.to_hex()),
            &format!("0x{}", "zz".repeat(32)),
            &format!("0x{}", "+1".repeat(32)),
        ] {
            assert_eq!(Memo::from_hex(bad), None, "{bad:?}");
        }
    }
}
