//! Word-at-a-time scanning of the long runs of ordinary bytes inside quoted strings,
//! eight bytes per step (SWAR: "SIMD within a register"), without `unsafe`.
//!
//! Each step reads eight bytes as a `u64` and tests them all for the bytes that end a
//! run; only the step where one may be present is finished byte by byte. The tests
//! can report a byte that is not there (a borrow carries into the next lane), never
//! miss one, so the byte-wise finish decides.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A high bit set in each lane of `x` that is zero (and maybe in lanes above one).
const fn zero_lanes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// A high bit set in each lane of `x` below `n` (`n` ≤ 0x80), as for [`zero_lanes`].
const fn lanes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * n as u64) & !x & HIGHS
}

const fn equal_lanes(x: u64, b: u8) -> u64 {
    zero_lanes(x ^ (ONES * b as u64))
}

fn word(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at + 8)?;
    <[u8; 8]>::try_from(chunk).ok().map(u64::from_le_bytes)
}

/// Advances from `at` while `keep` holds, testing eight bytes at a time with `stop`
/// (a non-zero result means some byte of the word may fail `keep`). Returns where it
/// stopped and the OR of the bytes skipped.
#[inline(always)]
fn run(
    bytes: &[u8],
    mut at: usize,
    stop: impl Fn(u64) -> u64,
    keep: impl Fn(u8) -> bool,
) -> (usize, u64) {
    let mut seen = 0u64;
    loop {
        while let Some(x) = word(bytes, at) {
            if stop(x) != 0 {
                break;
            }
            seen |= x;
            at += 8;
        }
        let end = (at + 8).min(bytes.len());
        while at < end && keep(bytes[at]) {
            seen |= bytes[at] as u64;
            at += 1;
        }
        if at < end || at == bytes.len() {
            return (at, seen);
        }
    }
}

/// Skips `qdtext` (RFC 9110: anything but controls other than HTAB, `"`, `\` and DEL)
/// from `at`; returns where it stops and whether a byte above 0x7F was skipped.
pub(crate) fn qdtext(bytes: &[u8], at: usize, is_qdtext: impl Fn(u8) -> bool) -> (usize, bool) {
    let stop = |x| {
        equal_lanes(x, b'"') | equal_lanes(x, b'\\') | equal_lanes(x, 0x7f) | lanes_below(x, 0x20)
    };
    let (end, seen) = run(bytes, at, stop, is_qdtext);
    (end, seen & HIGHS != 0)
}

/// Skips the bytes of a JSON string that need no attention (ASCII, not `"`, `\` or a
/// control) from `at`; returns where it stops.
pub(crate) fn plain_json(bytes: &[u8], at: usize) -> usize {
    let stop =
        |x| equal_lanes(x, b'"') | equal_lanes(x, b'\\') | lanes_below(x, 0x20) | (x & HIGHS);
    run(bytes, at, stop, |b| {
        (0x20..0x80).contains(&b) && b != b'"' && b != b'\\'
    })
    .0
}

/// Skips printable ASCII other than `"` and `\` (what a quoted-string carries
/// unescaped) from `at`; returns where it stops.
pub(crate) fn printable(bytes: &[u8], at: usize) -> usize {
    let stop = |x| {
        equal_lanes(x, b'"')
            | equal_lanes(x, b'\\')
            | equal_lanes(x, 0x7f)
            | lanes_below(x, 0x20)
            | (x & HIGHS)
    };
    run(bytes, at, stop, |b| {
        (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'
    })
    .0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qd(b: u8) -> bool {
        b == b'\t' || (b >= 0x20 && b != b'"' && b != b'\\' && b != 0x7f)
    }

    #[test]
    fn agrees_with_a_byte_loop_at_every_position() {
        let mut text: alloc::vec::Vec<u8> =
            b"abcdefghijklmnopqrstuvwxyz0123456789 tab\there".to_vec();
        for stop in [b'"', b'\\', 0x7f, 0x00, 0x1f, 0xc3, b'\t'] {
            for pos in 0..text.len() {
                let saved = text[pos];
                text[pos] = stop;
                for from in 0..=text.len() {
                    let expect = from
                        + text[from..]
                            .iter()
                            .position(|&b| !qd(b))
                            .unwrap_or(text.len() - from);
                    let high = text[from..expect].iter().any(|&b| b >= 0x80);
                    assert_eq!(
                        qdtext(&text, from, qd),
                        (expect, high),
                        "stop {stop:#x} at {pos}, from {from}"
                    );
                    let plain = |b: u8| (0x20..0x80).contains(&b) && b != b'"' && b != b'\\';
                    let expect = from
                        + text[from..]
                            .iter()
                            .position(|&b| !plain(b))
                            .unwrap_or(text.len() - from);
                    assert_eq!(plain_json(&text, from), expect);
                    let printable = |b: u8| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\';
                    let expect = from
                        + text[from..]
                            .iter()
                            .position(|&b| !printable(b))
                            .unwrap_or(text.len() - from);
                    assert_eq!(super::printable(&text, from), expect);
                }
                text[pos] = saved;
            }
        }
    }
}
