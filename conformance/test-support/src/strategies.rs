//! Property-test strategies for JSON, shared by mpp-core's unit tests of its
//! encodings and its round-trip tests.

use proptest::prelude::*;
use serde_json::{Number, Value};

/// Characters weighted towards the cases encoders get wrong: printable ASCII, control
/// characters, the end of the BMP and astral characters (surrogate pairs in UTF-16).
pub fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range(' ', '~'),
        1 => prop::char::range('\0', '\u{1f}'),
        1 => any::<char>(),
        1 => prop::char::range('\u{e000}', '\u{ffff}'),
        1 => prop::char::range('\u{10000}', '\u{1ffff}'),
    ]
}

/// Short strings of [`any_char`].
pub fn short_string() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..8).prop_map(|cs| cs.into_iter().collect())
}

/// Any JSON value: nested up to five levels, finite numbers of every kind.
pub fn json_value() -> impl Strategy<Value = Value> {
    json_value_within(5, 8)
}

/// A JSON value nested at most `depth` levels, each array or object holding fewer
/// than `width` members (small ones keep a challenge under the size limits).
pub fn json_value_within(depth: u32, width: usize) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        short_string().prop_map(Value::String),
    ];
    let width_u32 = u32::try_from(width).unwrap_or(u32::MAX);
    // About as many nodes as the tests used before they shared this: 64 for (5, 8),
    // 24 for (3, 4).
    let nodes = width_u32.saturating_mul(depth + 3);
    leaf.prop_recursive(depth, nodes, width_u32, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..width).prop_map(Value::Array),
            prop::collection::btree_map(short_string(), inner, 0..width)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A JSON object of [`json_value_within`] members.
pub fn json_object_within(
    depth: u32,
    width: usize,
) -> impl Strategy<Value = serde_json::Map<String, Value>> {
    prop::collection::btree_map(short_string(), json_value_within(depth, width), 0..width)
        .prop_map(|m| m.into_iter().collect())
}
