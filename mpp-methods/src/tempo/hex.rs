//! Fixed-size byte strings as JSON-RPC writes them: `0x` and two hex digits a byte
//! (either case on input, lowercase on output).

use alloc::string::String;

/// The bytes of `0x` followed by exactly `2 * N` hex digits; `None` otherwise.
pub(crate) fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    crate::hex::decode(text.strip_prefix("0x")?, true)
}

/// `0x` and the bytes in lowercase hex.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::from("0x");
    out.push_str(&crate::hex::encode(bytes));
    out
}
