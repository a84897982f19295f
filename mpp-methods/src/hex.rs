//! Hex, as the methods' wire formats write byte strings: lowercase on output; on
//! input, lowercase only where a draft says so (Lightning), either case elsewhere.

use alloc::string::String;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// The value of hex digit `c`, lowercase only unless `any_case`.
#[cfg(any(feature = "lightning", feature = "tempo"))]
fn digit(c: u8, any_case: bool) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' if any_case => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Exactly `2 * N` hex digits, lowercase only unless `any_case`; `None` otherwise.
/// Each digit is checked by hand: `from_str_radix` would also take a sign.
#[cfg(any(feature = "lightning", feature = "tempo"))]
pub(crate) fn decode<const N: usize>(text: &str, any_case: bool) -> Option<[u8; N]> {
    let text = text.as_bytes();
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *o = digit(pair[0], any_case)? << 4 | digit(pair[1], any_case)?;
    }
    Some(out)
}

/// An even number of hex digits, in either case; `None` otherwise.
#[cfg(feature = "tempo")]
pub(crate) fn decode_vec(text: &str) -> Option<alloc::vec::Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| Some(digit(pair[0], true)? << 4 | digit(pair[1], true)?))
        .collect()
}
