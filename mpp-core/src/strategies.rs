//! Property-test strategies shared by the unit tests of the encodings (test builds only).

use alloc::string::String;

use proptest::prelude::*;
use serde_json::{Number, Value};

/// Characters weighted towards the cases encoders get wrong: printable ASCII, control
/// characters, the end of the BMP and astral characters (surrogate pairs in UTF-16).
pub(crate) fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range(' ', '~'),
        1 => prop::char::range('\0', '\u{1f}'),
        1 => any::<char>(),
        1 => prop::char::range('\u{e000}', '\u{ffff}'),
        1 => prop::char::range('\u{10000}', '\u{1ffff}'),
    ]
}

/// Short strings of [`any_char`].
pub(crate) fn short_string() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..8).prop_map(|cs| cs.into_iter().collect())
}

/// Any JSON value: nested up to five levels, finite numbers of every kind.
pub(crate) fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        short_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(short_string(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
