//! `base64url`, `jcs` and `digest`.

use mpp_core::digest::{ContentDigest, DigestAlgorithm};
use mpp_core::{base64, jcs};
use serde_json::{Value, json};

use super::values::{self, layout};
use super::{Case, Cases, Mark};
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
        cases.add(case! { id: format!("rfc4648.encode-{name}"), description: format!("RFC 4648 section 10: {plain:?}, without its padding"), reqs: &no_padding, op: "base64url.encode", input: json!({ "text": plain }), value: json!({ "text": coded }) });
        cases.add(case! { id: format!("rfc4648.decode-{name}"), description: format!("RFC 4648 section 10: {coded:?} decodes to {plain:?}"), op: "base64url.decode", input: json!({ "text": coded }), value: json!({ "text": plain }) });
    }
    for (name, plain, coded) in [
        ("url-safe-hyphen", "??>", "Pz8-"),
        ("url-safe-underscore", "???", "Pz8_"),
        ("non-ascii", "héllo?>", "aMOpbGxvPz4"),
    ] {
        cases.add(case! { id: format!("hand.encode-{name}"), description: format!("{plain:?}: the url-safe alphabet (- and _), no padding"), reqs: &no_padding, op: "base64url.encode", input: json!({ "text": plain }), value: json!({ "text": coded }) });
    }
    for (name, coded, plain) in [("padding-two", "Zg==", "f"), ("padding-one", "Zm8=", "fo")] {
        cases.add(case! { id: format!("hand.decode-{name}"), description: format!("{coded:?}: padding that completes the last quantum is tolerated"), op: "base64url.decode", input: json!({ "text": coded }), value: json!({ "text": plain }), decision: "E4" });
    }
    let text = |text: &str| json!({ "text": text });
    let errors = [
        case! { id: "hand.decode-error-bad-character", description: "a character outside the alphabet", input: text("not-valid!!!"), class: "invalid-base64" },
        case! { id: "hand.decode-error-space", description: "a space inside the text", input: text("Zm 8"), class: "invalid-base64" },
        case! { id: "hand.decode-error-standard-alphabet", description: "the standard alphabet's + and /", input: text("+/8"), class: "invalid-base64", decision: "E4" },
        case! { id: "hand.decode-error-trailing-bits", description: "non-zero unused bits in the last character", input: text("Zh"), class: "non-canonical-base64", decision: "E4" },
        case! { id: "hand.decode-error-length", description: "a length no encoding has", input: text("Zm9vY"), class: "non-canonical-base64" },
        case! { id: "hand.decode-error-extra-padding", description: "more padding than the quantum needs", input: text("Zm8=="), class: "invalid-base64", decision: "E4" },
        case! { id: "hand.decode-error-padding-inside", description: "padding before the end", input: text("Zm=8"), class: "invalid-base64", decision: "E4" },
        case! { id: "hand.decode-error-not-utf8", description: "bytes that are not UTF-8 text", input: text("_w"), class: "invalid-utf8" },
    ];
    for case in errors {
        let coded = case.input["text"].as_str().unwrap_or_default().to_owned();
        cases.add(Case {
            description: format!("{coded:?} is refused: {}", case.description),
            op: "base64url.decode",
            error: "encoding_error",
            ..case
        });
    }
    for n in 1..=8 {
        let text = values::text(rng, 0, 24, "\"\\/+?>~_-", true);
        let coded = base64::encode(text.as_bytes());
        let (op, input, output) = if n % 2 == 1 {
            ("base64url.encode", &text, &coded)
        } else {
            ("base64url.decode", &coded, &text)
        };
        cases.add(case! { id: format!("generated.{n:03}"), description: format!("generated text {n}"), reqs: if n % 2 == 1 { &no_padding[..] } else { &[] }, op, input: json!({ "text": input }), value: json!({ "text": output }) });
    }
}

/// `jcs`.
pub(crate) fn jcs(cases: &mut Cases, rng: &mut Rng) {
    let op = "jcs.canonicalize";
    let reqs = ["core.challenge.request.jcs"];
    let rfc_3_2_2 = "{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n  \"literals\": [null, true, false]\n}";
    cases.add(case! { id: "rfc8785.section-3-2-2", description: "RFC 8785 section 3.2.2: whitespace dropped, numbers and strings in canonical form", reqs: &reqs, op, input: json!({ "text": rfc_3_2_2 }), value: json!({ "text": "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}" }) });
    let rfc_3_2_3 = "{\n  \"\\u20ac\": \"Euro Sign\",\n  \"\\r\": \"Carriage Return\",\n  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n  \"1\": \"One\",\n  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n  \"\\u0080\": \"Control\",\n  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n}";
    cases.add(case! { id: "rfc8785.section-3-2-3", description: "RFC 8785 section 3.2.3: members sorted by UTF-16 code units (U+FB33 after the emoji)", reqs: &reqs, op, input: json!({ "text": rfc_3_2_3 }), value: json!({ "text": "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}" }) });
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
        cases.add(case! { id: format!("rfc8785.number-{bits:016x}"), description: format!("RFC 8785 appendix B: the double 0x{bits:016x} is written {canonical}"), reqs: &reqs, op, input: json!({ "text": text }), value: json!({ "text": canonical }) });
    }
    // Doubles halfway between two shortest forms: ECMAScript takes the even digit.
    for (bits, canonical) in [
        (0x430604f5c9ad274au64, "774737898087657.2"),
        (0x42bbd9fe05703ed0, "30623083622462.812"),
        (0x41ead0b4755ea000, "3599082410.9570312"),
    ] {
        let text = format!("{:.17e}", f64::from_bits(bits));
        cases.add(case! { id: format!("ecmascript.number-tie-{bits:016x}"), description: format!("the double 0x{bits:016x}, a tie between two shortest forms, is written {canonical}"), reqs: &reqs, op, input: json!({ "text": text }), value: json!({ "text": canonical }) });
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
        cases.add(case! { id: format!("hand.{name}"), description: what, reqs: &reqs, op, input: json!({ "text": text }), value: json!({ "text": canonical }) });
    }
    for n in 1..=10 {
        let value = Value::Object(values::object(rng, 3, 5));
        let mut text = String::new();
        layout(rng, &value, &mut text);
        let canonical = jcs::to_string(&value);
        cases.add(case! { id: format!("generated.{n:03}"), description: format!("generated object {n}, written with random member order, whitespace and escapes"), reqs: &reqs, op, input: json!({ "text": text }), value: json!({ "text": canonical }) });
    }
    let text = |text: &str| json!({ "text": text });
    let errors = [
        case! { id: "error.duplicate-member", description: "a member name twice (I-JSON)", input: text("{\"a\": 1, \"b\": 2, \"a\": 3}"), class: "duplicate-json-key", decision: "E11" },
        case! { id: "error.duplicate-after-unescaping", description: "a member name twice once unescaped", input: text("{\"a\": 1, \"\\u0061\": 2}"), class: "duplicate-json-key", decision: "E11" },
        case! { id: "error.lone-surrogate", description: "an unpaired surrogate escape", input: text("[\"\\ud800\"]"), class: "invalid-unicode-escape" },
        case! { id: "error.out-of-range", description: "a number beyond a double", input: text("[1e400]"), class: "json-number-out-of-range" },
        case! { id: "error.trailing-comma", description: "a trailing comma", input: text("[1, 2,]"), class: "invalid-json" },
        case! { id: "error.trailing-text", description: "text after the value", input: text("{} {}"), class: "invalid-json" },
        case! { id: "error.nan", description: "NaN is not JSON", input: text("[NaN]"), class: "invalid-json" },
        case! { id: "error.single-quotes", description: "single-quoted names", input: text("{'a': 1}"), class: "invalid-json" },
        case! { id: "error.leading-zero", description: "a number with a leading zero", input: text("[01]"), class: "invalid-json" },
        case! { id: "error.empty", description: "no value at all", input: text("  "), class: "empty" },
        case! { id: "error.too-deep", description: "arrays nested 65 deep", input: text(&format!("{}{}", "[".repeat(65), "]".repeat(65))), class: "json-too-deep", decision: "D11" },
    ];
    for case in errors {
        cases.add(Case {
            description: format!("refused: {}", case.description),
            reqs: reqs.to_vec(),
            op,
            error: "parse_error",
            ..case
        });
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
        cases.add(case! { id: format!("compute.{name}"), description: format!("{algorithm} of {what}, in RFC 9530 form"), reqs: &["core.digest.include"], op: "digest.compute", input: json!({ "body": body(bytes), "algorithm": algorithm }), value: json!({ "digest": expected }) });
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
        cases.add(case! { id: format!("compute.generated.{n:03}"), description: format!("generated body {n} ({} bytes), {}", bytes.len(), alg.name()), reqs: &["core.digest.include"], op: "digest.compute", input: json!({ "body": body(&bytes), "algorithm": alg.name() }), value: json!({ "digest": ContentDigest::compute(alg, &bytes).as_str() }) });
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
        let v = cases.add(case! { id: format!("verify.generated.{n:03}"), description: format!("generated body {n}, {} digest {form}: {}", alg.name(), if changed { "one bit changed, no match" } else { "matches" }), reqs: &["core.digest.verify"], op: "digest.verify", input: json!({ "digest": text, "body": body(&other) }), value: json!({ "matches": !changed }) });
        if let Some(d) = decision {
            v.decision(d);
        }
    }
    let good = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
    cases.add(case! { id: "verify.other-body", description: "the digest of one body does not match another", reqs: &["core.digest.verify"], op: "digest.verify", input: json!({ "digest": good, "body": body(br#"{"hello": "world!"}"#) }), value: json!({ "matches": false }) });
    let verify = |digest: &str| json!({ "digest": digest, "body": body(hello) });
    let errors = [
        case! { id: "verify.error.md5", description: "a deprecated algorithm", input: verify("md5=:HUXZLQLMuI/KZ5KDcJPcOA==:"), class: "unsupported-digest-algorithm", decision: "E8" },
        case! { id: "verify.error.unknown-algorithm", description: "an unregistered algorithm", input: verify("sha-3=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"), class: "unsupported-digest-algorithm", decision: "E8" },
        case! { id: "verify.error.uppercase-algorithm", description: "an upper-case algorithm key", input: verify("SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"), class: "invalid-digest" },
        case! { id: "verify.error.wrong-length", description: "a value of the wrong length", input: verify("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDU:"), class: "invalid-digest" },
        case! { id: "verify.error.two-members", description: "two dictionary members", input: verify("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"), class: "invalid-digest", decision: "E8" },
        case! { id: "verify.error.parameters", description: "dictionary parameters", input: verify("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;a=1"), class: "invalid-digest", decision: "E8" },
        case! { id: "verify.error.whitespace", description: "leading whitespace", input: verify(" sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"), class: "invalid-digest" },
        case! { id: "verify.error.url-safe-alphabet", description: "base64url where RFC 9530 uses standard base64", input: verify("sha-512=:WZDPaVn_7XgHaAy8pmojAkGWoRx2UFChF41A2svX-TaPm-AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"), class: "invalid-digest" },
        case! { id: "verify.error.unclosed", description: "a missing closing colon", input: verify("sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="), class: "invalid-digest" },
    ];
    for case in errors {
        cases.add(Case {
            description: format!("refused: {}", case.description),
            reqs: vec!["core.digest.verify"],
            op: "digest.verify",
            error: "parse_error",
            field: Some("digest"),
            ..case
        });
    }
}
