//! `Accept-Payment` parsing. Oracle: parse → format → parse gives the same preferences,
//! and ranking never returns an offer twice or one out of range.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpp_core::accept::AcceptPayment;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(accept) = AcceptPayment::parse(text) else {
        return;
    };
    let formatted = accept.to_string();
    let again = AcceptPayment::parse(&formatted).expect("formatted output parses");
    assert_eq!(again, accept);
    let offers = [
        ("tempo", "charge"),
        ("tempo", "session"),
        ("stripe", "charge"),
        ("a", "b"),
    ];
    let ranked = accept.rank(offers);
    let mut seen = ranked.clone();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), ranked.len());
    assert!(ranked.iter().all(|&i| i < offers.len()));
});
