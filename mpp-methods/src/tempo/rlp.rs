//! Recursive Length Prefix, the serialization of Ethereum-family transactions, in
//! its canonical form only.
//!
//! A transaction's hash is the keccak256 of its bytes, so two encodings of the same
//! fields would be two transactions: the decoder refuses every form but the shortest
//! one (a single byte below 0x80 written as a one-byte string, a long-form length
//! that fits the short form, a length with a leading zero byte) and bytes after the
//! item. Nesting is bounded ([`MAX_DEPTH`]) so hostile input cannot exhaust the
//! stack, and each byte is read once.

use alloc::vec::Vec;
use core::fmt;

/// The deepest nesting of lists the decoder reads (a Tempo transaction needs 4).
pub(crate) const MAX_DEPTH: usize = 16;

/// Why bytes are not one canonical RLP item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlpError {
    /// An item, or its length, runs past the end of the input (or there is no item).
    Truncated,
    /// A single byte below 0x80 written as a one-byte string, instead of as itself.
    SingleByteWrapped,
    /// A long-form length of less than 56, which the short form writes.
    LongFormTooShort,
    /// A long-form length starting with a zero byte.
    LengthLeadingZero,
    /// A length beyond what this machine can address.
    LengthOverflow,
    /// Lists nested more than 16 deep (a Tempo transaction needs 4).
    TooDeep,
    /// Bytes after the item.
    TrailingBytes,
}

impl fmt::Display for RlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RlpError::Truncated => "an item runs past the end of the input",
            RlpError::SingleByteWrapped => {
                "a single byte below 0x80 is written as a string instead of as itself"
            }
            RlpError::LongFormTooShort => "a long-form length under 56",
            RlpError::LengthLeadingZero => "a length with a leading zero byte",
            RlpError::LengthOverflow => "a length too large to hold",
            RlpError::TooDeep => "lists nested too deeply",
            RlpError::TrailingBytes => "bytes after the item",
        })
    }
}

impl core::error::Error for RlpError {}

/// One decoded item, borrowing the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<'a> {
    /// The item's whole encoding, header included.
    pub raw: &'a [u8],
    /// What it holds.
    pub value: Value<'a>,
}

/// A string or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    String(&'a [u8]),
    List(Vec<Item<'a>>),
}

impl<'a> Item<'a> {
    /// The bytes, when it is a string.
    pub(crate) fn as_string(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::String(bytes) => Some(bytes),
            Value::List(_) => None,
        }
    }

    /// The items, when it is a list.
    pub(crate) fn as_list(&self) -> Option<&[Item<'a>]> {
        match &self.value {
            Value::List(items) => Some(items),
            Value::String(_) => None,
        }
    }
}

/// The single canonical item `input` holds, nothing after it.
pub(crate) fn decode(input: &[u8]) -> Result<Item<'_>, RlpError> {
    let (item, rest) = decode_item(input, 0)?;
    if !rest.is_empty() {
        return Err(RlpError::TrailingBytes);
    }
    Ok(item)
}

/// Whether an item is a list, where its payload starts and how long it is.
struct Header {
    list: bool,
    start: usize,
    len: usize,
}

fn header(input: &[u8]) -> Result<Header, RlpError> {
    let first = *input.first().ok_or(RlpError::Truncated)?;
    let (list, short_base, long_base) = match first {
        0x00..=0x7f => {
            return Ok(Header {
                list: false,
                start: 0,
                len: 1,
            });
        }
        0x80..=0xbf => (false, 0x80, 0xb7),
        0xc0..=0xff => (true, 0xc0, 0xf7),
    };
    let header = if first <= long_base {
        Header {
            list,
            start: 1,
            len: usize::from(first - short_base),
        }
    } else {
        // 1 to 8 length bytes: the headers leave no room for more.
        let len_len = usize::from(first - long_base);
        let len_bytes = input.get(1..1 + len_len).ok_or(RlpError::Truncated)?;
        if len_bytes[0] == 0 {
            return Err(RlpError::LengthLeadingZero);
        }
        let len = len_bytes
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let len = usize::try_from(len).map_err(|_| RlpError::LengthOverflow)?;
        if len < 56 {
            return Err(RlpError::LongFormTooShort);
        }
        Header {
            list,
            start: 1 + len_len,
            len,
        }
    };
    let end = header
        .start
        .checked_add(header.len)
        .ok_or(RlpError::LengthOverflow)?;
    if end > input.len() {
        return Err(RlpError::Truncated);
    }
    if !list && header.len == 1 && header.start == 1 && input[1] < 0x80 {
        return Err(RlpError::SingleByteWrapped);
    }
    Ok(header)
}

/// The first item of `input` and what follows it.
fn decode_item(input: &[u8], depth: usize) -> Result<(Item<'_>, &[u8]), RlpError> {
    let Header { list, start, len } = header(input)?;
    let (raw, rest) = input.split_at(start + len);
    let payload = &raw[start..];
    let value = if list {
        if depth >= MAX_DEPTH {
            return Err(RlpError::TooDeep);
        }
        let mut items = Vec::new();
        let mut remaining = payload;
        while !remaining.is_empty() {
            let (item, after) = decode_item(remaining, depth + 1)?;
            items.push(item);
            remaining = after;
        }
        Value::List(items)
    } else {
        Value::String(payload)
    };
    Ok((Item { raw, value }, rest))
}

/// Writes the header of a string (`base` 0x80) or list (`base` 0xc0) of `len` bytes.
fn write_header(out: &mut Vec<u8>, base: u8, len: usize) {
    if len < 56 {
        // `len` < 56, so it fits in the byte.
        out.push(base + len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        // At most 8 length bytes, so the sum stays within the byte.
        out.push(base + 55 + (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Appends `bytes` as a string.
pub(crate) fn encode_string(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes {
        [single] if *single < 0x80 => out.push(*single),
        _ => {
            write_header(out, 0x80, bytes.len());
            out.extend_from_slice(bytes);
        }
    }
}

/// Appends a list whose items are already encoded in `payload`.
pub(crate) fn encode_list(out: &mut Vec<u8>, payload: &[u8]) {
    write_header(out, 0xc0, payload.len());
    out.extend_from_slice(payload);
}

/// Appends the big-endian integer `bytes` in its minimal form (no leading zeros;
/// zero is the empty string).
pub(crate) fn encode_uint_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    encode_string(out, &bytes[skip..]);
}

/// Appends an integer in its minimal form.
pub(crate) fn encode_uint(out: &mut Vec<u8>, value: u128) {
    encode_uint_bytes(out, &value.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn string(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_string(&mut out, bytes);
        out
    }

    #[test]
    fn the_yellow_paper_examples() {
        assert_eq!(string(b"dog"), [0x83, b'd', b'o', b'g']);
        assert_eq!(string(b""), [0x80]);
        assert_eq!(string(&[0x00]), [0x00]);
        assert_eq!(string(&[0x0f]), [0x0f]);
        assert_eq!(string(&[0x80]), [0x81, 0x80]);
        let mut n = Vec::new();
        encode_uint(&mut n, 0);
        encode_uint(&mut n, 15);
        encode_uint(&mut n, 1024);
        assert_eq!(n, [0x80, 0x0f, 0x82, 0x04, 0x00]);
        // ["cat", "dog"]
        let mut payload = string(b"cat");
        payload.extend(string(b"dog"));
        let mut list = Vec::new();
        encode_list(&mut list, &payload);
        assert_eq!(list, [0xc8, 0x83, b'c', b'a', b't', 0x83, b'd', b'o', b'g']);
        let decoded = decode(&list).unwrap();
        let items = decoded.as_list().unwrap();
        assert_eq!(items[1].as_string(), Some(&b"dog"[..]));
        assert_eq!(items[1].raw, &list[5..]);
        assert_eq!(decoded.raw, &list[..]);
        // The set-theoretic representation of three, [ [], [[]], [ [], [[]] ] ].
        let three = [0xc7, 0xc0, 0xc1, 0xc0, 0xc3, 0xc0, 0xc1, 0xc0];
        assert_eq!(decode(&three).unwrap().as_list().unwrap().len(), 3);
    }

    #[test]
    fn long_forms_round_trip_at_their_boundaries() {
        for len in [55usize, 56, 255, 256, 65_536] {
            let bytes = vec![0xaa; len];
            let encoded = string(&bytes);
            let decoded = decode(&encoded).unwrap();
            assert_eq!(decoded.as_string(), Some(&bytes[..]), "{len}");
            let mut list = Vec::new();
            encode_list(&mut list, &encoded);
            assert_eq!(decode(&list).unwrap().as_list().unwrap().len(), 1);
        }
        assert_eq!(&string(&[0xaa; 56])[..2], &[0xb8, 56]);
        assert_eq!(&string(&[0xaa; 256])[..3], &[0xb9, 1, 0]);
    }

    #[test]
    fn every_non_canonical_or_malformed_form_is_refused() {
        // `depth` lists, each holding the next, the innermost empty.
        let nested = |depth: usize| {
            let mut item = vec![0xc0];
            for _ in 1..depth {
                let mut outer = Vec::new();
                encode_list(&mut outer, &item);
                item = outer;
            }
            item
        };
        assert!(decode(&nested(MAX_DEPTH)).is_ok());
        let too_deep = nested(MAX_DEPTH + 1);
        let cases: &[(&[u8], RlpError)] = &[
            (&[], RlpError::Truncated),
            (&[0x83, b'd', b'o'], RlpError::Truncated),
            (&[0xc2, 0x80], RlpError::Truncated),
            (&[0xb8], RlpError::Truncated),
            (&[0xc1, 0x82, 0x01], RlpError::Truncated),
            (&[0x81, 0x05], RlpError::SingleByteWrapped),
            (&[0x81, 0x00], RlpError::SingleByteWrapped),
            (&[0xc2, 0x81, 0x7f], RlpError::SingleByteWrapped),
            (&[0xb8, 0x01, 0x80], RlpError::LongFormTooShort),
            (&[0xf8, 0x37], RlpError::LongFormTooShort),
            (&[0xb9, 0x00, 0x38], RlpError::LengthLeadingZero),
            (&[0xf9, 0x00, 0x38], RlpError::LengthLeadingZero),
            (&[0xbf, 1, 0, 0, 0, 0, 0, 0, 0], RlpError::Truncated),
            (&[0xff, 1, 0, 0, 0, 0, 0, 0, 0], RlpError::Truncated),
            (&[0x80, 0x80], RlpError::TrailingBytes),
            (&[0x05, 0x05], RlpError::TrailingBytes),
            (&too_deep, RlpError::TooDeep),
        ];
        for (input, expected) in cases {
            assert_eq!(decode(input), Err(*expected), "{input:02x?}");
        }
        // A length whose end cannot be addressed is refused before any arithmetic
        // wraps.
        let huge = [0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(decode(&huge), Err(RlpError::LengthOverflow));
    }

    #[test]
    fn integers_are_written_minimal() {
        let mut out = Vec::new();
        encode_uint_bytes(&mut out, &[0, 0, 1, 0]);
        encode_uint_bytes(&mut out, &[0; 32]);
        encode_uint(&mut out, u128::MAX);
        assert_eq!(&out[..4], &[0x82, 1, 0, 0x80]);
        assert_eq!(out[4], 0x90);
        assert_eq!(out.len(), 4 + 17);
    }
}
