//! Hostile inputs finish fast with a clear error: no panic, no super-linear time.
//! The bounds are loose (debug builds, busy CI machines); a quadratic parser would
//! take minutes on these inputs, not seconds.

mod common;

use std::time::{Duration, Instant};

use common::{challenge, challenge_with};
use mpp_core::accept::AcceptPayment;
use mpp_core::base64;
use mpp_core::challenge::Challenge;
use mpp_core::credential::Credential;
use mpp_core::receipt::Receipt;
use mpp_core::{ParseErrorKind, ParseOptions};

const MIB: usize = 1024 * 1024;

/// Limits far above the defaults, so the parser itself (not a size cap) meets the input.
const HUGE: ParseOptions = ParseOptions {
    max_field_len: 64 * MIB,
    max_request_len: 64 * MIB,
    max_extensions: 32,
    standard_base64: false,
    legacy_unescaped_quotes: false,
};

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    // Linear work on these inputs takes well under a second even unoptimised;
    // quadratic work takes minutes. The margin is for loaded CI machines.
    assert!(took < Duration::from_secs(10), "{what} took {took:?}");
    out
}

fn kinds(input: &str, options: ParseOptions) -> Vec<Result<(), ParseErrorKind>> {
    Challenge::parse_all_with(input.as_bytes(), options)
        .map(|r| r.map(|_| ()).map_err(|e| e.kind()))
        .collect()
}

#[test]
fn one_mebibyte_headers_are_refused_by_default_and_parsed_linearly_when_allowed() {
    let many = vec![challenge(); MIB / challenge().len() + 1].join(", ");
    assert!(many.len() > MIB);
    let refused = timed("default cap", || kinds(&many, ParseOptions::STRICT));
    assert_eq!(
        refused,
        [Err(ParseErrorKind::TooLarge { limit: 64 * 1024 })]
    );
    let all = timed("2,600 challenges", || kinds(&many, HUGE));
    assert_eq!(all.len(), MIB / challenge().len() + 1);
    assert!(all.iter().all(Result::is_ok));

    let long_description =
        challenge_with(&format!(", description=\"{}\"", "a\\\"".repeat(MIB / 3)));
    let c = timed("1 MiB quoted value with escapes", || {
        Challenge::parse_all_with(long_description.as_bytes(), HUGE)
            .next()
            .unwrap()
            .unwrap()
    });
    assert_eq!(c.description.unwrap().len(), 2 * (MIB / 3));

    let bad_params = format!("Payment {}", "a=b ".repeat(MIB / 4));
    assert_eq!(
        timed("missing commas", || kinds(&bad_params, HUGE)),
        [Err(ParseErrorKind::ExpectedComma)]
    );
    let many_params = format!("Payment {}", "a=b, ".repeat(MIB / 5));
    assert_eq!(
        timed("1 MiB of parameters", || kinds(&many_params, HUGE)),
        [Err(ParseErrorKind::DuplicateParameter(
            mpp_core::Param::Extension
        ))]
    );
    let many_unique: String = (0..MIB / 12).map(|i| format!("p{i:07}=v, ")).collect();
    let many_unique = format!("Payment {many_unique}");
    assert_eq!(
        timed("1 MiB of distinct parameters", || kinds(&many_unique, HUGE)),
        [Err(ParseErrorKind::TooManyParameters)]
    );
    let schemes = "Bearer, ".repeat(MIB / 8);
    assert_eq!(timed("1 MiB of bare schemes", || kinds(&schemes, HUGE)), []);
}

#[test]
fn an_unterminated_quote_with_many_backslashes_is_linear() {
    for n in [12_000, MIB] {
        let h = format!("{}, ext=\"{}", challenge(), "\\".repeat(n));
        assert_eq!(
            timed("backslashes", || kinds(&h, HUGE)),
            [Err(ParseErrorKind::UnterminatedQuotedString)]
        );
        let h = format!("Bearer x=\"{}, {}", "\\\"".repeat(n / 2), challenge());
        assert_eq!(timed("escaped quotes", || kinds(&h, HUGE)), []);
    }
}

#[test]
fn a_hundred_thousand_commas() {
    let commas = ",".repeat(100_000);
    assert_eq!(timed("only commas", || kinds(&commas, HUGE)), []);
    let between = format!("{commas}{}{commas}{}{commas}", challenge(), challenge());
    assert_eq!(
        timed("commas around challenges", || kinds(&between, HUGE)),
        [Ok(()), Ok(())]
    );
    let inside = challenge().replacen(", ", &format!(",{commas} "), 3);
    assert_eq!(
        timed("commas between parameters", || kinds(&inside, HUGE)),
        [Ok(())]
    );
    let accept = format!("tempo/charge{commas}stripe/charge;q=0.5{commas}");
    assert_eq!(
        timed("Accept-Payment commas", || AcceptPayment::parse(&accept))
            .unwrap()
            .ranges
            .len(),
        2
    );
    let auth = format!("Payment e30{commas}");
    assert!(timed("credential commas", || Credential::parse(auth.as_bytes())).is_err());
}

#[test]
fn deeply_nested_json_is_refused_quickly() {
    let depth = 100_000;
    let nested = format!(r#"{{"a":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
    let request = base64::encode(nested.as_bytes());
    let h = challenge().replace(&common::request_b64(), &request);
    assert_eq!(
        timed("nested request", || kinds(&h, HUGE)),
        [Err(ParseErrorKind::JsonTooDeep)]
    );
    let objects = format!("{}{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let credential = format!("Payment {}", base64::encode(objects.as_bytes()));
    let e = timed("nested credential", || {
        Credential::parse_with(credential.as_bytes(), &HUGE)
    })
    .unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::JsonTooDeep);
    let receipt = base64::encode(objects.as_bytes());
    let e = timed("nested receipt", || {
        Receipt::parse_with(receipt.as_bytes(), &HUGE)
    })
    .unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::JsonTooDeep);
}

#[test]
fn oversized_credentials_and_receipts_are_refused_before_decoding() {
    let big = format!("Payment {}", "A".repeat(65 * 1024));
    let e = timed("65 KiB credential", || Credential::parse(big.as_bytes())).unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::TooLarge { limit: 64 * 1024 });
    let e = timed("65 KiB receipt", || Receipt::parse(&big.as_bytes()[8..])).unwrap_err();
    assert_eq!(e.kind(), ParseErrorKind::TooLarge { limit: 64 * 1024 });
}
