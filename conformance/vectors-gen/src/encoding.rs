//! `base64url`, `jcs` and `digest`.

use mpp_core::digest::{ContentDigest, DigestAlgorithm};
use mpp_core::{base64, jcs};
use serde_json::{Value, json};

use super::values::{self, layout};
use super::{Cases, Mark};
use crate::rng::Rng;

/// `base64url`.
pub(crate) fn base64url(cases: &mut Cases, rng: &mut Rng) {
    let no_padding = ["core.challenge.request.no-padding"];
    for (plain, coded) in [
        ("", ""),
        ("f", "Zg"),
        ("fo", "Zm8"),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg"),
        ("fooba", "Zm9vYmE"),
        ("foobar", "Zm9vYmFy"),
    ] {
        let name = if plain.is_empty() { "empty" } else { plain };
        cases.ok(
            &format!("rfc4648.encode-{name}"),
            &format!("RFC 4648 section 10: {plain:?}, without its padding"),
            &no_padding,
            "base64url.encode",
            json!({ "text": plain }),
            json!({ "text": coded }),
        );
        cases.ok(
            &format!("rfc4648.decode-{name}"),
            &format!("RFC 4648 section 10: {coded:?} decodes to {plain:?}"),
            &[],
            "base64url.decode",
            json!({ "text": coded }),
            json!({ "text": plain }),
        );
    }
    for (name, plain, coded) in [
        ("url-safe-hyphen", "??>", "Pz8-"),
        ("url-safe-underscore", "???", "Pz8_"),
        ("non-ascii", "héllo?>", "aMOpbGxvPz4"),
    ] {
        cases.ok(
            &format!("hand.encode-{name}"),
            &format!("{plain:?}: the url-safe alphabet (- and _), no padding"),
            &no_padding,
            "base64url.encode",
            json!({ "text": plain }),
            json!({ "text": coded }),
        );
    }
    for (name, coded, plain) in [("padding-two", "Zg==", "f"), ("padding-one", "Zm8=", "fo")] {
        cases
            .ok(
                &format!("hand.decode-{name}"),
                &format!("{coded:?}: padding that completes the last quantum is tolerated"),
                &[],
                "base64url.decode",
                json!({ "text": coded }),
                json!({ "text": plain }),
            )
            .decision("E4");
    }
    for (name, coded, class, what, decision) in [
        (
            "bad-character",
            "not-valid!!!",
            "invalid-base64",
            "a character outside the alphabet",
            None,
        ),
        (
            "space",
            "Zm 8",
            "invalid-base64",
            "a space inside the text",
            None,
        ),
        (
            "standard-alphabet",
            "+/8",
            "invalid-base64",
            "the standard alphabet's + and /",
            Some("E4"),
        ),
        (
            "trailing-bits",
            "Zh",
            "non-canonical-base64",
            "non-zero unused bits in the last character",
            Some("E4"),
        ),
        (
            "length",
            "Zm9vY",
            "non-canonical-base64",
            "a length no encoding has",
            None,
        ),
        (
            "extra-padding",
            "Zm8==",
            "invalid-base64",
            "more padding than the quantum needs",
            Some("E4"),
        ),
        (
            "padding-inside",
            "Zm=8",
            "invalid-base64",
            "padding before the end",
            Some("E4"),
        ),
        (
            "not-utf8",
            "_w",
            "invalid-utf8",
            "bytes that are not UTF-8 text",
            None,
        ),
    ] {
        let v = cases.error(
            &format!("hand.decode-error-{name}"),
            &format!("{coded:?} is refused: {what}"),
            &[],
            "base64url.decode",
            json!({ "text": coded }),
            "encoding_error",
            Some(class),
        );
        if let Some(d) = decision {
            v.decision(d);
        }
    }
    for n in 1..=8 {
        let text = values::text(rng, 0, 24, "\"\\/+?>~_-", true);
        let coded = base64::encode(text.as_bytes());
        let (op, input, output) = if n % 2 == 1 {
            ("base64url.encode", &text, &coded)
        } else {
            ("base64url.decode", &coded, &text)
        };
        cases.ok(
            &format!("generated.{n:03}"),
            &format!("generated text {n}"),
            if n % 2 == 1 { &no_padding[..] } else { &[] },
            op,
            json!({ "text": input }),
            json!({ "text": output }),
        );
    }
}

/// `jcs`.
pub(crate) fn jcs(cases: &mut Cases, rng: &mut Rng) {
    let op = "jcs.canonicalize";
    let reqs = ["core.challenge.request.jcs"];
    let rfc_3_2_2 = "{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n  \"literals\": [null, true, false]\n}";
    cases.ok(
        "rfc8785.section-3-2-2",
        "RFC 8785 section 3.2.2: whitespace dropped, numbers and strings in canonical form",
        &reqs,
        op,
        json!({ "text": rfc_3_2_2 }),
        json!({ "text": "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}" }),
    );
    let rfc_3_2_3 = "{\n  \"\\u20ac\": \"Euro Sign\",\n  \"\\r\": \"Carriage Return\",\n  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n  \"1\": \"One\",\n  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n  \"\\u0080\": \"Control\",\n  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n}";
    cases.ok(
        "rfc8785.section-3-2-3",
        "RFC 8785 section 3.2.3: members sorted by UTF-16 code units (U+FB33 after the emoji)",
        &reqs,
        op,
        json!({ "text": rfc_3_2_3 }),
        json!({ "text": "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}" }),
    );
    // RFC 8785 Appendix B: IEEE 754 values and their canonical form. Each is given as
    // 18 significant digits, which read back as exactly that double.
    for (bits, canonical) in [
        (0x0000000000000000u64, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ] {
        let text = format!("{:.17e}", f64::from_bits(bits));
        let mut check = String::new();
        jcs::write_number(f64::from_bits(bits), &mut check);
        assert_eq!(check, canonical, "{bits:016x}");
        cases.ok(
            &format!("rfc8785.number-{bits:016x}"),
            &format!("RFC 8785 appendix B: the double 0x{bits:016x} is written {canonical}"),
            &reqs,
            op,
            json!({ "text": text }),
            json!({ "text": canonical }),
        );
    }
    // Doubles halfway between two shortest forms: ECMAScript takes the even digit.
    for (bits, canonical) in [
        (0x430604f5c9ad274au64, "774737898087657.2"),
        (0x42bbd9fe05703ed0, "30623083622462.812"),
        (0x41ead0b4755ea000, "3599082410.9570312"),
    ] {
        let text = format!("{:.17e}", f64::from_bits(bits));
        cases.ok(
            &format!("ecmascript.number-tie-{bits:016x}"),
            &format!(
                "the double 0x{bits:016x}, a tie between two shortest forms, is written {canonical}"
            ),
            &reqs,
            op,
            json!({ "text": text }),
            json!({ "text": canonical }),
        );
    }
    for (name, text, canonical, what) in [
        (
            "integer-forms",
            "[1.0, 1e0, 10E-1, -0, 100, 1e2]",
            "[1,1,1,0,100,100]",
            "numbers equal to integers are written as integers",
        ),
        (
            "beyond-2-53",
            "[9007199254740993, 123456789012345678901234567890]",
            "[9007199254740992,1.2345678901234568e+29]",
            "integers beyond 2^53 are read as doubles",
        ),
        (
            "exponent-bounds",
            "[1e21, 1e20, 1e-6, 1e-7, 0.1]",
            "[1e+21,100000000000000000000,0.000001,1e-7,0.1]",
            "plain notation from 1e-6 up to 1e21",
        ),
        (
            "escapes",
            "[\"\\u0000\\u0008\\u0009\\u000a\\u000c\\u000d\\u001f\\u007f\", \"<>&'\\/\", \"\\u00e9\\u2028\"]",
            "[\"\\u0000\\b\\t\\n\\f\\r\\u001f\u{7f}\",\"<>&'/\",\"é\u{2028}\"]",
            "only quote, backslash and C0 controls are escaped; <>& and non-ASCII are not",
        ),
        (
            "literals",
            " [ true , false , null , { } , [ ] , \"\" ] ",
            "[true,false,null,{},[],\"\"]",
            "literals and empty containers",
        ),
        (
            "scalar",
            " \"top\" ",
            "\"top\"",
            "a JSON text may be a single string",
        ),
        (
            "nested-sort",
            "{\"b\": {\"z\": 1, \"a\": [ {\"y\": 2, \"x\": 1} ]}, \"a\": 0}",
            "{\"a\":0,\"b\":{\"a\":[{\"x\":1,\"y\":2}],\"z\":1}}",
            "members sorted at every level, array order kept",
        ),
        (
            "sort-by-utf16",
            "{\"\u{ff61}\": 1, \"\u{10000}\": 2, \"\u{e9}\": 3}",
            "{\"é\":3,\"\u{10000}\":2,\"\u{ff61}\":1}",
            "an astral name sorts before U+FF61 (UTF-16 order, not code point order)",
        ),
    ] {
        cases.ok(
            &format!("hand.{name}"),
            what,
            &reqs,
            op,
            json!({ "text": text }),
            json!({ "text": canonical }),
        );
    }
    for n in 1..=10 {
        let value = Value::Object(values::object(rng, 3, 5));
        let mut text = String::new();
        layout(rng, &value, &mut text);
        let canonical = jcs::to_string(&value);
        cases.ok(
            &format!("generated.{n:03}"),
            &format!(
                "generated object {n}, written with random member order, whitespace and escapes"
            ),
            &reqs,
            op,
            json!({ "text": text }),
            json!({ "text": canonical }),
        );
    }
    for (name, text, class, what, decision) in [
        (
            "duplicate-member",
            "{\"a\": 1, \"b\": 2, \"a\": 3}",
            "duplicate-json-key",
            "a member name twice (I-JSON)",
            Some("E11"),
        ),
        (
            "duplicate-after-unescaping",
            "{\"a\": 1, \"\\u0061\": 2}",
            "duplicate-json-key",
            "a member name twice once unescaped",
            Some("E11"),
        ),
        (
            "lone-surrogate",
            "[\"\\ud800\"]",
            "invalid-unicode-escape",
            "an unpaired surrogate escape",
            None,
        ),
        (
            "out-of-range",
            "[1e400]",
            "json-number-out-of-range",
            "a number beyond a double",
            None,
        ),
        (
            "trailing-comma",
            "[1, 2,]",
            "invalid-json",
            "a trailing comma",
            None,
        ),
        (
            "trailing-text",
            "{} {}",
            "invalid-json",
            "text after the value",
            None,
        ),
        ("nan", "[NaN]", "invalid-json", "NaN is not JSON", None),
        (
            "single-quotes",
            "{'a': 1}",
            "invalid-json",
            "single-quoted names",
            None,
        ),
        (
            "leading-zero",
            "[01]",
            "invalid-json",
            "a number with a leading zero",
            None,
        ),
        ("empty", "  ", "empty", "no value at all", None),
        (
            "too-deep",
            &format!("{}{}", "[".repeat(65), "]".repeat(65)),
            "json-too-deep",
            "arrays nested 65 deep",
            Some("D11"),
        ),
    ] {
        let v = cases.error(
            &format!("error.{name}"),
            &format!("refused: {what}"),
            &reqs,
            op,
            json!({ "text": text }),
            "parse_error",
            Some(class),
        );
        if let Some(d) = decision {
            v.decision(d);
        }
    }
}

fn body(bytes: &[u8]) -> String {
    base64::encode(bytes)
}

/// `digest`.
pub(crate) fn digest(cases: &mut Cases, rng: &mut Rng) {
    let hello = br#"{"hello": "world"}"#;
    for (name, bytes, algorithm, expected, what) in [
        (
            "rfc9530-sha-256",
            &hello[..],
            "sha-256",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "RFC 9530's example body",
        ),
        (
            "rfc9530-sha-512",
            &hello[..],
            "sha-512",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            "RFC 9530's example body",
        ),
        (
            "empty-body",
            &b""[..],
            "sha-256",
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
            "an empty body",
        ),
    ] {
        let alg = DigestAlgorithm::from_name(algorithm).unwrap_or_else(|| unreachable!());
        assert_eq!(ContentDigest::compute(alg, bytes).as_str(), expected);
        cases.ok(
            &format!("compute.{name}"),
            &format!("{algorithm} of {what}, in RFC 9530 form"),
            &["core.digest.include"],
            "digest.compute",
            json!({ "body": body(bytes), "algorithm": algorithm }),
            json!({ "digest": expected }),
        );
    }
    for n in 1..=6 {
        let bytes = if n % 3 == 0 {
            let mut t = String::new();
            let request = values::request(rng);
            layout(rng, &Value::Object(request), &mut t);
            t.into_bytes()
        } else {
            let len = rng.below(120);
            rng.bytes(len)
        };
        let alg = if rng.chance(60) {
            DigestAlgorithm::Sha256
        } else {
            DigestAlgorithm::Sha512
        };
        cases.ok(
            &format!("compute.generated.{n:03}"),
            &format!("generated body {n} ({} bytes), {}", bytes.len(), alg.name()),
            &["core.digest.include"],
            "digest.compute",
            json!({ "body": body(&bytes), "algorithm": alg.name() }),
            json!({ "digest": ContentDigest::compute(alg, &bytes).as_str() }),
        );
    }
    for n in 1..=8 {
        let len = rng.range(1, 100) as usize;
        let bytes = rng.bytes(len);
        let alg = if rng.chance(60) {
            DigestAlgorithm::Sha256
        } else {
            DigestAlgorithm::Sha512
        };
        let digest = ContentDigest::compute(alg, &bytes).as_str().to_owned();
        let (text, decision, form) = match rng.below(4) {
            0 => (values::bare_digest(&digest), Some("E8"), "without colons"),
            1 => (
                digest
                    .replace('=', "")
                    .replacen("sha-256", "sha-256=", 1)
                    .replacen("sha-512", "sha-512=", 1),
                Some("E8"),
                "without base64 padding",
            ),
            _ => (digest.clone(), None, "in RFC 9530 form"),
        };
        let mut other = bytes.clone();
        let changed = rng.chance(40);
        if changed {
            let i = rng.below(other.len());
            other[i] ^= 1 << rng.below(8);
        }
        let v = cases.ok(
            &format!("verify.generated.{n:03}"),
            &format!(
                "generated body {n}, {} digest {form}: {}",
                alg.name(),
                if changed {
                    "one bit changed, no match"
                } else {
                    "matches"
                }
            ),
            &["core.digest.verify"],
            "digest.verify",
            json!({ "digest": text, "body": body(&other) }),
            json!({ "matches": !changed }),
        );
        if let Some(d) = decision {
            v.decision(d);
        }
    }
    let good = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
    cases.ok(
        "verify.other-body",
        "the digest of one body does not match another",
        &["core.digest.verify"],
        "digest.verify",
        json!({ "digest": good, "body": body(br#"{"hello": "world!"}"#) }),
        json!({ "matches": false }),
    );
    for (name, text, class, what, decision) in [
        (
            "md5",
            "md5=:HUXZLQLMuI/KZ5KDcJPcOA==:",
            "unsupported-digest-algorithm",
            "a deprecated algorithm",
            Some("E8"),
        ),
        (
            "unknown-algorithm",
            "sha-3=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "unsupported-digest-algorithm",
            "an unregistered algorithm",
            Some("E8"),
        ),
        (
            "uppercase-algorithm",
            "SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "invalid-digest",
            "an upper-case algorithm key",
            None,
        ),
        (
            "wrong-length",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDU:",
            "invalid-digest",
            "a value of the wrong length",
            None,
        ),
        (
            "two-members",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            "invalid-digest",
            "two dictionary members",
            Some("E8"),
        ),
        (
            "parameters",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;a=1",
            "invalid-digest",
            "dictionary parameters",
            Some("E8"),
        ),
        (
            "whitespace",
            " sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "invalid-digest",
            "leading whitespace",
            None,
        ),
        (
            "url-safe-alphabet",
            "sha-512=:WZDPaVn_7XgHaAy8pmojAkGWoRx2UFChF41A2svX-TaPm-AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
            "invalid-digest",
            "base64url where RFC 9530 uses standard base64",
            None,
        ),
        (
            "unclosed",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            "invalid-digest",
            "a missing closing colon",
            None,
        ),
    ] {
        let v = cases.error(
            &format!("verify.error.{name}"),
            &format!("refused: {what}"),
            &["core.digest.verify"],
            "digest.verify",
            json!({ "digest": text, "body": body(hello) }),
            "parse_error",
            Some(class),
        );
        v.field("digest");
        if let Some(d) = decision {
            v.decision(d);
        }
    }
}
