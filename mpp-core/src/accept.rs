//! Accept-Payment: a client's weighted payment-method preferences, and ranking a server's offers by them.
//!
//! A client may send `Accept-Payment` to say which payment methods and intents it can
//! use; a server then offers only matching challenges, best first. The grammar
//! (draft-httpauth-payment-01, with RFC 9110 list and qvalue rules):
//!
//! ```text
//! Accept-Payment = #payment-range
//! payment-range  = ( method / "*" ) "/" ( intent / "*" ) [ weight ]
//! weight         = OWS ";" OWS "q=" qvalue        ; "q" in any case
//! qvalue         = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
//! ```
//!
//! `method` follows [`MethodName`] (`[a-z][a-z0-9:_-]*`) and `intent` follows
//! [`IntentName`] (`1*(ALPHA / DIGIT / "-")`). As RFC 9110 §5.6.1 asks of list
//! recipients, empty elements (`a/b, , c/d`) and OWS around commas are skipped. A
//! value with no range at all is [`Empty`](ParseErrorKind::Empty); a malformed range
//! or a parameter other than `q` is
//! [`InvalidPaymentRange`](ParseErrorKind::InvalidPaymentRange) and a malformed
//! qvalue [`InvalidWeight`](ParseErrorKind::InvalidWeight), each at the offending
//! byte. The spec lets a server ignore a malformed header, so a caller may treat any
//! error as "no preference".
//!
//! # Matching and ranking
//!
//! The draft leaves these points open; this module decides them (erratum E21):
//!
//! - **Case.** A method is compared exactly, because method identifiers are
//!   case-sensitive lowercase (`Tempo` is not a method). An intent is compared ASCII
//!   case-insensitively: its grammar admits capitals, yet the registry only holds
//!   lowercase names, so `Charge` can only mean `charge`.
//! - **Specificity.** When several ranges match one offer, the most specific decides:
//!   `m/i`, then `m/*`, then `*/i`, then `*/*`. A method range outranks an intent
//!   range because the method names the payment rail the client can actually pay
//!   with, whereas an intent alone says nothing about whether it can pay at all.
//! - **Duplicates.** Among equally specific matching ranges, the lowest weight wins,
//!   so a `q=0` is never overridden by a repetition that happens to come later.
//! - **Ranking.** [`AcceptPayment::rank`] keeps the offers whose weight is above 0
//!   (an offer no range matches is dropped), orders them by descending weight and
//!   keeps the server's order among equal weights. When nothing is left it returns no
//!   offers at all; the spec lets a server then ignore the header and send its usual
//!   challenges, and that choice is the caller's.
//!
//! Parsing takes time linear in the value. [`AcceptPayment::rank`] costs offers ×
//! ranges comparisons, so callers bound the field's length (D11) before parsing, as
//! they do for every header.
//!
//! ```
//! use mpp_core::accept::AcceptPayment;
//!
//! let accept = AcceptPayment::parse("tempo/*, solana/*;q=0.6, */session;q=0.3").unwrap();
//! let offers = [("stripe", "charge"), ("solana", "charge"), ("tempo", "charge")];
//! assert_eq!(accept.rank(offers), [2, 1]);
//! ```

use alloc::vec::Vec;
use core::cmp::Reverse;
use core::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::value::{IntentName, MethodName};

/// A preference weight (an RFC 9110 qvalue) in thousandths: 0 ("never") to 1000.
///
/// It orders like the qvalue it stands for and displays in the shortest form that
/// reads back to the same weight (`1`, `0`, `0.5`, `0.125`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Weight(u16);

impl Weight {
    /// `q=1`, the weight of a range that has none.
    pub const ONE: Weight = Weight(1000);

    /// `q=0`: the client will not use what the range matches.
    pub const ZERO: Weight = Weight(0);

    /// The weight of `thousandths` / 1000; `None` above 1000.
    pub const fn new(thousandths: u16) -> Option<Self> {
        if thousandths <= 1000 {
            Some(Weight(thousandths))
        } else {
            None
        }
    }

    /// The weight in thousandths, 0 to 1000.
    pub const fn thousandths(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Weight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1000 => f.write_str("1"),
            0 => f.write_str("0"),
            n => {
                let digits = [n / 100, n / 10 % 10, n % 10];
                let len = if n % 10 != 0 {
                    3
                } else if n % 100 != 0 {
                    2
                } else {
                    1
                };
                f.write_str("0.")?;
                for d in &digits[..len] {
                    write!(f, "{d}")?;
                }
                Ok(())
            }
        }
    }
}

/// One `method/intent[;q=…]` element; `None` stands for `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PaymentRange<'a> {
    /// The method, or `None` for any method.
    pub method: Option<MethodName<'a>>,
    /// The intent, or `None` for any intent.
    pub intent: Option<IntentName<'a>>,
    /// The weight; [`Weight::ONE`] when the range has none.
    pub weight: Weight,
}

impl PaymentRange<'_> {
    /// Whether this range covers an offer of `method` and `intent` (the method compared
    /// exactly, the intent ASCII case-insensitively; see the module documentation).
    pub fn matches(&self, method: &str, intent: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m.as_str() == method)
            && self
                .intent
                .as_ref()
                .is_none_or(|i| i.as_str().eq_ignore_ascii_case(intent))
    }

    /// 3 for `m/i`, 2 for `m/*`, 1 for `*/i`, 0 for `*/*`.
    fn specificity(&self) -> u8 {
        2 * u8::from(self.method.is_some()) + u8::from(self.intent.is_some())
    }

    /// An owned copy that no longer borrows the input.
    pub fn into_owned(self) -> PaymentRange<'static> {
        PaymentRange {
            method: self.method.map(MethodName::into_owned),
            intent: self.intent.map(IntentName::into_owned),
            weight: self.weight,
        }
    }
}

impl fmt::Display for PaymentRange<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.method {
            Some(m) => f.write_str(m.as_str())?,
            None => f.write_str("*")?,
        }
        f.write_str("/")?;
        match &self.intent {
            Some(i) => f.write_str(i.as_str())?,
            None => f.write_str("*")?,
        }
        if self.weight != Weight::ONE {
            write!(f, ";q={}", self.weight)?;
        }
        Ok(())
    }
}

/// A parsed `Accept-Payment` field value: the client's ranges, in the order sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AcceptPayment<'a> {
    /// The ranges, in the order they appear. Parsing never yields an empty list.
    pub ranges: Vec<PaymentRange<'a>>,
}

impl<'a> AcceptPayment<'a> {
    /// Parses a field value (several field lines may be joined with `, ` first).
    /// Method and intent names borrow from `value`; error offsets are within it.
    pub fn parse(value: &'a str) -> Result<Self, ParseError> {
        let b = value.as_bytes();
        let mut ranges = Vec::new();
        let mut pos = 0;
        loop {
            pos = skip_ows(b, pos);
            match b.get(pos) {
                None => break,
                Some(b',') => {
                    pos += 1;
                    continue;
                }
                Some(_) => {}
            }
            let (range, end) = parse_range(value, pos)?;
            ranges.push(range);
            pos = skip_ows(b, end);
            match b.get(pos) {
                None => break,
                Some(b',') => pos += 1,
                Some(_) => return Err(range_error(pos)),
            }
        }
        if ranges.is_empty() {
            return Err(ParseError::new(ParseErrorKind::Empty, 0));
        }
        Ok(AcceptPayment { ranges })
    }

    /// The weight the client gives to an offer of `method` and `intent`: that of the
    /// most specific matching range, the lowest among equally specific ones. `None`
    /// when no range matches.
    pub fn weight_of(&self, method: &str, intent: &str) -> Option<Weight> {
        let mut best: Option<(u8, Weight)> = None;
        for range in self.ranges.iter().filter(|r| r.matches(method, intent)) {
            let candidate = (range.specificity(), range.weight);
            best = match best {
                Some(b) if b.0 > candidate.0 || (b.0 == candidate.0 && b.1 <= candidate.1) => {
                    Some(b)
                }
                _ => Some(candidate),
            };
        }
        best.map(|(_, weight)| weight)
    }

    /// The indices of the `(method, intent)` offers to send, best first: those with a
    /// weight above 0, by descending weight, in the server's order among equals.
    /// Empty when the client accepts none of them.
    pub fn rank<I, M, N>(&self, offers: I) -> Vec<usize>
    where
        I: IntoIterator<Item = (M, N)>,
        M: AsRef<str>,
        N: AsRef<str>,
    {
        let mut kept: Vec<(Weight, usize)> = offers
            .into_iter()
            .enumerate()
            .filter_map(|(i, (method, intent))| {
                let weight = self.weight_of(method.as_ref(), intent.as_ref())?;
                (weight > Weight::ZERO).then_some((weight, i))
            })
            .collect();
        // A stable sort, so equal weights keep the server's order.
        kept.sort_by_key(|&(weight, _)| Reverse(weight));
        kept.into_iter().map(|(_, i)| i).collect()
    }

    /// An owned copy that no longer borrows the input.
    pub fn into_owned(self) -> AcceptPayment<'static> {
        AcceptPayment {
            ranges: self
                .ranges
                .into_iter()
                .map(PaymentRange::into_owned)
                .collect(),
        }
    }
}

/// Formats the ranges joined by `, `, omitting `;q=1`. An empty list (only
/// constructible by hand) formats as an empty string, which does not parse.
impl fmt::Display for AcceptPayment<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, range) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{range}")?;
        }
        Ok(())
    }
}

fn range_error(at: usize) -> ParseError {
    ParseError::new(ParseErrorKind::InvalidPaymentRange, at)
}

fn weight_error(at: usize) -> ParseError {
    ParseError::new(ParseErrorKind::InvalidWeight, at)
}

fn skip_ows(b: &[u8], mut pos: usize) -> usize {
    while matches!(b.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    pos
}

/// The first position at or after `pos` holding one of `delimiters`, or the end.
fn token_end(b: &[u8], pos: usize, delimiters: &[u8]) -> usize {
    b.get(pos..)
        .and_then(|rest| rest.iter().position(|c| delimiters.contains(c)))
        .map_or(b.len(), |i| pos + i)
}

/// RFC 9110 `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// Parses the range starting at `start`, returning it and the position after it
/// (before any OWS that follows).
fn parse_range(value: &str, start: usize) -> Result<(PaymentRange<'_>, usize), ParseError> {
    let b = value.as_bytes();
    // Tokens end at ASCII delimiters, so every slice below is on character boundaries.
    let method_end = token_end(b, start, b"/,; \t");
    let method = match &value[start..method_end] {
        "" => return Err(range_error(start)),
        "*" => None,
        name => Some(MethodName::new(name).map_err(|e| range_error(start + e.offset()))?),
    };
    if b.get(method_end) != Some(&b'/') {
        return Err(range_error(method_end));
    }
    let intent_start = method_end + 1;
    let intent_end = token_end(b, intent_start, b",; \t");
    let intent = match &value[intent_start..intent_end] {
        "" => return Err(range_error(intent_start)),
        "*" => None,
        name => Some(IntentName::new(name).map_err(|e| range_error(intent_start + e.offset()))?),
    };
    let mut range = PaymentRange {
        method,
        intent,
        weight: Weight::ONE,
    };
    let semicolon = skip_ows(b, intent_end);
    if b.get(semicolon) != Some(&b';') {
        return Ok((range, intent_end));
    }
    let (weight, end) = parse_weight(b, skip_ows(b, semicolon + 1))?;
    range.weight = weight;
    Ok((range, end))
}

/// Parses `q=qvalue` at `pos` (just after `;` and its OWS).
fn parse_weight(b: &[u8], pos: usize) -> Result<(Weight, usize), ParseError> {
    let name_len = b
        .get(pos..)
        .map_or(0, |rest| rest.iter().take_while(|&&c| is_tchar(c)).count());
    let name_end = pos + name_len;
    if name_len == 0 {
        return Err(weight_error(pos));
    }
    // A parameter other than `q` is outside the range grammar, not a bad weight.
    if !b[pos..name_end].eq_ignore_ascii_case(b"q") {
        return Err(range_error(pos));
    }
    if b.get(name_end) != Some(&b'=') {
        return Err(weight_error(name_end));
    }
    let start = name_end + 1;
    let mut thousandths: u16 = match b.get(start) {
        Some(b'0') => 0,
        Some(b'1') => 1000,
        _ => return Err(weight_error(start)),
    };
    let mut end = start + 1;
    if b.get(end) == Some(&b'.') {
        end += 1;
        let mut place = 100;
        while let Some(&d @ b'0'..=b'9') = b.get(end) {
            // At most three decimals, and none above `1.000`.
            if place == 0 || (thousandths == 1000 && d != b'0') {
                return Err(weight_error(end));
            }
            thousandths += u16::from(d - b'0') * place;
            place /= 10;
            end += 1;
        }
    }
    match b.get(end) {
        None | Some(b' ' | b'\t' | b',' | b';') => Ok((Weight(thousandths), end)),
        Some(_) => Err(weight_error(end)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::{String, ToString};
    use proptest::prelude::*;

    /// What a server offering four methods might list, in its own order.
    const OFFERS: [(&str, &str); 7] = [
        ("tempo", "charge"),
        ("stripe", "charge"),
        ("solana", "charge"),
        ("tempo", "session"),
        ("lightning", "charge"),
        ("solana", "session"),
        ("lightning", "session"),
    ];

    fn weight(value: &str, method: &str, intent: &str) -> Option<u16> {
        AcceptPayment::parse(value)
            .unwrap()
            .weight_of(method, intent)
            .map(Weight::thousandths)
    }

    #[test]
    fn spec_examples_rank_a_realistic_offer_list() {
        // req: core.accept-payment.filter core.accept-payment.order
        for (value, expected) in [
            (
                "tempo/charge, tempo/session, stripe/charge;q=0.5, solana/charge;q=0.3",
                &[0, 3, 1, 2][..],
            ),
            ("tempo/*, solana/*;q=0.6, */session;q=0.3", &[0, 3, 2, 5, 6]),
            ("tempo/charge, tempo/session;q=0, solana/charge", &[0, 2]),
        ] {
            let accept = AcceptPayment::parse(value).unwrap();
            assert_eq!(accept.rank(OFFERS), expected, "{value}");
        }
    }

    #[test]
    fn the_most_specific_range_decides_in_any_order() {
        // req: core.accept-payment.specific
        let ranges = [
            "*/*;q=0.1",
            "*/charge;q=0.2",
            "tempo/*;q=0.3",
            "tempo/charge;q=0.4",
        ];
        for value in [
            ranges.join(", "),
            ranges.iter().rev().copied().collect::<Vec<_>>().join(","),
        ] {
            assert_eq!(weight(&value, "tempo", "charge"), Some(400));
            assert_eq!(weight(&value, "tempo", "session"), Some(300));
            assert_eq!(weight(&value, "stripe", "charge"), Some(200));
            assert_eq!(weight(&value, "stripe", "session"), Some(100));
        }
        // A method range outranks an intent range, even with a lower weight.
        assert_eq!(
            weight("*/charge, tempo/*;q=0.2", "tempo", "charge"),
            Some(200)
        );
    }

    #[test]
    fn duplicates_take_the_lowest_weight() {
        assert_eq!(
            weight("tempo/charge;q=0.8, tempo/charge;q=0", "tempo", "charge"),
            Some(0)
        );
        assert_eq!(
            weight("tempo/charge;q=0, tempo/charge", "tempo", "charge"),
            Some(0)
        );
        assert_eq!(
            weight("tempo/charge, tempo/charge;q=0.5", "tempo", "charge"),
            Some(500)
        );
        assert_eq!(weight("*/*;q=0.7, */*;q=0.9", "x", "y"), Some(700));
    }

    #[test]
    fn zero_weight_and_unmatched_offers_are_dropped() {
        // req: core.accept-payment.filter
        let accept = AcceptPayment::parse("*/*, tempo/*;q=0").unwrap();
        assert_eq!(accept.rank(OFFERS), [1, 2, 4, 5, 6]);
        let accept = AcceptPayment::parse("paypal/*").unwrap();
        assert_eq!(accept.rank(OFFERS), Vec::<usize>::new());
        assert_eq!(accept.weight_of("tempo", "charge"), None);
        let accept = AcceptPayment::parse("*/*;q=0").unwrap();
        assert!(accept.rank(OFFERS).is_empty());
        assert_eq!(accept.weight_of("tempo", "charge"), Some(Weight::ZERO));
    }

    #[test]
    fn equal_weights_keep_the_server_order() {
        // req: core.accept-payment.ties
        let accept = AcceptPayment::parse("solana/*;q=0.5, */*;q=0.5").unwrap();
        assert_eq!(accept.rank(OFFERS), [0, 1, 2, 3, 4, 5, 6]);
        let accept = AcceptPayment::parse("lightning/*, */*;q=0.5").unwrap();
        assert_eq!(accept.rank(OFFERS), [4, 6, 0, 1, 2, 3, 5]);
        let owned: Vec<(String, String)> = OFFERS
            .iter()
            .map(|(m, i)| (m.to_string(), i.to_string()))
            .collect();
        assert_eq!(accept.rank(owned), [4, 6, 0, 1, 2, 3, 5]);
    }

    #[test]
    fn methods_match_exactly_and_intents_ignore_case() {
        assert_eq!(weight("tempo/charge", "Tempo", "charge"), None);
        assert_eq!(weight("tempo/charge", "tempo", "CHARGE"), Some(1000));
        assert_eq!(weight("tempo/Charge", "tempo", "charge"), Some(1000));
        assert_eq!(weight("*/Session;q=0.2", "tempo", "session"), Some(200));
        assert_eq!(weight("tempo/charge", "tempo", "charge-v2"), None);
    }

    #[test]
    fn qvalues_follow_rfc_9110() {
        // req: core.grammar.accept-payment
        for (value, thousandths) in [
            ("tempo/charge", 1000),
            ("tempo/charge;q=1", 1000),
            ("tempo/charge;q=1.", 1000),
            ("tempo/charge;q=1.000", 1000),
            ("tempo/charge;Q=0.5", 500),
            ("tempo/charge;q=0.001", 1),
            ("tempo/charge;q=0.12", 120),
            ("tempo/charge;q=0.", 0),
            ("tempo/charge;q=0", 0),
            ("tempo/charge ; q=0.25 ", 250),
            ("tempo/charge\t;\tq=0.75", 750),
        ] {
            assert_eq!(
                weight(value, "tempo", "charge"),
                Some(thousandths),
                "{value}"
            );
        }
    }

    #[test]
    fn malformed_values_are_refused_at_the_offending_byte() {
        // req: core.grammar.accept-payment
        use ParseErrorKind::{Empty, InvalidPaymentRange as Range, InvalidWeight as W};
        let bytes = format!("tempo/ch{}rge", '\u{e9}');
        for (value, kind, at) in [
            ("", Empty, 0),
            ("   ", Empty, 0),
            (" , ,\t,", Empty, 0),
            ("tempo/charge;q=1.001", W, 19),
            ("tempo/charge;q=0.0001", W, 20),
            ("tempo/charge;Q=1.0000", W, 20),
            ("tempo/charge;q=.5", W, 15),
            ("tempo/charge;q=2", W, 15),
            ("tempo/charge;q=05", W, 16),
            ("tempo/charge;q=0.5x", W, 18),
            ("tempo/charge;q=", W, 15),
            ("tempo/charge;q", W, 14),
            ("tempo/charge;q =0.5", W, 14),
            ("tempo/charge;", W, 13),
            ("tempo/charge;;q=1", W, 13),
            ("tempo/charge;=1", W, 13),
            ("tempo/charge;x=1", Range, 13),
            ("tempo/charge;qq=1", Range, 13),
            ("tempo/charge;level", Range, 13),
            ("tempo/charge;q=0.5;q=0.3", Range, 18),
            ("tempo/charge;q=0.5 ;x=1", Range, 19),
            ("Tempo/charge", Range, 0),
            ("tempo", Range, 5),
            ("tempo/", Range, 6),
            ("/charge", Range, 0),
            ("/", Range, 0),
            ("*", Range, 1),
            ("tempo /charge", Range, 5),
            ("tempo/ charge", Range, 6),
            ("tempo/charge q=0.5", Range, 13),
            ("tempo/charge/x", Range, 12),
            ("tempo/char ge", Range, 11),
            ("te*mpo/charge", Range, 2),
            ("*/charge, tempo/**", Range, 16),
            ("a/b, c", Range, 6),
            ("a/b c/d", Range, 4),
            (bytes.as_str(), Range, 8),
        ] {
            let e = AcceptPayment::parse(value).unwrap_err();
            assert_eq!((e.kind(), e.offset()), (kind, at), "{value:?}");
        }
    }

    #[test]
    fn empty_elements_and_ows_are_tolerated() {
        let a = AcceptPayment::parse(" ,tempo/charge , ,\t solana/*;q=0.5,, ").unwrap();
        assert_eq!(a.to_string(), "tempo/charge, solana/*;q=0.5");
    }

    #[test]
    fn weights_display_in_the_shortest_form() {
        for (thousandths, text) in [
            (1000, "1"),
            (0, "0"),
            (500, "0.5"),
            (125, "0.125"),
            (50, "0.05"),
            (1, "0.001"),
            (990, "0.99"),
        ] {
            assert_eq!(Weight::new(thousandths).unwrap().to_string(), text);
        }
        assert_eq!(Weight::new(1001), None);
        assert!(Weight::ZERO < Weight::ONE);
        assert_eq!(Weight::ONE.thousandths(), 1000);
    }

    #[test]
    fn display_and_owned_forms() {
        let text = String::from("tempo/charge;q=1.000, */Session;Q=0.300, solana/*;q=0.125");
        let a = AcceptPayment::parse(&text).unwrap();
        assert_eq!(
            a.to_string(),
            "tempo/charge, */Session;q=0.3, solana/*;q=0.125"
        );
        let owned = a.clone().into_owned();
        drop(text);
        assert_eq!(owned.ranges.len(), 3);
        assert_eq!(owned.ranges[1].intent.as_ref().unwrap(), "Session");
        assert_eq!(AcceptPayment { ranges: Vec::new() }.to_string(), "");
    }

    #[test]
    fn huge_inputs_parse_in_linear_time() {
        let commas = ",".repeat(100_000);
        assert_eq!(
            AcceptPayment::parse(&commas).unwrap_err().kind(),
            ParseErrorKind::Empty
        );
        let value = format!("{commas}tempo/charge{commas}");
        assert_eq!(AcceptPayment::parse(&value).unwrap().ranges.len(), 1);

        let element = "tempo/charge;q=0.5, ";
        let value = element.repeat((1 << 20) / element.len());
        let a = AcceptPayment::parse(&value).unwrap();
        assert_eq!(a.ranges.len(), (1 << 20) / element.len());
        assert_eq!(a.rank(OFFERS), [0]);

        let method = format!("{}/charge", "a".repeat(1 << 20));
        assert_eq!(AcceptPayment::parse(&method).unwrap().ranges.len(), 1);
        let spaces = format!("tempo/charge{};q=1", " ".repeat(1 << 20));
        assert_eq!(AcceptPayment::parse(&spaces).unwrap().ranges.len(), 1);
        let digits = format!("tempo/charge;q=0.{}", "0".repeat(1 << 20));
        assert_eq!(AcceptPayment::parse(&digits).unwrap_err().offset(), 20);
        let slashes = "/".repeat(1 << 20);
        assert_eq!(AcceptPayment::parse(&slashes).unwrap_err().offset(), 0);
    }

    fn ranges() -> impl Strategy<Value = PaymentRange<'static>> {
        (
            proptest::option::of("[a-z][a-z0-9:_-]{0,8}"),
            proptest::option::of("[A-Za-z0-9-]{1,8}"),
            0u16..=1000,
        )
            .prop_map(|(method, intent, thousandths)| PaymentRange {
                method: method.map(|m| MethodName::from_string(m).unwrap()),
                intent: intent.map(|i| IntentName::from_string(i).unwrap()),
                weight: Weight::new(thousandths).unwrap(),
            })
    }

    proptest! {
        #[test]
        fn formatted_values_parse_back(ranges in proptest::collection::vec(ranges(), 1..8)) {
            let a = AcceptPayment { ranges };
            let text = a.to_string();
            prop_assert_eq!(AcceptPayment::parse(&text).unwrap(), a);
        }

        #[test]
        fn every_weight_reads_back(thousandths in 0u16..=1000) {
            let w = Weight::new(thousandths).unwrap();
            let text = format!("a/b;q={w}");
            prop_assert_eq!(AcceptPayment::parse(&text).unwrap().ranges[0].weight, w);
        }

        #[test]
        fn rank_is_sorted_and_keeps_only_positive_weights(
            ranges in proptest::collection::vec(ranges(), 1..6),
            offers in proptest::collection::vec(("[a-c]", "[a-cA-C]"), 0..10),
        ) {
            let a = AcceptPayment { ranges };
            let order = a.rank(offers.iter().map(|(m, i)| (m.as_str(), i.as_str())));
            let weights: Vec<Weight> = order
                .iter()
                .map(|&i| a.weight_of(&offers[i].0, &offers[i].1).unwrap())
                .collect();
            prop_assert!(weights.iter().all(|&w| w > Weight::ZERO));
            for pair in order.windows(2).zip(weights.windows(2)) {
                prop_assert!(pair.1[0] > pair.1[1] || (pair.1[0] == pair.1[1] && pair.0[0] < pair.0[1]));
            }
            let kept = offers
                .iter()
                .filter(|(m, i)| a.weight_of(m, i).is_some_and(|w| w > Weight::ZERO))
                .count();
            prop_assert_eq!(order.len(), kept);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = AcceptPayment::parse(&text);
        }

        #[test]
        fn near_misses_never_panic(text in "([a-zA-Z*]{0,3}/?[a-zA-Z*]{0,3}( ?; ?[qQx]?=?[0-9.]{0,6})? ?,? ?){0,4}") {
            if let Ok(a) = AcceptPayment::parse(&text) {
                prop_assert!(!a.ranges.is_empty());
            }
        }
    }
}
