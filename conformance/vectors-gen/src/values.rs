//! Random building blocks: realms, methods, request objects, timestamps, digests.

use mpp_core::base64;
use mpp_core::digest::{ContentDigest, DigestAlgorithm};
use mpp_core::jcs;
use mpp_core::json::{self, JsonObject};
use mpp_core::time::{Timestamp, UnixTime};
use mpp_core::value::Opaque;
use serde_json::Value;

use crate::rng::Rng;

/// Non-ASCII text: accents, other scripts, astral characters (a surrogate pair in
/// UTF-16), a character JCS sorts after astral ones, and separators that are not
/// controls.
pub(crate) const UNICODE: [&str; 14] = [
    "é", "ü", "ß", "ñ", "€", "Ω", "日本", "語", "😀", "🚀", "\u{fb33}", "\u{2028}", "\u{a0}", "Ж",
];

const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `min..=max` characters of `alphabet`.
pub(crate) fn word(rng: &mut Rng, alphabet: &[u8], min: usize, max: usize) -> String {
    let len = rng.range(min as i64, max as i64) as usize;
    (0..len).map(|_| char::from(rng.pick(alphabet))).collect()
}

/// Random text of `min..=max` pieces: letters and digits, spaces, the ASCII
/// characters in `specials`, and non-ASCII when `unicode`.
pub(crate) fn text(rng: &mut Rng, min: usize, max: usize, specials: &str, unicode: bool) -> String {
    let specials: Vec<char> = specials.chars().collect();
    let n = rng.range(min as i64, max as i64) as usize;
    let mut out = String::new();
    for _ in 0..n {
        match rng.below(10) {
            0 | 1 if !specials.is_empty() => out.push(specials[rng.below(specials.len())]),
            2 if unicode => out.push_str(rng.pick(&UNICODE)),
            3 => out.push(' '),
            _ => out.push(char::from(rng.pick(ALNUM))),
        }
    }
    out
}

/// A realm: a host name mostly, sometimes a phrase that needs quoting.
pub(crate) fn realm(rng: &mut Rng, unicode: bool) -> String {
    match rng.below(10) {
        0..=4 => rng
            .pick(&[
                "api.example.com",
                "pay.example.org",
                "example.net",
                "files.example.com",
                "mpp.test",
                "localhost:8402",
            ])
            .to_owned(),
        5..=7 => format!(
            "{}.{}.{}",
            word(rng, LETTERS, 2, 8),
            word(rng, LETTERS, 3, 9),
            rng.pick(&["com", "org", "io", "dev", "test"])
        ),
        _ => text(rng, 3, 16, ".,:;!?'\"\\/()=@#&*+-_~%", unicode),
    }
}

/// A method name. `wide` draws from the grammar deployed SDKs accept (erratum E3):
/// digits, `-`, `:` and `_` after a first letter.
pub(crate) fn method(rng: &mut Rng, wide: bool) -> String {
    if wide {
        return match rng.below(4) {
            0 => rng
                .pick(&[
                    "tempo-v2",
                    "vendor:pay",
                    "x402",
                    "a_b",
                    "evm:base",
                    "card-3ds",
                ])
                .to_owned(),
            _ => format!(
                "{}{}{}",
                word(rng, LETTERS, 1, 5),
                rng.pick(&["-", ":", "_", "2", "0x"]),
                word(rng, b"abcdefghijklmnopqrstuvwxyz0123456789", 1, 5)
            ),
        };
    }
    match rng.below(3) {
        0 => word(rng, LETTERS, 3, 10),
        _ => rng
            .pick(&[
                "tempo",
                "stripe",
                "lightning",
                "solana",
                "evm",
                "card",
                "preimage",
                "token",
                "stellar",
                "hedera",
            ])
            .to_owned(),
    }
}

/// An intent: the two the drafts define.
pub(crate) fn intent(rng: &mut Rng) -> String {
    rng.pick(&["charge", "charge", "session"]).to_owned()
}

const KEYS: [&str; 20] = [
    "chainId",
    "memo",
    "network",
    "feePayer",
    "nonce",
    "splits",
    "1",
    "10",
    "a",
    "B",
    "é",
    "€",
    "😀",
    "\u{fb33}",
    "\r",
    "ünï",
    "_",
    "z",
    "Amount",
    "recipient2",
];

/// Doubles whose shortest and ECMAScript forms are worth checking.
const DOUBLES: [f64; 12] = [
    0.5, 0.1, 1.25, -0.75, 6.02214, 1e-7, 2.5e-5, 1e21, 123.456, 0.000001, 1.5e300, 4.35,
];

/// A random JSON value, nested at most `depth` more levels.
pub(crate) fn value(rng: &mut Rng, depth: usize) -> Value {
    let kinds = if depth == 0 { 6 } else { 9 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => Value::from(match rng.below(3) {
            0 => rng.range(-1000, 1000),
            1 => rng.range(0, 1_000_000_000_000),
            _ => rng.range(-9_007_199_254_740_991, 9_007_199_254_740_991),
        }),
        3 => Value::from(rng.pick(&DOUBLES)),
        4 | 5 => Value::String(text(rng, 0, 6, "\"\\/<>&'|\n\t\u{1}\u{7f}", true)),
        6 | 7 => Value::Array((0..rng.below(4)).map(|_| value(rng, depth - 1)).collect()),
        _ => Value::Object(object(rng, depth - 1, 3)),
    }
}

/// A random object of up to `max` members.
pub(crate) fn object(rng: &mut Rng, depth: usize, max: usize) -> JsonObject {
    let mut out = JsonObject::new();
    for _ in 0..rng.below(max + 1) {
        let key = if rng.chance(70) {
            rng.pick(&KEYS).to_owned()
        } else {
            text(rng, 1, 6, "-_.", true)
        };
        out.insert(key, value(rng, depth));
    }
    out
}

/// Charge-like request terms: amount, currency, recipient, sometimes more.
pub(crate) fn request(rng: &mut Rng) -> JsonObject {
    let mut r = JsonObject::new();
    let amount = if rng.chance(5) {
        "0".to_owned()
    } else {
        rng.range(1, 10_000_000_000).to_string()
    };
    r.insert("amount".into(), amount.into());
    let currency = rng.pick(&[
        "usd",
        "eur",
        "sat",
        "USD",
        "usdc",
        "0x20c000000000000000000000b9537d11c60e8b50",
    ]);
    r.insert("currency".into(), currency.into());
    if rng.chance(85) {
        let prefix = rng.pick(&["acct_", "0x", "lnbc", "G", "did:web:"]);
        let id = word(rng, ALNUM, 4, 12);
        r.insert("recipient".into(), format!("{prefix}{id}").into());
    }
    if rng.chance(20) {
        let text = text(rng, 2, 8, "\"\\'<>&|", true);
        r.insert("description".into(), text.into());
    }
    if rng.chance(30) {
        r.insert("methodDetails".into(), Value::Object(object(rng, 1, 3)));
    }
    r
}

/// The object a reader of `request` gets back: what JCS makes of it, read again
/// (`1.0` becomes `1`, `-0.0` becomes `0`).
pub(crate) fn canonical_reading(object: &JsonObject) -> JsonObject {
    json::parse_object(jcs::object_to_string(object).as_bytes())
        .unwrap_or_else(|e| unreachable!("JCS output parses: {e}"))
}

/// An instant in 2026–2030, in whole seconds.
pub(crate) fn instant(rng: &mut Rng) -> i64 {
    rng.range(1_767_225_600, 1_924_991_999)
}

/// RFC 3339 text naming a random instant of 2026–2030.
pub(crate) fn random_timestamp(rng: &mut Rng) -> String {
    let secs = instant(rng);
    timestamp(rng, secs)
}

/// RFC 3339 text naming `secs` (plus a fraction of a second, in some forms):
/// `…Z` mostly, sometimes with a fraction, an offset, or lowercase `t`/`z`.
/// Returns the text and whether it is the canonical `…Z` form.
pub(crate) fn timestamp(rng: &mut Rng, secs: i64) -> String {
    let canonical = |secs: i64| {
        UnixTime::from_secs(secs)
            .to_rfc3339()
            .unwrap_or_else(|| unreachable!("2026–2030 can be written"))
    };
    let text = match rng.below(10) {
        0..=5 => canonical(secs),
        6 => {
            let base = canonical(secs);
            let fraction = rng.pick(&[".000", ".5", ".123456", ".999999999", ".25"]);
            format!("{}{fraction}Z", &base[..base.len() - 1])
        }
        7 | 8 => {
            let minutes = rng.pick(&[330, -480, 60, -210, 0, 840, -720]);
            let local = canonical(secs + minutes * 60);
            let sign = if minutes < 0 { '-' } else { '+' };
            let m = minutes.abs();
            format!(
                "{}{sign}{:02}:{:02}",
                &local[..local.len() - 1],
                m / 60,
                m % 60
            )
        }
        _ => canonical(secs).replace('T', "t").replace('Z', "z"),
    };
    let parsed = Timestamp::new(&text).unwrap_or_else(|e| unreachable!("{text}: {e}"));
    assert_eq!(parsed.unix().secs(), secs, "{text}");
    text
}

/// A digest of random bytes: the RFC 9530 form, or (when `bare`) the form without
/// colons some peers send (erratum E8).
pub(crate) fn digest(rng: &mut Rng, bare: bool) -> String {
    let algorithm = if rng.chance(75) {
        DigestAlgorithm::Sha256
    } else {
        DigestAlgorithm::Sha512
    };
    let len = rng.below(100);
    let text = ContentDigest::compute(algorithm, &rng.bytes(len))
        .as_str()
        .to_owned();
    if bare { bare_digest(&text) } else { text }
}

/// `sha-256=:X:` as `sha-256=X`.
pub(crate) fn bare_digest(text: &str) -> String {
    text.replacen("=:", "=", 1).trim_end_matches(':').to_owned()
}

/// An `opaque` string map, encoded.
pub(crate) fn opaque(rng: &mut Rng) -> String {
    let route = format!(
        "{} /{}",
        rng.pick(&["GET", "POST", "PUT"]),
        word(rng, LETTERS, 1, 10)
    );
    let nonce = base64::encode(&rng.bytes(16));
    let mut entries = vec![("route".to_owned(), route), ("nonce".to_owned(), nonce)];
    if rng.chance(30) {
        entries.push(("trace".into(), text(rng, 1, 10, "\"\\|", true)));
    }
    Opaque::encode(entries).as_str().to_owned()
}

/// A description: a phrase, sometimes with quotes, backslashes, commas or text
/// that looks like a challenge.
pub(crate) fn description(rng: &mut Rng, unicode: bool) -> String {
    match rng.below(6) {
        0 => "One API call".to_owned(),
        1 => "Premium \"gold\" tier, per request".to_owned(),
        2 => "Payment id=\"fake\", realm=\"x\"".to_owned(),
        3 => r"C:\paid\report, 1 page".to_owned(),
        _ => text(rng, 1, 20, "\"\\,=;:.!?()", unicode),
    }
}

/// JSON text of `value` in a random layout: members in any order, random
/// whitespace, strings with optional escapes (`\/`, `\uXXXX`, surrogate pairs).
pub(crate) fn layout(rng: &mut Rng, value: &Value, out: &mut String) {
    let ws = |rng: &mut Rng, out: &mut String| {
        if rng.chance(25) {
            out.push_str(rng.pick(&[" ", "\n", "\t", "  ", "\r\n "]));
        }
    };
    match value {
        Value::Object(members) => {
            // Sorted first: the map's own order depends on serde_json's features.
            let mut keys: Vec<&String> = members.keys().collect();
            keys.sort();
            rng.shuffle(&mut keys);
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                string(rng, key, out);
                ws(rng, out);
                out.push(':');
                ws(rng, out);
                layout(rng, &members[*key], out);
                ws(rng, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                ws(rng, out);
                layout(rng, item, out);
            }
            out.push(']');
        }
        Value::String(s) => string(rng, s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn string(rng: &mut Rng, s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if rng.chance(50) => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if !c.is_ascii() && rng.chance(40) => {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
