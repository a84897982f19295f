//! Our hand-written modules measured against the crates they could have been.
//!
//! Each group times ours and the crate on the same input; before timing, `facts`
//! asserts what each crate accepts and refuses where ours differs, so the claims in
//! the modules' "Why not crate X" notes are checked on every run. Run one group with
//! `cargo bench -p mpp-core --bench why -- <filter>` (filters: `base64`, `grammar`,
//! `json`, `jcs`, `rfc3339`).
//!
//! The nom parser below is written here only, to measure what nom would give the
//! grammar (mpp-core/src/grammar.rs); nothing in the crate uses it.

use std::hint::black_box;
use std::time::Duration;

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{Criterion, criterion_group, criterion_main};
use mpp_core::challenge::Challenge;
use mpp_core::grammar::{AuthBody, AuthChallenges, RawValue};
use mpp_core::json::{self, Shape, Value};
use mpp_core::time::Timestamp;
use mpp_core::{ParseError, ParseErrorKind, base64, jcs};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[path = "../tests/common/mod.rs"]
mod common;

// ---------------------------------------------------------------- inputs

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 37 + 11) as u8).collect()
}

/// One Payment challenge of about 300 bytes.
fn one_challenge() -> String {
    let h = common::challenge_with(concat!(
        r#", expires="2026-01-29T12:05:00Z", "#,
        r#"description="Premium search API: one request, billed per call, refunded on a server error.""#
    ));
    assert!((280..=320).contains(&h.len()), "{}", h.len());
    h
}

/// A field value of about 1.5 KiB with five schemes: token68, bare, quoted commas.
fn many_challenges() -> String {
    let lightning = base64::encode(
        format!(
            r#"{{"amount":"100","currency":"BTC","methodDetails":{{"invoice":"lnbc1u1p{}"}}}}"#,
            "q".repeat(400)
        )
        .as_bytes(),
    );
    let h = format!(
        r#"Bearer realm="api.example.com", error="invalid_token", error_description="expired, Payment id=x is not a challenge", {}, Basic dXNlcjpwYXNzd29yZA==, Negotiate, {}, Payment id="Ln7Tg2pLqR9mKvNwY3hBcZa", realm="api.example.com", method="lightning", intent="charge", request="{lightning}""#,
        common::typical_challenge(),
        common::challenge(),
    );
    assert!((1400..=1600).contains(&h.len()), "{}", h.len());
    h
}

/// A request object of about 1 KiB, as a server puts in a challenge.
fn request_json() -> String {
    let j = format!(
        r#"{{"amount":"1000","currency":"0x20c0000000000000000000000000000000000001","recipient":"0x742d35Cc6634C0532925a3b844Bc9e7595f8fE00","description":"Premium search API, one request, \"fast\" tier","externalId":"order_8d7f6e5c4b3a2918","methodDetails":{{"chainId":4217,"feePayer":true,"memo":"0x{}","splits":[{{"recipient":"0x1111111111111111111111111111111111111111","amount":"100"}},{{"recipient":"0x2222222222222222222222222222222222222222","amount":"50"}}]}},"metadata":{{"customer":"cus_Nf0d9e8c7b6a","plan":"pro","region":"eu-west-1","tags":["search","premium","beta"],"ratio":0.25,"retries":3,"note":"caf\u00e9 \u2603 {}"}}}}"#,
        "ab".repeat(64),
        "x".repeat(270),
    );
    assert!((1000..=1100).contains(&j.len()), "{}", j.len());
    j
}

// ---------------------------------------------------------------- the nom parser

mod nom_grammar {
    //! RFC 9110 §11 challenges with nom 8, as close to grammar.rs as nom allows.
    //! Errors are fatal (`Failure`) and carry one of our kinds where grammar.rs names
    //! one; the offset is the length of the input minus that of `at`.

    use mpp_core::ParseErrorKind as K;
    use nom::branch::alt;
    use nom::bytes::complete::{tag, take_while, take_while1};
    use nom::character::complete::{char, satisfy};
    use nom::combinator::{eof, map, not, peek, recognize, value};
    use nom::multi::{many0, many0_count};
    use nom::sequence::{preceded, terminated};
    use nom::{IResult, Parser};

    type In<'a> = &'a [u8];
    type Res<'a, O> = IResult<In<'a>, O, E<'a>>;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) enum Body<'a> {
        Bare,
        Token68(In<'a>),
        Params(Vec<Param<'a>>),
    }

    /// (input at the name, name, quoted?, value)
    pub(crate) type Param<'a> = (In<'a>, In<'a>, bool, In<'a>);
    /// Each challenge's scheme and body.
    pub(crate) type Parsed<'a> = Vec<(In<'a>, Body<'a>)>;

    #[derive(Debug)]
    pub(crate) struct E<'a> {
        pub(crate) at: In<'a>,
        /// `None` where only nom's generic `ErrorKind` is known.
        pub(crate) kind: Option<K>,
    }

    impl<'a> nom::error::ParseError<In<'a>> for E<'a> {
        fn from_error_kind(at: In<'a>, _: nom::error::ErrorKind) -> Self {
            E { at, kind: None }
        }
        fn append(_: In<'a>, _: nom::error::ErrorKind, other: Self) -> Self {
            other
        }
    }

    fn fail<'a, O>(at: In<'a>, kind: K) -> Res<'a, O> {
        Err(nom::Err::Failure(E {
            at,
            kind: Some(kind),
        }))
    }

    /// `p`, whose recoverable failure becomes a fatal error of `kind` where it started.
    fn expect<'a, O>(
        kind: K,
        mut p: impl Parser<In<'a>, Output = O, Error = E<'a>>,
    ) -> impl FnMut(In<'a>) -> Res<'a, O> {
        move |i| match p.parse(i) {
            Err(nom::Err::Error(_)) => fail(i, kind),
            other => other,
        }
    }

    fn is_tchar(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
    }
    fn is_token68(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
    }
    fn is_ows(b: u8) -> bool {
        b == b' ' || b == b'\t'
    }
    fn ows(i: In<'_>) -> Res<'_, In<'_>> {
        take_while(is_ows).parse(i)
    }
    fn token(i: In<'_>) -> Res<'_, In<'_>> {
        take_while1(is_tchar).parse(i)
    }
    fn separators(i: In<'_>) -> Res<'_, In<'_>> {
        take_while(|b| is_ows(b) || b == b',').parse(i)
    }
    /// OWS, then the end or a comma (not consumed).
    fn element_end(i: In<'_>) -> Res<'_, ()> {
        value((), peek((ows, alt((eof, tag(&b","[..])))))).parse(i)
    }
    /// A token followed by the end, a comma, or OWS and anything but `=`.
    fn starts_challenge(i: In<'_>) -> Res<'_, ()> {
        let after = alt((
            value((), eof),
            value((), char(',')),
            value((), (take_while1(is_ows), not(char('=')))),
        ));
        value((), (token, after)).parse(i)
    }

    fn quoted(i: In<'_>) -> Res<'_, In<'_>> {
        let (body, _) = char('"').parse(i)?;
        let qdtext = take_while1(|b| b == b'\t' || (b >= 0x20 && !b"\"\\\x7f".contains(&b)));
        let pair = (
            char('\\'),
            satisfy(|c| c == '\t' || (c >= ' ' && c != '\x7f')),
        );
        let (rest, content) = recognize(many0_count(alt((qdtext, recognize(pair))))).parse(body)?;
        match rest {
            [b'"', tail @ ..] => Ok((tail, content)),
            [] | [b'\\'] => fail(i, K::UnterminatedQuotedString),
            [b'\\', ..] => fail(rest, K::InvalidQuotedPair),
            _ => fail(rest, K::ControlCharacter),
        }
    }

    fn param(i: In<'_>) -> Res<'_, Param<'_>> {
        let (rest, name) = expect(K::ExpectedParamName, token)(i)?;
        let (rest, _) = (ows, expect(K::ExpectedEquals, char('=')), ows).parse(rest)?;
        let val = alt((map(quoted, |q| (true, q)), map(token, |t| (false, t))));
        let (rest, (q, v)) = expect(K::ExpectedValue, val)(rest)?;
        Ok((rest, (i, name, q, v)))
    }

    fn params(i: In<'_>) -> Res<'_, Body<'_>> {
        let next = (
            ows,
            char(','),
            separators,
            not(alt((value((), eof), starts_challenge))),
        );
        let (rest, (first, mut more)) = (param, many0(preceded(next, param))).parse(i)?;
        more.insert(0, first);
        Ok((rest, Body::Params(more)))
    }

    fn challenge(i: In<'_>) -> Res<'_, (In<'_>, Body<'_>)> {
        let (rest, scheme) = expect(K::ExpectedScheme, token)(i)?;
        if element_end(rest).is_ok() {
            return Ok((rest, (scheme, Body::Bare)));
        }
        if ows(rest)?.0.first() == Some(&b'=') {
            return fail(i, K::ParamOutsideChallenge);
        }
        let (rest, _) = (expect(K::ExpectedSpace, take_while1(|b| b == b' ')), ows).parse(rest)?;
        let token68 = recognize((take_while1(is_token68), take_while(|b| b == b'=')));
        let token68 = map(terminated(token68, element_end), Body::Token68);
        let (rest, body) = alt((token68, params)).parse(rest)?;
        let comma = expect(K::ExpectedComma, peek(alt((eof, tag(&b","[..])))));
        let (rest, _) = preceded(ows, comma).parse(rest)?;
        Ok((rest, (scheme, body)))
    }

    /// Every challenge of a field value; the first error ends the parse.
    pub(crate) fn header(i: In<'_>) -> Res<'_, Parsed<'_>> {
        let one = preceded((separators, not(eof)), challenge);
        terminated(many0(one), (separators, eof)).parse(i)
    }

    /// The offset and kind of a duplicate parameter name (case-insensitive), the
    /// check challenge.rs makes after the grammar.
    pub(crate) fn duplicate(whole: In<'_>, parsed: &Parsed<'_>) -> Option<usize> {
        parsed.iter().find_map(|(_, body)| {
            let Body::Params(ps) = body else { return None };
            ps.iter().enumerate().find_map(|(n, (at, name, ..))| {
                ps[..n]
                    .iter()
                    .any(|p| p.1.eq_ignore_ascii_case(name))
                    .then(|| whole.len() - at.len())
            })
        })
    }
}

/// Our grammar's output in the nom parser's shape: validated, then collected.
fn ours(h: &[u8]) -> Result<nom_grammar::Parsed<'_>, ParseError> {
    use nom_grammar::Body;
    AuthChallenges::new(h)
        .map(|c| {
            let c = c?;
            let body = match c.body {
                AuthBody::None => Body::Bare,
                AuthBody::Token68(t) => Body::Token68(t.as_bytes()),
                AuthBody::Params(ps) => Body::Params(
                    ps.map(|(name, v)| match v {
                        RawValue::Token(t) => (&h[..0], name.as_bytes(), false, t.as_bytes()),
                        RawValue::Quoted(q) => (&h[..0], name.as_bytes(), true, q),
                    })
                    .collect(),
                ),
            };
            Ok((c.scheme.as_bytes(), body))
        })
        .collect()
}

fn theirs(h: &[u8]) -> Result<nom_grammar::Parsed<'_>, (usize, Option<ParseErrorKind>)> {
    match nom_grammar::header(h) {
        Ok((_, parsed)) => Ok(parsed),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err((h.len() - e.at.len(), e.kind)),
        Err(nom::Err::Incomplete(_)) => unreachable!("complete parsers only"),
    }
}

/// The nom parse without the positions that only the nom side records.
fn strip<'a>(v: nom_grammar::Parsed<'a>) -> nom_grammar::Parsed<'a> {
    use nom_grammar::Body;
    let params = |ps: Vec<nom_grammar::Param<'a>>| {
        ps.into_iter()
            .map(|(_, n, q, v)| (&b""[..], n, q, v))
            .collect()
    };
    v.into_iter()
        .map(|(s, b)| match b {
            Body::Params(ps) => (s, Body::Params(params(ps))),
            b => (s, b),
        })
        .collect()
}

// ---------------------------------------------------------------- facts

/// What the crates accept and refuse where ours differs: the notes' claims, checked.
fn facts() {
    // base64ct: no offsets (two error values), padding refused even where it completes
    // the quantum (the lightning drafts require accepting it), the standard alphabet
    // refused with no switch to allow it, non-canonical bits and whitespace refused.
    for bad in ["Zm8=", "+/8", "Zh", "Zm 8", "Zm9vY", "not-valid!!!"] {
        assert!(base64::decode(bad).is_err() || bad == "Zm8=", "{bad}");
        assert_eq!(
            Base64UrlUnpadded::decode_vec(bad),
            Err(base64ct::Error::InvalidEncoding),
            "{bad}"
        );
    }
    assert_eq!(base64::decode("Zm8=").unwrap(), b"fo");
    assert_eq!(base64::decode("not-valid!!!").unwrap_err().offset(), 9);

    // The nom grammar parses both inputs as ours does, and gives the same offsets and
    // kinds, once each failure site maps nom's error to ours.
    for h in [one_challenge(), many_challenges()] {
        assert_eq!(
            theirs(h.as_bytes()).unwrap().len(),
            ours(h.as_bytes()).unwrap().len()
        );
        assert_eq!(
            strip(theirs(h.as_bytes()).unwrap()),
            ours(h.as_bytes()).unwrap()
        );
    }
    for (h, kind) in [
        (
            r#"Payment id="abc"#,
            ParseErrorKind::UnterminatedQuotedString,
        ),
        (r#"Payment id="a" realm="b""#, ParseErrorKind::ExpectedComma),
        (
            r#"Payment id="a", realm:"b""#,
            ParseErrorKind::ExpectedEquals,
        ),
        ("Payment id=\"a\x01b\"", ParseErrorKind::ControlCharacter),
        (
            r#"Payment id="a\"#,
            ParseErrorKind::UnterminatedQuotedString,
        ),
        ("Payment\tid=a", ParseErrorKind::ExpectedSpace),
        ("Payment a=b, id=", ParseErrorKind::ExpectedValue),
        ("Payment a=b, =c", ParseErrorKind::ExpectedParamName),
        ("realm=x", ParseErrorKind::ParamOutsideChallenge),
    ] {
        let e = ours(h.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), kind, "{h:?}");
        assert_eq!(
            theirs(h.as_bytes()).unwrap_err(),
            (e.offset(), Some(kind)),
            "{h:?}"
        );
    }
    // nom's own error (no mapping) says only where and which combinator: `Char`.
    let plain: nom::IResult<&[u8], char> = nom::character::complete::char('=')(&b":x"[..]);
    assert!(matches!(
        plain,
        Err(nom::Err::Error(nom::error::Error {
            code: nom::error::ErrorKind::Char,
            ..
        }))
    ));
    // Duplicates are a check after the grammar in both.
    let dup = common::challenge_with(r#", ID="b""#);
    let e = Challenge::parse(dup.as_bytes()).unwrap_err();
    assert!(matches!(e.kind(), ParseErrorKind::DuplicateParameter(_)));
    let parsed = theirs(dup.as_bytes()).unwrap();
    assert_eq!(
        nom_grammar::duplicate(dup.as_bytes(), &parsed),
        Some(e.offset())
    );

    // serde_json: duplicate names accepted (last wins), `1.0` kept as a float and written
    // back as `1.0`, 2^53 + 1 kept exact; errors in line and column.
    let v: Value = serde_json::from_slice(br#"{"a":1,"a":2}"#).unwrap();
    assert_eq!(v["a"], 2);
    let e = json::parse_value(br#"{"a":1,"a":2}"#).unwrap_err();
    assert_eq!(
        (e.kind(), e.offset()),
        (ParseErrorKind::DuplicateJsonKey, 7)
    );
    let v: Value = serde_json::from_slice(b"[1.0,9007199254740993]").unwrap();
    assert_eq!(serde_json::to_string(&v).unwrap(), "[1.0,9007199254740993]");
    assert_eq!(
        jcs::to_string(&json::parse_value(b"[1.0,9007199254740993]").unwrap()),
        "[1,9007199254740992]"
    );
    let e = serde_json::from_slice::<Value>(b"{\n\"a\":tru}").unwrap_err();
    assert_eq!((e.line(), e.column()), (2, 8));

    // JCS: serde_json_canonicalizer writes what ours writes, but needs std; serde_json
    // itself writes neither RFC 8785's numbers nor its UTF-16 member order.
    let v: Value =
        serde_json::from_str(r#"{"😀":1e21,"｡":1e-7,"a":100000000000000000000.0}"#).unwrap();
    let canonical = r#"{"a":100000000000000000000,"😀":1e+21,"｡":1e-7}"#;
    assert_eq!(jcs::to_string(&v), canonical);
    assert_eq!(serde_json_canonicalizer::to_string(&v).unwrap(), canonical);
    assert_ne!(serde_json::to_string(&v).unwrap(), canonical);
    let big: Value = serde_json::from_slice(b"[1.0,9007199254740993]").unwrap();
    assert_eq!(
        serde_json_canonicalizer::to_string(&big).unwrap(),
        "[1,9007199254740992]"
    );

    // time's RFC 3339 parser: the same instants for plain timestamps, but it accepts
    // a space for `T` (ours refuses it), moves 23:59:60 back to :59 (ours reads the
    // next :00, as POSIX time does) and refuses :60 elsewhere; its errors name a
    // component, not an offset.
    let t = |s: &str| OffsetDateTime::parse(s, &Rfc3339).map(|d| d.unix_timestamp());
    let o = |s: &str| Timestamp::new(s).map(|t| t.unix().secs());
    for s in [
        "2026-01-29T12:05:00Z",
        "2026-01-29t12:05:00z",
        "2026-01-29T12:05:00.123456789123+01:00",
        "0000-01-01T00:00:00Z",
    ] {
        assert_eq!(t(s).ok(), o(s).ok(), "{s}");
    }
    for s in [
        "2026-01-29T12:05:00+0000",
        "2026-02-30T00:00:00Z",
        "2026-01-29T24:00:00Z",
    ] {
        assert!(t(s).is_err() && o(s).is_err(), "{s}");
    }
    assert!(t("2026-01-29 12:05:00Z").is_ok());
    assert_eq!(o("2026-01-29 12:05:00Z").unwrap_err().offset(), 10);
    assert_eq!(o("2016-12-31T23:59:60Z").unwrap(), 1_483_228_800);
    assert_eq!(t("2016-12-31T23:59:60Z").unwrap(), 1_483_228_799);
    assert!(t("2026-01-29T12:05:60Z").is_err() && o("2026-01-29T12:05:60Z").is_ok());
    assert!(matches!(
        t("2026-01-29T12:05:00.Z"),
        Err(time::error::Parse::ParseFromDescription(
            time::error::ParseFromDescription::InvalidComponent("subsecond")
        ))
    ));
}

// ---------------------------------------------------------------- timings

fn base64_group(c: &mut Criterion) {
    for n in [300, 4096] {
        let bytes = payload(n);
        let text = base64::encode(&bytes);
        assert_eq!(Base64UrlUnpadded::encode_string(&bytes), text);
        assert_eq!(Base64UrlUnpadded::decode_vec(&text).unwrap(), bytes);
        let mut g = c.benchmark_group(format!("base64 encode {n} B"));
        g.bench_function("mpp-core", |b| b.iter(|| base64::encode(black_box(&bytes))));
        g.bench_function("base64ct", |b| {
            b.iter(|| Base64UrlUnpadded::encode_string(black_box(&bytes)))
        });
        g.finish();
        let mut g = c.benchmark_group(format!("base64 decode {n} B"));
        g.bench_function("mpp-core", |b| {
            b.iter(|| base64::decode(black_box(&text)).unwrap())
        });
        g.bench_function("base64ct", |b| {
            b.iter(|| Base64UrlUnpadded::decode_vec(black_box(&text)).unwrap())
        });
        g.finish();
    }
}

fn grammar_group(c: &mut Criterion) {
    for (name, h) in [
        ("1 challenge", one_challenge()),
        ("5 challenges", many_challenges()),
    ] {
        let mut g = c.benchmark_group(format!("grammar {name} ({} B)", h.len()));
        // One validating pass (what Challenge::parse does, with a callback per param).
        g.bench_function("mpp-core validate", |b| {
            b.iter(|| {
                AuthChallenges::new(black_box(h.as_bytes()))
                    .map(|c| c.unwrap().span.end)
                    .sum::<usize>()
            })
        });
        // That pass, then the params collected (AuthParams reads them a second time).
        g.bench_function("mpp-core collect", |b| {
            b.iter(|| ours(black_box(h.as_bytes())).unwrap())
        });
        // One pass that validates and collects.
        g.bench_function("nom collect", |b| {
            b.iter(|| theirs(black_box(h.as_bytes())).unwrap())
        });
        g.finish();
    }
}

fn json_group(c: &mut Criterion) {
    let text = request_json();
    let bytes = text.as_bytes();
    let ours = json::parse_object(bytes).unwrap();
    assert_eq!(
        Value::Object(ours.clone()),
        serde_json::from_slice::<Value>(bytes).unwrap()
    );
    let mut g = c.benchmark_group(format!("json request object ({} B)", bytes.len()));
    g.bench_function("mpp-core validate", |b| {
        b.iter(|| json::validate(black_box(bytes), Shape::Object).unwrap())
    });
    g.bench_function("mpp-core parse_object", |b| {
        b.iter(|| json::parse_object(black_box(bytes)).unwrap())
    });
    g.bench_function("serde_json from_slice::<Value>", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(bytes)).unwrap())
    });
    g.finish();

    let value = Value::Object(ours);
    assert_eq!(
        serde_json_canonicalizer::to_string(&value).unwrap(),
        jcs::to_string(&value)
    );
    let mut g = c.benchmark_group("jcs request object");
    g.bench_function("mpp-core jcs::to_string", |b| {
        b.iter(|| jcs::to_string(black_box(&value)))
    });
    g.bench_function("serde_json_canonicalizer", |b| {
        b.iter(|| serde_json_canonicalizer::to_string(black_box(&value)).unwrap())
    });
    g.bench_function("serde_json to_string (not RFC 8785)", |b| {
        b.iter(|| serde_json::to_string(black_box(&value)).unwrap())
    });
    g.finish();
}

fn rfc3339_group(c: &mut Criterion) {
    let s = "2026-01-29T12:05:00Z";
    let mut g = c.benchmark_group("rfc3339 parse");
    g.bench_function("mpp-core Timestamp::new", |b| {
        b.iter(|| Timestamp::new(black_box(s)).unwrap().unix())
    });
    g.bench_function("time OffsetDateTime::parse", |b| {
        b.iter(|| {
            OffsetDateTime::parse(black_box(s), &Rfc3339)
                .unwrap()
                .unix_timestamp()
        })
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    facts();
    base64_group(c);
    grammar_group(c);
    json_group(c);
    rfc3339_group(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    targets = all
}
criterion_main!(benches);
