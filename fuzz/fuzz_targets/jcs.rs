//! Strict JSON and RFC 8785 JCS. Oracles: JCS output parses back and is a fixed point;
//! the allocation-free validator agrees with the parser; whatever we accept,
//! serde_json accepts too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpp_core::{jcs, json};

fuzz_target!(|data: &[u8]| {
    let parsed = json::parse_object(data);
    let validated = json::validate(data, json::Shape::Object);
    assert_eq!(parsed.as_ref().err(), validated.as_ref().err());
    let Ok(value) = json::parse_value(data) else {
        return;
    };
    assert!(serde_json::from_slice::<serde_json::Value>(data).is_ok());
    let canonical = jcs::to_string(&value);
    let again = json::parse_value(canonical.as_bytes()).expect("JCS output parses");
    assert_eq!(jcs::to_string(&again), canonical);
});
